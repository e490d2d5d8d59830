//! Changes to the fork, as the live loop sees them: one recursive inotify watch of the fork
//! (notify, debounced by notify-debouncer-full: one batch per burst of saves), of which only the
//! fork's source counts, as `source::walk` defines it (the build's own output would start the
//! next build).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use camino::{Utf8Path, Utf8PathBuf};
use notify_debouncer_full::notify::event::{EventKind, ModifyKind};
use notify_debouncer_full::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};

/// How long a burst of saves is gathered into one change: an editor's save (write, rename,
/// chmod) takes a few milliseconds; a `git checkout` that takes longer starts one build that a
/// later change then restarts.
const DEBOUNCE: Duration = Duration::from_millis(100);

pub struct Watch {
    root: Utf8PathBuf,
    repo: Option<git2::Repository>,
    rx: tokio::sync::mpsc::UnboundedReceiver<Vec<PathBuf>>,
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
}

impl Watch {
    pub fn new(root: &Utf8Path) -> Result<Watch> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut debouncer = new_debouncer(DEBOUNCE, None, move |res: DebounceEventResult| {
            if let Ok(events) = res {
                let paths: Vec<PathBuf> = events
                    .into_iter()
                    .filter(|e| is_edit(&e.event.kind))
                    .flat_map(|e| e.event.paths)
                    .collect();
                if !paths.is_empty() {
                    let _ = tx.send(paths);
                }
            }
        })
        .context("cannot watch the fork (inotify)")?;
        let repo = git2::Repository::open(root).ok();
        // The root's own entries, and each top-level directory that holds source, recursively:
        // not `bundles/` or `.git/`, whose writes during every build (the linker's, thousands
        // of them) would cost the build CPU. A top-level directory made later is seen from the
        // next watch on.
        let mut dirs = vec![(root.to_path_buf(), RecursiveMode::NonRecursive)];
        for e in root
            .read_dir_utf8()
            .with_context(|| format!("cannot list {root}"))?
        {
            let e = e?;
            let rel = Utf8Path::new(e.file_name());
            if e.file_type().is_ok_and(|t| t.is_dir())
                && crate::source::walk::is_source(repo.as_ref(), rel)
            {
                dirs.push((e.path().to_path_buf(), RecursiveMode::Recursive));
            }
        }
        for (dir, mode) in dirs {
            debouncer.watch(dir.as_std_path(), mode).with_context(|| {
                format!(
                    "cannot watch {dir}: raise fs.inotify.max_user_watches if it says \
                     \"no space left\" (`sudo sysctl fs.inotify.max_user_watches=524288`)"
                )
            })?;
        }
        Ok(Watch {
            root: root.to_path_buf(),
            repo,
            rx,
            _debouncer: debouncer,
        })
    }

    /// The next change to the fork's source: its files, relative to the root, sorted.
    pub async fn next(&mut self) -> Option<Vec<String>> {
        loop {
            let batch = self.rx.recv().await?;
            let mut rel: Vec<String> = batch
                .iter()
                .filter_map(|p| Utf8Path::from_path(p)?.strip_prefix(&self.root).ok())
                .filter(|r| self.is_source(r))
                .map(|r| r.to_string())
                .collect();
            rel.sort();
            rel.dedup();
            if !rel.is_empty() {
                return Some(rel);
            }
        }
    }

    /// Whether a change to `rel` is a change to the fork's source (`source::walk` says).
    fn is_source(&self, rel: &Utf8Path) -> bool {
        crate::source::walk::is_source(self.repo.as_ref(), rel)
    }
}

/// Whether an event changes a file: created, written, renamed or removed. Not a read (the build
/// opens every source file) and not ownership or mode alone (the hand-back after each command).
fn is_edit(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    }
}

/// The Go packages (`./dir`) that the changed files belong to.
pub fn go_packages(changed: &[String]) -> Vec<String> {
    let mut pkgs: Vec<String> = changed
        .iter()
        .filter(|f| f.ends_with(".go"))
        .map(|f| match f.rsplit_once('/') {
            Some((dir, _)) => format!("./{dir}"),
            None => ".".to_string(),
        })
        .collect();
    pkgs.sort();
    pkgs.dedup();
    pkgs
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify_debouncer_full::notify::event::{AccessKind, CreateKind, DataChange, MetadataKind};

    #[test]
    fn only_edits_count() {
        assert!(is_edit(&EventKind::Modify(ModifyKind::Data(
            DataChange::Any
        ))));
        assert!(is_edit(&EventKind::Create(CreateKind::File)));
        assert!(!is_edit(&EventKind::Access(AccessKind::Read)));
        assert!(!is_edit(&EventKind::Modify(ModifyKind::Metadata(
            MetadataKind::Ownership
        ))));
    }

    #[test]
    fn packages_of_changed_files() {
        let changed = [
            "pkg/stringid/stringid.go".to_string(),
            "pkg/stringid/stringid_test.go".to_string(),
            "daemon/daemon.go".to_string(),
            "README.md".to_string(),
            "main.go".to_string(),
        ];
        assert_eq!(go_packages(&changed), [".", "./daemon", "./pkg/stringid"]);
    }
}
