//! The one home of the files the tool keeps on this machine outside the fork: its runtime
//! directory (locks, the ssh dialer's socket) and its cache (memos), both this user's alone.
//!
//! The runtime directory is `$XDG_RUNTIME_DIR/moby-xtask`, else `/tmp/moby-xtask-<uid>`; the cache is
//! `$XDG_CACHE_HOME/moby-xtask`, else `~/.cache/moby-xtask`. Each is made `0700` and checked
//! before use: a real directory (not a symlink), owned by this user, closed to others. A path
//! another user could have planted (a symlink, their directory) is refused, never followed.
//! Files in them are opened with `O_NOFOLLOW` and made `0600`; memos are replaced by a rename,
//! so that two terminals never read half a file.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};

use anyhow::{bail, Context as _, Result};
use camino::{Utf8Path, Utf8PathBuf};

fn var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

/// The tool's cache directory (not checked: see [`ensure`]).
pub fn cache_dir() -> Option<Utf8PathBuf> {
    var("XDG_CACHE_HOME")
        .map(Utf8PathBuf::from)
        .or_else(|| var("HOME").map(|h| Utf8PathBuf::from(h).join(".cache")))
        .map(|c| c.join("moby-xtask"))
}

/// The private runtime directory, made and checked: `$XDG_RUNTIME_DIR/moby-xtask` when that
/// directory is this user's, else `<temp>/moby-xtask-<uid>` (as tmux does: short enough for
/// the ssh dialer's sockets, and on a local disk whatever `HOME` is; another user who made that
/// path first is refused, never followed).
pub fn runtime_dir() -> Result<Utf8PathBuf> {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let xdg = var("XDG_RUNTIME_DIR")
        .map(Utf8PathBuf::from)
        .filter(|d| std::fs::symlink_metadata(d).is_ok_and(|m| m.is_dir() && m.uid() == me));
    let dir = match xdg {
        Some(r) => r.join("moby-xtask"),
        None => {
            let tmp =
                Utf8PathBuf::from_path_buf(std::env::temp_dir()).unwrap_or_else(|_| "/tmp".into());
            tmp.join(format!("moby-xtask-{me}"))
        }
    };
    ensure(&dir)?;
    Ok(dir)
}

/// Make `dir` (and missing parents) `0700`, then check that it is this user's private
/// directory; one this user owns but left open to others is closed.
pub fn ensure(dir: &Utf8Path) -> Result<()> {
    if let Err(e) = DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        // A symlink to a directory satisfies `create`; anything else is said below or here.
        if std::fs::symlink_metadata(dir).is_err() {
            return Err(e).with_context(|| format!("cannot create {dir}"));
        }
    }
    let meta = std::fs::symlink_metadata(dir).with_context(|| format!("cannot read {dir}"))?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.file_type().is_symlink() || !meta.is_dir() {
        bail!("{dir} is not a directory but a symlink or a file; remove it and run again (someone else may have made it)");
    }
    if meta.uid() != me {
        bail!(
            "{dir} belongs to uid {}, not to you (uid {me}); remove it, or set XDG_RUNTIME_DIR to a directory of yours",
            meta.uid()
        );
    }
    if meta.mode() & 0o077 != 0 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {dir} private (0700)"))?;
    }
    Ok(())
}

/// Open (creating `0600`) a file in a private directory, never through a symlink.
pub fn open(path: &Utf8Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .with_context(|| format!("cannot open {path} (a symlink there is refused)"))
}

/// Replace `path` with `contents`: written to a new file beside it, then renamed over it. The
/// directory is made private first.
pub fn write_atomic(path: &Utf8Path, contents: &[u8]) -> Result<()> {
    let dir = path.parent().context("a private file needs a directory")?;
    ensure(dir)?;
    let name = path.file_name().unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .and_then(|mut f| f.write_all(contents))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {path}"));
    }
    Ok(())
}

/// Text read back from a file another process wrote, fit to print: control characters (escape
/// sequences among them) dropped, at most one line of 200 characters.
pub fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect::<String>()
        .trim()
        .to_string()
}

/// [`printable`] for several lines: each line's control characters dropped, the lines kept.
pub fn printable_lines(text: &str) -> String {
    text.lines()
        .map(|l| {
            l.chars()
                .filter(|c| !c.is_control() || *c == '\t')
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn scratch(tag: &str) -> Utf8PathBuf {
        let d = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-private-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_private_dir_is_made_0700_and_an_open_one_closed() {
        let d = scratch("mode");
        let p = d.join("a/b");
        ensure(&p).unwrap();
        let mode = |p: &Utf8Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&p), 0o700);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
        ensure(&p).unwrap();
        assert_eq!(mode(&p), 0o700);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_symlinked_dir_or_file_is_refused_and_not_followed() {
        let d = scratch("link");
        let target = d.join("elsewhere");
        std::fs::create_dir(&target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
        let link = d.join("run");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = ensure(&link).unwrap_err().to_string();
        assert!(err.contains("symlink"), "{err}");
        // The target was not made private (nothing was done through the link).
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);

        // A file planted as a symlink is not opened through, nor replaced through.
        let victim = d.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
        let own = d.join("own");
        ensure(&own).unwrap();
        std::os::unix::fs::symlink(&victim, own.join("x.lock")).unwrap();
        assert!(open(&own.join("x.lock")).is_err());
        write_atomic(&own.join("x.lock"), b"mine").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        let mode = std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // The rename replaced the link itself.
        assert_eq!(std::fs::read_to_string(own.join("x.lock")).unwrap(), "mine");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn files_are_made_0600_and_text_read_back_loses_its_escapes() {
        let d = scratch("file");
        let f = d.join("f");
        drop(open(&f).unwrap());
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            printable("\x1b]0;pwned\x07`cargo xtask shell`\n(pid 1)\x1b[2J"),
            "]0;pwned`cargo xtask shell`(pid 1)[2J"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
