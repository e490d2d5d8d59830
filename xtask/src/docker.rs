//! Connecting to the Docker daemon, with advice when there is none, and checking the dev image.

use anyhow::{anyhow, bail, Result};
use bollard::Docker;

/// The endpoint bollard will try: `$DOCKER_HOST`, else the default socket.
pub fn endpoint() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string())
}

pub async fn connect() -> Result<Docker> {
    let ep = endpoint();
    let advice =
        "start the daemon (e.g. `sudo systemctl start docker`) or set DOCKER_HOST to one that runs";
    let docker = Docker::connect_with_defaults()
        .map_err(|e| anyhow!("cannot reach the Docker daemon at {ep}: {e}; {advice}"))?;
    if let Err(e) = docker.ping().await {
        bail!("cannot reach the Docker daemon at {ep}: {e}; {advice}");
    }
    docker
        .negotiate_version()
        .await
        .map_err(|e| anyhow!("the Docker daemon at {ep} did not answer its version: {e}"))
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

/// True when the daemon refused a privileged container because it cannot grant the capabilities.
pub fn is_caps_refusal(e: &bollard::errors::Error) -> bool {
    e.to_string().contains("unable to apply caps")
}
