//! The dev container as data: image, mounts, workdir, entrypoint, and the env of one command.
//! Built from the fork (hack-compat) and the host; used both to create the container through the
//! Engine API and to print the equivalent `docker run` line for `--dry-run`.

use std::collections::HashMap;

use bollard::models::PortBinding;
use hack_compat::Fork;

pub use super::mount::Mount;
use crate::dev::host_env::{self, Lookup};

#[derive(Debug, Clone)]
pub struct DevSpec {
    pub image: String,
    pub fork_root: String,
    /// Device and inode of the fork directory: a fork deleted and cloned again at the same path
    /// is another directory, which an existing container's bind mount does not see.
    pub fork_id: String,
    pub workdir: String,
    pub mounts: Vec<Mount>,
    /// The fork's `hack/dind`, as every era's dev image runs it (relative to the workdir).
    pub entrypoint: Vec<String>,
    /// Variables for the command: the allowlisted ones (the host's, else the Makefile's
    /// exports), then `DOCKER_GITCOMMIT`.
    pub env: Vec<(String, String)>,
    /// Variables the Makefile sets to the daemon's storage driver (`DOCKER_GRAPHDRIVER`, E1–E6).
    pub from_daemon: Vec<String>,
    /// Published ports, `[ip:]host:container`, as the Makefile pairs them with its variables.
    pub ports: Vec<String>,
}

impl DevSpec {
    /// The container the fork's Makefile would run, with the host's variables read through `host`.
    pub fn new(fork: &Fork, image: String, host: Lookup, commit: Option<&str>) -> DevSpec {
        let mut mounts = vec![Mount::Bind {
            source: fork.root.to_string(),
            target: fork.src_path.clone(),
        }];
        if host_env::caches_enabled(fork, host) {
            mounts.extend(fork.go_caches.iter().map(|c| Mount::Volume {
                name: c.volume.clone(),
                target: c.target.clone(),
            }));
        }
        mounts.extend(host_env::env_mounts(fork, host));
        let (passthrough, from_daemon) = host_env::container_env(fork, host);
        let entrypoint = if fork.root.join("hack/dind").is_file() {
            vec!["hack/dind".to_string()]
        } else {
            Vec::new()
        };
        let mut env = passthrough;
        if let Some(c) = commit {
            env.push(("DOCKER_GITCOMMIT".to_string(), c.to_string()));
        }
        let fork_id = std::fs::metadata(&fork.root)
            .map(|m| {
                use std::os::unix::fs::MetadataExt;
                format!("{}:{}", m.dev(), m.ino())
            })
            .unwrap_or_default();
        DevSpec {
            image,
            fork_root: fork.root.to_string(),
            fork_id,
            workdir: fork.src_path.clone(),
            mounts,
            entrypoint,
            env,
            from_daemon,
            ports: host_env::ports(fork, host),
        }
    }

    /// Put `mount` where the fork's bind mount is (the synced volume on a remote engine).
    pub fn replace_source(&mut self, mount: Mount) {
        let target = self.workdir.clone();
        self.mounts
            .retain(|m| !matches!(m, Mount::Bind { target: t, .. } if *t == target));
        self.mounts.insert(0, mount);
    }

    /// What identifies a reusable dev container: mounts and entrypoint (the image id is separate).
    pub fn mounts_label(&self) -> String {
        let mut parts: Vec<String> = self.mounts.iter().map(Mount::label).collect();
        parts.extend(self.ports.iter().map(|p| format!("port={p}")));
        parts.extend(self.entrypoint.iter().map(|e| format!("entrypoint={e}")));
        parts.join(",")
    }

