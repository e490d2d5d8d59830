//! Naming the cause when a command in the dev container fails for reasons outside it: the
//! container was removed (`cargo xtask down`, `docker rm`), killed or stopped, or the daemon went
//! away. The cause comes first, then what to run.

use anyhow::anyhow;
use bollard::Docker;

use crate::engine::short;

/// Turn an Engine API error met while running something in `container` into one that says what
/// happened to the container (or the daemon), if that explains it.
pub async fn explain(
    docker: &Docker,
    container: &str,
    err: bollard::errors::Error,
) -> anyhow::Error {
    cause(&state(docker, container).await, container).unwrap_or_else(|| {
        anyhow!(
            "the Docker daemon refused the exec in {}: {err}",
            short(container)
        )
    })
}

/// `Ok` while the container runs; otherwise the cause, as [`explain`] words it.
/// Called after a failure: a container being killed still reads as running for a moment, so
/// its state is read again for up to a second before it is believed.
pub async fn ensure_running(docker: &Docker, container: &str) -> anyhow::Result<()> {
    for _ in 0..10 {
        let mut st = state(docker, container).await;
        if matches!(st, State::Stopped(_)) {
            // `docker rm -f` kills first: a stopped container may be on its way out.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            if matches!(state(docker, container).await, State::Gone) {
                st = State::Gone;
            }
        }
        if let Some(e) = cause(&st, container) {
            return Err(e);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(())
}

fn cause(state: &State, container: &str) -> Option<anyhow::Error> {
    let id = short(container);
    Some(match state {
        State::Running => return None,
        State::Gone => anyhow!(
            "the dev container {id} was removed while the command ran (by `cargo xtask down` or `docker rm`?): \
             run the command again, it creates a new one"
        ),
        State::Stopped(why) => anyhow!(
            "the dev container {id} stopped while the command ran ({why}): run the command again, it restarts it"
        ),
        State::NoDaemon(e) => anyhow!(
            "lost the connection to the Docker daemon ({e}): check that it still runs (`docker info`); \
             what ran in {id} may still be running there: `cargo xtask down` stops it"
        ),
    })
}

enum State {
    Running,
    Gone,
    Stopped(String),
    NoDaemon(String),
}

async fn state(docker: &Docker, container: &str) -> State {
    match docker.inspect_container(container, None).await {
        Ok(c) => {
            let s = c.state.unwrap_or_default();
            let status = s.status.map(|st| st.to_string()).unwrap_or_default();
            if status == "removing" || status == "dead" {
                return State::Gone;
            }
            if s.running == Some(true) {
                return State::Running;
            }
            let mut why = format!("exit code {}", s.exit_code.unwrap_or(-1));
            if s.oom_killed == Some(true) {
                why.push_str(", killed for lack of memory");
            } else if s.exit_code == Some(137) {
                why.push_str(", killed: `docker kill` or `docker stop`?");
            }
            State::Stopped(why)
        }
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => State::Gone,
        Err(e) => State::NoDaemon(e.to_string()),
    }
}
