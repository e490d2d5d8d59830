//! What the last successful build was: `bundles/.moby-xtask-build` (commit and version), written
//! by the tool after `hack/make.sh binary` succeeds; its mtime is the build time that `smoke`
//! compares the sources against.

use std::time::SystemTime;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use hack_compat::Fork;

const FILE: &str = "bundles/.moby-xtask-build";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub commit: String,
    pub version: String,
}

pub fn write(fork: &Fork, record: &Record) -> Result<()> {
    let text = format!("commit={}\nversion={}\n", record.commit, record.version);
    fs_err::write(fork.root.join(FILE), text).context("cannot record the build")
}

pub fn read(fork: &Fork) -> Option<(Record, SystemTime)> {
    let path = fork.root.join(FILE);
    let text = std::fs::read_to_string(&path).ok()?;
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(str::to_string)
    };
    let record = Record {
        commit: field("commit=")?,
        version: field("version=")?,
    };
    let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    Some((record, mtime))
}

/// Why a new build is needed (`None`: the last build is current for `commit`).
pub fn stale_because(fork: &Fork, commit: &str) -> Option<String> {
    let Some((record, built)) = read(fork) else {
        return Some("no build recorded".to_string());
    };
    if record.commit != commit {
        return Some(format!(
            "last build stamped {}, now {commit}",
            record.commit
        ));
    }
    newer_source(&fork.root, &fork.root, built).map(|p| format!("{p} changed"))
}

/// Directories never part of what `hack/make.sh binary` compiles (or written by it).
const SKIP_DIRS: &[&str] = &[
    "bundles",
    ".git",
    "target",
    ".gopath",
    "autogen",
    "docs",
    "integration",
    "integration-cli",
];

/// The first file under `dir` modified after `since`, relative to `root`.
fn newer_source(root: &Utf8Path, dir: &Utf8Path, since: SystemTime) -> Option<Utf8PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Ok(ft) = entry.file_type() else { continue };
        let path = dir.join(&name);
        if ft.is_dir() {
            if dir == root && SKIP_DIRS.contains(&name.as_str()) {
                continue;
            }
            if let Some(p) = newer_source(root, &path, since) {
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
