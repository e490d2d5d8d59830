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
    // What `make shell` exports: HEAD alone.
    assert_eq!(head(&r.dir, CommitForm::Short).unwrap(), short);
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

/// Our `-unsupported` against git's own `status --porcelain --untracked-files=no`, read
/// without git refreshing the index first (`--no-optional-locks`), as the tool reads it.
fn agrees_with_git(r: &Repo) -> bool {
    let ours = from_git(&r.dir, CommitForm::Full)
        .unwrap()
        .ends_with("-unsupported");
    let git = !r
        .git(&[
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no",
        ])
        .is_empty();
    assert_eq!(ours, git, "ours vs git status in {}", r.dir);
    ours
}

#[test]
fn stat_changes_without_content_changes_are_clean() {
    let r = Repo::new("touched");
    for i in 0..40 {
        std::fs::write(r.dir.join(format!("f{i}.go")), "package a\n").unwrap();
    }
    r.git(&["add", "."]);
    r.git(&["commit", "-qm", "many"]);
    // One file rewritten with the same bytes (stat differs: asked of libgit2, file by file).
    std::fs::write(r.dir.join("a.go"), "package a\n").unwrap();
    assert!(!agrees_with_git(&r));
    // Every file rewritten (past the per-file asking: one full status).
    for i in 0..40 {
        std::fs::write(r.dir.join(format!("f{i}.go")), "package a\n").unwrap();
    }
    assert!(!agrees_with_git(&r));
}

#[test]
fn edits_hidden_from_size_and_mtime_deletions_and_modes_are_unsupported() {
    let r = Repo::new("hidden");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let before = std::fs::metadata(r.dir.join("a.go")).unwrap();
    std::fs::write(r.dir.join("a.go"), "package b\n").unwrap();
    let mtime = filetime_of(&before);
    set_mtime(&r.dir.join("a.go"), mtime);
    assert!(agrees_with_git(&r));
    r.git(&["checkout", "--", "a.go"]);
    assert!(!agrees_with_git(&r));
    std::fs::remove_file(r.dir.join("a.go")).unwrap();
    assert!(agrees_with_git(&r));
    r.git(&["checkout", "--", "a.go"]);
    r.git(&["update-index", "--chmod=-x", "a.go"]);
    std::fs::set_permissions(
        r.dir.join("a.go"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    assert!(agrees_with_git(&r));
}

fn filetime_of(m: &std::fs::Metadata) -> std::time::SystemTime {
    m.modified().unwrap()
}

fn set_mtime(path: &Utf8Path, t: std::time::SystemTime) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(t).unwrap();
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
    let s = stamp(
        &r.dir,
        CommitForm::Short,
        Some("flag123"),
        Some("env456"),
        true,
    )
    .unwrap();
    assert_eq!((s.commit.as_str(), s.source), ("flag123", Source::Flag));
    let s = stamp(&r.dir, CommitForm::Short, None, Some("env456"), true).unwrap();
    assert_eq!((s.commit.as_str(), s.source), ("env456", Source::Env));
    let s = stamp(&r.dir, CommitForm::Short, None, Some(""), true).unwrap();
    assert_eq!(s.source, Source::Git);
}

impl Repo {
    /// `n` new blobs (unique contents, `tag` keeps them apart between calls) in one pack.
    fn add_pack(&self, n: usize, tag: &str) {
        let mut stream = String::with_capacity(n * 40);
        for i in 0..n {
            let data = format!("{tag} {i}\n");
            stream.push_str(&format!("blob\ndata {}\n{data}\n", data.len()));
        }
        cmd!(self.sh, "git fast-import --quiet")
            .stdin(stream)
            .run()
            .unwrap();
    }

    fn short(&self) -> String {
        self.git(&["rev-parse", "--short", "HEAD"])
    }

    fn ours(&self) -> String {
        from_git(&self.dir, CommitForm::Short).unwrap()
    }
}

#[test]
fn auto_length_follows_gits_formula() {
    assert_eq!(auto_abbrev_len(0), 7);
    assert_eq!(auto_abbrev_len(1), 7);
    assert_eq!(auto_abbrev_len(16_383), 7);
    assert_eq!(auto_abbrev_len(16_384), 8);
    assert_eq!(auto_abbrev_len(65_535), 8);
    assert_eq!(auto_abbrev_len(65_536), 9);
    assert_eq!(auto_abbrev_len(262_144), 10);
    // A moby clone: ~640k objects.
    assert_eq!(auto_abbrev_len(637_271), 10);
    assert_eq!(auto_abbrev_len(1 << 20), 11);
}

#[test]
fn tiny_packed_repo_gives_seven() {
    let r = Repo::new("tiny");
    r.git(&["gc", "-q"]);
    assert_eq!(r.ours(), r.short());
    assert_eq!(r.ours().len(), 7);
}

#[test]
fn twenty_thousand_packed_objects_give_eight() {
    let r = Repo::new("20k");
    r.add_pack(20_000, "a");
    let objects = r.dir.join(".git/objects");
    assert_eq!(approximate_object_count(objects.as_std_path()), 20_000);
    assert_eq!(r.short().len(), 8);
    assert_eq!(r.ours(), r.short());
}

#[test]
fn seventy_thousand_objects_in_two_packs_and_a_midx_give_nine() {
    let r = Repo::new("70k");
    r.add_pack(40_000, "a");
    r.add_pack(30_000, "b");
    let objects = r.dir.join(".git/objects");
    assert_eq!(approximate_object_count(objects.as_std_path()), 70_000);
    assert_eq!(r.short().len(), 9);
    assert_eq!(r.ours(), r.short());
    // A multi-pack-index over both packs: its objects count once.
    r.git(&["multi-pack-index", "write"]);
    assert!(objects.join("pack/multi-pack-index").is_file());
    assert_eq!(approximate_object_count(objects.as_std_path()), 70_000);
    assert_eq!(r.ours(), r.short());
}

#[test]
fn loose_objects_do_not_count() {
    let r = Repo::new("loose");
    r.add_pack(17_000, "a");
    // Explode the pack into loose objects: git's approximate count ignores them.
    let pack_dir = r.dir.join(".git/objects/pack");
    let pack = std::fs::read_dir(&pack_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "pack"))
        .unwrap();
    let moved = r.dir.join("moved.pack");
    std::fs::rename(&pack, &moved).unwrap();
    std::fs::remove_file(pack.with_extension("idx")).unwrap();
    let bytes = std::fs::read(&moved).unwrap();
    cmd!(r.sh, "git unpack-objects -q")
        .stdin(bytes)
        .run()
        .unwrap();
    std::fs::remove_file(&moved).unwrap();
    assert_eq!(
        approximate_object_count(r.dir.join(".git/objects").as_std_path()),
        0
    );
    assert_eq!(r.short().len(), 7);
    assert_eq!(r.ours(), r.short());
}

