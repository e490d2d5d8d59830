//! Shared parts of the end-to-end tier: the real `xtask` binary, the test cache, the Debian moby
//! source and the registry-free dev image (both made by the scripts in `fixtures/`, cached), and
//! scratch forks that clean up after themselves (their dev containers included).

use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

mod running;
pub use running::Running;

pub fn workspace_root() -> Utf8PathBuf {
    Utf8Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// `$MOBY_XTASK_TEST_CACHE`, else `~/.cache/moby-xtask-tests`: downloads and unpacked trees.
pub fn cache_dir() -> Utf8PathBuf {
    if let Ok(d) = std::env::var("MOBY_XTASK_TEST_CACHE") {
        return d.into();
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    Utf8PathBuf::from(home).join(".cache/moby-xtask-tests")
}

/// The `xtask` binary, built once per test process (`cargo build -p xtask`) into the target
/// directory this test runs from (so `cargo test --target-dir X` and `CARGO_TARGET_DIR` work),
/// and run as a user would.
pub fn xtask_bin() -> &'static Utf8Path {
    static BIN: OnceLock<Utf8PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // <target-dir>/<profile>/deps/<test>: the profile dir holds the binary.
        let exe = std::env::current_exe().expect("current exe");
        let profile_dir = exe.parent().and_then(|d| d.parent()).expect("profile dir");
        let target_dir = profile_dir.parent().expect("target dir");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "--quiet", "--package", "xtask", "--target-dir"])
            .arg(target_dir)
            .current_dir(workspace_root());
        if profile_dir.file_name().is_some_and(|p| p == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("cannot run cargo build -p xtask");
        assert!(status.success(), "cargo build -p xtask failed");
        Utf8PathBuf::from_path_buf(profile_dir.join("xtask")).expect("utf-8 target dir")
    })
}

/// Say that a test was skipped, and why, where `cargo test` shows it (not captured), and on
/// the test's line of the summary: `skipped: <test>: <reason>`.
pub fn skipped(reason: &str) {
    use std::io::Write;
    let name = std::thread::current().name().unwrap_or("test").to_string();
    let _ = writeln!(std::io::stderr(), "skipped: {name}: {reason}");
}

/// Run xtask with `args`, the given env changes, and no inherited DOCKER_GITCOMMIT/DOCKER_HOST
/// unless set in `env`.
pub fn xtask(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(xtask_bin());
    c.args(args)
        .env_remove("DOCKER_GITCOMMIT")
        .env_remove("MOBY_XTASK_IMAGE");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("cannot run xtask")
}

/// The closing `N passed, M failed, K skipped` line of `test unit` / `test integration`.
pub fn test_summary(stdout: &str) -> Option<(usize, usize, usize)> {
    let line = stdout.lines().find(|l| l.ends_with(" skipped"))?;
    let n: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (n.len() == 3).then(|| (n[0], n[1], n[2]))
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A Debian release's moby, as the e2e tier uses it: the suite its source comes from and the
/// registry-free dev image made for it (bump the tag when `fixtures/dev-image.sh` changes).
pub struct Moby {
    pub suite: &'static str,
    pub image: &'static str,
}

/// Debian 12's moby 20.10.24: an E4 fork.
pub const MOBY_2010: Moby = Moby {
    suite: "bookworm",
    image: "moby-xtask-test/dev:bookworm-20.10-v3",
};
/// Debian 13's moby 26.1.5: an E6 fork.
pub const MOBY_2615: Moby = Moby {
    suite: "trixie",
    image: "moby-xtask-test/dev:trixie-26.1-v2",
};
/// Debian testing's (forky) moby 28.5.2: an E7 fork.
pub const MOBY_2852: Moby = Moby {
    suite: "forky",
    image: "moby-xtask-test/dev:forky-28.5-v1",
};

impl Moby {
    /// The source (with Debian's patches), unpacked in the cache; `<tree>/engine` is the fork.
    pub fn tree(&self) -> Result<Utf8PathBuf> {
        let suite = self.suite;
        let tree = once(&format!("tree-{suite}"), || {
            let sh = Shell::new()?;
            let script = workspace_root().join("tests/fixtures/moby-source.sh");
            let cache = cache_dir();
            let path = cmd!(sh, "{script} {suite} {cache}")
                .read()
                .context("fetching Debian's docker.io source")?;
            Ok(path.trim().to_string())
        })?;
        Ok(Utf8PathBuf::from(tree))
    }

    /// The dev image (debootstrap + docker import, cached by tag).
    pub fn dev_image(&self) -> Result<&'static str> {
        let (suite, image) = (self.suite, self.image);
        let tree = self.tree()?;
        once(&format!("image-{suite}"), || {
            let sh = Shell::new()?;
            let script = workspace_root().join("tests/fixtures/dev-image.sh");
            let work = cache_dir().join(format!("image-work-{suite}"));
            cmd!(sh, "{script} {image} {tree} {work} {suite}")
                .run()
                .context("making the dev image")?;
            Ok(String::new())
        })?;
        Ok(image)
    }
}

