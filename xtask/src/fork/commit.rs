//! The commit stamp (`DOCKER_GITCOMMIT`), computed on the host exactly as the fork's `hack/make.sh`
//! would: `--commit` wins, then `$DOCKER_GITCOMMIT`, else HEAD in the fork's form (`--short` or
//! full) plus `-unsupported` when tracked files are modified. Untracked files do not count.
//!
//! The short form is git's own (`git rev-parse --short HEAD`), not libgit2's: git starts from an
//! automatic length that grows with the number of packed objects (10 characters on a moby clone),
//! where libgit2's `short_id()` starts at 7. See [`short_hash`].

use anyhow::{anyhow, bail, Context, Result};
use camino::Utf8Path;
use git2::{ErrorCode, Oid, Repository};
use hack_compat::CommitForm;
use std::path::Path;

/// Where the stamp came from, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env,
    Git,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Flag => "from --commit",
            Source::Env => "from $DOCKER_GITCOMMIT",
            Source::Git => "from git",
        })
    }
}

#[derive(Debug, Clone)]
pub struct Stamp {
    pub commit: String,
    pub source: Source,
}

/// With `dirty_check`, `-unsupported` marks a tree with modified tracked files, as
/// `hack/make.sh` marks it; without, HEAD alone, as the Makefile exports it to `make shell`
/// (and no walk of the tree: re-entering a shell stays as fast as `docker exec`).
pub fn stamp(
    root: &Utf8Path,
    form: CommitForm,
    flag: Option<&str>,
    env: Option<&str>,
    dirty_check: bool,
) -> Result<Stamp> {
    if let Some(c) = flag.filter(|c| !c.is_empty()) {
        return Ok(Stamp {
            commit: c.to_string(),
            source: Source::Flag,
        });
    }
    if let Some(c) = env.filter(|c| !c.is_empty()) {
        return Ok(Stamp {
            commit: c.to_string(),
            source: Source::Env,
        });
    }
    Ok(Stamp {
        commit: git_stamp(root, form, dirty_check)?,
        source: Source::Git,
    })
}

/// HEAD as `hack/make.sh` stamps it. `.git` must be at the fork root (a directory or a worktree's file).
#[cfg(test)]
pub fn from_git(root: &Utf8Path, form: CommitForm) -> Result<String> {
    git_stamp(root, form, true)
}

/// HEAD's hash in the fork's form, without the `-unsupported` check.
#[cfg(test)]
pub fn head(root: &Utf8Path, form: CommitForm) -> Result<String> {
    git_stamp(root, form, false)
}

fn git_stamp(root: &Utf8Path, form: CommitForm, dirty_check: bool) -> Result<String> {
    if !root.join(".git").exists() {
        bail!(
            ".git directory missing in {root} and DOCKER_GITCOMMIT not specified: \
             pass --commit <hash> (or set DOCKER_GITCOMMIT=<hash>) with the commit you are building"
        );
    }
    let repo = Repository::open(root).map_err(|e| open_error(root, e))?;
    let head = repo.head().with_context(|| {
        format!("{root} has no commit checked out yet: commit first, or pass --commit <hash>")
    })?;
    let commit = head
        .peel_to_commit()
        .context("HEAD does not point at a commit")?;
    let mut hash = match form {
        CommitForm::Short => short_hash(&repo, commit.id())?,
        CommitForm::Full => commit.id().to_string(),
    };
    if dirty_check && super::dirty::is_dirty(&repo)? {
        hash.push_str("-unsupported");
    }
    Ok(hash)
}

/// Why git2 could not open the repository, with git's advice for the ownership check.
fn open_error(root: &Utf8Path, e: git2::Error) -> anyhow::Error {
    if e.code() == ErrorCode::Owner {
        return anyhow!(
            "git refuses to read the repository at {root}: it is owned by another user \
             (git's safe.directory check: {msg}). If you trust it, allow it with\n\n\
             \tgit config --global --add safe.directory {root}\n\n\
             or pass --commit <hash> to skip git",
            msg = e.message()
        );
    }
    anyhow!(e).context(format!(
        "cannot read the git repository at {root} (pass --commit <hash> to skip git)"
    ))
}

/// git's fallback abbreviation length (`FALLBACK_DEFAULT_ABBREV`), the least automatic length.
const FALLBACK_ABBREV: usize = 7;
/// Hex digits of a SHA-1 object id.
const HEXSZ: usize = 40;

/// `git rev-parse --short <id>`: start at `core.abbrev` (or git's automatic length, see
/// [`auto_abbrev_len`]) and lengthen until no other object shares the prefix.
pub fn short_hash(repo: &Repository, id: Oid) -> Result<String> {
    let hex = id.to_string();
    let start = match abbrev_config(repo)? {
        Some(n) => n,
        None => auto_abbrev_len(approximate_object_count(&repo.commondir().join("objects"))),
    };
    if start >= hex.len() {
        return Ok(hex);
    }
    let odb = repo.odb().context("cannot open the object database")?;
    for len in start..hex.len() {
        let prefix = Oid::from_str(&hex[..len]).context("abbreviating HEAD")?;
        match odb.exists_prefix(prefix, len) {
            Err(e) if e.code() == ErrorCode::Ambiguous => continue,
            Err(e) => return Err(anyhow!(e).context("abbreviating HEAD")),
            Ok(_) => return Ok(hex[..len].to_string()),
        }
    }
    Ok(hex)
}

