//! The library under dash, on the host: every real moby dev image's `/bin/sh` is dash, and a
//! bashism there (`kill --`) once left a Ctrl-C'd build running.

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::LIBRARY;

use crate::text::skipped;

fn dash() -> Option<Command> {
    if Command::new("dash").arg("-c").arg("true").status().is_err() {
        skipped("dash is not installed (apt-get install dash)");
        return None;
    }
    let mut c = Command::new("dash");
    c.arg("-c").arg(LIBRARY).arg("sh");
    Some(c)
}

/// The script exited 0; else its stderr is the failure.
fn succeeded(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn scratch(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("xtask-scripts-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Live (not zombie) processes whose process group is `pgid`.
fn live_members(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp …: comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() > 2 && f[2] == pgid.to_string() && f[0] != "Z" {
            out.push(pid);
        }
    }
    out
}

#[test]
fn parses_under_dash() {
    let Some(_) = dash() else { return };
    let out = Command::new("dash")
        .arg("-n")
        .arg("-c")
        .arg(LIBRARY)
        .output()
        .unwrap();
    succeeded(&out);
}

#[test]
fn group_stop_ends_the_whole_group_under_dash() {
    let Some(mut run) = dash() else { return };
    let dir = scratch("group");
    let pf = dir.join("pid");
    // A leader that ignores SIGTERM's default path for a while and two children, as `go build` has.
    let mut child = run
        .arg("group_run")
        .arg(&pf)
        .args(["sh", "-c", "sleep 60 & sleep 60 & wait"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let pgid = loop {
        if let Some(p) = std::fs::read_to_string(&pf)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        {
            if live_members(p).len() >= 3 {
                break p;
            }
        }
        assert!(t.elapsed() < Duration::from_secs(10), "group never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stop = dash().unwrap();
    let out = stop.arg("group_stop").arg(&pf).arg("20").output().unwrap();
    succeeded(&out);
    let _ = child.wait();
    assert!(
        live_members(pgid).is_empty(),
        "group {pgid} still has {:?}",
        live_members(pgid)
    );
    assert!(!pf.exists(), "pidfile left behind");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn group_run_passes_the_exit_code_and_stdin() {
    let Some(mut run) = dash() else { return };
    let dir = scratch("rc");
    let out = run
        .arg("group_run")
        .arg(dir.join("pid"))
        .args(["sh", "-c", "read l; echo got $l; exit 7"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"hello\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "got hello");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn install_copy_skips_checksums_and_follows_links() {
    let Some(mut run) = dash() else { return };
    let dir = scratch("install");
    let (src, dest) = (dir.join("src"), dir.join("dest"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(src.join("dockerd-dev"), "bin").unwrap();
    std::fs::write(src.join("dockerd-dev.sha256"), "x").unwrap();
    std::fs::write(src.join("dockerd-dev.md5"), "x").unwrap();
    std::os::unix::fs::symlink("dockerd-dev", src.join("dockerd")).unwrap();
    let out = run
        .arg("install_copy")
        .arg(&src)
        .arg(&dest)
        .output()
        .unwrap();
    succeeded(&out);
    let mut names: Vec<String> = std::fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["dockerd", "dockerd-dev"]);
    assert!(!std::fs::symlink_metadata(dest.join("dockerd"))
        .unwrap()
        .file_type()
        .is_symlink());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn give_back_hands_what_the_command_wrote_to_the_fork_owner() {
    let Some(mut run) = dash() else { return };
    if unsafe { libc::geteuid() } != 0 {
        skipped("give_back needs root to create root-owned files");
        return;
    }
    let dir = scratch("giveback");
    for d in ["dockerversion", ".git/objects"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    // Root-owned before the command began: not the command's, so it stays root's.
    std::fs::write(dir.join("dockerversion/before.go"), "x").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let since = format!("{}.{:09}", since.as_secs(), since.subsec_nanos());
    std::thread::sleep(Duration::from_millis(50));
    std::fs::create_dir_all(dir.join("bundles/binary-daemon")).unwrap();
    std::fs::write(dir.join("bundles/binary-daemon/dockerd"), "x").unwrap();
    std::fs::write(dir.join("dockerversion/version_autogen.go"), "x").unwrap();
    std::fs::write(dir.join(".git/FETCH_HEAD"), "").unwrap();
    std::os::unix::fs::symlink("dockerd", dir.join("bundles/binary-daemon/link")).unwrap();
    // Unpacked as `tar x` unpacks: directories whose mtime is set back to the archive's.
    std::fs::create_dir_all(dir.join("vendor/x/y")).unwrap();
    std::fs::write(dir.join("vendor/x/y/z.go"), "x").unwrap();
    for d in ["vendor/x/y", "vendor/x"] {
        let old = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        std::fs::File::open(dir.join(d))
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    // The fork root is the owner's, as the container sees it on a rootful engine.
    std::os::unix::fs::chown(&dir, Some(1000), Some(1001)).unwrap();
    let out = run
        .current_dir(&dir)
        .args(["give_back", &since])
        .output()
        .unwrap();
    succeeded(&out);
    let owner = |p: &str| {
        let m = std::fs::symlink_metadata(dir.join(p)).unwrap();
        (m.uid(), m.gid())
    };
    for p in [
        "bundles",
        "bundles/binary-daemon/dockerd",
        "bundles/binary-daemon/link",
        "dockerversion/version_autogen.go",
        ".git/FETCH_HEAD",
        "vendor/x",
        "vendor/x/y/z.go",
    ] {
        assert_eq!(owner(p), (1000, 1001), "{p}");
    }
    assert_eq!(owner("dockerversion/before.go"), (0, 0));

    // Where the fork root is root's as the container sees it (a rootless engine: container root
    // is the owner), nothing is re-owned.
    std::os::unix::fs::chown(&dir, Some(0), Some(0)).unwrap();
    std::fs::write(dir.join("bundles/after"), "x").unwrap();
    let out = dash()
        .unwrap()
        .current_dir(&dir)
        .args(["give_back", &since])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(owner("bundles/after"), (0, 0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reap_stops_left_groups_and_clears_dead_pidfiles() {
    let Some(mut run) = dash() else { return };
    let dir = scratch("reap");
    let prefix = dir.join("work-");
    let live = dir.join("work-a.pid");
    let mut child = run
        .arg("group_run")
        .arg(&live)
        .args(["sleep", "60"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !live.exists() {
        assert!(t.elapsed() < Duration::from_secs(10), "never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(dir.join("work-dead.pid"), "999999999\n").unwrap();
    std::fs::write(dir.join("shell-b.pid"), "1\n").unwrap();
    let out = dash()
        .unwrap()
        .arg("reap")
        .arg(prefix.as_os_str())
        .output()
        .unwrap();
    succeeded(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    let _ = child.wait();
    assert!(!live.exists() && !dir.join("work-dead.pid").exists());
    // Another prefix is not touched.
    assert!(dir.join("shell-b.pid").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shellcheck_is_clean() {
    let probe = Command::new("shellcheck").arg("--version").output();
    if probe.is_err() {
        skipped("shellcheck is not installed (apt-get install shellcheck); CI runs it");
        return;
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/dev/scripts.sh");
    let out = Command::new("shellcheck").args(["-s", "sh", path]).output();
    let out = out.unwrap();
    // shellcheck reports on stdout.
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn each_exec_carries_only_what_its_function_needs() {
    let run = super::script_for("group_run");
    assert!(run.contains("group_run() {"), "{run}");
    // What group_run does not need is left out (each of these is in the library).
    for other in ["reap() {", "daemon_stop() {", "give_back() {"] {
        assert!(LIBRARY.contains(other), "{other} is not in the library");
        assert!(!run.contains(other), "{other} carried by group_run:\n{run}");
    }
    let reap = super::script_for("reap");
    for f in ["reap() {", "group_stop() {", "alive() {"] {
        assert!(reap.contains(f), "{f} missing:\n{reap}");
    }
    assert!(super::script_for("daemon_stop")
        .contains("DOCKERD_PIDFILE=/var/run/moby-xtask-dockerd.pid"));
    // Every function, alone with what it needs, is a valid script under dash.
    if dash().is_none() {
        return;
    }
    let names: Vec<String> = LIBRARY
        .lines()
        .filter_map(|l| l.strip_suffix("() {").map(str::to_string))
        .collect();
    assert!(names.len() >= 12, "{names:?}");
    for name in names {
        let out = Command::new("dash")
            .args(["-n", "-c", &super::script_for(&name)])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn daemon_stop_ends_dockerd_once_it_is_shut_down_and_its_containerd_gone() {
    if dash().is_none() {
        return;
    }
    let dir = scratch("stop");
    let (pf, log, fifo) = (
        dir.join("dockerd.pid"),
        dir.join("dockerd.log"),
        dir.join("never"),
    );
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let lib = LIBRARY.replace(
        "DOCKERD_PIDFILE=/var/run/moby-xtask-dockerd.pid",
        &format!("DOCKERD_PIDFILE={}", pf.display()),
    );
    let sh = |args: &[&str]| {
        Command::new("dash")
            .arg("-c")
            .arg(&lib)
            .arg("sh")
            .args(args)
            .output()
            .unwrap()
    };
    // A stand-in dockerd: on SIGTERM it logs its clean shutdown (as `--debug` does), stops its
    // child (its containerd), and then lingers without a child (the supervisor's once-a-second
    // poll, here forever: a read of a FIFO nobody writes).
    let fake = format!(
        r#"trap 'echo "level=debug msg=\"Clean shutdown succeeded\""; kill $c; wait $c; read -r x <{fifo}' TERM; sleep 600 & c=$!; wait $c"#,
        fifo = fifo.display()
    );
    let log_s = log.display().to_string();
    succeeded(&sh(&["daemon_start", &log_s, "sh", "-c", &fake]));
    let started = Instant::now();
    while !pf.exists() && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200)); // its child started
    let pid = std::fs::read_to_string(&pf).unwrap().trim().to_string();
    // Bound 5 s: only the end of its own work (not its exit, which never comes) ends it
    // without the SIGKILL past the bound (exit 9).
    let out = sh(&["daemon_stop", "50"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // Gone, or a zombie its new parent has not reaped yet.
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = state.rsplit(") ").next().unwrap_or_default();
    assert!(state.is_empty() || state.starts_with('Z'), "{state}");
    assert!(!pf.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
