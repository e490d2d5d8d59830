//! Opening the fork the user means (`--fork`, else the workspace root) and reading the host side of
//! it: the allowlisted environment, the owner of the checkout, the dev image to use.

use std::os::unix::fs::MetadataExt;

use anyhow::{Context, Result};
use hack_compat::Fork;

use crate::{commit, config, project_root, Global};

pub fn open(global: &Global) -> Result<Fork> {
    let path = global.fork.clone().unwrap_or_else(project_root);
    let abs = match path.canonicalize_utf8() {
        Ok(p) => p,
        // Let hack-compat word the "not a directory" case.
        Err(_) => path,
    };
    Ok(Fork::open(&abs)?)
}

/// `NAME=value` for every allowlisted variable that is set on the host, except `DOCKER_GITCOMMIT`
/// (the tool sets that one itself). Never the whole environment.
pub fn passthrough_env(fork: &Fork) -> Vec<(String, String)> {
    fork.env_allowlist
        .iter()
        .filter(|name| name.as_str() != "DOCKER_GITCOMMIT")
        .filter_map(|name| std::env::var(name).ok().map(|v| (name.clone(), v)))
        .collect()
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

pub fn image(global: &Global, fork: &Fork) -> Result<ImageSource> {
    if let Some(i) = global.image.clone().filter(|i| !i.is_empty()) {
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
