//! What every task is handed, built once in `main`: how to speak (`Ui`), the one cancellation
//! (`Cancel`), the fork options as given, and the engine, connected on first use
//! ([`Context::engine`]) so that tasks which need none (`--dry-run`, `adopt`, `hooks`) never wait
//! for one.

use anyhow::Result;
use camino::Utf8PathBuf;
use tokio::sync::OnceCell;

use crate::cancel::Cancel;
use crate::engine::Engine;
use crate::flags::ForkOpts;
use crate::ui::Ui;

pub struct Context {
    pub ui: Ui,
    pub cancel: Cancel,
    pub opts: ForkOpts,
    /// `--context`: which docker context to use, over `DOCKER_HOST` and `DOCKER_CONTEXT`.
    pub docker_context: Option<String>,
    engine: OnceCell<Engine>,
}

impl Context {
    pub fn new(ui: Ui, cancel: Cancel, opts: ForkOpts, docker_context: Option<String>) -> Self {
        Context {
            ui,
            cancel,
            opts,
            docker_context,
            engine: OnceCell::new(),
        }
    }

    /// The engine, connected the first time it is asked for.
    pub async fn engine(&self) -> Result<&Engine> {
        self.engine
            .get_or_try_init(|| Engine::connect(self.ui, self.docker_context.as_deref()))
            .await
    }
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
