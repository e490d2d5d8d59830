//! The children of a split run: one `cargo xtask --json test integration --shard-units …` per
//! engine that has a share, each in its own process group (a Ctrl-C at the terminal reaches only
//! this process, which passes it on once to each child, so each cleans up on its engine with its
//! full time). Each child's stderr comes through line by line behind `[engine]` (not with
//! `--quiet`), and its stdout, JSON events, is gathered into an [`Outcome`] (and, with `--json`,
//! passed on with the engine's name added).

use std::process::Stdio;
use std::time::Instant;

use anyhow::{Context as _, Result};
use hack_compat::{Fork, Unit};
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::plan::Share;
use crate::cancel::{CHILD_STOP, CLEANUP};
use crate::context::Context;
use crate::flags;
use crate::ui::Verbosity;

/// What one engine's child did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub engine: String,
    pub units: Vec<Unit>,
    /// Its exit code (`None`: killed by a signal, or never started).
    pub code: Option<i32>,
    /// Its summary event: passed, failed, skipped.
    pub counts: Option<(u64, u64, u64)>,
    /// Its failed tests' events (package, test, output).
    pub failures: Vec<Value>,
    /// The last error it said.
    pub error: Option<String>,
    /// Each unit's time, for the next split.
    pub times: Vec<(String, f64)>,
    /// Where its `bundles/` came back to, when the engine is elsewhere.
    pub bundles: Option<String>,
    pub secs: f64,
}

/// Run every share that has units, to the end of each, passing signals on. Every child started
/// is awaited before this returns, on every path: a start that fails stops those already started.
pub async fn all(
    cx: &Context,
    shares: &[Share],
    command: &dyn Fn(&Share) -> Result<Command>,
) -> Result<Vec<Outcome>> {
    let mut pids = Vec::new();
    let mut tasks = Vec::new();
    let mut started = Ok(());
    for s in shares.iter().filter(|s| !s.units.is_empty()) {
        started = start(cx, s, command, &mut pids, &mut tasks).await;
        if started.is_err() {
            signal(&pids, crate::cancel::Sig::Term);
            break;
        }
    }
    // The children clean up with their own full time: this process waits that long, and more.
    cx.cancel
        .allow_longer_cleanup(CLEANUP.normal + CHILD_STOP.normal);
    let results = wait_all(cx, &pids, tasks).await;
    started?;
    let mut outcomes = Vec::new();
    for r in results {
        outcomes.push(r.context("an engine's share stopped unexpectedly")?);
    }
    for s in shares.iter().filter(|s| s.units.is_empty()) {
        outcomes.push(Outcome {
            engine: s.engine.clone(),
            code: Some(0),
            ..Outcome::default()
        });
    }
    Ok(outcomes)
}

type Task = tokio::task::JoinHandle<Outcome>;

/// Start the child for share `s`: its pid into `pids`, the task that relays and gathers its
/// output (and awaits it) into `tasks`.
async fn start(
    cx: &Context,
    s: &Share,
    command: &dyn Fn(&Share) -> Result<Command>,
    pids: &mut Vec<u32>,
    tasks: &mut Vec<Task>,
) -> Result<()> {
    let mut child = command(s)?
        .spawn()
        .context("cannot start this program again for an engine's share")?;
    pids.extend(child.id());
    let ui = cx.ui;
    let (engine, units) = (s.engine.clone(), s.units.clone());
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    tasks.push(tokio::spawn(async move {
        let started = Instant::now();
        let prefix = format!("[{engine}]");
        let echo = async {
            if let Some(err) = stderr {
                let mut rd = BufReader::new(err);
                while let Some(l) = next_line(&mut rd).await {
                    if ui.verbosity > Verbosity::Quiet {
                        eprintln!("{prefix} {l}");
                    }
                }
            }
        };
        let mut out = Outcome {
            engine: engine.clone(),
            units,
            ..Outcome::default()
        };
        let gather = async {
            if let Some(so) = stdout {
                let mut rd = BufReader::new(so);
                while let Some(l) = next_line(&mut rd).await {
                    if let Ok(ev) = serde_json::from_str::<Value>(&l) {
                        take(&mut out, &ev);
                        if ui.json {
                            let mut ev = ev;
                            ev["engine"] = Value::String(engine.clone());
                            ui.event(ev);
                        }
                    }
                }
            }
        };
        tokio::join!(echo, gather);
        out.code = child.wait().await.ok().and_then(|s| s.code());
        out.secs = started.elapsed().as_secs_f64();
        out
    }));
    crate::fail::point("split-child-start").await
}

