//! The last build's binaries onto the dev container's PATH, the way the fork does it: where its
//! `install-binary` only copies a list of the daemon bundle's files (`hack_compat::InstallFiles`,
//! 20.10 to today), those files, copied as it copies them but only those that changed; else
//! `KEEPBUNDLE=1 hack/make.sh install-binary` itself; a plain copy of the daemon bundle where the
//! fork has no such bundle. Skipped when that very build is installed already.

use anyhow::{bail, Result};

use super::{build, build_record};
use crate::dev::exec::Output;
use crate::dev::{Dev, Work};

/// `body` on the work lock and the dev container, with a build in the fork: `build` runs
/// `binary` first (its failure, [`build::Failed`], ends the task), else a build must be there
/// already. Ended on every way out, as [`Dev::work`] ends it.
pub async fn with_build<'a, T>(
    cx: &'a crate::context::Context,
    dev: &'a Dev,
    build: bool,
    body: impl AsyncFnOnce(&Work<'a>) -> Result<T>,
) -> Result<T> {
    if !build {
        ensure_built(dev)?;
    }
    dev.work(cx, false, async |w| {
        if build {
            let bundles = ["binary".to_string()];
            build::succeeded(&bundles, &build::build(w, &bundles, Output::Stream).await?)?;
        }
        body(w).await
    })
    .await
}

/// The fork's daemon bundle dir holding `dockerd`, relative to the root.
pub fn daemon_dir(dev: &Dev) -> Option<String> {
    dev.fork
        .built_daemon_dir(&dev.version())
        .map(|d| d.to_string())
}

pub fn ensure_built(dev: &Dev) -> Result<()> {
    if daemon_dir(dev).is_none() {
        bail!("no dockerd built in {}/bundles yet: run `cargo xtask binary` first (or `cargo xtask install --build`)", dev.fork.root);
    }
    Ok(())
}

/// Install into the container's PATH; output as `out` says. Errors carry the captured output.
pub async fn install(w: &Work<'_>, out: Output) -> Result<()> {
    let dev = w.dev;
    let exec = w.exec();
    // The build this install puts in place, as the record names it; the same one twice in a row
    // (`run` after `run`, `smoke` after `install`) is not copied again.
    let key = build_record::read(&dev.fork).map(|(r, at)| {
        let nanos = at
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{} {} {} {nanos}", r.commit, r.version, r.image)
    });
    if let (Some(files), Some(dir)) = (&dev.fork.install_files, daemon_dir(dev)) {
        // What the fork's install-binary copies, copied as it copies, but only what changed:
        // its `go env GOOS` per file and the copies of unchanged binaries cost half a second.
        // One exec: the check of what is installed, the copies and the mark.
        let mut args = vec![key.unwrap_or_default(), dir, dest(dev)];
        args.extend(files.required.iter().cloned());
        args.push("--".into());
        args.extend(files.optional.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ran = exec.script("install_changed", &args, out).await?;
        succeeded(&ran, "install failed")?;
        return crate::fail::point("after-install").await;
    }
    if let Some(k) = &key {
        if exec
            .script("installed_is", &[k], Output::Discard)
            .await?
            .code
            == 0
        {
            w.cx.ui
                .verbose("Skipped", "install: this build is installed already");
            return Ok(());
        }
    }
    let ran = if dev.fork.accepts_bundle("install-binary") {
        let cmd = ["env", "KEEPBUNDLE=1", "hack/make.sh", "install-binary"].map(String::from);
        w.run(&cmd, out).await?
    } else {
        let Some(dir) = daemon_dir(dev) else {
            bail!("no dockerd built: run `cargo xtask binary`")
        };
        exec.script("install_copy", &[&dir, &dest(dev)], out)
            .await?
    };
    succeeded(&ran, "install failed")?;
    if let Some(k) = &key {
        crate::fail::point("after-install").await?;
        exec.script("mark_installed", &[k], Output::Discard).await?;
    }
    Ok(())
}

/// Where the daemon bundle's executables are installed in the container (the fork's
/// `install-binary` destination, its prefix variable as this machine sets it).
fn dest(dev: &Dev) -> String {
    let inst = &dev.fork.install_dir;
    inst.path(crate::dev::host_env::process_env(&inst.prefix_var).as_deref())
}

/// Before a new build is installed over a serving one (`run --watch`): the installed
/// executables the new build replaces, kept aside in the container for [`restore_kept`].
pub async fn keep_installed(w: &Work<'_>) -> Result<()> {
    let Some(dir) = daemon_dir(w.dev) else {
        return Ok(());
    };
    if w.dev.fork.install_files.is_some() {
        return Ok(()); // `install_changed` moves aside what it replaces
    }
    let ran = w
        .exec()
        .script("keep_installed", &[&dir, &dest(w.dev)], Output::Capture)
        .await?;
    succeeded(&ran, "cannot keep the installed binaries aside")
}

/// The executables [`keep_installed`] kept, installed again; the next install copies whatever
/// build it is given (the record of what is installed is dropped).
pub async fn restore_kept(w: &Work<'_>) -> Result<()> {
    let ran = w
        .exec()
        .script("restore_installed", &[&dest(w.dev)], Output::Capture)
        .await?;
    succeeded(&ran, "cannot put the previous binaries back")
}

/// `Ok` for a script that exited 0, else `what` with its exit code and its last lines.
fn succeeded(ran: &crate::dev::exec::Ran, what: &str) -> Result<()> {
    if ran.code != 0 {
        bail!(
            "{what} (exit {}){}",
            ran.code,
            crate::text::tail(&String::from_utf8_lossy(&ran.output), 15)
        );
    }
    Ok(())
}
