//! The fork's dev container: one per fork, labelled, found again by label and reused through exec;
//! recreated when the image, the mounts or the fork directory itself (deleted and cloned again at
//! the same path) change. A one-shot container (`--rm`) is the same thing with another role label,
//! removed when the task ends. Callers hold the fork's creation lock (see `lock.rs`) around
//! [`ensure`], so two invocations never create two containers for one fork.

use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::CreateContainerOptionsBuilder;

use super::exec::{Exec, Output};
use super::names::{
    Names, LABEL_DRIVER, LABEL_FORK_ID, LABEL_IMAGE, LABEL_MOUNTS, LABEL_PROFILE, LABEL_ROLE,
};
use super::profile::{self, Profile};
use super::spec::DevSpec;
use crate::engine::{short, Engine};
use crate::source::Source;

#[derive(Debug, Clone)]
pub struct DevContainer {
    pub id: String,
    pub one_shot: bool,
    /// The dev image it runs (a build record notes it: another toolchain means another build).
    pub image_id: String,
    /// The daemon's storage driver, which the Makefile exports as `DOCKER_GRAPHDRIVER` (E1–E6).
    pub daemon_driver: Option<String>,
    /// How the fork's files reach it: bind-mounted, or synced into a volume on the engine.
    pub source: Source,
}

/// The container a command wants: its spec, image, role and the fork's names.
pub struct Want<'a> {
    pub spec: &'a DevSpec,
    pub image_id: &'a str,
    pub one_shot: bool,
    pub names: &'a Names,
}

/// Find the fork's dev container (starting it if stopped) or create it; or create a one-shot one.
pub async fn ensure(engine: &Engine, want: &Want<'_>, source: Source) -> Result<DevContainer> {
    let (one_shot, image_id) = (want.one_shot, want.image_id.to_string());
    let found = match one_shot {
        false => find_reusable(engine, want).await?,
        true => None,
    };
    let (id, daemon_driver) = match found {
        Some(found) => found,
        None => {
            let made = create_and_start(engine, want).await?;
            wait_until_set_up(engine, &made.0).await?;
            made
        }
    };
    Ok(DevContainer {
        id,
        one_shot,
        image_id,
        daemon_driver,
        source,
    })
}

async fn find_reusable(
    engine: &Engine,
    want: &Want<'_>,
) -> Result<Option<(String, Option<String>)>> {
    let (spec, image_id, ui) = (want.spec, want.image_id, engine.ui);
    let found = engine
        .labelled(vec![want.names.fork_filter(), format!("{LABEL_ROLE}=dev")])
        .await?;
    for c in found {
        let Some(id) = c.id else { continue };
        let labels = c.labels.unwrap_or_default();
        let why = if labels.get(LABEL_IMAGE).map(String::as_str) != Some(image_id) {
            Some("the dev image changed")
        } else if labels.get(LABEL_MOUNTS) != Some(&spec.mounts_label()) {
            Some("its mounts changed")
        } else if labels.get(LABEL_FORK_ID) != Some(&spec.fork_id) {
            Some("the fork directory was replaced (deleted and cloned again?)")
        } else {
            None
        };
        if let Some(why) = why {
            refuse_if_in_use(engine, &id, why).await?;
            ui.status("Replacing", format!("dev container {}: {why}", short(&id)));
            engine.remove(&id).await?;
            continue;
        }
        let driver = labels.get(LABEL_DRIVER).filter(|d| !d.is_empty()).cloned();
        let running = c.state.map(|s| s.to_string() == "running").unwrap_or(false);
        if running {
            return Ok(Some((id, driver)));
        }
        ui.status("Starting", format!("dev container {}", short(&id)));
        let t = Instant::now();
        let started = engine.docker.start_container(&id, None).await;
        ui.api("start container", t.elapsed());
        if let Err(e) = started {
            // A container created before (say, privileged on a daemon that now refuses it) that
            // cannot start any more is replaced rather than left to fail every command.
            ui.status(
                "Replacing",
                format!("dev container {}: it no longer starts ({e})", short(&id)),
            );
            engine.remove(&id).await?;
            continue;
        }
        wait_until_set_up(engine, &id).await?;
        return Ok(Some((id, driver)));
    }
    Ok(None)
}

/// A dev container with commands running in it (a `shell`, a `run` daemon, a build: exec
/// sessions, as the engine lists them) is never replaced under them: this command refuses,
/// naming what differs and what runs there.
async fn refuse_if_in_use(engine: &Engine, id: &str, why: &str) -> Result<()> {
    let Some(what) = in_use(engine, id).await else {
        return Ok(());
    };
    bail!(
        "the fork's dev container {} is in use ({what} runs there) and this command needs another ({why}).\n\
         Finish that first, or give this command the same settings (DOCKER_PORT, DELVE_PORT, --image) as the running one.",
        short(id)
    )
}

