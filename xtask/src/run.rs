//! `cargo xtask run [--build]`: like `make run`, the last build installed and its dockerd in the
//! foreground of the dev container, its log streaming. It also listens on a socket under the
//! bind-mounted `bundles/`, owned by the fork owner's group, so the host's docker CLI reaches it:
//! the tool prints the `DOCKER_HOST` to use once it answers. Ctrl-C stops it (SIGTERM to its
//! whole session, SIGKILL after 5 s) and cleans its data.

use std::time::Duration;

use anyhow::Result;
use bollard::Docker;
use serde_json::json;

use crate::context::{exit_code, Context};
use crate::dev::Dev;
use crate::exec::Output;
use crate::{daemon, docker, flags, fork, handback, install};

/// The host-reachable socket, relative to the fork root.
const SOCKET: &str = "bundles/xtask-run/docker.sock";

impl flags::Run {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        let dev = Dev::open(cx, true)?;
        if !self.build {
            install::ensure_built(&dev)?;
        }
        let docker = docker::connect(cx.ui).await?;
        let (_lock, ctr) = match install::with_build(cx, &dev, &docker, self.build).await? {
            Ok(ready) => ready,
            Err(code) => return Ok(code),
        };
        let exec = dev.exec(cx, &docker, &ctr);
        daemon::stop(&exec, Duration::from_secs(10)).await?;
        install::install(cx, &dev, &docker, &ctr, Output::Stream).await?;
        daemon::clean(&exec).await?;
        let host_socket = dev.fork.root.join(SOCKET);
        if let Some(dir) = host_socket.parent() {
            fs_err::create_dir_all(dir)?;
        }
        let (_, gid) = fork::owner(&dev.fork)?;
        let mut cmd = daemon::command(&dev);
        let in_container = format!("unix://{}/{SOCKET}", dev.spec.workdir);
        cmd.extend([
            "--host".into(),
            in_container,
            "--group".into(),
            gid.to_string(),
        ]);
        cx.ui.status("Running", cmd.join(" "));
        let announce = async {
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
        let (ran, ()) = tokio::join!(
            dev.run_group(cx, &docker, &ctr, &cmd, Output::Stream),
            async {
                tokio::select! {
                    () = announce => {}
                    _ = cx.cancel.cancelled() => {}
                }
            }
        );
        daemon::clean(&exec).await?;
        let _ = std::fs::remove_file(&host_socket);
        if let Some(dir) = host_socket.parent() {
            let _ = std::fs::remove_dir(dir);
        }
        handback::give_back(&exec, &dev.fork).await?;
        Ok(exit_code(ran?.code))
    }
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
