//! `cargo xtask down`: stop and remove the fork's dev containers and their anonymous volumes.
//! Named cache volumes (`docker-dev-cache`, …) stay: they are shared with `make` and other forks.

use anyhow::Result;
use serde_json::json;

use crate::context::Context;
use crate::dev::names::Names;
use crate::dev::{container, lock};
use crate::engine::short;
use crate::flags;
use crate::fork;

impl flags::Down {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        let fork = fork::open(&cx.opts)?;
        let engine = cx.engine().await?;
        let names = Names::new(fork.root.as_str());
        let key = lock::engine_key(&engine.identity);
        let _lock =
            lock::acquire(cx.ui, &cx.cancel, &names, lock::Kind::Work(&key), "down").await?;
        let _bundles =
            lock::acquire(cx.ui, &cx.cancel, &names, lock::Kind::Bundles, "down").await?;
        let found = container::of_fork(engine, &names).await?;
        container::refuse_removal_in_use(engine, &found, "down", self.force).await?;
        if found.is_empty() {
            cx.ui.result(format!("no dev container for {}", fork.root));
        }
        for (id, name) in found {
            engine.remove(&id).await?;
            cx.ui.result(format!("removed {name} ({})", short(&id)));
            cx.ui
                .event(json!({"step": "remove", "status": "ok", "container": name}));
        }
        Ok(0)
    }
}
