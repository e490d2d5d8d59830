//! `cargo xtask image [--rebuild]`: the dev image the fork's commands use, built or pulled when
//! needed (see `dev/image.rs`), and its id.

use anyhow::Result;
use serde_json::json;

use crate::context::Context;
use crate::dev::image;
use crate::flags;
use crate::fork;

impl flags::Image {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        let fork = fork::open(&cx.opts)?;
        let source = fork::image(&cx.opts, &fork)?;
        let engine = cx.engine().await?;
        let id = image::resolve(cx, engine, &fork, &source, self.rebuild).await?;
        let short = &id[..id.len().min(19)];
        cx.ui
            .result(format!("dev image {} ({short})", source.reference()));
        cx.ui
            .event(json!({"step": "image", "status": "ok", "image": source.reference(), "id": id}));
        Ok(0)
    }
}
