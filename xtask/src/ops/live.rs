//! The live loop: `run --watch` (the fork's `make run`, kept running) and `test unit --watch`.
//! The fork is watched on the host (`watch.rs`); each change builds again, incrementally, in the
//! dev container. A change during a build drops that build for the newest edit. After a good
//! build `run` installs it and restarts dockerd on the same sockets, then says "ready in X s"
//! (from the change); after a failed one the running dockerd keeps serving and the compiler's
//! lines are shown. `test unit` reruns the tests of the packages whose files changed.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::json;

use super::watch::{self, Watch};
use super::{build, daemon, install, unit};
use crate::cancel::{Interrupted, DAEMON_STOP};
use crate::dev::{Output, Work};
use crate::text::indent;

/// Where `run --watch` keeps the daemon's log, relative to the fork root.
pub const RUN_LOG: &str = "bundles/xtask-run/dockerd.log";

/// Builds keep `bundles/` (the fork's own switch): `run`'s socket and log live there.
const KEEP: &str = "KEEPBUNDLE=1";

/// Install the last build, start dockerd (`cmd`) in the background, then rebuild, reinstall and
/// restart on every change until a signal. `ready` says how the host reaches the daemon.
pub async fn run_watch(w: &Work<'_>, cmd: &[String], ready: &str) -> Result<u8> {
    let (cx, dev) = (w.cx, w.dev);
    let mut watch = Watch::new(&dev.fork.root)?;
    let exec = w.exec();
    let result = async {
        install::install(w, Output::Capture).await?;
        restart(w, cmd).await?;
        cx.ui.result(format!("dockerd is up: {ready}"));
        cx.ui
            .event(json!({"step": "run", "status": "ok", "ready": ready}));
        cx.ui.status(
            "Watching",
            format!(
                "{} (log: {}; Ctrl-C stops)",
                dev.fork.root,
                dev.fork.root.join(RUN_LOG)
            ),
        );
        loop {
            if next_change(w, &mut watch).await?.is_none() {
                return Ok(0);
            }
            let t = Instant::now();
            let Some(ran) = build_newest(w, &mut watch).await? else {
                continue;
            };
            if ran.code != 0 {
                show_build_errors(w, &ran.output);
                cx.ui.warn(
                    "the build failed: the running dockerd keeps serving; waiting for the next change",
                );
                continue;
            }
            install::keep_installed(w).await?;
            let restarted = async {
                // The old daemon stops while the new binaries go in (the running one keeps its
                // file: what it replaces is moved aside, not written over).
                let stop = daemon::stop(&exec, cx.cancel.limit(DAEMON_STOP));
                let (installed, stopped) = tokio::join!(install::install(w, Output::Capture), stop);
                installed?;
                stopped?;
                start_ready(w, cmd).await
            }
            .await;
            if let Err(e) = restarted {
                if e.downcast_ref::<Interrupted>().is_some() {
                    return Err(e);
                }
                roll_back(w, cmd, &e).await?;
                continue;
            }
            let secs = t.elapsed().as_secs_f64();
            cx.ui.result(format!("ready in {secs:.1} s"));
            cx.ui
                .event(json!({"step": "reload", "status": "ok", "seconds": secs}));
        }
    }
    .await;
    let _ = daemon::stop(&exec, cx.cancel.limit(DAEMON_STOP)).await;
    let _ = daemon::clean(&exec).await;
    result
}

/// A build whose dockerd does not start ends nothing: said with its log's last lines, the
/// previous good binaries installed and started again, and the next change gets its chance.
async fn roll_back(w: &Work<'_>, cmd: &[String], e: &anyhow::Error) -> Result<()> {
    let cx = w.cx;
    let log = std::fs::read_to_string(w.dev.fork.root.join(RUN_LOG)).unwrap_or_default();
    let tail = crate::text::tail(&crate::private::printable_lines(&log), 8);
    cx.ui.warn(format!("{e:#}{tail}"));
    cx.ui
        .event(json!({"step": "reload", "status": "failed", "error": format!("{e:#}")}));
    let back = async {
        install::restore_kept(w).await?;
        restart(w, cmd).await
    }
    .await;
    match back {
        Ok(()) => cx.ui.warn(
            "the previous build serves again (same socket, same data); waiting for the next change",
        ),
        Err(b) if b.downcast_ref::<Interrupted>().is_some() => return Err(b),
        Err(b) => {
            cx.ui.warn(format!(
                "the previous build did not start again either: {b:#}"
            ));
            cx.ui.status(
                "Watching",
                "for the next change (no dockerd serves until one starts)",
            );
        }
    }
    Ok(())
}

