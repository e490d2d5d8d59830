//! The source on an engine that does not share this machine's files (`sharing.rs` decides): the
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

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use anyhow::{anyhow, bail, Context as _, Result};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use bytes::Bytes;
use camino::{Utf8Path, Utf8PathBuf};
use futures_util::StreamExt;
use hack_compat::Fork;

use crate::container::{self, LABEL_FORK, LABEL_IMAGE, LABEL_ROLE};
use crate::dev_spec::Mount;
use crate::exec::{Exec, Output};
use crate::ui::Ui;

/// The label that identifies one source volume (see [`target`]).
const LABEL_SYNC_ID: &str = "dev.moby-xtask.sync-id";

/// Never synced: build output, cargo's output, git's database.
const SKIP: &[&str] = &["bundles/", "target/", ".git/"];

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

/// The source volume's name for a fork (`moby-xtask-src-<dir>-<hash>`, like its container).
pub fn volume_name(fork_root: &str) -> String {
    let dev = container::dev_name(fork_root);
    format!("moby-xtask-src-{}", dev.trim_start_matches("moby-xtask-"))
}

/// The mount that replaces the fork's bind mount.
pub fn mount(fork: &Fork) -> Mount {
    Mount::Volume {
        name: volume_name(fork.root.as_str()),
        target: fork.src_path.clone(),
    }
}

/// Make the volume and the sync container (again, when the dev image changed).
pub async fn target(
    docker: &Docker,
    ui: Ui,
    fork: &Fork,
    image_id: &str,
    engine_id: &str,
) -> Result<Target> {
    let volume = volume_name(fork.root.as_str());
    // The volume's identity is a label made with it (its CreatedAt follows its content here):
    // a volume made again under the same name gets a full sync.
    let volume_id = match docker.inspect_volume(&volume).await {
        Ok(v) => v.labels.get(LABEL_SYNC_ID).cloned().unwrap_or_default(),
        Err(_) => {
            let id = container::session_id();
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
                container::remove(docker, &id).await?;
            }
            let labels = std::collections::HashMap::from([
                (LABEL_FORK.to_string(), fork.root.to_string()),
                (LABEL_ROLE.to_string(), "sync".to_string()),
                (LABEL_IMAGE.to_string(), image_id.to_string()),
            ]);
            let body = ContainerCreateBody {
                image: Some(image_id.to_string()),
                entrypoint: Some(vec!["true".to_string()]),
                labels: Some(labels),
                host_config: Some(HostConfig {
                    mounts: Some(vec![mount(fork).api()]),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let opts = CreateContainerOptionsBuilder::default().name(&name).build();
            docker
                .create_container(Some(opts), body)
                .await
                .with_context(|| format!("cannot create the sync container {name}"))?
                .id
        }
    };
    let manifest =
        crate::context::engine_memo("sync", engine_id).map(|dir| dir.join(format!("{volume}.tsv")));
    Ok(Target {
        volume,
        container: id,
        src_path: fork.src_path.clone(),
        manifest,
        volume_id,
    })
}

/// One file as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    size: u64,
    mtime_ns: i128,
    mode: u32,
}

type Manifest = BTreeMap<String, Entry>;

/// What a sync did, and what is left for after the dev container is up.
pub struct Pushed {
    /// Files gone from the fork, still in the volume (removed by [`finish`]).
    pub gone: Vec<String>,
    manifest: Manifest,
}

/// The fork's files as they are now (before anything is made on the engine: a fork that git
/// cannot list is refused first).
pub struct Snapshot(Manifest);

pub async fn snapshot(fork: &Fork) -> Result<Snapshot> {
    let root = fork.root.clone();
    tokio::task::spawn_blocking(move || files(&root))
        .await
        .map_err(|e| anyhow!("listing the fork's files: {e}"))?
        .map(Snapshot)
}

/// Send what changed since the last sync into the volume.
pub async fn push(
    docker: &Docker,
    ui: Ui,
    fork: &Fork,
    t: &Target,
    now: Snapshot,
) -> Result<Pushed> {
    let now = now.0;
    let before = t
        .manifest
        .as_deref()
        .map(|p| read_manifest(p, &t.volume_id))
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
                crate::summary::human(bytes),
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
        let up = docker
            .upload_to_container(&t.container, Some(opts), bollard::body_stream(stream))
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
    if let Some(path) = &t.manifest {
        write_manifest(path, &t.volume_id, &pushed.manifest)?;
    }
    Ok(())
}

/// The files to sync: the index's, plus untracked ones git does not ignore, with their stat. The
/// work tree is walked once (git's status would also compare every tracked file with the index):
/// a path the index does not hold is asked of git's ignore rules, and so is a directory that holds
/// no tracked path before it is entered.
fn files(root: &Utf8Path) -> Result<Manifest> {
    let repo = git2::Repository::open(root).with_context(|| {
        format!("{root} is not a git checkout: syncing to a remote engine reads git's file list")
    })?;
    let index = repo.index().context("cannot read git's index")?;
    let tracked: std::collections::BTreeSet<String> = index
        .iter()
        .filter(|e| e.mode != 0o160000) // submodules
        .filter_map(|e| String::from_utf8(e.path).ok())
        .collect();
    let holds_tracked = |dir: &str| {
        let prefix = format!("{dir}/");
        tracked
            .range(prefix.clone()..)
            .next()
            .is_some_and(|p| p.starts_with(&prefix))
    };
    let ignored = |rel: &str| repo.is_path_ignored(rel).unwrap_or(false);
    let mut out = Manifest::new();
    let mut dirs = vec![String::new()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = root.join(&dir).read_dir_utf8() else {
            continue;
        };
        for e in entries.flatten() {
            let rel = if dir.is_empty() {
                e.file_name().to_string()
            } else {
                format!("{dir}/{}", e.file_name())
            };
            // The entry's type comes with the directory listing: no stat for directories.
            let Ok(kind) = e.file_type() else {
                continue;
            };
            if kind.is_dir() {
                let skip = SKIP.iter().any(|s| s.trim_end_matches('/') == rel)
                    || (!holds_tracked(&rel) && ignored(&rel));
                if !skip {
                    dirs.push(rel);
                }
                continue;
            }
            if !(kind.is_file() || kind.is_symlink()) || rel.contains(['\t', '\n']) {
                continue;
            }
            if !tracked.contains(&rel) && ignored(&rel) {
                continue;
            }
            let Ok(m) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            let mtime_ns = i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec());
            out.insert(
                rel,
                Entry {
                    size: m.len(),
                    mtime_ns,
                    mode: m.mode(),
                },
            );
        }
    }
    Ok(out)
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

fn read_manifest(path: &Utf8Path, volume_id: &str) -> Manifest {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Manifest::new();
    };
    let mut lines = text.lines();
    if lines.next() != Some(&format!("# volume {volume_id}")) {
        return Manifest::new(); // another volume: everything goes again
    }
    lines
        .filter_map(|l| {
            let mut f = l.split('\t');
            let (p, size, mtime, mode) = (f.next()?, f.next()?, f.next()?, f.next()?);
            Some((
                p.to_string(),
                Entry {
                    size: size.parse().ok()?,
                    mtime_ns: mtime.parse().ok()?,
                    mode: mode.parse().ok()?,
                },
            ))
        })
        .collect()
}

