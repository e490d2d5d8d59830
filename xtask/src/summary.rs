//! After a build: each artifact, its size, its checksum verified where the era writes them.

use std::io::Read;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use hack_compat::Fork;
use sha2::{Digest, Sha256};

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
pub fn collect(fork: &Fork, bundles: &[String], version: &str) -> Result<Vec<Artifact>> {
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
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn print(artifacts: &[Artifact], version: &str, commit: &str) -> bool {
    let mut ok = true;
    println!(
        "xtask: built {} artifact(s), version {version}, commit {commit}",
        artifacts.len()
    );
    for a in artifacts {
        if let Some(t) = &a.link_target {
            println!("  {} -> {t}", a.path);
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
        println!("  {}  {}{check}", a.path, human(a.size));
    }
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
