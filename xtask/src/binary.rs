//! `cargo xtask binary [BUNDLE…]`: `hack/make.sh binary` (or the named bundles) in the fork's dev
//! container, with `DOCKER_GITCOMMIT` stamped on the host; output streamed; the build's files
//! handed back to the fork's owner; a summary of what was built. A signal stops the whole build.

use anyhow::{bail, Result};
use bollard::Docker;
use hack_compat::Fork;
use serde_json::json;

use crate::build_record::{self, Record};
use crate::container::{self, DevContainer};
use crate::context::{exit_code, Context};
use crate::dev::Dev;
use crate::exec::{Output, Ran};
use crate::{docker, flags, handback, summary};

impl flags::Binary {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        let dev = Dev::open(cx, true)?;
        let bundles = validate_bundles(&dev.fork, &self.bundles)?;
        if self.dry_run {
            let line = dev.spec.docker_run_line(&make_cmd(&bundles));
            cx.ui.result(&line);
            cx.ui
                .event(json!({"step": "dry-run", "status": "ok", "command": line}));
            return Ok(0);
        }
        let docker = docker::connect(cx.ui).await?;
        let (_lock, ctr) = dev.up_for_work(cx, &docker, self.rm).await?;
        let result = build(cx, &dev, &docker, &ctr, &bundles, Output::Stream).await;
        if ctr.one_shot {
            container::remove(&docker, &ctr.id).await?;
        }
        let ran = result?;
        if ran.code != 0 {
            cx.ui.error(format!(
                "`{}` failed with exit code {}",
                make_cmd(&bundles).join(" "),
                ran.code
            ));
            return Ok(exit_code(ran.code));
        }
        let version = dev.version();
        let artifacts =
            summary::collect(&dev.fork, &bundles, &version, &cx.cancel, cx.ui.json).await?;
        let builds_binaries = bundles.iter().any(|b| b.contains("binary"));
        if artifacts.is_empty() && builds_binaries {
            bail!(
                "`{}` succeeded but wrote nothing under {}/bundles: check the build's output above",
                make_cmd(&bundles).join(" "),
                dev.fork.root
            );
        }
        cx.cancel.check_now().await?;
        if !summary::print(cx.ui, &dev.fork, &artifacts, &version, dev.commit()) {
            bail!("an artifact does not match its checksum file: the build output is inconsistent, rebuild it");
        }
        Ok(0)
    }
}

fn make_cmd(bundles: &[String]) -> Vec<String> {
    let mut cmd = vec!["hack/make.sh".to_string()];
    cmd.extend(bundles.iter().cloned());
    cmd
}

fn validate_bundles(fork: &Fork, requested: &[String]) -> Result<Vec<String>> {
    if requested.is_empty() {
        return Ok(vec!["binary".to_string()]);
    }
    for b in requested {
        if !fork.accepts_bundle(b) {
            bail!(
                "unknown bundle `{b}`: this fork ({}) accepts {}",
                fork.era,
                fork.bundles.join(", ")
            );
        }
    }
    Ok(requested.to_vec())
}

/// Run `hack/make.sh <bundles>` in `ctr` as a process group: a signal stops it. The build record
/// goes before the build and comes back after a successful `binary`; the build's files go back
/// to the fork's owner whatever happened.
pub async fn build(
    cx: &Context,
    dev: &Dev,
    docker: &Docker,
    ctr: &DevContainer,
    bundles: &[String],
    out: Output,
) -> Result<Ran> {
    let cmd = make_cmd(bundles);
    let records = bundles.iter().any(|b| b == "binary");
    let exec = dev.exec(cx, docker, ctr);
    if records && !build_record::remove(&dev.fork) {
        exec.script("rm_record", &[build_record::FILE], Output::Discard)
            .await?;
    }
    let source = dev.stamp.as_ref().map(|s| s.source.to_string());
    cx.ui.status(
        "Building",
        format!(
            "`{}` in {} ({}), fork {} [{}], DOCKER_GITCOMMIT={} ({})",
            cmd.join(" "),
            container::short(&ctr.id),
            dev.spec.image,
            dev.fork.root,
            dev.fork.era,
            dev.commit(),
            source.unwrap_or_default(),
        ),
    );
    let t = std::time::Instant::now();
    // Captured output (smoke) shows nothing for a minute: say that it runs.
    let _progress =
        (out != Output::Stream).then(|| cx.ui.progress(&format!("for `{}`", cmd.join(" "))));
    let ran = dev.run_group(cx, docker, ctr, &cmd, out).await?;
    if ran.code == 0 && records {
        let record = Record {
            commit: dev.commit().to_string(),
            version: dev.version(),
            image: ctr.image_id.clone(),
        };
        build_record::write(&dev.fork, &record)?;
    }
    // After the record, so that it too belongs to the fork's owner.
    handback::give_back(&exec, &dev.fork).await?;
    if ran.code == 0 {
        cx.ui.step("Finished", &cmd.join(" "), t.elapsed(), "");
    }
    Ok(ran)
}
