//! Forks a test may change: scratch directories that clean up after themselves (their dev
//! containers included), copies of hack-compat's fixture forks, and contributors' git forks of a
//! Debian moby tree.

use std::process::{Command, Output};

use anyhow::{bail, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use super::command::{text, workspace_root, xtask};
use super::moby::{Moby, MOBY_2010};

/// A scratch directory removed on drop, with every container labelled with it as a fork.
pub struct Scratch {
    pub dir: Utf8PathBuf,
}

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let base = std::env::var("MOBY_XTASK_TEST_SCRATCH")
            .map(Utf8PathBuf::from)
            .unwrap_or_else(|_| {
                Utf8PathBuf::from_path_buf(std::env::temp_dir()).expect("utf-8 temp dir")
            });
        let dir = base.join(format!("moby-xtask-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch { dir }
    }

    /// Container ids labelled as dev containers of `fork`.
    pub fn containers_of(fork: &Utf8Path) -> Vec<String> {
        let out = Command::new("docker")
            .args(["ps", "-aq", "--no-trunc", "--filter"])
            .arg(format!("label=dev.moby-xtask.fork={fork}"))
            .output()
            .expect("docker ps");
        text(&out.stdout).lines().map(str::to_string).collect()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for id in Scratch::containers_of(&self.dir.join("fork")) {
            let _ = Command::new("docker").args(["rm", "-fv", &id]).output();
        }
        // The container wrote as root; remove what it left through a container if needed.
        if std::fs::remove_dir_all(&self.dir).is_err() {
            let _ = Command::new("rm").args(["-rf", self.dir.as_str()]).status();
        }
    }
}

/// Copy a tree with `cp -a` (keeps symlinks and modes).
pub fn copy_tree(from: &Utf8Path, to: &Utf8Path) -> Result<()> {
    let status = Command::new("cp")
        .args(["-a", from.as_str(), to.as_str()])
        .status()?;
    if !status.success() {
        bail!("cp -a {from} {to} failed");
    }
    Ok(())
}

/// The lines of upstream moby 20.10's .gitignore that matter to a build (Debian's tarball strips it).
const UPSTREAM_GITIGNORE: &str = "autogen/\nbundles/\n.gopath/\n.go-pkg-cache/\n\
dockerversion/version_autogen.go\ndockerversion/version_autogen_unix.go\n";

/// A contributor's fork made from a Debian moby engine tree: under git (one commit), owned by
/// `owner`, with a HOME whose git config trusts it (the tests run as root). `sh` runs in the fork
/// with that HOME.
pub struct GitFork {
    pub fork: Utf8PathBuf,
    pub home: Utf8PathBuf,
    pub head_short: String,
    pub sh: Shell,
}

impl GitFork {
    /// From Debian's 20.10.24.
    pub fn new(scratch: &Scratch, owner: u32) -> Result<GitFork> {
        GitFork::of(&MOBY_2010, scratch, owner)
    }

    pub fn of(moby: &Moby, scratch: &Scratch, owner: u32) -> Result<GitFork> {
        let fork = scratch.dir.join("fork");
        copy_tree(&moby.tree()?.join("engine"), &fork)?;
        fs_err::write(fork.join(".gitignore"), UPSTREAM_GITIGNORE)?;
        let home = scratch.dir.join("home");
        fs_err::create_dir_all(&home)?;
        fs_err::write(
            home.join(".gitconfig"),
            "[safe]\n\tdirectory = *\n[user]\n\tname = t\n\temail = t@example.com\n",
        )?;
        let sh = Shell::new()?;
        sh.set_var("HOME", &home);
        sh.change_dir(&fork);
        cmd!(sh, "git init -q").run()?;
        cmd!(sh, "git add -A").run()?;
        cmd!(sh, "git commit -q -m import").run()?;
        let owner = format!("{owner}:{owner}");
        cmd!(sh, "chown -R {owner} {fork}").run()?;
        let head_short = cmd!(sh, "git rev-parse --short HEAD").read()?;
        Ok(GitFork {
            fork,
            home,
            head_short,
            sh,
        })
    }

    /// As a contributor's clone: an `upstream` remote at moby, fetched (`upstream/master` at this
    /// commit), and a work branch. The git files it writes are root's until chowned.
    pub fn with_upstream(&self) -> Result<()> {
        let sh = &self.sh;
        cmd!(
            sh,
            "git remote add upstream https://github.com/moby/moby.git"
        )
        .run()?;
        cmd!(sh, "git update-ref refs/remotes/upstream/master HEAD").run()?;
        cmd!(sh, "git checkout -q -b my-change").run()?;
        Ok(())
    }

    /// `smoke` must pass with the server reporting `commit`; returns its stdout for more checks.
    pub fn smoke_passes(&self, image: &str, commit: &str) -> Result<String> {
        let out = self.xtask(image, &["smoke"], &[]);
        let stdout = text(&out.stdout);
        anyhow::ensure!(
            out.status.success(),
            "smoke failed:\n{stdout}\n{}",
            text(&out.stderr)
        );
        anyhow::ensure!(
            stdout.contains(&format!("(server dev, commit {commit})")),
            "{stdout}"
        );
        anyhow::ensure!(stdout.contains("smoke: PASS"), "{stdout}");
        Ok(stdout)
    }

    /// `binary` on this fork, once more if the first failed on a duplicate directory entry: this
    /// host's storage driver (fuse-overlayfs) now and then lists a file twice to `go build` in
    /// large GOPATH directories ("case-insensitive file name collision"), which is not the tool's
    /// doing. Said on stderr when it happens.
    pub fn binary(&self, image: &str) -> Output {
        self.xtask_past_fs_flake(image, &["binary"], &[])
    }

    /// [`GitFork::xtask`], run once more when Go saw a file twice: fuse-overlayfs under load
    /// lists a directory's entry twice (`case-insensitive file name collision`), which is the
    /// host's storage, not the tool.
    pub fn xtask_past_fs_flake(&self, image: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let out = self.xtask(image, args, env);
        let all = text(&out.stdout) + &text(&out.stderr);
        if !out.status.success() && all.contains("case-insensitive file name collision") {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "retrying {args:?}: the storage driver listed a file twice (fuse-overlayfs), not a tool failure"
            );
            return self.xtask(image, args, env);
        }
        out
    }

    /// Run xtask on this fork with its HOME, `--fork` and `--image` given.
    pub fn xtask(&self, image: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut all = vec!["--fork", self.fork.as_str(), "--image", image];
        all.extend_from_slice(args);
        let mut env = env.to_vec();
        env.push(("HOME", self.home.as_str()));
        xtask(&all, &env)
    }
}

