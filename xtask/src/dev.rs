//! What every task that runs in the dev container shares: open the fork, stamp the commit, build
//! the spec; then connect, and find or create the container, removing on Ctrl-C whatever this
//! invocation created so far.

use anyhow::Result;
use bollard::Docker;
use hack_compat::Fork;

use crate::commit::{self, Stamp};
use crate::container::{self, DevContainer};
use crate::dev_spec::DevSpec;
use crate::exec::Exec;
use crate::fork::ImageSource;
use crate::{fork, image, Global};

pub struct Dev {
    pub fork: Fork,
    /// `None` only where a task runs without a stamp (`shell` on a tree with no `.git`).
    pub stamp: Option<Stamp>,
    pub spec: DevSpec,
    pub image_source: ImageSource,
    pub session: String,
}

impl Dev {
    /// With `need_commit`, a missing stamp is the error; without, a one-line note.
    pub fn open(global: &Global, need_commit: bool) -> Result<Dev> {
        let fork = fork::open(global)?;
        let env_commit = std::env::var("DOCKER_GITCOMMIT").ok();
        let stamp = match commit::stamp(
            &fork.root,
            fork.commit_form,
            global.commit.as_deref(),
            env_commit.as_deref(),
        ) {
            Ok(s) => Some(s),
            Err(e) if !need_commit => {
                eprintln!("xtask: note: DOCKER_GITCOMMIT not set in the container: {e:#}");
                None
            }
            Err(e) => return Err(e),
        };
        let image_source = fork::image(global, &fork)?;
        let image = image_source.reference().to_string();
        let spec = DevSpec::new(
            &fork,
            image,
            fork::passthrough_env(&fork),
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

    /// Find or create the dev container; `None` when interrupted (nothing of ours left behind).
    pub async fn up(&self, docker: &Docker, one_shot: bool) -> Result<Option<DevContainer>> {
        let work = async {
            let image_id = image::resolve(docker, &self.fork, &self.image_source, false).await?;
            container::ensure(docker, &self.spec, &image_id, one_shot, &self.session).await
        };
        tokio::select! {
            r = work => r.map(Some),
            _ = tokio::signal::ctrl_c() => {
                container::remove_session(docker, &self.session).await;
                Ok(None)
            }
        }
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

    pub fn exec<'a>(&'a self, docker: &'a Docker, ctr: &'a DevContainer) -> Exec<'a> {
        Exec {
            docker,
            container: &ctr.id,
            workdir: &self.spec.workdir,
            env: self.spec.env_strings(),
            pidfile: format!("/tmp/.moby-xtask-{}.pid", self.session),
        }
    }
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start tokio")
}
