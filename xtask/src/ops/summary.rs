//! After a build: each artifact, its size, its checksum verified where the era writes them.
//! Hashing ~60 MB binaries takes a moment: a signal stops it between files.

use anyhow::{Context as _, Result};
use camino::{Utf8Path, Utf8PathBuf};
use hack_compat::{Checksum as Kind, Fork};
use serde_json::json;

use super::hashed::Memo;
use crate::context::Context;
use crate::text::human;
use crate::ui::Ui;

#[derive(Debug)]
pub struct Artifact {
    pub path: Utf8PathBuf,
    pub size: u64,
    pub link_target: Option<String>,
    pub checksum: Checksum,
    /// The content's SHA-256, where it was computed (verifying, or for `--json`).
    pub sha256: Option<String>,
    /// The content's MD5, where the era's checksum files need it.
    pub md5: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Checksum {
    /// The era writes none.
    NotWritten,
    /// Every checksum file the era writes (md5 and/or sha256) matches.
    Verified,
    /// This kind's file is absent.
    Missing(&'static str),
    Mismatch {
        kind: &'static str,
        expected: String,
        actual: String,
    },
}

/// The artifacts under the output directories of `bundles` (relative paths from the fork root).
/// Yields to the runtime between files, so that a signal is seen while it hashes.
pub async fn collect(
    cx: &Context,
    fork: &Fork,
    bundles: &[String],
    version: &str,
) -> Result<Vec<Artifact>> {
    let (cancel, want_sha256) = (&cx.cancel, cx.ui.json);
    let memo = Memo::read(fork);
    let t = std::time::Instant::now();
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
            // Largest first, so that each pair hashes files of about the same size (the two
            // cores finish together); listed by name afterwards.
            let size = |n: &String| std::fs::symlink_metadata(dir.join(n)).map_or(0, |m| m.len());
            names.sort_by_key(|n| std::cmp::Reverse(size(n)));
            let first = out.len();
            // Two at a time (the machine's cores), a signal seen between pairs.
            for pair in names.chunks(2) {
                cancel.check_now().await?;
                let done: Vec<Result<Artifact>> = std::thread::scope(|s| {
                    let jobs: Vec<_> = pair
                        .iter()
                        .map(|name| {
                            let (dir, rel) = (&dir, o.dir.join(name));
                            let memo = &memo;
                            s.spawn(move || artifact(fork, dir, &rel, want_sha256, memo))
                        })
                        .collect();
                    jobs.into_iter()
                        .map(|j| {
                            j.join()
                                .unwrap_or_else(|_| Err(anyhow::anyhow!("hashing failed")))
                        })
                        .collect()
                });
                for a in done {
                    out.push(a?);
                }
            }
            out[first..].sort_by(|a, b| a.path.cmp(&b.path));
        }
    }
    memo.write(fork, &out);
    cx.ui.verbose(
        "Checked",
        format!(
            "{} artifacts in {:.3} s",
            out.len(),
            t.elapsed().as_secs_f64()
        ),
    );
    Ok(out)
}

/// MD5 and SHA-256 as lower-case hex, each when computed.
pub(super) type Digests = (Option<String>, Option<String>);

fn artifact(
    fork: &Fork,
    dir: &Utf8Path,
    rel: &Utf8Path,
    want_sha256: bool,
    memo: &Memo,
) -> Result<Artifact> {
    let path = fork.root.join(rel);
    let lmeta = fs_err::symlink_metadata(&path)?;
    if lmeta.file_type().is_symlink() {
        let target = fs_err::read_link(&path)?.to_string_lossy().into_owned();
        return Ok(Artifact {
            path: rel.to_path_buf(),
            size: 0,
            link_target: Some(target),
            checksum: Checksum::NotWritten,
            sha256: None,
            md5: None,
        });
    }
    let name = rel.file_name().unwrap_or_default();
    let mut checksum = Checksum::NotWritten;
    let (mut sha256, mut md5_hex) = (None, None);
    if lmeta.is_file() {
        let kinds = &fork.checksum_kinds;
        let want_md5 = kinds.contains(&Kind::Md5);
        let want_sha = want_sha256 || kinds.contains(&Kind::Sha256);
        let id = Memo::identity(&lmeta);
        let (md5, sha) = match memo.get(rel, &id, want_md5, want_sha) {
            Some(known) => known,
            None => digests(&path, want_md5, want_sha)?,
        };
        sha256 = sha;
        md5_hex = md5.clone();
        for kind in kinds {
            let actual = match kind {
                Kind::Sha256 => sha256.clone().unwrap_or_default(),
                Kind::Md5 => md5.clone().unwrap_or_default(),
            };
            checksum = verify(dir, name, *kind, &actual);
            if checksum != Checksum::Verified {
                break;
            }
        }
    }
    Ok(Artifact {
        path: rel.to_path_buf(),
        size: lmeta.len(),
        link_target: None,
        checksum,
        sha256,
        md5: md5_hex,
    })
}

