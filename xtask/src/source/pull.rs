//! `bundles/` back from an engine elsewhere: listed in the dev container first, fetched (one
//! archive) only when something differs, written here as it arrives, symlinks kept, owned by the
//! fork's owner.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use anyhow::{anyhow, Context as _, Result};
use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use bytes::Bytes;
use camino::{Utf8Path, Utf8PathBuf};
use futures_util::StreamExt;
use hack_compat::Fork;

use super::sync::Target;
use crate::dev::exec::{Exec, Output};

/// Bring back what changed in the volume's `bundles/`: listed in the dev container first, then
/// fetched (one archive of `bundles/`) only when something differs; files the engine no longer
/// has go here too, but for the tool's own records (`.moby-xtask-*`) and the shares of a split
/// run (`bundles/.engines/`). `into` is the directory that gets `bundles/`: the fork's root, or
/// for one engine's share of a split run its own `bundles/.engines/<name>`.
pub async fn pull_bundles(exec: &Exec<'_>, t: &Target, fork: &Fork, into: &Utf8Path) -> Result<()> {
    let listed = exec
        .script("bundles_list", &[&t.src_path], Output::Capture)
        .await?;
    if listed.code != 0 {
        return Ok(()); // no bundles/ there
    }
    pull_listed(
        exec,
        t,
        fork,
        into,
        &String::from_utf8_lossy(&listed.output),
    )
    .await
}

/// [`pull_bundles`] with the listing a session wrote into the file `list` in the container
/// (`session_list`), fetched through the archive endpoint: no exec. No file: no `bundles/` there.
pub async fn pull_with_list(
    exec: &Exec<'_>,
    t: &Target,
    fork: &Fork,
    into: &Utf8Path,
    list: &str,
) -> Result<()> {
    let opts = DownloadFromContainerOptionsBuilder::default()
        .path(list)
        .build();
    let mut stream = exec
        .engine
        .docker
        .download_from_container(exec.container, Some(opts));
    let mut archive = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(b) => archive.extend_from_slice(&b),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                return Ok(());
            }
            Err(e) => {
                return Err(e).context("cannot fetch the listing of bundles/ from the engine")
            }
        }
    }
    let mut text = String::new();
    let mut tar = tar::Archive::new(archive.as_slice());
    if let Some(entry) = tar
        .entries()
        .context("reading the listing of bundles/")?
        .next()
    {
        std::io::Read::read_to_string(&mut entry?, &mut text)
            .context("reading the listing of bundles/")?;
    }
    pull_listed(exec, t, fork, into, &text).await
}

/// Bring back what differs from `listed` (`bundles_list`'s lines).
async fn pull_listed(
    exec: &Exec<'_>,
    t: &Target,
    fork: &Fork,
    into: &Utf8Path,
    listed: &str,
) -> Result<()> {
    let remote: BTreeMap<String, (char, u64, i64)> = listed
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(4, ' ');
            let kind = f.next()?.chars().next()?;
            let size = f.next()?.parse().ok()?;
            let mtime = f.next()?.split('.').next()?.parse().ok()?;
            Some((format!("bundles/{}", f.next()?), (kind, size, mtime)))
        })
        .collect();
    let local = local_bundles(into);
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
        let path = into.join(p);
        let _ = std::fs::remove_file(&path).or_else(|_| std::fs::remove_dir_all(&path));
    }
    let (uid, gid) = crate::fork::owner(fork)?;
    let owned = uid == 0 || !is_root();
    let records: Vec<Utf8PathBuf> = local
        .keys()
        .filter(|p| is_own_record(p))
        .map(|p| into.join(p))
        .collect();
    if differs && into != fork.root {
        fs_err::create_dir_all(into)?;
    }
    if differs {
        fetch(exec, t, into, local, (!owned).then_some((uid, gid))).await?;
    }
    if !owned {
        // bundles/ itself and the tool's own records, written here, are the owner's too.
        // And a split run's `bundles/.engines/<name>/`, made here.
        let made: Vec<Utf8PathBuf> = match into.strip_prefix(&fork.root) {
            Ok(rel) if !rel.as_str().is_empty() => rel
                .ancestors()
                .filter(|a| !a.as_str().is_empty())
                .map(|a| fork.root.join(a))
                .collect(),
            _ => Vec::new(),
        };
        for p in records.iter().chain([&into.join("bundles")]).chain(&made) {
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
    into: &Utf8Path,
    local: BTreeMap<String, (char, u64, i64)>,
    owner: Option<(u32, u32)>,
) -> Result<()> {
    let opts = DownloadFromContainerOptionsBuilder::default()
        .path(&format!("{}/bundles", t.src_path))
        .build();
    let mut stream = exec
        .engine
        .docker
        .download_from_container(&t.container, Some(opts));
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let root = into.to_owned();
    let reader = Incoming {
        rx,
        cur: Bytes::new(),
    };
    let unpacker = tokio::task::spawn_blocking(move || unpack(&root, reader, &local, owner));
    let mut first = true;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.context("cannot fetch bundles/ from the engine")?;
        if std::mem::take(&mut first) {
            crate::fail::point("mid-pull").await?;
        }
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
    p == "bundles/.engines"
        || p.starts_with("bundles/.engines/")
        || p.rsplit('/')
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
