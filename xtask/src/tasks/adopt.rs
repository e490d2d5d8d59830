//! `cargo xtask adopt`: keep this workspace's build output (`/target/`) out of the fork's
//! `git status` through the repository's own `info/exclude`, which is not tracked: no change to
//! `.gitignore` or `.dockerignore` (a tracked change stamps every build `-unsupported` and would
//! ride along into an upstream pull request). The common git dir's file serves every worktree.

use anyhow::{Context as _, Result};
use camino::Utf8PathBuf;
use git2::Repository;

use crate::context::Context;
use crate::flags;
use crate::fork;

const ENTRY: &str = "/target/";

impl flags::Adopt {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        let fork = fork::open(&cx.opts)?;
        let repo = Repository::open(&fork.root).with_context(|| {
            format!(
                "{} is not a git repository: nothing to keep target/ out of",
                fork.root
            )
        })?;
        let exclude = Utf8PathBuf::from_path_buf(repo.commondir().join("info/exclude"))
            .map_err(|p| anyhow::anyhow!("git dir {} is not UTF-8", p.display()))?;
        // Bytes, not text: a file that is not UTF-8 is kept whole, never replaced.
        let bytes = match std::fs::read(&exclude) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {exclude}")),
        };
        let text = String::from_utf8_lossy(&bytes);
        if crate::text::lists_target(&text) {
            cx.ui.result(format!("{exclude} already excludes {ENTRY}"));
            return Ok(0);
        }
        if let Some(dir) = exclude.parent() {
            fs_err::create_dir_all(dir)?;
        }
        let sep = if bytes.is_empty() || bytes.ends_with(b"\n") {
            ""
        } else {
            "\n"
        };
        let line = "# cargo's output of the moby-xtask workspace (cargo xtask adopt)";
        let mut out = bytes.clone();
        out.extend_from_slice(format!("{sep}{line}\n{ENTRY}\n").as_bytes());
        fs_err::write(&exclude, out)?;
        cx.ui.result(format!(
            "added {ENTRY} to {exclude} (untracked: no change to the fork's files)"
        ));
        Ok(0)
    }
}
