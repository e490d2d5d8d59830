//! The fork's dev container: one per fork, labelled, found again by label and reused through exec;
//! recreated when the image or mounts change. A one-shot container (`--rm`) is the same thing with
//! a different role label, removed when the task ends. Privileged first, and the emulated profile
//! of REAL-TREES.md when the daemon refuses `--privileged`.

use std::collections::HashMap;

use anyhow::{anyhow, bail, Context, Result};
use bollard::models::{ContainerCreateBody, ContainerSummary, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;

use crate::dev_spec::DevSpec;
use crate::docker::is_caps_refusal;

pub const LABEL_FORK: &str = "dev.moby-xtask.fork";
pub const LABEL_ROLE: &str = "dev.moby-xtask.role";
pub const LABEL_IMAGE: &str = "dev.moby-xtask.image";
pub const LABEL_MOUNTS: &str = "dev.moby-xtask.mounts";
pub const LABEL_PROFILE: &str = "dev.moby-xtask.profile";
pub const LABEL_SESSION: &str = "dev.moby-xtask.session";

/// A unique id for this invocation, put on every container it creates, so that an interrupt can
/// find (and remove) a one-shot container even before its id came back.
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    Privileged,
    /// `--privileged` refused: all caps but SYS_RESOURCE, unconfined, all devices, /sys remounted rw.
    Emulated,
}

impl Profile {
    fn label(self) -> &'static str {
        match self {
            Profile::Privileged => "privileged",
            Profile::Emulated => "emulated",
        }
    }
}

/// What `--privileged` would have given and the emulated profile lacks: `/sys` read-write, and
/// each cgroup v1 hierarchy mounted afresh read-write (a plain remount is refused as busy), so
/// that a nested dockerd can create cgroups. Then the fork's entrypoint.
const EMULATED_PRELUDE: &str = r#"mount -o remount,rw /sys 2>/dev/null
grep ' cgroup ' /proc/self/mounts | while read -r _ dir _ opts _; do
  o=$(echo "$opts" | tr , '\n' | grep -vxE 'ro|rw|nosuid|nodev|noexec|relatime' | paste -sd, -)
  case "$o" in name=*) o="none,$o" ;; esac
  umount "$dir" 2>/dev/null && mount -t cgroup -o "$o" cgroup "$dir" 2>/dev/null
done
grep -q ' /sys/fs/cgroup cgroup2 ' /proc/self/mounts && mount -o remount,rw /sys/fs/cgroup 2>/dev/null
exec "$@""#;

