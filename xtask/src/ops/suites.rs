//! The integration suites' runs in the dev container, for `test integration`: the frozen
//! images checked, a daemon left up stopped, the fork's build (with `--keep-daemon`, the build
//! bundles alone, then the kept daemon), each part's run (a split share's units, a rerun's
//! failed tests), their reports read into one summary; and the parts that select failed tests
//! again.

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};
use hack_compat::{Filter, IntegrationTests, TestHost, Unit};
use serde_json::json;

use super::attempts::{self, Attempt, Failed};
use super::test_report::{summarize, summarize_log, Failure};
use super::{daemon, frozen, inputs, kept_daemon, test_daemon};
use crate::cancel::DAEMON_STOP;
use crate::dev::{Output, Work};
use crate::source::Source;
use crate::split::share;

/// The runs that select `failed` again: their `integration/` directories with their names
/// (as `--run` would give them), and their integration-cli suites with the tests in them.
pub fn rerun_parts(
    root: &Utf8Path,
    it: &IntegrationTests,
    failed: &[Failed],
) -> Result<Vec<share::Part>> {
    let (cli, dirs): (Vec<&Failed>, Vec<&Failed>) = failed
        .iter()
        .partition(|f| f.package.ends_with("integration-cli"));
    let mut parts = Vec::new();
    if !dirs.is_empty() {
        let mut units: Vec<Unit> = dirs
            .iter()
            .filter_map(|f| {
                // `amd64.integration.system` is ./integration/system.
                let rel = f
                    .package
                    .split_once('.')
                    .map(|(_, r)| r.replace('.', "/"))?;
                root.join(&rel)
                    .is_dir()
                    .then(|| Unit::Dir(format!("./{rel}")))
            })
            .collect();
        units.sort();
        units.dedup();
        let names: Vec<&str> = dirs.iter().map(|f| f.test.as_str()).collect();
        let re = match it.filter {
            // `hack/make/` greps for the names: no anchors.
            Filter::TestFilter => names.join("|"),
            Filter::TestFlags(_) => attempts::test_run(&names),
        };
        match units.is_empty() {
            true => plain_parts(it, &re, &mut parts),
            false => parts.extend(share::parts(it, &units, Some(&re))?),
        }
    }
    if !cli.is_empty() {
        let suites: Vec<Unit> = cli
            .iter()
            .filter_map(|f| {
                f.test
                    .split_once('/')
                    .map(|(s, _)| Unit::CliSuite(s.to_string()))
            })
            .collect();
        let subs: Vec<&str> = cli
            .iter()
            .filter_map(|f| f.test.split_once('/').map(|(_, t)| t))
            .collect();
        let re = format!("^({})$", subs.join("|"));
        match suites.is_empty() {
            true => plain_parts(
                it,
                &attempts::test_run(&cli.iter().map(|f| f.test.as_str()).collect::<Vec<_>>()),
                &mut parts,
            ),
            false => parts.extend(share::parts(it, &suites, Some(&re))?),
        }
    }
    Ok(parts)
}

/// A rerun of the whole selection narrowed to `re` (a fork that takes no directories).
fn plain_parts(it: &IntegrationTests, re: &str, parts: &mut Vec<share::Part>) {
    let env = match it.filter {
        Filter::TestFilter => format!("TEST_FILTER={re}"),
        Filter::TestFlags(flag) => format!("TESTFLAGS={flag} {re}"),
    };
    parts.push(share::Part {
        env: vec![env],
        units: Vec::new(),
    });
}

