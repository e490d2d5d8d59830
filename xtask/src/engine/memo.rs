//! What the tool learnt about an engine, kept on this machine (`$XDG_CACHE_HOME/moby-xtask`, else
//! `~/.cache/moby-xtask`), one file per engine and kind of fact, named by the engine's stable
//! identity: as many files as engines, however many commands ran.

use camino::Utf8PathBuf;

/// The tool's cache directory on this machine.
pub fn tool_cache() -> Option<Utf8PathBuf> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    var("XDG_CACHE_HOME")
        .map(Utf8PathBuf::from)
        .or_else(|| var("HOME").map(|h| Utf8PathBuf::from(h).join(".cache")))
        .map(|c| c.join("moby-xtask"))
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
    tool_cache().map(|c| c.join(kind).join(safe))
}
