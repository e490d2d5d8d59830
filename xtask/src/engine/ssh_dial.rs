//! `ssh://[user@]host[:port]` the docker CLI's way: each connection is the system `ssh` running
//! `docker system dial-stdio` on the engine's host, its stdin/stdout the connection. bollard
//! talks to a private unix socket (in a 0700 directory of its own) whose every connection this
//! module pipes through such an `ssh`; one control master (`ControlPersist`) makes the later
//! ones cheap. What `ssh` says on stderr is kept for the error message (authentication, host key).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context as _, Result};
use tokio::io::AsyncReadExt;
use tokio::net::UnixListener;
use tokio::process::Command;

/// A running dialer: the unix socket bollard connects to, and what ssh printed last.
pub struct Dialer {
    pub socket: PathBuf,
    dir: PathBuf,
    stderr: Arc<Mutex<String>>,
}

impl Dialer {
    /// The last non-empty line `ssh` wrote on stderr, if any.
    pub fn last_error(&self) -> Option<String> {
        let text = self.stderr.lock().ok()?.clone();
        text.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_string())
    }
}

impl Drop for Dialer {
    fn drop(&mut self) {
        // The control master goes with its socket directory.
        let _ = std::process::Command::new("ssh")
            .args(["-o", &format!("ControlPath={}/cm", self.dir.display())])
            .args(["-O", "exit", "moby-xtask"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `ssh`'s arguments for `ssh://[user@]host[:port]` (a path after the host is refused, as the
/// docker CLI refuses it).
pub fn ssh_args(url: &str) -> Result<Vec<String>> {
    let rest = url.strip_prefix("ssh://").unwrap_or(url);
    if rest.contains('/') && !rest.ends_with('/') {
        bail!("{url}: an ssh endpoint has no path (ssh://[user@]host[:port])");
    }
    let rest = rest.trim_end_matches('/');
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => (h, Some(p)),
        _ => (hostport, None),
    };
    if host.is_empty() {
        bail!("{url}: no host (ssh://[user@]host[:port])");
    }
    let mut args = Vec::new();
    if let Some(u) = user {
        args.extend(["-l".to_string(), u.to_string()]);
    }
    if let Some(p) = port {
        args.extend(["-p".to_string(), p.to_string()]);
    }
    args.extend(["--".to_string(), host.to_string()]);
    Ok(args)
}

/// Start the dialer for `url` in the current runtime; it stops (control master, socket
/// directory) when dropped, with the [`Engine`](super::Engine) that owns it.
pub fn start(url: &str) -> Result<Dialer> {
    let target = ssh_args(url)?;
    // In the private runtime directory: only this user reaches the socket and the master.
    let dir = crate::private::runtime_dir()?
        .into_std_path_buf()
        .join(format!("ssh-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let socket = dir.join("docker.sock");
    let listener = UnixListener::bind(&socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    let stderr = Arc::new(Mutex::new(String::new()));
    let control = format!("ControlPath={}/cm", dir.display());
    let log = stderr.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let mut ssh = Command::new("ssh");
            ssh.args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=15"])
                .args(["-o", "ControlMaster=auto", "-o", &control])
                .args(["-o", "ControlPersist=30", "-T"])
                .args(&target)
                .args(["docker", "system", "dial-stdio"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            let log = log.clone();
            tokio::spawn(async move {
                let Ok(mut child) = ssh.spawn() else {
                    if let Ok(mut l) = log.lock() {
                        l.push_str("cannot run `ssh` (is the OpenSSH client installed?)\n");
                    }
                    return;
                };
                let (Some(mut to), Some(mut from), Some(mut err)) =
                    (child.stdin.take(), child.stdout.take(), child.stderr.take())
                else {
                    return;
                };
                let (mut rd, mut wr) = conn.into_split();
                // Each direction to its end: the client half-closing (an exec attach that sends
                // nothing) closes ssh's stdin, which `dial-stdio` passes on as a half-close,
                // while the engine's answer still flows back until it ends.
                let up = async move {
                    let _ = tokio::io::copy(&mut rd, &mut to).await;
                    drop(to);
                };
                let down = async move {
                    let _ = tokio::io::copy(&mut from, &mut wr).await;
                    let _ = tokio::io::AsyncWriteExt::shutdown(&mut wr).await;
                };
                let copy = async {
                    tokio::join!(up, down);
                };
                // What ssh says is kept as soon as it has said it (ssh exits before the client
                // sees the connection close, and the error is read right after).
                let errs = async {
                    let mut text = String::new();
                    let _ = err.read_to_string(&mut text).await;
                    if !text.trim().is_empty() {
                        if let Ok(mut l) = log.lock() {
                            l.push_str(&text);
                        }
                    }
                };
                tokio::join!(copy, errs);
                let _ = child.kill().await;
            });
        }
    });
    Ok(Dialer {
        socket,
        dir,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_urls() {
        let a = |u: &str| ssh_args(u).unwrap().join(" ");
        assert_eq!(a("ssh://box"), "-- box");
        assert_eq!(a("ssh://me@box:2222"), "-l me -p 2222 -- box");
        assert_eq!(a("ssh://me@127.0.0.1:22/"), "-l me -p 22 -- 127.0.0.1");
        assert!(ssh_args("ssh://box/var/run/docker.sock").is_err());
        assert!(ssh_args("ssh://me@").is_err());
    }
}
