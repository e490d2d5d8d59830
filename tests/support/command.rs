//! The one way a test runs the real `xtask`: [`xtask_bin`] builds it, [`Xtask`] makes the command
//! line and gives it the test environment ([`strip_env`]), and [`xtask`] runs it to the end.

use std::ffi::OsStr;
use std::process::{Command, Output};
use std::sync::OnceLock;

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};

use super::running::Running;

/// An endpoint where no daemon answers.
pub const NO_DAEMON: (&str, &str) = ("DOCKER_HOST", "unix:///nonexistent/docker.sock");

/// What the user's shell may have set that changes what `xtask` does or prints, and that no test
/// inherits: the commit and image a test means are on its command line or in its own `env`.
pub const STRIPPED_ENV: &[&str] = &[
    "DOCKER_GITCOMMIT",
    "MOBY_XTASK_IMAGE",
    "CARGO_TERM_QUIET",
    "CARGO_TERM_VERBOSE",
    "CARGO_TERM_COLOR",
];

/// How the daemon is found, beyond [`NO_DAEMON`]'s `DOCKER_HOST`: what [`Xtask::no_daemon`] also
/// removes, so that nothing in the user's shell points a no-daemon run at a daemon after all.
pub const ENDPOINT_ENV: &[&str] = &[
    "DOCKER_CONTEXT",
    "DOCKER_TLS",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
];

pub fn workspace_root() -> Utf8PathBuf {
    Utf8Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The `xtask` binary, built once per test process (`cargo build -p xtask`, with its failpoints
/// compiled in: inert unless a test arms one) into the target
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
            .args([
                "build",
                "--quiet",
                "--package",
                "xtask",
                "--features",
                "failpoints",
            ])
            .arg("--target-dir")
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

/// Remove [`STRIPPED_ENV`] from what `cmd` inherits: every run of `xtask` goes through here, also
/// one started through another program (`setpriv`), and [`unset_env`] says the same to a shell.
pub fn strip_env(cmd: &mut Command) -> &mut Command {
    for name in STRIPPED_ENV {
        cmd.env_remove(name);
    }
    cmd
}

/// [`strip_env`] for a shell command line (`unset …; `), for a run that a shell starts (tmux).
pub fn unset_env() -> String {
    format!("unset {}; ", STRIPPED_ENV.join(" "))
}

/// A command line of the real `xtask`, in the test environment ([`strip_env`]); the test's own
/// variables come after, so a test may set a stripped one itself.
pub struct Xtask {
    cmd: Command,
}

impl Xtask {
    pub fn new<I, S>(args: I) -> Xtask
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(xtask_bin());
        strip_env(&mut cmd).args(args);
        Xtask { cmd }
    }

    /// As [`Xtask::new`], run as the user `uid` (group `uid`), as a contributor on a rootless
    /// engine runs it.
    pub fn as_user<I, S>(uid: u32, args: I) -> Xtask
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new("setpriv");
        strip_env(&mut cmd)
            .arg(format!("--reuid={uid}"))
            .arg(format!("--regid={uid}"))
            .arg("--clear-groups")
            .arg(xtask_bin())
            .args(args);
        Xtask { cmd }
    }

    /// No daemon anywhere: `DOCKER_HOST` is [`NO_DAEMON`] and [`ENDPOINT_ENV`] is removed.
    pub fn no_daemon(mut self) -> Xtask {
        for name in ENDPOINT_ENV {
            self.cmd.env_remove(name);
        }
        self.env(NO_DAEMON.0, NO_DAEMON.1)
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Xtask {
        self.cmd.env(key, value);
        self
    }

    pub fn envs(mut self, env: &[(&str, &str)]) -> Xtask {
        for (k, v) in env {
            self.cmd.env(k, v);
        }
        self
    }

    /// The command, to set its stdio or run it another way.
    pub fn command(self) -> Command {
        self.cmd
    }

    /// Run to the end, output collected.
    pub fn output(mut self) -> Output {
        self.cmd.output().expect("cannot run xtask")
    }

    /// Start it, watched as it goes ([`Running`]).
    pub fn spawn(self) -> Result<Running> {
        Running::start(self.cmd)
    }
}

/// Run xtask with `args` and the given env changes (after [`strip_env`]), to the end.
pub fn xtask(args: &[&str], env: &[(&str, &str)]) -> Output {
    Xtask::new(args).envs(env).output()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
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