    /// Set `name` for every command (a task's option wins over the host's variable).
    pub fn set_env(&mut self, name: &str, value: String) {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.to_string(), value));
    }

    pub fn has_env(&self, name: &str) -> bool {
        self.env.iter().any(|(k, _)| k == name)
    }

    pub fn env_value(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn env_strings(&self) -> Vec<String> {
        self.env.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// The plain `docker run` that does the same work as one command in the dev container, with
    /// `privileges` (`--privileged`, and what the engine needs besides) after `-i`.
    pub fn docker_run_line(&self, cmd: &[String], privileges: &[String]) -> String {
        let mut args: Vec<String> = ["docker", "run", "--rm", "-i"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(privileges.iter().cloned());
        args.push("--init".into());
        for m in &self.mounts {
            args.extend(m.cli_args());
        }
        for p in &self.ports {
            args.push("-p".into());
            args.push(p.clone());
        }
        args.push("-w".into());
        args.push(self.workdir.clone());
        for (k, v) in &self.env {
            args.push("-e".into());
            args.push(format!("{k}={v}"));
        }
        if let Some(ep) = self.entrypoint.first() {
            args.push("--entrypoint".into());
            args.push(ep.clone());
        }
        args.push(self.image.clone());
        args.extend(cmd.iter().cloned());
        args.iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl DevSpec {
    /// `PortBindings` for the published ports (`None` when there are none).
    pub fn port_bindings(&self) -> Option<HashMap<String, Option<Vec<PortBinding>>>> {
        let map: HashMap<_, _> = self
            .ports
            .iter()
            .filter_map(|p| {
                let (host, ctr) = parse_port(p)?;
                Some((format!("{ctr}/tcp"), Some(vec![host])))
            })
            .collect();
        (!map.is_empty()).then_some(map)
    }

    pub fn exposed_ports(&self) -> Option<Vec<String>> {
        let v: Vec<String> = self
            .ports
            .iter()
            .filter_map(|p| parse_port(p).map(|(_, c)| format!("{c}/tcp")))
            .collect();
        (!v.is_empty()).then_some(v)
    }
}

/// `[ip:]host:container` (or a bare `port`, published on the same port) as the API wants it.
fn parse_port(spec: &str) -> Option<(PortBinding, String)> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (ip, host, ctr) = match parts.as_slice() {
        [p] => (None, *p, *p),
        [h, c] => (None, *h, *c),
        [ip, h, c] => (Some(*ip), *h, *c),
        _ => return None,
    };
    ctr.parse::<u16>().ok()?;
    Some((
        PortBinding {
            host_ip: ip.filter(|i| !i.is_empty()).map(str::to_string),
            host_port: Some(host.to_string()),
        },
        ctr.to_string(),
    ))
}

/// Quote for a POSIX shell only where needed.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_line_is_the_makefiles_docker_run() {
        let root = crate::context::project_root().join("hack-compat/tests/fixtures/e2");
        let fork = Fork::open(&root).unwrap();
        let host = |k: &str| match k {
            "DOCKER_CLI_PATH" => Some("/opt/cli/docker".to_string()),
            "DOCKER_PORT" => Some("127.0.0.1:2375:2375".to_string()),
            "TESTFLAGS" => Some("-run TestX".to_string()),
            "HOME" => Some("/root".to_string()),
            _ => None,
        };
        let spec = DevSpec::new(&fork, "docker-dev:main".into(), &host, Some("3385658"));
        let line = spec.docker_run_line(
            &["hack/make.sh".into(), "binary".into()],
            &["--privileged".into()],
        );
        let src = "/go/src/github.com/docker/docker";
        for part in [
            "docker run --rm -i --privileged --init".to_string(),
            format!("-v {root}:{src}"),
            "-v /opt/cli:/usr/local/cli".to_string(),
            "-p 127.0.0.1:2375:2375".to_string(),
            // 17.06's Makefile exports DOCKER_INCREMENTAL_BINARY=1 and mounts the package caches.
            "-e DOCKER_INCREMENTAL_BINARY=1".to_string(),
            "-v dockerdev-go-pkg-cache-gopath:/go/pkg".to_string(),
            "-e 'TESTFLAGS=-run TestX'".to_string(),
            "-e DOCKER_GITCOMMIT=3385658".to_string(),
            "-e DOCKER_GITCOMMIT=3385658 docker-dev:main hack/make.sh binary".to_string(),
        ] {
            assert!(line.contains(&part), "{part} not in {line}");
        }
        assert!(!line.contains("HOME"), "{line}");
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("hack/make.sh"), "hack/make.sh");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn mounts_with_colons_use_mount_syntax() {
        let plain = Mount::Bind {
            source: "/src/moby".into(),
            target: "/go/src/github.com/docker/docker".into(),
        };
        assert_eq!(plain.cli_args()[0], "-v");
        let colon = Mount::Bind {
            source: "/src/a:b".into(),
            target: "/usr/src/moby".into(),
        };
        let args = colon.cli_args();
        assert_eq!(args[0], "--mount");
        assert_eq!(args[1], "type=bind,source=/src/a:b,target=/usr/src/moby");
        let comma = Mount::Bind {
            source: "/src/a,b".into(),
            target: "/x".into(),
        };
        assert_eq!(
            comma.cli_args()[1],
            "type=bind,\"source=/src/a,b\",target=/x"
        );
        assert_eq!(colon.api().source.as_deref(), Some("/src/a:b"));
    }

    #[test]
    fn ports_as_the_cli_reads_them() {
        let (b, c) = parse_port("127.0.0.1:2375:2375").unwrap();
        assert_eq!(
            (b.host_ip.as_deref(), b.host_port.as_deref(), c.as_str()),
            (Some("127.0.0.1"), Some("2375"), "2375")
        );
        let (b, c) = parse_port("2345").unwrap();
        assert_eq!(
            (b.host_ip, b.host_port.as_deref(), c.as_str()),
            (None, Some("2345"), "2345")
        );
        assert!(parse_port("a:b:c:d").is_none());
        assert!(parse_port("x").is_none());
    }
}
