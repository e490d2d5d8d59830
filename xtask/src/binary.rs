//! `cargo xtask binary [BUNDLE…]`: `hack/make.sh binary` (or the named bundles) in the fork's dev
//! container, with `DOCKER_GITCOMMIT` stamped on the host; output streamed; `bundles/` handed back
//! to the fork's owner; a summary of what was built. Ctrl-C stops the build and exits 130.

use anyhow::{bail, Result};
use clap::Args;
use hack_compat::Fork;

use crate::dev::{runtime, Dev};
use crate::exec::Exec;
use crate::{container, docker, fork, summary, Global};

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
    let mut cmd = vec!["hack/make.sh".to_string()];
    cmd.extend(bundles.iter().cloned());
    if args.dry_run {
        println!("{}", dev.spec.docker_run_line(&cmd));
        return Ok(0);
    }
    runtime()?.block_on(build(&dev, &cmd, &bundles, args.rm))
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

async fn build(dev: &Dev, cmd: &[String], bundles: &[String], one_shot: bool) -> Result<u8> {
    let docker = docker::connect().await?;
    let Some(ctr) = dev.up(&docker, one_shot).await? else {
        eprintln!("xtask: interrupted");
        return Ok(130);
    };
    let stamp = dev
        .stamp
        .as_ref()
        .map(|s| format!("{} ({})", s.commit, s.source))
        .unwrap_or_default();
    eprintln!(
        "xtask: {} in {} ({}), fork {} [{}], DOCKER_GITCOMMIT={stamp}",
        cmd.join(" "),
        container::short(&ctr.id),
        dev.spec.image,
        dev.fork.root,
        dev.fork.era,
    );
    let exec = dev.exec(&docker, &ctr);
    let result = async {
        let code = tokio::select! {
            r = exec.run(cmd) => r?,
            _ = tokio::signal::ctrl_c() => {
                exec.interrupt().await;
                130
            }
        };
        give_back_bundles(&exec, &dev.fork).await?;
        Ok::<_, anyhow::Error>(code)
    }
    .await;
    if ctr.one_shot {
        container::remove(&docker, &ctr.id).await?;
    }
    let code = result?;
    if code == 130 {
        eprintln!("xtask: interrupted");
        return Ok(130);
    }
    if code != 0 {
        eprintln!("xtask: `{}` failed with exit code {code}", cmd.join(" "));
        return Ok(u8::try_from(code).unwrap_or(1));
    }
    let version = dev.fork.version(std::env::var("VERSION").ok().as_deref());
    let artifacts = summary::collect(&dev.fork, bundles, &version)?;
    let commit = dev.stamp.as_ref().map(|s| s.commit.as_str()).unwrap_or("?");
    if !summary::print(&artifacts, &version, commit) {
        bail!(
            "an artifact does not match its .sha256: the build output is inconsistent, rebuild it"
        );
    }
    Ok(0)
}

/// The container runs as root: `chown -R` what it wrote under `bundles/` to the fork's owner.
async fn give_back_bundles(exec: &Exec<'_>, fork: &Fork) -> Result<()> {
    let (uid, gid) = fork::owner(fork)?;
    let script = format!("[ -e bundles ] || exit 0; chown -R -h {uid}:{gid} bundles");
    let code = exec
        .run_raw(vec!["sh".into(), "-c".into(), script], true)
        .await?;
    if code != 0 {
        bail!("cannot hand bundles/ back to uid {uid} (chown exited {code})");
    }
    Ok(())
}