/// Await every child's task, passing a signal on once (a second one once more); past the
/// children's own cleanup time, their process groups are killed.
async fn wait_all(
    cx: &Context,
    pids: &[u32],
    tasks: Vec<Task>,
) -> Vec<Result<Outcome, tokio::task::JoinError>> {
    let all = futures_util::future::join_all(tasks);
    tokio::pin!(all);
    let mut passed_on = 0;
    let mut since: Option<Instant> = None;
    loop {
        tokio::select! {
            r = &mut all => return r,
            sig = cx.cancel.cancelled(), if passed_on == 0 => {
                signal(pids, sig);
                passed_on = 1;
                since = Some(Instant::now());
            }
            _ = tokio::time::sleep(std::time::Duration::from_millis(200)), if passed_on > 0 => {
                if passed_on == 1 && cx.cancel.hurry() {
                    if let Some(sig) = cx.cancel.signal() {
                        signal(pids, sig);
                    }
                    passed_on = 2;
                }
                let bound = cx.cancel.limit(CLEANUP) + cx.cancel.limit(CHILD_STOP);
                if since.is_some_and(|t| t.elapsed() > bound) {
                    cx.ui.warn("a share did not end after its cleanup time: killed");
                    kill_groups(pids);
                    since = None;
                }
            }
        }
    }
}

/// This program again, with `--json`, against engine `e` (`local`: the one this command
/// would use; a URL: `DOCKER_HOST`; else a docker context); the task's arguments follow.
pub fn child(cx: &Context, e: &str) -> Result<Command> {
    let exe = std::env::current_exe().context("cannot find this program to start it per engine")?;
    let mut c = Command::new(exe);
    c.arg("--json");
    if cx.ui.verbosity == Verbosity::Verbose {
        c.arg("--verbose");
    }
    if e == "local" {
        if let Some(ctx) = &cx.docker_context {
            c.args(["--context", ctx]);
        }
    } else if e.contains("://") {
        c.env("DOCKER_HOST", e).env_remove("DOCKER_CONTEXT");
    } else {
        c.args(["--context", e]);
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    Ok(c)
}

/// The fork options this command was given, for a child.
pub fn fork_args(cx: &Context, fork: &Fork) -> Vec<String> {
    let mut a = vec!["--fork".to_string(), fork.root.to_string()];
    if let Some(image) = &cx.opts.image.image {
        a.push(format!("--image={image}"));
    }
    if let Some(commit) = &cx.opts.commit.commit {
        a.push(format!("--commit={commit}"));
    }
    a
}

/// The child for one share of a split integration run.
pub fn integration_child(
    cx: &Context,
    fork: &Fork,
    t: &flags::TestIntegration,
    s: &Share,
) -> Result<Command> {
    let e = s.engine.as_str();
    let mut c = child(cx, e)?;
    c.args(["test", "integration"]).args(fork_args(cx, fork));
    let units: Vec<String> = s.units.iter().map(Unit::key).collect();
    c.arg(format!("--shard-name={e}"));
    c.arg(format!("--shard-units={}", units.join(",")));
    if let Some(re) = &t.run {
        c.arg(format!("--run={re}"));
    }
    Ok(c)
}

/// One event of a child, into its outcome.
fn take(out: &mut Outcome, ev: &Value) {
    let s = |k: &str| ev.get(k).and_then(Value::as_str);
    let n = |k: &str| ev.get(k).and_then(Value::as_u64).unwrap_or(0);
    match (s("step"), s("status")) {
        (_, Some("error")) => out.error = s("message").map(str::to_string),
        (Some("test"), Some("failed")) => out.failures.push(ev.clone()),
        (Some("test integration" | "test unit" | "validate" | "ci run"), Some(_)) => {
            out.counts = Some((n("passed"), n("failed"), n("skipped")))
        }
        (Some("share"), _) => {
            if let Some(times) = ev.get("times").and_then(Value::as_object) {
                out.times = times
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                    .collect();
            }
            out.bundles = s("bundles").map(str::to_string);
        }
        _ => {}
    }
}

/// `sig` to each child (each leads its own process group).
fn signal(pids: &[u32], sig: crate::cancel::Sig) {
    let n = match sig {
        crate::cancel::Sig::Int => libc::SIGINT,
        crate::cancel::Sig::Term => libc::SIGTERM,
        crate::cancel::Sig::Hup => libc::SIGHUP,
    };
    for pid in pids {
        if let Ok(pid) = i32::try_from(*pid) {
            // SAFETY: kill has no memory preconditions; a gone pid is an ignored ESRCH.
            unsafe { libc::kill(pid, n) };
        }
    }
}

/// SIGKILL to each child's process group.
fn kill_groups(pids: &[u32]) {
    for pid in pids {
        if let Ok(pid) = i32::try_from(*pid) {
            // SAFETY: as in `signal`; each child leads its group, whose id is its pid.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }
}

/// A child's next line, its bytes read as they are (a non-UTF-8 byte becomes U+FFFD, it never
/// stops the reader: a child whose pipe closed would die on its next write, without cleanup).
async fn next_line(rd: &mut (impl AsyncBufRead + Unpin)) -> Option<String> {
    let mut buf = Vec::new();
    match rd.read_until(b'\n', &mut buf).await {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                buf.pop();
            }
            Some(String::from_utf8_lossy(&buf).into_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_childs_non_utf8_output_is_read_on_not_stopped_at() {
        let data: &[u8] = b"one\n\xff\xfe bad\r\nthree";
        let mut rd = tokio::io::BufReader::new(data);
        let mut got = Vec::new();
        while let Some(l) = super::next_line(&mut rd).await {
            got.push(l);
        }
        assert_eq!(got, ["one", "\u{fffd}\u{fffd} bad", "three"]);
    }
}
