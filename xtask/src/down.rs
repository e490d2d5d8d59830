//! `cargo xtask down`: stop and remove the fork's dev containers and their anonymous volumes.
//! Named cache volumes (`docker-dev-cache`, …) stay: they are shared with `make` and other forks.

use anyhow::Result;
use serde_json::json;

use crate::context::Context;
use crate::{container, docker, flags, fork, lock};

impl flags::Task {
    pub async fn down(cx: &Context) -> Result<u8> {
        let fork = fork::open(&cx.opts)?;
        let docker = docker::connect(cx.ui).await?;
        let root = fork.root.as_str();
        let _lock = lock::acquire(cx.ui, &cx.cancel, root, lock::Kind::Work, "down").await?;
        let found = container::of_fork(&docker, cx.ui, root).await?;
        if found.is_empty() {
            cx.ui.result(format!("no dev container for {root}"));
        }
        for (id, name) in found {
            container::remove(&docker, &id).await?;
            cx.ui
                .result(format!("removed {name} ({})", container::short(&id)));
            cx.ui
                .event(json!({"step": "remove", "status": "ok", "container": name}));
        }
        Ok(0)
    }
}
