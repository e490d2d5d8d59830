//! `hack/make.sh <bundles>` in the dev container, as `binary`, `install --build`, `run --build`
//! and `smoke` need it: the bundles checked against the fork's `hack/make/`, the build record
//! removed before and written after a successful `binary`.

use anyhow::{bail, Result};
use hack_compat::Fork;

use super::build_record::{self, Record};
use super::{hashed, inputs};
use crate::dev::exec::{Output, Ran};
use crate::dev::Work;
use crate::engine::short;

/// A build that ran and failed: the command ends with the build's exit code, after one line
/// that says which build (`main` reports it).
#[derive(Debug)]
pub struct Failed {
    pub command: String,
    pub code: i64,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` failed with exit code {}", self.command, self.code)
    }
}

impl std::error::Error for Failed {}

/// `Ok` for a build that exited 0, else [`Failed`].
pub fn succeeded(bundles: &[String], ran: &Ran) -> Result<()> {
    if ran.code == 0 {
        return Ok(());
    }
    Err(Failed {
        command: make_cmd(bundles).join(" "),
        code: ran.code,
    }
    .into())
}

/// `hack/make.sh <bundles>`.
pub fn make_cmd(bundles: &[String]) -> Vec<String> {
    let mut cmd = vec!["hack/make.sh".to_string()];
    cmd.extend(bundles.iter().cloned());
    cmd
}

/// The bundles to build: `binary` by default, else each one the fork's `hack/make/` has.
pub fn bundles(fork: &Fork, requested: &[String]) -> Result<Vec<String>> {
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

/// Run `hack/make.sh <bundles>` as a process group (a signal stops it), recording a successful
/// `binary` build.
pub async fn build(w: &Work<'_>, bundles: &[String], out: Output) -> Result<Ran> {
    build_with(w, bundles, out, &[]).await
}

/// [`build`] of what [`why_build`] just read (`read`), which is not listed again.
pub async fn build_read(
    w: &Work<'_>,
    bundles: &[String],
    out: Output,
    read: Option<String>,
) -> Result<Ran> {
    build_inner(w, bundles, out, &[], Some(read)).await
}

/// [`build`] with `env` (`NAME=value`) over the fork's: the live loop keeps `bundles/`
/// (`KEEPBUNDLE=1`), where `run`'s socket and log live.
pub async fn build_with(
    w: &Work<'_>,
    bundles: &[String],
    out: Output,
    env: &[String],
) -> Result<Ran> {
    build_inner(w, bundles, out, env, None).await
}

/// `read`: what the build reads, when the caller listed it just before (else listed here).
async fn build_inner(
    w: &Work<'_>,
    bundles: &[String],
    out: Output,
    env: &[String],
    read: Option<Option<String>>,
) -> Result<Ran> {
    let (cx, dev) = (w.cx, w.dev);
    let cmd = make_cmd(bundles);
    let records = bundles.iter().any(|b| b == "binary");
    if records && !build_record::remove(&dev.fork) {
        w.exec()
            .script("rm_record", &[build_record::FILE], Output::Discard)
            .await?;
    }
    // What this build reads, as it starts: an edit while it runs makes the next one build.
    let read = match read {
        Some(read) => read.filter(|_| records),
        None => records.then(|| inputs::render(w, bundles, env)).flatten(),
    };
    let source = dev.stamp.as_ref().map(|s| s.source.to_string());
    // The stamp: the fork's, unless this build is given its own (the live loop's rebuilds).
    let commit = env
        .iter()
        .find_map(|e| e.strip_prefix("DOCKER_GITCOMMIT="))
        .unwrap_or(dev.commit())
        .to_string();
    cx.ui.status(
        "Building",
        format!(
            "`{}` in {} ({}), fork {} [{}], DOCKER_GITCOMMIT={} ({})",
            cmd.join(" "),
            short(&w.ctr.id),
            dev.spec.image,
            dev.fork.root,
            dev.fork.era,
            commit,
            source.unwrap_or_default(),
        ),
    );
    let t = std::time::Instant::now();
    // Captured output (smoke) shows nothing for a minute: say that it runs.
    let _progress =
        (out != Output::Stream).then(|| cx.ui.progress(&format!("for `{}`", cmd.join(" "))));
    let ran = w.run_with(&cmd, out, env).await?;
    crate::fail::point("after-build").await?;
    if ran.code == 0 && records {
        let digest = match &read {
            Some(text) => inputs::write(&dev.fork, text)
                .ok()
                .map(|()| inputs::digest(text)),
            None => None,
        };
        let record = Record {
            commit,
            version: dev.version(),
            image: w.ctr.image_id.clone(),
            inputs: digest,
        };
        build_record::write(&dev.fork, &record)?;
        hashed::note_built(&dev.fork, bundles, &dev.version());
    }
    if ran.code == 0 {
        cx.ui.step("Finished", &cmd.join(" "), t.elapsed(), "");
    }
    Ok(ran)
}

/// Why `binary` must run (`None`: it is fresh): the inputs differ from the last successful
/// build's, or what that build wrote is no longer what was hashed after it. Any doubt builds.
/// Also what the build reads, as listed for that, for [`build_read`].
pub fn why_build(w: &Work<'_>, bundles: &[String]) -> (Option<String>, Option<String>) {
    let dev = w.dev;
    let now = inputs::render(w, bundles, &[]);
    if let Some(why) = build_record::stale(&dev.fork, now.as_deref()) {
        return (Some(why), now);
    }
    let version = dev.version();
    let why = (!hashed::as_hashed(&dev.fork, bundles, &version))
        .then(|| "the built files changed since the build".to_string());
    (why, now)
}
