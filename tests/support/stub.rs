//! A fork whose build and test scripts answer in a moment with the exit code a test chose
//! (`tests/fixtures/stub-make.sh`), everything else Debian's real 20.10.24 tree: for the tiers
//! that run a command many times (the exit-code table, the fault matrix) and ask what the tool
//! does around the fork's command, not what the command builds.

use std::process::{Command, Output};

use anyhow::{ensure, Result};
use camino::Utf8PathBuf;
use xshell::cmd;

use super::command::{text, Xtask};
use super::fork::{GitFork, Scratch};
use super::moby::MOBY_2010;
use super::workspace_root;

/// The scripts the stub stands in for, each keeping the fork's own text after its `exit` (the
/// tool reads them: the stamp rule in `hack/make.sh`, the tools `hack/test/unit` runs).
const STUBBED: &[&str] = &["hack/make.sh", "hack/test/unit", "hack/validate/default"];

pub struct StubFork {
    pub g: GitFork,
    /// The test's own runtime directory root (`TMPDIR`), and nothing else's.
    pub tmp: Utf8PathBuf,
    pub image: String,
    owner: u32,
}

impl StubFork {
    /// Owned by `owner`, under git, with `upstream/master` (for `validate`) and `.stub/`.
    pub fn new(scratch: &Scratch, owner: u32, image: &str) -> Result<StubFork> {
        let g = GitFork::of(&MOBY_2010, scratch, owner)?;
        let stub = fs_err::read_to_string(workspace_root().join("tests/fixtures/stub-make.sh"))?;
        for rel in STUBBED {
            let path = g.fork.join(rel);
            let own = fs_err::read_to_string(&path)?;
            fs_err::write(
                &path,
                format!("{stub}# The fork's own script, never reached:\n{own}"),
            )?;
        }
        let sh = &g.sh;
        cmd!(sh, "git commit -q -a -m stub").run()?;
        cmd!(sh, "git update-ref refs/remotes/upstream/master HEAD").run()?;
        fs_err::create_dir_all(g.fork.join(".stub"))?;
        let tmp = scratch.dir.join("tmp");
        fs_err::create_dir_all(&tmp)?;
        let (fork, o) = (&g.fork, format!("{owner}:{owner}"));
        cmd!(sh, "chown -R {o} {fork}").run()?;
        Ok(StubFork {
            g,
            tmp,
            image: image.to_string(),
            owner,
        })
    }

    /// The stub's control file `name` (`exit`, `exit-cli`, `sleep`, …) set to `value`, or
    /// removed (`None`).
    pub fn set(&self, name: &str, value: Option<&str>) -> Result<()> {
        let path = self.g.fork.join(".stub").join(name);
        match value {
            Some(v) => fs_err::write(path, v)?,
            None => {
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(())
    }

    /// The command for `xtask --fork F --image I --commit c0ffee1 ARGS`, with this fork's HOME,
    /// its own TMPDIR and no XDG_RUNTIME_DIR (the runtime files land where the test looks).
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut all = vec![
            "--fork",
            self.g.fork.as_str(),
            "--image",
            &self.image,
            "--commit",
            "c0ffee1",
        ];
        all.extend_from_slice(args);
        let mut c = Xtask::new(all)
            .envs(env)
            .env("HOME", &self.g.home)
            .env("TMPDIR", &self.tmp)
            .command();
        c.env_remove("XDG_RUNTIME_DIR");
        c
    }

    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
        Ok(self.command(args, env).output()?)
    }

    /// Every file of the fork, `.git/` included, still the owner's.
    pub fn owned(&self) -> Result<()> {
        let out = Command::new("find")
            .arg(self.g.fork.as_str())
            .args(["!", "-user", &self.owner.to_string(), "-print"])
            .output()?;
        let found: Vec<String> = text(&out.stdout)
            .lines()
            .take(5)
            .map(str::to_string)
            .collect();
        ensure!(found.is_empty(), "not the owner's: {}", found.join(", "));
        Ok(())
    }
}
