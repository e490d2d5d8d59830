//! The container runs as root; the fork belongs to a user. After anything that ran the fork's
//! scripts (finished, failed or interrupted), `bundles/` and every root-owned file the build wrote
//! elsewhere in the fork (`dockerversion/version_autogen*.go`) go back to the fork's owner. On an
//! engine that does not share this machine's files, the changed `bundles/` come back instead.

use anyhow::{bail, Result};
use hack_compat::Fork;

use crate::exec::{Exec, Output};
use crate::fork;

pub async fn give_back(exec: &Exec<'_>, fork: &Fork) -> Result<()> {
    if let Some(target) = exec.sync {
        // The build wrote into the engine's volume: its bundles/ come back here, ours.
        let t = std::time::Instant::now();
        let pulled = crate::sync::pull_bundles(exec, target, fork).await;
        exec.ui.api("sync: bundles/ back", t.elapsed());
        return pulled;
    }
    let (uid, gid) = fork::owner(fork)?;
    if uid == 0 {
        return Ok(());
    }
    let (u, g) = (uid.to_string(), gid.to_string());
    let ran = exec.script("give_back", &[&u, &g], Output::Capture).await?;
    if ran.code != 0 {
        crate::container::ensure_running(exec.docker, exec.container).await?;
        bail!(
            "cannot hand the build's files back to uid {uid} ({}): fix that, then `sudo chown -R {uid}:{gid} {}/bundles`",
            ran.text(),
            fork.root
        );
    }
    Ok(())
}
