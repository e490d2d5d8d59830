//! The source on an engine that does not share this machine's files (`probe.rs` decides): the
//! fork's files (tracked, plus untracked ones git does not ignore; never `bundles/`, `target/`,
//! `.git/`) live in a named volume of this fork on that engine, mounted where the bind mount
//! would be. Before every command they are brought up to date through the Engine API's archive
//! endpoint, incrementally: a manifest (path, size, mtime, mode) of the last sync says what
//! changed or went; the changed files go up as one streamed tar, the gone ones are removed in the
//! dev container. The manifest is written only after both, so an interrupted sync is repaired by
//! the next one. After a command, the changed files of `bundles/` come back (symlinks kept, owned
//! by the fork's owner). No rsync or other program is needed on either side.
//!
//! The archive endpoint writes through a "sync" container of the fork: created from the dev image
//! with only the volume, never started, so the volume is filled before the dev container's
//! entrypoint (the fork's own `hack/dind`) first runs.

use std::io::Write;

use anyhow::{anyhow, bail, Context as _, Result};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptionsBuilder, UploadToContainerOptionsBuilder};
use bytes::Bytes;
use camino::{Utf8Path, Utf8PathBuf};
use hack_compat::Fork;

use super::walk::{self, EarlyWalk, Manifest};
use crate::dev::exec::{Exec, Output};
use crate::dev::names::{self, Names, LABEL_FORK, LABEL_IMAGE, LABEL_SYNC_ID};
use crate::dev::spec::Mount;
use crate::engine::Engine;

/// Where a fork's source lives on an engine that does not share this machine's files.
#[derive(Debug, Clone)]
pub struct Target {
    pub volume: String,
    /// The sync container (created, never started) that holds the volume at `src_path`.
    pub container: String,
    pub src_path: String,
    /// The host file that records what the volume holds.
    manifest: Option<Utf8PathBuf>,
    /// The volume's identity (its `LABEL_SYNC_ID`): another volume of the same name means a
    /// full sync.
    volume_id: String,
}

/// The mount that replaces the fork's bind mount.
pub fn mount(fork: &Fork, names: &Names) -> Mount {
    Mount::Volume {
        name: names.volume.clone(),
        target: fork.src_path.clone(),
    }
}

