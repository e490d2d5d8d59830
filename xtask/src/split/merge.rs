//! One summary for a split run: each failed test named with its engine and its own lines, each
//! engine that could not run its share named with why, the time and counts per engine, then
//! `N passed, M failed, K skipped` over all, alone on its line as for one engine. Exit 1 when a
//! test failed or a share did not run.

use hack_compat::{Fork, Unit};
use serde_json::{json, Value};

use super::run::Outcome;
use crate::context::Context;

/// Whether the share ran to a summary of its tests.
fn ran(o: &Outcome) -> bool {
    o.units.is_empty() || (o.counts.is_some() && (o.code == Some(0) || o.counts != Some((0, 0, 0))))
}

/// The summary of `outcomes` as the task `step` (`test integration`, `ci run`), with the
/// pieces `not_here` named that could not run at all (`(name, why)`).
pub fn conclude(
    cx: &Context,
    fork: &Fork,
    outcomes: &[Outcome],
    step: &str,
    not_here: &[(String, String)],
) -> u8 {
    let ui = cx.ui;
    for o in outcomes {
        for f in &o.failures {
            let s = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("");
            let what = match (s("package"), s("test")) {
                (p, "") => format!("{p} (the package did not build or its test binary broke)"),
                ("", t) => t.to_string(),
                (p, t) => format!("{p} {t}"),
            };
            ui.result(format!("FAIL [{}] {what}", o.engine));
            for line in f
                .get("output")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                ui.result(format!("    {}", line.as_str().unwrap_or("")));
            }
        }
    }
    // A share whose command failed after its tests were counted, with no failure of its own
    // to show: named, or its counts would read as a pass.
    for o in outcomes.iter().filter(|o| ran(o) && o.failures.is_empty()) {
        if let (false, Some(c @ 1..)) = (o.units.is_empty(), o.code) {
            ui.error(format!(
                "{}: its share failed (exit {c}) after its tests ran: see its lines above",
                o.engine
            ));
        }
    }
    let mut not_run = Vec::new();
    for o in outcomes.iter().filter(|o| !ran(o)) {
        let units: Vec<String> = o.units.iter().map(Unit::key).collect();
        let why = match (&o.error, o.code) {
            (Some(e), _) => e.clone(),
            (None, Some(c)) => format!("it exited {c} before its tests ran"),
            (None, None) => "it was stopped by a signal".to_string(),
        };
        ui.error(format!(
            "{}: its share was not run ({}): {why}",
            o.engine,
            units.join(" ")
        ));
        not_run.push(o.engine.clone());
    }
    let (mut p, mut f, mut s) = (0, 0, 0);
    let mut per_engine = Vec::new();
    for o in outcomes {
        let line = match (o.units.is_empty(), ran(o), o.counts) {
            (true, _, _) => "nothing to run".to_string(),
            (false, true, Some((op, of, os))) => {
                (p, f, s) = (p + op, f + of, s + os);
                format!("{op} passed, {of} failed, {os} skipped in {:.1} s", o.secs)
            }
            _ => format!("not run (after {:.1} s)", o.secs),
        };
        let back = o
            .bundles
            .as_deref()
            .map(|b| {
                format!(
                    "; bundles in {}",
                    b.strip_prefix(&format!("{}/", fork.root)).unwrap_or(b)
                )
            })
            .unwrap_or_default();
        ui.result(format!("  {}: {line}{back}", o.engine));
        per_engine.push(json!({"engine": o.engine, "passed": o.counts.map(|c| c.0), "failed": o.counts.map(|c| c.1),
            "skipped": o.counts.map(|c| c.2), "seconds": o.secs, "ran": ran(o)}));
    }
    for (name, why) in not_here {
        ui.result(format!("  {name}: not run: {why}"));
        per_engine.push(json!({"engine": name, "ran": false, "why": why}));
        not_run.push(name.clone());
    }
    // A share that failed in any way (a test, a package that did not build) fails the whole.
    let failed = f > 0
        || !not_run.is_empty()
        || outcomes
            .iter()
            .any(|o| !o.units.is_empty() && o.code != Some(0));
    ui.event(
        json!({"step": step, "status": if failed { "failed" } else { "ok" },
        "passed": p, "failed": f, "skipped": s, "engines": per_engine, "not_run": not_run}),
    );
    ui.result(format!("{p} passed, {f} failed, {s} skipped"));
    u8::from(failed)
}
