//! The tool around the fork's command, on a fork whose scripts answer at once with a chosen exit
//! code (`support/stub.rs`; the rest is Debian's real 20.10.24 tree, the real daemon, the real
//! dev image):
//!
//! - the exit-code table: the fork's command exits 0, 1 or 3 after some tests passed, for each
//!   task that runs one (a split with one failing share, and a share whose second part breaks,
//!   included); the tool's exit code is non-zero exactly when the fork's is, and the part is named;
//! - the fault matrix: each failpoint of the tool (`xtask/src/fail.rs`) × {error, signal} (and
//!   one panic); afterwards no one-shot container, no process of the command, no lock held, no
//!   temporary file, every file of the fork (`.git/` included) the owner's, `git status` as it
//!   was, and a non-zero exit code.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use tests::stub::StubFork;
use tests::{containers_with_role, text, Scratch, Steps, MOBY_2010};

const OWNER: u32 = 1000;
/// Both shares on this one engine, by two names (they take turns on its work lock).
const TWO_SHARES: &str = "local,unix:///var/run/docker.sock";
const SPLIT_DIRS: &[&str] = &["integration/system", "integration/container"];

fn fork(tag: &str) -> Result<(Scratch, StubFork)> {
    // The same frozen images as integration_e2e's 20.10 run: one image for both tiers.
    let image = MOBY_2010.suites_dev_image("debian:bullseye-slim")?;
    let s = Scratch::new(tag);
    let f = StubFork::new(&s, OWNER, &image)?;
    Ok((s, f))
}

/// The tasks that run a fork command, as a user types them.
fn tasks() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut split = vec!["test", "integration", "--engines", TWO_SHARES];
    split.extend_from_slice(SPLIT_DIRS);
    vec![
        ("binary", vec!["binary"]),
        ("install", vec!["install", "--build"]),
        ("smoke", vec!["smoke"]),
        ("run", vec!["run", "--build"]),
        ("test unit", vec!["test", "unit"]),
        (
            "test integration",
            vec!["test", "integration", "integration/system"],
        ),
        ("validate", vec!["validate"]),
        ("split", split),
    ]
}

#[test]
fn the_exit_code_is_the_fork_s() -> Result<()> {
    tests::e2e!();
    let (_s, f) = fork("e2e-exit-codes")?;
    let mut steps = Steps::new("exit codes");
    for code in ["0", "1", "3"] {
        for (name, args) in tasks() {
            steps.step(format!("{name}, the fork's command exits {code}"), || {
                // One share of the split fails, the other passes.
                let (exit, share) = match name {
                    "split" => (None, Some(code)),
                    _ => (Some(code), None),
                };
                f.set("exit", exit)?;
                f.set("exit-integration-system", share)?;
                let out = f.run(&args, &[])?;
                let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
                let got = out.status.code();
                println!("exit-code table: {name:<17} fork {code} -> tool {got:?}");
                let all = format!("{stdout}\n{stderr}");
                match (name, code) {
                    // The stub's dockerd is no daemon: these get past the fork's command and
                    // stop at the daemon, which they name.
                    ("smoke", "0") => {
                        ensure!(got == Some(1) && stdout.contains("FAIL at start"), "{all}")
                    }
                    ("run", "0") => ensure!(
                        got == Some(1) && !all.contains("hack/make.sh binary` failed"),
                        "{all}"
                    ),
                    (_, "0") => ensure!(got == Some(0), "{all}"),
                    _ => ensure!(got.is_some_and(|c| c != 0), "{all}"),
                }
                if code != "0" {
                    ensure!(
                        all.contains(&format!("exit {code}"))
                            || all.contains(&format!("exited {code}"))
                            || all.contains(&format!("exit code {code}")),
                        "the failing part is not named with its exit code:\n{all}"
                    );
                }
                if name == "split" && code != "0" {
                    ensure!(all.contains("its share failed"), "{all}");
                }
                Ok(())
            });
        }
    }
    steps.step(
        "a share whose second part breaks after the first passed",
        || {
            f.set("exit", None)?;
            f.set("exit-integration-system", None)?;
            f.set("exit-cli", Some("3"))?;
            let out = f.run(
                &[
                    "test",
                    "integration",
                    "--shard-units",
                    "integration/system,integration-cli/DockerSuite",
                ],
                &[],
            )?;
            let all = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
            println!(
                "exit-code table: second part exits 3 -> tool {:?}",
                out.status.code()
            );
            ensure!(out.status.code() == Some(1), "{all}");
            ensure!(
                all.contains("integration-cli/DockerSuite") && all.contains("exited 3"),
                "{all}"
            );
            f.set("exit-cli", None)
        },
    );
    steps.finish();
    Ok(())
}

