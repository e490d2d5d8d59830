//! `test integration --keep-daemon`: the test daemon the fork's own
//! `hack/make/.integration-daemon-start` starts, left running between runs in
//! `bundles/.integration-daemon-start/` (a dot name: the fork's `rm -rf bundles/*` before a
//! build leaves it) and used by the next runs through `DOCKER_TEST_HOST`, with which the fork's
//! scripts neither start nor stop a daemon: later runs start none and load no frozen image
//! again. It belongs to a build, named by the digest of what that build read (`ops/inputs.rs`):
//! a run whose fork reads the same skips the build and reuses it; one whose fork changed builds,
//! stops it and starts one of the new build. `--keep-daemon=stop`, `down` (its dev container goes) and a Ctrl-C
//! during a run stop it.

use anyhow::{bail, Result};
use hack_compat::TestHost;

use crate::dev::{Output, Work};

/// Where the kept daemon's pidfile, socket, log and build digest are, relative to the fork.
pub fn dir(th: &TestHost) -> String {
    format!("bundles/{}", th.start_bundles[0])
}

/// The kept daemon, when one runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub pid: u32,
    /// The digest of what the build it runs read (`ops/inputs.rs`), `unknown` where none was.
    pub build: String,
}

/// The kept daemon in the dev container, if one runs.
pub async fn state(w: &Work<'_>, th: &TestHost) -> Result<Option<Kept>> {
    let out = w
        .exec()
        .script("kept_state", &[&dir(th)], Output::Capture)
        .await?
        .text();
    let mut words = out.split_whitespace();
    Ok(words.next().and_then(|p| p.parse().ok()).map(|pid| Kept {
        pid,
        build: words.next().unwrap_or_default().to_string(),
    }))
}

/// Stop the kept daemon; whether one ran.
pub async fn stop(w: &Work<'_>, th: &TestHost) -> Result<bool> {
    let out = w
        .exec()
        .script("kept_stop", &[&dir(th)], Output::Capture)
        .await?;
    Ok(out.text().contains("stopped"))
}

/// Before another daemon starts in the dev container (`smoke`, `run`, `install`, a run without
/// `--keep-daemon`): the kept one stopped, since both would use the container's own daemon
/// directories (`/var/lib/docker`, `/var/run/docker`). Looked for through its pidfile in the
/// fork first, so that a fork without one pays nothing.
pub async fn stop_before_another(w: &Work<'_>) -> Result<()> {
    let Some(th) = w
        .dev
        .fork
        .integration
        .as_ref()
        .and_then(|it| it.test_host.as_ref())
    else {
        return Ok(());
    };
    if !w.dev.fork.root.join(dir(th)).join("docker.pid").exists() {
        return Ok(());
    }
    if stop(w, th).await? {
        w.cx.ui.note(
            "stopped the test daemon `test integration --keep-daemon` kept: another daemon \
             starts here, and both would use the dev container's /var/lib/docker",
        );
    }
    Ok(())
}

/// The kept daemon of build `build` (`now`: the one running, as [`state`] read it; the digest of what the build read, `ops/inputs.rs`;
/// `None`: unknown, never reused) running: reused, or started (one of another build stopped
/// first); the `DOCKER_TEST_HOST=…` the suites get.
pub async fn ensure(
    w: &Work<'_>,
    th: &TestHost,
    now: Option<Kept>,
    build: Option<&str>,
) -> Result<String> {
    let cx = w.cx;
    let d = dir(th);
    match now {
        Some(k) if Some(k.build.as_str()) == build => {
            cx.ui.status(
                "Reusing",
                format!(
                    "the kept test daemon (pid {}, {d}): its build is this one",
                    k.pid
                ),
            );
        }
        Some(k) => {
            cx.ui.status(
                "Replacing",
                format!(
                    "the kept test daemon (pid {}): the fork changed since its build",
                    k.pid
                ),
            );
            stop(w, th).await?;
            start(w, th, build).await?;
        }
        None => start(w, th, build).await?,
    }
    Ok(format!(
        "{}=unix://{}/{d}/docker.sock",
        th.var, w.dev.fork.src_path
    ))
}

async fn start(w: &Work<'_>, th: &TestHost, build: Option<&str>) -> Result<()> {
    let d = dir(th);
    w.cx.ui.status(
        "Starting",
        format!(
            "a test daemon to keep ({d}), as `{}` would",
            th.start_bundles.join(" ")
        ),
    );
    let mut args = vec![d.as_str(), build.unwrap_or("unknown")];
    args.extend(th.start_bundles.iter().map(String::as_str));
    let ran = w
        .exec()
        .script("kept_start", &args, Output::Capture)
        .await?;
    if ran.code != 0 {
        bail!(
            "the test daemon to keep did not start; the end of {d}/xtask-start.log:\n{}",
            crate::text::indent(&crate::private::printable_lines(ran.text().trim_end()))
        );
    }
    if let Some(k) = state(w, th).await? {
        w.cx.ui.note(format!(
            "the test daemon (pid {}) stays up for the next runs; `--keep-daemon=stop` stops it",
            k.pid
        ));
    }
    Ok(())
}
