//! The fork's dev container and what runs in it. [`Dev`] opens the fork, stamps the commit and
//! builds the container's spec; [`Dev::up`] finds or creates the container under the fork's
//! creation lock (removing on a signal whatever this invocation created so far); [`Dev::work`]
//! adds the work lock and gives a [`Work`], through which commands run and which hands back
//! what they wrote.

pub mod container;
mod diagnose;
pub mod exec;
pub mod host_env;
pub mod image;
pub mod image_build;
pub mod lock;
mod mount;
pub mod names;
pub mod profile;
mod scripts;
pub mod spec;
mod stamp;
mod work;

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};
use hack_compat::Fork;

pub use container::DevContainer;
pub use exec::{After, Exec, Output};
pub use work::{epoch, Work};

use crate::cancel::{Interrupted, CREATE_SETTLE};
use crate::context::Context;
use crate::engine::Engine;
use crate::fail;
use crate::fork::commit::{self, Stamp};
use crate::fork::{self, ImageSource};
use crate::source::{self, Source};
use names::Names;
use spec::DevSpec;

/// The prefix of work commands' pidfiles in the container.
const WORK_PIDFILES: &str = "/tmp/.moby-xtask-work-";

pub struct Dev {
    pub fork: Fork,
    /// `None` only where a task runs without a stamp (`shell` on a tree with no `.git`).
    pub stamp: Option<Stamp>,
    pub spec: DevSpec,
    pub image_source: ImageSource,
    pub names: Names,
    /// The engine's name when this command is its share of a split run (`test integration
    /// --engines`): on an engine elsewhere its `bundles/` come back to `bundles/.engines/<name>/`.
    pub shard: Option<String>,
    /// The fork's files, listed ahead where the engine is probably elsewhere.
    pub early_walk: source::EarlyWalk,
}

/// Where the `bundles/` of `engine`'s share of a split run come back to (on an engine
/// elsewhere): `bundles/.engines/<name>/bundles/`, the name made safe for a path.
pub fn shard_base(fork_root: &Utf8Path, engine: &str) -> Utf8PathBuf {
    let safe: String = engine
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    fork_root.join("bundles/.engines").join(safe)
}

impl Dev {
    /// With `need_commit` (commands that build), a missing stamp is the error and a dirty tree
    /// stamps `-unsupported` as `hack/make.sh` does; without (`shell`), HEAD as `make shell`
    /// exports it, and a missing one is a one-line note.
    pub fn open(cx: &Context, need_commit: bool) -> Result<Dev> {
        let fork = fork::open(&cx.opts)?;
        // A build lists its inputs, a sync to an engine elsewhere the files it sends: begun
        // before the stamp's index check, which runs beside it.
        let remote = crate::engine::endpoint::over_network(cx.docker_context.as_deref());
        let early_walk = match need_commit || remote {
            true => source::EarlyWalk::start(&fork.root),
            false => source::EarlyWalk::none(),
        };
        let env_commit = std::env::var("DOCKER_GITCOMMIT").ok();
        let stamp = match commit::stamp(
            &fork.root,
            fork.commit_form,
            cx.opts.commit.commit.as_deref(),
            env_commit.as_deref(),
            need_commit,
        ) {
            Ok(s) => Some(stamp::check(s)?),
            Err(e) if !need_commit => {
                cx.ui
                    .note(format!("DOCKER_GITCOMMIT not set in the container: {e:#}"));
                None
            }
            Err(e) => return Err(e),
        };
        let image_source = fork::image(&cx.opts, &fork)?;
        let image = image_source.reference().to_string();
        let spec = DevSpec::new(
            &fork,
            image,
            &host_env::process_env,
            stamp.as_ref().map(|s| s.commit.as_str()),
        );
        let names = Names::new(fork.root.as_str());
        Ok(Dev {
            fork,
            stamp,
            spec,
            image_source,
            names,
            shard: None,
            early_walk,
        })
    }

    /// The directory whose `bundles/` mirrors the engine's, when that is elsewhere.
    pub fn pulled_into(&self) -> Utf8PathBuf {
        match &self.shard {
            Some(name) => shard_base(&self.fork.root, name),
            None => self.fork.root.clone(),
        }
    }

    /// Find or create the dev container (or a one-shot one), its source made current first. On
    /// a signal, whatever this invocation created is removed before [`Interrupted`] comes back.
    pub async fn up(&self, cx: &Context, one_shot: bool) -> Result<DevContainer> {
        let engine = cx.engine().await?;
        let key = lock::engine_key(&engine.identity);
        let _lock = lock::acquire(
            cx.ui,
            &cx.cancel,
            &self.names,
            lock::Kind::Create(&key),
            cx.ui.task,
        )
        .await?;
        let work = async {
            let image_id =
                image::resolve(cx, engine, &self.fork, &self.image_source, false).await?;
            let mut spec = self.spec.clone();
            let (src, pushed) = source::prepare(
                engine,
                &self.fork,
                &self.names,
                &image_id,
                &mut spec,
                &self.early_walk,
            )
            .await?;
            let want = container::Want {
                spec: &spec,
                image_id: &image_id,
                one_shot,
                names: &self.names,
            };
            let ctr = container::ensure(engine, &want, src).await?;
            if let Some(pushed) = pushed {
                source::finish(&self.exec(engine, &ctr), &ctr.source, pushed).await?;
            }
            Ok(ctr)
        };
        tokio::pin!(work);
        let sig = tokio::select! {
            biased;
            r = &mut work => {
                if r.is_err() {
                    // What this invocation made before it failed (the sync container, a
                    // one-shot or a new dev container) is not left half-way.
                    container::remove_session(engine, &self.names).await;
                }
                return r;
            }
            s = cx.cancel.cancelled() => s,
        };
        // A create request already sent completes on the engine even if we stop waiting: let it
        // (briefly), then remove what this invocation made, looking twice for a late arrival.
        let _ = tokio::time::timeout(cx.cancel.limit(CREATE_SETTLE), &mut work).await;
        let mut n = container::remove_session(engine, &self.names).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        n += container::remove_session(engine, &self.names).await;
        if n > 0 {
            cx.ui.status(
                "Removed",
                format!("{n} container(s) this command had started to create"),
            );
        }
        Err(Interrupted(sig).into())
    }

