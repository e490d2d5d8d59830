//! Whether the fork's tracked files differ from HEAD, as `git status --porcelain
//! --untracked-files=no` would say (the `-unsupported` of the commit stamp), read the way git
//! reads it: the index against HEAD's tree, then each tracked file's stat against the index's
//! stat data. No directory is walked and nothing git knows unchanged is hashed; a file whose stat
//! differs (or is racily clean) is asked of libgit2, which hashes it through the fork's filters.
//! Anything unusual (a submodule, many changed stats, an unreadable index) asks libgit2's full
//! status instead.

use std::os::unix::fs::MetadataExt;

use anyhow::{Context as _, Result};
use git2::{IndexEntry, Repository, Status, StatusOptions};

/// Past this many files whose stat differs from the index (a `touch` of the tree, a fresh
/// clone's copy), one full status is cheaper than asking file by file.
const ASK_AT_MOST: usize = 32;

const STAGE_MASK: u16 = 0x3000;
const ASSUME_VALID: u16 = 0x8000;
const INTENT_TO_ADD: u16 = 1 << 13;
const SKIP_WORKTREE: u16 = 1 << 14;
const SUBMODULE: u32 = 0o160000;

/// `git status --porcelain --untracked-files=no` is non-empty.
pub fn is_dirty(repo: &Repository) -> Result<bool> {
    match by_index(repo) {
        Some(dirty) => Ok(dirty),
        None => full_status(repo),
    }
}

/// The answer from the index and one `lstat` per tracked file, or `None` where only the full
/// status can tell.
fn by_index(repo: &Repository) -> Option<bool> {
    let root = repo.workdir()?;
    let index = repo.index().ok()?;
    let tree = repo.head().ok()?.peel_to_tree().ok()?;
    let staged = repo
        .diff_tree_to_index(Some(&tree), Some(&index), None)
        .ok()?;
    if staged.deltas().len() > 0 {
        return Some(true);
    }
    // git's racy-clean rule: a file changed in the same instant the index was written may
    // still match its stat data, so its content is looked at.
    let written = std::fs::metadata(repo.path().join("index")).ok()?;
    let written = (written.mtime(), written.mtime_nsec());
    let trust_ctime = repo
        .config()
        .ok()
        .and_then(|c| c.get_bool("core.trustctime").ok())
        .unwrap_or(true);
    let mut ask = Vec::new();
    for e in index.iter() {
        if e.flags & STAGE_MASK != 0 || e.flags_extended & INTENT_TO_ADD != 0 {
            return Some(true);
        }
        if e.mode == SUBMODULE {
            return None;
        }
        if e.flags & ASSUME_VALID != 0 || e.flags_extended & SKIP_WORKTREE != 0 {
            continue;
        }
        let path = String::from_utf8(e.path.clone()).ok()?;
        let m = match std::fs::symlink_metadata(root.join(&path)) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(true), // deleted
            Err(_) => return None,
        };
        if !same_stat(&e, &m, trust_ctime) || (m.mtime(), m.mtime_nsec()) >= written {
            ask.push(path);
            if ask.len() > ASK_AT_MOST {
                return None;
            }
        }
    }
    for path in ask {
        let status = repo.status_file(std::path::Path::new(&path)).ok()?;
        if !(status - Status::IGNORED).is_empty() {
            return Some(true);
        }
    }
    Some(false)
}

/// The stat data git keeps for `e` still describes `m` (git's `ie_match_stat`, without `dev`).
fn same_stat(e: &IndexEntry, m: &std::fs::Metadata, trust_ctime: bool) -> bool {
    let kind_and_exec = |mode: u32| {
        (
            mode & 0o170000,
            mode & 0o170000 == 0o100000 && mode & 0o100 != 0,
        )
    };
    kind_and_exec(e.mode) == kind_and_exec(m.mode())
        && e.file_size == m.len() as u32
        && i64::from(e.mtime.seconds()) == m.mtime()
        && i64::from(e.mtime.nanoseconds()) == m.mtime_nsec()
        && e.ino == m.ino() as u32
        && e.uid == m.uid()
        && e.gid == m.gid()
        && (!trust_ctime
            || (i64::from(e.ctime.seconds()) == m.ctime()
                && i64::from(e.ctime.nanoseconds()) == m.ctime_nsec()))
}

fn full_status(repo: &Repository) -> Result<bool> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(false)
        .include_ignored(false)
        .exclude_submodules(false);
    let statuses = repo
        .statuses(Some(&mut opts))
        .context("git status failed")?;
    Ok(!statuses.is_empty())
}