/// Each failpoint and a command that reaches it.
fn points() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut split = vec!["test", "integration", "--engines", TWO_SHARES];
    split.extend_from_slice(SPLIT_DIRS);
    vec![
        ("after-lock", vec!["binary"]),
        ("after-up", vec!["binary", "--rm"]),
        ("after-create", vec!["binary", "--rm"]),
        ("after-build", vec!["binary", "--force"]),
        ("before-hand-back", vec!["binary"]),
        ("after-install", vec!["install", "--build"]),
        ("daemon-start", vec!["smoke"]),
        ("after-tests", vec!["test", "unit"]),
        (
            "after-tests",
            vec!["test", "integration", "integration/system"],
        ),
        ("after-check", vec!["validate"]),
        ("split-child-start", split),
    ]
}

#[test]
fn every_failpoint_leaves_nothing_behind() -> Result<()> {
    tests::e2e!();
    let (_s, f) = fork("e2e-faults")?;
    let mut steps = Steps::new("faults");
    // A first build and the dev container, as a contributor has them.
    steps.needs("a first binary", || {
        let out = f.run(&["binary"], &[])?;
        ensure!(out.status.success(), "{}", text(&out.stderr));
        f.owned()
    });
    let status = git_status(&f)?;
    let mut cells: Vec<(&str, Vec<&str>, &str)> = Vec::new();
    for (point, args) in points() {
        for action in ["error", "signal"] {
            cells.push((point, args.clone(), action));
        }
    }
    cells.push(("before-hand-back", vec!["test", "unit"], "panic"));
    let mut reached = 0;
    for (point, args, action) in cells {
        let name = format!("{point}={action}: {}", args.join(" "));
        steps.step(&name, || {
            let armed = format!("{point}={action}");
            let out = f.run(&args, &[("MOBY_XTASK_FAILPOINT", &armed)])?;
            let all = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
            let want = match action {
                "signal" => Some(130),
                "panic" => Some(101),
                _ => Some(1),
            };
            println!("fault matrix: {name} -> exit {:?}", out.status.code());
            ensure!(
                out.status.code() == want,
                "exit {:?}, not {want:?}:\n{all}",
                out.status.code()
            );
            if action == "error" {
                ensure!(
                    all.contains(&format!("failpoint {point}")),
                    "the error is not said:\n{all}"
                );
            }
            let left = leftovers(&f, &status)?;
            ensure!(left.is_empty(), "left behind: {}\n{all}", left.join("; "));
            reached += 1;
            Ok(())
        });
    }
    steps.step("the next command works", || {
        let out = f.run(&["binary"], &[])?;
        ensure!(out.status.success(), "{}", text(&out.stderr));
        Ok(())
    });
    println!("fault matrix: {reached} cells clean");
    steps.finish();
    Ok(())
}

fn git_status(f: &StubFork) -> Result<String> {
    // `--no-optional-locks`: a status run as root must not rewrite the index (as root).
    let out = Command::new("git")
        .args(["--no-optional-locks", "status", "--porcelain"])
        .current_dir(&f.g.fork)
        .env("HOME", &f.g.home)
        .output()?;
    Ok(text(&out.stdout))
}

/// What a command left: processes of the stub in the dev container (waited for up to 10 s),
/// one-shot containers, locks still held and temporary files in the runtime and cache
/// directories, files of the fork not the owner's, a changed `git status`.
fn leftovers(f: &StubFork, status: &str) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let t = Instant::now();
    loop {
        let procs = stub_processes(f)?;
        if procs.is_empty() {
            break;
        }
        if t.elapsed() > Duration::from_secs(10) {
            found.extend(procs.into_iter().map(|p| format!("process: {p}")));
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let fork = &f.g.fork;
    for c in containers_with_role(fork, "oneshot") {
        found.push(format!("one-shot container {c}"));
    }
    for dir in [f.tmp.clone(), f.g.home.join(".cache/moby-xtask")] {
        for file in files_under(dir.as_str())? {
            if file.contains(".tmp") {
                found.push(format!("temporary file {file}"));
            }
            let free = Command::new("flock")
                .args(["-n", "-x", &file, "true"])
                .status()?;
            if !free.success() {
                found.push(format!("lock still held: {file}"));
            }
        }
    }
    if let Err(e) = f.owned() {
        found.push(format!("{e:#}"));
    }
    let now = git_status(f)?;
    if now != status {
        found.push(format!("git status changed: {now}"));
    }
    Ok(found)
}

fn files_under(dir: &str) -> Result<Vec<String>> {
    let out = Command::new("find").args([dir, "-type", "f"]).output()?;
    Ok(text(&out.stdout).lines().map(str::to_string).collect())
}

/// The stub's processes (its sleep, its shell) and any dockerd in the dev container.
fn stub_processes(f: &StubFork) -> Result<Vec<String>> {
    tests::dev_container_processes(&f.g.fork, &["hack/", "sleep ", "dockerd"])
}