/// The frozen images checked, a daemon left up stopped, then each part's run, read into one
/// summary; `build`: the first part builds (a rerun tests the build it has). A share of a split
/// run also says each unit's time and where its bundles came back to.
pub async fn run(
    w: &Work<'_>,
    it: &IntegrationTests,
    parts: &[share::Part],
    build: bool,
    keep: Option<&TestHost>,
) -> Result<Attempt> {
    let (cx, dev) = (w.cx, w.dev);
    if build {
        frozen::check(w, it).await?;
    }
    let started = std::time::Instant::now();
    // A kept daemon: the build bundles alone first, then that build's daemon kept (or reused),
    // and every part tests against it.
    let kept = match keep {
        None => {
            kept_daemon::stop_before_another(w).await?;
            None
        }
        Some(th) => {
            let b = &it.command[..it.command.len() - 1];
            let id = inputs::render(w, &b[1..], &[]).map(|t| inputs::digest(&t));
            let now = kept_daemon::state(w, th).await?;
            let same = now
                .as_ref()
                .is_some_and(|k| Some(k.build.as_str()) == id.as_deref());
            if build && same {
                cx.ui.status(
                    "Fresh",
                    format!("`{}`: the kept daemon's build, unchanged", b.join(" ")),
                );
            }
            if build && !same {
                cx.ui.status("Building", format!("`{}`", b.join(" ")));
                let code = w.run_with(b, Output::Stream, &[]).await?.code;
                if code != 0 {
                    cx.ui
                        .error(format!("`{}` failed (exit {code})", b.join(" ")));
                    let secs = started.elapsed().as_secs_f64();
                    return Ok(Attempt {
                        code,
                        summary: None,
                        secs,
                    });
                }
            }
            Some(kept_daemon::ensure(w, th, now, id.as_deref()).await?)
        }
    };
    // The suites use a daemon that already answers in the container (one `run` or
    // `smoke --keep-running` left up, of an older build) instead of starting the new one.
    daemon::stop(&w.exec(), cx.cancel.limit(DAEMON_STOP)).await?;

    let version = dev.version();
    let rel = dev
        .fork
        .bundle_outputs(&it.bundle, &version)
        .into_iter()
        .next()
        .map(|o| o.dir)
        .unwrap_or_else(|| Utf8PathBuf::from("bundles").join(&it.bundle));
    // A share on an engine elsewhere reads its own copy of bundles/ (bundles/.engines/<name>/).
    let base = match (&dev.shard, &w.ctr.source) {
        (Some(_), Source::Synced(_)) => dev.pulled_into(),
        _ => dev.fork.root.clone(),
    };
    let out = base.join(&rel);
    // What an earlier (interrupted) run's test daemons left: gone before this one starts.
    test_daemon::clean(w, &rel).await?;
    let t = std::time::Instant::now();
    let (mut json, mut logs, mut code, mut times) = (Vec::new(), Vec::new(), 0, Vec::new());
    let mut broken = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        // A second part tests against the daemon the first built: the build once per engine.
        let (command, mut env) = match (i > 0 || !build || kept.is_some(), it.command.first()) {
            (true, Some(make)) if make.ends_with("make.sh") && it.command.len() > 2 => {
                let mut env = part.env.clone();
                env.push("KEEPBUNDLE=1".into());
                (vec![make.clone(), it.bundle.clone()], env)
            }
            _ => (it.command.clone(), part.env.clone()),
        };
        env.extend(kept.clone());
        let cmd = command.join(" ");
        // An earlier run's (or part's) reports are never counted: gone where the run writes
        // them (the engine's copy) and here (what comes back).
        w.exec()
            .script("rm_reports", &[rel.as_str()], Output::Capture)
            .await?;
        for old in reports(&out) {
            let _ = std::fs::remove_file(old);
        }
        let _ = std::fs::remove_file(out.join(hack_compat::TEST_LOG));
        let shown = match part.units.is_empty() {
            true => format!("`{cmd}` in {}", dev.fork.root),
            false => format!(
                "`{cmd}` for {}",
                part.units
                    .iter()
                    .map(Unit::key)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        };
        cx.ui.status("Testing", &shown);
        let ran = w.run_with(&command, Output::Stream, &env).await?.code;
        crate::fail::point("after-tests").await?;
        if code == 0 {
            code = ran;
        }
        // On an engine elsewhere the reports are here only once bundles/ came back.
        w.hand_back().await?;
        let text = reports(&out)
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect::<Vec<_>>()
            .join("\n");
        times.extend(share::unit_times(&text, &part.units));
        let log = std::fs::read_to_string(out.join(hack_compat::TEST_LOG)).ok();
        if ran != 0 && (!text.is_empty() || log.is_some()) && parts.len() > 1 {
            cx.ui.error(format!(
                "{shown} exited {ran} after its tests ran: its output above says what broke"
            ));
        }
        if ran != 0 && text.is_empty() && log.is_none() && parts.len() > 1 {
            // This part broke before testing while another may have counted: say it, or the
            // other's counts would read as the whole.
            broken.push(Failure {
                package: part
                    .units
                    .iter()
                    .map(Unit::key)
                    .collect::<Vec<_>>()
                    .join(" "),
                test: String::new(),
                output: vec![format!(
                    "`{cmd}` exited {ran} before these were tested: see its output above"
                )],
            });
        }
        if !text.is_empty() {
            json.push(text);
        } else if let Some(log) = log {
            logs.push(log);
        }
    }
    test_daemon::clean(w, &rel).await?;
    let mut summary = if !json.is_empty() {
        Some(summarize(&json.join("\n")))
    } else if !logs.is_empty() {
        Some(summarize_log(&logs.join("\n")))
    } else {
        None
    };
    // Failed with no test counted (the era's test.log may hold only the build's lines).
    let none_ran = summary
        .as_ref()
        .is_none_or(|s| s.passed + s.failed + s.skipped == 0 && s.broken.is_empty());
    if code != 0 && json.is_empty() && none_ran {
        test_daemon::explain(w, &out, &selected(w, it));
    }
    if !broken.is_empty() {
        summary
            .get_or_insert_with(Default::default)
            .broken
            .extend(broken);
    }
    if dev.shard.is_some() {
        let times: serde_json::Map<String, serde_json::Value> =
            times.into_iter().map(|(k, v)| (k, v.into())).collect();
        let bundles = (base != dev.fork.root).then(|| base.join("bundles").to_string());
        cx.ui
            .event(json!({"step": "share", "times": times, "bundles": bundles}));
    }
    Ok(Attempt {
        code,
        summary,
        secs: t.elapsed().as_secs_f64(),
    })
}

/// The suites a run selects, as its variables say: `./integration-cli` alone when the
/// `integration/` suites are skipped, the directories asked for, else all.
fn selected(w: &Work<'_>, it: &IntegrationTests) -> String {
    let spec = &w.dev.spec;
    let set = |v: &Option<String>| v.as_deref().is_some_and(|v| spec.has_env(v));
    if set(&it.dirs.skip_var) {
        return "./integration-cli".into();
    }
    match it.dirs.var.as_deref().and_then(|v| spec.env_value(v)) {
        Some(dirs) => dirs.to_string(),
        None if set(&it.dirs.skip_cli_var) => "the integration/ suites".into(),
        None => "the integration suites".into(),
    }
}

/// gotestsum's per-suite reports in the bundle's directory (`*-go-test-report.json`).
fn reports(dir: &Utf8PathBuf) -> Vec<Utf8PathBuf> {
    let Ok(entries) = dir.read_dir_utf8() else {
        return Vec::new();
    };
    let mut found: Vec<Utf8PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.into_path())
        .filter(|p| p.as_str().ends_with("go-test-report.json"))
        .collect();
    found.sort();
    found
}
