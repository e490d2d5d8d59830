//! The engine, through one door: [`Engine`] is made once per command, lazily (`cx.engine()`), from
//! the endpoint the docker CLI would use. It holds the client, the endpoint, a stable identity
//! (for the tool's memos), the kind of engine (rootful, rootless or userns-remap Docker, Podman)
//! and its storage driver; every part asks it rather than the engine again.

mod connect;
mod containers;
pub mod endpoint;
pub mod memo;
mod ssh_dial;
mod tls_client;
mod unix_pool;

use std::time::Instant;

use anyhow::Result;
use bollard::Docker;

pub use containers::short;
use endpoint::Endpoint;

use crate::ui::Ui;

/// What kind of engine answers, as its `/info` and `/version` say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Docker as root: container root is host root.
    Docker,
    /// Docker in a user namespace of the user (`dockerd-rootless.sh`): container root is the user.
    Rootless,
    /// Docker with `--userns-remap`: container root is a subordinate uid, unless the container
    /// runs with `--userns=host` (which privileged containers must).
    Userns,
    /// Podman's Docker-compatible service; `rootless` as for Docker.
    Podman { rootless: bool },
}

impl Kind {
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Docker => "Docker",
            Kind::Rootless => "rootless Docker",
            Kind::Userns => "userns-remap Docker",
            Kind::Podman { rootless: false } => "Podman (rootful)",
            Kind::Podman { rootless: true } => "Podman (rootless)",
        }
    }

    /// What this kind means for a fork on it, in a sentence.
    pub fn meaning(self) -> &'static str {
        match self {
            Kind::Docker => "the dev container runs as root; what it writes in the fork is handed back to the fork's owner",
            Kind::Rootless | Kind::Podman { rootless: true } => {
                "container root is your user: what the dev container writes in the fork is already yours; \
                 nested daemons need what a rootless engine may not grant"
            }
            Kind::Userns => {
                "every container of the tool runs with --userns=host (privileged containers need it), so the fork \
                 is seen as on a rootful engine and handed back the same way"
            }
            Kind::Podman { rootless: false } => {
                "the dev container runs as root; what it writes is handed back; images are built with `podman build`"
            }
        }
    }

    pub fn is_podman(self) -> bool {
        matches!(self, Kind::Podman { .. })
    }

    /// `HostConfig.UsernsMode` for every container the tool creates on this engine.
    pub fn userns_mode(self) -> Option<String> {
        (self == Kind::Userns).then(|| "host".to_string())
    }
}

/// What was learnt of an engine on a socket of this machine:
/// `<kind> <stamp> <api> <identity> <driver>`. Good only while the stamp holds ([`stamp`]): the
/// socket is the one it was learnt from and the engine's configuration files are unchanged, so
/// a daemon restarted elsewhere, reconfigured (userns-remap, another storage driver) or
/// replaced by another product makes the next command ask again.
struct Known {
    kind: Kind,
    stamp: String,
    api: bollard::ClientVersion,
    identity: String,
    driver: Option<String>,
}

impl Known {
    const KINDS: [(Kind, &'static str); 5] = [
        (Kind::Docker, "docker"),
        (Kind::Rootless, "rootless"),
        (Kind::Userns, "userns"),
        (Kind::Podman { rootless: false }, "podman-rootful"),
        (Kind::Podman { rootless: true }, "podman-rootless"),
    ];

    fn read(path: &camino::Utf8Path, stamp: &str) -> Option<Known> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut f = text.split_whitespace();
        let word = f.next()?;
        let kind = Self::KINDS.iter().find(|(_, w)| *w == word)?.0;
        (f.next()? == stamp).then_some(())?;
        let (major, minor) = f.next()?.split_once('.')?;
        Some(Known {
            kind,
            stamp: stamp.to_string(),
            api: bollard::ClientVersion {
                major_version: major.parse().ok()?,
                minor_version: minor.parse().ok()?,
            },
            identity: f.next()?.to_string(),
            driver: f.next().map(str::to_string),
        })
    }

    /// Best effort: a memo not written costs the next command two calls.
    fn write(&self, path: &camino::Utf8Path) {
        let word = Self::KINDS
            .iter()
            .find(|(k, _)| *k == self.kind)
            .map_or("docker", |(_, w)| w);
        let driver = self.driver.as_deref().unwrap_or_default();
        memo::write(
            path,
            &format!(
                "{word} {} {} {} {driver}\n",
                self.stamp, self.api, self.identity
            ),
        );
    }
}

