//! The bundles a fork accepts (`hack/make/<name>`) and where their output lands.

use crate::Error;
use camino::{Utf8Path, Utf8PathBuf};

/// Where `hack/make.sh` puts bundle output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryLayout {
    /// `bundles/<VERSION>/<bundle>/<name>-<VERSION>`, `bundles/latest -> <VERSION>` (E1/E2).
    Versioned,
    /// `bundles/<bundle>/…` (17.10 on).
    Flat,
}

/// A directory (relative to the fork root) where a bundle's files land.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleOutput {
    pub dir: Utf8PathBuf,
}

pub(crate) fn list(root: &Utf8Path) -> Result<Vec<String>, Error> {
    let dir = root.join("hack/make");
    let entries = fs_err::read_dir(&dir).map_err(Error::Io)?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(Error::Io)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') || name.ends_with(".md") || entry.path().is_dir() {
            continue;
        }
        names.push(name);
    }
    names.sort();
    Ok(names)
}

/// The checks in `hack/validate/` (`default` and `all` run several): script names without a dot
/// (their helpers are dot-files, their configs `*.yml`). Empty when the fork has none.
pub(crate) fn validate_checks(root: &Utf8Path) -> Result<Vec<String>, Error> {
    let dir = root.join("hack/validate");
    let Ok(entries) = fs_err::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(Error::Io)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.contains('.') || !entry.path().is_file() {
            continue;
        }
        names.push(name);
    }
    names.sort();
    Ok(names)
}

/// `binary` writes `binary-daemon` (and `binary-client` in E1); other bundles their own dir.
pub(crate) fn outputs(layout: BinaryLayout, bundle: &str, version: &str) -> Vec<BundleOutput> {
    let base = match layout {
        BinaryLayout::Versioned => Utf8PathBuf::from("bundles").join(version),
        BinaryLayout::Flat => Utf8PathBuf::from("bundles"),
    };
    let stem = bundle
        .strip_suffix("-daemon")
        .or_else(|| bundle.strip_suffix("-client"))
        .unwrap_or(bundle);
    let mut dirs = vec![base.join(bundle)];
    for suffix in ["-daemon", "-client"] {
        let d = base.join(format!("{stem}{suffix}"));
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    dirs.into_iter().map(|dir| BundleOutput { dir }).collect()
}