    /// Where this invocation's process group id lives in the container: work commands (under
    /// the work lock) and shells apart, so that a work command may reap what an earlier one
    /// left without touching a shell of the other terminal.
    pub fn pidfile(&self) -> String {
        format!("{WORK_PIDFILES}{}.pid", self.names.session)
    }

    pub fn shell_pidfile(&self) -> String {
        format!("/tmp/.moby-xtask-shell-{}.pid", self.names.session)
    }

    /// For commands that build, install or run daemons: the fork's work lock, the container,
    /// and any build an earlier command left running (its connection lost) stopped first.
    /// `body` runs on that hold, which is ended on every way out (see [`Work::scope`]).
    pub async fn work<'a, T>(
        &'a self,
        cx: &'a Context,
        one_shot: bool,
        body: impl AsyncFnOnce(&Work<'a>) -> Result<T>,
    ) -> Result<T> {
        self.take(cx, one_shot).await?.scope(body).await
    }

    async fn take<'a>(&'a self, cx: &'a Context, one_shot: bool) -> Result<Work<'a>> {
        let engine = cx.engine().await?;
        let key = lock::engine_key(&engine.identity);
        let (ui, task) = (cx.ui, cx.ui.task);
        let mut locks =
            vec![lock::acquire(ui, &cx.cancel, &self.names, lock::Kind::Work(&key), task).await?];
        fail::point("after-lock").await?;
        let since = std::time::SystemTime::now();
        let ctr = self.up(cx, one_shot).await?;
        let held = match fail::point("after-up").await {
            Ok(()) => self.hold(cx, engine, &ctr, &mut locks).await,
            Err(e) => Err(e),
        };
        match held {
            Ok(()) => Ok(Work::new(cx, self, engine, ctr, locks, since)),
            Err(e) => {
                // Nothing of this command may stay: its one-shot container goes on any error.
                if ctr.one_shot {
                    let _ = engine.remove(&ctr.id).await;
                }
                Err(e)
            }
        }
    }

    /// The rest of [`Dev::work`] once the container is up: the bundles lock, then what an
    /// earlier command left running stopped.
    async fn hold(
        &self,
        cx: &Context,
        engine: &Engine,
        ctr: &DevContainer,
        locks: &mut Vec<lock::ForkLock>,
    ) -> Result<()> {
        let (ui, task) = (cx.ui, cx.ui.task);
        // This command writes the fork's own bundles/ unless it is a share of a split run on an
        // engine elsewhere (those come back to bundles/.engines/<name>/).
        if self.shard.is_none() || !matches!(ctr.source, Source::Synced(_)) {
            locks
                .push(lock::acquire(ui, &cx.cancel, &self.names, lock::Kind::Bundles, task).await?);
        }
        let reaped = self
            .exec(engine, ctr)
            .script("reap", &[WORK_PIDFILES], Output::Capture)
            .await?;
        for pgid in reaped.text().lines() {
            cx.ui.status(
                "Stopped",
                format!("process group {pgid}, left running by an earlier command that lost its connection"),
            );
        }
        Ok(())
    }

    /// Hand back what a command without a [`Work`] (`shell`) wrote since `since`.
    pub async fn hand_back(
        &self,
        exec: &Exec<'_>,
        ctr: &DevContainer,
        since: std::time::SystemTime,
    ) -> Result<()> {
        work::hand_back(exec, self, &ctr.source, since).await
    }

    /// [`Dev::hand_back`] after a session that listed `bundles/` into the file `list` itself
    /// (an engine elsewhere, `shell -- CMD`).
    pub async fn hand_back_listed(
        &self,
        exec: &Exec<'_>,
        ctr: &DevContainer,
        list: &str,
    ) -> Result<()> {
        match &ctr.source {
            Source::Synced(t) => {
                let t0 = std::time::Instant::now();
                let pulled =
                    source::pull_with_list(exec, t, &self.fork, &self.pulled_into(), list).await;
                exec.engine.ui.api("sync: bundles/ back", t0.elapsed());
                pulled
            }
            Source::Bind => Ok(()),
        }
    }

    /// An exec in `ctr` with the fork's environment, at the source path.
    pub fn exec<'a>(&'a self, engine: &'a Engine, ctr: &'a DevContainer) -> Exec<'a> {
        let mut env = self.spec.env_strings();
        // The fork belongs to its user and the container runs as root: git in the container
        // (the fork's validate scripts) trusts the source path, as moby's own dev image sets it.
        env.extend([
            "GIT_CONFIG_COUNT=1".to_string(),
            "GIT_CONFIG_KEY_0=safe.directory".to_string(),
            format!("GIT_CONFIG_VALUE_0={}", self.spec.workdir),
        ]);
        if let Some(driver) = &ctr.daemon_driver {
            env.extend(
                self.spec
                    .from_daemon
                    .iter()
                    .map(|k| format!("{k}={driver}")),
            );
        }
        Exec {
            engine,
            container: &ctr.id,
            workdir: &self.spec.workdir,
            env,
        }
    }
}
