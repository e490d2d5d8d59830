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

/// What was learnt of a Podman endpoint: `podman <rootless> <socket> <identity> <driver>`.
/// Kept only for a socket on this machine, and good only while that socket is the one it was
/// learnt from (`socket`: its inode and change time): a service that restarts there, Docker
/// in Podman's place among them, makes a new socket, and the next command asks again.
struct Known {
    kind: Kind,
    socket: String,
    identity: String,
    driver: Option<String>,
}

impl Known {
    fn read(path: &camino::Utf8Path, socket: &str) -> Option<Known> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut f = text.split_whitespace();
        (f.next()? == "podman").then_some(())?;
        let rootless = f.next()? == "rootless";
        (f.next()? == socket).then_some(())?;
        Some(Known {
            kind: Kind::Podman { rootless },
            socket: socket.to_string(),
            identity: f.next()?.to_string(),
            driver: f.next().map(str::to_string),
        })
    }

    /// Best effort: a memo not written costs the next command two slow calls.
    fn write(&self, path: &camino::Utf8Path) {
        let rootless = match self.kind {
            Kind::Podman { rootless: true } => "rootless",
            _ => "rootful",
        };
        let driver = self.driver.as_deref().unwrap_or_default();
        memo::write(
            path,
            &format!(
                "podman {rootless} {} {} {driver}\n",
                self.socket, self.identity
            ),
        );
    }
}

/// The socket file of a `unix://` endpoint as `<inode>-<change time in ns>`; `None` for any
/// other endpoint (nothing here can tell that the service behind it is still the same).
fn socket_stamp(host: &str) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(host.strip_prefix("unix://")?).ok()?;
    Some(format!("{}-{}{:09}", m.ino(), m.ctime(), m.ctime_nsec()))
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
    /// `/version`. A Podman service answers those two in about a second together (measured: 0.56
    /// and 0.33 s), and its identity is made, not read: what was learnt of a Podman endpoint is
    /// remembered (`podman-at` memo), so later commands ask it nothing but `/_ping`.
    pub async fn connect(ui: Ui, context: Option<&str>) -> Result<Engine> {
        let endpoint = endpoint::endpoint(ui, context)?;
        let at = memo::path(
            "podman-at",
            &format!("{:016x}", crate::text::fnv1a(&endpoint.host)),
        );
        let socket = socket_stamp(&endpoint.host);
        let known = match (&at, &socket) {
            (Some(p), Some(s)) => Known::read(p, s),
            _ => None,
        };
        let (docker, dialer) = connect::connect(ui, &endpoint, known.is_none()).await?;
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
        if let (true, Some(p), Some(socket)) = (podman, &at, socket) {
            Known {
                kind,
                socket,
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
    fn a_podman_memo_holds_only_while_its_socket_does() {
        let tmp = std::env::temp_dir().join(format!("moby-xtask-memo-{}", std::process::id()));
        let dir = camino::Utf8PathBuf::from_path_buf(tmp).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("podman.sock");
        let host = format!("unix://{sock}");
        let memo = dir.join("memo");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let stamp = socket_stamp(&host).unwrap();
        Known {
            kind: Kind::Podman { rootless: true },
            socket: stamp.clone(),
            identity: "podman-1".into(),
            driver: Some("overlay".into()),
        }
        .write(&memo);
        let k = Known::read(&memo, &stamp).expect("the memo of this socket");
        assert_eq!(k.kind, Kind::Podman { rootless: true });
        assert_eq!(
            (k.identity.as_str(), k.driver.as_deref()),
            ("podman-1", Some("overlay"))
        );
        // Another service starts on the same path: a new socket, the memo no longer holds.
        drop(listener);
        std::fs::remove_file(&sock).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let _again = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let now = socket_stamp(&host).unwrap();
        assert_ne!(now, stamp);
        assert!(Known::read(&memo, &now).is_none());
        assert!(socket_stamp("tcp://127.0.0.1:2375").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
