//! The checksums `hack/make.sh`'s `hash_files` writes beside each binary ([`crate::Checksum`]),
//! computed for a file: its MD5 and SHA-256, each only when asked for, in one read; or for many
//! files, each digest its own job, over several threads ([`digests_parallel`]). Here rather
//! than in the tool because the digests' inner loops are `#[inline]` and so compiled where they
//! are called: the workspace builds this crate optimised even in debug builds (~130 MB of
//! binaries after every build: about 0.8 s unoptimised, 0.15 s so).

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::Checksum;

use md5::{Digest as _, Md5};
use sha2::Sha256;

/// Lower-case hex MD5 and SHA-256 of the file at `path`, each when asked for.
pub fn digests(
    path: &Path,
    md5: bool,
    sha256: bool,
) -> std::io::Result<(Option<String>, Option<String>)> {
    let mut f = std::fs::File::open(path)?;
    let (mut m, mut s) = (md5.then(Md5::new), sha256.then(Sha256::new));
    // 64 KiB: a buffer the L2 cache holds reads from the page cache four times as fast as 1 MiB.
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if let Some(m) = m.as_mut() {
            m.update(&buf[..n]);
        }
        if let Some(s) = s.as_mut() {
            s.update(&buf[..n]);
        }
    }
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    Ok((m.map(|m| hex(&m.finalize())), s.map(|s| hex(&s.finalize()))))
}

/// One digest to compute: of the file at `path`, of `kind`.
#[derive(Debug, Clone)]
pub struct Job {
    pub path: std::path::PathBuf,
    pub kind: Checksum,
    /// The file's size, for the order: the costliest jobs go first.
    pub size: u64,
}

/// Each job's lower-case hex digest, on `workers` threads pulling the costliest job left (MD5
/// takes about twice SHA-256's time where the CPU has SHA extensions), so that one big file's
/// two digests run side by side and the threads end together. `stop` is asked before each job:
/// once it says so, the jobs not started are `None`.
pub fn digests_parallel(
    jobs: &[Job],
    workers: usize,
    stop: &(dyn Fn() -> bool + Sync),
) -> Vec<Option<std::io::Result<String>>> {
    let cost = |j: &Job| match j.kind {
        Checksum::Md5 => j.size.saturating_mul(2),
        Checksum::Sha256 => j.size,
    };
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(cost(&jobs[i])));
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<std::io::Result<String>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    let work = || loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let Some(&i) = order.get(n) else { return };
        if stop() {
            return;
        }
        let job = &jobs[i];
        let md5 = job.kind == Checksum::Md5;
        let hex = digests(&job.path, md5, !md5).map(|(m, s)| m.or(s).unwrap_or_default());
        if let Ok(mut d) = done.lock() {
            d[i] = Some(hex);
        }
    };
    std::thread::scope(|s| {
        for _ in 1..workers.clamp(1, jobs.len().max(1)) {
            s.spawn(work);
        }
        work();
    });
    done.into_inner().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    #[test]
    fn digests_of_a_known_file() {
        let p = std::env::temp_dir().join(format!("hack-compat-digest-{}", std::process::id()));
        std::fs::write(&p, b"abc").unwrap();
        let (m, s) = super::digests(&p, true, true).unwrap();
        assert_eq!(m.as_deref(), Some("900150983cd24fb0d6963f7d28e17f72"));
        assert_eq!(
            s.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(super::digests(&p, false, true).unwrap().0, None);
        // The same digests as jobs on two threads, in the jobs' order whatever ran first.
        let big = p.with_extension("big");
        std::fs::write(&big, vec![7u8; 3 << 20]).unwrap();
        let (bm, bs) = super::digests(&big, true, true).unwrap();
        let job = |path: &std::path::Path, kind, size| super::Job {
            path: path.to_path_buf(),
            kind,
            size,
        };
        let jobs = [
            job(&p, crate::Checksum::Sha256, 3),
            job(&big, crate::Checksum::Md5, 3 << 20),
            job(&p, crate::Checksum::Md5, 3),
            job(&big, crate::Checksum::Sha256, 3 << 20),
        ];
        let got: Vec<String> = super::digests_parallel(&jobs, 2, &|| false)
            .into_iter()
            .map(|d| d.unwrap().unwrap())
            .collect();
        assert_eq!(got, [s.unwrap(), bm.unwrap(), m.unwrap(), bs.unwrap()]);
        // Stopped before the first job: none ran.
        let none = super::digests_parallel(&jobs, 2, &|| true);
        assert!(none.iter().all(Option::is_none));
        std::fs::remove_file(&p).unwrap();
        std::fs::remove_file(&big).unwrap();
    }
}
