//! Commit rules against temporary git repositories, checked against the git CLI's own answers.

use super::*;
use camino::Utf8PathBuf;
use xshell::{cmd, Shell};

struct Repo {
    sh: Shell,
    dir: Utf8PathBuf,
}

impl Repo {
    fn new(tag: &str) -> Repo {
        let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-commit-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sh = Shell::new().unwrap();
        sh.change_dir(&dir);
        cmd!(sh, "git init -q -b main").run().unwrap();
        cmd!(sh, "git config user.email t@example.com")
            .run()
            .unwrap();
        cmd!(sh, "git config user.name test").run().unwrap();
        std::fs::write(dir.join("a.go"), "package a\n").unwrap();
        cmd!(sh, "git add a.go").run().unwrap();
        cmd!(sh, "git commit -q -m one").run().unwrap();
        Repo { sh, dir }
    }

    fn git(&self, args: &[&str]) -> String {
        cmd!(self.sh, "git {args...}").read().unwrap()
    }
}

impl Drop for Repo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn clean_short_and_full() {
    let r = Repo::new("clean");
    assert_eq!(
        from_git(&r.dir, CommitForm::Short).unwrap(),
        r.git(&["rev-parse", "--short", "HEAD"])
    );
    assert_eq!(
        from_git(&r.dir, CommitForm::Full).unwrap(),
        r.git(&["rev-parse", "HEAD"])
    );
}

#[test]
fn dirty_tracked_file_is_unsupported() {
    let r = Repo::new("dirty");
    std::fs::write(r.dir.join("a.go"), "package a // edited\n").unwrap();
    let short = r.git(&["rev-parse", "--short", "HEAD"]);
    assert_eq!(
        from_git(&r.dir, CommitForm::Short).unwrap(),
        format!("{short}-unsupported")
    );
}

#[test]
fn staged_change_is_unsupported() {
    let r = Repo::new("staged");
    std::fs::write(r.dir.join("b.go"), "package a\n").unwrap();
    r.git(&["add", "b.go"]);
    assert!(from_git(&r.dir, CommitForm::Full)
        .unwrap()
        .ends_with("-unsupported"));
}

#[test]
fn untracked_files_do_not_count() {
    let r = Repo::new("untracked");
    std::fs::write(r.dir.join("new.go"), "package a\n").unwrap();
    std::fs::create_dir_all(r.dir.join("target/debug")).unwrap();
    std::fs::write(r.dir.join("target/debug/xtask"), "bin").unwrap();
    assert_eq!(
        from_git(&r.dir, CommitForm::Short).unwrap(),
        r.git(&["rev-parse", "--short", "HEAD"])
    );
}

#[test]
fn detached_head() {
    let r = Repo::new("detached");
    std::fs::write(r.dir.join("a.go"), "package a // two\n").unwrap();
    r.git(&["commit", "-qam", "two"]);
    r.git(&["checkout", "-q", "--detach", "HEAD~1"]);
    assert_eq!(
        from_git(&r.dir, CommitForm::Full).unwrap(),
        r.git(&["rev-parse", "HEAD"])
    );
    assert_eq!(branch(&r.dir).as_deref(), Some("HEAD"));
}

#[test]
fn worktree_with_git_file() {
    let r = Repo::new("worktree");
    let wt = r.dir.join("wt");
    r.git(&["worktree", "add", "-q", "-b", "feature/x", wt.as_str()]);
    assert!(wt.join(".git").is_file());
    let expected = cmd!(r.sh, "git -C {wt} rev-parse --short HEAD")
        .read()
        .unwrap();
    assert_eq!(from_git(&wt, CommitForm::Short).unwrap(), expected);
    assert_eq!(branch(&wt).as_deref(), Some("feature/x"));
}

#[test]
fn no_git_names_the_way_out() {
    let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
        .unwrap()
        .join(format!("xtask-commit-nogit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let err = format!("{:#}", from_git(&dir, CommitForm::Short).unwrap_err());
    let _ = std::fs::remove_dir_all(&dir);
    assert!(err.contains(".git directory missing"), "{err}");
    assert!(err.contains("--commit <hash>"), "{err}");
    assert!(err.contains("DOCKER_GITCOMMIT"), "{err}");
    assert_eq!(branch(&dir), None);
}

#[test]
fn flag_beats_env_beats_git() {
    let r = Repo::new("precedence");
    let s = stamp(&r.dir, CommitForm::Short, Some("flag123"), Some("env456")).unwrap();
    assert_eq!((s.commit.as_str(), s.source), ("flag123", Source::Flag));
    let s = stamp(&r.dir, CommitForm::Short, None, Some("env456")).unwrap();
    assert_eq!((s.commit.as_str(), s.source), ("env456", Source::Env));
    let s = stamp(&r.dir, CommitForm::Short, None, Some("")).unwrap();
    assert_eq!(s.source, Source::Git);
}
