//! How the fork's files reach the engine. On an engine that sees this machine's files (asked of
//! the engine once: `probe.rs`) the dev container bind-mounts the fork, as `make BIND_DIR=.
//! shell` does; on one elsewhere the files are synced into a volume of the fork there before
//! every command (`sync.rs`), and `bundles/` come back after it (`pull.rs`). `walk.rs` is the
//! one definition of the fork's source files, for the sync, the watch and a build's inputs.

mod probe;
mod pull;
pub mod sync;
pub mod walk;

use anyhow::Result;
use hack_compat::Fork;

pub use probe::shares;
pub use pull::{pull_bundles, pull_with_list};
pub use sync::{Pushed, Target};
pub use walk::EarlyWalk;

use crate::dev::exec::Exec;
use crate::dev::names::Names;
use crate::dev::spec::DevSpec;
use crate::engine::Engine;

/// Where the dev container's source comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The fork itself, bind-mounted.
    Bind,
    /// A volume on the engine, kept in step with the fork.
    Synced(Target),
}

/// Decide how the fork reaches `engine`; when by sync, point `spec` at the volume and send what
/// changed (the files gone from the fork are removed by [`finish`], in the running container).
pub async fn prepare(
    engine: &Engine,
    fork: &Fork,
    names: &Names,
    image_id: &str,
    spec: &mut DevSpec,
    early: &EarlyWalk,
) -> Result<(Source, Option<Pushed>)> {
    if shares(engine, fork, names, image_id).await? {
        return Ok((Source::Bind, None));
    }
    // The engine is elsewhere: the source goes into a volume there, before the dev container
    // (whose entrypoint is the fork's own) first starts.
    spec.replace_source(sync::mount(fork, names));
    let t = std::time::Instant::now();
    let now = sync::snapshot(fork, early).await?;
    engine.ui.api("sync: the fork's files listed", t.elapsed());
    let target = sync::target(engine, fork, names, image_id).await?;
    let t = std::time::Instant::now();
    let pushed = sync::push(engine, fork, &target, now).await?;
    engine.ui.api("sync: changes sent", t.elapsed());
    Ok((Source::Synced(target), Some(pushed)))
}

/// After the dev container is up: remove what went from the fork, then record the sync.
pub async fn finish(exec: &Exec<'_>, src: &Source, pushed: Pushed) -> Result<()> {
    match src {
        Source::Synced(t) => sync::finish(exec, t, pushed).await,
        Source::Bind => Ok(()),
    }
}
