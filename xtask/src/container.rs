//! The fork's dev container: one per fork, labelled, found again by label and reused through exec;
//! recreated when the image, the mounts or the fork directory itself (deleted and cloned again at
//! the same path) change. A one-shot container (`--rm`) is the same thing with another role label,
//! removed when the task ends. Callers hold the fork's creation lock (see `lock.rs`) around
//! [`ensure`], so two invocations never create two containers for one fork.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use bollard::models::{ContainerCreateBody, ContainerSummary, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;

use crate::dev_spec::DevSpec;
use crate::exec::{Exec, Output};
use crate::profile::{self, Profile};
use crate::ui::Ui;

pub use crate::diagnose::{ensure_running, explain};

pub const LABEL_FORK: &str = "dev.moby-xtask.fork";
pub const LABEL_FORK_ID: &str = "dev.moby-xtask.fork-id";
pub const LABEL_ROLE: &str = "dev.moby-xtask.role";
pub const LABEL_IMAGE: &str = "dev.moby-xtask.image";
pub const LABEL_MOUNTS: &str = "dev.moby-xtask.mounts";
pub const LABEL_PROFILE: &str = "dev.moby-xtask.profile";
pub const LABEL_SESSION: &str = "dev.moby-xtask.session";
pub const LABEL_DRIVER: &str = "dev.moby-xtask.daemon-driver";

/// A unique id for this invocation, put on every container it creates, so that an interrupt can
/// find (and remove) what it created even before the create call returned.
pub fn session_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

#[derive(Debug, Clone)]
pub struct DevContainer {
    pub id: String,
    pub one_shot: bool,
    /// The dev image it runs (a build record notes it: another toolchain means another build).
    pub image_id: String,
    /// The daemon's storage driver, which the Makefile exports as `DOCKER_GRAPHDRIVER` (E1–E6).
    pub daemon_driver: Option<String>,
    /// Where the source is synced, on an engine that does not share this machine's files.
    pub sync: Option<crate::sync::Target>,
}

/// The container a command wants: its spec, image, role and this invocation's session.
pub struct Want<'a> {
    pub spec: &'a DevSpec,
    pub image_id: &'a str,
    pub one_shot: bool,
    pub session: &'a str,
}

/// Find the fork's dev container (starting it if stopped) or create it; or create a one-shot one.
pub async fn ensure(docker: &Docker, ui: Ui, want: &Want<'_>) -> Result<DevContainer> {
    let (one_shot, image_id_owned) = (want.one_shot, want.image_id.to_string());
    if !one_shot {
        if let Some((id, daemon_driver)) = find_reusable(docker, ui, want).await? {
            return Ok(DevContainer {
                id,
                one_shot,
                image_id: image_id_owned,
                daemon_driver,
                sync: None,
            });
        }
    }
    let (id, daemon_driver) = create_and_start(docker, ui, want).await?;
    wait_until_set_up(docker, ui, &id).await?;
    Ok(DevContainer {
        id,
        one_shot,
        image_id: image_id_owned,
        daemon_driver,
        sync: None,
    })
}

async fn find_reusable(
    docker: &Docker,
    ui: Ui,
    want: &Want<'_>,
) -> Result<Option<(String, Option<String>)>> {
    let (spec, image_id) = (want.spec, want.image_id);
    let found = labelled(
        docker,
        ui,
        vec![
            format!("{LABEL_FORK}={}", spec.fork_root),
            format!("{LABEL_ROLE}=dev"),
        ],
    )
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
            ui.status("Replacing", format!("dev container {}: {why}", short(&id)));
            remove(docker, &id).await?;
            continue;
        }
        let driver = labels.get(LABEL_DRIVER).filter(|d| !d.is_empty()).cloned();
        let running = c.state.map(|s| s.to_string() == "running").unwrap_or(false);
        if running {
            return Ok(Some((id, driver)));
        }
        ui.status("Starting", format!("dev container {}", short(&id)));
        let t = Instant::now();
        let started = docker.start_container(&id, None).await;
        ui.api("start container", t.elapsed());
        if let Err(e) = started {
            // A container created before (say, privileged on a daemon that now refuses it) that
            // cannot start any more is replaced rather than left to fail every command.
            ui.status(
                "Replacing",
                format!("dev container {}: it no longer starts ({e})", short(&id)),
            );
            remove(docker, &id).await?;
            continue;
        }
        wait_until_set_up(docker, ui, &id).await?;
        return Ok(Some((id, driver)));
    }
    Ok(None)
}

