//! After a build: each artifact, its size, its checksum verified where the era writes them.
//! Hashing ~60 MB binaries takes a moment: a signal stops it between files.

use std::io::Read;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use hack_compat::Fork;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::cancel::Cancel;
use crate::ui::Ui;

#[derive(Debug)]
pub struct Artifact {
    pub path: Utf8PathBuf,
    pub size: u64,
    pub link_target: Option<String>,
    pub checksum: Checksum,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Checksum {
    /// The era writes none.
    NotWritten,
    Verified,
    Missing,
    Mismatch {
        expected: String,
        actual: String,
    },
}

/// The artifacts under the output directories of `bundles` (relative paths from the fork root).
pub fn collect(
    fork: &Fork,
    bundles: &[String],
    version: &str,
    cancel: &Cancel,
) -> Result<Vec<Artifact>> {
    let mut out = Vec::new();
    for bundle in bundles {
        for o in fork.bundle_outputs(bundle, version) {
            let dir = fork.root.join(&o.dir);
            if !dir.is_dir()
                || out
                    .iter()
                    .any(|a: &Artifact| a.path.parent() == Some(o.dir.as_path()))
            {
                continue;
            }
            let mut names: Vec<String> = fs_err::read_dir(&dir)?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| !n.ends_with(".md5") && !n.ends_with(".sha256"))
                .collect();
            names.sort();
            for name in names {
                cancel.check()?;
                out.push(artifact(fork, &dir, &o.dir.join(&name))?);
            }
        }
    }
    Ok(out)
}

fn artifact(fork: &Fork, dir: &Utf8Path, rel: &Utf8Path) -> Result<Artifact> {
    let path = fork.root.join(rel);
    let lmeta = fs_err::symlink_metadata(&path)?;
    if lmeta.file_type().is_symlink() {
        let target = fs_err::read_link(&path)?.to_string_lossy().into_owned();
        return Ok(Artifact {
            path: rel.to_path_buf(),
            size: 0,
            link_target: Some(target),
            checksum: Checksum::NotWritten,
        });
    }
    let checksum = if fork.checksums && lmeta.is_file() {
        verify(dir, rel.file_name().unwrap_or_default())?
    } else {
        Checksum::NotWritten
    };
    Ok(Artifact {
        path: rel.to_path_buf(),
        size: lmeta.len(),
        link_target: None,
        checksum,
    })
}

/// Compare `<name>.sha256` (`<hash>  <name>`, as `sha256sum` writes it) with the file.
fn verify(dir: &Utf8Path, name: &str) -> Result<Checksum> {
    let sum_file = dir.join(format!("{name}.sha256"));
    let Ok(text) = std::fs::read_to_string(&sum_file) else {
        return Ok(Checksum::Missing);
    };
    let expected = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let actual = sha256_file(&dir.join(name))?;
    Ok(if expected == actual {
        Checksum::Verified
    } else {
        Checksum::Mismatch { expected, actual }
    })
}

pub fn sha256_file(path: &Utf8Path) -> Result<String> {
    let mut f = fs_err::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {path}"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(crate::text::hex(&hasher.finalize()))
}

/// The artifacts as result lines (stdout) and, with `--json`, one event each. False when a
/// checksum is missing or wrong.
pub fn print(ui: Ui, artifacts: &[Artifact], version: &str, commit: &str) -> bool {
    let mut ok = true;
    ui.result(format!(
        "built {} artifact(s), version {version}, commit {commit}",
        artifacts.len()
    ));
    for a in artifacts {
        let (checksum, sha) = match &a.checksum {
            Checksum::NotWritten => ("not written", None),
            Checksum::Verified => ("verified", None),
            Checksum::Missing => ("missing", None),
            Checksum::Mismatch { actual, .. } => ("mismatch", Some(actual.as_str())),
        };
        ui.event(json!({
            "artifact": a.path.as_str(), "size": a.size, "link": a.link_target,
            "checksum": checksum, "sha256": sha,
        }));
        if let Some(t) = &a.link_target {
            ui.result(format!("  {} -> {t}", a.path));
            continue;
        }
        let check = match &a.checksum {
            Checksum::NotWritten => String::new(),
            Checksum::Verified => "  sha256 ok".to_string(),
            Checksum::Missing => {
                ok = false;
                "  sha256 MISSING".to_string()
            }
            Checksum::Mismatch { expected, actual } => {
                ok = false;
                format!("  sha256 MISMATCH (file says {expected}, content is {actual})")
            }
        };
        ui.result(format!("  {}  {}{check}", a.path, human(a.size)));
    }
    ui.event(
        json!({"step": "summary", "status": if ok { "ok" } else { "failed" },
        "version": version, "commit": commit, "artifacts": artifacts.len()}),
    );
    ok
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    } else if bytes >= 1 << 10 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_sha256_files_as_sha256sum_writes_them() {
        let dir = camino::Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-summary-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("dockerd-dev"), b"hello\n").unwrap();
        let good = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        std::fs::write(
            dir.join("dockerd-dev.sha256"),
            format!("{good}  dockerd-dev\n"),
        )
        .unwrap();
        assert_eq!(verify(&dir, "dockerd-dev").unwrap(), Checksum::Verified);
        std::fs::write(
            dir.join("dockerd-dev.sha256"),
            format!("{}  dockerd-dev\n", "0".repeat(64)),
        )
        .unwrap();
        assert!(
            matches!(verify(&dir, "dockerd-dev").unwrap(), Checksum::Mismatch { actual, .. } if actual == good)
        );
        std::fs::remove_file(dir.join("dockerd-dev.sha256")).unwrap();
        assert_eq!(verify(&dir, "dockerd-dev").unwrap(), Checksum::Missing);
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 << 20), "3.0 MiB");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
