//! `cargo xtask install [--build]`: put the last build's binaries on the dev container's PATH the
//! way the fork does it (`KEEPBUNDLE=1 hack/make.sh install-binary`, every era has it; a plain copy
//! of the daemon bundle otherwise), and restart a daemon the tool started on the new binaries.

use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;

use crate::container::DevContainer;
use crate::dev::{runtime, Dev};
use crate::exec::Output;
use crate::{binary, daemon, docker, Global};

#[derive(Args, Debug)]
pub struct InstallArgs {
    /// Run `cargo xtask binary` first
    #[arg(long)]
    pub build: bool,
}

pub fn run(global: &Global, args: &InstallArgs) -> Result<u8> {
    let dev = Dev::open(global, true)?;
    if !args.build {
        ensure_built(&dev)?;
    }
    runtime()?.block_on(async {
        let docker = docker::connect().await?;
        let Some(ctr) = dev.up(&docker, false).await? else {
            return Ok(130);
        };
        if args.build {
            let (code, _) =
                binary::build(&dev, &docker, &ctr, &["binary".to_string()], Output::Stream).await?;
            if code != 0 {
                return Ok(crate::exit_code(code));
            }
        }
        let exec = dev.exec(&docker, &ctr);
        // Stopped first: its binaries are replaced under it, as smoke does.
        let restart = daemon::running(&exec).await?;
        if restart {
            daemon::stop(&exec, Duration::from_secs(10)).await?;
        }
        install(&dev, &docker, &ctr, Output::Stream).await?;
        if restart {
            daemon::start(&exec).await?;
            if daemon::wait_ready(&exec, Duration::from_secs(30)).await? != daemon::Ready::Yes {
                bail!(
                    "the restarted dockerd did not come up: see {}",
                    dev.fork.root.join(daemon::LOG)
                );
            }
            eprintln!("xtask: restarted the running dockerd on the new binaries");
        }
        Ok(0)
    })
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
    dev: &Dev,
    docker: &bollard::Docker,
    ctr: &DevContainer,
    out: Output,
) -> Result<()> {
    let exec = dev.exec(docker, ctr);
    let (code, output) = if dev.fork.accepts_bundle("install-binary") {
        let cmd = ["env", "KEEPBUNDLE=1", "hack/make.sh", "install-binary"].map(String::from);
        exec.run(&cmd, out).await?
    } else {
        let Some(dir) = daemon_dir(dev) else {
            bail!("no dockerd built: run `cargo xtask binary`")
        };
        let script = format!(
            "for f in {dir}/*; do case \"$f\" in *.md5|*.sha256) ;; *) cp -fL \"$f\" /usr/local/bin/ || exit 1;; esac; done"
        );
        exec.script(&script, out).await?
    };
    binary::give_back_bundles(&exec, &dev.fork).await?;
    if code != 0 {
        bail!("install failed (exit {code}){}", tail_of(&output, 15));
    }
    Ok(())
}

/// The last `n` lines of captured output, as an indented block (empty when nothing was captured).
pub fn tail_of(output: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(n)..];
    tail.iter().map(|l| format!("\n  | {l}")).collect()
}
