//! Running commands in the dev container through the exec API.
//!
//! Batch commands (`run`) stream stdout/stderr live and return the exit code; interactive ones
//! (`session`) also forward stdin, with a TTY when the user has a terminal. A non-TTY command runs
//! as its own process group (`setsid`), whose leader's pid is written to a file, so that an
//! interrupt can stop the whole tree: dropping a `docker exec` connection leaves it running.

use std::io::Write;

use anyhow::{Context, Result};
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use bollard::Docker;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::signal::unix::{signal, SignalKind};

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

pub struct Exec<'a> {
    pub docker: &'a Docker,
    pub container: &'a str,
    pub workdir: &'a str,
    pub env: Vec<String>,
    /// A file inside the container that receives the pid (= process group) of the command.
    pub pidfile: String,
}

impl Exec<'_> {
    /// `cmd` under `setsid`, its pid in the pidfile, stdin kept (through fd 3: dash gives a
    /// background job /dev/null even with an explicit `<&0`).
    fn wrapped(&self, cmd: &[String]) -> Vec<String> {
        let script = format!(
            "exec 3<&0; if command -v setsid >/dev/null; then setsid \"$@\" <&3 3<&- & else \"$@\" <&3 3<&- & fi; \
             echo $! > {pf}; wait $!; rc=$?; rm -f {pf}; exit $rc",
            pf = self.pidfile
        );
        let mut argv = vec!["sh".to_string(), "-c".to_string(), script, "sh".to_string()];
        argv.extend(cmd.iter().cloned());
        argv
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
        Ok(self
            .docker
            .create_exec(self.container, opts)
            .await
            .context("cannot create exec")?
            .id)
    }

    async fn exit_code(&self, id: &str) -> Result<i64> {
        let inspect = self
            .docker
            .inspect_exec(id)
            .await
            .context("cannot inspect exec")?;
        Ok(inspect.exit_code.unwrap_or(-1))
    }

    /// Run `cmd` in its own process group (interruptible), its output handled as `out` says.
    pub async fn run(&self, cmd: &[String], out: Output) -> Result<(i64, Vec<u8>)> {
        self.run_raw(self.wrapped(cmd), out).await
    }

    /// Run a shell script as is (not interruptible: keep it short), output handled as `out` says.
    pub async fn script(&self, script: &str, out: Output) -> Result<(i64, Vec<u8>)> {
        self.run_raw(
            vec!["sh".to_string(), "-c".to_string(), script.to_string()],
            out,
        )
        .await
    }

    async fn run_raw(&self, argv: Vec<String>, out: Output) -> Result<(i64, Vec<u8>)> {
        let id = self.create(argv, false, false).await?;
        let mut captured = Vec::new();
        if let StartExecResults::Attached { mut output, .. } = self
            .docker
            .start_exec(&id, None)
            .await
            .context("cannot start exec")?
        {
            while let Some(chunk) = output.next().await {
                let chunk = chunk.context("lost the exec's output stream")?;
                match out {
                    Output::Stream => write_out(chunk),
                    Output::Capture => captured.extend_from_slice(&chunk.into_bytes()),
                    Output::Discard => {}
                }
            }
        }
        Ok((self.exit_code(&id).await?, captured))
    }

    /// An interactive command: stdin forwarded; with `tty`, a pseudo-terminal sized like ours and
    /// followed on every resize, our terminal in raw mode (so Ctrl-C/Ctrl-Z reach the program).
    /// Returns the command's exit code, or 128+n when a signal ended the session here.
    pub async fn session(&self, cmd: &[String], tty: bool) -> Result<i64> {
        let argv = if tty { cmd.to_vec() } else { self.wrapped(cmd) };
        let id = self.create(argv, true, tty).await?;
        let mut winch = signal(SignalKind::window_change()).context("SIGWINCH")?;
        let mut int = signal(SignalKind::interrupt()).context("SIGINT")?;
        let mut term = signal(SignalKind::terminate()).context("SIGTERM")?;
        let mut hup = signal(SignalKind::hangup()).context("SIGHUP")?;
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
        let StartExecResults::Attached {
            mut output,
            mut input,
        } = self
            .docker
            .start_exec(&id, Some(opts))
            .await
            .context("cannot start exec")?
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
                    Some(Ok(c)) => write_out(c),
                    Some(Err(_)) | None => break,
                },
                _ = winch.recv(), if tty => self.resize(&id).await,
                _ = int.recv() => { by_signal = Some(130); break; }
                _ = term.recv() => { by_signal = Some(143); break; }
                _ = hup.recv() => { by_signal = Some(129); break; }
            }
        }
        pump.abort();
        if let Some(code) = by_signal {
            // With a TTY, closing the attach hangs up the program's terminal; without, stop its group.
            if !tty {
                self.interrupt().await;
            }
            return Ok(code);
        }
        self.exit_code(&id).await
    }

    async fn resize(&self, id: &str) {
        if let Some((height, width)) = terminal::size() {
            let _ = self
                .docker
                .resize_exec(id, ResizeExecOptions { height, width })
                .await;
        }
    }

    /// Stop the command's process group: SIGTERM, then SIGKILL after five seconds.
    pub async fn interrupt(&self) {
        let script = format!(
            "p=$(cat {pf} 2>/dev/null) || exit 0; kill -TERM -- -$p 2>/dev/null || kill -TERM $p 2>/dev/null; \
             for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 -- -$p 2>/dev/null || kill -0 $p 2>/dev/null || exit 0; sleep 0.5; done; \
             kill -KILL -- -$p 2>/dev/null || kill -KILL $p 2>/dev/null; rm -f {pf}",
            pf = self.pidfile
        );
        let _ = self.script(&script, Output::Discard).await;
    }
}

fn write_out(chunk: LogOutput) {
    match chunk {
        LogOutput::StdErr { message } => {
            let mut err = std::io::stderr();
            let _ = err.write_all(&message);
            let _ = err.flush();
        }
        LogOutput::StdOut { message } | LogOutput::Console { message } => {
            let mut out = std::io::stdout();
            let _ = out.write_all(&message);
            let _ = out.flush();
        }
        LogOutput::StdIn { .. } => {}
    }
}