fn write_manifest(path: &Utf8Path, volume_id: &str, m: &Manifest) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir)?;
    }
    let mut text = format!("# volume {volume_id}\n");
    for (p, e) in m {
        text.push_str(&format!("{p}\t{}\t{}\t{}\n", e.size, e.mtime_ns, e.mode));
    }
    let tmp = path.with_extension("tsv.tmp");
    fs_err::write(&tmp, text)?;
    fs_err::rename(&tmp, path)?;
    Ok(())
}

/// Bring back what changed in the volume's `bundles/`: listed in the dev container first, then
/// fetched (one archive of `bundles/`) only when something differs; files the engine no longer
/// has go here too, but for the tool's own records (`.moby-xtask-*`).
pub async fn pull_bundles(exec: &Exec<'_>, t: &Target, fork: &Fork) -> Result<()> {
    let listed = exec
        .script("bundles_list", &[&t.src_path], Output::Capture)
        .await?;
    if listed.code != 0 {
        return Ok(()); // no bundles/ there
    }
    let remote: BTreeMap<String, (char, u64, i64)> = String::from_utf8_lossy(&listed.output)
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(4, ' ');
            let kind = f.next()?.chars().next()?;
            let size = f.next()?.parse().ok()?;
            let mtime = f.next()?.split('.').next()?.parse().ok()?;
            Some((format!("bundles/{}", f.next()?), (kind, size, mtime)))
        })
        .collect();
    let local = local_bundles(&fork.root);
    let differs = remote
        .iter()
        .any(|(p, (kind, size, mtime))| match local.get(p) {
            Some((k, s, m)) => k != kind || (*kind == 'f' && (s != size || m != mtime)),
            None => true,
        });
    let stale: Vec<&String> = local
        .keys()
        .filter(|p| !remote.contains_key(*p) && !is_own_record(p))
        .collect();
    for p in &stale {
        let path = fork.root.join(p);
        let _ = std::fs::remove_file(&path).or_else(|_| std::fs::remove_dir_all(&path));
    }
    let (uid, gid) = crate::fork::owner(fork)?;
    let owned = uid == 0 || !is_root();
    let records: Vec<Utf8PathBuf> = local
        .keys()
        .filter(|p| is_own_record(p))
        .map(|p| fork.root.join(p))
        .collect();
    if differs {
        fetch(exec, t, fork, local, (!owned).then_some((uid, gid))).await?;
    }
    if !owned {
        // bundles/ itself and the tool's own records, written here, are the owner's too.
        for p in records.iter().chain([&fork.root.join("bundles")]) {
            let _ = std::os::unix::fs::lchown(p, Some(uid), Some(gid));
        }
    }
    Ok(())
}

