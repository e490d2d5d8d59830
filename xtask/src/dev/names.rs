//! The fork's names on the engine and on this machine, worked out once from its path: its dev
//! container, its synced-source volume, its lock files, the labels on everything the tool makes,
//! and this invocation's session (put on every container it creates, so that an interrupt can
//! find and remove what it made even before the create call returned).

use std::collections::HashMap;

use camino::Utf8PathBuf;

pub const LABEL_FORK: &str = "dev.moby-xtask.fork";
pub const LABEL_FORK_ID: &str = "dev.moby-xtask.fork-id";
pub const LABEL_ROLE: &str = "dev.moby-xtask.role";
pub const LABEL_IMAGE: &str = "dev.moby-xtask.image";
pub const LABEL_MOUNTS: &str = "dev.moby-xtask.mounts";
pub const LABEL_PROFILE: &str = "dev.moby-xtask.profile";
pub const LABEL_SESSION: &str = "dev.moby-xtask.session";
pub const LABEL_DRIVER: &str = "dev.moby-xtask.daemon-driver";
pub const LABEL_SYNC_ID: &str = "dev.moby-xtask.sync-id";

#[derive(Debug, Clone)]
pub struct Names {
    pub fork_root: String,
    /// `moby-xtask-<dir name>-<hash of the path>`: stable per fork, readable in `docker ps`.
    pub container: String,
    /// `moby-xtask-src-<dir>-<hash>`: the source on an engine that does not share our files.
    pub volume: String,
    pub session: String,
}

impl Names {
    pub fn new(fork_root: &str) -> Names {
        let base: String = fork_root
            .rsplit('/')
            .next()
            .filter(|b| !b.is_empty())
            .unwrap_or("fork")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let tail = format!("{base}-{:08x}", crate::text::fnv1a(fork_root) as u32);
        Names {
            fork_root: fork_root.to_string(),
            container: format!("moby-xtask-{tail}"),
            volume: format!("moby-xtask-src-{tail}"),
            session: session_id(),
        }
    }

    /// The lock file for `kind` (`work`, `create`), in this user's private runtime directory,
    /// never the fork nor a directory another user can write.
    pub fn lock_file(&self, kind: &str) -> anyhow::Result<Utf8PathBuf> {
        Ok(crate::private::runtime_dir()?.join(format!("{}.{kind}.lock", self.container)))
    }

    /// `label=value` that finds every container of this fork.
    pub fn fork_filter(&self) -> String {
        format!("{LABEL_FORK}={}", self.fork_root)
    }

    /// The labels of a container of this fork made by this invocation in `role`.
    pub fn labels(&self, role: &str) -> HashMap<String, String> {
        HashMap::from([
            (LABEL_FORK.to_string(), self.fork_root.clone()),
            (LABEL_ROLE.to_string(), role.to_string()),
            (LABEL_SESSION.to_string(), self.session.clone()),
        ])
    }
}

/// A unique id for this invocation.
pub fn session_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::Names;

    #[test]
    fn names_are_stable_readable_and_per_path() {
        let a = Names::new("/home/me/src/moby");
        assert!(
            a.container.starts_with("moby-xtask-moby-"),
            "{}",
            a.container
        );
        assert_eq!(a.container, Names::new("/home/me/src/moby").container);
        assert_ne!(a.container, Names::new("/home/me/other/moby").container);
        // Characters a container name cannot hold become `-`.
        assert!(Names::new("/x/my fork:1")
            .container
            .starts_with("moby-xtask-my-fork-1-"));
        assert!(Names::new("/").container.starts_with("moby-xtask-fork-"));
        // The volume follows the container.
        assert!(a.volume.starts_with("moby-xtask-src-moby-"), "{}", a.volume);
        assert_eq!(
            a.volume.trim_start_matches("moby-xtask-src-"),
            a.container.trim_start_matches("moby-xtask-")
        );
        assert_ne!(a.volume, Names::new("/home/me/other/moby").volume);
    }
}
