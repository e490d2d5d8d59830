//! A run of the real binary that a test watches as it goes, to send it a signal at a chosen point.

use std::process::{Command, Stdio};
use std::sync::Mutex;

use anyhow::{bail, ensure, Context, Result};

use super::command::Xtask;

/// A running `xtask` whose output is collected as it comes, so a test can wait for a point in
/// its run and send it a signal there.
pub struct Running {
    child: std::process::Child,
    out: std::sync::Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Start xtask with `args` and `env` (in the test environment: [`Xtask`]).
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Result<Running> {
        Xtask::new(args).envs(env).spawn()
    }

    /// Start `c` (an [`Xtask`]'s command) with no stdin and its stdout and stderr collected.
    pub fn start(mut c: Command) -> Result<Running> {
        use std::io::BufRead;
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().context("cannot start xtask")?;
        let out = std::sync::Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        let pipes: Vec<Box<dyn std::io::Read + Send>> = vec![
            Box::new(child.stdout.take().context("stdout")?),
            Box::new(child.stderr.take().context("stderr")?),
        ];
        for pipe in pipes {
            let out = out.clone();
            readers.push(std::thread::spawn(move || {
                for line in std::io::BufReader::new(pipe).lines().map_while(|l| l.ok()) {
                    let mut o = out.lock().unwrap_or_else(|p| p.into_inner());
                    o.push_str(&line);
                    o.push('\n');
                }
            }));
        }
        Ok(Running {
            child,
            out,
            readers,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything printed so far (stdout and stderr, interleaved by line).
    pub fn output(&self) -> String {
        self.out.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Wait until the output holds `needle` (an error if the run ends first or `within` passes).
    pub fn wait_for(&mut self, needle: &str, within: std::time::Duration) -> Result<()> {
        let t = std::time::Instant::now();
        loop {
            if self.output().contains(needle) {
                return Ok(());
            }
            if let Some(st) = self.child.try_wait()? {
                bail!(
                    "xtask ended ({st}) before printing {needle:?}:\n{}",
                    self.output()
                );
            }
            if t.elapsed() > within {
                bail!("no {needle:?} within {within:?}:\n{}", self.output());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Whether the run has already ended.
    pub fn ended(&mut self) -> Result<bool> {
        Ok(self.child.try_wait()?.is_some())
    }

    /// Send `sig` (`INT`, `TERM`, `HUP`) to the xtask process.
    pub fn signal(&self, sig: &str) -> Result<()> {
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()?;
        ensure!(st.success(), "kill -{sig} {} failed", self.pid());
        Ok(())
    }

    /// Wait for the end (at most `within`, then kill it and fail): exit code and all output.
    pub fn finish(mut self, within: std::time::Duration) -> Result<(Option<i32>, String)> {
        let t = std::time::Instant::now();
        let status = loop {
            if let Some(st) = self.child.try_wait()? {
                break st;
            }
            if t.elapsed() > within {
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!("xtask did not end within {within:?}:\n{}", self.output());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        Ok((status.code(), self.output()))
    }
}

impl Drop for Running {
    /// A run the test let go of while it still runs (a step that failed half-way): stopped as a
    /// user would stop it (SIGTERM: the tool stops what it started in the container), killed if
    /// it has not ended within 30 s, so that the next step does not meet it.
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let _ = self.signal("TERM");
        let t = std::time::Instant::now();
        while matches!(self.child.try_wait(), Ok(None))
            && t.elapsed() < std::time::Duration::from_secs(30)
        {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
