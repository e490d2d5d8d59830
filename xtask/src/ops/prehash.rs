//! While `binary` builds: each artifact the fork is done with (its checksum files written after
//! it, as `hash_files` writes them) hashed at once on a thread of its own, so that the summary
//! after the build finds most digests made. The fork's own hashing at the end of its build runs
//! on one core; this runs on the other. A digest counts only for the very file it was made of
//! (inode, size and modification time before and after the read, as the summary's memo keys
//! it): anything rewritten later is hashed again by the summary.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use camino::Utf8PathBuf;
use hack_compat::{Checksum, Fork};

use super::hashed::Memo;
use super::summary;

/// The thread hashing beside a build; [`Early::finish`] ends it.
pub struct Early {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Memo>,
}

impl Early {
    /// Started for a fork whose era writes checksum files, its build just starting (`since`):
    /// files older than that are the last build's, about to be removed.
    pub fn start(
        fork: &Fork,
        bundles: &[String],
        version: &str,
        since: SystemTime,
    ) -> Option<Early> {
        let kinds = fork.checksum_kinds.clone();
        if kinds.is_empty() {
            return None;
        }
        let dirs: Vec<(Utf8PathBuf, Utf8PathBuf)> = summary::output_dirs(fork, bundles, version)
            .into_iter()
            .map(|rel| {
                let abs = fork.root.join(&rel);
                (rel, abs)
            })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut memo = Memo::default();
            while !flag.load(Ordering::Relaxed) {
                for (rel, dir) in &dirs {
                    look(&mut memo, rel, dir, &kinds, since, &flag);
                }
                std::thread::park_timeout(Duration::from_millis(50));
            }
            memo
        });
        Some(Early { stop, thread })
    }

    /// The digests made so far (the one under way is finished first).
    pub fn finish(self) -> Memo {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.thread().unpark();
        self.thread.join().unwrap_or_default()
    }
}

/// Hash each file of `dir` that is new since `since`, has every checksum file the era writes,
/// and is not hashed yet as it is now.
fn look(
    memo: &mut Memo,
    rel: &Utf8PathBuf,
    dir: &Utf8PathBuf,
    kinds: &[Checksum],
    since: SystemTime,
    stop: &AtomicBool,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        if summary::is_checksum_file(&name) {
            continue;
        }
        let done = kinds
            .iter()
            .all(|k| dir.join(format!("{name}.{}", k.ext())).is_file());
        let path = dir.join(&name);
        let Ok(before) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let fresh = before.modified().is_ok_and(|m| m >= since);
        let file = rel.join(&name);
        let id = Memo::identity(&before);
        if !done || !fresh || !before.is_file() || memo.get(&file, &id, false, true).is_some() {
            continue;
        }
        let md5 = kinds.contains(&Checksum::Md5);
        let Ok((md5, sha)) = hack_compat::checksum::digests(path.as_std_path(), md5, true) else {
            continue;
        };
        let same = std::fs::symlink_metadata(&path).is_ok_and(|m| Memo::identity(&m) == id);
        if same {
            memo.insert(&file, id, (md5, sha));
        }
    }
}
