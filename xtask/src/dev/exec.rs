//! Commands in the dev container through the exec API, in two kinds:
//! - [`Exec::script`]: a short function of the script library (`scripts.sh`), run as is;
//! - [`Exec::group`]: a long command (a build) as its own process group, its id in a pidfile, so
//!   that [`Exec::stop_group`] can end the whole tree: a dropped `docker exec` connection would
//!   leave it running.
//!
//! Interactive sessions (`shell`) also forward stdin, with a TTY when the user has a terminal.
//! When an exec call fails, the error says why the container could not run it (see
//! `diagnose.rs`), not just which call failed.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context as _, Result};
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::signal::unix::{signal, SignalKind};

use super::{diagnose, scripts};
use crate::cancel::{Interrupted, GROUP_STOP};
use crate::context::Context;
use crate::engine::Engine;
use crate::terminal;

/// What to do with a command's stdout/stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Live, to ours.
    Stream,
    /// Collected (stdout and stderr interleaved) and returned.
    Capture,
    Discard,
}

/// A finished command: its exit code (-1: unknown) and what `Output::Capture` collected.
#[derive(Debug)]
pub struct Ran {
    pub code: i64,
    pub output: Vec<u8>,
}

impl Ran {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).trim().to_string()
    }
}

pub struct Exec<'a> {
    pub engine: &'a Engine,
    pub container: &'a str,
    pub workdir: &'a str,
    pub env: Vec<String>,
}

