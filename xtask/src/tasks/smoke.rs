//! `cargo xtask smoke`: build if the sources changed, install, start the new dockerd in the dev
//! container, check that `docker version` reports the version and commit just stamped, import a
//! one-file image and `docker run` it in the nested daemon, stop it and clean its data. One
//! result line per step with its time, and a verdict. On failure the daemon log stays in
//! `bundles/`; on a signal everything this run started is stopped before it exits.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use serde_json::json;

use crate::cancel::{Interrupted, DAEMON_STOP};
use crate::context::Context;
use crate::dev::{Dev, Output, Work};
use crate::engine::Kind;
use crate::flags;
use crate::ops::{build, build_record, daemon, install, kept_daemon};
use crate::text::tail;

/// A failed step: its name and what went wrong (with any output worth showing).
struct Failure {
    step: &'static str,
    why: anyhow::Error,
}

fn fail<T>(step: &'static str, why: impl Into<String>) -> std::result::Result<T, Failure> {
    Err(Failure {
        step,
        why: anyhow!(why.into()),
    })
}

fn at(step: &'static str) -> impl Fn(anyhow::Error) -> Failure {
    move |why| Failure { step, why }
}

impl flags::Smoke {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        let dev = Dev::open(cx, true)?;
        let started = Instant::now();
        let (outcome, interrupted, keep) = dev
            .work(cx, false, async |w| {
                let outcome = steps(w, &self).await;
                let interrupted = match &outcome {
                    Err(f) => f.why.downcast_ref::<Interrupted>().copied(),
                    Ok(()) => cx.cancel.signal().map(Interrupted),
                };
                let keep = self.keep_running && outcome.is_ok() && interrupted.is_none();
                // The verdict as soon as it is known; the cleanup no later step waits for
                // follows it (and its failure still fails the command).
                if outcome.is_ok() && interrupted.is_none() {
                    pass(cx, &dev, started, keep);
                }
                if !keep {
                    stop_and_clean(w).await?;
                }
                Ok((outcome, interrupted, keep))
            })
            .await?;
        let log = dev.fork.root.join(daemon::LOG);
        if let Some(int) = interrupted {
            return Err(int.into());
        }
        match outcome {
            Ok(()) => {
                if !keep {
                    let _ = std::fs::remove_file(&log);
                    if let Some(dir) = log.parent() {
                        let _ = std::fs::remove_dir(dir);
                    }
                }
                Ok(0)
            }
            Err(f) => {
                cx.ui
                    .result(format!("smoke: FAIL at {}: {:#}", f.step, f.why));
                cx.ui.event(
                    json!({"status": "fail", "step": f.step, "message": format!("{:#}", f.why)}),
                );
                // The log is this run's only once the daemon was started.
                let started_daemon = matches!(f.step, "start" | "version" | "run");
                if let Some(text) = started_daemon
                    .then(|| std::fs::read_to_string(&log).ok())
                    .flatten()
                {
                    if let Some(e) = daemon_error_line(&text) {
                        cx.ui.result(format!("smoke: dockerd said: {e}"));
                    }
                    cx.ui.result(format!(
                        "smoke: last lines of the daemon log:{}",
                        tail(&text, 10)
                    ));
                    cx.ui.result(format!("smoke: daemon log kept at {log}"));
                }
                Ok(1)
            }
        }
    }
}

/// The verdict line (and where a kept daemon is).
fn pass(cx: &Context, dev: &Dev, started: Instant, keep: bool) {
    if keep {
        cx.ui.result("smoke: dockerd left running in the dev container: `cargo xtask shell -- docker version`");
    }
    let secs = started.elapsed().as_secs_f64();
    cx.ui.result(format!(
        "smoke: PASS in {secs:.1} s (dockerd {}, commit {})",
        dev.version(),
        dev.commit()
    ));
    cx.ui.event(json!({"status": "pass", "seconds": secs,
        "version": dev.version(), "commit": dev.commit()}));
}

/// The nested daemon stopped (SIGKILL past [`DAEMON_STOP`]) and its data cleaned.
async fn stop_and_clean(w: &Work<'_>) -> Result<()> {
    let (cx, exec) = (w.cx, w.exec());
    let t = Instant::now();
    let bound = cx.cancel.limit(DAEMON_STOP);
    let killed = daemon::stop(&exec, bound).await?;
    daemon::clean(&exec).await?;
    let note = match killed {
        true => format!("SIGKILL after {} s", bound.as_secs_f64()),
        false => String::new(),
    };
    line(cx, "stop + clean", t.elapsed(), &note);
    Ok(())
}

fn line(cx: &Context, step: &str, took: Duration, detail: &str) {
    let secs = took.as_secs_f64();
    let detail_txt = if detail.is_empty() {
        String::new()
    } else {
        format!("  ({detail})")
    };
    cx.ui
        .result(format!("smoke: {step:<16} {secs:>6.2} s{detail_txt}"));
    cx.ui
        .event(json!({"step": step, "status": "ok", "seconds": secs, "detail": detail}));
}