/// `core.abbrev`: `None` for automatic (unset or `auto`), the full length for `no`/`false`/`off`,
/// else a number from 4 to 40, as git accepts it.
fn abbrev_config(repo: &Repository) -> Result<Option<usize>> {
    let config = repo.config().context("cannot read git config")?;
    let value = match config.get_string("core.abbrev") {
        Ok(v) => v,
        Err(e) if e.code() == ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(anyhow!(e).context("cannot read core.abbrev")),
    };
    parse_abbrev(&value)
}

fn parse_abbrev(value: &str) -> Result<Option<usize>> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("auto") {
        return Ok(None);
    }
    if v.is_empty()
        || ["false", "no", "off"]
            .iter()
            .any(|f| v.eq_ignore_ascii_case(f))
    {
        return Ok(Some(HEXSZ));
    }
    match v.parse::<usize>() {
        Ok(n) if (4..=HEXSZ).contains(&n) => Ok(Some(n)),
        _ => bail!("core.abbrev = {value:?} is not a length from 4 to 40, `auto` or `no` (git refuses it too)"),
    }
}

/// git's automatic start length (`repo_find_unique_abbrev_r` in git's object-name.c): with `n`
/// the 1-based position of the highest set bit of `count`, `ceil(n / 2)`, at least 7.
pub fn auto_abbrev_len(count: u64) -> usize {
    let msb = 63 - (count | 1).leading_zeros() as usize; // git's msb(0) is 0 too
    (msb + 1).div_ceil(2).max(FALLBACK_ABBREV)
}

/// git's `repo_approximate_object_count`: the objects of each multi-pack-index plus those of the
/// packs it does not cover, in `objects` and its alternates. Loose objects do not count.
pub fn approximate_object_count(objects: &Path) -> u64 {
    let mut dirs = vec![objects.to_path_buf()];
    if let Ok(text) = std::fs::read_to_string(objects.join("info/alternates")) {
        dirs.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| objects.join(l)),
        );
    }
    dirs.iter().map(|d| pack_dir_count(&d.join("pack"))).sum()
}

fn pack_dir_count(pack: &Path) -> u64 {
    let (mut count, covered) = midx(&pack.join("multi-pack-index")).unwrap_or_default();
    let Ok(entries) = std::fs::read_dir(pack) else {
        return count;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".idx") else {
            continue;
        };
        if covered.iter().any(|c| c == &name) || !pack.join(format!("{stem}.pack")).is_file() {
            continue;
        }
        count += idx_count(&entry.path()).unwrap_or(0);
    }
    count
}

/// The object count of a pack index: the last of its 256 fan-out entries (v2 after the
/// `\377tOc` magic and version, v1 from byte 0).
fn idx_count(path: &Path) -> Option<u64> {
    let data = std::fs::read(path).ok()?;
    let fanout = if data.starts_with(b"\xfftOc") { 8 } else { 0 };
    be32(&data, fanout + 255 * 4).map(u64::from)
}

/// A multi-pack-index: its object count (last OIDF fan-out entry) and the `.idx` names it covers.
fn midx(path: &Path) -> Option<(u64, Vec<String>)> {
    let data = std::fs::read(path).ok()?;
    if !data.starts_with(b"MIDX") {
        return None;
    }
    let chunks = usize::from(*data.get(6)?);
    let chunk = |id: &[u8]| -> Option<(usize, usize)> {
        (0..chunks).find_map(|i| {
            let at = 12 + i * 12;
            (data.get(at..at + 4)? == id).then_some(())?;
            let start = usize::try_from(be64(&data, at + 4)?).ok()?;
            let end = usize::try_from(be64(&data, at + 16)?).ok()?;
            Some((start, end))
        })
    };
    let (oidf, _) = chunk(b"OIDF")?;
    let count = u64::from(be32(&data, oidf + 255 * 4)?);
    let names = chunk(b"PNAM")
        .and_then(|(s, e)| data.get(s..e))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|n| !n.is_empty())
                .map(|n| {
                    let n = String::from_utf8_lossy(n);
                    match n.strip_suffix(".pack") {
                        Some(stem) => format!("{stem}.idx"),
                        None => n.into_owned(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Some((count, names))
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn be64(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

/// `git rev-parse --abbrev-ref HEAD`: the branch name, `HEAD` when detached, `None` without git.
pub fn branch(root: &Utf8Path) -> Option<String> {
    let repo = Repository::open(root).ok()?;
    let head = repo.head().ok()?;
    if repo.head_detached().unwrap_or(false) {
        return Some("HEAD".to_string());
    }
    head.shorthand().ok().map(str::to_string)
}

#[cfg(test)]
mod tests;
