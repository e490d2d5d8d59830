//! The checksums `hack/make.sh`'s `hash_files` writes beside each binary ([`crate::Checksum`]),
//! computed for a file: its MD5 and SHA-256, each only when asked for, in one read. Here rather
//! than in the tool because the digests' inner loops are `#[inline]` and so compiled where they
//! are called: the workspace builds this crate optimised even in debug builds (~130 MB of
//! binaries after every build: about 0.8 s unoptimised, 0.15 s so).

use std::io::Read;
use std::path::Path;

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
    let mut buf = vec![0u8; 1 << 20];
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
        std::fs::remove_file(&p).unwrap();
    }
}