async fn steps(w: &Work<'_>, args: &flags::Smoke) -> std::result::Result<(), Failure> {
    let (cx, dev, exec) = (w.cx, w.dev, w.exec());
    let check = |step| cx.cancel.check().map_err(|i| at(step)(i.into()));

    let t = Instant::now();
    let (stale, read) = build::why_build(w, &["binary".to_string()]);
    let built = build_record::read(&dev.fork).is_some() && install::daemon_dir(dev).is_some();
    match (&stale, args.no_build) {
        (Some(why), false) => {
            let bundles = ["binary".to_string()];
            let ran = build::build_read(w, &bundles, Output::Capture, read)
                .await
                .map_err(at("build"))?;
            if ran.code != 0 {
                let out = String::from_utf8_lossy(&ran.output);
                return fail(
                    "build",
                    format!("hack/make.sh binary exited {}{}", ran.code, tail(&out, 30)),
                );
            }
            line(cx, "build", t.elapsed(), why);
        }
        (Some(why), true) if !built => {
            return fail(
                "build",
                format!("--no-build, but {why}: run `cargo xtask binary`"),
            );
        }
        (Some(why), true) => line(
            cx,
            "build",
            t.elapsed(),
            &format!("--no-build: testing the last build, although {why}"),
        ),
        (None, _) => line(cx, "build", t.elapsed(), "up to date, skipped"),
    }
    check("build")?;
    // The version and commit to expect are those of the build being installed.
    let expected = build_record::read(&dev.fork).map(|(r, _)| r);

    let t = Instant::now();
    daemon::stop(&exec, cx.cancel.limit(DAEMON_STOP))
        .await
        .map_err(at("install"))?;
    install::install(w, Output::Capture)
        .await
        .map_err(at("install"))?;
    line(cx, "install", t.elapsed(), "");
    check("install")?;

    let t = Instant::now();
    daemon::clean(&exec).await.map_err(at("start"))?;
    kept_daemon::stop_before_another(w)
        .await
        .map_err(at("start"))?;
    daemon::start(&exec, &daemon::command(dev))
        .await
        .map_err(at("start"))?;
    let wait = daemon::wait_ready(&exec, Duration::from_secs(args.timeout));
    let ready = cx
        .cancel
        .run(wait)
        .await
        .map_err(|i| at("start")(i.into()))?;
    match ready.map_err(at("start"))? {
        daemon::Ready::Yes => line(cx, "start dockerd", t.elapsed(), ""),
        daemon::Ready::Died => return fail("start", "dockerd exited before it answered"),
        daemon::Ready::TimedOut => {
            return fail(
                "start",
                format!("dockerd did not answer within {} s", args.timeout),
            )
        }
    }
    check("start")?;

    let t = Instant::now();
    let ran = exec
        .script("daemon_version", &[], Output::Capture)
        .await
        .map_err(at("version"))?;
    let out = ran.text();
    if ran.code != 0 {
        return fail("version", format!("docker version failed: {out}"));
    }
    let (version, commit) = out.split_once('|').unwrap_or((out.as_str(), ""));
    if let Some(exp) = &expected {
        if version != exp.version || commit != exp.commit {
            return fail(
                "version",
                format!(
                    "server reports {version} {commit}, expected {} {} (the build just stamped)",
                    exp.version, exp.commit
                ),
            );
        }
    }
    let detail = format!("server {version}, commit {commit}");
    line(cx, "docker version", t.elapsed(), &detail);
    check("version")?;

    let t = Instant::now();
    let run = exec.script("smoke_run", &[], Output::Capture);
    let ran = cx.cancel.run(run).await.map_err(|i| at("run")(i.into()))?;
    let ran = ran.map_err(at("run"))?;
    if ran.code != 0 {
        let out = String::from_utf8_lossy(&ran.output);
        let rootless = matches!(
            w.engine.kind,
            Kind::Rootless | Kind::Podman { rootless: true }
        );
        let why = match rootless && out.contains("cgroup") {
            true => format!(
                "; on this {} engine the nested dockerd cannot give its containers cgroups (the \
                 engine delegates none to the dev container on this host's cgroup v1): the build, \
                 install, start and version steps passed; run smoke on a rootful engine \
                 (--context or DOCKER_HOST) for the container step",
                w.engine.kind.describe()
            ),
            false => String::new(),
        };
        return fail(
            "run",
            format!("docker run in the new daemon failed{why}{}", tail(&out, 10)),
        );
    }
    line(cx, "import + run", t.elapsed(), &ran.text());
    Ok(())
}

/// The daemon's own complaint: the last fatal/error line, or a CLI flag error.
fn daemon_error_line(log: &str) -> Option<&str> {
    log.lines().rev().find(|l| {
        l.contains("level=fatal")
            || l.starts_with("failed to start daemon")
            || l.contains("unknown flag")
            || l.starts_with("Error")
            || l.contains("level=error")
    })
}

#[cfg(test)]
mod tests {
    use super::daemon_error_line;

    #[test]
    fn finds_the_daemons_complaint() {
        let log = "time=1 level=debug msg=a\nunknown flag: --no-such-flag\nSee 'dockerd --help'.\n";
        assert_eq!(daemon_error_line(log), Some("unknown flag: --no-such-flag"));
        assert_eq!(daemon_error_line("level=info msg=ok\n"), None);
    }
}