async fn create_and_start(
    docker: &Docker,
    ui: Ui,
    want: &Want<'_>,
) -> Result<(String, Option<String>)> {
    let t = Instant::now();
    let info = docker.info().await.ok();
    ui.api("info", t.elapsed());
    let daemon_id = info.as_ref().and_then(|i| i.id.clone()).unwrap_or_default();
    let driver = info.and_then(|i| i.driver).filter(|d| !d.is_empty());
    let mut profile = profile::first_choice(&daemon_id);
    let driver_ref = driver.as_deref();
    loop {
        let id = create(docker, ui, want, driver_ref, profile).await?;
        let t = Instant::now();
        let started = docker.start_container(&id, None).await;
        ui.api("start container", t.elapsed());
        match started {
            Ok(()) => return Ok((id, driver)),
            Err(e) if profile == Profile::Privileged && profile::is_caps_refusal(&e) => {
                remove(docker, &id).await?;
                profile::remember_refusal(&daemon_id);
                ui.note(
                    "this daemon refuses --privileged (unable to apply caps); using the emulated profile \
                     (all caps but SYS_RESOURCE, unconfined seccomp/apparmor/systempaths, all devices)",
                );
                profile = Profile::Emulated;
            }
            Err(e) => {
                let _ = remove(docker, &id).await;
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
    docker: &Docker,
    ui: Ui,
    want: &Want<'_>,
    driver: Option<&str>,
    profile: Profile,
) -> Result<String> {
    let (spec, image_id) = (want.spec, want.image_id);
    let (one_shot, session) = (want.one_shot, want.session);
    let role = if one_shot { "oneshot" } else { "dev" };
    let labels = HashMap::from([
        (LABEL_FORK.to_string(), spec.fork_root.clone()),
        (LABEL_FORK_ID.to_string(), spec.fork_id.clone()),
        (LABEL_ROLE.to_string(), role.to_string()),
        (LABEL_IMAGE.to_string(), image_id.to_string()),
        (LABEL_MOUNTS.to_string(), spec.mounts_label()),
        (LABEL_PROFILE.to_string(), profile.label().to_string()),
        (LABEL_SESSION.to_string(), session.to_string()),
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
    let entrypoint = profile.apply(&mut host, &spec.entrypoint);
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
        opts = opts.name(&dev_name(&spec.fork_root));
    }
    let t = Instant::now();
    let created = docker.create_container(Some(opts.build()), body).await;
    ui.api("create container", t.elapsed());
    match created {
        Ok(r) => Ok(r.id),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            message,
        }) => {
            let name = dev_name(&spec.fork_root);
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
            let ep = crate::endpoint::endpoint(ui)
                .map(|e| format!("{} ({})", e.host, e.from))
                .unwrap_or_default();
            Err(anyhow!(
                "the Docker engine at {ep} does not share this machine's files ({} is not there: \
                 it runs elsewhere), but `[engine] shares_files = \"yes\"` in .moby-xtask.toml \
                 says it does: set it to \"no\" (sync the source) or remove the line",
                spec.fork_root
            ))
        }
        Err(e) => Err(anyhow!("cannot create the dev container: {e}")),
    }
}

/// Wait until the entrypoint (`hack/dind`, and the emulated profile's prelude) has done its setup
/// and exec'd the keep-alive `sleep`: an exec that ran earlier would race it (its files in /tmp
/// hidden by the tmpfs `hack/dind` mounts there, cgroups not yet writable).
async fn wait_until_set_up(docker: &Docker, ui: Ui, id: &str) -> Result<()> {
    let exec = Exec {
        docker,
        container: id,
        workdir: "/",
        env: Vec::new(),
        ui,
        sync: None,
    };
    let _progress = ui.progress("for the dev container's entrypoint (hack/dind)");
    for _ in 0..600 {
        match exec.script("set_up", &[], Output::Discard).await {
            Ok(r) if r.code == 0 => return Ok(()),
            Ok(_) => {}
            // The container stopped: the entrypoint failed.
            Err(_) => break,
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let logs = logs_tail(docker, id).await;
    bail!(
        "the dev container {} did not finish its start-up (entrypoint hack/dind){logs}",
        short(id)
    )
}

async fn logs_tail(docker: &Docker, id: &str) -> String {
    use futures_util::StreamExt;
    let opts = bollard::query_parameters::LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail("10")
        .build();
    let mut out = String::new();
    let mut logs = docker.logs(id, Some(opts));
    while let Some(Ok(chunk)) = logs.next().await {
        out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
    }
    crate::text::indent(&out)
}

/// `moby-xtask-<dir name>-<hash of the path>`: stable per fork, readable in `docker ps`.
pub fn dev_name(fork_root: &str) -> String {
    let base: String = fork_root
        .rsplit('/')
        .next()
        .filter(|b| !b.is_empty())
        .unwrap_or("fork")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    // FNV-1a: stable across runs and Rust versions.
    let hash = fork_root.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    format!("moby-xtask-{base}-{:08x}", hash as u32)
}

pub async fn remove(docker: &Docker, id: &str) -> Result<()> {
    let opts = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(id, Some(opts)).await {
        Ok(())
        | Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        Err(e) => Err(anyhow!("cannot remove container {}: {e}", short(id))),
    }
}

/// Remove every container this invocation created (by session label): the interrupt path while
/// a container was being made, when it may exist on the daemon before its id came back.
pub async fn remove_session(docker: &Docker, ui: Ui, session: &str) -> usize {
    let labels = vec![format!("{LABEL_SESSION}={session}")];
    let mut n = 0;
    for c in labelled(docker, ui, labels).await.unwrap_or_default() {
        if let Some(id) = c.id {
            if remove(docker, &id).await.is_ok() {
                n += 1;
            }
        }
    }
    n
}

/// Every container (any role) labelled as this fork's: (id, name).
pub async fn of_fork(docker: &Docker, ui: Ui, fork_root: &str) -> Result<Vec<(String, String)>> {
    let found = labelled(docker, ui, vec![format!("{LABEL_FORK}={fork_root}")]).await?;
    Ok(found
        .into_iter()
        .filter_map(|c| {
            let name = c.names.and_then(|n| n.first().cloned()).unwrap_or_default();
            Some((c.id?, name.trim_start_matches('/').to_string()))
        })
        .collect())
}

/// Whether any container of this tool on the daemon was made with `profile`.
pub async fn with_profile(docker: &Docker, profile: &str) -> bool {
    let labels = vec![format!("{LABEL_PROFILE}={profile}")];
    labelled(docker, crate::ui::Ui::plain(), labels)
        .await
        .is_ok_and(|c| !c.is_empty())
}

/// Every container (running or not) that carries all of `labels` (`key=value`).
async fn labelled(docker: &Docker, ui: Ui, labels: Vec<String>) -> Result<Vec<ContainerSummary>> {
    let filters = HashMap::from([("label".to_string(), labels)]);
    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let t = Instant::now();
    let r = docker.list_containers(Some(opts)).await;
    ui.api("list containers", t.elapsed());
    r.context("cannot list containers")
}

pub fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::dev_name;

    #[test]
    fn dev_name_is_stable_readable_and_per_path() {
        let a = dev_name("/home/me/src/moby");
        assert!(a.starts_with("moby-xtask-moby-"), "{a}");
        assert_eq!(a, dev_name("/home/me/src/moby"));
        assert_ne!(a, dev_name("/home/me/other/moby"));
        // Characters a container name cannot hold become `-`.
        assert!(dev_name("/x/my fork:1").starts_with("moby-xtask-my-fork-1-"));
        assert!(dev_name("/").starts_with("moby-xtask-fork-"));
    }
}
