//! Connecting to the Docker daemon where the docker CLI would, with advice when there is none;
//! looking up images.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use bollard::Docker;
use sha2::{Digest, Sha256};

use crate::ui::Ui;

/// The endpoint the docker CLI would use: `$DOCKER_HOST`, else the context named by
/// `$DOCKER_CONTEXT` or `currentContext` in `$DOCKER_CONFIG/config.json`, else the default socket.
/// (bollard reads only `DOCKER_HOST`.)
pub fn endpoint(ui: Ui) -> Result<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let config_dir = var("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".docker")));
    resolve_endpoint(
        var("DOCKER_HOST"),
        var("DOCKER_CONTEXT"),
        config_dir.as_deref(),
        &mut |w| ui.warn(w),
    )
}

const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

fn resolve_endpoint(
    host: Option<String>,
    context: Option<String>,
    config_dir: Option<&Path>,
    warn: &mut dyn FnMut(String),
) -> Result<String> {
    if let Some(h) = host {
        return Ok(h);
    }
    let Some(dir) = config_dir else {
        return Ok(DEFAULT_HOST.to_string());
    };
    let context = context.or_else(|| {
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
        return Ok(DEFAULT_HOST.to_string());
    };
    let digest = crate::text::hex(&Sha256::digest(name.as_bytes()));
    let meta = dir.join("contexts/meta").join(digest).join("meta.json");
    let text = std::fs::read_to_string(&meta).map_err(|_| {
        anyhow!("docker context `{name}` not found ({} is missing): see `docker context ls`, or set DOCKER_HOST", meta.display())
    })?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "cannot read docker context `{name}` ({}): {e}",
            meta.display()
        )
    })?;
    json.pointer("/Endpoints/docker/Host")
        .and_then(|h| h.as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            anyhow!(
                "docker context `{name}` has no docker endpoint ({})",
                meta.display()
            )
        })
}

pub async fn connect(ui: Ui) -> Result<Docker> {
    let ep = endpoint(ui)?;
    let t = std::time::Instant::now();
    let scheme = ep.split_once("://").map(|(s, _)| s).unwrap_or("");
    match scheme {
        "unix" | "tcp" | "http" => {}
        "ssh" | "https" => bail!(
            "the Docker endpoint {ep} is not supported yet ({scheme}://): forward the daemon's socket \
             (`ssh -nNT -L /tmp/docker.sock:/var/run/docker.sock <host>`) and set DOCKER_HOST=unix:///tmp/docker.sock"
        ),
        _ => bail!(
            "the Docker endpoint {ep} has a scheme this tool does not know: use unix:///path/to/docker.sock or tcp://host:port"
        ),
    }
    let advice =
        "start the daemon (e.g. `sudo systemctl start docker`) or set DOCKER_HOST to one that runs";
    let docker = Docker::connect_with_host(&ep)
        .map_err(|e| anyhow!("cannot reach the Docker daemon at {ep}: {e}; {advice}"))?;
    if let Err(e) = docker.ping().await {
        bail!("cannot reach the Docker daemon at {ep}: {e}; {advice}");
    }
    let docker = docker
        .negotiate_version()
        .await
        .map_err(|e| anyhow!("the Docker daemon at {ep} did not answer its version: {e}"))?;
    ui.api(&format!("connect {ep} (ping, version)"), t.elapsed());
    Ok(docker)
}

/// The image, or `None` when the daemon does not have it.
pub async fn try_inspect_image(
    docker: &Docker,
    image: &str,
) -> Result<Option<bollard::models::ImageInspect>> {
    match docker.inspect_image(image).await {
        Ok(i) => Ok(Some(i)),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(anyhow!("cannot inspect image {image}: {e}")),
    }
}

pub async fn try_image_id(docker: &Docker, image: &str) -> Result<Option<String>> {
    Ok(try_inspect_image(docker, image).await?.and_then(|i| i.id))
}

/// The image id of `image`, which must exist.
pub async fn image_id(docker: &Docker, image: &str) -> Result<String> {
    try_image_id(docker, image)
        .await?
        .ok_or_else(|| anyhow!("dev image `{image}` not found after it was built or pulled"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with_context(tag: &str, current: Option<&str>) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("xtask-docker-config-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let digest = crate::text::hex(&Sha256::digest(b"rootless"));
        let meta = dir.join("contexts/meta").join(digest);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"rootless","Metadata":{},"Endpoints":{"docker":{"Host":"unix:///run/user/1000/docker.sock","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        if let Some(c) = current {
            std::fs::write(
                dir.join("config.json"),
                format!(r#"{{"auths":{{}},"currentContext":"{c}"}}"#),
            )
            .unwrap();
        }
        dir
    }

    #[test]
    fn endpoint_like_the_docker_cli() {
        let rootless = "unix:///run/user/1000/docker.sock";
        let dir = config_with_context("current", Some("rootless"));
        assert_eq!(
            resolve_endpoint(None, None, Some(&dir), &mut |_| {}).unwrap(),
            rootless
        );
        // DOCKER_HOST wins; DOCKER_CONTEXT beats currentContext; `default` is the default socket.
        assert_eq!(
            resolve_endpoint(Some("tcp://h:2375".into()), None, Some(&dir), &mut |_| {}).unwrap(),
            "tcp://h:2375"
        );
        assert_eq!(
            resolve_endpoint(None, Some("default".into()), Some(&dir), &mut |_| {}).unwrap(),
            DEFAULT_HOST
        );
        let err = resolve_endpoint(None, Some("nosuch".into()), Some(&dir), &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("docker context `nosuch` not found") && err.contains("docker context ls"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);

        let dir = config_with_context("none", None);
        assert_eq!(
            resolve_endpoint(None, None, Some(&dir), &mut |_| {}).unwrap(),
            DEFAULT_HOST
        );
        assert_eq!(
            resolve_endpoint(None, Some("rootless".into()), Some(&dir), &mut |_| {}).unwrap(),
            rootless
        );
        // A corrupt config.json: a warning, and the default endpoint.
        std::fs::write(dir.join("config.json"), "{not json").unwrap();
        let mut warned = Vec::new();
        let ep = resolve_endpoint(None, None, Some(&dir), &mut |w| warned.push(w)).unwrap();
        assert_eq!(ep, DEFAULT_HOST);
        assert!(
            warned.iter().any(|w| w.contains("not valid JSON")),
            "{warned:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            resolve_endpoint(None, None, None, &mut |_| {}).unwrap(),
            DEFAULT_HOST
        );
    }
}
