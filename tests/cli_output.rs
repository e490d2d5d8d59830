//! The CLI's shape without a daemon: help that starts with `cargo xtask`, `--json` on every
//! stdout line, completions, `--quiet`, the fork found from inside it, paths and permissions a
//! user's fork may have, and `doctor` naming what is missing.

use tests::{e4_copy, e4_fixture, fixture_fork, text, xtask, Scratch, NO_DAEMON};

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
    let s = Scratch::new("completions");
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
    let inside = fixture_fork("e4").join("hack/make");
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
    if !tests::as_root("needs root to make a fork another user cannot read") {
        return;
    }
    let (s, fork) = e4_copy("unreadable");
    std::fs::set_permissions(&fork, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let _ = std::fs::set_permissions(&s.dir, std::os::unix::fs::PermissionsExt::from_mode(0o755));
    let mut setpriv = std::process::Command::new("setpriv");
    let out = tests::strip_env(&mut setpriv)
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
    tests::copy_tree(&fixture_fork("e4"), &fork).unwrap();
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
