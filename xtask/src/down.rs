//! `cargo xtask down`: stop and remove the fork's dev containers and their anonymous volumes.
//! Named cache volumes (`docker-dev-cache`, …) stay: they are shared with `make` and other forks.

use anyhow::Result;

use crate::dev::runtime;
use crate::{container, docker, fork, Global};

pub fn run(global: &Global) -> Result<u8> {
    let fork = fork::open(global)?;
    runtime()?.block_on(async {
        let docker = docker::connect().await?;
        let found = container::of_fork(&docker, fork.root.as_str()).await?;
        if found.is_empty() {
            println!("xtask: no dev container for {}", fork.root);
        }
        for (id, name) in found {
            container::remove(&docker, &id).await?;
            println!("xtask: removed {name} ({})", container::short(&id));
        }
        Ok(0)
    })
}
