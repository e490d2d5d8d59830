//! `test integration --engines a,b,local`: the integration suites split over several engines,
//! one merged summary. The fork's pieces (hack-compat: its `integration/` directories and
//! `integration-cli` suites) are dealt out by the last run's times (`plan.rs`) and the split is
//! printed first; then each engine's share runs as a child `cargo xtask test integration
//! --shard-units …` against that engine (its own connection, dev container, synced source, build
//! and cleanup, in its own process group), whose output comes back prefixed with the engine's
//! name and whose `--json` events are gathered (`run.rs`) into one summary (`merge.rs`). A signal
//! reaches every child once (a second one once more, to hurry them); the parent waits for all.

pub mod merge;
pub mod plan;
pub mod run;
pub mod share;

use anyhow::{bail, Result};
use serde_json::json;

use crate::context::Context;
use crate::flags;

/// The split run of `t` over `t.engines`, with the directories `dirs` (checked, `./…`).
pub async fn run(cx: &Context, t: &flags::TestIntegration, dirs: &[String]) -> Result<u8> {
    let fork = crate::fork::open(&cx.opts)?;
    let engines = engine_names(&t.engines)?;
    let pieces = fork.integration_pieces(dirs, t.run.as_deref());
    if pieces.is_empty() {
        bail!(
            "no integration test {}{}: nothing to split",
            t.run
                .as_deref()
                .map(|r| format!("matches --run {r}"))
                .unwrap_or("found".into()),
            if dirs.is_empty() {
                String::new()
            } else {
                format!(" in {}", dirs.join(" "))
            }
        );
    }
    let times = plan::read_times(&fork.root);
    let (basis, shares) = plan::plan(&engines, &pieces, &times);
    cx.ui.status(
        "Splitting",
        format!(
            "{} piece(s) over {} engine(s), {}",
            pieces.len(),
            engines.len(),
            basis.describe()
        ),
    );
    for s in &shares {
        let units: Vec<String> = s.units.iter().map(|u| u.key()).collect();
        let what = if units.is_empty() {
            "nothing to run".to_string()
        } else {
            units.join(" ")
        };
        cx.ui.result(format!("  {}: {what}", s.engine));
        cx.ui
            .event(json!({"step": "plan", "engine": s.engine, "units": units}));
    }
    let outcomes = run::all(cx, &shares, &|s| run::integration_child(cx, &fork, t, s)).await?;
    let new_times: Vec<(String, f64)> = outcomes.iter().flat_map(|o| o.times.clone()).collect();
    if let Err(e) = plan::write_times(&fork, &new_times) {
        cx.ui
            .warn(format!("could not remember the units' times: {e:#}"));
    }
    if let Some(sig) = cx.cancel.signal() {
        return Err(crate::cancel::Interrupted(sig).into());
    }
    Ok(merge::conclude(
        cx,
        &fork,
        &outcomes,
        "test integration",
        &[],
    ))
}

/// The engines `--engines` names, checked: none empty, none twice.
pub fn engine_names(given: &[String]) -> Result<Vec<String>> {
    let mut engines: Vec<String> = Vec::new();
    for e in given {
        let e = e.trim();
        if e.is_empty() {
            bail!("--engines: an empty name; give docker context names, DOCKER_HOST URLs or `local`, joined by commas");
        }
        if engines.iter().any(|x| x == e) {
            bail!("--engines: {e} is named twice");
        }
        engines.push(e.to_string());
    }
    Ok(engines)
}