/// `down` and `clean` end what runs in the fork's containers `found`: unless `force`, they
/// refuse while one is in use, naming what runs there.
pub async fn refuse_removal_in_use(
    engine: &Engine,
    found: &[(String, String)],
    task: &str,
    force: bool,
) -> Result<()> {
    for (id, name) in found.iter().filter(|_| !force) {
        if let Some(what) = in_use(engine, id).await {
            bail!(
                "the fork's dev container {name} ({}) is in use: {what} runs there, and `{task}` would end it.\n\
                 Finish that first, or run `cargo xtask {task} --force` to end it anyway.",
                short(id)
            );
        }
    }
    Ok(())
}

/// What runs in container `id` now (`a `shell``, `a `run` daemon`, `a build or test`), or
/// `None` when it is not running or nothing runs there.
pub async fn in_use(engine: &Engine, id: &str) -> Option<String> {
    let info = engine.docker.inspect_container(id, None).await.ok()?;
    if !info.state.and_then(|s| s.running).unwrap_or(false) {
        return None;
    }
    let execs = info.exec_ids.unwrap_or_default();
    // A `run` daemon outlives the exec that started it: asked for by its pidfile.
    let daemon = Exec::plain(engine, id)
        .script("daemon_running", &[], Output::Discard)
        .await
        .is_ok_and(|r| r.code == 0);
    if execs.is_empty() && !daemon {
        return None;
    }
    // What runs there, told by the tool's own script each exec runs through.
    let mut kinds = Vec::new();
    for exec in execs.iter().take(8) {
        let Ok(e) = engine.docker.inspect_exec(exec).await else {
            continue;
        };
        if e.running == Some(false) {
            continue;
        }
        let pc = e.process_config.unwrap_or_default();
        let args = pc.arguments.unwrap_or_default().join(" ");
        let kind = match () {
            // The tool's only exec with a terminal: `shell` at a prompt.
            _ if pc.tty == Some(true) => "an interactive `shell`",
            _ if args.contains("session_run() {") => "a `shell`",
            _ if args.contains("daemon_start() {") => "a `run` daemon",
            _ if args.contains("group_run() {") => "a build or test",
            _ => "a command",
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if daemon && !kinds.contains(&"a `run` daemon") {
        kinds.insert(0, "a `run` daemon");
    }
    match (kinds.is_empty(), daemon) {
        (true, false) => None,
        (true, true) => Some("a command".to_string()),
        (false, _) => Some(kinds.join(", ")),
    }
}

async fn create_and_start(engine: &Engine, want: &Want<'_>) -> Result<(String, Option<String>)> {
    let ui = engine.ui;
    let driver = engine.driver.clone();
    let mut profile = profile::first_choice(engine);
    loop {
        let id = create(engine, want, driver.as_deref(), profile).await?;
        let t = Instant::now();
        let started = engine.docker.start_container(&id, None).await;
        ui.api("start container", t.elapsed());
        match started {
            Ok(()) => {
                crate::fail::point("after-create").await?;
                return Ok((id, driver));
            }
            Err(e) if profile == Profile::Privileged && profile::is_caps_refusal(&e) => {
                engine.remove(&id).await?;
                profile::remember_refusal(engine);
                ui.note(
                    "this daemon refuses --privileged (unable to apply caps); using the emulated profile \
                     (all caps but SYS_RESOURCE, unconfined seccomp/apparmor/systempaths, all devices)",
                );
                profile = Profile::Emulated;
            }
            Err(e) => {
                let _ = engine.remove(&id).await;
                let how = match profile {
                    Profile::Privileged => "",
                    Profile::Emulated => " (emulated profile: this daemon refuses --privileged)",
                };
                bail!("cannot start the dev container{how}: {e}");
            }
        }
    }
}

async fn create(
    engine: &Engine,
    want: &Want<'_>,
    driver: Option<&str>,
    profile: Profile,
) -> Result<String> {
    let (spec, image_id, ui) = (want.spec, want.image_id, engine.ui);
    let one_shot = want.one_shot;
    let role = if one_shot { "oneshot" } else { "dev" };
    let mut labels = want.names.labels(role);
    labels.extend([
        (LABEL_FORK_ID.to_string(), spec.fork_id.clone()),
        (LABEL_IMAGE.to_string(), image_id.to_string()),
        (LABEL_MOUNTS.to_string(), spec.mounts_label()),
        (LABEL_PROFILE.to_string(), profile.label().to_string()),
        (
            LABEL_DRIVER.to_string(),
            driver.unwrap_or_default().to_string(),
        ),
    ]);
    let mut host = HostConfig {
        mounts: Some(spec.mounts.iter().map(|m| m.api()).collect()),
        init: Some(true),
        port_bindings: spec.port_bindings(),
        ..Default::default()
    };
    let entrypoint = profile.apply_on(engine.kind, &mut host, &spec.entrypoint);
    let body = ContainerCreateBody {
        image: Some(image_id.to_string()),
        entrypoint: Some(entrypoint),
        cmd: Some(vec!["sleep".to_string(), "infinity".to_string()]),
        working_dir: Some(spec.workdir.clone()),
        labels: Some(labels),
        exposed_ports: spec.exposed_ports(),
        host_config: Some(host),
        ..Default::default()
    };
    let mut opts = CreateContainerOptionsBuilder::default();
    if !one_shot {
        opts = opts.name(&want.names.container);
    }
    let t = Instant::now();
    let _progress = ui.progress("for the engine to create the dev container");
    let created = engine
        .patient()
        .create_container(Some(opts.build()), body)
        .await;
    ui.api("create container", t.elapsed());
    match created {
        Ok(r) => Ok(r.id),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            message,
        }) => {
            let name = &want.names.container;
            Err(anyhow!(
                "a container named {name} already exists but is not this fork's dev container ({message}): \
                 remove it with `docker rm -f {name}`"
            ))
        }
        Err(bollard::errors::Error::DockerResponseServerError { message, .. })
            if message.contains("bind source path does not exist")
                && message.contains(spec.fork_root.as_str()) =>
        {
            // The engine resolves bind mounts on its own disk: it runs on another machine.
            let ep = engine.describe_endpoint();
            Err(anyhow!(
                "the Docker engine at {ep} does not share this machine's files ({} is not there: \
                 it runs elsewhere), but `[engine] shares_files = \"yes\"` in .moby-xtask.toml \
                 says it does: set it to \"no\" (sync the source) or remove the line",
                spec.fork_root
            ))
        }
        Err(bollard::errors::Error::DockerResponseServerError { message, .. })
            if message.contains("container-init binary not found") =>
        {
            // Podman without catatonit: the dev container runs `--init`, as `make shell` does.
            Err(anyhow!(
                "the engine has no init for `--init` containers ({message}); the dev container \
                 needs one, as `docker run --init` does: install catatonit on the engine's host \
                 (Debian/Ubuntu: `apt-get install catatonit`)"
            ))
        }
        Err(e) => Err(anyhow!("cannot create the dev container: {e}")),
    }
}

