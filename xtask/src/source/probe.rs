//! Does the engine see this machine's files? Not decided from the URL: a tcp or ssh endpoint may
//! be this very host, and a unix socket may be forwarded from another. A probe asks the engine
//! itself: a container (created, never started) with the fork bind-mounted; the engine refuses a
//! bind source it does not have, and when it has one, the fork's `hack/make.sh` read through the
//! archive endpoint must match ours (size and mtime). The probe container comes from a one-file
//! image the tool imports for the moment (removed after): creating one from the 2 GB dev image
//! copies it on a vfs engine (over a minute on Podman). The answer is remembered per engine
//! (its stable identity) and fork; `[engine] shares_files` in `.moby-xtask.toml` forces it.

use std::time::Instant;

use anyhow::{Context as _, Result};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateImageOptionsBuilder, DownloadFromContainerOptionsBuilder, RemoveImageOptionsBuilder,
};
use futures_util::StreamExt;
use hack_compat::Fork;

use crate::dev::names::Names;
use crate::dev::spec::Mount;
use crate::engine::Engine;

const MEMO: &str = "shares-files";
/// The probe's image: one empty file, imported and removed by the probe.
const PROBE_IMAGE: &str = "moby-xtask-probe:1";

/// Whether the engine sees the fork at its path on this machine.
pub async fn shares(engine: &Engine, fork: &Fork, names: &Names, image_id: &str) -> Result<bool> {
    if let Some(forced) = crate::config::shares_files(&fork.root)? {
        return Ok(forced);
    }
    let memo = engine.memo(MEMO);
    let key = format!("\t{}", fork.root);
    if let Some(text) = memo.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) {
        if let Some(line) = text.lines().find(|l| l.ends_with(&key)) {
            engine
                .ui
                .verbose("Remembered", format!("shared files: {line}"));
            return Ok(line.starts_with("yes"));
        }
    }
    let shared = probe(engine, fork, names, image_id).await?;
    if !shared {
        engine.ui.note(format!(
            "this engine does not see {} (another machine): the source is synced into a volume there",
            fork.root
        ));
    }
    if let Some(p) = memo {
        let old = std::fs::read_to_string(&p).unwrap_or_default();
        let answer = if shared { "yes" } else { "no" };
        crate::engine::memo::write(&p, &format!("{old}{answer}{key}\n"));
    }
    Ok(shared)
}

async fn probe(engine: &Engine, fork: &Fork, names: &Names, dev_image: &str) -> Result<bool> {
    let t = Instant::now();
    // The one-file image; where the engine cannot import, the dev image (slower on vfs).
    let imported = import_probe_image(engine).await;
    let image = if imported { PROBE_IMAGE } else { dev_image };
    let bind = Mount::Bind {
        source: fork.root.to_string(),
        target: "/probe".to_string(),
    };
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(vec!["/probe-nothing".to_string()]),
        labels: Some(names.labels("probe")),
        host_config: Some(HostConfig {
            mounts: Some(vec![bind.api()]),
            userns_mode: engine.kind.userns_mode(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = engine.docker.create_container(None, body).await;
    let theirs = match &created {
        Ok(r) => stat_through(engine, &r.id, "/probe/hack/make.sh").await,
        Err(_) => None,
    };
    if let Ok(r) = &created {
        let _ = engine.remove(&r.id).await;
    }
    if imported {
        let opts = RemoveImageOptionsBuilder::default().force(true).build();
        let _ = engine
            .docker
            .remove_image(PROBE_IMAGE, Some(opts), None)
            .await;
    }
    engine.ui.api("probe: shared files", t.elapsed());
    match created {
        Ok(_) => {}
        Err(bollard::errors::Error::DockerResponseServerError { message, .. })
            if message.contains("bind source path does not exist")
                || message.contains("no such file or directory") =>
        {
            return Ok(false);
        }
        Err(e) => return Err(e).context("cannot create the probe container"),
    }
    let ours = std::fs::metadata(fork.root.join("hack/make.sh")).ok();
    Ok(match (theirs, ours) {
        (Some((size, mtime)), Some(m)) => {
            use std::os::unix::fs::MetadataExt;
            size == m.len() && mtime == m.mtime()
        }
        _ => false,
    })
}

/// Import [`PROBE_IMAGE`] from an archive of one empty file; false when the engine refuses.
async fn import_probe_image(engine: &Engine) -> bool {
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_mode(0o755);
    h.set_cksum();
    if tar
        .append_data(&mut h, "probe-nothing", std::io::empty())
        .is_err()
    {
        return false;
    }
    let Ok(bytes) = tar.into_inner() else {
        return false;
    };
    let (repo, tag) = PROBE_IMAGE
        .split_once(':')
        .unwrap_or((PROBE_IMAGE, "latest"));
    let opts = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(repo)
        .tag(tag)
        .build();
    let body = bollard::body_full(bytes.into());
    let mut stream = engine.docker.create_image(Some(opts), Some(body), None);
    while let Some(r) = stream.next().await {
        if r.is_err() {
            return false;
        }
    }
    engine
        .try_image_id(PROBE_IMAGE)
        .await
        .ok()
        .flatten()
        .is_some()
}

/// Size and mtime of one file in a container, through the archive endpoint.
async fn stat_through(engine: &Engine, id: &str, path: &str) -> Option<(u64, i64)> {
    let opts = DownloadFromContainerOptionsBuilder::default()
        .path(path)
        .build();
    let mut stream = engine.docker.download_from_container(id, Some(opts));
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.ok()?);
    }
    let mut archive = tar::Archive::new(bytes.as_slice());
    let entry = archive.entries().ok()?.next()?.ok()?;
    let h = entry.header();
    Some((h.size().ok()?, h.mtime().ok()? as i64))
}
