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

/// The workspace root: where `cargo xtask` was dropped in (the fork root, by default).
pub fn project_root() -> Utf8PathBuf {
    let manifest = Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Utf8PathBuf::from).unwrap_or(manifest)
}

/// A child's exit code as ours: 0–255 as is, anything else (unknown, -1) as 1.
pub fn exit_code(code: i64) -> u8 {
    u8::try_from(code).unwrap_or(1)
}
