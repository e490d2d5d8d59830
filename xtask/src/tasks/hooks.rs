//! `cargo xtask hooks install|uninstall`: a git pre-commit hook that runs `cargo xtask smoke` on
//! the work tree being committed to (found at commit time, so one hook in a repository's shared
//! hooks directory serves every worktree). Install refuses to replace a hook it did not write, and
//! never follows a symlink there (unless `--force`, which moves the old one aside); uninstall
//! removes only its own.

use anyhow::{bail, Context as _, Result};
use camino::{Utf8Path, Utf8PathBuf};
use git2::Repository;

use crate::context::{project_root, Context};
use crate::flags;
use crate::fork;

const MARKER: &str = "# moby-xtask pre-commit hook";

/// What is at the hook's path now.
enum Current {
    Nothing,
    Ours,
    /// Another program's hook, or a symlink (followed by nobody: it could point anywhere).
    Foreign(&'static str),
}

fn current(hook: &Utf8Path) -> Result<Current> {
    let meta = match std::fs::symlink_metadata(hook) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Current::Nothing),
        Err(e) => return Err(e).with_context(|| format!("cannot look at {hook}")),
    };
    if meta.file_type().is_symlink() {
        return Ok(Current::Foreign("is a symlink"));
    }
    if !meta.is_file() {
        return Ok(Current::Foreign("is not a regular file"));
    }
    let text = std::fs::read(hook).with_context(|| format!("cannot read {hook}"))?;
    Ok(if String::from_utf8_lossy(&text).contains(MARKER) {
        Current::Ours
    } else {
        Current::Foreign("was not written by moby-xtask")
    })
}

impl flags::Hooks {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        let fork = fork::open(&cx.opts)?;
        let (hook, shared) = hook_path(&fork.root)?;
        match (self, current(&hook)?) {
            (flags::Hooks::Install { force, .. }, now) => {
                if shared && !force {
                    bail!("core.hooksPath ({}) is set in your global or system git config: a hook there runs for every repository of yours; set one for this fork (`git config core.hooksPath .git/hooks`), or pass --force", hook.parent().map(|p| p.as_str()).unwrap_or(""));
                }
                if let Current::Foreign(why) = now {
                    if !force {
                        bail!("{hook} {why}: pass --force to replace it (the old one is kept as a backup)");
                    }
                    let backup = hook.with_extension("moby-xtask-backup");
                    fs_err::rename(&hook, &backup)?;
                    cx.ui
                        .status("Kept", format!("the previous hook as {backup}"));
                }
                if let Some(dir) = hook.parent() {
                    fs_err::create_dir_all(dir)?;
                }
                fs_err::write(&hook, script())?;
                set_executable(&hook)?;
                cx.ui.result(format!("installed {hook}: every commit runs `cargo xtask smoke` on the work tree committed to (skip once with `git commit --no-verify`)"));
            }
            (flags::Hooks::Uninstall { .. }, Current::Nothing) => cx.ui.result(format!(
                "no pre-commit hook in {}",
                hook.parent().map(|p| p.as_str()).unwrap_or("")
            )),
            (flags::Hooks::Uninstall { .. }, Current::Foreign(why)) => {
                bail!("{hook} {why}: left alone")
            }
            (flags::Hooks::Uninstall { .. }, Current::Ours) => {
                fs_err::remove_file(&hook)?;
                cx.ui.result(format!("removed {hook}"));
            }
        }
        Ok(0)
    }
}

/// The hook: the fork is the work tree git runs it in; the tool is this workspace.
fn script() -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    format!(
        "#!/bin/sh\n{MARKER}: written by `cargo xtask hooks install`, removed by `cargo xtask hooks uninstall`.\n\
         fork=$(git rev-parse --show-toplevel) || exit 1\n\
         cd {} || exit 1\n\
         exec cargo xtask --fork \"$fork\" smoke\n",
        quote(project_root().as_str()),
    )
}

/// `core.hooksPath` if set (`~/` expanded as git does, relative to the work tree), else the
/// common git dir's `hooks/`; and whether that directory is set outside this repository's own
/// config (a global or system `core.hooksPath`: a hook there runs for every repository).
fn hook_path(root: &Utf8Path) -> Result<(Utf8PathBuf, bool)> {
    let repo = Repository::open(root)
        .with_context(|| format!("{root} is not a git repository: hooks need one"))?;
    let config = repo.config().ok();
    let path = |c: &git2::Config| {
        c.get_path("core.hooksPath")
            .ok()
            .and_then(|p| p.to_str().map(str::to_string))
    };
    let configured = config.as_ref().and_then(path);
    let local = config
        .as_ref()
        .and_then(|c| c.open_level(git2::ConfigLevel::Local).ok())
        .as_ref()
        .and_then(path);
    let shared = configured.is_some() && local.is_none();
    let dir = match configured {
        Some(p) if p.starts_with('/') => Utf8PathBuf::from(p),
        Some(p) => root.join(p),
        None => Utf8PathBuf::from_path_buf(repo.commondir().join("hooks"))
            .map_err(|p| anyhow::anyhow!("git dir {} is not UTF-8", p.display()))?,
    };
    Ok((dir.join("pre-commit"), shared))
}

fn set_executable(path: &Utf8Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}
