//! `cargo xtask test unit [PKG…] [--run REGEX] [-- GO_TEST_ARGS…]`: the unit tests as the fork's
//! `make test-unit` runs them (the command read from its recipe), with `TESTDIRS` from the
//! packages and `TESTFLAGS` from `--run` and the rest; output live, then the failures with their
//! own output lines and a closing `N passed, M failed, K skipped`, read from the run's report.

use crate::context::Context;
use crate::dev::exec::Output;
use crate::dev::Dev;
use crate::flags;
use crate::ops::test_report::{conclude, summarize};
use anyhow::{bail, Result};

impl flags::TestUnit {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        let mut dev = Dev::open(cx, false)?;
        let Some(cmd) = dev.fork.unit_tests.clone() else {
            bail!("this fork's Makefile has no test-unit target to follow");
        };
        let mut flags: Vec<String> = self.run.iter().map(|r| format!("-test.run={r}")).collect();
        flags.extend(self.go_args.iter().cloned());
        for (name, value) in [
            ("TESTDIRS", self.pkgs.join(" ")),
            ("TESTFLAGS", flags.join(" ")),
        ] {
            if !value.is_empty() {
                dev.spec.set_env(name, value);
            }
        }
        let w = dev.work(cx, false).await?;
        let report = dev.fork.root.join(hack_compat::UNIT_TEST_REPORT);
        let _ = std::fs::remove_file(&report);
        cx.ui.status(
            "Testing",
            format!("`{}` in {}", cmd.join(" "), dev.fork.root),
        );
        let t = std::time::Instant::now();
        let ran = w.run(&cmd, Output::Stream).await;
        // Read under the work lock: another run would replace the report.
        let summary = std::fs::read_to_string(&report).ok().map(|t| summarize(&t));
        w.finish().await?;
        let code = ran?.code;
        let secs = t.elapsed().as_secs_f64();
        Ok(conclude(
            cx,
            "test unit",
            &cmd.join(" "),
            summary,
            code,
            secs,
        ))
    }
}
