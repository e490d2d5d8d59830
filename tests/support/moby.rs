//! Debian's moby releases as the end-to-end and real-tree tiers use them: the source (with
//! Debian's patches, `fixtures/moby-source.sh`) and the registry-free dev images made from it
//! (`fixtures/dev-image.sh` and friends), all cached ([`cache_dir`]) and made once per process
//! ([`once`]).

use std::sync::Mutex;

use anyhow::{Context, Result};
use camino::Utf8PathBuf;
use xshell::{cmd, Shell};

use super::command::workspace_root;

/// `$MOBY_XTASK_TEST_CACHE`, else `~/.cache/moby-xtask-tests`: downloads and unpacked trees.
pub fn cache_dir() -> Utf8PathBuf {
    if let Ok(d) = std::env::var("MOBY_XTASK_TEST_CACHE") {
        return d.into();
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    Utf8PathBuf::from(home).join(".cache/moby-xtask-tests")
}

/// A Debian release's moby, as the e2e tier uses it: the suite its source comes from and the
/// registry-free dev image made for it (bump the tag when `fixtures/dev-image.sh` changes).
pub struct Moby {
    pub suite: &'static str,
    pub image: &'static str,
}

/// Debian 12's moby 20.10.24: an E4 fork.
pub const MOBY_2010: Moby = Moby {
    suite: "bookworm",
    image: "moby-xtask-test/dev:bookworm-20.10-v3",
};
/// Debian 13's moby 26.1.5: an E6 fork.
pub const MOBY_2615: Moby = Moby {
    suite: "trixie",
    image: "moby-xtask-test/dev:trixie-26.1-v2",
};
/// Debian testing's (forky) moby 28.5.2: an E7 fork.
pub const MOBY_2852: Moby = Moby {
    suite: "forky",
    image: "moby-xtask-test/dev:forky-28.5-v1",
};

impl Moby {
    /// The source (with Debian's patches), unpacked in the cache; `<tree>/engine` is the fork.
    pub fn tree(&self) -> Result<Utf8PathBuf> {
        let suite = self.suite;
        let tree = once(&format!("tree-{suite}"), || {
            let sh = Shell::new()?;
            let script = workspace_root().join("tests/fixtures/moby-source.sh");
            let cache = cache_dir();
            let path = cmd!(sh, "{script} {suite} {cache}")
                .read()
                .context("fetching Debian's docker.io source")?;
            Ok(path.trim().to_string())
        })?;
        Ok(Utf8PathBuf::from(tree))
    }

    /// The dev image (debootstrap + docker import, cached by tag).
    pub fn dev_image(&self) -> Result<&'static str> {
        let (suite, image) = (self.suite, self.image);
        let tree = self.tree()?;
        once(&format!("image-{suite}"), || {
            let sh = Shell::new()?;
            let script = workspace_root().join("tests/fixtures/dev-image.sh");
            let work = cache_dir().join(format!("image-work-{suite}"));
            cmd!(sh, "{script} {image} {tree} {work} {suite}")
                .run()
                .context("making the dev image")?;
            Ok(String::new())
        })?;
        Ok(image)
    }
}

impl Moby {
    /// The dev image with the integration suites' frozen images (all the local busybox, under
    /// each of `names`) in `/docker-frozen-images`: `<image>-frozen`, cached by tag.
    pub fn frozen_dev_image(&self, names: &[&str]) -> Result<String> {
        let base = self.dev_image()?;
        let tag = format!("{base}-frozen");
        // Two tests of one process may ask at once: made once, the other waits.
        once(&format!("{tag} {}", names.join(" ")), || {
            let sh = Shell::new()?;
            let script = workspace_root().join("tests/fixtures/frozen-images.sh");
            let cache = cache_dir();
            cmd!(
                sh,
                "{script} {base} {tag} {cache} /docker-frozen-images {names...}"
            )
            .run()
            .context("making the frozen images")?;
            Ok(tag.clone())
        })
    }

    /// The dev image with the frozen images the integration suites load (busybox, its glibc
    /// tag, hello-world, and `last`, the era's Debian base).
    pub fn suites_dev_image(&self, last: &str) -> Result<String> {
        self.frozen_dev_image(&[
            "busybox:latest",
            "busybox:glibc",
            "hello-world:latest",
            last,
        ])
    }

    /// `base` with Debian's `dlv` on PATH (`<base>-dlv`, cached), and the same dlv for the host.
    pub fn delve_dev_image(&self, base: &str) -> Result<(String, Utf8PathBuf)> {
        let tag = format!("{base}-dlv");
        let sh = Shell::new()?;
        let script = workspace_root().join("tests/fixtures/delve-image.sh");
        let (cache, suite) = (cache_dir(), self.suite);
        let dlv = cmd!(sh, "{script} {base} {tag} {cache} {suite}")
            .read()
            .context("making the delve image")?;
        Ok((tag, Utf8PathBuf::from(dlv.trim())))
    }
}

pub fn debian_2010_tree() -> Result<Utf8PathBuf> {
    MOBY_2010.tree()
}

pub fn dev_image_2010() -> Result<&'static str> {
    MOBY_2010.dev_image()
}

/// Run `make` once per test process for `key` (concurrent callers wait), and share its result:
/// fixtures that write to the cache must not be made by two tests at the same time.
pub fn once(key: &str, make: impl FnOnce() -> Result<String>) -> Result<String> {
    static DONE: Mutex<Vec<(String, std::result::Result<String, String>)>> = Mutex::new(Vec::new());
    let mut done = DONE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, r)) = done.iter().find(|(k, _)| k == key) {
        return r.clone().map_err(anyhow::Error::msg);
    }
    let r = make().map_err(|e| format!("{e:#}"));
    done.push((key.to_string(), r.clone()));
    r.map_err(anyhow::Error::msg)
}
