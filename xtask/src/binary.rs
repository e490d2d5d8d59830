//! `cargo xtask binary [BUNDLE…]`: `hack/make.sh binary` (or the named bundles) in the fork's dev
//! container, with `DOCKER_GITCOMMIT` stamped on the host; output streamed; `bundles/` handed back
//! to the fork's owner; a summary of what was built. Ctrl-C stops the build and exits 130.

use anyhow::{bail, Context, Result};
use bollard::Docker;
use clap::Args;
use hack_compat::Fork;

use crate::container::{self, DevContainer};
use crate::dev_spec::DevSpec;
use crate::exec::Exec;
use crate::{commit, docker, fork, summary, Global};

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
    /// Commit to stamp [default: $DOCKER_GITCOMMIT, else HEAD as the fork's hack/make.sh stamps it]
    #[arg(long, value_name = "HASH")]
    pub commit: Option<String>,
}

pub fn run(global: &Global, args: &BinaryArgs) -> Result<u8> {
    let fork = fork::open(global)?;
    let bundles = validate_bundles(&fork, &args.bundles)?;
    let env_commit = std::env::var("DOCKER_GITCOMMIT").ok();
    let stamp = commit::stamp(
        &fork.root,
        fork.commit_form,
        args.commit.as_deref(),
        env_commit.as_deref(),
    )?;
    let image = fork::image(global, &fork);
    let spec = DevSpec::new(&fork, image, fork::passthrough_env(&fork), &stamp.commit);
    let mut cmd = vec!["hack/make.sh".to_string()];
    cmd.extend(bundles.iter().cloned());
    if args.dry_run {
        println!("{}", spec.docker_run_line(&cmd));
        return Ok(0);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start tokio")?;
    rt.block_on(build(&fork, &spec, &cmd, &bundles, &stamp, args.rm))
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

async fn build(
    fork: &Fork,
    spec: &DevSpec,
    cmd: &[String],
    bundles: &[String],
    stamp: &commit::Stamp,
    one_shot: bool,
) -> Result<u8> {
    let docker = docker::connect().await?;
    let session = container::session_id();
    let work = async {
        let image_id = docker::image_id(&docker, &spec.image).await?;
        let ctr = container::ensure(&docker, spec, &image_id, one_shot, &session).await?;
        eprintln!(
            "xtask: {} in {} ({}), fork {} [{}], DOCKER_GITCOMMIT={} ({})",
            cmd.join(" "),
            container::short(&ctr.id),
            spec.image,
            fork.root,
            fork.era,
            stamp.commit,
            stamp.source
        );
        Ok::<_, anyhow::Error>(ctr)
    };
    let ctr = tokio::select! {
        r = work => r?,
        _ = tokio::signal::ctrl_c() => {
            container::remove_session(&docker, &session).await;
            eprintln!("xtask: interrupted");
            return Ok(130);
        }
    };
    let result = run_in(&docker, fork, spec, &ctr, cmd, &session).await;
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
    let version = fork.version(std::env::var("VERSION").ok().as_deref());
    let artifacts = summary::collect(fork, bundles, &version)?;
    if !summary::print(&artifacts, &version, &stamp.commit) {
        bail!(
            "an artifact does not match its .sha256: the build output is inconsistent, rebuild it"
        );
    }
    Ok(0)
}

/// Run the command, hand `bundles/` back to the fork's owner, map Ctrl-C to 130.
async fn run_in(
    docker: &Docker,
    fork: &Fork,
    spec: &DevSpec,
    ctr: &DevContainer,
    cmd: &[String],
    session: &str,
) -> Result<i64> {
    let exec = Exec {
        docker,
        container: &ctr.id,
        workdir: &spec.workdir,
        env: spec.env_strings(),
        pidfile: format!("/tmp/.moby-xtask-{session}.pid"),
    };
    let code = tokio::select! {
        r = exec.run(cmd) => r?,
        _ = tokio::signal::ctrl_c() => {
            exec.interrupt().await;
            130
        }
    };
    give_back_bundles(&exec, fork).await?;
    Ok(code)
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
