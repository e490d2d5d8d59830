//! `cargo xtask shell [-- CMD…]`: bash (or one command) in the fork's dev container, like
//! `make BIND_DIR=. shell` but joining the running container instead of building and starting a
//! new one. A real TTY when the user has a terminal, plain pipes otherwise (like `docker exec -i`).
//! It takes no work lock: a second terminal next to a build is normal.

use anyhow::Result;

use crate::context::{exit_code, Context};
use crate::dev::{epoch, After, Dev};
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
        // What the session wrote in the fork is its owner's, as after any command, and on an
        // engine elsewhere bundles/ come back: prepared in the same exec where it can be (no
        // terminal), else done after it.
        let since_epoch = epoch(since);
        // Not in /tmp: a tmpfs there (`hack/dind`), which the archive endpoint does not read.
        let list = format!("/var/tmp/.moby-xtask-bundles-{}", dev.names.session);
        let after = match (&ctr.source, tty) {
            (_, true) => None,
            (Source::Bind, false) => Some(After::GiveBack(&since_epoch)),
            (Source::Synced(t), false) => Some(After::ListBundles {
                list: &list,
                src: &t.src_path,
            }),
        };
        let result = exec
            .session(&dev.shell_pidfile(), &cmd, tty, after, cx)
            .await;
        let handed = match after {
            Some(After::GiveBack(_)) => Ok(()),
            Some(After::ListBundles { .. }) if result.is_ok() => {
                dev.hand_back_listed(&exec, &ctr, &list).await
            }
            // A session cut short may not have listed: list now.
            _ => dev.hand_back(&exec, &ctr, since).await,
        };
        if ctr.one_shot {
            engine.remove(&ctr.id).await?;
        }
        handed?;
        Ok(exit_code(result?))
    }
}
