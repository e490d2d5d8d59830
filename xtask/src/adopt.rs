//! `cargo xtask adopt`: make the fork ignore this workspace's build output: `/target/` in the
//! fork's `.gitignore` (no untracked noise) and `.dockerignore` (not sent as image build context).

use anyhow::Result;

use crate::{fork, Global};

pub fn run(global: &Global) -> Result<u8> {
    let fork = fork::open(global)?;
    for name in [".gitignore", ".dockerignore"] {
        let path = fork.root.join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if lists_target(&text) {
            println!("xtask: {name} already ignores /target/");
            continue;
        }
        let sep = if text.is_empty() || text.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        fs_err::write(&path, format!("{text}{sep}/target/\n"))?;
        println!("xtask: added /target/ to {name}");
    }
    Ok(0)
}

/// Whether an ignore file already excludes the root `target/` directory.
pub fn lists_target(ignore: &str) -> bool {
    ignore.lines().map(str::trim).any(|l| {
        matches!(
            l,
            "/target/" | "/target" | "target/" | "target" | "target/**"
        )
    })
}
