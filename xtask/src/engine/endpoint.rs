//! Where the Docker engine is, found as the docker CLI finds it: `--context` (as if
//! `DOCKER_CONTEXT` were set and `DOCKER_HOST` unset; the docker CLI children get the same), else
//! `DOCKER_HOST` with `DOCKER_TLS_VERIFY` / `DOCKER_TLS` and `DOCKER_CERT_PATH`, else the context
//! named by `DOCKER_CONTEXT` or `currentContext` in `$DOCKER_CONFIG/config.json` (its endpoint's
//! `Host`, `SkipTLSVerify`, and `contexts/tls/<digest>/docker/` files), else the default socket.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use sha2::{Digest, Sha256};

use crate::ui::Ui;

pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `unix://…`, `tcp://host:port`, `ssh://[user@]host[:port]`, …
    pub host: String,
    /// TLS material, when the endpoint uses TLS.
    pub tls: Option<Tls>,
    /// Where it came from, for messages (`DOCKER_HOST`, `context "remote"`, `the default`).
    pub from: String,
}

/// `ca.pem`, `cert.pem` and `key.pem` in `dir`, as the docker CLI expects them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub dir: PathBuf,
    /// Whether the engine's certificate is checked (`DOCKER_TLS_VERIFY`, not `SkipTLSVerify`).
    pub verify: bool,
}

