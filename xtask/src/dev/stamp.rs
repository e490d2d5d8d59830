//! The commit a build is stamped with: checked to be commit-shaped (it goes into `-ldflags`,
//! the build record and `smoke`'s expectation), and taken again for each build of a long-lived
//! command (`run --watch`), as the tree is then.

use anyhow::Result;

use super::Dev;
use crate::fork::commit::{self, Stamp};

/// A stamp goes into the binary's `-ldflags`, the build record and `smoke`'s expectation: only
/// the characters a commit (and its `-unsupported` suffix) can hold; no space, quote or newline.
pub(super) fn check(stamp: Stamp) -> Result<Stamp> {
    let c = &stamp.commit;
    let ok = c.len() <= 64
        && c.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "._+-".contains(ch));
    if !ok {
        anyhow::bail!(
            "the commit {} ({c:?}) is not a commit hash: give one like `3385658` (`git rev-parse --short HEAD`), \
             optionally with `-unsupported`",
            stamp.source
        );
    }
    Ok(stamp)
}

impl Dev {
    /// The stamp for a build of the tree as it is now: a stamp from git is taken again (an edit
    /// since the command began makes it `-unsupported`, as the fork's `hack/make.sh` marks it);
    /// one given by `--commit` or `DOCKER_GITCOMMIT` stays.
    pub fn commit_now(&self) -> String {
        match &self.stamp {
            Some(s) if s.source == commit::Source::Git => {
                commit::stamp(&self.fork.root, self.fork.commit_form, None, None, true)
                    .map(|s| s.commit)
                    .unwrap_or_else(|_| s.commit.clone())
            }
            _ => self.commit().to_string(),
        }
    }

    /// The commit stamped (`?` when there is none, only possible for `shell`).
    pub fn commit(&self) -> &str {
        self.stamp
            .as_ref()
            .map(|s| s.commit.as_str())
            .unwrap_or("?")
    }

    /// The version `hack/make.sh` stamps: the fork's VERSION file, else `$VERSION`, else `dev`.
    pub fn version(&self) -> String {
        self.fork.version(std::env::var("VERSION").ok().as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::check;
    use crate::fork::commit::{Source, Stamp};

    fn stamp(c: &str) -> anyhow::Result<Stamp> {
        check(Stamp {
            commit: c.to_string(),
            source: Source::Flag,
        })
    }

    #[test]
    fn stamps_are_commit_shaped() {
        for good in [
            "3385658",
            "3385658-unsupported",
            &"a".repeat(40),
            "unsupported",
        ] {
            assert!(stamp(good).is_ok(), "{good}");
        }
        for bad in [
            "a b",
            "abc;rm",
            "a'b",
            "a\"b",
            "abc\nversion=evil",
            "$(id)",
            &"a".repeat(65),
        ] {
            let e = format!("{:#}", stamp(bad).unwrap_err());
            assert!(
                e.contains("from --commit") && e.contains("not a commit hash"),
                "{e}"
            );
        }
    }
}
