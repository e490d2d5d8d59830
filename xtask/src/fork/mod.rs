//! Opening the fork the user means (`--fork`, any directory inside it, else the workspace root)
//! and reading the host side of it: the allowlisted environment, the owner of the checkout, the
//! dev image to use; and the commit stamp (`commit.rs`).

pub mod commit;
mod dirty;

use std::os::unix::fs::MetadataExt;

use anyhow::{bail, Context, Result};
use camino::Utf8Path;
use hack_compat::Fork;

use crate::config;
use crate::context::project_root;
use crate::flags::ForkOpts;

pub fn open(opts: &ForkOpts) -> Result<Fork> {
    let given = opts.fork.fork.clone().unwrap_or_else(project_root);
    let abs = match given.canonicalize_utf8() {
        Ok(p) => p,
        // Let hack-compat word the "not a directory" case.
        Err(_) => return Ok(Fork::open(&given)?),
    };
    if let Err(e) = std::fs::read_dir(&abs) {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            bail!("cannot read {abs}: permission denied; run as a user who can read the fork (its owner)");
        }
    }
    Ok(Fork::open(find_root(&abs).unwrap_or(&abs))?)
}

/// The nearest directory at or above `dir` that holds a moby `Makefile` and `hack/make.sh`, as
/// cargo finds a manifest from anywhere inside a package.
pub fn find_root(dir: &Utf8Path) -> Option<&Utf8Path> {
    dir.ancestors()
        .find(|d| d.join("Makefile").is_file() && d.join("hack/make.sh").is_file())
}

/// Where the dev image comes from.
#[derive(Debug, Clone)]
pub enum ImageSource {
    /// `--image`, `$MOBY_XTASK_IMAGE` or `[image] ref` in `.moby-xtask.toml`: used as is, or pulled.
    Prebuilt(String),
    /// The tag the fork's `make shell` builds, built from the fork's Dockerfile when out of date.
    Fork(String),
}

impl ImageSource {
    pub fn reference(&self) -> &str {
        match self {
            ImageSource::Prebuilt(r) | ImageSource::Fork(r) => r,
        }
    }
}

pub fn image(opts: &ForkOpts, fork: &Fork) -> Result<ImageSource> {
    if let Some(i) = opts.image.image.clone() {
        if i.trim().is_empty() {
            bail!("--image is empty: give an image reference, or drop the option to use the fork's own");
        }
        return Ok(ImageSource::Prebuilt(i));
    }
    if let Some(i) = std::env::var("MOBY_XTASK_IMAGE")
        .ok()
        .filter(|i| !i.is_empty())
    {
        return Ok(ImageSource::Prebuilt(i));
    }
    if let Some(i) = config::image_ref(&fork.root)? {
        return Ok(ImageSource::Prebuilt(i));
    }
    Ok(ImageSource::Fork(
        fork.make_image_tag(commit::branch(&fork.root).as_deref()),
    ))
}

/// uid and gid of the fork directory's owner: who `bundles/` must belong to after a build.
pub fn owner(fork: &Fork) -> Result<(u32, u32)> {
    let meta = fs_err::metadata(&fork.root).context("cannot stat the fork")?;
    Ok((meta.uid(), meta.gid()))
}

/// A file or directory the tool itself wrote in the fork (the build record, `run`'s socket
/// directory) goes to the fork's owner when the tool runs as root; otherwise it is the user's.
pub fn own(fork: &Fork, path: &Utf8Path) -> Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let (uid, gid) = owner(fork)?;
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .with_context(|| format!("cannot give {path} to uid {uid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_fork_root_from_inside() {
        let fixture = project_root().join("hack-compat/tests");
        let Some(e4) = ["testdata/e4", "fixtures/e4"]
            .iter()
            .map(|d| fixture.join(d))
            .find(|d| d.is_dir())
        else {
            panic!("no E4 fixture under {fixture}");
        };
        let inside = e4.join("hack/make");
        assert_eq!(find_root(&inside), Some(e4.as_path()));
        assert_eq!(find_root(Utf8Path::new("/")), None);
    }
}
