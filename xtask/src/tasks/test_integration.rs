//! `cargo xtask test integration [--run REGEX] [DIR…]`: the integration suites as the fork's
//! `make test-integration` runs them (`hack/make.sh dynbinary test-integration`, or
//! `… build-integration-test-binary dynbinary test-integration-cli` up to 17.06), against the
//! daemon that command builds; `--run` becomes `TEST_FILTER` (or `TESTFLAGS`), the directories
//! `TEST_INTEGRATION_DIR`. Before the run, the frozen images the suites load instead of pulling
//! are looked for in the dev image; when some are missing and no registry answers, the tool says
//! which and where the fork looks, instead of a pull error deep in the suite. Then the same
//! summary as `test unit`, read from gotestsum's reports (or the era's `test.log`).

use anyhow::{bail, Result};
use hack_compat::{Filter, IntegrationTests, TestHost, Unit};

use crate::context::Context;
use crate::dev::{Dev, Work};
use crate::flags;
use crate::ops::attempts::{self, Policy};
use crate::ops::{kept_daemon, live, suites};
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
        let policy = Policy::new(
            self.reruns.rerun_fails,
            self.reruns.allow_flaky,
            self.reruns.count,
        );
        if !self.engines.is_empty() {
            if self.reruns.rerun_fails.is_some()
                || self.reruns.count.is_some()
                || self.keep_daemon.is_some()
                || self.watch
            {
                bail!("--rerun-fails, --count, --keep-daemon and --watch run on one engine: leave out --engines");
            }
            return split::run(cx, &self, &dirs).await;
        }
        // `--watch` reruns against a kept daemon.
        let keep = match (self.keep_daemon, self.watch) {
            (None, false) => None,
            (Some(k), _) => Some((k, keeps(&dev, &it)?)),
            (None, true) => Some((flags::KeepDaemon::Keep, keeps(&dev, &it)?)),
        };
        if let Some((flags::KeepDaemon::Stop, th)) = &keep {
            return dev
                .work(cx, false, async |w| {
                    let what = match kept_daemon::stop(w, th).await? {
                        true => "stopped the kept test daemon",
                        false => "no kept test daemon runs",
                    };
                    cx.ui.result(what);
                    Ok(0)
                })
                .await;
        }
        let keep = keep.map(|(_, th)| th);
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
        let keep = keep.as_ref();
        // One run: the parts (all of them, building; or those of `pkgs`, on the build there
        // is), and the failed tests' reruns.
        let once = async |w: &Work<'_>, pkgs: Option<&[String]>| -> Result<u8> {
            let (parts, build) = match pkgs {
                None => (parts.clone(), true),
                Some(pkgs) => (
                    share::parts(&it, &package_units(pkgs), self.run.as_deref())?,
                    false,
                ),
            };
            attempts::run(
                cx,
                "test integration",
                &cmd,
                policy,
                async |again| match again {
                    None => suites::run(w, &it, &parts, build, keep).await,
                    Some(failed) => {
                        let parts = suites::rerun_parts(&root, &it, failed)?;
                        suites::run(w, &it, &parts, false, keep).await
                    }
                },
            )
            .await
        };
        dev.work(cx, false, async |w| {
            let ran = match self.watch {
                true => live::integration_watch(w, async |pkgs| once(w, pkgs).await).await,
                false => once(w, None).await,
            };
            // Interrupted: the kept daemon goes too (nothing of the run stays up).
            if let (Err(e), Some(th)) = (&ran, keep) {
                if e.downcast_ref::<crate::cancel::Interrupted>().is_some() {
                    let _ = kept_daemon::stop(w, th).await;
                }
            }
            ran
        })
        .await
    }
}

/// The units of changed test packages (`./integration/system`; integration-cli as a whole).
fn package_units(pkgs: &[String]) -> Vec<Unit> {
    let mut units: Vec<Unit> = pkgs
        .iter()
        .map(
            |p| match p.trim_start_matches("./").starts_with("integration-cli") {
                true => Unit::Cli,
                false => Unit::Dir(p.clone()),
            },
        )
        .collect();
    units.sort();
    units.dedup();
    units
}

/// How this fork keeps a test daemon: its scripts must take a running one (`DOCKER_TEST_HOST`)
/// and build before testing in one `hack/make.sh` (flat `bundles/`).
fn keeps(dev: &Dev, it: &IntegrationTests) -> Result<TestHost> {
    match (&it.test_host, dev.fork.layout, it.command.len() > 2) {
        (Some(th), hack_compat::BinaryLayout::Flat, true) => Ok(th.clone()),
        _ => bail!(
            "--keep-daemon: this fork's scripts cannot use a test daemon already running \
             (hack/make/.integration-daemon-start reads no DOCKER_TEST_HOST)"
        ),
    }
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
