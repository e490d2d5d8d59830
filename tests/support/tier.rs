//! The three tiers a test belongs to, each stated once, as the first line of the test:
//!
//! - no daemon (`cli.rs`, `cli_output.rs`, `bad_input.rs`): the binary against hack-compat's
//!   fixture forks, an endpoint where nothing answers ([`NO_DAEMON`](super::NO_DAEMON)); always
//!   runs, nothing to state.
//! - end to end (`*_e2e.rs`): the real daemon, Debian's moby trees and the dev images made from
//!   them; [`e2e!()`](crate::e2e) first.
//! - real-tree reads (`real_trees.rs`): hack-compat and `--dry-run` on Debian's moby trees, no
//!   daemon of their own, but the trees come from the same cache and fetch as the end-to-end
//!   fixtures, so the same switch and the same needs; [`real_trees!()`](crate::real_trees) first.
//!
//! A test that cannot run says so, and why: `skipped: <test>: <reason>` ([`skipped`]).

use std::process::Command;

use anyhow::{bail, Context, Result};

use super::command::text;

/// What a test needs to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// The binary and the fixtures in this repository.
    NoDaemon,
    /// Root and a Docker daemon; off with `MOBY_XTASK_SKIP_E2E=1`.
    EndToEnd,
    /// Debian's moby trees (fetched and unpacked as root); off with `MOBY_XTASK_SKIP_E2E=1`.
    RealTrees,
}

impl Tier {
    fn name(self) -> &'static str {
        match self {
            Tier::NoDaemon => "the no-daemon tier",
            Tier::EndToEnd => "the end-to-end tier",
            Tier::RealTrees => "the real-tree tier (fetched as the end-to-end fixtures are)",
        }
    }

    /// Whether the tier's tests run here: `Ok(false)` when explicitly skipped
    /// (`MOBY_XTASK_SKIP_E2E=1`, said with [`skipped`]), an error naming what is missing otherwise.
    pub fn ready(self) -> Result<bool> {
        if self == Tier::NoDaemon {
            return Ok(true);
        }
        if std::env::var("MOBY_XTASK_SKIP_E2E").is_ok_and(|v| v == "1") {
            skipped("MOBY_XTASK_SKIP_E2E=1");
            return Ok(false);
        }
        let tier = self.name();
        let uid = Command::new("id").arg("-u").output().context("id -u")?;
        if text(&uid.stdout).trim() != "0" {
            bail!(
                "{tier} needs root (debootstrap, chown): run as root, or set MOBY_XTASK_SKIP_E2E=1"
            );
        }
        let v = Command::new("docker")
            .args(["version", "--format", "{{.Server.Version}}"])
            .output();
        if !v.is_ok_and(|o| o.status.success()) {
            bail!("{tier} needs a Docker daemon (`docker version` fails): start one, or set MOBY_XTASK_SKIP_E2E=1");
        }
        Ok(true)
    }
}

/// The test's tier, stated once as its first line: returns `Ok(())` from the test (after
/// `skipped: <test>: <reason>`) when the tier is off, and fails it when the tier's needs are
/// missing. For a test returning `anyhow::Result<()>`.
#[macro_export]
macro_rules! tier {
    ($tier:expr) => {
        if !$crate::Tier::ready($tier)? {
            return Ok(());
        }
    };
}

/// `tier!(Tier::EndToEnd)`: the real daemon and the dev images.
#[macro_export]
macro_rules! e2e {
    () => {
        $crate::tier!($crate::Tier::EndToEnd)
    };
}

/// `tier!(Tier::RealTrees)`: reads of Debian's moby trees.
#[macro_export]
macro_rules! real_trees {
    () => {
        $crate::tier!($crate::Tier::RealTrees)
    };
}

/// Say that a test was skipped, and why, where `cargo test` shows it (not captured), and on
/// the test's line of the summary: `skipped: <test>: <reason>`. With `MOBY_XTASK_NO_SKIPS=1`
/// (CI, which installs and runs everything) a skip fails the test instead.
pub fn skipped(reason: &str) {
    use std::io::Write;
    let name = std::thread::current().name().unwrap_or("test").to_string();
    if std::env::var("MOBY_XTASK_NO_SKIPS").is_ok_and(|v| v == "1") {
        panic!("{name} cannot run here ({reason}) and MOBY_XTASK_NO_SKIPS=1");
    }
    let _ = writeln!(std::io::stderr(), "skipped: {name}: {reason}");
}

/// Whether the tests run as root; if not, the test is [`skipped`] with `reason`. For a test of
/// any tier that needs root for one thing (a fork another user cannot read).
pub fn as_root(reason: &str) -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0");
    if !root {
        skipped(reason);
    }
    root
}
