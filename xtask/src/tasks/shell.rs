//! `cargo xtask shell [-- CMD…]`: bash (or one command) in the fork's dev container, like
//! `make BIND_DIR=. shell` but joining the running container instead of building and starting a
//! new one. A real TTY when the user has a terminal, plain pipes otherwise (like `docker exec -i`).
//! It takes no work lock: a second terminal next to a build is normal.

use anyhow::Result;

use crate::context::{exit_code, Context};
use crate::dev::{epoch, Dev};
use crate::flags;
use crate::source::Source;
use crate::terminal;

impl flags::Shell {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        let dev = Dev::open(cx, false)?;
        let cmd = if self.cmd.is_empty() {
            vec!["bash".to_string()]
        } else {
            self.cmd.clone()
        };
        let since = std::time::SystemTime::now();
        let ctr = dev.up(cx, self.rm).await?;
        let engine = cx.engine().await?;
        let tty = terminal::is_interactive();
        let exec = dev.exec(engine, &ctr);
        // What the session wrote in the fork is its owner's, as after any command: in the same
        // exec where it can be (a bind-mounted fork, no terminal), else after it.
        let inline = (!tty && matches!(ctr.source, Source::Bind)).then(|| epoch(since));
        let result = exec
            .session(&dev.shell_pidfile(), &cmd, tty, inline.as_deref(), cx)
            .await;
        let handed = match inline {
            Some(_) => Ok(()),
            None => dev.hand_back(&exec, &ctr, since).await,
        };
        if ctr.one_shot {
            engine.remove(&ctr.id).await?;
        }
        handed?;
        Ok(exit_code(result?))
    }
}
