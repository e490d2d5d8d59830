//! `cargo xtask test unit [PKG…] [--run REGEX] [-- GO_TEST_ARGS…]`: the unit tests as the fork's
//! `make test-unit` runs them (the command read from its recipe), with `TESTDIRS` from the
//! packages and `TESTFLAGS` from `--run` and the rest; output live, then the failures with their
//! own output lines and a closing `N passed, M failed, K skipped`, read from the run's report.

use crate::context::Context;
use crate::dev::Dev;
use crate::exec::Output;
use crate::test_report::{conclude, summarize};
use crate::{docker, flags, handback};
use anyhow::{bail, Result};

/// Where gotestsum writes the run's `go test -json` stream (`hack/test/unit`, 20.10 on).
const REPORT: &str = "bundles/go-test-report.json";

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
        let docker = docker::connect(cx.ui).await?;
        let (_lock, ctr) = dev.up_for_work(cx, &docker, false).await?;
        let report = dev.fork.root.join(REPORT);
        let _ = std::fs::remove_file(&report);
        cx.ui.status(
            "Testing",
            format!("`{}` in {}", cmd.join(" "), dev.fork.root),
        );
        let t = std::time::Instant::now();
        let ran = dev.run_group(cx, &docker, &ctr, &cmd, Output::Stream).await;
        handback::give_back(&dev.exec(cx, &docker, &ctr), &dev.fork).await?;
        let code = ran?.code;
        let summary = std::fs::read_to_string(&report).ok().map(|t| summarize(&t));
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
