//! `cargo xtask shell [-- CMD…]`: bash (or one command) in the fork's dev container, like
//! `make BIND_DIR=. shell` but joining the running container instead of building and starting a
//! new one. A real TTY when the user has a terminal, plain pipes otherwise (like `docker exec -i`).

use anyhow::Result;
use clap::Args;

use crate::dev::{runtime, Dev};
use crate::{container, docker, terminal, Global};

#[derive(Args, Debug)]
pub struct ShellArgs {
    /// Use a one-shot container, removed on exit, instead of the fork's reusable dev container
    #[arg(long)]
    pub rm: bool,
    /// The command to run instead of bash
    #[arg(last = true, value_name = "CMD")]
    pub cmd: Vec<String>,
}

pub fn run(global: &Global, args: &ShellArgs) -> Result<u8> {
    let dev = Dev::open(global, false)?;
    let cmd = if args.cmd.is_empty() {
        vec!["bash".to_string()]
    } else {
        args.cmd.clone()
    };
    let rt = runtime()?;
    let code = rt.block_on(session(&dev, &cmd, args.rm));
    // The stdin pump may sit in a blocking read: do not wait for it.
    rt.shutdown_background();
    code
}

async fn session(dev: &Dev, cmd: &[String], one_shot: bool) -> Result<u8> {
    let docker = docker::connect().await?;
    let Some(ctr) = dev.up(&docker, one_shot).await? else {
        return Ok(130);
    };
    let tty = terminal::is_interactive();
    let result = dev.exec(&docker, &ctr).session(cmd, tty).await;
    if ctr.one_shot {
        container::remove(&docker, &ctr.id).await?;
    }
    let code = result?;
    Ok(crate::exit_code(code))
}
