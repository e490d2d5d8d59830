//! The commit stamp (`DOCKER_GITCOMMIT`), computed on the host exactly as the fork's `hack/make.sh`
//! would: `--commit` wins, then `$DOCKER_GITCOMMIT`, else HEAD in the fork's form (`--short` or
//! full) plus `-unsupported` when tracked files are modified. Untracked files do not count.

use anyhow::{bail, Context, Result};
use camino::Utf8Path;
use git2::{Repository, StatusOptions};
use hack_compat::CommitForm;

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

pub fn stamp(
    root: &Utf8Path,
    form: CommitForm,
    flag: Option<&str>,
    env: Option<&str>,
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
        commit: from_git(root, form)?,
        source: Source::Git,
    })
}

/// HEAD as `hack/make.sh` stamps it. `.git` must be at the fork root (a directory or a worktree's file).
pub fn from_git(root: &Utf8Path, form: CommitForm) -> Result<String> {
    if !root.join(".git").exists() {
        bail!(
            ".git directory missing in {root} and DOCKER_GITCOMMIT not specified: \
             pass --commit <hash> (or set DOCKER_GITCOMMIT=<hash>) with the commit you are building"
        );
    }
    let repo = Repository::open(root).with_context(|| {
        format!("cannot read the git repository at {root} (pass --commit <hash> to skip git)")
    })?;
    let head = repo.head().with_context(|| {
        format!("{root} has no commit checked out yet: commit first, or pass --commit <hash>")
    })?;
    let commit = head
        .peel_to_commit()
        .context("HEAD does not point at a commit")?;
    let mut hash = match form {
        CommitForm::Short => {
            let short = commit
                .as_object()
                .short_id()
                .context("cannot abbreviate HEAD")?;
            short
                .as_str()
                .context("abbreviated hash is not UTF-8")?
                .to_string()
        }
        CommitForm::Full => commit.id().to_string(),
    };
    if is_dirty(&repo)? {
        hash.push_str("-unsupported");
    }
    Ok(hash)
}

/// `git status --porcelain --untracked-files=no` is non-empty.
fn is_dirty(repo: &Repository) -> Result<bool> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(false)
        .include_ignored(false)
        .exclude_submodules(false);
    let statuses = repo
        .statuses(Some(&mut opts))
        .context("git status failed")?;
    Ok(!statuses.is_empty())
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
