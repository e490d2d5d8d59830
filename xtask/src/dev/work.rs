//! A command's hold on the fork: the work lock, the dev container, and the runs in it. Every run
//! is a process group that a signal stops; whatever happens ([`Work::scope`] ends it on every
//! return and on a panic; the interrupt path of [`Work::run`] at once), the end hands back what the command wrote: on an engine that shares this
//! machine's files, each file container root wrote or changed since the command began goes to
//! the owner the fork root has in the container (nothing to do where that is root: rootless
//! engines); on an engine elsewhere, the changed `bundles/` come back here.

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::time::SystemTime;

use anyhow::{bail, Result};
use futures_util::FutureExt;

use super::exec::{Exec, Output, Ran};
use super::lock::ForkLock;
use super::{Dev, DevContainer};
use crate::cancel::{Interrupted, GROUP_STOP};
use crate::context::Context;
use crate::engine::Engine;
use crate::fail;
use crate::source::{self, Source};

pub struct Work<'a> {
    pub cx: &'a Context,
    pub dev: &'a Dev,
    pub engine: &'a Engine,
    pub ctr: DevContainer,
    /// When the command began: files changed since are the ones it wrote.
    since: SystemTime,
    /// Handed back, and nothing run since: the end has nothing more to walk.
    handed: Cell<bool>,
    _locks: Vec<ForkLock>,
}

impl<'a> Work<'a> {
    pub(super) fn new(
        cx: &'a Context,
        dev: &'a Dev,
        engine: &'a Engine,
        ctr: DevContainer,
        locks: Vec<ForkLock>,
        since: SystemTime,
    ) -> Work<'a> {
        Work {
            cx,
            dev,
            engine,
            ctr,
            since,
            handed: Cell::new(false),
            _locks: locks,
        }
    }

    pub fn exec(&self) -> Exec<'_> {
        self.dev.exec(self.engine, &self.ctr)
    }

    /// `cmd` as a process group in the dev container. On a signal the whole group is stopped
    /// (SIGTERM, then SIGKILL), what it wrote is handed back, and [`Interrupted`] is returned.
    pub async fn run(&self, cmd: &[String], out: Output) -> Result<Ran> {
        self.run_with(cmd, out, &[]).await
    }

    /// [`Work::run`] with `env` (`NAME=value`) over the fork's.
    pub async fn run_with(&self, cmd: &[String], out: Output, env: &[String]) -> Result<Ran> {
        self.handed.set(false);
        let mut exec = self.exec();
        exec.env.extend(env.iter().cloned());
        let pidfile = self.dev.pidfile();
        let cx = self.cx;
        let int = match cx.cancel.run(exec.group(&pidfile, cmd, out)).await {
            Ok(r) => return r,
            Err(int) => int,
        };
        cx.ui
            .status("Stopping", format!("`{}` ({})", cx.ui.task, int.0.name()));
        match exec.stop_group(&pidfile, cx.cancel.limit(GROUP_STOP)).await {
            Ok(true) => cx.ui.note("it ignored SIGTERM: killed"),
            Ok(false) => {}
            Err(e) => cx.ui.warn(format!(
                "could not stop what ran in the dev container ({e:#}): `cargo xtask down` stops it"
            )),
        }
        if let Err(e) = self.hand_back().await {
            cx.ui.warn(format!("{e:#}"));
        }
        Err(Interrupted(int.0).into())
    }

    /// On an engine elsewhere, bring the synced source up to date (the live loop, before each
    /// build); nothing to do where the fork is bind-mounted.
    pub async fn refresh_source(&self) -> Result<()> {
        if let Source::Synced(_) = &self.ctr.source {
            let (dev, engine) = (self.dev, self.engine);
            let mut spec = dev.spec.clone();
            let image = &self.ctr.image_id;
            let (src, pushed) = source::prepare(
                engine,
                &dev.fork,
                &dev.names,
                image,
                &mut spec,
                &dev.early_walk,
            )
            .await?;
            if let Some(pushed) = pushed {
                source::finish(&self.exec(), &src, pushed).await?;
            }
        }
        Ok(())
    }

    /// Stop what [`Work::run`] started, when its future was dropped before the end (the live
    /// loop drops a build for a newer edit).
    pub async fn stop_run(&self) -> Result<()> {
        let bound = self.cx.cancel.limit(GROUP_STOP);
        self.exec().stop_group(&self.dev.pidfile(), bound).await?;
        Ok(())
    }

    /// Hand back what the command wrote (see the module doc). A task that reads `bundles/`
    /// before its end calls it then (on an engine elsewhere they come back only now); until the
    /// next [`Work::run`], [`Work::finish`] does not walk the fork again, so nothing that writes
    /// in the fork may run through [`Work::exec`] in between.
    pub async fn hand_back(&self) -> Result<()> {
        hand_back(&self.exec(), self.dev, &self.ctr.source, self.since).await?;
        self.handed.set(true);
        Ok(())
    }

    /// Run the command's `body` on this hold, and end it on every way out: the body's value or
    /// error, a signal (its [`Interrupted`]), or a panic (handed back and removed, then the
    /// panic goes on). The one way tasks use a [`Work`], so none can forget its end.
    pub async fn scope<T>(self, body: impl AsyncFnOnce(&Work<'a>) -> Result<T>) -> Result<T> {
        let ran = AssertUnwindSafe(body(&self)).catch_unwind().await;
        let ran = match ran {
            Ok(ran) => ran,
            Err(panic) => {
                let _ = self.finish().await;
                std::panic::resume_unwind(panic);
            }
        };
        let ran = match (ran, fail::point("before-hand-back").await) {
            (Ok(_), Err(e)) => Err(e),
            (ran, _) => ran,
        };
        self.end(ran).await
    }

    /// The end of a command whose body gave `body`: [`Work::finish`] on every path (an error
    /// of the body does not skip the hand-back), then the body's error first, else finish's.
    async fn end<T>(self, body: Result<T>) -> Result<T> {
        let finished = self.finish().await;
        let value = body?;
        finished?;
        Ok(value)
    }

    /// The end of the command: its files handed back (unless just done), a one-shot container
    /// removed.
    async fn finish(self) -> Result<()> {
        let handed = match self.handed.get() {
            true => Ok(()),
            false => self.hand_back().await,
        };
        if self.ctr.one_shot {
            self.engine.remove(&self.ctr.id).await?;
        }
        handed
    }
}

/// What a command wrote since `since` goes to the fork's owner (see the module doc).
pub async fn hand_back(exec: &Exec<'_>, dev: &Dev, src: &Source, since: SystemTime) -> Result<()> {
    if let Source::Synced(target) = src {
        let t = std::time::Instant::now();
        let pulled = source::pull_bundles(exec, target, &dev.fork, &dev.pulled_into()).await;
        exec.engine.ui.api("sync: bundles/ back", t.elapsed());
        return pulled;
    }
    let ran = exec
        .script("give_back", &[&epoch(since)], Output::Capture)
        .await?;
    if ran.code != 0 {
        super::diagnose::ensure_running(&exec.engine.docker, exec.container).await?;
        let (uid, gid) = crate::fork::owner(&dev.fork)?;
        bail!(
            "cannot hand the command's files back to their owner ({}): fix that, then \
             `sudo chown -R {uid}:{gid} {}`",
            ran.text(),
            dev.fork.root
        );
    }
    Ok(())
}

/// `since` as `give_back` takes it: seconds since the epoch, with nanoseconds.
pub fn epoch(since: SystemTime) -> String {
    since
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| format!("{}.{:09}", d.as_secs(), d.subsec_nanos()))
        .unwrap_or_else(|_| "0".into())
}
