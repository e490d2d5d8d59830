//! The freshly built dockerd, run inside the dev container: started in debug mode with its data
//! root on the container's `/var/lib/docker` volume and its log under `bundles/`, waited for,
//! stopped (SIGTERM, then SIGKILL of its whole session after a bound), and its data cleaned.
//! Each step is one short exec of the script library, so each is timed and attributable.

use std::time::Duration;

use anyhow::Result;

use crate::dev::exec::{Exec, Output};
use crate::dev::host_env;
use crate::dev::Dev;

/// Relative to the fork root (and the container's workdir).
pub const LOG: &str = "bundles/xtask-smoke/dockerd.log";

/// Whether a daemon started by the tool is running.
pub async fn running(exec: &Exec<'_>) -> Result<bool> {
    Ok(exec
        .script("daemon_running", &[], Output::Discard)
        .await?
        .code
        == 0)
}

/// The command line that starts the nested daemon as the fork's own `hack/make/run` does:
/// its debug flag, the default socket, the data root under the era's flag (`--graph` in 17.04),
/// the storage driver the host names in the fork's variable (not the one the Makefile derives
/// from the outer daemon: that driver need not nest), else the fork's default; the rest of its
/// `args=( … )` (not its TCP listener) and the flags of its variables; then the words of its
/// extra-arguments variable (`DOCKERD_ARGS`).
pub fn command(dev: &Dev) -> Vec<String> {
    let flags = &dev.fork.daemon;
    let host = |k: &str| host_env::process_env(k);
    let driver =
        host(&flags.storage_driver_var).unwrap_or_else(|| flags.storage_driver_default.clone());
    let mut cmd = vec!["dockerd".to_string()];
    cmd.extend(flags.debug.clone());
    cmd.extend(
        [
            "--host",
            "unix:///var/run/docker.sock",
            flags.data_root.flag(),
            "/var/lib/docker",
        ]
        .map(String::from),
    );
    cmd.extend(["--storage-driver".to_string(), driver]);
    // The rest of what the fork's `hack/make/run` passes; never its `--host tcp://0.0.0.0:2375`:
    // an unauthenticated listener on every address of a privileged container is root on this
    // host for any local user.
    cmd.extend(flags.run_args.iter().map(|a| a.word(host)));
    for switch in &flags.run_switches {
        cmd.extend(switch.words(host(switch.var()).as_deref()));
    }
    if let Some(extra) = flags.extra_args_var.as_deref().and_then(host) {
        cmd.extend(extra.split_whitespace().map(str::to_string));
    }
    cmd
}

/// Start the daemon in the background; its log (`LOG`) starts empty.
pub async fn start(exec: &Exec<'_>, command: &[String]) -> Result<()> {
    start_logged(exec, LOG, command).await
}

/// [`start`] with its log at `log` (relative to the fork root).
pub async fn start_logged(exec: &Exec<'_>, log: &str, command: &[String]) -> Result<()> {
    let mut args = vec![log];
    args.extend(command.iter().map(String::as_str));
    crate::fail::point("daemon-start").await?;
    let ran = exec.script("daemon_start", &args, Output::Capture).await?;
    anyhow::ensure!(ran.code == 0, "cannot start dockerd: {}", ran.text());
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
    let tenths = (timeout.as_millis() / 100).max(1).to_string();
    Ok(
        match exec
            .script("daemon_wait", &[&tenths], Output::Discard)
            .await?
            .code
        {
            0 => Ready::Yes,
            3 => Ready::Died,
            _ => Ready::TimedOut,
        },
    )
}

/// SIGTERM, then SIGKILL after `bound`; then whatever is left of its session (containerd).
/// Returns whether SIGKILL was needed.
pub async fn stop(exec: &Exec<'_>, bound: Duration) -> Result<bool> {
    let tenths = (bound.as_millis() / 100).max(1).to_string();
    Ok(exec
        .script("daemon_stop", &[&tenths], Output::Discard)
        .await?
        .code
        == 9)
}

/// Remove what the daemon left: its mounts, its data root's content, its run dir.
pub async fn clean(exec: &Exec<'_>) -> Result<()> {
    exec.script("daemon_clean", &[], Output::Discard).await?;
    Ok(())
}
