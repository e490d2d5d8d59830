//! What the last successful build was: `bundles/.moby-xtask-build` (commit, version, dev image),
//! written after `hack/make.sh binary` succeeds and removed before any build starts, so a failed
//! or interrupted build leaves none. Its mtime is the build time that `smoke` compares the
//! sources against, as make compares a target with its prerequisites.

use std::time::SystemTime;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use hack_compat::Fork;

pub const FILE: &str = "bundles/.moby-xtask-build";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub commit: String,
    pub version: String,
    pub image: String,
}

impl Record {
    fn render(&self) -> String {
        format!(
            "commit={}\nversion={}\nimage={}\n",
            self.commit, self.version, self.image
        )
    }

    fn parse(text: &str) -> Option<Record> {
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k))
                .map(str::to_string)
        };
        Some(Record {
            commit: field("commit=")?,
            version: field("version=")?,
            image: field("image=")?,
        })
    }
}

pub fn write(fork: &Fork, record: &Record) -> Result<()> {
    let path = fork.root.join(FILE);
    if let Some(dir) = path.parent() {
        // On an engine elsewhere, bundles/ comes back only after the record is written.
        fs_err::create_dir_all(dir).context("cannot record the build")?;
    }
    fs_err::write(&path, record.render()).context("cannot record the build")?;
    crate::fork::own(fork, &path)
}

/// Remove the record; `false` when it exists and could not be removed here (root-owned).
pub fn remove(fork: &Fork) -> bool {
    match std::fs::remove_file(fork.root.join(FILE)) {
        Ok(()) => true,
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

pub fn read(fork: &Fork) -> Option<(Record, SystemTime)> {
    let path = fork.root.join(FILE);
    let text = std::fs::read_to_string(&path).ok()?;
    let record = Record::parse(&text)?;
    let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    Some((record, mtime))
}

/// Why a new build is needed (`None`: the last build is current for `commit` and `image`).
pub fn stale_because(fork: &Fork, commit: &str, image: &str) -> Option<String> {
    let Some((record, built)) = read(fork) else {
        return Some("no build recorded".to_string());
    };
    stale(
        &record,
        built,
        &fork.root,
        commit,
        image,
        hack_compat::NON_BUILD_DIRS,
    )
}

fn stale(
    record: &Record,
    built: SystemTime,
    root: &Utf8Path,
    commit: &str,
    image: &str,
    skip: &[&str],
) -> Option<String> {
    if record.commit != commit {
        return Some(format!(
            "last build stamped {}, now {commit}",
            record.commit
        ));
    }
    if record.image != image {
        return Some("the dev image changed since the last build".to_string());
    }
    newer_source(root, root, built, skip).map(|p| format!("{p} changed"))
}

/// The first file under `dir` modified after `since`, relative to `root`; `skip` names the
/// top-level directories that are not part of what `hack/make.sh binary` compiles.
fn newer_source(
    root: &Utf8Path,
    dir: &Utf8Path,
    since: SystemTime,
    skip: &[&str],
) -> Option<Utf8PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Ok(ft) = entry.file_type() else { continue };
        let path = dir.join(&name);
        if ft.is_dir() {
            if dir == root && skip.contains(&name.as_str()) {
                continue;
            }
            if let Some(p) = newer_source(root, &path, since, skip) {
                return Some(p);
            }
        } else if ft.is_file() && !name.starts_with("version_autogen") {
            let modified = entry.metadata().and_then(|m| m.modified());
            if modified.is_ok_and(|m| m > since) {
                return Some(
                    path.strip_prefix(root)
                        .map(Utf8Path::to_path_buf)
                        .unwrap_or(path),
                );
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn record_round_trip_and_staleness() {
        let r = Record {
            commit: "abc1234".into(),
            version: "dev".into(),
            image: "sha256:1".into(),
        };
        assert_eq!(Record::parse(&r.render()), Some(r.clone()));
        // An old record without the image line is no record: rebuild.
        assert_eq!(Record::parse("commit=a\nversion=dev\n"), None);

        let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-record-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("daemon")).unwrap();
        std::fs::create_dir_all(dir.join("docs")).unwrap();
        std::fs::write(dir.join("daemon/daemon.go"), "x").unwrap();
        std::fs::write(dir.join("docs/api.md"), "x").unwrap();
        let before = SystemTime::now() - Duration::from_secs(3600);
        let after = SystemTime::now() + Duration::from_secs(3600);
        let skip = ["docs"];
        assert_eq!(stale(&r, after, &dir, "abc1234", "sha256:1", &skip), None);
        assert_eq!(
            stale(&r, before, &dir, "abc1234", "sha256:1", &skip).as_deref(),
            Some("daemon/daemon.go changed")
        );
        assert!(stale(&r, after, &dir, "def5678", "sha256:1", &skip)
            .is_some_and(|w| w.contains("now def5678")));
        assert!(stale(&r, after, &dir, "abc1234", "sha256:2", &skip)
            .is_some_and(|w| w.contains("dev image changed")));
        // Only docs changed: nothing to build.
        std::fs::remove_file(dir.join("daemon/daemon.go")).unwrap();
        assert_eq!(stale(&r, before, &dir, "abc1234", "sha256:1", &skip), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