/// Compare `<name>.<kind>` (`<hash>  <name>`, as `sha256sum`/`md5sum` write it) with the file.
fn verify(dir: &Utf8Path, name: &str, kind: Kind, actual: &str) -> Checksum {
    let sum_file = dir.join(format!("{name}.{}", kind.ext()));
    let Ok(text) = std::fs::read_to_string(&sum_file) else {
        return Checksum::Missing(kind.ext());
    };
    let expected = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if expected == actual {
        Checksum::Verified
    } else {
        Checksum::Mismatch {
            kind: kind.ext(),
            expected,
            actual: actual.to_string(),
        }
    }
}

/// The file's MD5 and SHA-256 (each only if asked for), in one read of it.
fn digests(path: &Utf8Path, md5: bool, sha256: bool) -> Result<Digests> {
    hack_compat::checksum::digests(path.as_std_path(), md5, sha256)
        .with_context(|| format!("cannot read {path}"))
}

/// The artifacts as result lines (stdout) and, with `--json`, one event each. False when a
/// checksum is missing or wrong.
pub fn print(ui: Ui, fork: &Fork, artifacts: &[Artifact], version: &str, commit: &str) -> bool {
    let mut ok = true;
    let kinds: Vec<&str> = fork.checksum_kinds.iter().map(|k| k.ext()).collect();
    let kinds = kinds.join("+");
    ui.result(format!(
        "built {} artifact(s), version {version}, commit {commit}",
        artifacts.len()
    ));
    for a in artifacts {
        let checksum = match &a.checksum {
            Checksum::NotWritten => "not written",
            Checksum::Verified => "verified",
            Checksum::Missing(_) => "missing",
            Checksum::Mismatch { .. } => "mismatch",
        };
        ui.event(json!({
            "artifact": a.path.as_str(), "size": a.size, "link": a.link_target,
            "checksum": checksum, "sha256": a.sha256,
        }));
        if let Some(t) = &a.link_target {
            ui.result(format!("  {} -> {t}", a.path));
            continue;
        }
        let check = match &a.checksum {
            Checksum::NotWritten => String::new(),
            Checksum::Verified => format!("  {} ok", kinds),
            Checksum::Missing(kind) => {
                ok = false;
                format!("  {kind} MISSING")
            }
            Checksum::Mismatch {
                kind,
                expected,
                actual,
            } => {
                ok = false;
                format!("  {kind} MISMATCH (file says {expected}, content is {actual})")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_checksum_files_as_sha256sum_and_md5sum_write_them() {
        let dir = camino::Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-summary-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("dockerd-dev"), b"hello\n").unwrap();
        let (md5, sha) = digests(&dir.join("dockerd-dev"), true, true).unwrap();
        let (md5, sha) = (md5.unwrap(), sha.unwrap());
        // `echo hello | sha256sum`, `echo hello | md5sum`
        assert_eq!(
            sha,
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert_eq!(md5, "b1946ac92492d2347c6235b4d2611184");
        assert_eq!(
            digests(&dir.join("dockerd-dev"), false, true).unwrap(),
            (None, Some(sha.clone()))
        );
        std::fs::write(
            dir.join("dockerd-dev.sha256"),
            format!("{sha}  dockerd-dev\n"),
        )
        .unwrap();
        assert_eq!(
            verify(&dir, "dockerd-dev", Kind::Sha256, &sha),
            Checksum::Verified
        );
        assert_eq!(
            verify(&dir, "dockerd-dev", Kind::Md5, &md5),
            Checksum::Missing("md5")
        );
        std::fs::write(
            dir.join("dockerd-dev.md5"),
            format!("{}  dockerd-dev\n", "0".repeat(32)),
        )
        .unwrap();
        assert!(matches!(
            verify(&dir, "dockerd-dev", Kind::Md5, &md5),
            Checksum::Mismatch { kind: "md5", actual, .. } if actual == md5
        ));
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 << 20), "3.0 MiB");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