/// Wait until the entrypoint (`hack/dind`, and the emulated profile's prelude) has done its setup
/// and exec'd the keep-alive `sleep`: an exec that ran earlier would race it (its files in /tmp
/// hidden by the tmpfs `hack/dind` mounts there, cgroups not yet writable).
async fn wait_until_set_up(engine: &Engine, id: &str) -> Result<()> {
    let exec = Exec::plain(engine, id);
    let _progress = engine
        .ui
        .progress("for the dev container's entrypoint (hack/dind)");
    for _ in 0..600 {
        match exec.script("set_up", &[], Output::Discard).await {
            Ok(r) if r.code == 0 => return Ok(()),
            Ok(_) => {}
            // The container stopped: the entrypoint failed.
            Err(_) => break,
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let logs = logs_tail(engine, id).await;
    bail!(
        "the dev container {} did not finish its start-up (entrypoint hack/dind){logs}",
        short(id)
    )
}

async fn logs_tail(engine: &Engine, id: &str) -> String {
    use futures_util::StreamExt;
    let opts = bollard::query_parameters::LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail("10")
        .build();
    let mut out = String::new();
    let mut logs = engine.docker.logs(id, Some(opts));
    while let Some(Ok(chunk)) = logs.next().await {
        out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
    }
    crate::text::indent(&out)
}

/// Remove every container this invocation created (by session label): the interrupt path while
/// a container was being made, when it may exist on the engine before its id came back.
pub async fn remove_session(engine: &Engine, names: &Names) -> usize {
    let labels = vec![format!("{}={}", super::names::LABEL_SESSION, names.session)];
    let mut n = 0;
    for c in engine.labelled(labels).await.unwrap_or_default() {
        if let Some(id) = c.id {
            if engine.remove(&id).await.is_ok() {
                n += 1;
            }
        }
    }
    n
}

/// Every container (any role) labelled as this fork's: (id, name).
pub async fn of_fork(engine: &Engine, names: &Names) -> Result<Vec<(String, String)>> {
    let found = engine.labelled(vec![names.fork_filter()]).await?;
    Ok(found
        .into_iter()
        .filter_map(|c| {
            let name = c.names.and_then(|n| n.first().cloned()).unwrap_or_default();
            Some((c.id?, name.trim_start_matches('/').to_string()))
        })
        .collect())
}

/// Whether any container of this tool on the engine was made with `profile`.
pub async fn with_profile(engine: &Engine, profile: &str) -> bool {
    let labels = vec![format!("{LABEL_PROFILE}={profile}")];
    engine.labelled(labels).await.is_ok_and(|c| !c.is_empty())
}
