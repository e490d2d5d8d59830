//! The pieces the integration suites split into, as the fork's own selectors take them: each
//! `integration/` package directory (chosen with `TEST_INTEGRATION_DIR`), and each
//! `integration-cli` suite where the suites are Go tests (`func TestDockerSuite(t *testing.T)`
//! running `suite.Run`, chosen with `-test.run '^(TestDockerSuite)$/…'`); where `integration-cli`
//! is one gocheck binary (up to 17.06) it is one piece. Each piece is sized by its tests (those a
//! plain `--run` names, when it is a name or names joined by `|`), for a split with no earlier
//! run to go by.

use camino::{Utf8Path, Utf8PathBuf};

use crate::go_tests::{self, Platform};
use crate::Fork;

/// A part of the integration suites that one run can be given alone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unit {
    /// An `integration/` package directory, as `TEST_INTEGRATION_DIR` takes it (`./integration/system`).
    Dir(String),
    /// One `integration-cli` suite that is a Go test (`TestDockerSuite`).
    CliSuite(String),
    /// The whole `integration-cli` suite.
    Cli,
    /// A job of the fork's CI (`ci run --engines`), as `<id>@<storage>` or `<id>`.
    Job(String),
}

impl Unit {
    /// How the unit is named in plans, memos and the shard's arguments.
    pub fn key(&self) -> String {
        match self {
            Unit::Dir(d) => d.clone(),
            Unit::CliSuite(s) => format!("integration-cli/{s}"),
            Unit::Cli => "integration-cli".to_string(),
            Unit::Job(j) => format!("ci:{j}"),
        }
    }

    /// The unit a [`Unit::key`] names.
    pub fn parse(key: &str) -> Option<Unit> {
        if let Some(j) = key.strip_prefix("ci:") {
            return (!j.is_empty() && !j.contains(',')).then(|| Unit::Job(j.to_string()));
        }
        match key.strip_prefix("integration-cli") {
            Some("") => Some(Unit::Cli),
            Some(rest) => {
                let s = rest.strip_prefix('/')?;
                (!s.is_empty() && s.chars().all(is_ident)).then(|| Unit::CliSuite(s.to_string()))
            }
            None => {
                let d = key.trim_start_matches("./").trim_end_matches('/');
                (!d.is_empty() && !d.split('/').any(|c| c.is_empty() || c == ".."))
                    .then(|| Unit::Dir(format!("./{d}")))
            }
        }
    }
}

/// A unit and how many of its tests a run would start (its size when no time is known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub unit: Unit,
    pub tests: usize,
}

impl Fork {
    /// The pieces of `dirs` (all of `integration/` and `integration-cli` when empty), sized by
    /// the tests `run` selects. Where `run` is a plain name (or names joined by `|`), pieces with
    /// no test of that name are left out, as the fork's own `TEST_FILTER` grep leaves them out.
    pub fn integration_pieces(&self, dirs: &[String], run: Option<&str>) -> Vec<Piece> {
        let names: Option<Vec<&str>> = run.and_then(|re| {
            let alts: Vec<&str> = re.split('|').collect();
            alts.iter()
                .all(|a| !a.is_empty() && a.chars().all(is_ident))
                .then_some(alts)
        });
        let wanted = |name: &str| {
            names
                .as_ref()
                .is_none_or(|n| n.iter().any(|a| name.contains(a)))
        };
        let cli_asked = dirs.is_empty()
            || dirs
                .iter()
                .any(|d| d.trim_start_matches("./").trim_end_matches('/') == "integration-cli");
        let mut pieces = Vec::new();
        let listed: Vec<Utf8PathBuf> = if dirs.is_empty() {
            let mut found = Vec::new();
            if self
                .integration
                .as_ref()
                .is_some_and(|it| it.dirs.var.is_some())
            {
                test_dirs(&self.root.join("integration"), &mut found);
            }
            found.sort();
            found
        } else {
            dirs.iter()
                .map(|d| d.trim_start_matches("./").trim_end_matches('/'))
                .filter(|d| *d != "integration-cli")
                .map(|d| self.root.join(d))
                .collect()
        };
        for dir in listed {
            let tests = go_tests(&dir).iter().filter(|t| wanted(t)).count();
            let rel = dir.strip_prefix(&self.root).unwrap_or(&dir);
            if tests > 0 || names.is_none() {
                pieces.push(Piece {
                    unit: Unit::Dir(format!("./{rel}")),
                    tests,
                });
            }
        }
        let cli = self.root.join("integration-cli");
        if cli_asked && cli.is_dir() {
            pieces.extend(cli_pieces(&cli, &wanted, names.is_some()));
        }
        pieces
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Directories under `dir` (itself included) with Go test files, leaving out `testdata`.
fn test_dirs(dir: &Utf8Path, found: &mut Vec<Utf8PathBuf>) {
    let Ok(entries) = dir.read_dir_utf8() else {
        return;
    };
    let mut has_tests = false;
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            if e.file_name() != "testdata" && e.file_name() != "vendor" {
                test_dirs(path, found);
            }
        } else if e.file_name().ends_with("_test.go") {
            has_tests = true;
        }
    }
    if has_tests && !go_tests(dir).is_empty() {
        found.push(dir.to_owned());
    }
}

