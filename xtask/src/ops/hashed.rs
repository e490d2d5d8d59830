//! What the last summary hashed (`bundles/.moby-xtask-digests`): each artifact's digests by
//! its file identity (inode, size, modification time). A summary reads it so that a file not
//! replaced since is not hashed again; a fresh `binary` asks it whether the built files are
//! still those ([`as_hashed`]).

use camino::{Utf8Path, Utf8PathBuf};
use hack_compat::Fork;

use super::summary::{Artifact, Digests};

/// Whether every file the bundles' output directories hold is the one the last summary hashed
/// (same inode, size and modification time), and no file it hashed is gone: what a fresh
/// `binary` shows without building. `false` when there is no such summary.
pub fn as_hashed(fork: &Fork, bundles: &[String], version: &str) -> bool {
    let memo = Memo::read(fork);
    let Some(files) = built_files(fork, bundles, version) else {
        return false;
    };
    !memo.0.is_empty()
        && files.len() == memo.0.len()
        && files.iter().all(|(rel, m)| {
            memo.0
                .get(rel.as_str())
                .is_some_and(|(id, ..)| *id == Memo::identity(m))
        })
}

/// The files the bundles' output directories hold (not their checksum files, not symlinks),
/// relative to the fork root; `None` when one of them cannot be read.
fn built_files(
    fork: &Fork,
    bundles: &[String],
    version: &str,
) -> Option<Vec<(Utf8PathBuf, std::fs::Metadata)>> {
    let mut files = Vec::new();
    for dir in super::summary::output_dirs(fork, bundles, version) {
        let Ok(entries) = std::fs::read_dir(fork.root.join(&dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().into_string().ok()?;
            let m = e.metadata().ok()?;
            if !super::summary::is_checksum_file(&name) && !m.file_type().is_symlink() {
                files.push((dir.join(&name), m));
            }
        }
    }
    Some(files)
}

/// The digests of the last summary, by file identity (`bundles/.moby-xtask-digests`): a build
/// that replaced nothing (a no-op `binary`) is not hashed again. Any change to a file (its
/// inode, size or modification time) hashes it afresh.
#[derive(Default)]
pub struct Memo(std::collections::HashMap<String, (String, Option<String>, Option<String>)>);

const MEMO: &str = "bundles/.moby-xtask-digests";

impl Memo {
    pub(super) fn read(fork: &Fork) -> Memo {
        let text = std::fs::read_to_string(fork.root.join(MEMO)).unwrap_or_default();
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Memo(
            text.lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split('\t').collect();
                    let [rel, id, md5, sha] = f[..] else {
                        return None;
                    };
                    Some((rel.to_string(), (id.to_string(), opt(md5), opt(sha))))
                })
                .collect(),
        )
    }

    /// The file's identity as the memo keys it.
    pub(super) fn identity(m: &std::fs::Metadata) -> String {
        use std::os::unix::fs::MetadataExt;
        format!("{}:{}:{}.{}", m.ino(), m.len(), m.mtime(), m.mtime_nsec())
    }

    /// The remembered digests of `rel`, when it is the same file and they hold what is wanted.
    pub(super) fn get(&self, rel: &Utf8Path, id: &str, md5: bool, sha256: bool) -> Option<Digests> {
        let (known, m, s) = self.0.get(rel.as_str())?;
        let enough = known == id && (!md5 || m.is_some()) && (!sha256 || s.is_some());
        enough.then(|| (m.clone(), s.clone()))
    }

    /// `rel`'s digests, made of the file whose identity is `id`.
    pub(super) fn insert(&mut self, rel: &Utf8Path, id: String, (md5, sha256): Digests) {
        self.0.insert(rel.to_string(), (id, md5, sha256));
    }

    /// `other`'s entries over these.
    pub(super) fn extend(&mut self, other: Memo) {
        self.0.extend(other.0);
    }

    /// Best effort: a memo that cannot be written costs the next no-op build a hash.
    pub(super) fn write(&self, fork: &Fork, artifacts: &[Artifact]) {
        let mut text = String::new();
        for a in artifacts.iter().filter(|a| a.link_target.is_none()) {
            let Ok(m) = std::fs::symlink_metadata(fork.root.join(&a.path)) else {
                continue;
            };
            let md5 = a.md5.clone().unwrap_or_default();
            let sha = a.sha256.clone().unwrap_or_default();
            text.push_str(&format!(
                "{}\t{}\t{md5}\t{sha}\n",
                a.path,
                Self::identity(&m)
            ));
        }
        save(fork, &text);
    }
}

/// After every successful build, for those that print no summary (`smoke`, the live loop): the
/// identity of each file it left, with the digests of those the memo already knew as they are,
/// so that a later `binary` or `smoke` finds the build's files as it left them (a summary
/// hashes what has no digest yet). Best effort, as [`Memo::write`].
pub fn note_built(fork: &Fork, bundles: &[String], version: &str) {
    let Some(files) = built_files(fork, bundles, version) else {
        return;
    };
    let old = Memo::read(fork);
    let mut text = String::new();
    for (rel, m) in files {
        let id = Memo::identity(&m);
        let (md5, sha) = match old.0.get(rel.as_str()) {
            Some((known, md5, sha)) if *known == id => (md5.clone(), sha.clone()),
            _ => (None, None),
        };
        let (md5, sha) = (md5.unwrap_or_default(), sha.unwrap_or_default());
        text.push_str(&format!("{rel}\t{id}\t{md5}\t{sha}\n"));
    }
    save(fork, &text);
}

fn save(fork: &Fork, text: &str) {
    let path = fork.root.join(MEMO);
    if std::fs::write(&path, text).is_ok() {
        let _ = crate::fork::own(fork, &path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_memo_holds_only_for_the_same_file() {
        let dir = std::env::temp_dir().join(format!("xtask-digest-memo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("dockerd");
        std::fs::write(&file, "one").unwrap();
        let id = Memo::identity(&std::fs::metadata(&file).unwrap());
        let rel = Utf8Path::new("bundles/binary-daemon/dockerd");
        let mut memo = Memo::default();
        memo.0
            .insert(rel.to_string(), (id.clone(), Some("m".into()), None));
        assert_eq!(
            memo.get(rel, &id, true, false),
            Some((Some("m".into()), None))
        );
        // Asked for a digest it does not hold: hashed again.
        assert_eq!(memo.get(rel, &id, true, true), None);
        // Another build wrote the file: hashed again.
        std::thread::sleep(std::time::Duration::from_millis(10));
        std::fs::write(&file, "two!").unwrap();
        let id2 = Memo::identity(&std::fs::metadata(&file).unwrap());
        assert_ne!(id, id2);
        assert_eq!(memo.get(rel, &id2, true, false), None);
        let _ = std::fs::remove_dir_all(dir);
    }
}
