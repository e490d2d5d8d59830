//! One run of the fork's unit tests (`make test-unit`'s command) in the dev container: the
//! packages checked to exist in the fork and the tools its script runs checked to be in the dev
//! image before anything runs; `TESTDIRS` and `TESTFLAGS` for this run; then the summary from
//! the run's report. `test unit` runs it once (and again for what failed, with reruns), `test
//! unit --watch` after every change.

use anyhow::{bail, Result};
use hack_compat::Fork;

use super::attempts::{self, Attempt, Policy};
use super::test_report::summarize;
use crate::dev::{Output, Work};

/// `PKG…` as `go test` names them (`./pkg/stringid`, `./daemon/...`): each must be a directory
/// of the fork, or nothing would run and the script would say so only after starting.
pub fn check_packages(fork: &Fork, pkgs: &[String]) -> Result<()> {
    for pkg in pkgs {
        let dir = pkg.trim_start_matches("./").trim_end_matches("...");
        let dir = dir.trim_end_matches('/');
        if !fork.root.join(dir).is_dir() {
            bail!(
                "no package `{pkg}` in {}: give a directory of the fork, as `go test` names it \
                 (e.g. ./pkg/stringid, ./daemon/...)",
                fork.root
            );
        }
    }
    Ok(())
}

/// The tools the fork's script runs must be in the dev image: say so before running, not as an
/// exit 127 after. A tool found stays found in that container for this process: a watch asks
/// once.
async fn check_tools(w: &Work<'_>) -> Result<()> {
    static FOUND: std::sync::Mutex<Vec<(String, &str)>> = std::sync::Mutex::new(Vec::new());
    let known = |tool: &str| {
        FOUND
            .lock()
            .is_ok_and(|f| f.iter().any(|(c, t)| *c == w.ctr.id && *t == tool))
    };
    for tool in w.dev.fork.unit_test_tools() {
        if known(tool) {
            continue;
        }
        let found = w
            .exec()
            .script("command_path", &[tool], Output::Discard)
            .await?;
        if found.code != 0 {
            bail!(
                "the fork's hack/test/unit runs `{tool}`, and the dev image {} has none: rebuild \
                 the fork's image (`cargo xtask image --rebuild`; its Dockerfile installs {tool}), \
                 or give one that has it (--image)",
                w.dev.spec.image
            );
        }
        if let Ok(mut f) = FOUND.lock() {
            f.push((w.ctr.id.clone(), tool));
        }
    }
    Ok(())
}

/// Run the unit tests of `pkgs` (all, when empty) with `flags`; the exit code `test unit` gives.
pub async fn run(w: &Work<'_>, cmd: &[String], pkgs: &[String], flags: &[String]) -> Result<u8> {
    run_with(w, cmd, pkgs, flags, Policy::default()).await
}

/// [`run`], with reruns of what failed and repeats as `policy` says.
pub async fn run_with(
    w: &Work<'_>,
    cmd: &[String],
    pkgs: &[String],
    flags: &[String],
    policy: Policy,
) -> Result<u8> {
    check_tools(w).await?;
    let mut flags = flags.to_vec();
    if policy.count > 1 {
        flags.push(format!("-test.count={}", policy.count));
    }
    let root = w.dev.fork.root.clone();
    attempts::run(
        w.cx,
        "test unit",
        &cmd.join(" "),
        policy,
        async |again| match again {
            None => once(w, cmd, pkgs, &flags).await,
            Some(failed) => {
                let mut dirs: Vec<String> = failed
                    .iter()
                    .map(|f| package_dir(&root, &f.package))
                    .collect();
                dirs.sort();
                dirs.dedup();
                let names: Vec<&str> = failed.iter().map(|f| f.test.as_str()).collect();
                let mut only: Vec<String> = flags
                    .iter()
                    .filter(|f| {
                        !f.starts_with("-test.run")
                            && !f.starts_with("-run")
                            && !f.starts_with("-test.count")
                    })
                    .cloned()
                    .collect();
                only.push(format!("-test.run={}", attempts::test_run(&names)));
                once(w, cmd, &dirs, &only).await
            }
        },
    )
    .await
}

/// The fork's directory of a Go import path (`github.com/docker/docker/pkg/stringid` →
/// `./pkg/stringid`): its shortest ending that is a directory of the fork.
fn package_dir(root: &camino::Utf8Path, import: &str) -> String {
    let parts: Vec<&str> = import.split('/').collect();
    (0..parts.len())
        .rev()
        .map(|i| parts[i..].join("/"))
        .find(|rel| root.join(rel).is_dir())
        .map_or_else(|| import.to_string(), |rel| format!("./{rel}"))
}

/// One run of the unit tests: its exit code and report.
async fn once(w: &Work<'_>, cmd: &[String], pkgs: &[String], flags: &[String]) -> Result<Attempt> {
    let (cx, dev) = (w.cx, w.dev);
    let mut env = Vec::new();
    for (name, value) in [("TESTDIRS", pkgs.join(" ")), ("TESTFLAGS", flags.join(" "))] {
        if !value.is_empty() {
            env.push(format!("{name}={value}"));
        }
    }
    // An earlier run's report is never counted: gone where the run writes it (the engine's copy)
    // and here (what comes back).
    let report = dev.fork.root.join(hack_compat::UNIT_TEST_REPORT);
    w.exec()
        .script(
            "rm_record",
            &[hack_compat::UNIT_TEST_REPORT],
            Output::Capture,
        )
        .await?;
    let _ = std::fs::remove_file(&report);
    cx.ui.status(
        "Testing",
        format!("`{}` in {}", cmd.join(" "), dev.fork.root),
    );
    let t = std::time::Instant::now();
    let ran = w.run_with(cmd, Output::Stream, &env).await?;
    crate::fail::point("after-tests").await?;
    // On an engine elsewhere the report is here only once bundles/ came back.
    w.hand_back().await?;
    Ok(Attempt {
        code: ran.code,
        summary: std::fs::read_to_string(&report).ok().map(|t| summarize(&t)),
        secs: t.elapsed().as_secs_f64(),
    })
}
