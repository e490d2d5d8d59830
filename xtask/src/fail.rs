//! Failpoints: named places in the tool's own code where a test makes it fail, to reach the
//! error and signal paths that a real run reaches only by bad luck (a daemon that goes away
//! mid-sync, a Ctrl-C right after the lock). Compiled in only with the `failpoints` feature (the
//! end-to-end tests build the binary with it); without it [`point`] is an empty inline function.
//!
//! `MOBY_XTASK_FAILPOINT=NAME=ACTION` arms one point for the run: `error` returns an error there,
//! `signal` sends the process a real SIGINT there and goes on, as when a Ctrl-C comes just then
//! (the next wait sees it, or `main` at the end), `panic` panics there.

use anyhow::Result;

/// The failpoint `name`: see the module doc. Points are named where they sit
/// (`after-create`, `mid-sync`, …); ARCHITECTURE.md lists them.
#[cfg(feature = "failpoints")]
pub async fn point(name: &str) -> Result<()> {
    let Ok(armed) = std::env::var("MOBY_XTASK_FAILPOINT") else {
        return Ok(());
    };
    match armed.split_once('=') {
        Some((at, "error")) if at == name => anyhow::bail!("failpoint {name}: an injected error"),
        Some((at, "panic")) if at == name => panic!("failpoint {name}: an injected panic"),
        Some((at, "signal")) if at == name => {
            // SAFETY: kill(2) on our own pid with a signal the runtime has a handler for.
            unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
            // As a real one: seen by the next wait (or by `main` at the end), not here.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub async fn point(_: &str) -> Result<()> {
    Ok(())
}
