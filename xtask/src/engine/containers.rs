//! The Engine API calls every part makes on containers the tool labelled: list by labels, remove
//! (with anonymous volumes, as moby's dev image declares `VOLUME /var/lib/docker`), short ids.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{anyhow, Context as _, Result};
use bollard::models::ContainerSummary;
use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};

use super::Engine;

impl Engine {
    /// Remove a container and its anonymous volumes; one already gone is fine.
    pub async fn remove(&self, id: &str) -> Result<()> {
        let opts = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(id, Some(opts)).await {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(anyhow!("cannot remove container {}: {e}", short(id))),
        }
    }

    /// Every container (running or not) that carries all of `labels` (`key=value`).
    pub async fn labelled(&self, labels: Vec<String>) -> Result<Vec<ContainerSummary>> {
        let filters = HashMap::from([("label".to_string(), labels)]);
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let t = Instant::now();
        let r = self.docker.list_containers(Some(opts)).await;
        self.ui.api("list containers", t.elapsed());
        r.context("cannot list containers")
    }

    /// The image, or `None` when the engine does not have it.
    pub async fn try_inspect_image(
        &self,
        image: &str,
    ) -> Result<Option<bollard::models::ImageInspect>> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(Some(i)),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(anyhow!("cannot inspect image {image}: {e}")),
        }
    }

    pub async fn try_image_id(&self, image: &str) -> Result<Option<String>> {
        Ok(self.try_inspect_image(image).await?.and_then(|i| i.id))
    }

    /// The image id of `image`, which must exist.
    pub async fn image_id(&self, image: &str) -> Result<String> {
        self.try_image_id(image)
            .await?
            .ok_or_else(|| anyhow!("dev image `{image}` not found after it was built or pulled"))
    }
}

/// A container id as `docker ps` shows it.
pub fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}
