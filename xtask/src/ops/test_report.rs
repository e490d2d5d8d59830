//! Reading a `go test -json` stream (gotestsum's `bundles/go-test-report.json`): how many tests
//! passed, failed and were skipped, and for each failure its package, name and own output, so a
//! contributor sees what broke without scrolling back through the run. Eras that write no
//! report leave a `go test -v` / gocheck log (`test.log`), read for the same counts; [`conclude`]
//! shows the outcome and picks the exit code.

use serde_json::{json, Value};

use crate::context::Context;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Each test that passed (package, name), once per run.
    pub passes: Vec<(String, String)>,
    pub failures: Vec<Failure>,
    /// Packages that failed outside any test (they did not build, or a test binary crashed).
    pub broken: Vec<Failure>,
}

#[derive(Debug, Default, PartialEq, Eq, Clone)]
pub struct Failure {
    pub package: String,
    /// Empty for a package that broke outside its tests.
    pub test: String,
    pub output: Vec<String>,
}

/// Summarise the JSON lines of a `go test -json` run (lines that are not JSON are ignored).
pub fn summarize(report: &str) -> Summary {
    let mut s = Summary::default();
    let mut outputs: std::collections::HashMap<(String, String), Vec<String>> = Default::default();
    // The compiler's lines for a package whose test did not build (`build-output`, Go 1.24 on),
    // keyed by the package (`ImportPath` less its ` [p.test]`).
    let mut build: std::collections::HashMap<String, Vec<String>> = Default::default();
    for line in report.lines() {
        let Ok(ev) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let field = |k: &str| {
            ev.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let (action, package, test) = (field("Action"), field("Package"), field("Test"));
        let key = (package.clone(), test.clone());
        match action.as_str() {
            "build-output" => {
                let path = field("ImportPath");
                let pkg = path.split(" [").next().unwrap_or_default().to_string();
                let out = field("Output");
                if !out.starts_with("# ") {
                    build
                        .entry(pkg)
                        .or_default()
                        .push(out.trim_end().to_string());
                }
            }
            "output" => {
                let out = field("Output");
                let noise = [
                    "=== RUN",
                    "=== PAUSE",
                    "=== CONT",
                    "--- FAIL",
                    "FAIL\t",
                    "FAIL\n",
                    "PASS\n",
                ];
                if !noise
                    .iter()
                    .any(|n| out.trim_start().starts_with(n.trim_end()))
                {
                    outputs
                        .entry(key)
                        .or_default()
                        .push(out.trim_end().to_string());
                }
            }
            "pass" if !test.is_empty() => {
                s.passed += 1;
                s.passes.push((package, test));
            }
            "skip" if !test.is_empty() => s.skipped += 1,
            "fail" => {
                let mut output = match test.is_empty() {
                    true => build.remove(&package).unwrap_or_default(),
                    false => Vec::new(),
                };
                output.extend(outputs.remove(&key).unwrap_or_default());
                let failure = Failure {
                    package,
                    test: test.clone(),
                    output,
                };
                if test.is_empty() {
                    // A package whose tests failed also reports `fail`: only count it when none did.
                    if !s.failures.iter().any(|f| f.package == failure.package) {
                        s.broken.push(failure);
                    }
                } else {
                    s.failed += 1;
                    s.failures.push(failure);
                }
            }
            _ => {}
        }
    }
    s
}

/// Summarise a `go test -v` or gocheck log (`--- PASS: TestX`, `PASS: file.go:12: Suite.TestX`);
/// a failure's output is not separable there, so only its name is kept.
pub fn summarize_log(log: &str) -> Summary {
    let mut s = Summary::default();
    for line in log.lines() {
        let l = line.trim_start();
        let l = l.strip_prefix("--- ").unwrap_or(l);
        let Some((verdict, rest)) = l.split_once(": ") else {
            continue;
        };
        // gocheck names the test after `file.go:LINE: `; go test -v names it first, then `(0.01s)`.
        let name = rest.rsplit(": ").next().unwrap_or(rest);
        let name = name
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        if name.is_empty() {
            continue;
        }
        match verdict {
            "PASS" => {
                s.passed += 1;
                s.passes.push((String::new(), name));
            }
            "SKIP" | "MISS" => s.skipped += 1,
            "FAIL" | "PANIC" => {
                s.failed += 1;
                s.failures.push(Failure {
                    package: String::new(),
                    test: name,
                    output: Vec::new(),
                });
            }
            _ => {}
        }
    }
    s
}

/// Show a run's outcome, each failure with its own lines and then `N passed, M failed, K
/// skipped` alone on its line, and return the exit code: 1 when a test failed or the fork's
/// command exited non-zero (whatever was counted). Without a summary (no report), the exit code
/// decides.
/// `attempt`: the number of this run where there are reruns: its events carry it, its
/// counts line says it (the closing line of all attempts is then the reruns' own).
pub fn conclude(
    cx: &Context,
    step: &str,
    cmd: &str,
    summary: Option<&Summary>,
    code: i64,
    secs: f64,
    attempt: Option<u32>,
) -> u8 {
    let exit = verdict(summary, code);
    let Some(s) = summary else {
        if code == 0 {
            cx.ui.result(format!(
                "`{cmd}` passed (exit 0); it wrote no report to count from"
            ));
            return 0;
        }
        cx.ui.error(format!(
            "`{cmd}` broke before testing (exit {code}): see its output above"
        ));
        return 1;
    };
    for f in s.failures.iter().chain(&s.broken) {
        show(cx, f, attempt);
    }
    let failed = s.failed > 0 || !s.broken.is_empty();
    if code != 0 && !failed {
        if s.passed + s.failed + s.skipped == 0 {
            cx.ui.error(format!(
                "`{cmd}` broke before any test ran (exit {code}): see its output above"
            ));
        } else {
            cx.ui.error(format!(
                "`{cmd}` failed (exit {code}) after the tests counted below: its last lines above say what broke"
            ));
        }
    }
    cx.ui.event(
        json!({"step": step, "status": if exit != 0 { "failed" } else { "ok" },
        "passed": s.passed, "failed": s.failed, "skipped": s.skipped, "seconds": secs,
        "attempt": attempt}),
    );
    let counts = format!(
        "{} passed, {} failed, {} skipped",
        s.passed, s.failed, s.skipped
    );
    cx.ui.result(match attempt {
        Some(n) => format!("{counts} (attempt {n})"),
        None => counts,
    });
    exit
}

/// The exit code of a run: 1 when a test failed or a package broke, and whenever the fork's
/// command exited non-zero, whatever was counted (a later bundle, the second daemon or the
/// teardown failing after some tests passed); 0 only when both say so.
fn verdict(summary: Option<&Summary>, code: i64) -> u8 {
    let failed = summary.is_some_and(|s| s.failed > 0 || !s.broken.is_empty());
    u8::from(failed || code != 0)
}

fn show(cx: &Context, f: &Failure, attempt: Option<u32>) {
    let what = match (f.package.is_empty(), f.test.is_empty()) {
        (_, true) => format!(
            "FAIL {} (the package did not build or its test binary broke)",
            f.package
        ),
        (true, false) => format!("FAIL {}", f.test),
        (false, false) => format!("FAIL {} {}", f.package, f.test),
    };
    cx.ui.result(what);
    for line in &f.output {
        cx.ui.result(format!("    {line}"));
    }
    cx.ui.event(
        json!({"step": "test", "status": "failed", "package": f.package, "test": f.test,
        "output": f.output, "attempt": attempt}),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_that_does_not_build_shows_the_compilers_lines() {
        // `go test -json` of Go 1.24+ on a test that does not compile (gotestsum's report).
        let report = r##"{"ImportPath":"github.com/docker/docker/pkg/tailfile [github.com/docker/docker/pkg/tailfile.test]","Action":"build-output","Output":"# github.com/docker/docker/pkg/tailfile [github.com/docker/docker/pkg/tailfile.test]\n"}
{"ImportPath":"github.com/docker/docker/pkg/tailfile [github.com/docker/docker/pkg/tailfile.test]","Action":"build-output","Output":"pkg/tailfile/tailfile_test.go:103:2: undefined: undefinedThing\n"}
{"ImportPath":"github.com/docker/docker/pkg/tailfile [github.com/docker/docker/pkg/tailfile.test]","Action":"build-fail"}
{"Action":"start","Package":"github.com/docker/docker/pkg/tailfile"}
{"Action":"output","Package":"github.com/docker/docker/pkg/tailfile","Output":"FAIL\tgithub.com/docker/docker/pkg/tailfile [build failed]\n"}
{"Action":"fail","Package":"github.com/docker/docker/pkg/tailfile","Elapsed":0,"FailedBuild":"github.com/docker/docker/pkg/tailfile [github.com/docker/docker/pkg/tailfile.test]"}"##;
        let s = summarize(report);
        assert_eq!((s.passed, s.failed, s.skipped), (0, 0, 0));
        assert_eq!(s.broken.len(), 1);
        assert_eq!(s.broken[0].package, "github.com/docker/docker/pkg/tailfile");
        assert_eq!(
            s.broken[0].output,
            ["pkg/tailfile/tailfile_test.go:103:2: undefined: undefinedThing"]
        );
    }

    #[test]
    fn the_exit_code_is_the_forks_whatever_was_counted() {
        let passed = Summary {
            passed: 4,
            ..Summary::default()
        };
        let failing = Summary {
            passed: 3,
            failed: 1,
            ..Summary::default()
        };
        for (summary, code, want) in [
            (Some(&passed), 0, 0),
            (Some(&passed), 1, 1),
            (Some(&passed), 3, 1),
            (Some(&failing), 0, 1),
            (Some(&failing), 3, 1),
            (None, 0, 0),
            (None, 1, 1),
            (None, 3, 1),
        ] {
            assert_eq!(verdict(summary, code), want, "{summary:?} exit {code}");
        }
    }

    #[test]
    fn counts_and_failures() {
        let report = r#"{"Action":"run","Package":"p/a","Test":"TestOK"}
{"Action":"output","Package":"p/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"pass","Package":"p/a","Test":"TestOK","Elapsed":0}
{"Action":"output","Package":"p/a","Test":"TestBad","Output":"    a_test.go:9: want 1, got 2\n"}
{"Action":"output","Package":"p/a","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"p/a","Test":"TestBad","Elapsed":0}
{"Action":"skip","Package":"p/a","Test":"TestLater","Elapsed":0}
{"Action":"fail","Package":"p/a","Elapsed":0.1}
{"Action":"output","Package":"p/b","Output":"p/b/b.go:3:1: syntax error\n"}
{"Action":"fail","Package":"p/b","Elapsed":0}
not json
"#;
        let s = summarize(report);
        assert_eq!((s.passed, s.failed, s.skipped), (1, 1, 1));
        assert_eq!(s.failures.len(), 1);
        assert_eq!(s.failures[0].test, "TestBad");
        assert_eq!(s.failures[0].output, ["    a_test.go:9: want 1, got 2"]);
        assert_eq!(s.broken.len(), 1);
        assert_eq!(s.broken[0].package, "p/b");
        assert_eq!(s.broken[0].output, ["p/b/b.go:3:1: syntax error"]);
        assert_eq!(summarize(""), Summary::default());
    }

    #[test]
    fn logs_of_go_test_v_and_gocheck() {
        let log = "=== RUN   TestVersion\n--- PASS: TestVersion (0.01s)\n--- SKIP: TestLater (0.00s)\n    --- FAIL: TestBad/sub (0.00s)\nPASS: docker_cli_run_test.go:64: DockerSuite.TestRunEchoStdout\t0.512s\nFAIL: docker_cli_run_test.go:70: DockerSuite.TestRunBroken\nOOPS: 1 passed\n";
        let s = summarize_log(log);
        assert_eq!((s.passed, s.failed, s.skipped), (2, 2, 1));
        let names: Vec<&str> = s.failures.iter().map(|f| f.test.as_str()).collect();
        assert_eq!(names, ["TestBad/sub", "DockerSuite.TestRunBroken"]);
        assert_eq!(summarize_log("no verdicts here\n"), Summary::default());
    }
}
