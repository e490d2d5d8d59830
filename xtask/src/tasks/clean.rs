//! `cargo xtask clean [--all]`: the fork's `bundles/` (whoever owns its files), its dev
//! containers and, on an engine elsewhere, its synced source volume; with `--all` also its Go
//! cache volumes and its dev image, each only when no other container uses it (caches are shared
//! with `make` and other forks). It lists what it removes, with sizes, before it does.

use anyhow::{Context as _, Result};
use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveImageOptionsBuilder};
use bollard::Docker;
use camino::Utf8Path;
use serde_json::json;

use crate::context::Context;
use crate::dev::exec::Output;
use crate::dev::names::Names;
use crate::dev::{container, lock};
use crate::engine::Engine;
use crate::flags;
use crate::fork::{self, ImageSource};

impl flags::Clean {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        let f = fork::open(&cx.opts)?;
        let engine = cx.engine().await?;
        let docker = &engine.docker;
        let names = Names::new(f.root.as_str());
        let key = lock::engine_key(&engine.identity);
        let _lock =
            lock::acquire(cx.ui, &cx.cancel, &names, lock::Kind::Work(&key), "clean").await?;
        let _bundles =
            lock::acquire(cx.ui, &cx.cancel, &names, lock::Kind::Bundles, "clean").await?;
        let found = container::of_fork(engine, &names).await?;
        container::refuse_removal_in_use(engine, &found, "clean", self.force).await?;
        let bundles = f.root.join("bundles");
        if bundles.exists() {
            let size = du(&bundles);
            removing(cx, "bundles", bundles.as_str(), size);
            remove_bundles(cx, &f.root, &bundles).await?;
        }
        for (id, name) in found {
            removing(cx, "container", &name, None);
            engine.remove(&id).await?;
        }
        // The fork's synced copy on an engine elsewhere (bundles included): made again in full by
        // the next command.
        remove_volume(cx, docker, &names.volume, "source volume").await?;
        if self.all {
            for cache in &f.go_caches {
                remove_volume(cx, docker, &cache.volume, "cache volume").await?;
            }
            if let ImageSource::Fork(tag) = fork::image(&cx.opts, &f)? {
                remove_image(cx, engine, &tag).await?;
            }
        }
        Ok(0)
    }
}

fn removing(cx: &Context, kind: &str, what: &str, size: Option<u64>) {
    let size_txt = size.map(|s| format!(" ({:.1} MiB)", s as f64 / f64::from(1 << 20)));
    cx.ui.result(format!(
        "removing {kind} {what}{}",
        size_txt.unwrap_or_default()
    ));
    cx.ui
        .event(json!({"step": "remove", "status": "ok", "kind": kind, "name": what, "size": size}));
}

/// `bundles/` as the user can, else as root through a one-shot container of the dev image (the
/// build wrote it as root).
async fn remove_bundles(cx: &Context, root: &Utf8Path, bundles: &Utf8Path) -> Result<()> {
    if std::fs::remove_dir_all(bundles).is_ok() {
        return Ok(());
    }
    // A one-shot container of the dev image, removed right after.
    let engine = cx.engine().await?;
    let dev = crate::dev::Dev::open(cx, false)?;
    let ctr = dev.up(cx, true).await?;
    let ran = dev
        .exec(engine, &ctr)
        .script("rm_tree", &["bundles"], Output::Capture)
        .await;
    engine.remove(&ctr.id).await?;
    let ran = ran?;
    anyhow::ensure!(
        ran.code == 0,
        "cannot remove {root}/bundles: {}",
        ran.text()
    );
    Ok(())
}

async fn remove_volume(cx: &Context, docker: &Docker, name: &str, kind: &str) -> Result<()> {
    if in_use(cx, docker, "volume", name, kind).await? {
        return Ok(());
    }
    let size = volume_size(docker, name).await;
    let opts: Option<bollard::query_parameters::RemoveVolumeOptions> = None;
    match docker.remove_volume(name, opts).await {
        Ok(()) => removing(cx, kind, name, size),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(e) => return Err(e).with_context(|| format!("cannot remove volume {name}")),
    }
    Ok(())
}

async fn remove_image(cx: &Context, engine: &Engine, tag: &str) -> Result<()> {
    let Some(image) = engine.try_inspect_image(tag).await? else {
        return Ok(());
    };
    let docker = &engine.docker;
    if in_use(cx, docker, "ancestor", tag, "dev image").await? {
        return Ok(());
    }
    let size = image.size.and_then(|s| u64::try_from(s).ok());
    // Untag this fork's tag only: the layers stay while other tags share them.
    let opts = RemoveImageOptionsBuilder::default().noprune(false).build();
    docker
        .remove_image(tag, Some(opts), None)
        .await
        .with_context(|| format!("cannot remove image {tag}"))?;
    removing(cx, "dev image", tag, size);
    Ok(())
}

/// Whether a container (any state) matching the `docker ps` filter uses it; says so when one does.
async fn in_use(
    cx: &Context,
    docker: &Docker,
    filter: &str,
    value: &str,
    what: &str,
) -> Result<bool> {
    let users = users_of(docker, filter, value).await?;
    if !users.is_empty() {
        cx.ui
            .note(format!("{what} {value} kept: used by {}", users.join(", ")));
    }
    Ok(!users.is_empty())
}

/// Names of the containers (any state) matching a `docker ps` filter.
async fn users_of(docker: &Docker, filter: &str, value: &str) -> Result<Vec<String>> {
    let filters = std::collections::HashMap::from([(filter.to_string(), vec![value.to_string()])]);
    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let found = docker
        .list_containers(Some(opts))
        .await
        .context("cannot list containers")?;
    Ok(found
        .into_iter()
        .filter_map(|c| {
            c.names?
                .first()
                .map(|n| n.trim_start_matches('/').to_string())
        })
        .collect())
}

/// The volume's size where its directory is visible from here (a local daemon, as root).
async fn volume_size(docker: &Docker, name: &str) -> Option<u64> {
    let v = docker.inspect_volume(name).await.ok()?;
    du(Utf8Path::new(&v.mountpoint))
}

/// Bytes under `dir` (files as they are, links not followed); `None` where unreadable.
fn du(dir: &Utf8Path) -> Option<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let meta = e.metadata().ok()?;
        total += if meta.is_dir() {
            let p = camino::Utf8PathBuf::from_path_buf(e.path()).ok()?;
            du(&p)?
        } else {
            meta.len()
        };
    }
    Some(total)
}
