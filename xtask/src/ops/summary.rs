//! After a build: each artifact, its size, its checksum verified where the era writes them.
//! Hashing ~170 MB of binaries takes a moment: every core does it, and a signal stops it.

use anyhow::{Context as _, Result};
use camino::{Utf8Path, Utf8PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hack_compat::checksum::{digests_parallel, Job};
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
/// The digests not remembered from the last summary are computed on every core, each digest
/// its own job (see [`hack_compat::checksum::digests_parallel`]); a signal stops the hashing
/// after the jobs under way. `early`: digests made while the build ran ([`super::prehash`]).
pub async fn collect(
    cx: &Context,
    fork: &Fork,
    bundles: &[String],
    version: &str,
    early: Option<Memo>,
) -> Result<Vec<Artifact>> {
    let mut memo = Memo::read(fork);
    memo.extend(early.unwrap_or_default());
    let t = std::time::Instant::now();
    let mut found = listed(fork, bundles, version)?;
    let kinds = fork.checksum_kinds.clone();
    let want_md5 = kinds.contains(&Kind::Md5);
    let want_sha = cx.ui.json || kinds.contains(&Kind::Sha256);
    // Each wanted digest not remembered for that very file: a job, and where its result goes.
    let (mut jobs, mut slots) = (Vec::new(), Vec::new());
    for (i, f) in found.iter_mut().enumerate() {
        if !f.meta.is_file() {
            continue;
        }
        let id = Memo::identity(&f.meta);
        if let Some(known) = memo.get(&f.rel, &id, want_md5, want_sha) {
            f.digests = known;
            continue;
        }
        let wanted = [(want_md5, Kind::Md5), (want_sha, Kind::Sha256)];
        for (_, kind) in wanted.into_iter().filter(|(w, _)| *w) {
            jobs.push(Job {
                path: fork.root.join(&f.rel).into_std_path_buf(),
                kind,
                size: f.meta.len(),
            });
            slots.push((i, kind));
        }
    }
    let hashed = hash(cx, jobs).await?;
    for ((i, kind), digest) in slots.into_iter().zip(hashed) {
        let f = &mut found[i];
        let hex = digest.with_context(|| format!("cannot read {}", fork.root.join(&f.rel)))?;
        match kind {
            Kind::Md5 => f.digests.0 = Some(hex),
            Kind::Sha256 => f.digests.1 = Some(hex),
        }
    }
    let out: Vec<Artifact> = found
        .into_iter()
        .map(|f| artifact(fork, f, &kinds))
        .collect::<Result<_>>()?;
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

/// A file of a bundle's output directory, and its digests as far as known.
struct Found {
    dir: Utf8PathBuf,
    rel: Utf8PathBuf,
    meta: std::fs::Metadata,
    digests: Digests,
}

/// The bundles' output directories (relative to the fork root), each once.
pub(super) fn output_dirs(fork: &Fork, bundles: &[String], version: &str) -> Vec<Utf8PathBuf> {
    let mut dirs: Vec<Utf8PathBuf> = Vec::new();
    for bundle in bundles {
        for o in fork.bundle_outputs(bundle, version) {
            if !dirs.contains(&o.dir) {
                dirs.push(o.dir);
            }
        }
    }
    dirs
}

/// Whether `name` is a checksum file `hash_files` writes, not an artifact.
pub(super) fn is_checksum_file(name: &str) -> bool {
    name.ends_with(".md5") || name.ends_with(".sha256")
}

/// The files (not the checksum files) of the bundles' output directories, by name.
fn listed(fork: &Fork, bundles: &[String], version: &str) -> Result<Vec<Found>> {
    let mut found = Vec::new();
    for rel_dir in output_dirs(fork, bundles, version) {
        let dir = fork.root.join(&rel_dir);
        if !dir.is_dir() {
            continue;
        }
        let mut names: Vec<String> = fs_err::read_dir(&dir)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| !is_checksum_file(n))
            .collect();
        names.sort();
        for name in names {
            let meta = fs_err::symlink_metadata(dir.join(&name))?;
            found.push(Found {
                dir: dir.clone(),
                rel: rel_dir.join(&name),
                meta,
                digests: (None, None),
            });
        }
    }
    Ok(found)
}

/// The jobs' digests, on every core off the runtime's thread; on a signal the jobs not started
/// are dropped and [`crate::cancel::Interrupted`] returned once those under way end.
async fn hash(cx: &Context, jobs: Vec<Job>) -> Result<Vec<std::io::Result<String>>> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let flag = stop.clone();
    let mut task = tokio::task::spawn_blocking(move || {
        digests_parallel(&jobs, workers, &|| flag.load(Ordering::Relaxed))
    });
    let done = tokio::select! {
        done = &mut task => done,
        sig = cx.cancel.cancelled() => {
            stop.store(true, Ordering::Relaxed);
            let _ = task.await;
            return Err(crate::cancel::Interrupted(sig).into());
        }
    };
    let done = done.map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?;
    Ok(done
        .into_iter()
        .map(|d| d.unwrap_or_else(|| Err(std::io::Error::other("not hashed"))))
        .collect())
}

/// MD5 and SHA-256 as lower-case hex, each when computed.
pub(super) type Digests = (Option<String>, Option<String>);

fn artifact(fork: &Fork, f: Found, kinds: &[Kind]) -> Result<Artifact> {
    let Found {
        dir,
        rel,
        meta,
        digests: (md5, sha256),
    } = f;
    if meta.file_type().is_symlink() {
        let target = fs_err::read_link(fork.root.join(&rel))?
            .to_string_lossy()
            .into_owned();
        return Ok(Artifact {
            path: rel,
            size: 0,
            link_target: Some(target),
            checksum: Checksum::NotWritten,
            sha256: None,
            md5: None,
        });
    }
    let name = rel.file_name().unwrap_or_default();
    let mut checksum = Checksum::NotWritten;
    if meta.is_file() {
        for kind in kinds {
            let actual = match kind {
                Kind::Sha256 => sha256.clone().unwrap_or_default(),
                Kind::Md5 => md5.clone().unwrap_or_default(),
            };
            checksum = verify(&dir, name, *kind, &actual);
            if checksum != Checksum::Verified {
                break;
            }
        }
    }
    Ok(Artifact {
        size: meta.len(),
        path: rel,
        link_target: None,
        checksum,
        sha256,
        md5,
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
#[cfg(test)]
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