/// `test unit` on the packages given (when any), then on the packages of each change (within
/// those given), until a signal. The exit code of the last run.
pub async fn unit_watch(
    w: &Work<'_>,
    cmd: &[String],
    pkgs: &[String],
    flags: &[String],
) -> Result<u8> {
    let mut watch = Watch::new(&w.dev.fork.root)?;
    let mut code = 0;
    if !pkgs.is_empty() {
        code = unit::run(w, cmd, pkgs, flags).await?;
    }
    w.cx.ui.status(
        "Watching",
        format!("{} for Go changes (Ctrl-C stops)", w.dev.fork.root),
    );
    loop {
        let Some(changed) = next_change(w, &mut watch).await? else {
            return Ok(code);
        };
        let within = |p: &String| {
            pkgs.is_empty()
                || pkgs.iter().any(|given| {
                    let given = given.trim_end_matches("/...").trim_end_matches('/');
                    p == given || p.starts_with(&format!("{given}/"))
                })
        };
        let run: Vec<String> = watch::go_packages(&changed)
            .into_iter()
            .filter(within)
            .collect();
        if run.is_empty() {
            continue;
        }
        w.refresh_source().await?;
        code = unit::run(w, cmd, &run, flags).await?;
    }
}

/// `test integration --watch`: `run(None)` (the whole selection, built), then after each Go
/// change `run(Some(packages))` when only `_test.go` files of `integration/` or
/// `integration-cli/` changed (the build stands), else `run(None)` again; until a signal. The
/// exit code of the last run.
pub async fn integration_watch(
    w: &Work<'_>,
    mut run: impl AsyncFnMut(Option<&[String]>) -> Result<u8>,
) -> Result<u8> {
    let mut watch = Watch::new(&w.dev.fork.root)?;
    let mut code = run(None).await?;
    w.cx.ui.status(
        "Watching",
        format!("{} for Go changes (Ctrl-C stops)", w.dev.fork.root),
    );
    loop {
        let Some(changed) = next_change(w, &mut watch).await? else {
            return Ok(code);
        };
        let go: Vec<&String> = changed.iter().filter(|f| f.ends_with(".go")).collect();
        if go.is_empty() {
            continue;
        }
        w.refresh_source().await?;
        let tests_only = go.iter().all(|f| {
            f.ends_with("_test.go")
                && (f.starts_with("integration/") || f.starts_with("integration-cli/"))
        });
        code = match tests_only {
            true => run(Some(&watch::go_packages(&changed))).await?,
            false => run(None).await?,
        };
    }
}

/// The next change, or `None` when the watch ended; a signal is [`Interrupted`].
async fn next_change(w: &Work<'_>, watch: &mut Watch) -> Result<Option<Vec<String>>> {
    let changed = w.cx.cancel.run(watch.next()).await?;
    if let Some(files) = &changed {
        let more = match files.len() {
            1 => String::new(),
            n => format!(" and {} more", n - 1),
        };
        w.cx.ui.status("Changed", format!("{}{more}", files[0]));
    }
    Ok(changed)
}

/// Build `binary` for the newest edit: a change while it builds stops it and starts again.
/// `None` when the watch ended.
async fn build_newest(w: &Work<'_>, watch: &mut Watch) -> Result<Option<crate::dev::exec::Ran>> {
    let bundles = ["binary".to_string()];
    loop {
        w.refresh_source().await?;
        // The build's inputs listed beside its stamp's check of the index, as at the start.
        w.dev.early_walk.rearm(&w.dev.fork.root);
        // Each build stamped as its tree is, as `binary` stamps it.
        let env = [
            KEEP.to_string(),
            format!("DOCKER_GITCOMMIT={}", w.dev.commit_now()),
        ];
        let newer = tokio::select! {
            ran = build::build_with(w, &bundles, Output::Capture, &env) => return ran.map(Some),
            newer = watch.next() => newer,
        };
        w.stop_run().await?;
        let Some(newer) = newer else {
            return Ok(None);
        };
        w.cx.ui.status(
            "Restarting",
            format!("the build for a newer edit ({})", newer[0]),
        );
    }
}

/// Stop the daemon (if up) and start it again on the installed binaries, waiting until it
/// answers; its data stays.
async fn restart(w: &Work<'_>, cmd: &[String]) -> Result<()> {
    daemon::stop(&w.exec(), w.cx.cancel.limit(DAEMON_STOP)).await?;
    start_ready(w, cmd).await
}

/// Start dockerd (the tool's own is stopped already) and wait until it answers.
async fn start_ready(w: &Work<'_>, cmd: &[String]) -> Result<()> {
    let (cx, exec) = (w.cx, w.exec());
    super::kept_daemon::stop_before_another(w).await?;
    daemon::start_logged(&exec, RUN_LOG, cmd).await?;
    let ready = cx
        .cancel
        .run(daemon::wait_ready(&exec, Duration::from_secs(60)))
        .await
        .map_err(|i: Interrupted| anyhow::Error::from(i))??;
    match ready {
        daemon::Ready::Yes => Ok(()),
        daemon::Ready::Died => bail!(
            "the new dockerd exited before it answered: see {}",
            w.dev.fork.root.join(RUN_LOG)
        ),
        daemon::Ready::TimedOut => bail!(
            "the new dockerd did not answer within 60 s: see {}",
            w.dev.fork.root.join(RUN_LOG)
        ),
    }
}

/// The compiler's lines of a failed build (`file.go:line:col: …` and the package headers), else
/// its last lines.
fn show_build_errors(w: &Work<'_>, output: &[u8]) {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("# ") || l.contains(".go:"))
        .collect();
    let shown = match lines.is_empty() {
        true => crate::text::tail(&text, 20),
        false => indent(&lines.join("\n")),
    };
    w.cx.ui.result(format!("build failed:{shown}"));
}