/// Make the volume and the sync container (again, when the dev image changed).
pub async fn target(engine: &Engine, fork: &Fork, names: &Names, image_id: &str) -> Result<Target> {
    let (docker, ui) = (&engine.docker, engine.ui);
    let volume = names.volume.clone();
    // The volume's identity is a label made with it (its CreatedAt follows its content here):
    // a volume made again under the same name gets a full sync.
    let volume_id = match docker.inspect_volume(&volume).await {
        Ok(v) => v.labels.get(LABEL_SYNC_ID).cloned().unwrap_or_default(),
        Err(_) => {
            let id = names::session_id();
            let labels = std::collections::HashMap::from([
                (LABEL_FORK.to_string(), fork.root.to_string()),
                (LABEL_SYNC_ID.to_string(), id.clone()),
            ]);
            docker
                .create_volume(bollard::models::VolumeCreateRequest {
                    name: Some(volume.clone()),
                    labels: Some(labels),
                    ..Default::default()
                })
                .await
                .with_context(|| {
                    format!("cannot create the source volume {volume} on the engine")
                })?;
            ui.status("Created", format!("volume {volume} for the fork's source"));
            id
        }
    };
    let name = format!("{volume}-sync");
    let existing = docker.inspect_container(&name, None).await.ok();
    let reuse = existing.as_ref().is_some_and(|c| {
        c.config
            .as_ref()
            .and_then(|c| c.labels.as_ref())
            .and_then(|l| l.get(LABEL_IMAGE))
            .map(String::as_str)
            == Some(image_id)
    });
    let id = match (existing, reuse) {
        (Some(c), true) => c.id.unwrap_or(name.clone()),
        (old, _) => {
            if let Some(id) = old.and_then(|c| c.id) {
                engine.remove(&id).await?;
            }
            let mut labels = names.labels("sync");
            labels.insert(LABEL_IMAGE.to_string(), image_id.to_string());
            let body = ContainerCreateBody {
                image: Some(image_id.to_string()),
                entrypoint: Some(vec!["true".to_string()]),
                labels: Some(labels),
                host_config: Some(HostConfig {
                    mounts: Some(vec![mount(fork, names).api()]),
                    userns_mode: engine.kind.userns_mode(),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let opts = CreateContainerOptionsBuilder::default().name(&name).build();
            engine
                .patient()
                .create_container(Some(opts), body)
                .await
                .with_context(|| format!("cannot create the sync container {name}"))?
                .id
        }
    };
    let manifest = engine
        .memo("sync")
        .map(|dir| dir.join(format!("{volume}.tsv")));
    Ok(Target {
        volume,
        container: id,
        src_path: fork.src_path.clone(),
        manifest,
        volume_id,
    })
}

/// What a sync did, and what is left for after the dev container is up.
pub struct Pushed {
    /// Files gone from the fork, still in the volume (removed by [`finish`]).
    pub gone: Vec<String>,
    manifest: Manifest,
    /// Nothing was sent or is to be removed: the manifest on disk stands.
    unchanged: bool,
}

/// The fork's files as they are now (before anything is made on the engine: a fork that git
/// cannot list is refused first).
pub struct Snapshot(Manifest);

pub async fn snapshot(fork: &Fork, early: &EarlyWalk) -> Result<Snapshot> {
    let taken = early.take_handle();
    let root = fork.root.clone();
    tokio::task::spawn_blocking(move || EarlyWalk::join_or_walk(taken, &root))
        .await
        .map_err(|e| anyhow!("listing the fork's files: {e}"))?
        .map(Snapshot)
}

/// Send what changed since the last sync into the volume.
pub async fn push(engine: &Engine, fork: &Fork, t: &Target, now: Snapshot) -> Result<Pushed> {
    let (docker, ui) = (&engine.docker, engine.ui);
    let now = now.0;
    let before = t
        .manifest
        .as_deref()
        .map(|p| walk::read_manifest(p, &t.volume_id))
        .unwrap_or_default();
    let changed: Vec<String> = now
        .iter()
        .filter(|(p, e)| before.get(*p) != Some(e))
        .map(|(p, _)| p.clone())
        .collect();
    let gone: Vec<String> = before
        .keys()
        .filter(|p| !now.contains_key(*p))
        .cloned()
        .collect();
    let bytes: u64 = changed
        .iter()
        .filter_map(|p| now.get(p))
        .map(|e| e.size)
        .sum();
    if !changed.is_empty() {
        ui.status(
            "Syncing",
            format!(
                "{} file(s), {} to volume {}",
                changed.len(),
                crate::text::human(bytes),
                t.volume
            ),
        );
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
        let root = fork.root.clone();
        let list = changed.clone();
        let writer = tokio::task::spawn_blocking(move || write_tar(&root, &list, tx));
        let stream =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|b| (b, rx)) },
            );
        let opts = UploadToContainerOptionsBuilder::default()
            .path(&t.src_path)
            .build();
        let up = async {
            crate::fail::point("mid-sync").await?;
            let body = bollard::body_stream(stream);
            Ok::<_, anyhow::Error>(
                docker
                    .upload_to_container(&t.container, Some(opts), body)
                    .await?,
            )
        }
        .await;
        let wrote = writer
            .await
            .map_err(|e| anyhow!("packing the fork's files: {e}"))?;
        if let Err(e) = up {
            bail!(
                "cannot copy the fork's files into volume {} on the engine: {e}{}",
                t.volume,
                if e.to_string().contains("no space") {
                    " (the engine's disk is full: `docker system prune` there, or `cargo xtask clean --all`)"
                } else {
                    ""
                }
            );
        }
        wrote?;
    }
    Ok(Pushed {
        unchanged: changed.is_empty() && gone.is_empty(),
        gone,
        manifest: now,
    })
}

/// Remove the files gone from the fork (in the running dev container), then record the sync.
pub async fn finish(exec: &Exec<'_>, t: &Target, pushed: Pushed) -> Result<()> {
    for chunk in pushed.gone.chunks(500) {
        let mut args: Vec<&str> = vec![&t.src_path];
        args.extend(chunk.iter().map(String::as_str));
        let ran = exec.script("sync_remove", &args, Output::Capture).await?;
        if ran.code != 0 {
            bail!(
                "cannot remove deleted files from the volume: {}",
                ran.text()
            );
        }
    }
    if let (Some(path), false) = (&t.manifest, pushed.unchanged) {
        walk::write_manifest(path, &t.volume_id, &pushed.manifest)?;
    }
    Ok(())
}

/// A `Write` that hands 1 MiB chunks to the upload.
struct Chunks {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

impl Write for Chunks {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 1 << 20 {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let chunk = Bytes::from(std::mem::take(&mut self.buf));
            self.tx
                .blocking_send(chunk)
                .map_err(|_| std::io::Error::other("the upload stopped"))?;
        }
        Ok(())
    }
}

fn write_tar(
    root: &Utf8Path,
    paths: &[String],
    tx: tokio::sync::mpsc::Sender<Bytes>,
) -> Result<()> {
    let mut tar = tar::Builder::new(Chunks {
        tx,
        buf: Vec::with_capacity(1 << 20),
    });
    tar.follow_symlinks(false);
    for p in paths {
        let full = root.join(p);
        tar.append_path_with_name(&full, p)
            .with_context(|| format!("cannot pack {full}"))?;
    }
    let mut w = tar.into_inner().context("cannot finish the archive")?;
    w.flush()?;
    Ok(())
}