/// Top-level Go tests: `func TestX(t *testing.T)`.
fn go_tests(dir: &Utf8Path) -> Vec<String> {
    go_tests::tests_in(dir, Platform::linux_here())
        .into_iter()
        .filter(|t| t.suite.is_none() && t.name.starts_with("Test"))
        .map(|t| t.name)
        .collect()
}

/// `integration-cli`: one piece per suite that is a Go test running `suite.Run`, sized by the
/// `Test…` methods of its type (the test's name without `Test`); else the whole suite as one.
fn cli_pieces(cli: &Utf8Path, wanted: &dyn Fn(&str) -> bool, named: bool) -> Vec<Piece> {
    let tests = go_tests::tests_in(cli, Platform::linux_here());
    let methods: Vec<(String, String)> = tests
        .iter()
        .filter_map(|t| Some((t.suite.clone()?, t.name.clone())))
        .filter(|(_, m)| m.starts_with("Test"))
        .collect();
    let go_suites = go_tests::test_files(cli, Platform::linux_here())
        .iter()
        .any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("suite.Run(")));
    if !go_suites {
        let tests = methods.iter().filter(|(_, m)| wanted(m)).count();
        return if tests > 0 || !named {
            vec![Piece {
                unit: Unit::Cli,
                tests,
            }]
        } else {
            Vec::new()
        };
    }
    let mut suites: Vec<String> = tests
        .iter()
        .filter(|t| t.suite.is_none() && t.name.starts_with("Test") && t.name.ends_with("Suite"))
        .map(|t| t.name.clone())
        .collect();
    suites.sort();
    suites.dedup();
    suites
        .into_iter()
        .filter_map(|suite| {
            let ty = &suite["Test".len()..];
            let tests = methods.iter().filter(|(t, m)| t == ty && wanted(m)).count();
            (tests > 0 || !named).then_some(Piece {
                unit: Unit::CliSuite(suite),
                tests,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_keys_round_trip() {
        for u in [
            Unit::Dir("./integration/system".into()),
            Unit::CliSuite("TestDockerSuite".into()),
            Unit::Cli,
            Unit::Job("integration/userns@graphdriver".into()),
        ] {
            assert_eq!(Unit::parse(&u.key()), Some(u));
        }
        assert_eq!(
            Unit::parse("integration/system/"),
            Some(Unit::Dir("./integration/system".into()))
        );
        assert_eq!(Unit::parse("integration-cli/Test Docker"), None);
        assert_eq!(Unit::parse("../elsewhere"), None);
        assert_eq!(Unit::parse(""), None);
    }
}