impl Moby {
    /// The dev image with the integration suites' frozen images (all the local busybox, under
    /// each of `names`) in `/docker-frozen-images`: `<image>-frozen`, cached by tag.
    pub fn frozen_dev_image(&self, names: &[&str]) -> Result<String> {
        let base = self.dev_image()?;
        let tag = format!("{base}-frozen");
        let sh = Shell::new()?;
        let script = workspace_root().join("tests/fixtures/frozen-images.sh");
        let cache = cache_dir();
        cmd!(
            sh,
            "{script} {base} {tag} {cache} /docker-frozen-images {names...}"
        )
        .run()
        .context("making the frozen images")?;
        Ok(tag)
    }

    /// `base` with Debian's `dlv` on PATH (`<base>-dlv`, cached), and the same dlv for the host.
    pub fn delve_dev_image(&self, base: &str) -> Result<(String, Utf8PathBuf)> {
        let tag = format!("{base}-dlv");
        let sh = Shell::new()?;
        let script = workspace_root().join("tests/fixtures/delve-image.sh");
        let (cache, suite) = (cache_dir(), self.suite);
        let dlv = cmd!(sh, "{script} {base} {tag} {cache} {suite}")
            .read()
            .context("making the delve image")?;
        Ok((tag, Utf8PathBuf::from(dlv.trim())))
    }
}

pub fn debian_2010_tree() -> Result<Utf8PathBuf> {
    MOBY_2010.tree()
}

pub fn dev_image_2010() -> Result<&'static str> {
    MOBY_2010.dev_image()
}

/// Run `make` once per test process for `key` (concurrent callers wait), and share its result:
/// fixtures that write to the cache must not be made by two tests at the same time.
pub fn once(key: &str, make: impl FnOnce() -> Result<String>) -> Result<String> {
    static DONE: Mutex<Vec<(String, std::result::Result<String, String>)>> = Mutex::new(Vec::new());
    let mut done = DONE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, r)) = done.iter().find(|(k, _)| k == key) {
        return r.clone().map_err(anyhow::Error::msg);
    }
    let r = make().map_err(|e| format!("{e:#}"));
    done.push((key.to_string(), r.clone()));
    r.map_err(anyhow::Error::msg)
}

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

/// The end-to-end tier's preconditions: `Ok(false)` when explicitly skipped
/// (`MOBY_XTASK_SKIP_E2E=1`), an error naming what is missing otherwise.
pub fn e2e_enabled() -> Result<bool> {
    if std::env::var("MOBY_XTASK_SKIP_E2E").is_ok_and(|v| v == "1") {
        skipped("MOBY_XTASK_SKIP_E2E=1");
        return Ok(false);
    }
    let uid = Command::new("id").arg("-u").output().context("id -u")?;
    if text(&uid.stdout).trim() != "0" {
        bail!("the end-to-end tier needs root (debootstrap, chown): run as root, or set MOBY_XTASK_SKIP_E2E=1");
    }
    let v = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output();
    if !v.is_ok_and(|o| o.status.success()) {
        bail!("the end-to-end tier needs a Docker daemon (`docker version` fails): start one, or set MOBY_XTASK_SKIP_E2E=1");
    }
    Ok(true)
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
        let out = self.xtask(image, &["binary"], &[]);
        if !out.status.success()
            && text(&out.stderr).contains("case-insensitive file name collision")
        {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "retrying binary: the storage driver listed a file twice (fuse-overlayfs), not a tool failure"
            );
            return self.xtask(image, &["binary"], &[]);
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

/// The E4 fixture fork (hack-compat's, read-only) for the CLI tests.
pub fn e4_fixture() -> String {
    workspace_root()
        .join("hack-compat/tests/fixtures/e4")
        .to_string()
}

/// A scratch copy of the E4 fixture fork that a test may change (removed on drop of the Scratch).
pub fn e4_copy(tag: &str) -> (Scratch, Utf8PathBuf) {
    let s = Scratch::new(tag);
    let fork = s.dir.join("fork");
    copy_tree(
        &workspace_root().join("hack-compat/tests/fixtures/e4"),
        &fork,
    )
    .unwrap();
    (s, fork)
}

/// An endpoint where no daemon answers.
pub const NO_DAEMON: (&str, &str) = ("DOCKER_HOST", "unix:///nonexistent/docker.sock");
