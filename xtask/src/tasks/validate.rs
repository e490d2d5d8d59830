//! `cargo xtask validate [CHECK…]`: the fork's own `hack/validate/` scripts (`default`, or the
//! named ones, checked against the fork's list) in the dev container, each a process group a
//! signal stops; one line per check and a closing `N passed, M failed`.

use anyhow::{bail, Result};
use serde_json::json;

use crate::context::Context;
use crate::dev::exec::Output;
use crate::dev::Dev;
use crate::fail;
use crate::flags;

impl flags::Validate {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        let mut dev = Dev::open(cx, false)?;
        let available = &dev.fork.validate_checks;
        if available.is_empty() {
            bail!("this fork ({}) has no hack/validate/ checks", dev.fork.era);
        }
        let checks = if self.checks.is_empty() {
            vec!["default".to_string()]
        } else {
            self.checks.clone()
        };
        for c in &checks {
            if !available.contains(c) {
                bail!(
                    "unknown check `{c}`: this fork has {}",
                    available.join(", ")
                );
            }
        }
        compare_with_upstream(cx, &mut dev)?;
        let (passed, failed) = dev
            .work(cx, false, async |w| {
                let (mut passed, mut failed) = (0, 0);
                for c in &checks {
                    cx.ui.status("Validating", format!("`hack/validate/{c}`"));
                    let t = std::time::Instant::now();
                    let cmd = [format!("hack/validate/{c}")];
                    let ran = w.run(&cmd, Output::Stream).await;
                    let code = ran?.code;
                    fail::point("after-check").await?;
                    let secs = t.elapsed().as_secs_f64();
                    let status = if code == 0 { "passed" } else { "failed" };
                    cx.ui.result(format!(
                        "validate {c}: {status} in {secs:.1} s (exit {code})"
                    ));
                    cx.ui.event(
                        json!({"step": c, "status": status, "exit_code": code, "seconds": secs}),
                    );
                    if code == 0 {
                        passed += 1;
                    } else {
                        failed += 1;
                    }
                }
                Ok((passed, failed))
            })
            .await?;
        let status = if failed == 0 { "ok" } else { "failed" };
        cx.ui.event(
            json!({"step": "validate", "status": status, "passed": passed,
            "failed": failed, "skipped": 0}),
        );
        cx.ui.result(format!("{passed} passed, {failed} failed"));
        Ok(if failed == 0 { 0 } else { 1 })
    }
}

/// The fork's scripts compare the branch with `VALIDATE_ORIGIN_BRANCH`, else they fetch moby's
/// master from GitHub inside the dev container (offline that fails, and it leaves a
/// `.git/FETCH_HEAD` behind). A contributor's clone has it already as `upstream/master` (or
/// `main`): use that when the variable is unset and the fork forwards it; when the clone has
/// none, say so first, with how to get it.
fn compare_with_upstream(cx: &Context, dev: &mut Dev) -> Result<()> {
    const VAR: &str = "VALIDATE_ORIGIN_BRANCH";
    if !dev.fork.env_allowlist.iter().any(|n| n == VAR) || dev.spec.has_env(VAR) {
        return Ok(());
    }
    let Ok(repo) = git2::Repository::open(&dev.fork.root) else {
        return Ok(());
    };
    let found = ["master", "main"]
        .iter()
        .map(|b| format!("upstream/{b}"))
        .find(|r| repo.find_reference(&format!("refs/remotes/{r}")).is_ok());
    if let Some(r) = found {
        cx.ui.note(format!(
            "comparing with {r} (your `upstream` remote); set {VAR} to choose another"
        ));
        dev.spec.set_env(VAR, r);
        return Ok(());
    }
    let how = match repo.find_remote("upstream") {
        Ok(_) => "`git fetch upstream`".to_string(),
        Err(_) => {
            "`git remote add upstream https://github.com/moby/moby.git && git fetch upstream`"
                .to_string()
        }
    };
    bail!(
        "the checks compare your branch with moby's master, and this clone has no upstream/master: \
         run {how}, or set {VAR} to the branch to compare with"
    )
}
