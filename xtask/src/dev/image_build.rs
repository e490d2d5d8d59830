//! Building the fork's own dev image: the plan (tag, the era's target, the build args the
//! Makefile passes, a content hash of what the build reads, which goes on the image as a label)
//! and the docker CLI command that carries it out: buildx, a client with BuildKit built in, or
//! the classic builder for Dockerfiles that need no BuildKit.

use std::io::IsTerminal;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use hack_compat::{dockerfile, Fork};
use sha2::{Digest, Sha256};
use xshell::{cmd, Shell};

use crate::dev::host_env;
use crate::engine::Engine;
use crate::ui::Ui;

pub const LABEL_HASH: &str = "dev.moby-xtask.image-inputs";

/// How the fork's dev image is built, and the hash of what that build reads.
pub struct Plan {
    root: Utf8PathBuf,
    tag: String,
    target: Option<&'static str>,
    /// What the fork's Makefile adds to the build command (`--build-arg=…`, `DOCKER_BUILD_ARGS`).
    build_args: Vec<String>,
    buildkit: bool,
    hash: String,
}

impl Plan {
    pub fn new(fork: &Fork, tag: &str) -> Result<Plan> {
        let dockerfile_path = fork.root.join("Dockerfile");
        let text = fs_err::read_to_string(&dockerfile_path).context(
            "the fork has no Dockerfile to build its dev image from: pass --image <ref>",
        )?;
        let build_args = host_env::build_args(fork, &host_env::process_env);
        let target = fork.dev_target();
        let mut h = Sha256::new();
        h.update(format!("target={target:?}\n"));
        for a in &build_args {
            h.update(format!("arg {a}\n"));
        }
        h.update(text.as_bytes());
        let mut inputs = vec!["hack/dockerfile".to_string()];
        inputs.extend(dockerfile::context_inputs(&text));
        inputs.sort();
        inputs.dedup();
        for input in &inputs {
            hash_path(&mut h, &fork.root, &fork.root.join(input))?;
        }
        let hash = crate::text::hex(&h.finalize());
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
    pub async fn current(&self, engine: &Engine) -> Result<Option<String>> {
        let Some(image) = engine.try_inspect_image(&self.tag).await? else {
            return Ok(None);
        };
        let labels = image.config.and_then(|c| c.labels).unwrap_or_default();
        if labels.get(LABEL_HASH) == Some(&self.hash) {
            return Ok(image.id);
        }
        Ok(None)
    }

    /// The CLI invocation that builds it on `engine`: (builder, program, args,
    /// `DOCKER_BUILDKIT` value). On Podman, Podman's own builder through the same service, as
    /// `make DOCKER=podman` would (`podman buildx build` is `podman build` there).
    pub fn command(
        &self,
        engine: &Engine,
    ) -> Result<(Builder, &'static str, Vec<String>, Option<&'static str>)> {
        let builder = if engine.kind.is_podman() {
            Builder::Podman
        } else {
            Builder::detect(&Shell::new()?, self.buildkit)?
        };
        if builder == Builder::Legacy {
            warn_if_target_is_context(engine.ui, &self.root);
        }
        let mut args: Vec<String> = match builder {
            Builder::Buildx => vec!["buildx".into(), "build".into(), "--load".into()],
            Builder::BuiltinBuildkit | Builder::Legacy => vec!["build".into()],
            Builder::Podman => ["--remote", "--url", &engine.endpoint.host, "build"]
                .map(String::from)
                .to_vec(),
        };
        if let Some(t) = self.target {
            args.push(format!("--target={t}"));
        }
        args.extend(self.build_args.iter().cloned());
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
            Builder::Buildx | Builder::Podman => None,
            Builder::BuiltinBuildkit => Some("1"),
            Builder::Legacy => Some("0"),
        };
        let program = match builder {
            Builder::Podman => "podman",
            _ => "docker",
        };
        Ok((builder, program, args, env))
    }

    /// Whether the Dockerfile needs BuildKit (then buildx, or a client with it built in).
    pub fn needs_buildkit(&self) -> bool {
        self.buildkit
    }

    pub fn root(&self) -> &Utf8Path {
        &self.root
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builder {
    /// `docker buildx build --load`: the builder and cache the fork's Makefile uses from E5.
    Buildx,
    /// `DOCKER_BUILDKIT=1 docker build` on a client older than 23 (BuildKit built in).
    BuiltinBuildkit,
    /// The daemon's classic builder, for Dockerfiles that need no BuildKit (E1–E3).
    Legacy,
    /// `podman build` against the Podman service the tool talks to.
    Podman,
}

impl Builder {
    pub fn detect(sh: &Shell, needs_buildkit: bool) -> Result<Builder> {
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

/// The classic builder sends the whole context (BuildKit only what the Dockerfile reads): `target/`
/// of this workspace would go too unless `.dockerignore` excludes it.
fn warn_if_target_is_context(ui: Ui, root: &Utf8Path) {
    if !root.join("target").is_dir() {
        return;
    }
    let ignore = std::fs::read_to_string(root.join(".dockerignore")).unwrap_or_default();
    if !crate::text::lists_target(&ignore) {
        ui.warn(
            "target/ (cargo's build output) goes to the classic builder as build context: \
             add `/target/` to .dockerignore, or build the workspace with CARGO_TARGET_DIR outside the fork",
        );
    }
}
