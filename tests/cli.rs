//! The CLI without a daemon: task listing, global options, `--dry-run`, and the errors a user meets
//! first (no daemon, no `.git`, wrong fork, unknown bundle). Uses hack-compat's E4 fixture fork.

use tests::{text, workspace_root, xtask, Scratch};

fn e4_fixture() -> String {
    workspace_root()
        .join("hack-compat/tests/fixtures/e4")
        .to_string()
}

/// A scratch copy of the E4 fixture fork that a test may change (removed on drop of the Scratch).
fn e4_copy(tag: &str) -> (Scratch, camino::Utf8PathBuf) {
    let s = Scratch::new(tag);
    let fork = s.dir.join("fork");
    tests::copy_tree(
        &workspace_root().join("hack-compat/tests/fixtures/e4"),
        &fork,
    )
    .unwrap();
    (s, fork)
}

const NO_DAEMON: (&str, &str) = ("DOCKER_HOST", "unix:///nonexistent/docker.sock");

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
fn help_starts_with_cargo_xtask_usage_and_lists_output_options() {
    for args in [
        &["--help"][..],
        &["binary", "--help"],
        &["hooks", "install", "--help"],
    ] {
        let out = xtask(args, &[]);
        let help = text(&out.stdout);
        assert!(help.starts_with("Usage: cargo xtask"), "{args:?}: {help}");
        for opt in ["--quiet", "--verbose", "--color", "--json"] {
            assert!(help.contains(opt), "{args:?} lacks {opt}: {help}");
        }
    }
}

/// Every stdout line a JSON object with the task's name; the last one the exit code.
fn all_json(stdout: &str, task: &str, code: i64) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(!lines.is_empty(), "no JSON at all");
    for l in &lines {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert_eq!(v["task"], task, "{l}");
    }
    let last: serde_json::Value = serde_json::from_str(lines[lines.len() - 1]).unwrap();
    assert_eq!(last["status"], "finished", "{stdout}");
    assert_eq!(last["exit_code"], code, "{stdout}");
}

#[test]
fn json_makes_every_stdout_line_an_object() {
    let fork = e4_fixture();
    let out = xtask(
        &[
            "--json",
            "--fork",
            &fork,
            "binary",
            "--dry-run",
            "--commit",
            "abc1234",
        ],
        &[NO_DAEMON],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    all_json(&stdout, "binary", 0);
    assert!(
        stdout.contains("docker run --rm -i --privileged"),
        "{stdout}"
    );

    // An error: a JSON error event on stdout, the human line on stderr.
    let out = xtask(
        &["--json", "--fork", &fork, "binary", "--commit", "abc"],
        &[NO_DAEMON],
    );
    assert_eq!(out.status.code(), Some(1));
    all_json(&text(&out.stdout), "binary", 1);
    assert!(text(&out.stdout).contains("\"status\":\"error\""));
    assert!(text(&out.stderr).starts_with("error: cannot reach the Docker daemon"));

    let out = xtask(&["--json", "completions", "bash"], &[]);
    all_json(&text(&out.stdout), "completions", 0);

    let (_s, copy) = e4_copy("json-hooks");
    std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(&copy)
        .status()
        .unwrap();
    let out = xtask(
        &["--json", "--fork", copy.as_str(), "hooks", "install"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    all_json(&text(&out.stdout), "hooks", 0);
}

#[test]
fn completions_complete_the_tasks() {
    let out = xtask(&["completions", "bash"], &[]);
    assert!(out.status.success());
    let s = tests::Scratch::new("completions");
    let script = s.dir.join("c.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let probe = format!(
        "source {script}; COMP_WORDS=(cargo-xtask sm); COMP_CWORD=1; \
         _cargo__xtask cargo-xtask sm cargo-xtask; echo \"${{COMPREPLY[@]}}\""
    );
    let got = std::process::Command::new("bash")
        .args(["-c", &probe])
        .output()
        .unwrap();
    assert_eq!(text(&got.stdout).trim(), "smoke", "{}", text(&got.stderr));
}

#[test]
fn fork_is_found_from_a_directory_inside_it() {
    let inside = workspace_root().join("hack-compat/tests/fixtures/e4/hack/make");
    let out = xtask(
        &[
            "--fork",
            inside.as_str(),
            "binary",
            "--dry-run",
            "--commit",
            "abc",
        ],
        &[NO_DAEMON],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("-v {}:/go/src", e4_fixture())));
}

#[test]
fn quiet_hides_status_and_keeps_results() {
    let (_s, fork) = e4_copy("quiet");
    std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(&fork)
        .status()
        .unwrap();
    std::fs::write(fork.join(".git/hooks/pre-commit"), "#!/bin/sh\n").unwrap();
    let out = xtask(
        &["-q", "--fork", fork.as_str(), "hooks", "install", "--force"],
        &[],
    );
    assert!(out.status.success());
    assert!(!text(&out.stderr).contains("Kept"), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("installed"));
    let out = xtask(
        &["--fork", fork.as_str(), "hooks", "install", "--force"],
        &[],
    );
    assert!(out.status.success());
}

#[test]
fn a_fork_the_user_cannot_read_says_so() {
    if !std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0")
    {
        tests::skipped("needs root to make a fork another user cannot read");
        return;
    }
    let (s, fork) = e4_copy("unreadable");
    std::fs::set_permissions(&fork, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let _ = std::fs::set_permissions(&s.dir, std::os::unix::fs::PermissionsExt::from_mode(0o755));
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=1000", "--regid=1000", "--clear-groups"])
        .arg(tests::xtask_bin())
        .args([
            "--fork",
            fork.as_str(),
            "binary",
            "--dry-run",
            "--commit",
            "abc",
        ])
        .env("HOME", "/tmp")
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("permission denied") && !err.contains("not a moby checkout"),
        "{err}"
    );
}

#[test]
fn a_fork_path_with_a_colon_is_mounted_with_mount_syntax() {
    let s = Scratch::new("colon");
    let fork = s.dir.join("my:fork");
    tests::copy_tree(
        &workspace_root().join("hack-compat/tests/fixtures/e4"),
        &fork,
    )
    .unwrap();
    let out = xtask(
        &[
            "--fork",
            fork.as_str(),
            "binary",
            "--dry-run",
            "--commit",
            "abc",
        ],
        &[NO_DAEMON],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    assert!(
        line.contains(&format!(
            "--mount type=bind,source={fork},target=/go/src/github.com/docker/docker"
        )),
        "{line}"
    );
}

#[test]
fn doctor_names_what_is_missing() {
    let (s, fork) = e4_copy("doctor");
    let home = s.dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let st = std::process::Command::new("git")
        .args(["init", "-q", "-b", "master"])
        .current_dir(&fork)
        .status()
        .unwrap();
    assert!(st.success());
    let out = xtask(
        &["--fork", fork.as_str(), "doctor"],
        &[NO_DAEMON, ("HOME", home.as_str())],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    for missing in [
        "git user.name is not set",
        "git user.email is not set",
        "no `upstream` remote points at moby/moby",
        "git remote add upstream https://github.com/moby/moby.git",
        "cannot reach the Docker daemon",
    ] {
        assert!(stdout.contains(missing), "{missing} not in:\n{stdout}");
    }
}
