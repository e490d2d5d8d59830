//! `cargo xtask run [--build] [--watch]`: like `make run`, the last build installed and its dockerd
//! in the foreground of the dev container, its log streaming. It also listens on a socket under
//! the bind-mounted `bundles/`, in a directory only the fork's owner can enter, so the host's
//! docker CLI reaches it: the tool prints the `DOCKER_HOST` to use once it answers. Ctrl-C stops
//! it (SIGTERM to its whole session, SIGKILL after 5 s) and cleans its data. With `--watch` the
//! live loop (`ops/live.rs`) keeps it running across edits.

use std::time::Duration;

use anyhow::{bail, Result};
use bollard::Docker;
use serde_json::json;

use crate::cancel::DAEMON_STOP;
use crate::context::{exit_code, Context};
use crate::dev::{host_env, Dev, Exec, Output, Work};
use crate::flags;
use crate::fork;
use crate::ops::{daemon, install, kept_daemon, live};
use crate::source::Source;

/// The host-reachable socket, relative to the fork root.
const SOCKET: &str = "bundles/xtask-run/docker.sock";

impl flags::Run {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        let dev = Dev::open(cx, true)?;
        if self.watch && host_env::process_env("DELVE_PORT").is_some_and(|p| !p.is_empty()) {
            bail!("--watch restarts dockerd on every change, which a debugger session cannot follow: unset DELVE_PORT, or drop --watch");
        }
        let watch = self.watch;
        // A watch loop starts by building (as air does) when there is nothing to serve yet.
        let first_build = watch && !self.build && install::daemon_dir(&dev).is_none();
        if first_build {
            cx.ui.note(format!(
                "no dockerd built in {}/bundles yet: building it first",
                dev.fork.root
            ));
        }
        install::with_build(cx, &dev, self.build || first_build, async |w| {
            let result = serve(w, watch).await;
            let host_socket = dev.fork.root.join(SOCKET);
            let _ = std::fs::remove_file(&host_socket);
            if let Some(dir) = host_socket.parent() {
                let _ = std::fs::remove_dir(dir);
            }
            result
        })
        .await
    }
}

/// Install, then dockerd in the foreground until it exits or a signal comes (or, with `watch`, the
/// live loop); its data cleaned.
async fn serve(w: &Work<'_>, watch: bool) -> Result<u8> {
    let (cx, dev, exec) = (w.cx, w.dev, w.exec());
    daemon::stop(&exec, cx.cancel.limit(DAEMON_STOP)).await?;
    kept_daemon::stop_before_another(w).await?;
    daemon::clean(&exec).await?;
    if !watch {
        // Before the command is made: the DELVE_PORT mode looks dockerd up on the PATH.
        install::install(w, Output::Stream).await?;
    }
    let host_socket = dev.fork.root.join(SOCKET);
    // On an engine elsewhere, no socket of it can reach this machine: the daemon keeps the
    // dev container's default one, which `shell` reaches.
    let elsewhere = matches!(w.ctr.source, Source::Synced(_));
    let mut cmd = daemon::command(dev);
    if !elsewhere {
        if let Some(dir) = host_socket.parent() {
            fs_err::create_dir_all(dir)?;
            fork::own(&dev.fork, dir)?;
            // The socket is root:<the owner's group> 0660: its directory keeps everyone else out
            // (a group such as `users` may be shared).
            use std::os::unix::fs::PermissionsExt;
            fs_err::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let (_, gid) = fork::owner(&dev.fork)?;
        cmd.extend([
            "--host".into(),
            format!("unix://{}/{SOCKET}", dev.spec.workdir),
            "--group".into(),
            gid.to_string(),
        ]);
    }
    if let Some(port) = host_env::process_env("DELVE_PORT").filter(|p| !p.is_empty()) {
        cmd = under_delve(cx, dev, &exec, cmd, &port).await?;
    }
    if watch {
        let ready = match elsewhere {
            true => "it listens in the dev container on the engine elsewhere (`cargo xtask shell -- docker version`)".to_string(),
            false => format!("export DOCKER_HOST=unix://{host_socket}"),
        };
        cx.ui.status("Running", cmd.join(" "));
        return live::run_watch(w, &cmd, &ready).await;
    }
    cx.ui.status("Running", cmd.join(" "));
    let announce = async {
        if elsewhere {
            cx.ui.note(
                "the engine is on another machine: this dockerd listens in the dev container \
                 there (`cargo xtask shell -- docker version` reaches it)",
            );
            return;
        }
        let ep = format!("unix://{host_socket}");
        for _ in 0..600 {
            if answers(&host_socket).await {
                cx.ui
                    .result(format!("dockerd is up: export DOCKER_HOST={ep}"));
                cx.ui
                    .event(json!({"step": "run", "status": "ok", "docker_host": ep}));
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let (ran, ()) = tokio::join!(w.run(&cmd, Output::Stream), async {
        tokio::select! {
            () = announce => {}
            _ = cx.cancel.cancelled() => {}
        }
    });
    daemon::clean(&exec).await?;
    Ok(exit_code(ran?.code))
}

/// The fork's `DELVE_PORT` mode (`hack/make/run` from 19.03): dockerd under `dlv exec`, headless
/// on the port part of `DELVE_PORT` (the Makefile publishes `DELVE_PORT` itself, and so does the
/// dev container). dlv holds dockerd until a client continues it.
async fn under_delve(
    cx: &Context,
    dev: &Dev,
    exec: &Exec<'_>,
    cmd: Vec<String>,
    delve_port: &str,
) -> Result<Vec<String>> {
    let Some(words) = &dev.fork.daemon.delve else {
        cx.ui.warn(
            "DELVE_PORT is set, but this fork's hack/make/run has no debugger mode: dockerd runs without dlv",
        );
        return Ok(cmd);
    };
    let port = delve_port.rsplit(':').next().unwrap_or(delve_port);
    let dlv = exec
        .script("command_path", &["dlv"], Output::Capture)
        .await?;
    if dlv.code != 0 {
        bail!(
            "DELVE_PORT is set, but the dev image has no `dlv`: the fork's Dockerfile installs it \
             (its delve stage, linux/amd64 and arm64); rebuild the image (`cargo xtask image \
             --rebuild`) or unset DELVE_PORT"
        );
    }
    let dockerd = exec
        .script("command_path", &[&cmd[0]], Output::Capture)
        .await?
        .text();
    let mut wrapped: Vec<String> = words.iter().map(|w| w.replace("{port}", port)).collect();
    wrapped.extend(["exec".to_string(), dockerd, "--".to_string()]);
    wrapped.extend(cmd.into_iter().skip(1));
    let host_port = delve_port.split(':').rev().nth(1).unwrap_or(port);
    cx.ui.note(format!(
        "dockerd waits for a debugger: `dlv connect 127.0.0.1:{host_port}`, then `continue` \
         (build with DOCKER_DEBUG=1 for unoptimised code)"
    ));
    Ok(wrapped)
}

/// Whether a daemon answers `/_ping` on the unix socket at `path`.
async fn answers(path: &camino::Utf8Path) -> bool {
    if !path.exists() {
        return false;
    }
    match Docker::connect_with_unix(path.as_str(), 2, bollard::API_DEFAULT_VERSION) {
        Ok(d) => d.ping().await.is_ok(),
        Err(_) => false,
    }
}
