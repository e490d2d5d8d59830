//! `cargo xtask binary [BUNDLE…]`: `hack/make.sh binary` (or the named bundles) in the fork's dev
//! container, with `DOCKER_GITCOMMIT` stamped on the host; output streamed; `bundles/` handed back
//! to the fork's owner; a summary of what was built. Ctrl-C stops the build and exits 130.

use anyhow::{bail, Result};
use bollard::Docker;
use clap::Args;
use hack_compat::Fork;

use crate::build_record::{self, Record};
use crate::container::{self, DevContainer};
use crate::dev::{runtime, Dev};
use crate::exec::{Exec, Output};
use crate::{docker, fork, summary, Global};

#[derive(Args, Debug)]
pub struct BinaryArgs {
    /// Bundles to make [default: binary]; validated against the fork's hack/make/
    #[arg(value_name = "BUNDLE")]
    pub bundles: Vec<String>,
    /// Print the equivalent `docker run …` line and run nothing (needs no daemon)
    #[arg(long)]
    pub dry_run: bool,
    /// Use a one-shot container, removed afterwards, instead of the fork's reusable dev container
    #[arg(long)]
    pub rm: bool,
}

pub fn run(global: &Global, args: &BinaryArgs) -> Result<u8> {
    let dev = Dev::open(global, true)?;
    let bundles = validate_bundles(&dev.fork, &args.bundles)?;
    if args.dry_run {
        println!("{}", dev.spec.docker_run_line(&make_cmd(&bundles)));
        return Ok(0);
    }
    runtime()?.block_on(async {
        let docker = docker::connect().await?;
        let Some(ctr) = dev.up(&docker, args.rm).await? else {
            eprintln!("xtask: interrupted");
            return Ok(130);
        };
        let result = build(&dev, &docker, &ctr, &bundles, Output::Stream).await;
        if ctr.one_shot {
            container::remove(&docker, &ctr.id).await?;
        }
        let (code, _) = result?;
        match code {
            0 => {}
            130 => {
                eprintln!("xtask: interrupted");
                return Ok(130);
            }
            _ => {
                eprintln!("xtask: `{}` failed with exit code {code}", make_cmd(&bundles).join(" "));
                return Ok(crate::exit_code(code));
            }
        }
        let version = dev.version();
        let artifacts = summary::collect(&dev.fork, &bundles, &version)?;
        if !summary::print(&artifacts, &version, dev.commit()) {
            bail!("an artifact does not match its .sha256: the build output is inconsistent, rebuild it");
        }
        Ok(0)
    })
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

/// Run `hack/make.sh <bundles>` in `ctr`: Ctrl-C stops it (130); `bundles/` goes back to the
/// fork's owner; a successful `binary` is recorded. Returns the exit code and captured output.
pub async fn build(
    dev: &Dev,
    docker: &Docker,
    ctr: &DevContainer,
    bundles: &[String],
    out: Output,
) -> Result<(i64, Vec<u8>)> {
    let cmd = make_cmd(bundles);
    if out == Output::Stream {
        eprintln!(
            "xtask: {} in {} ({}), fork {} [{}], DOCKER_GITCOMMIT={} ({})",
            cmd.join(" "),
            container::short(&ctr.id),
            dev.spec.image,
            dev.fork.root,
            dev.fork.era,
            dev.commit(),
            dev.stamp
                .as_ref()
                .map(|s| s.source.to_string())
                .unwrap_or_default(),
        );
    }
    let exec = dev.exec(docker, ctr);
    let (code, output) = tokio::select! {
        r = exec.run(&cmd, out) => r?,
        _ = tokio::signal::ctrl_c() => {
            exec.interrupt().await;
            (130, Vec::new())
        }
    };
    if code == 0 && bundles.iter().any(|b| b == "binary") {
        build_record::write(
            &dev.fork,
            &Record {
                commit: dev.commit().to_string(),
                version: dev.version(),
            },
        )?;
    }
    // After the record, so that it too belongs to the fork's owner.
    give_back_bundles(&exec, &dev.fork).await?;
    Ok((code, output))
}

/// The container runs as root: `chown -R` what it wrote under `bundles/` to the fork's owner.
pub async fn give_back_bundles(exec: &Exec<'_>, fork: &Fork) -> Result<()> {
    let (uid, gid) = fork::owner(fork)?;
    let script = format!("[ -e bundles ] || exit 0; chown -R -h {uid}:{gid} bundles");
    let (code, out) = exec.script(&script, Output::Capture).await?;
    if code != 0 {
        bail!(
            "cannot hand bundles/ back to uid {uid}: {}",
            String::from_utf8_lossy(&out).trim()
        );
    }
    Ok(())
}
