//! `.moby-xtask.toml` at the fork root: the tool's own settings, so far the prebuilt dev image.
//!
//! ```toml
//! [image]
//! ref = "docker-dev:prebuilt"   # use this image instead of building the fork's Dockerfile
//! ```
//!
//! Only this small subset of TOML is read (sections, `key = "string"`, comments), so the tool
//! needs no TOML parser.

use anyhow::{bail, Result};
use camino::Utf8Path;

pub const FILE: &str = ".moby-xtask.toml";

/// `[image] ref`, if the config file sets it.
pub fn image_ref(fork_root: &Utf8Path) -> Result<Option<String>> {
    let path = fork_root.join(FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let mut section = String::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split(" #").next().unwrap_or_default().trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.trim().to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            bail!(
                "{path}:{}: expected `key = \"value\"`, found `{raw}`",
                n + 1
            );
        };
        let value = value.trim();
        let Some(value) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
            bail!(
                "{path}:{}: the value of `{}` must be a quoted string",
                n + 1,
                key.trim()
            );
        };
        if section == "image" && key.trim() == "ref" && !value.is_empty() {
            return Ok(Some(value.to_string()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(text: &str) -> Result<Option<String>> {
        let dir = camino::Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!(
                "xtask-config-{}-{}",
                std::process::id(),
                text.len()
            ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(FILE), text).unwrap();
        let r = image_ref(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        r
    }

    #[test]
    fn reads_image_ref() {
        assert_eq!(
            with("# mine\n[image]\nref = \"my/dev:1\" # prebuilt\n")
                .unwrap()
                .as_deref(),
            Some("my/dev:1")
        );
        assert_eq!(with("[other]\nref = \"x\"\n").unwrap(), None);
        assert!(with("[image]\nref = unquoted\n")
            .unwrap_err()
            .to_string()
            .contains("quoted string"));
    }
}
