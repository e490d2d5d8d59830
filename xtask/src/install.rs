//! `cargo xtask install [--build]`: put the last build's binaries on the dev container's PATH the
//! way the fork does it (`KEEPBUNDLE=1 hack/make.sh install-binary`; a plain copy of the daemon
//! bundle where the fork has no such bundle), and restart a daemon the tool started on them.

use std::time::Duration;

use anyhow::{bail, Result};

use crate::container::DevContainer;
use crate::context::{exit_code, Context};
use crate::dev::Dev;
use crate::exec::Output;
use crate::lock::ForkLock;
use crate::{binary, daemon, docker, flags, handback};

impl flags::Install {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        let dev = Dev::open(cx, true)?;
        if !self.build {
            ensure_built(&dev)?;
        }
        let docker = docker::connect(cx.ui).await?;
        let (_lock, ctr) = match with_build(cx, &dev, &docker, self.build).await? {
            Ok(ready) => ready,
            Err(code) => return Ok(code),
        };
        let exec = dev.exec(cx, &docker, &ctr);
        // Stopped first: its binaries are replaced under it, as smoke does.
        let restart = daemon::running(&exec).await?;
        if restart {
            daemon::stop(&exec, Duration::from_secs(10)).await?;
        }
        let t = std::time::Instant::now();
        install(cx, &dev, &docker, &ctr, Output::Stream).await?;
        cx.ui.step("Installed", "the last build", t.elapsed(), "");
        if restart {
            daemon::start(&exec, &daemon::command(&dev)).await?;
            let ready = cx
                .cancel
                .run(daemon::wait_ready(&exec, Duration::from_secs(30)))
                .await;
            if !matches!(ready, Ok(Ok(daemon::Ready::Yes))) {
                daemon::stop(&exec, Duration::from_secs(10)).await?;
                ready??;
                bail!(
                    "the restarted dockerd did not come up: see {}",
                    dev.fork.root.join(daemon::LOG)
                );
            }
            cx.ui
                .status("Restarted", "the running dockerd on the new binaries");
        }
        Ok(0)
    }
}

/// The work lock and the dev container, with a build in the fork: `--build` runs `binary` first
/// (its failure, `Err(exit code)`, ends the task), else a build must be there already.
pub async fn with_build(
    cx: &Context,
    dev: &Dev,
    docker: &bollard::Docker,
    build: bool,
) -> Result<std::result::Result<(ForkLock, DevContainer), u8>> {
    if !build {
        ensure_built(dev)?;
    }
    let (lock, ctr) = dev.up_for_work(cx, docker, false).await?;
    if build {
        let bundles = ["binary".to_string()];
        let ran = binary::build(cx, dev, docker, &ctr, &bundles, Output::Stream).await?;
        if ran.code != 0 {
            return Ok(Err(exit_code(ran.code)));
        }
    }
    Ok(Ok((lock, ctr)))
}

/// The fork's daemon bundle dir holding `dockerd` (versioned or flat layout), relative to the root.
pub fn daemon_dir(dev: &Dev) -> Option<String> {
    let version = dev.version();
    ["binary-daemon", "binary"].iter().find_map(|bundle| {
        dev.fork
            .bundle_outputs(bundle, &version)
            .into_iter()
            .map(|o| o.dir)
            .find(|d| {
                d.ends_with("binary-daemon") && dev.fork.root.join(d).join("dockerd").exists()
            })
            .map(|d| d.to_string())
    })
}

pub fn ensure_built(dev: &Dev) -> Result<()> {
    if daemon_dir(dev).is_none() {
        bail!("no dockerd built in {}/bundles yet: run `cargo xtask binary` first (or `cargo xtask install --build`)", dev.fork.root);
    }
    Ok(())
}

/// Install into the container's PATH; output as `out` says. Errors carry the captured output.
pub async fn install(
    cx: &Context,
    dev: &Dev,
    docker: &bollard::Docker,
    ctr: &DevContainer,
    out: Output,
) -> Result<()> {
    let exec = dev.exec(cx, docker, ctr);
    // The build this install puts in place, as the record names it; the same one twice in a row
    // (`run` after `run`, `smoke` after `install`) is not copied again.
    let key = crate::build_record::read(&dev.fork).map(|(r, at)| {
        let nanos = at
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{} {} {} {nanos}", r.commit, r.version, r.image)
    });
    if let Some(k) = &key {
        if exec
            .script("installed_is", &[k], Output::Discard)
            .await?
            .code
            == 0
        {
            cx.ui
                .verbose("Skipped", "install: this build is installed already");
            return Ok(());
        }
    }
    let ran = if dev.fork.accepts_bundle("install-binary") {
        let cmd = ["env", "KEEPBUNDLE=1", "hack/make.sh", "install-binary"].map(String::from);
        dev.run_group(cx, docker, ctr, &cmd, out).await?
    } else {
        let Some(dir) = daemon_dir(dev) else {
            bail!("no dockerd built: run `cargo xtask binary`")
        };
        let inst = &dev.fork.install_dir;
        let dest = inst.path(crate::host_env::process_env(&inst.prefix_var).as_deref());
        exec.script("install_copy", &[&dir, &dest], out).await?
    };
    handback::give_back(&exec, &dev.fork).await?;
    if ran.code != 0 {
        bail!(
            "install failed (exit {}){}",
            ran.code,
            crate::text::tail(&String::from_utf8_lossy(&ran.output), 15)
        );
    }
    if let Some(k) = &key {
        exec.script("mark_installed", &[k], Output::Discard).await?;
    }
    Ok(())
}
