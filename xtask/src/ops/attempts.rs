//! Reruns and repeats of a test run, as gotestsum's `--rerun-fails` and `go test -count` do
//! them: after a run, the tests that failed run again alone (their packages, `-test.run` of
//! their names) up to N more times; a test that failed and then passed is **flaky**, named in
//! the summary, and still fails the command unless flakiness is allowed. `--count N` runs the
//! selection N times (`-test.count=N`) and says, per test, how many of its runs failed. Each
//! attempt's `--json` events carry its number.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::json;

use super::test_report::{conclude, Summary};
use crate::context::Context;

/// What the command line asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy {
    /// Reruns of the failed tests (0: none).
    pub reruns: u32,
    pub allow_flaky: bool,
    /// Runs of each test (`-test.count`), 1 by default.
    pub count: u32,
}

impl Policy {
    /// From the command line: `--rerun-fails[=N]`, `--allow-flaky`, `--count N`.
    pub fn new(reruns: Option<u32>, allow_flaky: bool, count: Option<u32>) -> Policy {
        Policy {
            reruns: reruns.unwrap_or(0),
            allow_flaky,
            count: count.unwrap_or(1),
        }
    }
}

/// One run of the fork's test command.
#[derive(Debug, Default)]
pub struct Attempt {
    pub code: i64,
    pub summary: Option<Summary>,
    pub secs: f64,
}

/// A failed test to run again: its package as the report names it, and its name as a rerun
/// selects it (a top-level test; `Suite/Test` inside a suite runner, `…Suite` tests).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Failed {
    pub package: String,
    pub test: String,
}

/// The tests a summary shows failing, as a rerun selects them, each once.
pub fn failed(s: &Summary) -> Vec<Failed> {
    let mut out: Vec<Failed> = s
        .failures
        .iter()
        .map(|f| Failed {
            package: f.package.clone(),
            test: rerun_name(&f.test),
        })
        .collect();
    out.sort();
    out.dedup();
    // A parent that failed only because its subtest did: the subtest's entry covers it.
    let all = out.clone();
    out.retain(|f| {
        !all.iter().any(|o| {
            o.package == f.package
                && o.test.len() > f.test.len()
                && o.test.starts_with(&format!("{}/", f.test))
        })
    });
    out
}

/// The level a test is rerun at: a suite runner's test (`TestDockerCLIRunSuite/TestRunX`)
/// with its suite, any other test at its top level.
fn rerun_name(test: &str) -> String {
    let mut parts = test.split('/');
    let top = parts.next().unwrap_or_default();
    match (top.ends_with("Suite"), parts.next()) {
        (true, Some(sub)) => format!("{top}/{sub}"),
        _ => top.to_string(),
    }
}

/// `-test.run` for `tests`: `^(A|B)$`, or per level `^(S)$/^(T1|T2)$` for suites' tests.
pub fn test_run(tests: &[&str]) -> String {
    let level = |i: usize| {
        let mut names: Vec<&str> = tests.iter().filter_map(|t| t.split('/').nth(i)).collect();
        names.sort();
        names.dedup();
        names
    };
    let deep = tests.iter().any(|t| t.contains('/'));
    let mut out = format!("^({})$", level(0).join("|"));
    if deep {
        out.push_str(&format!("/^({})$", level(1).join("|")));
    }
    out
}

