//! The dev image: a prebuilt one (`--image`, `$MOBY_XTASK_IMAGE`, `.moby-xtask.toml`), used as is
//! or pulled; or the fork's own, built from its Dockerfile with the era's target and tagged as its
//! Makefile tags it, but only when a content hash of what the build reads has changed (a label on
//! the image; see `image_build.rs`). The build runs the docker CLI as a child process, which a
//! signal stops.

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::process::Stdio;
use std::time::Instant;

use anyhow::{anyhow, bail, Context as _, Result};
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;
use hack_compat::Fork;

use super::image_build::Plan;
use crate::cancel::{Interrupted, CHILD_STOP};
use crate::context::Context;
use crate::engine::Engine;
use crate::fork::ImageSource;

/// The id of a usable dev image: prebuilt (present, else pulled) or the fork's (current, else built).
pub async fn resolve(
    cx: &Context,
    engine: &Engine,
    fork: &Fork,
    source: &ImageSource,
    rebuild: bool,
) -> Result<String> {
    match source {
        ImageSource::Prebuilt(r) => prebuilt(cx, engine, r).await,
        ImageSource::Fork(tag) => {
            let t = Instant::now();
            let plan = Plan::new(fork, tag)?;
            if !rebuild {
                let current = plan.current(engine).await?;
                let verdict = if current.is_some() {
                    "current"
                } else {
                    "stale"
                };
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                cx.ui.verbose(
                    "Checked",
                    format!("dev image {tag}: {verdict} ({ms:.1} ms)"),
                );
                if let Some(id) = current {
                    return Ok(id);
                }
            }
            build(cx, engine, &plan).await?;
            engine.image_id(tag).await
        }
    }
}

/// Run the build through the CLI (docker, or podman), with its own progress display, until it
/// ends or a signal arrives (then the CLI gets the same signal, and is killed if it lingers).
async fn build(cx: &Context, engine: &Engine, plan: &Plan) -> Result<()> {
    let (builder, program, args, env) = plan.command(engine)?;
    let prefix = env
        .map(|v| format!("DOCKER_BUILDKIT={v} "))
        .unwrap_or_default();
    cx.ui
        .status("Building", format!("the dev image ({builder:?} builder)"));
    cx.ui
        .status("Running", format!("`{prefix}{program} {}`", args.join(" ")));
    let mut cmd = engine.cli(program);
    cmd.args(&args).current_dir(plan.root());
    if let Some(v) = env {
        cmd.env("DOCKER_BUILDKIT", v);
    }
    if cx.ui.json {
        // stdout is for JSON: the build's own output goes to stderr.
        let err = std::io::stderr().as_fd().try_clone_to_owned()?;
        cmd.stdout(Stdio::from(err));
    }
    let mut child = tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run the {program} CLI to build the dev image"))?;
    let t = Instant::now();
    let status = tokio::select! {
        s = child.wait() => s?,
        sig = cx.cancel.cancelled() => {
            if let Some(pid) = child.id() {
                // SAFETY: signalling our own child, whose pid we hold.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
            }
            let bound = cx.cancel.limit(CHILD_STOP);
            if tokio::time::timeout(bound, child.wait()).await.is_err() {
                let _ = child.kill().await;
            }
            return Err(Interrupted(sig).into());
        }
    };
    if !status.success() {
        bail!("the dev image build failed ({status}); fix the error above, or pass --image <ref> to use a prebuilt image");
    }
    cx.ui.step("Finished", "the dev image", t.elapsed(), "");
    Ok(())
}

async fn prebuilt(cx: &Context, engine: &Engine, reference: &str) -> Result<String> {
    if let Some(id) = engine.try_image_id(reference).await? {
        return Ok(id);
    }
    cx.ui.status("Pulling", reference);
    let opts = CreateImageOptionsBuilder::default()
        .from_image(reference)
        .build();
    let mut stream = engine.docker.create_image(Some(opts), None, None);
    let tty = std::io::stderr().is_terminal();
    while let Some(event) = stream.next().await {
        let event = event.map_err(|e| {
            anyhow!(
                "cannot pull {reference}: {e}; to build the dev image from the fork's Dockerfile instead, \
                 drop --image (and MOBY_XTASK_IMAGE, and `[image] ref` in .moby-xtask.toml) and run `cargo xtask image`"
            )
        })?;
        let progress = event
            .progress_detail
            .and_then(|p| Some(format!("{}/{} MB", p.current? >> 20, p.total? >> 20)))
            .unwrap_or_default();
        let line = [
            event.id.unwrap_or_default(),
            event.status.unwrap_or_default(),
            progress,
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
        if tty {
            eprint!("\r\x1b[K{line}");
        } else {
            eprintln!("{line}");
        }
    }
    if tty {
        eprintln!();
    }
    engine.image_id(reference).await
}
