//! What the host gives the dev container, decided as the fork's Makefile decides it: the
//! variables of `DOCKER_ENVS` (the host's value, else the value the Makefile computes and
//! exports, e.g. 17.04's `DOCKER_INCREMENTAL_BINARY=1`), the mounts and ports it pairs with host
//! variables (`DOCKER_CLI_PATH` → `/usr/local/cli`, `DOCKER_PORT` → `-p`), whether the Go package
//! caches are mounted, and the dev image's build args. Pure: the host environment is a lookup.

use hack_compat::{BuildArgValue, ExportValue, Fork, MakeCond};

use super::mount::Mount;

/// A host variable's value, `None` when unset or empty (make treats both alike).
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn all_hold(conds: &[MakeCond], host: Lookup) -> bool {
    conds
        .iter()
        .all(|c| c.holds(|n| host(n).is_some()) == Some(true))
}

/// The container's variables (never `DOCKER_GITCOMMIT`: the tool stamps it), and the names whose
/// value make would take from the daemon's storage driver (`docker info`), filled in once the
/// daemon is known.
pub fn container_env(fork: &Fork, host: Lookup) -> (Vec<(String, String)>, Vec<String>) {
    let mut env = Vec::new();
    let mut from_daemon = Vec::new();
    for name in fork
        .env_allowlist
        .iter()
        .filter(|n| *n != "DOCKER_GITCOMMIT")
    {
        let own = host(name);
        let Some(export) = fork.export(name).filter(|e| all_hold(&e.when, host)) else {
            env.extend(own.map(|v| (name.clone(), v)));
            continue;
        };
        if let Some(v) = export.static_value(own.as_deref()) {
            env.push((name.clone(), v));
        } else if export.value == ExportValue::DaemonStorageDriver {
            from_daemon.push(name.clone());
        } else if let Some(v) = own {
            env.push((name.clone(), v));
        }
    }
    (env, from_daemon)
}

/// Whether the Go package-cache volumes are mounted: E1–E3 mount them only while
/// `DOCKER_INCREMENTAL_BINARY` is non-empty (which the Makefile defaults to 1).
pub fn caches_enabled(fork: &Fork, host: Lookup) -> bool {
    let Some(var) = &fork.go_caches_when else {
        return true;
    };
    let own = host(var);
    let effective = match fork.export(var) {
        Some(e) => e.static_value(own.as_deref()),
        None => own,
    };
    effective.is_some()
}

/// Bind mounts the Makefile adds for set host variables: the directory of the path, at the target.
pub fn env_mounts(fork: &Fork, host: Lookup) -> Vec<Mount> {
    fork.env_mounts
        .iter()
        .filter_map(|m| {
            let path = host(&m.var)?;
            let dir = std::path::Path::new(&path).parent()?.to_str()?.to_string();
            Some(Mount::Bind {
                source: if dir.is_empty() { ".".into() } else { dir },
                target: m.target.clone(),
            })
        })
        .collect()
}

/// Published ports (`-p "$DOCKER_PORT"`, `-p "$DELVE_PORT"`) for set host variables.
pub fn ports(fork: &Fork, host: Lookup) -> Vec<String> {
    fork.env_ports.iter().filter_map(|p| host(&p.var)).collect()
}

/// The dev image's `docker build` arguments the Makefile adds: `--build-arg`s whose conditions
/// hold, then the words of the host variables it splices in (`DOCKER_BUILD_ARGS`).
pub fn build_args(fork: &Fork, host: Lookup) -> Vec<String> {
    let mut args = Vec::new();
    for a in &fork.image_build.args {
        if !all_hold(&a.when, host) {
            continue;
        }
        match &a.value {
            BuildArgValue::Host(var) => {
                if let Some(v) = host(var) {
                    args.push(format!("--build-arg={}={v}", a.name));
                }
            }
            BuildArgValue::Literal(v) => args.push(format!("--build-arg={}={v}", a.name)),
        }
    }
    for var in &fork.image_build.host_spliced {
        if let Some(v) = host(var) {
            args.extend(v.split_whitespace().map(str::to_string));
        }
    }
    args
}

#[cfg(test)]
mod tests;
