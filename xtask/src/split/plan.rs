//! Which engine runs what: the units dealt out longest first, each to the engine with the least
//! work so far. A unit weighs what it took on the last run (remembered per fork in
//! `bundles/.moby-xtask-durations`); one never timed weighs its tests times the seconds per test
//! of those that were, or, with no time known at all, its number of tests.

use std::collections::HashMap;

use camino::Utf8Path;
use hack_compat::{Piece, Unit};

/// What the weights are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Every unit's time on the last run.
    LastRun,
    /// Some from the last run, `n` estimated from their size.
    Mixed(usize),
    /// The number of tests in each unit.
    Size,
}

impl Basis {
    pub fn describe(self) -> String {
        match self {
            Basis::LastRun => "by the last run's times".into(),
            Basis::Mixed(n) => format!("by the last run's times ({n} never timed, by size)"),
            Basis::Size => "by size (no earlier run of these)".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    pub engine: String,
    pub units: Vec<Unit>,
    /// Seconds (or tests, by size).
    pub weight: f64,
}

/// The shares of `engines` (in their order), and the basis of the weights.
pub fn plan(
    engines: &[String],
    pieces: &[Piece],
    times: &HashMap<String, f64>,
) -> (Basis, Vec<Share>) {
    let known: Vec<(&Piece, f64)> = pieces
        .iter()
        .filter_map(|p| times.get(&p.unit.key()).map(|t| (p, *t)))
        .collect();
    let per_test = {
        let (secs, tests) = known
            .iter()
            .fold((0.0, 0usize), |(s, n), (p, t)| (s + t, n + p.tests.max(1)));
        (tests > 0).then(|| secs / tests as f64)
    };
    let basis = match (known.len(), per_test) {
        (0, _) | (_, None) => Basis::Size,
        (n, _) if n == pieces.len() => Basis::LastRun,
        (n, _) => Basis::Mixed(pieces.len() - n),
    };
    let weight = |p: &Piece| -> f64 {
        let size = p.tests.max(1) as f64;
        match (basis, times.get(&p.unit.key())) {
            (Basis::Size, _) => size,
            (_, Some(t)) => *t,
            (_, None) => size * per_test.unwrap_or(1.0),
        }
    };
    let mut order: Vec<(&Piece, f64)> = pieces.iter().map(|p| (p, weight(p))).collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.unit.cmp(&b.0.unit)));
    let mut shares: Vec<Share> = engines
        .iter()
        .map(|e| Share {
            engine: e.clone(),
            units: Vec::new(),
            weight: 0.0,
        })
        .collect();
    for (p, w) in order {
        // The least loaded engine; the first named wins a tie.
        let Some(s) = shares
            .iter_mut()
            .min_by(|a, b| a.weight.total_cmp(&b.weight))
        else {
            break;
        };
        s.units.push(p.unit.clone());
        s.weight += w;
    }
    (basis, shares)
}

const MEMO: &str = "bundles/.moby-xtask-durations";

/// The units' times of the last split run of this fork (`seconds<TAB>unit` lines).
pub fn read_times(root: &Utf8Path) -> HashMap<String, f64> {
    let text = std::fs::read_to_string(root.join(MEMO)).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (t, unit) = l.split_once('\t')?;
            Some((unit.to_string(), t.parse().ok()?))
        })
        .collect()
}

/// Remember `new` times over the old ones, the file the fork owner's.
pub fn write_times(fork: &hack_compat::Fork, new: &[(String, f64)]) -> anyhow::Result<()> {
    if new.is_empty() {
        return Ok(());
    }
    let mut times = read_times(&fork.root);
    times.extend(new.iter().cloned());
    let mut lines: Vec<String> = times.iter().map(|(u, t)| format!("{t:.3}\t{u}")).collect();
    lines.sort_by(|a, b| a.split('\t').nth(1).cmp(&b.split('\t').nth(1)));
    let path = fork.root.join(MEMO);
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir)?;
    }
    fs_err::write(&path, lines.join("\n") + "\n")?;
    crate::fork::own(fork, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(key: &str, tests: usize) -> Piece {
        Piece {
            unit: Unit::parse(key).unwrap(),
            tests,
        }
    }

    fn names(s: &Share) -> Vec<String> {
        s.units.iter().map(Unit::key).collect()
    }

    #[test]
    fn longest_first_to_the_least_loaded() {
        let engines = ["a".to_string(), "b".to_string(), "c".to_string()];
        let pieces = [
            piece("integration/system", 10),
            piece("integration-cli/TestDockerSuite", 40),
            piece("integration/image", 12),
            piece("integration/build", 5),
        ];
        let (basis, shares) = plan(&engines, &pieces, &HashMap::new());
        assert_eq!(basis, Basis::Size);
        assert_eq!(names(&shares[0]), ["integration-cli/TestDockerSuite"]);
        assert_eq!(names(&shares[1]), ["./integration/image"]);
        assert_eq!(
            names(&shares[2]),
            ["./integration/system", "./integration/build"]
        );

        // The last run's times decide where they are all known.
        let times: HashMap<String, f64> = [
            ("./integration/system", 300.0),
            ("integration-cli/TestDockerSuite", 20.0),
            ("./integration/image", 30.0),
            ("./integration/build", 25.0),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
        let (basis, shares) = plan(&engines, &pieces, &times);
        assert_eq!(basis, Basis::LastRun);
        assert_eq!(names(&shares[0]), ["./integration/system"]);
        assert_eq!(names(&shares[1]), ["./integration/image"]);
        assert_eq!(
            names(&shares[2]),
            ["./integration/build", "integration-cli/TestDockerSuite"]
        );
    }

    #[test]
    fn a_unit_never_timed_is_estimated_from_its_size() {
        let engines = ["a".to_string(), "b".to_string()];
        let pieces = [
            piece("integration/system", 10),
            piece("integration/image", 10),
        ];
        let times: HashMap<String, f64> = [("./integration/system".to_string(), 50.0)].into();
        let (basis, shares) = plan(&engines, &pieces, &times);
        assert_eq!(basis, Basis::Mixed(1));
        assert_eq!(shares[0].weight, 50.0);
        assert_eq!(shares[1].weight, 50.0);
    }

    #[test]
    fn more_engines_than_units_leaves_some_idle() {
        let engines: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let (_, shares) = plan(&engines, &[piece("integration/system", 1)], &HashMap::new());
        assert_eq!(shares.iter().filter(|s| s.units.is_empty()).count(), 2);
    }
}
