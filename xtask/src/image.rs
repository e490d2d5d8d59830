//! The dev image: a prebuilt one (`--image`, `$MOBY_XTASK_IMAGE`, `.moby-xtask.toml`), used as is
//! or pulled; or the fork's own, built from its Dockerfile with the era's target and tagged as its
//! Makefile tags it, but only when a content hash of what the build reads has changed (a label on
//! the image). Building goes through the docker CLI: buildx, a client with BuildKit built in, or
//! the legacy builder for Dockerfiles that need no BuildKit.

use std::io::IsTerminal;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::Docker;
use camino::{Utf8Path, Utf8PathBuf};
use clap::Args;
use futures_util::StreamExt;
use hack_compat::{dockerfile, Fork};
use sha2::{Digest, Sha256};
use xshell::{cmd, Shell};

use crate::dev::runtime;
use crate::fork::ImageSource;
use crate::{docker, fork, Global};

pub const LABEL_HASH: &str = "dev.moby-xtask.image-inputs";

#[derive(Args, Debug)]
pub struct ImageArgs {
    /// Build even when the image is current
    #[arg(long)]
    pub rebuild: bool,
}

pub fn run(global: &Global, args: &ImageArgs) -> Result<u8> {
    let fork = fork::open(global)?;
    let source = fork::image(global, &fork)?;
    runtime()?.block_on(async {
        let docker = docker::connect().await?;
        let id = resolve(&docker, &fork, &source, args.rebuild).await?;
        println!(
            "xtask: dev image {} ({})",
            source.reference(),
            &id[..id.len().min(19)]
        );
        Ok(0)
    })
}

/// The id of a usable dev image: prebuilt (present, else pulled) or the fork's (current, else built).
pub async fn resolve(
    docker: &Docker,
    fork: &Fork,
    source: &ImageSource,
    rebuild: bool,
) -> Result<String> {
    match source {
        ImageSource::Prebuilt(r) => prebuilt(docker, r).await,
        ImageSource::Fork(tag) => {
            let t = Instant::now();
            let plan = Plan::new(fork, tag)?;
            if !rebuild {
                let current = plan.current(docker).await?;
                if std::env::var_os("MOBY_XTASK_TIMINGS").is_some() {
                    let verdict = if current.is_some() {
                        "current"
                    } else {
                        "stale"
                    };
                    let ms = t.elapsed().as_secs_f64() * 1000.0;
                    eprintln!("xtask: image reuse check {ms:.1} ms ({verdict})");
                }
                if let Some(id) = current {
                    return Ok(id);
                }
            }
            let build = tokio::task::spawn_blocking(move || plan.build());
            build.await.context("the image build task failed")??;
            docker::image_id(docker, tag).await
        }
    }
}

async fn prebuilt(docker: &Docker, reference: &str) -> Result<String> {
    if let Some(id) = docker::try_image_id(docker, reference).await? {
        return Ok(id);
    }
    eprintln!("xtask: pulling {reference}");
    let opts = CreateImageOptionsBuilder::default()
        .from_image(reference)
        .build();
    let mut stream = docker.create_image(Some(opts), None, None);
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
    docker::image_id(docker, reference).await
}

/// How the fork's dev image is built, and the hash of what that build reads.
pub struct Plan {
    root: Utf8PathBuf,
    tag: String,
    target: Option<&'static str>,
    build_args: Vec<(String, String)>,
    buildkit: bool,
    hash: String,
}

/// Build args the fork's Makefile passes when they are set (MOBY-ERAS.md §2.1).
const BUILD_ARGS: &[&str] = &[
    "GO_VERSION",
    "DOCKERCLI_VERSION",
    "DOCKERCLI_REPOSITORY",
    "DOCKERCLI_INTEGRATION_VERSION",
    "DOCKERCLI_INTEGRATION_REPOSITORY",
];

impl Plan {
    pub fn new(fork: &Fork, tag: &str) -> Result<Plan> {
        let dockerfile_path = fork.root.join("Dockerfile");
        let text = fs_err::read_to_string(&dockerfile_path).context(
            "the fork has no Dockerfile to build its dev image from: pass --image <ref>",
        )?;
        let build_args: Vec<(String, String)> = BUILD_ARGS
            .iter()
            .filter_map(|k| {
                std::env::var(k)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .map(|v| (k.to_string(), v))
            })
            .collect();
        let target = fork.dev_target();
        let mut h = Sha256::new();
        h.update(format!("target={target:?}\n"));
        for (k, v) in &build_args {
            h.update(format!("arg {k}={v}\n"));
        }
        h.update(text.as_bytes());
        let mut inputs = vec!["hack/dockerfile".to_string()];
        inputs.extend(dockerfile::context_inputs(&text));
        inputs.sort();
        inputs.dedup();
        for input in &inputs {
            hash_path(&mut h, &fork.root, &fork.root.join(input))?;
        }
        let hash = crate::summary::hex(&h.finalize());
        Ok(Plan {
            root: fork.root.clone(),
            tag: tag.to_string(),
            target,
            build_args,
            buildkit: dockerfile::needs_buildkit(&text),
            hash,
        })
    }

