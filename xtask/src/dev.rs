//! What every task that runs in the dev container shares: open the fork, stamp the commit, build
//! the spec; find or create the container under the fork's creation lock (removing on a signal
//! whatever this invocation created so far); run a long command as a process group that a signal
//! stops, with the build's files handed back either way.

use anyhow::Result;
use bollard::Docker;
use hack_compat::Fork;

use crate::cancel::Interrupted;
use crate::commit::{self, Stamp};
use crate::container::{self, DevContainer};
use crate::context::Context;
use crate::dev_spec::DevSpec;
use crate::exec::{Exec, Output, Ran};
use crate::fork::{self, ImageSource};
use crate::{handback, host_env, image, lock, sharing, sync};

/// A stamp goes into the binary's `-ldflags`, the build record and `smoke`'s expectation: only
/// the characters a commit (and its `-unsupported` suffix) can hold; no space, quote or newline.
fn check_stamp(stamp: Stamp) -> Result<Stamp> {
    let c = &stamp.commit;
    let ok = c.len() <= 64
        && c.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "._+-".contains(ch));
    if !ok {
        anyhow::bail!(
            "the commit {} ({c:?}) is not a commit hash: give one like `3385658` (`git rev-parse --short HEAD`), \
             optionally with `-unsupported`",
            stamp.source
        );
    }
    Ok(stamp)
}

/// The prefix of work commands' pidfiles in the container.
const WORK_PIDFILES: &str = "/tmp/.moby-xtask-work-";

pub struct Dev {
    pub fork: Fork,
    /// `None` only where a task runs without a stamp (`shell` on a tree with no `.git`).
    pub stamp: Option<Stamp>,
    pub spec: DevSpec,
    pub image_source: ImageSource,
    pub session: String,
}

