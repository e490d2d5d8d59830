//! What every task is handed: how to speak (`Ui`), the one cancellation (`Cancel`), and the fork
//! options as given. Built once in `main`.

use camino::Utf8PathBuf;

use crate::cancel::Cancel;
use crate::flags::ForkOpts;
use crate::ui::Ui;

pub struct Context {
    pub ui: Ui,
    pub cancel: Cancel,
    pub opts: ForkOpts,
}

/// The tool's cache on this machine (`$XDG_CACHE_HOME/moby-xtask`, else `~/.cache/moby-xtask`):
/// what it learnt about engines, and sync manifests.
pub fn tool_cache() -> Option<Utf8PathBuf> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    var("XDG_CACHE_HOME")
        .map(Utf8PathBuf::from)
        .or_else(|| var("HOME").map(|h| Utf8PathBuf::from(h).join(".cache")))
        .map(|c| c.join("moby-xtask"))
}

/// A file in the tool's cache named for an engine (its ID, made safe as a file name): what the
/// tool learnt about that engine under `kind`.
pub fn engine_memo(kind: &str, engine_id: &str) -> Option<Utf8PathBuf> {
    let safe: String = engine_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if safe.is_empty() {
        return None;
    }
    tool_cache().map(|c| c.join(kind).join(safe))
}

/// The workspace root: where `cargo xtask` was dropped in (the fork root, by default).
pub fn project_root() -> Utf8PathBuf {
    let manifest = Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Utf8PathBuf::from).unwrap_or(manifest)
}

/// A child's exit code as ours: 0–255 as is, anything else (unknown, -1) as 1.
pub fn exit_code(code: i64) -> u8 {
    u8::try_from(code).unwrap_or(1)
}
