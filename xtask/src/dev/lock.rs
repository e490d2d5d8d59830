//! One fork, one writer. Commands that build, install, start or stop daemons, or change the
//! container hold the fork's work lock for their whole run; a second one says once whom it waits
//! for (pid and command) and then runs. Creating the dev container takes a separate, short lock,
//! so that `shell` never waits on a build but two first uses never create two containers.
//!
//! The locks are advisory file locks (`flock`) on files in the temporary directory named after
//! the fork's container, never files in the fork; the kernel drops them when the process dies.

use std::io::{Read, Seek, Write};
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::names::Names;
use crate::cancel::Cancel;
use crate::ui::Ui;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Builds, installs, daemons, container changes: held for the whole command.
    Work,
    /// Finding or creating the dev container: held for that moment only.
    Create,
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
    kind: Kind,
    what: &str,
) -> Result<ForkLock> {
    let path = names.lock_file(match kind {
        Kind::Work => "work",
        Kind::Create => "create",
    });
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {path}"))?;
    {
        use std::os::unix::fs::PermissionsExt;
        // Another user's later invocation on a shared fork must be able to open it too.
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o666));
    }
    if file.try_lock().is_err() {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = holder.trim();
        let holder = if holder.is_empty() {
            "another cargo xtask".to_string()
        } else {
            holder.to_string()
        };
        if kind == Kind::Work {
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
    let _ = write!(file, "`cargo xtask {what}` (pid {})", std::process::id());
    Ok(ForkLock { _file: file })
}