/// Run, rerun what failed as `policy` says, and conclude: the exit code.
pub async fn run<F>(
    cx: &Context,
    step: &str,
    cmd: &str,
    policy: Policy,
    mut attempt: F,
) -> Result<u8>
where
    F: AsyncFnMut(Option<&[Failed]>) -> Result<Attempt>,
{
    let first = attempt(None).await?;
    let numbered = (policy.reruns > 0).then_some(1);
    let exit = conclude(
        cx,
        step,
        cmd,
        first.summary.as_ref(),
        first.code,
        first.secs,
        numbered,
    );
    if policy.count > 1 {
        if let Some(s) = &first.summary {
            tallies(cx, s, policy.count);
        }
    }
    let Some(s) = first
        .summary
        .as_ref()
        .filter(|_| policy.reruns > 0 && exit != 0)
    else {
        return Ok(exit);
    };
    // A package that broke outside its tests, or a failure with no test to name, is not rerun.
    if !s.broken.is_empty() || s.failures.is_empty() {
        return Ok(exit);
    }
    let mut remaining = failed(s);
    let mut flaky: Vec<(Failed, u32)> = Vec::new();
    let mut tries = 1;
    for n in 2..=policy.reruns + 1 {
        if remaining.is_empty() {
            break;
        }
        let names: Vec<String> = remaining.iter().map(|f| f.test.clone()).collect();
        cx.ui
            .status("Rerunning", format!("attempt {n}: {}", names.join(" ")));
        let a = attempt(Some(&remaining)).await?;
        tries = n;
        conclude(cx, step, cmd, a.summary.as_ref(), a.code, a.secs, Some(n));
        let Some(rs) = a.summary.as_ref().filter(|rs| rs.broken.is_empty()) else {
            continue;
        };
        let passed = |f: &Failed| {
            rs.passes
                .iter()
                .any(|(p, t)| *p == f.package && *t == f.test)
                && !rs
                    .failures
                    .iter()
                    .any(|x| x.package == f.package && rerun_name(&x.test) == f.test)
        };
        let (now, still): (Vec<Failed>, Vec<Failed>) =
            remaining.into_iter().partition(|f| passed(f));
        flaky.extend(now.into_iter().map(|f| (f, n)));
        remaining = still;
    }
    for (f, n) in &flaky {
        cx.ui.result(format!(
            "FLAKY {} {}: failed, then passed on attempt {n}",
            f.package, f.test
        ));
        cx.ui
            .event(json!({"step": "flaky", "package": f.package, "test": f.test, "attempt": n}));
    }
    for f in &remaining {
        cx.ui.result(format!(
            "FAIL {} {}: failed on all {tries} attempts",
            f.package, f.test
        ));
    }
    let (passed, skipped) = (s.passed + flaky.len(), s.skipped);
    cx.ui.event(
        json!({"step": step, "status": "final", "passed": passed, "failed": remaining.len(),
        "skipped": skipped, "flaky": flaky.len(), "attempts": tries}),
    );
    cx.ui.result(format!(
        "{passed} passed, {} failed, {skipped} skipped",
        remaining.len()
    ));
    let verdict = match (remaining.is_empty(), flaky.is_empty()) {
        (false, _) => 1,
        (true, true) => 0,
        (true, false) if policy.allow_flaky => {
            cx.ui.note(format!(
                "{} flaky test(s), allowed by --allow-flaky",
                flaky.len()
            ));
            0
        }
        (true, false) => {
            cx.ui.error(format!(
                "{} test(s) passed only on a rerun (flaky); --allow-flaky to let them pass",
                flaky.len()
            ));
            1
        }
    };
    Ok(verdict)
}

/// With `--count N`: each test that failed in any of its runs, with how many.
fn tallies(cx: &Context, s: &Summary, count: u32) {
    let mut runs: BTreeMap<(&str, &str), (u32, u32)> = BTreeMap::new();
    for (p, t) in &s.passes {
        runs.entry((p, t)).or_default().0 += 1;
    }
    for f in &s.failures {
        runs.entry((&f.package, &f.test)).or_default().1 += 1;
    }
    let top: Vec<_> = runs.iter().filter(|((_, t), _)| !t.contains('/')).collect();
    let failing: Vec<_> = top.iter().filter(|(_, (_, failed))| *failed > 0).collect();
    for ((p, t), (ok, bad)) in &failing {
        cx.ui
            .result(format!("{p} {t}: failed {bad} of {} runs", ok + bad));
    }
    cx.ui.result(format!(
        "{} test(s), each run {count} times: {} failed at least once",
        top.len(),
        failing.len()
    ));
    cx.ui.event(json!({"step": "count", "count": count, "tests": top.len(),
        "failed": failing.iter().map(|((p, t), (ok, bad))| json!({"package": p, "test": t, "runs": ok + bad, "failed": bad})).collect::<Vec<_>>()}));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_report::Failure;

    fn failure(package: &str, test: &str) -> Failure {
        Failure {
            package: package.into(),
            test: test.into(),
            output: Vec::new(),
        }
    }

    #[test]
    fn what_a_rerun_selects() {
        let s = Summary {
            failures: vec![
                failure("p/a", "TestA/sub"),
                failure("p/a", "TestA"),
                failure("cli", "TestDockerCLIRunSuite/TestRunX"),
                failure("cli", "TestDockerCLIRunSuite"),
                failure("p/b", "TestB"),
            ],
            ..Summary::default()
        };
        let names: Vec<String> = failed(&s)
            .iter()
            .map(|f| format!("{} {}", f.package, f.test))
            .collect();
        assert_eq!(
            names,
            [
                "cli TestDockerCLIRunSuite/TestRunX",
                "p/a TestA",
                "p/b TestB"
            ]
        );
        assert_eq!(test_run(&["TestB", "TestA"]), "^(TestA|TestB)$");
        assert_eq!(
            test_run(&[
                "TestDockerCLIRunSuite/TestRunX",
                "TestDockerCLIRunSuite/TestRunY"
            ]),
            "^(TestDockerCLIRunSuite)$/^(TestRunX|TestRunY)$"
        );
    }
}