impl Tls {
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The endpoint of this process's environment, or of the context `--context` names.
pub fn endpoint(ui: Ui, context: Option<&str>) -> Result<Endpoint> {
    picked(context, &mut |w| ui.warn(w))
}

fn picked(context: Option<&str>, warn: &mut dyn FnMut(String)) -> Result<Endpoint> {
    let var = |k: &str| match (k, context) {
        ("DOCKER_HOST", Some(_)) => None,
        ("DOCKER_CONTEXT", Some(c)) => Some(c.to_string()),
        _ => std::env::var(k).ok().filter(|v| !v.is_empty()),
    };
    let config_dir = var("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".docker")));
    resolve(&var, config_dir.as_deref(), warn)
}

/// Whether the engine the docker CLI would pick is reached over the network (`ssh://`, `tcp://`):
/// a guess made before connecting, with no warning said (the connection says them).
pub fn over_network(context: Option<&str>) -> bool {
    picked(context, &mut |_| {}).is_ok_and(|e| {
        ["ssh://", "tcp://", "https://", "http://"]
            .iter()
            .any(|s| e.host.starts_with(s))
    })
}

/// What the docker CLI would pick, given its variables and its config directory.
pub fn resolve(
    var: &dyn Fn(&str) -> Option<String>,
    config_dir: Option<&Path>,
    warn: &mut dyn FnMut(String),
) -> Result<Endpoint> {
    if let Some(host) = var("DOCKER_HOST") {
        let tls = if var("DOCKER_TLS_VERIFY").is_some() || var("DOCKER_TLS").is_some() {
            let dir = var("DOCKER_CERT_PATH")
                .map(PathBuf::from)
                .or_else(|| config_dir.map(Path::to_path_buf))
                .unwrap_or_default();
            Some(Tls {
                dir,
                verify: var("DOCKER_TLS_VERIFY").is_some(),
            })
        } else {
            None
        };
        return Ok(Endpoint {
            host,
            tls,
            from: "DOCKER_HOST".into(),
        });
    }
    let default = || Endpoint {
        host: DEFAULT_HOST.into(),
        tls: None,
        from: "the default socket".into(),
    };
    let Some(dir) = config_dir else {
        return Ok(default());
    };
    let context = var("DOCKER_CONTEXT").or_else(|| {
        let path = dir.join("config.json");
        let config = std::fs::read_to_string(&path).ok()?;
        match serde_json::from_str::<serde_json::Value>(&config) {
            Ok(json) => json.get("currentContext")?.as_str().map(str::to_string),
            Err(e) => {
                // As the docker CLI does: say so, and go on with the default endpoint.
                warn(format!(
                    "{} is not valid JSON ({e}): its currentContext is ignored",
                    path.display()
                ));
                None
            }
        }
    });
    let Some(name) = context.filter(|c| c != "default") else {
        return Ok(default());
    };
    let digest = crate::text::hex(&Sha256::digest(name.as_bytes()));
    let meta = dir.join("contexts/meta").join(&digest).join("meta.json");
    let text = std::fs::read_to_string(&meta).map_err(|_| {
        anyhow!("docker context `{name}` not found ({} is missing): see `docker context ls`, or set DOCKER_HOST", meta.display())
    })?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "cannot read docker context `{name}` ({}): {e}",
            meta.display()
        )
    })?;
    let docker = json.pointer("/Endpoints/docker");
    let host = docker
        .and_then(|d| d.get("Host"))
        .and_then(|h| h.as_str())
        .ok_or_else(|| {
            anyhow!(
                "docker context `{name}` has no docker endpoint ({})",
                meta.display()
            )
        })?;
    let skip = docker
        .and_then(|d| d.get("SkipTLSVerify"))
        .and_then(|s| s.as_bool())
        .unwrap_or(false);
    let tls_dir = dir.join("contexts/tls").join(&digest).join("docker");
    let tls = tls_dir.is_dir().then_some(Tls {
        dir: tls_dir,
        verify: !skip,
    });
    Ok(Endpoint {
        host: host.to_string(),
        tls,
        from: format!("docker context `{name}`"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with_context(tag: &str, current: Option<&str>) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("xtask-docker-config-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let context = |name: &str, host: &str, tls: bool| {
            let digest = crate::text::hex(&Sha256::digest(name.as_bytes()));
            let meta = dir.join("contexts/meta").join(&digest);
            std::fs::create_dir_all(&meta).unwrap();
            std::fs::write(
                meta.join("meta.json"),
                format!(
                    r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#
                ),
            )
            .unwrap();
            if tls {
                std::fs::create_dir_all(dir.join("contexts/tls").join(&digest).join("docker"))
                    .unwrap();
            }
        };
        context("rootless", "unix:///run/user/1000/docker.sock", false);
        context("remote", "tcp://10.0.0.2:2376", true);
        if let Some(c) = current {
            std::fs::write(
                dir.join("config.json"),
                format!(r#"{{"auths":{{}},"currentContext":"{c}"}}"#),
            )
            .unwrap();
        }
        dir
    }

    fn env<'a>(pairs: &'a [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn host(e: Result<Endpoint>) -> String {
        e.unwrap().host
    }

    #[test]
    fn endpoint_like_the_docker_cli() {
        let rootless = "unix:///run/user/1000/docker.sock";
        let dir = config_with_context("current", Some("rootless"));
        let d = Some(dir.as_path());
        assert_eq!(host(resolve(&env(&[]), d, &mut |_| {})), rootless);
        // DOCKER_HOST wins; DOCKER_CONTEXT beats currentContext; `default` is the default socket.
        let h = env(&[("DOCKER_HOST", "tcp://h:2375")]);
        let e = resolve(&h, d, &mut |_| {}).unwrap();
        assert_eq!((e.host.as_str(), e.tls), ("tcp://h:2375", None));
        let c = env(&[("DOCKER_CONTEXT", "default")]);
        assert_eq!(host(resolve(&c, d, &mut |_| {})), DEFAULT_HOST);
        let c = env(&[("DOCKER_CONTEXT", "nosuch")]);
        let err = resolve(&c, d, &mut |_| {}).unwrap_err().to_string();
        assert!(
            err.contains("docker context `nosuch` not found") && err.contains("docker context ls"),
            "{err}"
        );
        // A context's TLS files, checked unless SkipTLSVerify.
        let c = env(&[("DOCKER_CONTEXT", "remote")]);
        let e = resolve(&c, d, &mut |_| {}).unwrap();
        assert_eq!(e.host, "tcp://10.0.0.2:2376");
        let tls = e.tls.expect("tls");
        assert!(tls.verify && tls.dir.ends_with("docker"), "{tls:?}");
        assert_eq!(e.from, "docker context `remote`");
        // DOCKER_TLS_VERIFY with DOCKER_CERT_PATH, else the config dir.
        let t = env(&[
            ("DOCKER_HOST", "tcp://h:2376"),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", "/certs"),
        ]);
        let tls = resolve(&t, d, &mut |_| {}).unwrap().tls.unwrap();
        assert_eq!((tls.dir, tls.verify), (PathBuf::from("/certs"), true));
        let t = env(&[("DOCKER_HOST", "tcp://h:2376"), ("DOCKER_TLS", "1")]);
        let tls = resolve(&t, d, &mut |_| {}).unwrap().tls.unwrap();
        assert_eq!((tls.dir, tls.verify), (dir.clone(), false));
        let _ = std::fs::remove_dir_all(&dir);

        let dir = config_with_context("none", None);
        let d = Some(dir.as_path());
        assert_eq!(host(resolve(&env(&[]), d, &mut |_| {})), DEFAULT_HOST);
        let c = env(&[("DOCKER_CONTEXT", "rootless")]);
        assert_eq!(host(resolve(&c, d, &mut |_| {})), rootless);
        // A corrupt config.json: a warning, and the default endpoint.
        std::fs::write(dir.join("config.json"), "{not json").unwrap();
        let mut warned = Vec::new();
        let ep = resolve(&env(&[]), d, &mut |w| warned.push(w)).unwrap();
        assert_eq!(ep.host, DEFAULT_HOST);
        assert!(
            warned.iter().any(|w| w.contains("not valid JSON")),
            "{warned:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(host(resolve(&env(&[]), None, &mut |_| {})), DEFAULT_HOST);
    }
}
