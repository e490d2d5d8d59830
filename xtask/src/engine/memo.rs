//! What the tool learnt about an engine, kept on this machine (`$XDG_CACHE_HOME/moby-xtask`, else
//! `~/.cache/moby-xtask`), one file per engine and kind of fact, named by the engine's stable
//! identity: as many files as engines, however many commands ran. Written through
//! [`write`]: a private directory, a rename (two terminals never tear a memo).

use camino::{Utf8Path, Utf8PathBuf};

/// Best effort: a memo not written costs a later command the work it saves.
pub fn write(path: &Utf8Path, text: &str) {
    if let Some(cache) = crate::private::cache_dir() {
        if crate::private::ensure(&cache).is_err() {
            return;
        }
    }
    let _ = crate::private::write_atomic(path, text.as_bytes());
}

/// The file (or directory) for the fact `kind` about the engine `identity`.
pub fn path(kind: &str, identity: &str) -> Option<Utf8PathBuf> {
    let safe: String = identity
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if safe.is_empty() {
        return None;
    }
    crate::private::cache_dir().map(|c| c.join(kind).join(safe))
}
