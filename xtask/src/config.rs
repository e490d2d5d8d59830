//! `.moby-xtask.toml` at the fork root: the tool's own settings.
//!
//! ```toml
//! [image]
//! ref = "docker-dev:prebuilt"   # use this image instead of building the fork's Dockerfile
//!
//! [engine]
//! shares_files = "no"           # the engine does not see this machine's files: sync the source
//! ```
//!
//! Only this small subset of TOML is read (sections, `key = "string"`, comments), so the tool
//! needs no TOML parser. Anything it does not know is an error, not silently ignored: a typo
//! (`[imgae]`) would otherwise build the wrong image without a word.

use anyhow::{anyhow, bail, Result};
use camino::Utf8Path;

pub const FILE: &str = ".moby-xtask.toml";

/// The keys each section may hold.
const KNOWN: &[(&str, &[&str])] = &[("image", &["ref"]), ("engine", &["shares_files"])];

/// `[image] ref`, if the config file sets it.
pub fn image_ref(fork_root: &Utf8Path) -> Result<Option<String>> {
    value(fork_root, "image", "ref")
}

/// `[engine] shares_files` (`"yes"` or `"no"`), if the config file sets it.
pub fn shares_files(fork_root: &Utf8Path) -> Result<Option<bool>> {
    match value(fork_root, "engine", "shares_files")?.as_deref() {
        None => Ok(None),
        Some("yes") => Ok(Some(true)),
        Some("no") => Ok(Some(false)),
        Some(other) => bail!(
            "{}: `shares_files = \"{other}\"` in `[engine]`: use \"yes\" (bind-mount the fork) or \"no\" (sync it into a volume)",
            fork_root.join(FILE)
        ),
    }
}

/// The value of `key` in `[section]`, after checking the whole file.
fn value(fork_root: &Utf8Path, want_section: &str, want_key: &str) -> Result<Option<String>> {
    let path = fork_root.join(FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => bail!("cannot read {path}: {e}"),
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow!("{path} is not UTF-8 text: TOML files must be"))?;
    let mut section = String::new();
    let mut found = None;
    for (n, raw) in text.lines().enumerate() {
        let at = || format!("{path}:{}", n + 1);
        let line = raw.split(" #").next().unwrap_or_default().trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.trim().to_string();
            if !KNOWN.iter().any(|(k, _)| *k == section) {
                bail!(
                    "{}: unknown section `[{section}]`: the known ones are {}",
                    at(),
                    names(KNOWN.iter().map(|(k, _)| *k))
                );
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            bail!("{}: expected `key = \"value\"`, found `{raw}`", at());
        };
        let key = key.trim();
        let Some((_, keys)) = KNOWN.iter().find(|(k, _)| *k == section) else {
            bail!(
                "{}: `{key}` is outside any section: put it under `[image]`",
                at()
            );
        };
        if !keys.contains(&key) {
            bail!(
                "{}: unknown key `{key}` in `[{section}]`: the known ones are {}",
                at(),
                names(keys.iter().copied())
            );
        }
        let value = value.trim();
        let Some(value) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
            bail!("{}: the value of `{key}` must be a quoted string", at());
        };
        if value.trim().is_empty() {
            bail!(
                "{}: `{key}` is empty: give a value, or remove the line",
                at()
            );
        }
        if section == want_section && key == want_key {
            found = Some(value.to_string());
        }
    }
    Ok(found)
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(text: &[u8]) -> Result<Option<String>> {
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

    fn err(text: &[u8]) -> String {
        format!("{:#}", with(text).unwrap_err())
    }

    #[test]
    fn reads_image_ref() {
        let r = with(b"# mine\n[image]\nref = \"my/dev:1\" # prebuilt\n").unwrap();
        assert_eq!(r.as_deref(), Some("my/dev:1"));
        assert_eq!(with(b"# nothing set\n").unwrap(), None);
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        assert!(err(b"[image]\nref = unquoted\n").contains("quoted string"));
        assert!(err(b"[imgae]\nref = \"x\"\n").contains("unknown section `[imgae]`"));
        assert!(err(b"[image]\nrf = \"x\"\n").contains("unknown key `rf`"));
        assert!(err(b"ref = \"x\"\n").contains("outside any section"));
        assert!(err(b"[image]\nref = \"\"\n").contains("is empty"));
        assert!(err(b"[image]\nref = \"\xff\"\n").contains("not UTF-8"));
        assert!(err(b"[image]\njust words\n").contains("expected `key = \"value\"`"));
    }
}