/// No process of the fork's dev container has `what` in its command line (a daemon the tool
/// started, after the tool was stopped).
pub fn nothing_runs_in_the_dev_container(fork: &Utf8Path, what: &str) -> Result<()> {
    let ctr = containers_with_role(fork, "dev").join(" ");
    let ps = std::process::Command::new("docker")
        .args(["exec", &ctr, "ps", "-eo", "args"])
        .output()?;
    let ps = text(&ps.stdout);
    anyhow::ensure!(!ps.contains(what), "{what} left in the dev container: {ps}");
    Ok(())
}

/// The processes of `fork`'s dev container (`pid args` lines) whose command line holds one of
/// `what`: not its init (PID 1) nor its keep-alive `sleep infinity`, which live as long as the
/// container. None when there is no dev container.
pub fn dev_container_processes(fork: &Utf8Path, what: &[&str]) -> Result<Vec<String>> {
    let Some(ctr) = containers_with_role(fork, "dev").into_iter().next() else {
        return Ok(Vec::new());
    };
    let out = Command::new("docker")
        .args(["exec", &ctr, "ps", "-eo", "pid,args"])
        .output()?;
    Ok(text(&out.stdout)
        .lines()
        .filter(|l| l.split_whitespace().next() != Some("1"))
        .filter(|l| !l.contains("sleep infinity"))
        .filter(|l| what.iter().any(|p| l.contains(p)))
        .map(str::to_string)
        .collect())
}

/// The labelled containers of `fork` with the given role (`dev`, `oneshot`).
pub fn containers_with_role(fork: &Utf8Path, role: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-aq", "--no-trunc"])
        .arg("--filter")
        .arg(format!("label=dev.moby-xtask.fork={fork}"))
        .arg("--filter")
        .arg(format!("label=dev.moby-xtask.role={role}"))
        .output()
        .expect("docker ps");
    text(&out.stdout).lines().map(str::to_string).collect()
}

/// A fixture fork of hack-compat's (`e1` … `e8`), read-only: copy it before changing it.
pub fn fixture_fork(era: &str) -> Utf8PathBuf {
    workspace_root()
        .join("hack-compat/tests/fixtures")
        .join(era)
}

/// The E4 fixture fork (hack-compat's, read-only) for the CLI tests.
pub fn e4_fixture() -> String {
    fixture_fork("e4").to_string()
}

/// A scratch copy of the E4 fixture fork that a test may change (removed on drop of the Scratch).
pub fn e4_copy(tag: &str) -> (Scratch, Utf8PathBuf) {
    let s = Scratch::new(tag);
    let fork = s.dir.join("fork");
    copy_tree(&fixture_fork("e4"), &fork).unwrap();
    (s, fork)
}

/// Upstream revision `rev`'s CI workflow files (hack-compat's fixtures: `v26.1.5`, `head`, …)
/// into `fork`'s `.github/workflows/`, replacing what was there (Debian's trees have none).
pub fn add_ci_workflows(fork: &Utf8Path, rev: &str) -> Result<()> {
    let from = super::workspace_root()
        .join("hack-compat/tests/fixtures/ci")
        .join(rev)
        .join(".github/workflows");
    let to = fork.join(".github/workflows");
    let _ = fs_err::remove_dir_all(&to);
    fs_err::create_dir_all(&to)?;
    for e in from.read_dir_utf8()? {
        let e = e?;
        fs_err::copy(e.path(), to.join(e.file_name()))?;
    }
    Ok(())
}

/// Every file of `fork`, `.git/` included, belongs to `uid`.
pub fn owned_by(fork: &Utf8Path, uid: u32) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let mut others = Vec::new();
    let mut n = 0;
    let mut dirs = vec![fork.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for e in fs_err::read_dir(&dir)? {
            let path =
                Utf8PathBuf::from_path_buf(e?.path()).map_err(|p| anyhow::anyhow!("{p:?}"))?;
            let m = std::fs::symlink_metadata(&path)?;
            if m.uid() != uid {
                n += 1;
                if others.len() < 10 {
                    others.push(format!("{path} ({}:{})", m.uid(), m.gid()));
                }
            }
            if m.is_dir() {
                dirs.push(path);
            }
        }
    }
    anyhow::ensure!(
        n == 0,
        "{n} file(s) of the fork are not uid {uid}'s, e.g.:\n  {}",
        others.join("\n  ")
    );
    Ok(())
}
