//! The CLI without a daemon: task listing, global options, `--dry-run`, and the errors a user meets
//! first (no daemon, no `.git`, wrong fork, unknown bundle). Uses hack-compat's E4 fixture fork.

use tests::{e4_copy, e4_fixture, text, workspace_root, xtask, Scratch, NO_DAEMON};

#[test]
fn bare_xtask_lists_tasks() {
    let out = xtask(&[], &[]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert!(
        s.contains("binary") && s.contains("hack/make.sh binary"),
        "{s}"
    );
}

#[test]
fn dry_run_needs_no_daemon_and_shows_computed_values() {
    let fork = e4_fixture();
    let out = xtask(
        &[
            "--fork",
            &fork,
            "binary",
            "--dry-run",
            "--commit",
            "abc1234",
        ],
        &[
            NO_DAEMON,
            ("KEEPBUNDLE", "1"),
            ("CONTAINER_NAME", "hostwide"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    assert!(
        line.starts_with("docker run --rm -i --privileged"),
        "{line}"
    );
    assert!(
        line.contains(&format!("-v {fork}:/go/src/github.com/docker/docker")),
        "{line}"
    );
    assert!(line.contains("-v docker-dev-cache:/root/.cache"), "{line}");
    assert!(line.contains("-e DOCKER_GITCOMMIT=abc1234"), "{line}");
    // Allowlisted and set: passed. Not allowlisted (CONTAINER_NAME, HOME): never passed.
    assert!(line.contains("-e KEEPBUNDLE=1"), "{line}");
    assert!(
        !line.contains("CONTAINER_NAME") && !line.contains("HOME="),
        "{line}"
    );
    assert!(
        line.trim_end().ends_with("docker-dev hack/make.sh binary"),
        "{line}"
    );
}

#[test]
fn global_options_after_the_task() {
    let fork = e4_fixture();
    let out = xtask(
        &[
            "binary",
            "--dry-run",
            "--fork",
            &fork,
            "--image",
            "my/dev:1",
            "--commit",
            "x1",
        ],
        &[NO_DAEMON],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(" my/dev:1 hack/make.sh binary"));
}

#[test]
fn env_commit_wins_over_git_and_flag_over_env() {
    let fork = e4_fixture();
    let out = xtask(
        &["--fork", &fork, "binary", "--dry-run"],
        &[NO_DAEMON, ("DOCKER_GITCOMMIT", "fromenv")],
    );
    assert!(text(&out.stdout).contains("DOCKER_GITCOMMIT=fromenv"));
    let out = xtask(
        &[
            "--fork",
            &fork,
            "binary",
            "--dry-run",
            "--commit",
            "fromflag",
        ],
        &[("DOCKER_GITCOMMIT", "fromenv")],
    );
    assert!(text(&out.stdout).contains("DOCKER_GITCOMMIT=fromflag"));
}

#[test]
fn no_git_gives_the_advice() {
    let out = xtask(&["--fork", &e4_fixture(), "binary", "--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains(".git directory missing"), "{err}");
    assert!(
        err.contains("--commit <hash>") && err.contains("DOCKER_GITCOMMIT"),
        "{err}"
    );
    assert!(
        err.lines().count() <= 2 && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn no_daemon_is_one_line_naming_the_endpoint() {
    let out = xtask(
        &["--fork", &e4_fixture(), "binary", "--commit", "x"],
        &[NO_DAEMON],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("unix:///nonexistent/docker.sock"), "{err}");
    assert!(err.contains("DOCKER_HOST"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn wrong_fork_and_unknown_bundle() {
    let s = Scratch::new("notafork");
    let out = xtask(&["--fork", s.dir.as_str(), "binary", "--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is not a moby checkout"));

    let out = xtask(
        &[
            "--fork",
            &e4_fixture(),
            "binary",
            "--dry-run",
            "--commit",
            "x",
            "bogus",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("unknown bundle `bogus`") && err.contains("dynbinary"),
        "{err}"
    );
}

#[test]
fn default_fork_is_the_workspace_root() {
    // This repository is not a moby checkout: the error must say so and point at --fork.
    let out = xtask(&["binary", "--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{} is not a moby checkout", workspace_root())),
        "{err}"
    );
    assert!(err.contains("--fork"), "{err}");
}

#[test]
fn hooks_install_uninstall_round_trip() {
    let (_s, fork) = e4_copy("hooks");
    let git = |args: &[&str]| {
        let st = std::process::Command::new("git")
            .args(args)
            .current_dir(&fork)
            .status()
            .unwrap();
        assert!(st.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    let hook = fork.join(".git/hooks/pre-commit");
    let f = fork.as_str();

    let out = xtask(&["--fork", f, "hooks", "install"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let body = std::fs::read_to_string(&hook).unwrap();
    assert!(
        body.contains("cargo xtask --fork") && body.contains(" smoke"),
        "{body}"
    );
    // The fork is the work tree being committed to, found at commit time (worktrees share hooks).
    assert!(
        body.contains("git rev-parse --show-toplevel") && !body.contains(f),
        "{body}"
    );
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&hook).unwrap().permissions());
    assert_eq!(mode & 0o111, 0o111, "hook not executable");
    // Installing again over our own hook is fine.
    assert!(xtask(&["--fork", f, "hooks", "install"], &[])
        .status
        .success());

    let out = xtask(&["--fork", f, "hooks", "uninstall"], &[]);
    assert!(
        out.status.success() && !hook.exists(),
        "{}",
        text(&out.stderr)
    );

    // A foreign hook: install refuses without --force, uninstall leaves it alone.
    std::fs::write(&hook, "#!/bin/sh\necho mine\n").unwrap();
    let out = xtask(&["--fork", f, "hooks", "install"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--force"),
        "{}",
        text(&out.stderr)
    );
    let out = xtask(&["--fork", f, "hooks", "uninstall"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        "#!/bin/sh\necho mine\n"
    );

    let out = xtask(&["--fork", f, "hooks", "install", "--force"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read_to_string(&hook)
        .unwrap()
        .contains("moby-xtask pre-commit hook"));
    let backup = fork.join(".git/hooks/pre-commit.moby-xtask-backup");
    assert_eq!(
        std::fs::read_to_string(&backup).unwrap(),
        "#!/bin/sh\necho mine\n"
    );

    // A dangling symlink is never followed: refused, and its target never written.
    std::fs::remove_file(&hook).unwrap();
    let target = fork.join("elsewhere/victim");
    std::os::unix::fs::symlink(&target, &hook).unwrap();
    let out = xtask(&["--fork", f, "hooks", "install"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is a symlink"),
        "{}",
        text(&out.stderr)
    );
    assert!(!target.exists() && !fork.join("elsewhere").exists());
    let out = xtask(&["--fork", f, "hooks", "install", "--force"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!target.exists());
    let meta = std::fs::symlink_metadata(&hook).unwrap();
    assert!(meta.is_file(), "the hook replaced the link itself");
}

#[test]
fn adopt_excludes_target_without_touching_tracked_files() {
    let (_s, fork) = e4_copy("adopt");
    std::fs::write(fork.join(".gitignore"), "bundles/\n").unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&fork)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}");
        text(&out.stdout)
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "fork"]);
    std::fs::create_dir_all(fork.join("target/debug")).unwrap();
    std::fs::write(fork.join("target/debug/xtask"), "bin").unwrap();
    assert!(git(&["status", "--porcelain"]).contains("target/"));

    let out = xtask(&["--fork", fork.as_str(), "adopt"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exclude = std::fs::read_to_string(fork.join(".git/info/exclude")).unwrap();
    assert!(exclude.lines().any(|l| l == "/target/"), "{exclude}");
    // Nothing tracked changed, nothing new to commit, and target/ is out of git status.
    assert_eq!(git(&["status", "--porcelain"]), "");
    assert_eq!(
        std::fs::read_to_string(fork.join(".gitignore")).unwrap(),
        "bundles/\n"
    );
    assert!(!fork.join(".dockerignore").exists());

    let out = xtask(&["--fork", fork.as_str(), "adopt"], &[]);
    assert!(
        text(&out.stdout).contains("already excludes /target/"),
        "{out:?}"
    );
    let again = std::fs::read_to_string(fork.join(".git/info/exclude")).unwrap();
    assert_eq!(again, exclude);
}

#[test]
fn config_file_names_a_prebuilt_image() {
    let (_s, fork) = e4_copy("config");
    std::fs::write(
        fork.join(".moby-xtask.toml"),
        "[image]\nref = \"my/prebuilt:7\"\n",
    )
    .unwrap();
    let out = xtask(
        &[
            "--fork",
            fork.as_str(),
            "--commit",
            "x",
            "binary",
            "--dry-run",
        ],
        &[],
    );
    assert!(
        text(&out.stdout).contains(" my/prebuilt:7 hack/make.sh binary"),
        "{out:?}"
    );
    // --image still wins over the file.
    let out = xtask(
        &[
            "--fork",
            fork.as_str(),
            "--image",
            "flag/wins:1",
            "--commit",
            "x",
            "binary",
            "--dry-run",
        ],
        &[],
    );
    assert!(
        text(&out.stdout).contains(" flag/wins:1 hack/make.sh binary"),
        "{out:?}"
    );
}

#[test]
fn hooks_follow_git_for_a_tilde_and_refuse_a_global_hooks_path() {
    let (s, fork) = e4_copy("hooks-tilde");
    let home = s.dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let git = |args: &[&str]| {
        let st = std::process::Command::new("git")
            .args(args)
            .current_dir(&fork)
            .env("HOME", &home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("GIT_CONFIG_GLOBAL")
            .status()
            .unwrap();
        assert!(st.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    let env = [("HOME", home.as_str())];
    let f = fork.as_str();

    // `~/` in the fork's own core.hooksPath is the user's home, as git reads it.
    git(&["config", "core.hooksPath", "~/myhooks"]);
    let out = xtask(&["--fork", f, "hooks", "install"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(home.join("myhooks/pre-commit").is_file());
    assert!(
        !fork.join("~").exists(),
        "a literal ~ directory in the fork"
    );
    git(&["config", "--unset", "core.hooksPath"]);

    // A global core.hooksPath would put the hook in front of every repository: refused.
    std::fs::write(
        home.join(".gitconfig"),
        "[core]\n\thooksPath = ~/global-hooks\n",
    )
    .unwrap();
    let out = xtask(&["--fork", f, "hooks", "install"], &env);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("global") && err.contains("--force"), "{err}");
    assert!(!home.join("global-hooks").exists());
}

#[test]
fn adopt_keeps_an_exclude_file_that_is_not_utf8() {
    let (_s, fork) = e4_copy("adopt-bytes");
    let st = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(&fork)
        .status()
        .unwrap();
    assert!(st.success());
    let exclude = fork.join(".git/info/exclude");
    let before: &[u8] = b"# mine\n/caf\xe9/\n";
    std::fs::write(&exclude, before).unwrap();
    let out = xtask(&["--fork", fork.as_str(), "adopt"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = std::fs::read(&exclude).unwrap();
    assert!(after.starts_with(before), "{after:?}");
    assert!(text(&after).lines().any(|l| l == "/target/"));
}

/// The tool's runtime directory (`$TMPDIR/moby-xtask-<uid>` here) planted by another user as a
/// symlink to a directory of root's: refused in one line, nothing made or changed through it;
/// once it is gone, the directory is made `0700` and the locks in it `0600`.
#[test]
fn a_runtime_dir_planted_by_another_user_is_refused_and_not_followed() -> anyhow::Result<()> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    tests::e2e!();
    let s = tests::Scratch::new("runtime-planted");
    let victim = s.dir.join("victim");
    std::fs::create_dir_all(&victim)?;
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o755))?;
    std::fs::write(victim.join("f"), "precious")?;
    let planted = s.dir.join("moby-xtask-0");
    std::os::unix::fs::symlink(&victim, &planted)?;
    std::os::unix::fs::lchown(&planted, Some(1000), Some(1000))?;
    let fork = e4_fixture();
    let down = || xtask(&["--fork", &fork, "down"], &[("TMPDIR", s.dir.as_str())]);
    let out = down();
    let err = text(&out.stderr);
    anyhow::ensure!(out.status.code() == Some(1), "{err}");
    anyhow::ensure!(err.contains("symlink") && err.lines().count() <= 2, "{err}");
    let names: Vec<_> = std::fs::read_dir(&victim)?.collect();
    anyhow::ensure!(names.len() == 1, "something was made through the link");
    let meta = std::fs::metadata(&victim)?;
    anyhow::ensure!(meta.mode() & 0o777 == 0o755 && meta.uid() == 0);
    anyhow::ensure!(std::fs::read_to_string(victim.join("f"))? == "precious");

    std::fs::remove_file(&planted)?;
    let out = down();
    anyhow::ensure!(out.status.success(), "{}", text(&out.stderr));
    let meta = std::fs::symlink_metadata(&planted)?;
    anyhow::ensure!(meta.is_dir() && meta.mode() & 0o777 == 0o700);
    for e in std::fs::read_dir(&planted)? {
        let m = e?.metadata()?;
        anyhow::ensure!(m.mode() & 0o777 == 0o600, "a runtime file not 0600");
    }
    Ok(())
}
