//! The one definition of the fork's source files, and the one walk of them: git's tracked files
//! plus the untracked ones git does not ignore, never `bundles/`, `target/`, `.git/` or
//! `.gopath/`, each with size, mtime and mode. The sync sends them (and keeps the manifest of
//! what a volume holds), a build's inputs list them (`ops/inputs.rs`), the watch asks
//! [`is_source`] of each change.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;

use anyhow::{Context as _, Result};
use camino::Utf8Path;

/// Never the fork's source, whatever git says: build output, cargo's output, git's database,
/// the old eras' GOPATH. The one list: the sync, the watch and a build's inputs all use it.
const NOT_SOURCE: &[&str] = &["bundles", "target", ".git", ".gopath"];

/// Whether a change to `rel` (relative to the fork root) is a change to the fork's source: not
/// under [`NOT_SOURCE`], and not a path git ignores (what [`files`] lists; a tracked file that
/// an ignore pattern also matches is rare enough to be asked of the index only there).
pub fn is_source(repo: Option<&git2::Repository>, rel: &Utf8Path) -> bool {
    let first = rel.components().next().map(|c| c.as_str()).unwrap_or("");
    if rel.as_str().is_empty() || NOT_SOURCE.contains(&first) {
        return false;
    }
    match repo {
        Some(repo) => !repo.is_path_ignored(rel.as_std_path()).unwrap_or(false),
        None => true,
    }
}

/// One file as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub size: u64,
    pub mtime_ns: i128,
    pub mode: u32,
}

pub type Manifest = BTreeMap<String, Entry>;

/// The files to sync: the index's, plus untracked ones git does not ignore, with their stat. The
/// work tree is walked once (git's status would also compare every tracked file with the index):
/// a path the index does not hold is asked of git's ignore rules, and so is a directory that holds
/// no tracked path before it is entered.
pub fn files(root: &Utf8Path) -> Result<Manifest> {
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
                let skip =
                    NOT_SOURCE.contains(&rel.as_str()) || (!holds_tracked(&rel) && ignored(&rel));
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

/// The fork's walk started on a thread of its own when a command begins: it runs while the
/// engine is reached and the dev container looked up (over ssh, the larger part of a command
/// that changes nothing; locally, beside the commit stamp's check of the index). The first
/// listing of the command takes its result; later ones (a watch's next build) walk again.
pub struct EarlyWalk(Mutex<Option<Walking>>);

type Walking = std::thread::JoinHandle<Result<Manifest>>;

fn spawn(root: &Utf8Path) -> Option<Walking> {
    let root = root.to_owned();
    std::thread::Builder::new()
        .name("walk".into())
        .spawn(move || files(&root))
        .ok()
}

impl EarlyWalk {
    pub fn start(root: &Utf8Path) -> EarlyWalk {
        EarlyWalk(Mutex::new(spawn(root)))
    }

    pub fn none() -> EarlyWalk {
        EarlyWalk(Mutex::new(None))
    }

    /// A new walk of `root` begun for the next listing (a watch's next build), beside the
    /// stamp taken for it; one still pending is dropped (it saw the tree before the edit).
    pub fn rearm(&self, root: &Utf8Path) {
        let fresh = spawn(root);
        if let Ok(mut h) = self.0.lock() {
            *h = fresh;
        }
    }

    /// The early walk's files, or a walk of `root` now when it was taken already (or never ran).
    pub fn take(&self, root: &Utf8Path) -> Result<Manifest> {
        Self::join_or_walk(self.take_handle(), root)
    }

    pub(super) fn take_handle(&self) -> Option<Walking> {
        self.0.lock().ok().and_then(|mut h| h.take())
    }

    pub(super) fn join_or_walk(walking: Option<Walking>, root: &Utf8Path) -> Result<Manifest> {
        match walking {
            Some(w) => w
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("listing the fork's files failed"))),
            None => files(root),
        }
    }
}

pub fn read_manifest(path: &Utf8Path, volume_id: &str) -> Manifest {
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

pub fn write_manifest(path: &Utf8Path, volume_id: &str, m: &Manifest) -> Result<()> {
    let mut text = format!("# volume {volume_id}\n");
    for (p, e) in m {
        text.push_str(&format!("{p}\t{}\t{}\t{}\n", e.size, e.mtime_ns, e.mode));
    }
    crate::private::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trip_and_volume_identity() {
        let dir = std::env::temp_dir().join(format!("xtask-manifest-{}", std::process::id()));
        let path = camino::Utf8PathBuf::from_path_buf(dir.join("m.tsv")).unwrap();
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
}
