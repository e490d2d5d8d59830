//! One fork, one writer. Commands that build, install, start or stop daemons, or change the
//! container hold the fork's work lock on that engine (its dev container there) for their whole
//! run; a second one says once whom it waits for (pid and command) and then runs. Whoever writes
//! the fork's own `bundles/` (an engine that shares our files, or one elsewhere whose `bundles/`
//! come back here) then also holds the fork's bundles lock, so commands on two engines never
//! write it at once; the shares of a split run on engines elsewhere come back to
//! `bundles/.engines/<name>/` and need only their engine's lock. Creating the dev container takes
//! a separate, short lock per engine, so that `shell` never waits on a build but two first uses
//! never create two containers.
//!
//! The locks are advisory file locks (`flock`) on files named after the fork's container in
//! this user's private runtime directory (`private.rs`), never files in the fork nor in a
//! directory another user can write; the kernel drops them when the process dies. Two users
//! sharing one fork therefore do not wait for each other: the engine keeps them apart (a dev
//! container in use is never replaced, see `container.rs`).

use std::io::{Read, Seek, Write};
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::names::Names;
use crate::cancel::Cancel;
use crate::ui::Ui;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'a> {
    /// Builds, installs, daemons, container changes on the engine `key`: held for the whole
    /// command.
    Work(&'a str),
    /// Finding or creating the dev container on the engine `key`: held for that moment only.
    Create(&'a str),
    /// Writing the fork's `bundles/`: taken after [`Kind::Work`], never before it.
    Bundles,
}

/// The end of a lock holder's text whose command holds the fork until it is stopped.
const UNTIL_STOPPED: &str = ", until stopped";

/// An engine's part of its lock files' names: a short digest of its identity.
pub fn engine_key(identity: &str) -> String {
    format!("{:08x}", crate::text::fnv1a(identity) as u32)
}

/// Held while alive; the lock goes with the file descriptor.
pub struct ForkLock {
    _file: std::fs::File,
}

/// Take the fork's `kind` lock, waiting (cancellably, with one line saying for whom) if another
/// invocation holds it. `what` describes this command for the next one that waits.
pub async fn acquire(
    ui: Ui,
    cancel: &Cancel,
    names: &Names,
    kind: Kind<'_>,
    what: &str,
) -> Result<ForkLock> {
    let path = names.lock_file(&match kind {
        Kind::Work(key) => format!("work-{key}"),
        Kind::Create(key) => format!("create-{key}"),
        Kind::Bundles => "bundles".to_string(),
    })?;
    let mut file = crate::private::open(&path).context("cannot open the fork's lock file")?;
    if file.try_lock().is_err() {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = crate::private::printable(&holder);
        let holder = if holder.is_empty() {
            "another cargo xtask".to_string()
        } else {
            holder.to_string()
        };
        if let (Kind::Work(_), Some(holder)) = (kind, holder.strip_suffix(UNTIL_STOPPED)) {
            // Waiting would be forever: said at once instead.
            anyhow::bail!(
                "the fork is held by {holder}, which runs until it is stopped: this command would wait forever.\n\
                 Stop it (Ctrl-C in its terminal) and run this again, or use that one (`cargo xtask shell` works beside it)."
            );
        }
        if !matches!(kind, Kind::Create(_)) {
            ui.status(
                "Blocking",
                format!("waiting for {holder} to finish with this fork"),
            );
        }
        let _progress = ui.progress(&format!("for {holder}"));
        cancel
            .run(async {
                loop {
                    match file.try_lock() {
                        Ok(()) => return Ok(()),
                        Err(std::fs::TryLockError::WouldBlock) => {
                            tokio::time::sleep(Duration::from_millis(100)).await
                        }
                        Err(std::fs::TryLockError::Error(e)) => {
                            return Err(e).with_context(|| format!("cannot lock {path}"))
                        }
                    }
                }
            })
            .await??;
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let until = match ui.until_stopped && matches!(kind, Kind::Work(_)) {
        true => UNTIL_STOPPED,
        false => "",
    };
    let _ = write!(
        file,
        "`cargo xtask {what}` (pid {}){until}",
        std::process::id()
    );
    Ok(ForkLock { _file: file })
}