/// One archive of the volume's `bundles/`, written here as it arrives (the download and the disk
/// overlap); what is written goes to `owner` when given.
async fn fetch(
    exec: &Exec<'_>,
    t: &Target,
    fork: &Fork,
    local: BTreeMap<String, (char, u64, i64)>,
    owner: Option<(u32, u32)>,
) -> Result<()> {
    let opts = DownloadFromContainerOptionsBuilder::default()
        .path(&format!("{}/bundles", t.src_path))
        .build();
    let mut stream = exec
        .docker
        .download_from_container(&t.container, Some(opts));
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let root = fork.root.clone();
    let reader = Incoming {
        rx,
        cur: Bytes::new(),
    };
    let unpacker = tokio::task::spawn_blocking(move || unpack(&root, reader, &local, owner));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.context("cannot fetch bundles/ from the engine")?;
        if tx.send(chunk).await.is_err() {
            break; // the unpacker stopped: its error says why
        }
    }
    drop(tx);
    unpacker
        .await
        .map_err(|e| anyhow!("unpacking bundles/: {e}"))?
}

/// The download as a `Read` for the tar reader.
struct Incoming {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    cur: Bytes,
}

impl std::io::Read for Incoming {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.cur = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur.split_to(n));
        Ok(n)
    }
}

fn is_own_record(p: &str) -> bool {
    p.rsplit('/')
        .next()
        .is_some_and(|n| n.starts_with(".moby-xtask"))
}

/// `bundles/…` on this machine: kind (`f`, `d`, `l`), size, mtime seconds.
fn local_bundles(root: &Utf8Path) -> BTreeMap<String, (char, u64, i64)> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.join("bundles")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = dir.read_dir_utf8() else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path().to_path_buf();
            let Ok(m) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let rel = path.strip_prefix(root).unwrap_or(&path).to_string();
            let kind = if m.file_type().is_symlink() {
                'l'
            } else if m.is_dir() {
                dirs.push(path);
                'd'
            } else {
                'f'
            };
            out.insert(rel, (kind, m.len(), m.mtime()));
        }
    }
    out
}

fn unpack(
    root: &Utf8Path,
    archive: impl std::io::Read,
    local: &BTreeMap<String, (char, u64, i64)>,
    owner: Option<(u32, u32)>,
) -> Result<()> {
    let mut tar = tar::Archive::new(archive);
    tar.set_preserve_mtime(true);
    tar.set_preserve_permissions(true);
    tar.set_overwrite(true);
    let mut written: HashSet<Utf8PathBuf> = HashSet::new();
    for entry in tar.entries().context("reading bundles/ from the engine")? {
        let mut entry = entry.context("reading bundles/ from the engine")?;
        let rel = Utf8PathBuf::from(
            entry
                .path()
                .context("a name in bundles/ that is not UTF-8")?
                .to_string_lossy()
                .into_owned(),
        );
        if !rel.starts_with("bundles") || rel.components().any(|c| c.as_str() == "..") {
            continue;
        }
        let h = entry.header();
        let kind = match h.entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            _ => 'f',
        };
        let same = local.get(rel.as_str()).is_some_and(|(k, s, m)| {
            *k == kind
                && kind == 'f'
                && h.size().ok() == Some(*s)
                && h.mtime().ok().map(|t| t as i64) == Some(*m)
        });
        if same {
            continue;
        }
        let dest = root.join(&rel);
        if kind != 'd' {
            // A symlink or file replacing something else, or a changed file.
            let _ = std::fs::remove_file(&dest);
        }
        entry
            .unpack_in(root.as_std_path())
            .with_context(|| format!("cannot write {dest}"))?;
        written.insert(dest);
    }
    if let Some((uid, gid)) = owner {
        for p in &written {
            std::os::unix::fs::lchown(p, Some(uid), Some(gid))
                .with_context(|| format!("cannot give {p} to uid {uid}"))?;
        }
    }
    let _ = std::fs::set_permissions(root.join("bundles"), std::fs::Permissions::from_mode(0o755));
    Ok(())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trip_and_volume_identity() {
        let dir = std::env::temp_dir().join(format!("xtask-manifest-{}", std::process::id()));
        let path = Utf8PathBuf::from_path_buf(dir.join("m.tsv")).unwrap();
        let mut m = Manifest::new();
        m.insert(
            "hack/make.sh".into(),
            Entry {
                size: 10,
                mtime_ns: 1_700_000_000_123_456_789,
                mode: 0o100755,
            },
        );
        m.insert(
            "a b/c.go".into(),
            Entry {
                size: 0,
                mtime_ns: 1,
                mode: 0o100644,
            },
        );
        write_manifest(&path, "2026-11-28T12:00:00Z", &m).unwrap();
        assert_eq!(read_manifest(&path, "2026-11-28T12:00:00Z"), m);
        // Another volume of the same name: nothing is assumed to be there.
        assert!(read_manifest(&path, "2026-11-29T00:00:00Z").is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn volume_names_follow_the_container() {
        let v = volume_name("/home/me/src/moby");
        assert!(v.starts_with("moby-xtask-src-moby-"), "{v}");
        assert_ne!(v, volume_name("/home/me/other/moby"));
    }
}
