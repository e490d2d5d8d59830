//! The freshly built dockerd, run inside the dev container: started in debug mode with its data
//! root on the container's `/var/lib/docker` volume and its log under `bundles/`, waited for,
//! stopped (SIGTERM, then SIGKILL after a bound), and its data cleaned.

use std::time::Duration;

use anyhow::Result;

use crate::exec::{Exec, Output};

/// The pid of the daemon the tool started (absent: none started by the tool).
const PIDFILE: &str = "/var/run/moby-xtask-dockerd.pid";
/// Relative to the fork root (and the container's workdir).
pub const LOG: &str = "bundles/xtask-smoke/dockerd.log";

/// Whether a daemon started by the tool is running.
pub async fn running(exec: &Exec<'_>) -> Result<bool> {
    let script = format!("p=$(cat {PIDFILE} 2>/dev/null) && kill -0 \"$p\" 2>/dev/null");
    Ok(exec.script(&script, Output::Discard).await?.0 == 0)
}

/// Start dockerd in the background, as `hack/make/run` would (`--debug`, `vfs` unless
/// `DOCKER_GRAPHDRIVER` says otherwise, `DOCKERD_ARGS` appended). The log starts empty.
pub async fn start(exec: &Exec<'_>) -> Result<()> {
    let script = format!(
        "mkdir -p \"$(dirname {LOG})\" && : > {LOG} && \
         setsid sh -c 'echo $$ > {PIDFILE}; exec dockerd --debug --host unix:///var/run/docker.sock \
           --data-root /var/lib/docker --storage-driver \"${{DOCKER_GRAPHDRIVER:-vfs}}\" $DOCKERD_ARGS' \
           >> {LOG} 2>&1 < /dev/null &"
    );
    let (code, out) = exec.script(&script, Output::Capture).await?;
    anyhow::ensure!(
        code == 0,
        "cannot start dockerd: {}",
        String::from_utf8_lossy(&out).trim()
    );
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
pub enum Ready {
    Yes,
    /// The daemon exited before it answered.
    Died,
    TimedOut,
}

/// Wait until the daemon answers (`docker version`, whose first request is `/_ping`).
pub async fn wait_ready(exec: &Exec<'_>, timeout: Duration) -> Result<Ready> {
    let tenths = (timeout.as_millis() / 100).max(1);
    let script = format!(
        "p=$(cat {PIDFILE}) || exit 3; i=0; while [ $i -lt {tenths} ]; do \
           docker version >/dev/null 2>&1 && exit 0; kill -0 \"$p\" 2>/dev/null || exit 3; \
           sleep 0.1; i=$((i+1)); done; exit 4"
    );
    Ok(match exec.script(&script, Output::Discard).await?.0 {
        0 => Ready::Yes,
        3 => Ready::Died,
        _ => Ready::TimedOut,
    })
}

/// SIGTERM, then SIGKILL after `bound`. Returns whether SIGKILL was needed.
pub async fn stop(exec: &Exec<'_>, bound: Duration) -> Result<bool> {
    let tenths = (bound.as_millis() / 100).max(1);
    let script = format!(
        "p=$(cat {PIDFILE} 2>/dev/null) || exit 0; kill -TERM \"$p\" 2>/dev/null; i=0; \
         while kill -0 \"$p\" 2>/dev/null && [ $i -lt {tenths} ]; do sleep 0.1; i=$((i+1)); done; \
         rc=0; if kill -0 \"$p\" 2>/dev/null; then kill -KILL -- -\"$p\" 2>/dev/null || kill -KILL \"$p\"; rc=9; sleep 0.2; fi; \
         rm -f {PIDFILE}; exit $rc"
    );
    Ok(exec.script(&script, Output::Discard).await?.0 == 9)
}

/// Remove what the daemon left: its mounts, its data root's content, its run dir.
pub async fn clean(exec: &Exec<'_>) -> Result<()> {
    let script = "grep -oE ' /var/(lib|run)/docker[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null; \
         rm -rf /var/lib/docker/* /var/run/docker /var/run/docker.sock /var/run/docker.pid; exit 0";
    exec.script(script, Output::Discard).await?;
    Ok(())
}
