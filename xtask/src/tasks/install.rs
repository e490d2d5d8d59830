//! `cargo xtask install [--build]`: put the last build's binaries on the dev container's PATH the
//! way the fork does it (see `ops/install.rs`), and restart a daemon the tool started on them.

use anyhow::{bail, Result};

use crate::cancel::DAEMON_STOP;
use crate::context::Context;
use crate::dev::{Dev, Output, Work};
use crate::flags;
use crate::ops::{daemon, install, kept_daemon};

impl flags::Install {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        let dev = Dev::open(cx, true)?;
        install::with_build(cx, &dev, self.build, async |w| install_and_restart(w).await).await?;
        Ok(0)
    }
}

async fn install_and_restart(w: &Work<'_>) -> Result<()> {
    let (cx, exec) = (w.cx, w.exec());
    // Stopped first: its binaries are replaced under it, as smoke does.
    let restart = daemon::running(&exec).await?;
    if restart {
        daemon::stop(&exec, cx.cancel.limit(DAEMON_STOP)).await?;
    }
    let t = std::time::Instant::now();
    install::install(w, Output::Stream).await?;
    cx.ui.step("Installed", "the last build", t.elapsed(), "");
    if !restart {
        return Ok(());
    }
    kept_daemon::stop_before_another(w).await?;
    daemon::start(&exec, &daemon::command(w.dev)).await?;
    let ready = cx
        .cancel
        .run(daemon::wait_ready(
            &exec,
            std::time::Duration::from_secs(30),
        ))
        .await;
    if !matches!(ready, Ok(Ok(daemon::Ready::Yes))) {
        daemon::stop(&exec, cx.cancel.limit(DAEMON_STOP)).await?;
        ready??;
        bail!(
            "the restarted dockerd did not come up: see {}",
            w.dev.fork.root.join(daemon::LOG)
        );
    }
    cx.ui
        .status("Restarted", "the running dockerd on the new binaries");
    Ok(())
}
