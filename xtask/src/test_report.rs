//! Reading a `go test -json` stream (gotestsum's `bundles/go-test-report.json`): how many tests
//! passed, failed and were skipped, and for each failure its package, name and own output, so a
//! contributor sees what broke without scrolling back through the run.

use serde_json::Value;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
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
            "pass" if !test.is_empty() => s.passed += 1,
            "skip" if !test.is_empty() => s.skipped += 1,
            "fail" => {
                let output = outputs.remove(&key).unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