/// What makes a memo of the engine at `host` hold: for a `unix://` socket, its inode and change
/// time, and the modification times of the engine's configuration files that exist (Docker's
/// `daemon.json` and systemd units, Podman's `containers.conf` and `storage.conf`, system-wide
/// and the user's). `None` for any other endpoint: nothing here can tell it is the same.
fn stamp(host: &str) -> Option<String> {
    stamp_of(host.strip_prefix("unix://")?, &config_files())
}

/// The engines' configuration files a reconfiguration edits (not all exist).
fn config_files() -> Vec<String> {
    let home = std::env::var("HOME").unwrap_or_default();
    let config = std::env::var("XDG_CONFIG_HOME").unwrap_or_else(|_| format!("{home}/.config"));
    let mut files = vec![
        "/etc/docker/daemon.json".to_string(),
        "/etc/containers/containers.conf".into(),
        "/etc/containers/storage.conf".into(),
        format!("{config}/docker/daemon.json"),
        format!("{config}/containers/containers.conf"),
        format!("{config}/containers/storage.conf"),
    ];
    let units = [
        "/etc/systemd/system",
        "/lib/systemd/system",
        "/usr/lib/systemd/system",
    ];
    for unit in units
        .iter()
        .map(|u| u.to_string())
        .chain([format!("{config}/systemd/user")])
    {
        for name in ["docker.service", "podman.service"] {
            files.push(format!("{unit}/{name}"));
            if let Ok(d) = std::fs::read_dir(format!("{unit}/{name}.d")) {
                files.extend(d.flatten().map(|e| e.path().to_string_lossy().into_owned()));
            }
        }
    }
    files.sort();
    files
}

fn stamp_of(socket: &str, files: &[String]) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(socket).ok()?;
    let mut seen = String::new();
    for f in files {
        if let Ok(c) = std::fs::metadata(f) {
            seen.push_str(&format!("{f} {}.{}\n", c.mtime(), c.mtime_nsec()));
        }
    }
    Some(format!(
        "{}-{}{:09}-{:016x}",
        m.ino(),
        m.ctime(),
        m.ctime_nsec(),
        crate::text::fnv1a(&seen)
    ))
}

pub struct Engine {
    pub docker: Docker,
    pub endpoint: Endpoint,
    /// `--context`, passed on to the docker CLI children.
    pub context: Option<String>,
    /// Stable across calls and commands: the engine's ID (Docker), or a digest of what Podman
    /// keeps (its ID is new on every call).
    pub identity: String,
    pub kind: Kind,
    /// The engine's storage driver (the Makefile exports it as `DOCKER_GRAPHDRIVER`).
    pub driver: Option<String>,
    pub ui: Ui,
    /// Behind an ssh endpoint: the dialer, stopped with the engine.
    _dialer: Option<ssh_dial::Dialer>,
}

