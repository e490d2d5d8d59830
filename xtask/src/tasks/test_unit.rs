//! `cargo xtask test unit [PKG…] [--run REGEX] [-- GO_TEST_ARGS…]`: the unit tests as the fork's
//! `make test-unit` runs them (the command read from its recipe), with `TESTDIRS` from the
//! packages and `TESTFLAGS` from `--run` and the rest; output live, then the failures with their
//! own output lines and a closing `N passed, M failed, K skipped`, read from the run's report.

use anyhow::{bail, Result};

use crate::context::Context;
use crate::dev::Dev;
use crate::flags;
use crate::ops::attempts::Policy;
use crate::ops::{live, unit};

impl flags::TestUnit {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        let dev = Dev::open(cx, false)?;
        let Some(cmd) = dev.fork.unit_tests.clone() else {
            bail!("this fork's Makefile has no test-unit target to follow");
        };
        unit::check_packages(&dev.fork, &self.pkgs)?;
        let mut flags: Vec<String> = self.run.iter().map(|r| format!("-test.run={r}")).collect();
        flags.extend(self.go_args.iter().cloned());
        let policy = Policy::new(
            self.reruns.rerun_fails,
            self.reruns.allow_flaky,
            self.reruns.count,
        );
        // The report is read under the work lock: another run would replace it.
        dev.work(cx, false, async |w| match self.watch {
            true => live::unit_watch(w, &cmd, &self.pkgs, &flags).await,
            false => unit::run_with(w, &cmd, &self.pkgs, &flags, policy).await,
        })
        .await
    }
}
