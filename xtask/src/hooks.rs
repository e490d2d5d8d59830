//! `cargo xtask hooks install|uninstall`: a git pre-commit hook that runs `cargo xtask smoke`.
//! Install refuses to replace a hook it did not write (unless `--force`, which keeps a backup);
//! uninstall removes only its own.

use anyhow::{bail, Context, Result};
use camino::Utf8PathBuf;
use clap::Subcommand;
use git2::Repository;

use crate::{fork, project_root, Global};

const MARKER: &str = "# moby-xtask pre-commit hook";

#[derive(Subcommand, Debug)]
pub enum HooksCmd {
    /// Write .git/hooks/pre-commit to run `cargo xtask smoke`
    Install {
        /// Replace a pre-commit hook that this tool did not write (a backup is kept)
        #[arg(long)]
        force: bool,
    },
    /// Remove the pre-commit hook, if this tool wrote it
    Uninstall,
}

pub fn run(global: &Global, cmd: &HooksCmd) -> Result<u8> {
    let fork = fork::open(global)?;
    let hook = hook_path(&fork.root)?;
    let current = std::fs::read_to_string(&hook).ok();
    let ours = current.as_deref().is_some_and(|h| h.contains(MARKER));
    match cmd {
        HooksCmd::Install { force } => {
            if current.is_some() && !ours {
                if !force {
                    bail!("{hook} exists and was not written by moby-xtask: pass --force to replace it (a backup is kept)");
                }
                let backup = hook.with_extension("moby-xtask-backup");
                fs_err::rename(&hook, &backup)?;
                println!("xtask: kept the previous hook as {backup}");
            }
            if let Some(dir) = hook.parent() {
                fs_err::create_dir_all(dir)?;
            }
            fs_err::write(&hook, script(&fork.root))?;
            set_executable(&hook)?;
            println!("xtask: installed {hook}: every commit runs `cargo xtask smoke` (skip once with `git commit --no-verify`)");
        }
        HooksCmd::Uninstall => match (current, ours) {
            (None, _) => println!(
                "xtask: no pre-commit hook in {}",
                hook.parent().map(|p| p.as_str()).unwrap_or("")
            ),
            (Some(_), false) => bail!("{hook} was not written by moby-xtask: left alone"),
            (Some(_), true) => {
                fs_err::remove_file(&hook)?;
                println!("xtask: removed {hook}");
            }
        },
    }
    Ok(0)
}

fn script(fork_root: &camino::Utf8Path) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    format!(
        "#!/bin/sh\n{MARKER}: written by `cargo xtask hooks install`, removed by `cargo xtask hooks uninstall`.\n\
         cd {} || exit 1\nexec cargo xtask --fork {} smoke\n",
        quote(project_root().as_str()),
        quote(fork_root.as_str())
    )
}

/// `core.hooksPath` if set (relative to the work tree), else the common git dir's `hooks/`.
fn hook_path(root: &camino::Utf8Path) -> Result<Utf8PathBuf> {
    let repo = Repository::open(root)
        .with_context(|| format!("{root} is not a git repository: hooks need one"))?;
    let configured = repo
        .config()
        .ok()
        .and_then(|c| c.get_string("core.hooksPath").ok());
    let dir = match configured {
        Some(p) if p.starts_with('/') => Utf8PathBuf::from(p),
        Some(p) => root.join(p),
        None => Utf8PathBuf::from_path_buf(repo.commondir().join("hooks"))
            .map_err(|p| anyhow::anyhow!("git dir {} is not UTF-8", p.display()))?,
    };
    Ok(dir.join("pre-commit"))
}

fn set_executable(path: &camino::Utf8Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}
