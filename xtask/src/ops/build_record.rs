//! What the last successful build was: `bundles/.moby-xtask-build` (commit, version, dev image,
//! and the digest of the inputs it read, `inputs.rs`), written after `hack/make.sh binary`
//! succeeds and removed before any build starts, so a failed or interrupted build leaves none.
//! `binary` and `smoke` build again unless the inputs now are those.

use std::time::SystemTime;

use anyhow::{Context, Result};
use hack_compat::Fork;

pub const FILE: &str = "bundles/.moby-xtask-build";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub commit: String,
    pub version: String,
    pub image: String,
    /// The digest of the inputs the build read (`inputs.rs`), kept beside the record.
    pub inputs: Option<String>,
}

impl Record {
    fn render(&self) -> String {
        let mut text = format!(
            "commit={}\nversion={}\nimage={}\n",
            self.commit, self.version, self.image
        );
        if let Some(d) = &self.inputs {
            text.push_str(&format!("inputs={d}\n"));
        }
        text
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
            inputs: field("inputs="),
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

/// Why `binary` must build again (`None`: the last build read exactly the inputs `now`, as
/// [`super::inputs::render`] writes them; `None` for `now` when they cannot be listed).
pub fn stale(fork: &Fork, now: Option<&str>) -> Option<String> {
    let Some((record, _)) = read(fork) else {
        return Some("no build recorded".to_string());
    };
    let Some(now) = now else {
        return Some("the fork's files cannot be listed (no git checkout)".to_string());
    };
    let Some(then) = record
        .inputs
        .as_deref()
        .and_then(|d| super::inputs::read(&fork.root, d))
    else {
        return Some("the last build's inputs are not recorded".to_string());
    };
    super::inputs::changed(&then, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip() {
        let r = Record {
            commit: "abc1234".into(),
            version: "dev".into(),
            image: "sha256:1".into(),
            inputs: Some("00ff".into()),
        };
        assert_eq!(Record::parse(&r.render()), Some(r.clone()));
        let old = Record { inputs: None, ..r };
        assert_eq!(Record::parse(&old.render()), Some(old));
        // An old record without the image line is no record: rebuild.
        assert_eq!(Record::parse("commit=a\nversion=dev\n"), None);
    }
}