impl<'a> Exec<'a> {
    /// An exec at `/` with no environment: for the tool's own scripts.
    pub fn plain(engine: &'a Engine, container: &'a str) -> Exec<'a> {
        Exec {
            engine,
            container,
            workdir: "/",
            env: Vec::new(),
        }
    }

    /// A function of the script library with its arguments (keep it short: not interruptible).
    pub async fn script(&self, func: &str, args: &[&str], out: Output) -> Result<Ran> {
        self.engine
            .ui
            .verbose("Script", format!("{func} {}", args.join(" ")));
        self.run_argv(scripts::argv(func, args), false, out).await
    }

    /// `cmd` as its own process group, its id in `pidfile` (see [`Exec::stop_group`]).
    pub async fn group(&self, pidfile: &str, cmd: &[String], out: Output) -> Result<Ran> {
        let mut args = vec![pidfile];
        args.extend(cmd.iter().map(String::as_str));
        self.run_argv(scripts::argv("group_run", &args), false, out)
            .await
    }

    /// SIGTERM to the group in `pidfile`, SIGKILL after `bound` (tenths of a second). True when
    /// SIGKILL was needed. Errors are the caller's to report; nothing is left waiting.
    pub async fn stop_group(&self, pidfile: &str, bound: std::time::Duration) -> Result<bool> {
        let tenths = (bound.as_millis() / 100).max(1).to_string();
        let tenths = tenths.as_str();
        let ran = self
            .script("group_stop", &[pidfile, tenths], Output::Capture)
            .await?;
        Ok(ran.text().contains("killed"))
    }

    async fn create(&self, argv: Vec<String>, stdin: bool, tty: bool) -> Result<String> {
        let opts = CreateExecOptions {
            attach_stdin: Some(stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(tty),
            env: Some(self.env.clone()),
            cmd: Some(argv),
            working_dir: Some(self.workdir.to_string()),
            ..Default::default()
        };
        let t = Instant::now();
        let r = self.engine.docker.create_exec(self.container, opts).await;
        self.engine.ui.api("create exec", t.elapsed());
        match r {
            Ok(r) => Ok(r.id),
            Err(e) => Err(diagnose::explain(&self.engine.docker, self.container, e).await),
        }
    }

    async fn exit_code(&self, id: &str) -> Result<i64> {
        let t = Instant::now();
        let r = self.engine.docker.inspect_exec(id).await;
        self.engine.ui.api("inspect exec", t.elapsed());
        match r {
            Ok(i) => Ok(i.exit_code.unwrap_or(-1)),
            Err(e) => Err(diagnose::explain(&self.engine.docker, self.container, e).await),
        }
    }

    async fn run_argv(&self, argv: Vec<String>, stdin: bool, out: Output) -> Result<Ran> {
        let id = self.create(argv, stdin, false).await?;
        let mut output = Vec::new();
        let t = Instant::now();
        let started = self.engine.docker.start_exec(&id, None).await;
        self.engine.ui.api("start exec", t.elapsed());
        let started = match started {
            Ok(s) => s,
            Err(e) => return Err(diagnose::explain(&self.engine.docker, self.container, e).await),
        };
        if let StartExecResults::Attached {
            output: mut stream, ..
        } = started
        {
            while let Some(chunk) = stream.next().await {
                let chunk = match chunk {
                    Ok(c) => c,
                    Err(e) => {
                        return Err(diagnose::explain(&self.engine.docker, self.container, e).await)
                    }
                };
                match out {
                    Output::Stream => write_out(&self.engine.ui, chunk),
                    Output::Capture => output.extend_from_slice(&chunk.into_bytes()),
                    Output::Discard => {}
                }
            }
        }
        let code = self.exit_code(&id).await?;
        // A command that died with its container (killed, removed) reports a signal's code, or
        // none: say what happened to the container rather than "exit 137".
        if !(0..=128).contains(&code) {
            diagnose::ensure_running(&self.engine.docker, self.container).await?;
        }
        Ok(Ran { code, output })
    }

    /// An interactive command: stdin forwarded; with `tty`, a pseudo-terminal sized like ours and
    /// followed on every resize, our terminal in raw mode (so Ctrl-C/Ctrl-Z reach the program).
    /// Without `tty` the command is a process group in `pidfile`, stopped on a signal here, and
    /// with `give_back` (the command's start, as `give_back` takes it) the fork's files are
    /// handed back in the same exec.
    pub async fn session(
        &self,
        pidfile: &str,
        cmd: &[String],
        tty: bool,
        after: Option<After<'_>>,
        cx: &Context,
    ) -> Result<i64> {
        let argv = match (tty, after) {
            (true, _) => cmd.to_vec(),
            (false, after) => {
                let (func, mut args): (&str, Vec<&str>) = match after {
                    Some(After::GiveBack(since)) => ("session_run", vec![since]),
                    Some(After::ListBundles { list, src }) => ("session_list", vec![list, src]),
                    None => ("group_run", Vec::new()),
                };
                args.push(pidfile);
                args.extend(cmd.iter().map(String::as_str));
                scripts::argv(func, &args)
            }
        };
        let id = self.create(argv, true, tty).await?;
        let mut winch = signal(SignalKind::window_change()).context("cannot catch SIGWINCH")?;
        let _raw = if tty {
            Some(terminal::RawMode::enable().context("cannot put the terminal in raw mode")?)
        } else {
            None
        };
        let opts = StartExecOptions {
            detach: false,
            tty,
            output_capacity: None,
        };
        let started = match self.engine.docker.start_exec(&id, Some(opts)).await {
            Ok(s) => s,
            Err(e) => return Err(diagnose::explain(&self.engine.docker, self.container, e).await),
        };
        let StartExecResults::Attached {
            mut output,
            mut input,
        } = started
        else {
            return self.exit_code(&id).await;
        };
        if tty {
            self.resize(&id).await;
        }
        let pump = tokio::spawn(async move {
            let mut stdin = tokio::io::stdin();
            let _ = tokio::io::copy(&mut stdin, &mut input).await;
            let _ = input.shutdown().await;
        });
        let mut by_signal = None;
        loop {
            tokio::select! {
                chunk = output.next() => match chunk {
                    Some(Ok(c)) => write_out(&self.engine.ui, c),
                    Some(Err(_)) | None => break,
                },
                _ = winch.recv(), if tty => self.resize(&id).await,
                s = cx.cancel.cancelled() => { by_signal = Some(s); break; }
            }
        }
        pump.abort();
        if let Some(sig) = by_signal {
            // With a TTY, closing the attach hangs up the program's terminal; without, stop its group.
            if !tty {
                let _ = self.stop_group(pidfile, cx.cancel.limit(GROUP_STOP)).await;
            }
            return Err(Interrupted(sig).into());
        }
        self.exit_code(&id).await
    }

    async fn resize(&self, id: &str) {
        if let Some((height, width)) = terminal::size() {
            let _ = self
                .engine
                .docker
                .resize_exec(id, ResizeExecOptions { height, width })
                .await;
        }
    }
}

fn write_out(ui: &crate::ui::Ui, chunk: LogOutput) {
    match chunk {
        LogOutput::StdErr { message } => {
            let mut err = std::io::stderr();
            let _ = err.write_all(&message);
            let _ = err.flush();
        }
        LogOutput::StdOut { message } | LogOutput::Console { message } => {
            let mut out = ui.container_stdout();
            let _ = out.write_all(&message);
            let _ = out.flush();
        }
        LogOutput::StdIn { .. } => {}
    }
}

/// What a session's exec does after its command, so that it costs one exec: on an engine that
/// shares our files, hand the files written back (`give_back`, since the epoch time given); on one
/// elsewhere, list `src`'s `bundles/` into the file `list`, for the hand-back to fetch.
#[derive(Debug, Clone, Copy)]
pub enum After<'a> {
    GiveBack(&'a str),
    ListBundles { list: &'a str, src: &'a str },
}