impl Engine {
    /// Connect (ping, version), then learn the engine's kind and identity from `/info` and
    /// `/version`. What was learnt of an engine on a socket of this machine is remembered
    /// (`engine-at` memo, [`Known`]), so later commands ask it nothing but `/_ping`: the docker
    /// CLI's own `docker exec` asks no more (and a Podman service answers those two in about a
    /// second together).
    pub async fn connect(ui: Ui, context: Option<&str>) -> Result<Engine> {
        let endpoint = endpoint::endpoint(ui, context)?;
        let at = memo::path(
            "engine-at",
            &format!("{:016x}", crate::text::fnv1a(&endpoint.host)),
        );
        let stamp = stamp(&endpoint.host);
        let known = match (&at, &stamp) {
            (Some(p), Some(s)) => Known::read(p, s),
            _ => None,
        };
        let api = known.as_ref().map(|k| &k.api);
        let (docker, dialer) = connect::connect(ui, &endpoint, api).await?;
        let context = context.map(str::to_string);
        if let Some(k) = known {
            ui.verbose(
                "Remembered",
                format!("{} at {}", k.kind.describe(), endpoint.host),
            );
            return Ok(Engine {
                docker,
                endpoint,
                context,
                identity: k.identity,
                kind: k.kind,
                driver: k.driver,
                ui,
                _dialer: dialer,
            });
        }
        let t = Instant::now();
        // One after the other: over ssh a second request at once is a second `dial-stdio`
        // (tens of ms), while the pooled connection takes the next in about a millisecond.
        let info = docker.info().await;
        let version = docker.version().await;
        ui.api("info, version", t.elapsed());
        let info = info.unwrap_or_default();
        let podman = version.ok().is_some_and(|v| {
            v.components
                .unwrap_or_default()
                .iter()
                .any(|c| c.name.to_ascii_lowercase().contains("podman"))
        });
        let security = info.security_options.clone().unwrap_or_default();
        let has = |name: &str| security.iter().any(|o| o.split(',').any(|f| f == name));
        let kind = match (podman, has("name=rootless"), has("name=userns")) {
            (true, rootless, _) => Kind::Podman { rootless },
            (false, true, _) => Kind::Rootless,
            (false, false, true) => Kind::Userns,
            _ => Kind::Docker,
        };
        let identity = if podman {
            let key = format!(
                "{}|{}|{}",
                endpoint.host,
                info.name.clone().unwrap_or_default(),
                info.docker_root_dir.clone().unwrap_or_default()
            );
            format!("podman-{:016x}", crate::text::fnv1a(&key))
        } else {
            info.id.clone().unwrap_or_default()
        };
        let driver = info.driver.filter(|d| !d.is_empty());
        if let (Some(p), Some(stamp)) = (&at, stamp) {
            Known {
                kind,
                stamp,
                api: docker.client_version(),
                identity: identity.clone(),
                driver: driver.clone(),
            }
            .write(p);
        }
        ui.verbose(
            "Engine",
            format!(
                "{} at {} (identity {identity})",
                kind.describe(),
                endpoint.host
            ),
        );
        Ok(Engine {
            docker,
            endpoint,
            context,
            identity,
            kind,
            driver,
            ui,
            _dialer: dialer,
        })
    }

    /// The client for calls that may take minutes before the engine answers: creating a
    /// container from a 2 GB dev image copies it on a vfs engine (rootless Docker, Podman).
    pub fn patient(&self) -> Docker {
        self.docker
            .clone()
            .with_timeout(std::time::Duration::from_secs(1800))
    }

    /// A memo file about this engine (see `memo.rs`).
    pub fn memo(&self, kind: &str) -> Option<camino::Utf8PathBuf> {
        memo::path(kind, &self.identity)
    }

    /// The docker (or podman) CLI pointed at this engine, as the tool itself reaches it.
    pub fn cli(&self, program: &str) -> std::process::Command {
        let mut cmd = std::process::Command::new(program);
        if let Some(c) = &self.context {
            cmd.env("DOCKER_CONTEXT", c).env_remove("DOCKER_HOST");
        }
        cmd
    }

    /// `host (where it came from)`, for messages.
    pub fn describe_endpoint(&self) -> String {
        format!("{} ({})", self.endpoint.host, self.endpoint.from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_memo_holds_only_while_its_socket_and_config_do() {
        let tmp = std::env::temp_dir().join(format!("moby-xtask-memo-{}", std::process::id()));
        let dir = camino::Utf8PathBuf::from_path_buf(tmp).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("docker.sock");
        let config = vec![dir.join("daemon.json").to_string()];
        let memo = dir.join("memo");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let stamp = stamp_of(sock.as_str(), &config).unwrap();
        let api = bollard::ClientVersion {
            major_version: 1,
            minor_version: 41,
        };
        for kind in Known::KINDS.map(|(k, _)| k) {
            Known {
                kind,
                stamp: stamp.clone(),
                api,
                identity: "ID:1".into(),
                driver: Some("overlay2".into()),
            }
            .write(&memo);
            let k = Known::read(&memo, &stamp).expect("the memo of this socket");
            assert_eq!(k.kind, kind);
            assert_eq!(k.api, api);
            assert_eq!(
                (k.identity.as_str(), k.driver.as_deref()),
                ("ID:1", Some("overlay2"))
            );
        }
        // The daemon reconfigured: its daemon.json written.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&config[0], "{\"userns-remap\": \"default\"}").unwrap();
        let reconfigured = stamp_of(sock.as_str(), &config).unwrap();
        assert_ne!(reconfigured, stamp);
        assert!(Known::read(&memo, &reconfigured).is_none());
        // Another service starts on the same path: a new socket.
        drop(listener);
        std::fs::remove_file(&sock).unwrap();
        let _again = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let now = stamp_of(sock.as_str(), &config).unwrap();
        assert_ne!(now, reconfigured);
        assert!(super::stamp("tcp://127.0.0.1:2375").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
