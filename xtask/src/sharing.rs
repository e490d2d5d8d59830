//! Does the engine see this machine's files? Not decided from the URL: a tcp or ssh endpoint may
//! be this very host, and a unix socket may be forwarded from another. A probe asks the engine
//! itself: a container (created, never started) with the fork bind-mounted; the engine refuses a
//! bind source it does not have, and when it has one, the fork's `hack/make.sh` read through the
//! archive endpoint must match ours (size and mtime). The answer is cached per engine and fork in
//! the tool's cache; `[engine] shares_files` in `.moby-xtask.toml` forces it.

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;
use hack_compat::Fork;

use crate::container::{self, LABEL_FORK, LABEL_ROLE, LABEL_SESSION};
use crate::dev_spec::Mount;
use crate::ui::Ui;

/// Whether `docker`'s engine (`engine_id`) sees the fork at its path on this machine.
pub async fn shares(
    docker: &Docker,
    ui: Ui,
    fork: &Fork,
    image_id: &str,
    engine_id: &str,
    session: &str,
) -> Result<bool> {
    if let Some(forced) = crate::config::shares_files(&fork.root)? {
        return Ok(forced);
    }
    let memo = memo_path(engine_id);
    let key = format!("\t{}", fork.root);
    if let Some(text) = memo.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) {
        if let Some(line) = text.lines().find(|l| l.ends_with(&key)) {
            return Ok(line.starts_with("yes"));
        }
    }
    let shared = probe(docker, ui, fork, image_id, session).await?;
    if !shared {
        ui.note(format!(
            "this engine does not see {} (another machine): the source is synced into a volume there",
            fork.root
        ));
    }
    if let Some(p) = memo {
        if let Some(dir) = p.parent() {
            let _ = fs_err::create_dir_all(dir);
        }
        let old = std::fs::read_to_string(&p).unwrap_or_default();
        let answer = if shared { "yes" } else { "no" };
        let _ = fs_err::write(&p, format!("{old}{answer}{key}\n"));
    }
    Ok(shared)
}

fn memo_path(engine_id: &str) -> Option<camino::Utf8PathBuf> {
    crate::context::engine_memo("shares-files", engine_id)
}

async fn probe(
    docker: &Docker,
    ui: Ui,
    fork: &Fork,
    image_id: &str,
    session: &str,
) -> Result<bool> {
    let t = std::time::Instant::now();
    let bind = Mount::Bind {
        source: fork.root.to_string(),
        target: "/probe".to_string(),
    };
    let body = ContainerCreateBody {
        image: Some(image_id.to_string()),
        entrypoint: Some(vec!["true".to_string()]),
        labels: Some(HashMap::from([
            (LABEL_FORK.to_string(), fork.root.to_string()),
            (LABEL_ROLE.to_string(), "probe".to_string()),
            (LABEL_SESSION.to_string(), session.to_string()),
        ])),
        host_config: Some(HostConfig {
            mounts: Some(vec![bind.api()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = match docker.create_container(None, body).await {
        Ok(r) => r.id,
        Err(bollard::errors::Error::DockerResponseServerError { message, .. })
            if message.contains("bind source path does not exist") =>
        {
            ui.api("probe: bind source missing on the engine", t.elapsed());
            return Ok(false);
        }
        Err(e) => return Err(e).context("cannot create the probe container"),
    };
    let theirs = stat_through(docker, &id, "/probe/hack/make.sh").await;
    let _ = container::remove(docker, &id).await;
    ui.api("probe: shared files", t.elapsed());
    let ours = std::fs::metadata(fork.root.join("hack/make.sh")).ok();
    Ok(match (theirs, ours) {
        (Some((size, mtime)), Some(m)) => {
            use std::os::unix::fs::MetadataExt;
            size == m.len() && mtime == m.mtime()
        }
        _ => false,
    })
}

/// Size and mtime of one file in a container, through the archive endpoint.
async fn stat_through(docker: &Docker, id: &str, path: &str) -> Option<(u64, i64)> {
    let opts = DownloadFromContainerOptionsBuilder::default()
        .path(path)
        .build();
    let mut stream = docker.download_from_container(id, Some(opts));
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.ok()?);
    }
    let mut archive = tar::Archive::new(bytes.as_slice());
    let entry = archive.entries().ok()?.next()?.ok()?;
    let h = entry.header();
    Some((h.size().ok()?, h.mtime().ok()? as i64))
}