    /// The image id when the tag exists and was built from the same inputs.
    pub async fn current(&self, docker: &Docker) -> Result<Option<String>> {
        let Some(image) = docker::try_inspect_image(docker, &self.tag).await? else {
            return Ok(None);
        };
        let labels = image.config.and_then(|c| c.labels).unwrap_or_default();
        if labels.get(LABEL_HASH) == Some(&self.hash) {
            return Ok(image.id);
        }
        Ok(None)
    }

    /// Run the build through the docker CLI, echoing the command, with its own progress display.
    pub fn build(&self) -> Result<()> {
        let sh = Shell::new()?;
        sh.change_dir(&self.root);
        warn_if_target_is_context(&self.root);
        let builder = Builder::detect(&sh, self.buildkit)?;
        let mut args: Vec<String> = match builder {
            Builder::Buildx => vec!["buildx".into(), "build".into(), "--load".into()],
            Builder::BuiltinBuildkit | Builder::Legacy => vec!["build".into()],
        };
        if let Some(t) = self.target {
            args.push(format!("--target={t}"));
        }
        for (k, v) in &self.build_args {
            args.push(format!("--build-arg={k}={v}"));
        }
        args.extend([
            "-t".into(),
            self.tag.clone(),
            "--label".into(),
            format!("{LABEL_HASH}={}", self.hash),
        ]);
        if builder == Builder::Buildx && !std::io::stderr().is_terminal() {
            args.push("--progress=plain".into());
        }
        args.extend(["-f".into(), "Dockerfile".into(), ".".into()]);
        let env = match builder {
            Builder::Buildx => None,
            Builder::BuiltinBuildkit => Some("1"),
            Builder::Legacy => Some("0"),
        };
        let prefix = env
            .map(|v| format!("DOCKER_BUILDKIT={v} "))
            .unwrap_or_default();
        eprintln!(
            "xtask: building the dev image ({builder:?} builder)\nxtask: $ {prefix}docker {}",
            args.join(" ")
        );
        let _guard = env.map(|v| sh.push_env("DOCKER_BUILDKIT", v));
        let status = std::process::Command::from(cmd!(sh, "docker {args...}")).status();
        match status {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => bail!("the dev image build failed ({s}); fix the error above, or pass --image <ref> to use a prebuilt image"),
            Err(e) => bail!("cannot run the docker CLI to build the dev image: {e}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builder {
    /// `docker buildx build --load`: the builder and cache the fork's Makefile uses from E5.
    Buildx,
    /// `DOCKER_BUILDKIT=1 docker build` on a client older than 23 (BuildKit built in).
    BuiltinBuildkit,
    /// The daemon's classic builder, for Dockerfiles that need no BuildKit (E1–E3).
    Legacy,
}

impl Builder {
    fn detect(sh: &Shell, needs_buildkit: bool) -> Result<Builder> {
        if !needs_buildkit {
            return Ok(Builder::Legacy);
        }
        if cmd!(sh, "docker buildx version")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .is_ok()
        {
            return Ok(Builder::Buildx);
        }
        let format = "{{.Client.Version}}";
        let client = cmd!(sh, "docker version --format {format}")
            .quiet()
            .ignore_stderr()
            .ignore_status()
            .read()?;
        let major: u32 = client
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        if (17..23).contains(&major) {
            return Ok(Builder::BuiltinBuildkit);
        }
        bail!(
            "this fork's Dockerfile needs BuildKit, and the docker CLI ({}) has no buildx plugin: install it \
             (Debian/Ubuntu: `apt-get install docker-buildx`, or `docker-buildx-plugin` from Docker's repository), \
             or pass --image <ref> to use a prebuilt dev image",
            if client.is_empty() { "unknown version".to_string() } else { client }
        )
    }
}

/// Every file under `path` (or the file itself): its relative path and content. Missing: skipped.
fn hash_path(h: &mut Sha256, root: &Utf8Path, path: &Utf8Path) -> Result<()> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    if meta.is_dir() {
        let mut entries: Vec<Utf8PathBuf> = fs_err::read_dir(path)?
            .filter_map(|e| Utf8PathBuf::from_path_buf(e.ok()?.path()).ok())
            .collect();
        entries.sort();
        for e in entries {
            hash_path(h, root, &e)?;
        }
    } else {
        h.update(path.strip_prefix(root).unwrap_or(path).as_str());
        h.update([0]);
        h.update(fs_err::read(path)?);
        h.update([0]);
    }
    Ok(())
}

/// `target/` of this workspace would be sent as build context unless `.dockerignore` excludes it.
fn warn_if_target_is_context(root: &Utf8Path) {
    if !root.join("target").is_dir() {
        return;
    }
    let ignore = std::fs::read_to_string(root.join(".dockerignore")).unwrap_or_default();
    if !crate::adopt::lists_target(&ignore) {
        eprintln!("xtask: warning: target/ (cargo's build output) will be sent as build context: run `cargo xtask adopt`");
    }
}
