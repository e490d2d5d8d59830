//! The "frozen" images the integration suites load instead of pulling (the fork's
//! `frozenImages`, in the dev image's `/docker-frozen-images`): looked for before anything is
//! built; when some are missing and no registry answers, an error that names them and where
//! the fork looks, instead of a pull error deep in the suite.

use anyhow::{bail, Result};
use hack_compat::IntegrationTests;

use crate::dev::{Output, Work};

/// The frozen images the Dockerfile downloads must be in the directory the suites load them
/// from, or the suites pull them. Missing ones with no registry in reach: an error naming them.
pub async fn check(w: &Work<'_>, it: &IntegrationTests) -> Result<()> {
    let cx = w.cx;
    let Some(dir) = &it.frozen.dir else {
        return Ok(());
    };
    let listed = w
        .exec()
        .script("frozen_list", &[dir], Output::Capture)
        .await?
        .text();
    let present = saved_tags(&listed);
    let missing: Vec<&String> = it
        .frozen
        .images
        .iter()
        .filter(|i| !present.contains(i))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names = missing
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    if registry_answers(w).await? {
        cx.ui.warn(format!(
            "{dir} in the dev image lacks {names}: the suites will pull them"
        ));
        return Ok(());
    }
    bail!(
        "the integration suites need the images {names} in {dir} of the dev image (the fork's \
         Dockerfile downloads them with contrib/download-frozen-image-v2.sh), and no registry \
         answers to pull them; put them there with `docker save {names} | tar -x -C <dir>` in \
         an image of your own (then --image), or build the dev image where Docker Hub is reachable"
    )
}

/// The `RepoTags` of a `docker save` index.
fn saved_tags(manifest: &str) -> Vec<String> {
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str(manifest) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|i| i.get("RepoTags")?.as_array().cloned())
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect()
}

/// Whether Docker Hub's registry answers where the suites would pull: from the dev container
/// on the engine (behind its proxy, on its machine), not from here.
async fn registry_answers(w: &Work<'_>) -> Result<bool> {
    let said = w
        .exec()
        .script("registry_answers", &[], Output::Capture)
        .await?
        .text();
    Ok(said.trim() == "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_of_a_saved_index() {
        let m = r#"[{"Config":"a.json","RepoTags":["busybox:latest","busybox:glibc"],"Layers":[]},{"RepoTags":["hello-world:latest"]}]"#;
        assert_eq!(
            saved_tags(m),
            ["busybox:latest", "busybox:glibc", "hello-world:latest"]
        );
        assert!(saved_tags("").is_empty());
        assert!(saved_tags("cat: no such file").is_empty());
    }
}
