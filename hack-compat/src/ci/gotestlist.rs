//! The split of `integration-cli` that moby's CI computes with gotestlist
//! (`gotestlist -d N -o X … ./...` in `integration-cli/`), computed the same way, so that entry
//! 3 here is entry 3 there: every test of the packages counts toward the size, `ceil(tests /
//! N)`; each suite (the `*…Suite` receiver of its methods) or lone test (not a `Test…Suite`
//! runner) not named by an override is a key; the keys, sorted, are packed in order into at
//! most N entries, a new one started when the current one holds something and the key would
//! take it past the size (the last entry takes the rest); the overrides follow as given.

use camino::{Utf8Path, Utf8PathBuf};
use std::collections::BTreeMap;

use crate::go_tests::{self, GoTest, Platform};

/// gotestlist's tests of a package pattern (`./...`: `dir` and every directory below it,
/// as gotestlist walks: all but names starting with `.git` and those the root's `.gitignore`
/// names; symbolic links not followed).
pub fn tests(dir: &Utf8Path, recursive: bool, p: Platform) -> Vec<GoTest> {
    let mut dirs = vec![dir.to_path_buf()];
    if recursive {
        let ignored: Vec<String> = std::fs::read_to_string(dir.join(".gitignore"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.trim().trim_matches('/').to_string())
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        below(dir, &ignored, &mut dirs);
    }
    dirs.sort();
    dirs.iter()
        .flat_map(|d| go_tests::tests_in(d, p))
        .filter(|t| match &t.suite {
            None => true,
            Some(s) => t.by_pointer && s.ends_with("Suite"),
        })
        .collect()
}

fn below(dir: &Utf8Path, ignored: &[String], found: &mut Vec<Utf8PathBuf>) {
    let Ok(entries) = dir.read_dir_utf8() else {
        return;
    };
    for e in entries.flatten() {
        let n = e.file_name();
        let skip = n.starts_with(".git") || ignored.iter().any(|g| glob(g, n));
        // `file_type` does not follow a symbolic link: one to a directory is not walked.
        if !skip && e.file_type().is_ok_and(|t| t.is_dir()) {
            found.push(e.path().to_path_buf());
            below(e.path(), ignored, found);
        }
    }
}

/// A `.gitignore` line's glob (`*` and `?`) against a base name.
fn glob(pat: &str, name: &str) -> bool {
    match (pat.chars().next(), name.chars().next()) {
        (None, _) => name.is_empty(),
        (Some('*'), _) => {
            let rest = &pat[1..];
            glob(rest, name)
                || (!name.is_empty()
                    && glob(pat, &name[name.chars().next().map_or(1, char::len_utf8)..]))
        }
        (Some(p), Some(c)) if p == '?' || p == c => {
            glob(&pat[p.len_utf8()..], &name[c.len_utf8()..])
        }
        _ => false,
    }
}

/// The entries: the packed keys joined by `|`, then the overrides.
pub fn distribute(tests: &[GoTest], n: usize, overrides: &[String]) -> Vec<String> {
    let n = n.max(1);
    // An override's `|`-separated names, compared as strings (`./...` names no key).
    let taken: Vec<&str> = overrides.iter().flat_map(|o| o.split('|')).collect();
    let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
    for t in tests {
        let key = match &t.suite {
            Some(s) => s.as_str(),
            None if t.name.ends_with("Suite") => continue,
            None => t.name.as_str(),
        };
        if !taken.contains(&key) {
            *sizes.entry(key).or_default() += 1;
        }
    }
    let size = tests.len().div_ceil(n);
    let mut entries: Vec<(Vec<&str>, usize)> = Vec::new();
    for (key, count) in sizes {
        let start_new = match entries.last() {
            None => true,
            Some((_, held)) => entries.len() < n && *held > 0 && held + count > size,
        };
        if start_new {
            entries.push((Vec::new(), 0));
        }
        if let Some((keys, held)) = entries.last_mut() {
            keys.push(key);
            *held += count;
        }
    }
    entries
        .into_iter()
        .map(|(keys, _)| keys.join("|"))
        .chain(overrides.iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite(s: &str, n: usize) -> Vec<GoTest> {
        (0..n)
            .map(|i| GoTest {
                suite: Some(s.to_string()),
                by_pointer: true,
                name: format!("Test{i}"),
            })
            .collect()
    }

    /// Worked by hand: 20 tests, N = 3, size ceil(20 / 3) = 7. `DockerSwarmSuite` (5) is an
    /// override: it counts toward the size but is no key. Sorted keys: A (3), B (3), C (4),
    /// D (2), TestLone (1); the runner `TestDockerSuite` is no key. A starts entry 1 (3);
    /// B fits (6 ≤ 7); C would make 10: entry 2 (4); D fits (6); TestLone fits (7).
    #[test]
    fn a_split_worked_by_hand() {
        let mut tests = Vec::new();
        for (s, n) in [
            ("DockerCSuite", 4),
            ("DockerASuite", 3),
            ("DockerSwarmSuite", 5),
            ("DockerBSuite", 3),
            ("DockerDSuite", 2),
        ] {
            tests.extend(suite(s, n));
        }
        for name in ["TestLone", "TestDockerSuite"] {
            tests.push(GoTest {
                suite: None,
                by_pointer: false,
                name: name.into(),
            });
        }
        let got = distribute(&tests, 3, &["./...".into(), "DockerSwarmSuite".into()]);
        assert_eq!(
            got,
            [
                "DockerASuite|DockerBSuite",
                "DockerCSuite|DockerDSuite|TestLone",
                "./...",
                "DockerSwarmSuite"
            ]
        );
    }

    /// With N entries made, the last takes every key left, past the size.
    #[test]
    fn the_last_entry_takes_the_rest() {
        let mut tests = Vec::new();
        for s in ["A", "B", "C", "D"] {
            tests.extend(suite(&format!("{s}Suite"), 3));
        }
        assert_eq!(
            distribute(&tests, 2, &[]),
            ["ASuite|BSuite", "CSuite|DSuite"]
        );
        assert_eq!(distribute(&tests, 1, &[]), ["ASuite|BSuite|CSuite|DSuite"]);
        assert!(glob("*.out", "a.out") && glob("bin", "bin") && !glob("bin", "bins"));
        // A key bigger than the size still fills an entry of its own.
        let mut big = suite("BigSuite", 9);
        big.extend(suite("SmallSuite", 1));
        assert_eq!(distribute(&big, 2, &[]), ["BigSuite", "SmallSuite"]);
    }
}