#[test]
fn core_abbrev_overrides_the_start() {
    let r = Repo::new("abbrev");
    r.git(&["config", "core.abbrev", "12"]);
    assert_eq!(r.short().len(), 12);
    assert_eq!(r.ours(), r.short());
    r.git(&["config", "core.abbrev", "no"]);
    assert_eq!(r.ours(), r.git(&["rev-parse", "HEAD"]));
    assert_eq!(r.ours(), r.short());
    r.git(&["config", "core.abbrev", "auto"]);
    assert_eq!(r.ours(), r.short());
    r.git(&["config", "core.abbrev", "3"]);
    let err = format!("{:#}", from_git(&r.dir, CommitForm::Short).unwrap_err());
    assert!(err.contains("core.abbrev"), "{err}");
}

#[test]
fn worktree_counts_the_common_objects() {
    let r = Repo::new("wt-count");
    r.add_pack(20_000, "a");
    let wt = r.dir.join("wt");
    r.git(&["worktree", "add", "-q", "-b", "other", wt.as_str()]);
    let expected = cmd!(r.sh, "git -C {wt} rev-parse --short HEAD")
        .read()
        .unwrap();
    assert_eq!(expected.len(), 8);
    assert_eq!(from_git(&wt, CommitForm::Short).unwrap(), expected);
}

#[test]
fn ownership_refusal_gives_gits_advice() {
    let e = git2::Error::new(
        git2::ErrorCode::Owner,
        git2::ErrorClass::Config,
        "repository path '/src/moby/' is not owned by current user",
    );
    let msg = format!("{:#}", open_error(Utf8Path::new("/src/moby"), e));
    assert!(
        msg.contains("git config --global --add safe.directory /src/moby"),
        "{msg}"
    );
    assert!(msg.contains("--commit <hash>"), "{msg}");
}
