//! One engine's share of a split run, as its child (`test integration --shard-units …`) runs it:
//! the units become one or two runs of the fork's own command, the `integration/` directories
//! through the directory variable (`TEST_INTEGRATION_DIR`), the `integration-cli` suites through
//! `-test.run '^(TestDockerSuite|…)$/REGEX'` with the directories skipped; and each unit's time
//! is read back from gotestsum's report for the next split.

use anyhow::{bail, Result};
use hack_compat::{Filter, IntegrationTests, Unit};
use serde_json::Value;

/// One run of the fork's command: the variables it gets (every selector variable the fork
/// reads, empty where this run does not use it, so nothing from the host's environment leaks in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub env: Vec<String>,
    pub units: Vec<Unit>,
}

/// The runs for `units` with the `--run` filter `run`.
pub fn parts(it: &IntegrationTests, units: &[Unit], run: Option<&str>) -> Result<Vec<Part>> {
    let dirs: Vec<&str> = units
        .iter()
        .filter_map(|u| match u {
            Unit::Dir(d) => Some(d.as_str()),
            _ => None,
        })
        .collect();
    let suites: Vec<&str> = units
        .iter()
        .filter_map(|u| match u {
            Unit::CliSuite(s) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    let whole_cli = units.contains(&Unit::Cli);
    let mut vars: Vec<&str> = vec!["TESTFLAGS"];
    if it.filter == Filter::TestFilter {
        vars.push("TEST_FILTER");
    }
    vars.extend(it.dirs.var.as_deref());
    vars.extend(it.dirs.skip_cli_var.as_deref());
    vars.extend(it.dirs.skip_var.as_deref());
    let env = |set: &[(&str, String)]| -> Vec<String> {
        vars.iter()
            .map(|v| {
                let value = set.iter().find(|(k, _)| k == v).map(|(_, x)| x.as_str());
                format!("{v}={}", value.unwrap_or(""))
            })
            .collect()
    };
    let filter = |re: &str| -> (&'static str, String) {
        match it.filter {
            Filter::TestFilter => ("TEST_FILTER", re.to_string()),
            Filter::TestFlags(flag) => ("TESTFLAGS", format!("{flag} {re}")),
        }
    };
    let mut out = Vec::new();
    if !dirs.is_empty() {
        let (Some(var), Some(skip_cli)) = (&it.dirs.var, &it.dirs.skip_cli_var) else {
            bail!(
                "this fork's `{}` takes no directories to split by",
                it.bundle
            );
        };
        let mut set = vec![
            (var.as_str(), dirs.join(" ")),
            (skip_cli.as_str(), "1".into()),
        ];
        set.extend(run.map(filter));
        out.push(Part {
            env: env(&set),
            units: units
                .iter()
                .filter(|u| matches!(u, Unit::Dir(_)))
                .cloned()
                .collect(),
        });
    }
    if !suites.is_empty() {
        let Some(skip) = &it.dirs.skip_var else {
            bail!(
                "this fork's `{}` cannot run integration-cli suites without the integration/ \
                 directories",
                it.bundle
            );
        };
        let mut re = format!("^({})$", suites.join("|"));
        if let Some(run) = run {
            re = format!("{re}/{run}");
        }
        let set = [
            (skip.as_str(), "1".to_string()),
            ("TESTFLAGS", format!("-test.run {re}")),
        ];
        out.push(Part {
            env: env(&set),
            units: units
                .iter()
                .filter(|u| matches!(u, Unit::CliSuite(_)))
                .cloned()
                .collect(),
        });
    }
    if whole_cli {
        let mut set: Vec<(&str, String)> = it
            .dirs
            .skip_var
            .iter()
            .map(|s| (s.as_str(), "1".to_string()))
            .collect();
        set.extend(run.map(filter));
        out.push(Part {
            env: env(&set),
            units: vec![Unit::Cli],
        });
    }
    Ok(out)
}

/// How long each unit took, from a `go test -json` report: a directory's package as a whole
/// (the fork names it `<arch>.integration.system`), an `integration-cli` suite as its top-level
/// test, the whole `integration-cli` as its package.
pub fn unit_times(report: &str, units: &[Unit]) -> Vec<(String, f64)> {
    let mut times = Vec::new();
    for line in report.lines() {
        let Ok(ev) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let s = |k: &str| ev.get(k).and_then(Value::as_str).unwrap_or("");
        if !matches!(s("Action"), "pass" | "fail" | "skip") {
            continue;
        }
        let Some(secs) = ev.get("Elapsed").and_then(Value::as_f64) else {
            continue;
        };
        let (pkg, test) = (s("Package"), s("Test"));
        let found = units.iter().find(|u| match u {
            Unit::Dir(d) => {
                test.is_empty()
                    && pkg.ends_with(&format!(
                        ".{}",
                        d.trim_start_matches("./").replace('/', ".")
                    ))
            }
            Unit::CliSuite(name) => test == name && pkg.ends_with("integration-cli"),
            Unit::Cli => test.is_empty() && pkg.ends_with("integration-cli"),
            Unit::Job(_) => false,
        });
        if let Some(u) = found {
            times.push((u.key(), secs));
        }
    }
    times
}

#[cfg(test)]
mod tests {
    use super::*;
    use hack_compat::DirChoice;

    fn era_2010() -> IntegrationTests {
        IntegrationTests {
            test_host: None,
            command: vec![
                "hack/make.sh".into(),
                "dynbinary".into(),
                "test-integration".into(),
            ],
            bundle: "test-integration".into(),
            filter: Filter::TestFilter,
            dirs: DirChoice {
                var: Some("TEST_INTEGRATION_DIR".into()),
                skip_cli_var: Some("TEST_SKIP_INTEGRATION_CLI".into()),
                skip_var: Some("TEST_SKIP_INTEGRATION".into()),
            },
            frozen: Default::default(),
        }
    }

    #[test]
    fn directories_and_suites_run_apart() {
        let units = [
            Unit::Dir("./integration/system".into()),
            Unit::CliSuite("TestDockerSuite".into()),
            Unit::Dir("./integration/image".into()),
            Unit::CliSuite("TestDockerSwarmSuite".into()),
        ];
        let p = parts(&era_2010(), &units, Some("TestVersion")).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            p[0].env,
            [
                "TESTFLAGS=",
                "TEST_FILTER=TestVersion",
                "TEST_INTEGRATION_DIR=./integration/system ./integration/image",
                "TEST_SKIP_INTEGRATION_CLI=1",
                "TEST_SKIP_INTEGRATION="
            ]
        );
        assert_eq!(
            p[1].env,
            [
                "TESTFLAGS=-test.run ^(TestDockerSuite|TestDockerSwarmSuite)$/TestVersion",
                "TEST_FILTER=",
                "TEST_INTEGRATION_DIR=",
                "TEST_SKIP_INTEGRATION_CLI=",
                "TEST_SKIP_INTEGRATION=1"
            ]
        );
        assert_eq!(p[1].units.len(), 2);
        let only_suites = parts(&era_2010(), &units[1..2], None).unwrap();
        assert_eq!(only_suites.len(), 1);
        assert!(only_suites[0]
            .env
            .contains(&"TESTFLAGS=-test.run ^(TestDockerSuite)$".to_string()));
    }

    #[test]
    fn a_fork_without_the_skip_variable_refuses_suites_alone() {
        let mut it = era_2010();
        it.dirs.skip_var = None;
        let e = parts(&it, &[Unit::CliSuite("TestDockerSuite".into())], None).unwrap_err();
        assert!(e.to_string().contains("integration-cli"), "{e}");
    }

    #[test]
    fn times_per_unit_from_a_report() {
        let report = r#"{"Action":"pass","Package":"amd64.integration.system","Test":"TestVersion","Elapsed":0.02}
{"Action":"pass","Package":"amd64.integration.system","Elapsed":3.5}
{"Action":"pass","Package":"amd64.integration-cli","Test":"TestDockerSuite/TestVersionEnsureSucceeds","Elapsed":0.1}
{"Action":"pass","Package":"amd64.integration-cli","Test":"TestDockerSuite","Elapsed":1.25}
{"Action":"pass","Package":"amd64.integration-cli","Elapsed":9}
not json"#;
        let units = [
            Unit::Dir("./integration/system".into()),
            Unit::CliSuite("TestDockerSuite".into()),
        ];
        assert_eq!(
            unit_times(report, &units),
            [
                ("./integration/system".to_string(), 3.5),
                ("integration-cli/TestDockerSuite".to_string(), 1.25)
            ]
        );
    }
}
