//! `cargo xtask test integration [--run REGEX] [DIR…]`: the integration suites as the fork's
//! `make test-integration` runs them (`hack/make.sh dynbinary test-integration`, or
//! `… build-integration-test-binary dynbinary test-integration-cli` up to 17.06), against the
//! daemon that command builds; `--run` becomes `TEST_FILTER` (or `TESTFLAGS`), the directories
//! `TEST_INTEGRATION_DIR`. Before the run, the frozen images the suites load instead of pulling
//! are looked for in the dev image; when some are missing and no registry answers, the tool says
//! which and where the fork looks, instead of a pull error deep in the suite. Then the same
//! summary as `test unit`, read from gotestsum's reports (or the era's `test.log`).

use anyhow::{bail, Result};
use camino::{Utf8Path, Utf8PathBuf};
use hack_compat::{Filter, IntegrationTests, Unit};
use serde_json::json;

use crate::cancel::DAEMON_STOP;
use crate::context::Context;
use crate::dev::{Dev, Output, Work};
use crate::flags;
use crate::ops::attempts::{self, Attempt, Failed, Policy};
use crate::ops::test_daemon;
use crate::ops::test_report::{summarize, summarize_log, Failure};
use crate::ops::{daemon, frozen};
use crate::source::Source;
use crate::split::{self, share};

impl flags::TestIntegration {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        let mut dev = Dev::open(cx, true)?;
        let Some(it) = dev.fork.integration.clone() else {
            bail!("this fork's Makefile has no test-integration target to follow");
        };
        let dirs = fork_dirs(&dev, &it, &self.dirs)?;
        if let (Some(re), Filter::TestFilter) = (&self.run, &it.filter) {
            // hack/make/ greps `func .*${TEST_FILTER}.*(` for the suites to build: an anchor
            // there matches no function, and nothing would run.
            if re.contains(['^', '$']) {
                bail!(
                    "--run {re}: this fork finds the suites by grepping `func .*REGEX.*(`, where \
                     ^ and $ match nothing; leave the anchors out (e.g. --run {})",
                    re.replace(['^', '$'], "")
                );
            }
        }
        let policy = Policy::new(self.rerun_fails, self.allow_flaky, self.count);
        if !self.engines.is_empty() {
            if self.rerun_fails.is_some() || self.count.is_some() {
                bail!("--rerun-fails and --count run on one engine: leave out --engines");
            }
            return split::run(cx, &self, &dirs).await;
        }
        let parts = if self.shard_units.is_empty() {
            plain(&mut dev, &it, &dirs, self.run.as_deref(), policy.count);
            vec![share::Part {
                env: Vec::new(),
                units: Vec::new(),
            }]
        } else {
            let mut units = Vec::new();
            for key in &self.shard_units {
                let Some(u) = Unit::parse(key) else {
                    bail!("--shard-units: {key} is not a unit of the integration suites");
                };
                units.push(u);
            }
            dev.shard = Some(self.shard_name.clone().unwrap_or_else(|| "shard".into()));
            share::parts(&it, &units, self.run.as_deref())?
        };
        let cmd = it.command.join(" ");
        let root = dev.fork.root.clone();
        dev.work(cx, false, async |w| {
            attempts::run(
                cx,
                "test integration",
                &cmd,
                policy,
                async |again| match again {
                    None => suites(w, &it, &parts, true).await,
                    Some(failed) => suites(w, &it, &rerun_parts(&root, &it, failed)?, false).await,
                },
            )
            .await
        })
        .await
    }
}

/// The runs that select `failed` again: their `integration/` directories with their names
/// (as `--run` would give them), and their integration-cli suites with the tests in them.
fn rerun_parts(
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

/// The directories named on the command line, checked to be the fork's (`./…`).
fn fork_dirs(dev: &Dev, it: &IntegrationTests, given: &[String]) -> Result<Vec<String>> {
    if !given.is_empty() && it.dirs.var.is_none() {
        bail!(
            "this fork's `{}` runs one suite and takes no directories; select tests with --run",
            it.bundle
        );
    }
    let mut dirs = Vec::new();
    for d in given {
        let rel = d.trim_start_matches("./").trim_end_matches('/');
        if rel.is_empty() || rel.starts_with('/') || !dev.fork.root.join(rel).is_dir() {
            bail!(
                "{d}: not a directory of the fork ({}); name one relative to its root, e.g. integration/system",
                dev.fork.root
            );
        }
        dirs.push(format!("./{rel}"));
    }
    Ok(dirs)
}

/// One engine, the whole selection: the variables `make test-integration` would get, and
/// `-test.count` for `--count`.
fn plain(dev: &mut Dev, it: &IntegrationTests, dirs: &[String], run: Option<&str>, count: u32) {
    if let Some(var) = &it.dirs.var {
        if !dirs.is_empty() {
            if let Some(skip) = &it.dirs.skip_cli_var {
                if !dirs.iter().any(|d| d == "./integration-cli") {
                    dev.spec.set_env(skip, "1".into());
                }
            }
            dev.spec.set_env(var, dirs.join(" "));
        }
    }
    if let Some(re) = run {
        match it.filter {
            Filter::TestFilter => dev.spec.set_env("TEST_FILTER", re.to_string()),
            Filter::TestFlags(flag) => dev.spec.set_env("TESTFLAGS", format!("{flag} {re}")),
        }
    }
    if count > 1 {
        let flags = dev
            .spec
            .env_value("TESTFLAGS")
            .unwrap_or_default()
            .to_string();
        dev.spec.set_env(
            "TESTFLAGS",
            format!("{flags} -test.count={count}").trim().to_string(),
        );
    }
}

/// The frozen images checked, a daemon left up stopped, then each part's run, read into one
/// summary; `build`: the first part builds (a rerun tests the build it has). A share of a split
/// run also says each unit's time and where its bundles came back to.
async fn suites(
    w: &Work<'_>,
    it: &IntegrationTests,
    parts: &[share::Part],
    build: bool,
) -> Result<Attempt> {
    let (cx, dev) = (w.cx, w.dev);
    if build {
        frozen::check(w, it).await?;
    }
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
    let cmd = it.command.join(" ");
    let t = std::time::Instant::now();
    let (mut json, mut logs, mut code, mut times) = (Vec::new(), Vec::new(), 0, Vec::new());
    let mut broken = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        // A second part tests against the daemon the first built: the build once per engine.
        let (command, env) = match (i > 0 || !build, it.command.first()) {
            (true, Some(make)) if make.ends_with("make.sh") && it.command.len() > 2 => {
                let mut env = part.env.clone();
                env.push("KEEPBUNDLE=1".into());
                (vec![make.clone(), it.bundle.clone()], env)
            }
            _ => (it.command.clone(), part.env.clone()),
        };
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