impl Dev {
    /// With `need_commit` (commands that build), a missing stamp is the error and a dirty tree
    /// stamps `-unsupported` as `hack/make.sh` does; without (`shell`), HEAD as `make shell`
    /// exports it, and a missing one is a one-line note.
    pub fn open(cx: &Context, need_commit: bool) -> Result<Dev> {
        let fork = fork::open(&cx.opts)?;
        let env_commit = std::env::var("DOCKER_GITCOMMIT").ok();
        let stamp = match commit::stamp(
            &fork.root,
            fork.commit_form,
            cx.opts.commit.commit.as_deref(),
            env_commit.as_deref(),
            need_commit,
        ) {
            Ok(s) => Some(check_stamp(s)?),
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
        Ok(Dev {
            fork,
            stamp,
            spec,
            image_source,
            session: container::session_id(),
        })
    }

    /// Find or create the dev container (or a one-shot one). On a signal, whatever this
    /// invocation created is removed before [`Interrupted`] comes back.
    pub async fn up(&self, cx: &Context, docker: &Docker, one_shot: bool) -> Result<DevContainer> {
        let root = self.fork.root.as_str();
        let _lock = lock::acquire(cx.ui, &cx.cancel, root, lock::Kind::Create, cx.ui.task).await?;
        let work = async {
            let image_id =
                image::resolve(cx, docker, &self.fork, &self.image_source, false).await?;
            let engine_id = docker
                .info()
                .await
                .ok()
                .and_then(|i| i.id)
                .unwrap_or_default();
            let shared = sharing::shares(
                docker,
                cx.ui,
                &self.fork,
                &image_id,
                &engine_id,
                &self.session,
            )
            .await?;
            let mut spec = self.spec.clone();
            let mut synced = None;
            if !shared {
                // The engine is elsewhere: the source goes into a volume there, before the dev
                // container (whose entrypoint is the fork's own) first starts.
                spec.replace_source(sync::mount(&self.fork));
                let t = std::time::Instant::now();
                let now = sync::snapshot(&self.fork).await?;
                cx.ui.api("sync: the fork's files listed", t.elapsed());
                let target = sync::target(docker, cx.ui, &self.fork, &image_id, &engine_id).await?;
                let t = std::time::Instant::now();
                let pushed = sync::push(docker, cx.ui, &self.fork, &target, now).await?;
                cx.ui.api("sync: changes sent", t.elapsed());
                synced = Some((target, pushed));
            }
            let want = container::Want {
                spec: &spec,
                image_id: &image_id,
                one_shot,
                session: &self.session,
            };
            let mut ctr = container::ensure(docker, cx.ui, &want).await?;
            if let Some((target, pushed)) = synced {
                sync::finish(&self.exec(cx, docker, &ctr), &target, pushed).await?;
                ctr.sync = Some(target);
            }
            Ok(ctr)
        };
        tokio::pin!(work);
        let sig = tokio::select! {
            biased;
            r = &mut work => return r,
            s = cx.cancel.cancelled() => s,
        };
        // A create request already sent completes on the daemon even if we stop waiting: let it
        // (briefly), then remove what this invocation made, looking twice for a late arrival.
        let settle = std::time::Duration::from_millis(if cx.cancel.hurry() { 500 } else { 3000 });
        let _ = tokio::time::timeout(settle, &mut work).await;
        let mut n = container::remove_session(docker, cx.ui, &self.session).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        n += container::remove_session(docker, cx.ui, &self.session).await;
        if n > 0 {
            cx.ui.status(
                "Removed",
                format!("{n} container(s) this command had started to create"),
            );
        }
        Err(crate::cancel::Interrupted(sig).into())
    }

    /// The commit stamped (`?` when there is none, only possible for `shell`).
    pub fn commit(&self) -> &str {
        self.stamp
            .as_ref()
            .map(|s| s.commit.as_str())
            .unwrap_or("?")
    }

    /// The version `hack/make.sh` stamps: the fork's VERSION file, else `$VERSION`, else `dev`.
    pub fn version(&self) -> String {
        self.fork.version(std::env::var("VERSION").ok().as_deref())
    }

    /// Where this invocation's process group id lives in the container: work commands (under
    /// the work lock) and shells apart, so that a work command may reap what an earlier one
    /// left without touching a shell of the other terminal.
    pub fn pidfile(&self) -> String {
        format!("{WORK_PIDFILES}{}.pid", self.session)
    }

    pub fn shell_pidfile(&self) -> String {
        format!("/tmp/.moby-xtask-shell-{}.pid", self.session)
    }

    /// For commands that build, install or run daemons: the fork's work lock, the container,
    /// and any build an earlier command left running (its connection lost) stopped first.
    pub async fn up_for_work(
        &self,
        cx: &Context,
        docker: &Docker,
        one_shot: bool,
    ) -> Result<(lock::ForkLock, DevContainer)> {
        let root = self.fork.root.as_str();
        let lock = lock::acquire(cx.ui, &cx.cancel, root, lock::Kind::Work, cx.ui.task).await?;
        let ctr = self.up(cx, docker, one_shot).await?;
        let exec = self.exec(cx, docker, &ctr);
        let reaped = exec
            .script("reap", &[WORK_PIDFILES], Output::Capture)
            .await?;
        for pgid in reaped.text().lines() {
            cx.ui.status(
                "Stopped",
                format!("process group {pgid}, left running by an earlier command that lost its connection"),
            );
        }
        Ok((lock, ctr))
    }

    pub fn exec<'a>(&'a self, cx: &Context, docker: &'a Docker, ctr: &'a DevContainer) -> Exec<'a> {
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
            docker,
            container: &ctr.id,
            workdir: &self.spec.workdir,
            env,
            ui: cx.ui,
            sync: ctr.sync.as_ref(),
        }
    }

    /// `cmd` as a process group in `ctr`. On a signal the whole group is stopped (SIGTERM, then
    /// SIGKILL), what it wrote is handed back, and [`Interrupted`] is returned. After a normal end
    /// the caller hands back (it may want to write first).
    pub async fn run_group(
        &self,
        cx: &Context,
        docker: &Docker,
        ctr: &DevContainer,
        cmd: &[String],
        out: Output,
    ) -> Result<Ran> {
        let exec = self.exec(cx, docker, ctr);
        let pidfile = self.pidfile();
        match cx.cancel.run(exec.group(&pidfile, cmd, out)).await {
            Ok(r) => r,
            Err(int) => Err(self.stop_after(cx, &exec, &pidfile, int).await),
        }
    }

    /// The interrupt path of [`Dev::run_group`]: stop, hand back, report what was left.
    async fn stop_after(
        &self,
        cx: &Context,
        exec: &Exec<'_>,
        pidfile: &str,
        int: Interrupted,
    ) -> anyhow::Error {
        cx.ui
            .status("Stopping", format!("`{}` ({})", cx.ui.task, int.0.name()));
        match exec.stop_group(pidfile, cx.cancel.hurry()).await {
            Ok(true) => cx.ui.note("it ignored SIGTERM: killed"),
            Ok(false) => {}
            Err(e) => cx.ui.warn(format!(
                "could not stop what ran in the dev container ({e:#}): `cargo xtask down` stops it"
            )),
        }
        if let Err(e) = handback::give_back(exec, &self.fork).await {
            cx.ui.warn(format!("{e:#}"));
        }
        int.into()
    }
}

#[cfg(test)]
mod tests {
    use super::check_stamp;
    use crate::commit::{Source, Stamp};

    fn stamp(c: &str) -> anyhow::Result<Stamp> {
        check_stamp(Stamp {
            commit: c.to_string(),
            source: Source::Flag,
        })
    }

    #[test]
    fn stamps_are_commit_shaped() {
        for good in [
            "3385658",
            "3385658-unsupported",
            &"a".repeat(40),
            "unsupported",
        ] {
            assert!(stamp(good).is_ok(), "{good}");
        }
        for bad in [
            "a b",
            "abc;rm",
            "a'b",
            "a\"b",
            "abc\nversion=evil",
            "$(id)",
            &"a".repeat(65),
        ] {
            let e = format!("{:#}", stamp(bad).unwrap_err());
            assert!(
                e.contains("from --commit") && e.contains("not a commit hash"),
                "{e}"
            );
        }
    }
}
