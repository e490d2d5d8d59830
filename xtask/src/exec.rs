//! Running one command in the dev container through the exec API: output streamed live, exit code
//! returned. The command runs as its own process group, whose leader's pid is written to a file,
//! so that an interrupt can stop the whole build tree (`docker exec` alone would leave it running).

use std::io::Write;

use anyhow::{Context, Result};
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use futures_util::StreamExt;

pub struct Exec<'a> {
    pub docker: &'a Docker,
    pub container: &'a str,
    pub workdir: &'a str,
    pub env: Vec<String>,
    /// A file inside the container that receives the pid (= process group) of the command.
    pub pidfile: String,
}

impl Exec<'_> {
    /// Run `cmd`, streaming its stdout/stderr to ours. Returns its exit code.
    pub async fn run(&self, cmd: &[String]) -> Result<i64> {
        // setsid in a non-leader child keeps the pid, so $! is the new process group's id.
        let wrapper = format!(
            "if command -v setsid >/dev/null; then setsid \"$@\" & else \"$@\" & fi; \
             echo $! > {pf}; wait $!; rc=$?; rm -f {pf}; exit $rc",
            pf = self.pidfile
        );
        let mut argv = vec![
            "sh".to_string(),
            "-c".to_string(),
            wrapper,
            "sh".to_string(),
        ];
        argv.extend(cmd.iter().cloned());
        self.run_raw(argv, true).await
    }

    /// Run `argv` as is; output streamed when `stream`, else discarded.
    pub async fn run_raw(&self, argv: Vec<String>, stream: bool) -> Result<i64> {
        let opts = CreateExecOptions {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            env: Some(self.env.clone()),
            cmd: Some(argv),
            working_dir: Some(self.workdir.to_string()),
            ..Default::default()
        };
        let created = self
            .docker
            .create_exec(self.container, opts)
            .await
            .context("cannot create exec")?;
        match self
            .docker
            .start_exec(&created.id, None)
            .await
            .context("cannot start exec")?
        {
            StartExecResults::Attached { mut output, .. } => {
                let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
                while let Some(chunk) = output.next().await {
                    let chunk = chunk.context("lost the exec's output stream")?;
                    if !stream {
                        continue;
                    }
                    match chunk {
                        LogOutput::StdErr { message } => {
                            let _ = err.write_all(&message);
                            let _ = err.flush();
                        }
                        LogOutput::StdOut { message } | LogOutput::Console { message } => {
                            let _ = out.write_all(&message);
                            let _ = out.flush();
                        }
                        LogOutput::StdIn { .. } => {}
                    }
                }
            }
            StartExecResults::Detached => {}
        }
        let inspect = self
            .docker
            .inspect_exec(&created.id)
            .await
            .context("cannot inspect exec")?;
        Ok(inspect.exit_code.unwrap_or(-1))
    }

    /// Stop the command's process group: SIGTERM, then SIGKILL after a few seconds.
    pub async fn interrupt(&self) {
        let script = format!(
            "p=$(cat {pf} 2>/dev/null) || exit 0; kill -TERM -- -$p 2>/dev/null || kill -TERM $p 2>/dev/null; \
             for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 -- -$p 2>/dev/null || kill -0 $p 2>/dev/null || exit 0; sleep 0.5; done; \
             kill -KILL -- -$p 2>/dev/null || kill -KILL $p 2>/dev/null; rm -f {pf}",
            pf = self.pidfile
        );
        let argv = vec!["sh".to_string(), "-c".to_string(), script];
        let _ = self.run_raw(argv, false).await;
    }
}