/// Find the fork's dev container (starting it if stopped) or create it; or create a one-shot one.
pub async fn ensure(
    docker: &Docker,
    spec: &DevSpec,
    image_id: &str,
    one_shot: bool,
    session: &str,
) -> Result<DevContainer> {
    if !one_shot {
        if let Some(id) = find_reusable(docker, spec, image_id).await? {
            return Ok(DevContainer { id, one_shot });
        }
    }
    let id = match create_and_start(docker, spec, image_id, one_shot, session).await {
        Ok(id) => id,
        // Another `cargo xtask` for this fork may have created it a moment ago: join that one.
        Err(e) if !one_shot => {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            match find_reusable(docker, spec, image_id).await? {
                Some(id) => id,
                None => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    wait_until_set_up(docker, &id).await?;
    Ok(DevContainer { id, one_shot })
}

async fn find_reusable(docker: &Docker, spec: &DevSpec, image_id: &str) -> Result<Option<String>> {
    let found = labelled(
        docker,
        vec![
            format!("{LABEL_FORK}={}", spec.fork_root),
            format!("{LABEL_ROLE}=dev"),
        ],
    )
    .await?;
    for c in found {
        let Some(id) = c.id else { continue };
        let labels = c.labels.unwrap_or_default();
        let same = labels.get(LABEL_IMAGE).map(String::as_str) == Some(image_id)
            && labels.get(LABEL_MOUNTS) == Some(&spec.mounts_label());
        if !same {
            eprintln!(
                "xtask: the dev image or mounts changed; replacing dev container {}",
                short(&id)
            );
            remove(docker, &id).await?;
            continue;
        }
        let running = c.state.map(|s| s.to_string() == "running").unwrap_or(false);
        if !running {
            docker
                .start_container(&id, None)
                .await
                .with_context(|| format!("cannot start dev container {}", short(&id)))?;
            wait_until_set_up(docker, &id).await?;
        }
        return Ok(Some(id));
    }
    Ok(None)
}

async fn create_and_start(
    docker: &Docker,
    spec: &DevSpec,
    image_id: &str,
    one_shot: bool,
    session: &str,
) -> Result<String> {
    let id = create(
        docker,
        spec,
        image_id,
        one_shot,
        session,
        Profile::Privileged,
    )
    .await?;
    match docker.start_container(&id, None).await {
        Ok(()) => return Ok(id),
        Err(e) if is_caps_refusal(&e) => {
            remove(docker, &id).await?;
            eprintln!(
                "xtask: this daemon refuses --privileged (unable to apply caps); using the emulated profile \
                 (all caps but SYS_RESOURCE, unconfined seccomp/apparmor/systempaths, all devices)"
            );
        }
        Err(e) => {
            let _ = remove(docker, &id).await;
            return Err(anyhow!("cannot start the dev container: {e}"));
        }
    }
    let id = create(docker, spec, image_id, one_shot, session, Profile::Emulated).await?;
    if let Err(e) = docker.start_container(&id, None).await {
        let _ = remove(docker, &id).await;
        return Err(anyhow!(
            "cannot start the dev container, even without --privileged: {e}"
        ));
    }
    Ok(id)
}

async fn create(
    docker: &Docker,
    spec: &DevSpec,
    image_id: &str,
    one_shot: bool,
    session: &str,
    profile: Profile,
) -> Result<String> {
    let role = if one_shot { "oneshot" } else { "dev" };
    let labels = HashMap::from([
        (LABEL_FORK.to_string(), spec.fork_root.clone()),
        (LABEL_ROLE.to_string(), role.to_string()),
        (LABEL_IMAGE.to_string(), image_id.to_string()),
        (LABEL_MOUNTS.to_string(), spec.mounts_label()),
        (LABEL_PROFILE.to_string(), profile.label().to_string()),
        (LABEL_SESSION.to_string(), session.to_string()),
    ]);
    let keep_alive = vec!["sleep".to_string(), "infinity".to_string()];
    let mut host = HostConfig {
        binds: Some(spec.mounts.iter().map(|m| m.bind_spec()).collect()),
        init: Some(true),
        ..Default::default()
    };
    let entrypoint = match profile {
        Profile::Privileged => {
            host.privileged = Some(true);
            spec.entrypoint.clone()
        }
        Profile::Emulated => {
            host.cap_add = Some(vec!["ALL".into()]);
            host.cap_drop = Some(vec!["SYS_RESOURCE".into()]);
            host.security_opt = Some(vec![
                "seccomp=unconfined".into(),
                "apparmor=unconfined".into(),
            ]);
            // `--security-opt systempaths=unconfined` is the CLI's name for these two, emptied.
            host.masked_paths = Some(Vec::new());
            host.readonly_paths = Some(Vec::new());
            host.device_cgroup_rules = Some(vec!["a *:* rwm".into()]);
            let mut ep = vec![
                "/bin/sh".to_string(),
                "-c".to_string(),
                EMULATED_PRELUDE.to_string(),
                "sh".to_string(),
            ];
            ep.extend(spec.entrypoint.iter().cloned());
            ep
        }
    };
    let body = ContainerCreateBody {
        image: Some(image_id.to_string()),
        entrypoint: Some(entrypoint),
        cmd: Some(keep_alive),
        working_dir: Some(spec.workdir.clone()),
        labels: Some(labels),
        host_config: Some(host),
        ..Default::default()
    };
    let mut opts = CreateContainerOptionsBuilder::default();
    if !one_shot {
        opts = opts.name(&dev_name(&spec.fork_root));
    }
    let created = docker.create_container(Some(opts.build()), body).await;
    match created {
        Ok(r) => Ok(r.id),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, message }) => Err(anyhow!(
            "a container named {} already exists but is not this fork's current dev container ({message}): \
             remove it with `docker rm -f {}`",
            dev_name(&spec.fork_root),
            dev_name(&spec.fork_root)
        )),
        Err(e) => Err(anyhow!("cannot create the dev container: {e}")),
    }
}

/// Wait until the entrypoint (`hack/dind`, and the emulated profile's prelude) has done its setup
/// and exec'd the keep-alive `sleep`, a child of the init: an exec that ran earlier would race it
/// (its files in /tmp hidden by the tmpfs `hack/dind` mounts there, cgroups not yet writable).
async fn wait_until_set_up(docker: &Docker, id: &str) -> Result<()> {
    let probe = "for p in /proc/[0-9]*; do \
        [ \"$(cat $p/comm 2>/dev/null)\" = sleep ] && grep -qE '^PPid:[[:space:]]+1$' $p/status 2>/dev/null && exit 0; \
        done; exit 1";
    let exec = crate::exec::Exec {
        docker,
        container: id,
        workdir: "/",
        env: Vec::new(),
        pidfile: String::new(),
    };
    for _ in 0..600 {
        match exec.script(probe, crate::exec::Output::Discard).await {
            Ok((0, _)) => return Ok(()),
            Ok(_) => {}
            // The container stopped: the entrypoint failed.
            Err(_) => break,
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let logs = docker_logs_tail(docker, id).await;
    bail!(
        "the dev container {} did not finish its start-up (entrypoint hack/dind){logs}",
        short(id)
    )
}

async fn docker_logs_tail(docker: &Docker, id: &str) -> String {
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
    out.lines().map(|l| format!("\n  | {l}")).collect()
}

/// `moby-xtask-<dir name>-<hash of the path>`: stable per fork, readable in `docker ps`.
pub fn dev_name(fork_root: &str) -> String {
    let base: String = fork_root
        .rsplit('/')
        .next()
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

/// Remove every container this invocation created (by session label): the interrupt path.
pub async fn remove_session(docker: &Docker, session: &str) {
    let labels = vec![
        format!("{LABEL_SESSION}={session}"),
        format!("{LABEL_ROLE}=oneshot"),
    ];
    for c in labelled(docker, labels).await.unwrap_or_default() {
        if let Some(id) = c.id {
            let _ = remove(docker, &id).await;
        }
    }
}

/// Every container (any role) labelled as this fork's: (id, name).
pub async fn of_fork(docker: &Docker, fork_root: &str) -> Result<Vec<(String, String)>> {
    let found = labelled(docker, vec![format!("{LABEL_FORK}={fork_root}")]).await?;
    Ok(found
        .into_iter()
        .filter_map(|c| {
            let name = c.names.and_then(|n| n.first().cloned()).unwrap_or_default();
            Some((c.id?, name.trim_start_matches('/').to_string()))
        })
        .collect())
}

/// Every container (running or not) that carries all of `labels` (`key=value`).
async fn labelled(docker: &Docker, labels: Vec<String>) -> Result<Vec<ContainerSummary>> {
    let filters = HashMap::from([("label".to_string(), labels)]);
    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    docker
        .list_containers(Some(opts))
        .await
        .context("cannot list containers")
}

pub fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}
