//! `test integration` and `test unit` on Debian's moby 20.10.24 (E4) and 26.1.5 (E6): one
//! integration test selected by `--run` runs against the daemon the fork's own
//! `hack/make.sh dynbinary test-integration` builds and starts, with the frozen images made
//! locally (no registry); without them, the tool names the images and the directory before
//! building anything; and `run`'s `DELVE_PORT` mode on 26.1.5, continued by Debian's `dlv`.

use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Result};
use tests::{owned_by, test_summary, text, GitFork, Running, Scratch, MOBY_2010, MOBY_2615};

const OWNER: u32 = 1000;
/// This host's outer daemon may use a driver that does not nest (fuse-overlayfs); the suites'
/// daemon gets vfs, as a contributor on such a host sets it.
const ENV: &[(&str, &str)] = &[("DOCKER_GRAPHDRIVER", "vfs")];

/// `test integration --run TestVersion`: exactly that test, passed, from gotestsum's report.
fn one_integration_test(g: &GitFork, image: &str) -> Result<()> {
    let out = g.xtask_past_fs_flake(image, &["test", "integration", "--run", "TestVersion"], ENV);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    ensure!(
        out.status.success(),
        "test integration:\n{stdout}\n{stderr}"
    );
    ensure!(test_summary(&stdout) == Some((1, 0, 0)), "{stdout}");
    ensure!(
        stdout.contains("--- PASS: TestVersion"),
        "no PASS line:\n{stdout}\n{stderr}"
    );
    ensure!(
        g.fork
            .join("bundles/test-integration")
            .read_dir()?
            .filter_map(|e| e.ok())
            .any(|e| e
                .file_name()
                .to_string_lossy()
                .ends_with("go-test-report.json")),
        "no gotestsum report in bundles/test-integration"
    );
    Ok(())
}

#[test]
fn integration_test_by_name_on_debian_moby_20_10_24() -> Result<()> {
    tests::e2e!();
    let s = Scratch::new("e2e-integration-2010");
    let g = GitFork::of(&MOBY_2010, &s, OWNER)?;
    // Without the frozen images and with no registry: the images and where the suites look,
    // before anything is built.
    let plain = MOBY_2010.dev_image()?;
    let out = g.xtask_past_fs_flake(plain, &["test", "integration", "--run", "TestVersion"], ENV);
    let stderr = text(&out.stderr);
    ensure!(out.status.code() == Some(1), "{stderr}");
    for word in [
        "busybox:latest",
        "hello-world:latest",
        "debian:bullseye-slim",
        "/docker-frozen-images",
    ] {
        ensure!(stderr.contains(word), "{word} not named:\n{stderr}");
    }
    ensure!(
        !g.fork.join("bundles/dynbinary-daemon").exists(),
        "built anyway"
    );
    // Anchors, which the fork's filter grep never matches: refused, with the way that works.
    let out = g.xtask(
        plain,
        &["test", "integration", "--run", "^TestVersion$"],
        ENV,
    );
    ensure!(
        out.status.code() == Some(1) && text(&out.stderr).contains("--run TestVersion"),
        "{}",
        text(&out.stderr)
    );
    // A directory that is not the fork's: refused, naming it.
    let out = g.xtask(plain, &["test", "integration", "integration/nope"], ENV);
    ensure!(
        out.status.code() == Some(1) && text(&out.stderr).contains("integration/nope"),
        "{}",
        text(&out.stderr)
    );
    let image = MOBY_2010.suites_dev_image("debian:bullseye-slim")?;
    one_integration_test(&g, &image)?;
    twice_in_a_row(&g, &image)?;
    flaky_and_repeated(&g, &image)?;
    kept_daemon(&g, &image)
}

/// `--keep-daemon`: the first run starts the test daemon and leaves it; the second builds
/// nothing, starts none (the same pid; the fork's own start line is not in its output) and
/// passes; `--watch` reruns the test after an edit of its file, against the kept daemon; a
/// Ctrl-C during a run (and of the watch) leaves no daemon; `--keep-daemon=stop` when none runs
/// says so.
fn kept_daemon(g: &GitFork, image: &str) -> Result<()> {
    let args = [
        "test",
        "integration",
        "--keep-daemon",
        "--run",
        "TestVersion",
        "integration/system",
    ];
    let pidfile = g.fork.join("bundles/.integration-daemon-start/docker.pid");
    let out = g.xtask(image, &args, ENV);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    ensure!(out.status.success(), "first:\n{stdout}\n{stderr}");
    ensure!(
        stderr.contains("Starting a test daemon to keep"),
        "{stderr}"
    );
    let first = fs_err::read_to_string(&pidfile)?.trim().to_string();
    let out = g.xtask(image, &args, ENV);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    ensure!(out.status.success(), "second:\n{stdout}\n{stderr}");
    ensure!(test_summary(&stdout) == Some((1, 0, 0)), "{stdout}");
    ensure!(
        stderr.contains(&format!("Reusing the kept test daemon (pid {first},"))
            && stderr.contains("Fresh `hack/make.sh dynbinary`")
            && !stderr.contains("Starting a test daemon"),
        "{stderr}"
    );
    ensure!(
        !stdout.contains("Starting dockerd"),
        "the fork started a daemon:\n{stdout}"
    );
    ensure!(
        fs_err::read_to_string(&pidfile)?.trim() == first,
        "another pid"
    );
    owned_by(&g.fork, 1000)?;

    // A run without --keep-daemon starts its own daemon: the kept one is stopped first (both
    // would use the container's /var/lib/docker).
    let plain = [
        "test",
        "integration",
        "--run",
        "TestVersion",
        "integration/system",
    ];
    let out = g.xtask(image, &plain, ENV);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    ensure!(
        out.status.success(),
        "plain after kept:\n{stdout}\n{stderr}"
    );
    ensure!(
        stderr.contains("stopped the test daemon `test integration --keep-daemon` kept"),
        "{stderr}"
    );

    // --watch: a change to the package's test file reruns it against the kept daemon.
    let mut all = vec!["--fork", g.fork.as_str(), "--image", image];
    all.extend([
        "test",
        "integration",
        "--watch",
        "--run",
        "TestVersion",
        "integration/system",
    ]);
    let mut env = ENV.to_vec();
    env.push(("HOME", g.home.as_str()));
    let mut run = Running::spawn(&all, &env)?;
    run.wait_for("Watching", Duration::from_secs(300))?;
    let test = g.fork.join("integration/system/version_test.go");
    let original = fs_err::read_to_string(&test)?;
    fs_err::write(&test, format!("{original}\n// edited by the test\n"))?;
    run.wait_for(
        "Changed integration/system/version_test.go",
        Duration::from_secs(60),
    )?;
    let passes = |out: &str| out.matches("1 passed, 0 failed, 0 skipped").count();
    let t = std::time::Instant::now();
    while passes(&run.output()) < 2 && t.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = run.output();
    ensure!(passes(&out) == 2, "no rerun after the edit:\n{out}");
    ensure!(out.contains("Reusing the kept test daemon (pid "), "{out}");
    run.signal("INT")?;
    let (code, out) = run.finish(Duration::from_secs(120))?;
    ensure!(code == Some(130), "exit {code:?}:\n{out}");
    tests::nothing_runs_in_the_dev_container(&g.fork, "dockerd")?;
    fs_err::write(&test, original)?;
    owned_by(&g.fork, 1000)?;
    // Back to a kept daemon for the Ctrl-C below.
    let out = g.xtask(image, &args, ENV);
    ensure!(out.status.success(), "{}", text(&out.stderr));

    // Ctrl-C while a run tests against the kept daemon: it goes too.
    let mut all = vec!["--fork", g.fork.as_str(), "--image", image];
    all.extend(args);
    let mut env = ENV.to_vec();
    env.push(("HOME", g.home.as_str()));
    let mut run = Running::spawn(&all, &env)?;
    run.wait_for("Testing", Duration::from_secs(120))?;
    std::thread::sleep(Duration::from_secs(1));
    run.signal("INT")?;
    let (code, out) = run.finish(Duration::from_secs(120))?;
    ensure!(code == Some(130), "exit {code:?}:\n{out}");
    tests::nothing_runs_in_the_dev_container(&g.fork, "dockerd")?;
    owned_by(&g.fork, 1000)?;
    let out = g.xtask(image, &["test", "integration", "--keep-daemon=stop"], ENV);
    ensure!(
        out.status.success() && text(&out.stdout).contains("no kept test daemon runs"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    Ok(())
}

/// A test of the fork's own package that fails on its first run and passes after (a marker
/// file in its package directory, where the fork's script runs it).
const FLAKY_TEST: &str = r#"package system

import (
	"os"
	"testing"
)

func TestXtaskFlaky(t *testing.T) {
	if _, err := os.Stat("xtask-flaky-marker"); err != nil {
		_ = os.WriteFile("xtask-flaky-marker", nil, 0o644)
		t.Fatal("the first attempt fails on purpose")
	}
}
"#;

/// `--rerun-fails`: the flaky test named, exit 1; with `--allow-flaky`, exit 0; `--count 3`:
/// three runs of the test, counted.
fn flaky_and_repeated(g: &GitFork, image: &str) -> Result<()> {
    let dir = g.fork.join("integration/system");
    fs_err::write(dir.join("xtask_flaky_test.go"), FLAKY_TEST)?;
    let marker = dir.join("xtask-flaky-marker");
    let run = [
        "test",
        "integration",
        "--run",
        "TestXtaskFlaky",
        "--rerun-fails",
    ];
    for allow in [false, true] {
        let _ = fs_err::remove_file(&marker);
        let mut args = run.to_vec();
        if allow {
            args.push("--allow-flaky");
        }
        let out = g.xtask(image, &args, ENV);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        let want = if allow { 0 } else { 1 };
        ensure!(
            out.status.code() == Some(want),
            "{args:?}:\n{stdout}\n{stderr}"
        );
        ensure!(
            stdout.contains("0 passed, 1 failed, 0 skipped (attempt 1)")
                && stdout.contains("1 passed, 0 failed, 0 skipped (attempt 2)"),
            "{stdout}"
        );
        ensure!(
            stdout.lines().any(|l| l.starts_with("FLAKY ")
                && l.ends_with("TestXtaskFlaky: failed, then passed on attempt 2")),
            "{stdout}"
        );
        ensure!(test_summary(&stdout) == Some((1, 0, 0)), "{stdout}");
    }
    let out = g.xtask(
        image,
        &[
            "test",
            "integration",
            "--run",
            "TestVersion",
            "--count",
            "3",
            "integration/system",
        ],
        ENV,
    );
    let stdout = text(&out.stdout);
    ensure!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    ensure!(test_summary(&stdout) == Some((3, 0, 0)), "{stdout}");
    ensure!(
        stdout.contains("1 test(s), each run 3 times: 0 failed at least once"),
        "{stdout}"
    );
    // Ctrl-C during the rerun and during a counted run: nothing left running, all the owner's.
    for (args, after) in [
        (run.to_vec(), "Rerunning"),
        (
            vec![
                "test",
                "integration",
                "--run",
                "TestVersion",
                "--count",
                "3",
                "integration/system",
            ],
            "Testing",
        ),
    ] {
        let _ = fs_err::remove_file(&marker);
        let mut all = vec!["--fork", g.fork.as_str(), "--image", image];
        all.extend(args);
        let mut env = ENV.to_vec();
        env.push(("HOME", g.home.as_str()));
        let mut running = Running::spawn(&all, &env)?;
        running.wait_for(after, Duration::from_secs(300))?;
        std::thread::sleep(Duration::from_secs(2));
        running.signal("INT")?;
        let (code, out) = running.finish(Duration::from_secs(120))?;
        ensure!(code == Some(130), "exit {code:?}:\n{out}");
        tests::nothing_runs_in_the_dev_container(&g.fork, "dockerd")?;
        tests::nothing_runs_in_the_dev_container(&g.fork, "test.main")?;
    }
    fs_err::remove_file(dir.join("xtask_flaky_test.go"))?;
    let _ = fs_err::remove_file(&marker);
    unit_flaky(g, image)?;
    owned_by(&g.fork, 1000)
}

/// `test unit --rerun-fails` on a unit test made flaky the same way: named, exit 1; its
/// `--json` events carry the attempt; `--count 2` runs it twice.
fn unit_flaky(g: &GitFork, image: &str) -> Result<()> {
    let dir = g.fork.join("pkg/xtaskflaky");
    fs_err::create_dir_all(&dir)?;
    fs_err::write(
        dir.join("flaky_test.go"),
        FLAKY_TEST.replace("package system", "package xtaskflaky"),
    )?;
    let out = g.xtask(
        image,
        &[
            "--json",
            "test",
            "unit",
            "./pkg/xtaskflaky",
            "--rerun-fails",
        ],
        &[],
    );
    let stdout = text(&out.stdout);
    ensure!(
        out.status.code() == Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    ensure!(
        events
            .iter()
            .any(|e| e["step"] == "test" && e["status"] == "failed" && e["attempt"] == 1),
        "no failed test event of attempt 1:\n{stdout}"
    );
    ensure!(
        events
            .iter()
            .any(|e| e["step"] == "flaky" && e["test"] == "TestXtaskFlaky" && e["attempt"] == 2),
        "no flaky event:\n{stdout}"
    );
    let _ = fs_err::remove_file(dir.join("xtask-flaky-marker"));
    let out = g.xtask(
        image,
        &["test", "unit", "./pkg/xtaskflaky", "--count", "2"],
        &[],
    );
    let stdout = text(&out.stdout);
    // The first of the two runs fails (no marker yet), the second passes.
    ensure!(out.status.code() == Some(1), "{stdout}");
    ensure!(
        stdout.contains("TestXtaskFlaky: failed 1 of 2 runs")
            && stdout.contains("1 test(s), each run 2 times: 1 failed at least once"),
        "{stdout}"
    );
    fs_err::remove_dir_all(&dir)?;
    Ok(())
}

/// The same run twice: both pass, and afterwards no test daemon and no mount under the fork
/// is left in the dev container (the second run could not remove the first's bundle before).
fn twice_in_a_row(g: &GitFork, image: &str) -> Result<()> {
    let args = [
        "test",
        "integration",
        "--run",
        "TestVersion|TestInfoAPI",
        "integration/system",
    ];
    for round in 1..=2 {
        let out = g.xtask(image, &args, ENV);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        ensure!(out.status.success(), "round {round}:\n{stdout}\n{stderr}");
        let (passed, failed, _) = test_summary(&stdout).unwrap_or_default();
        ensure!(passed >= 2 && failed == 0, "round {round}:\n{stdout}");
        tests::nothing_runs_in_the_dev_container(&g.fork, "dockerd")?;
        for id in tests::containers_with_role(&g.fork, "dev") {
            let mounts = Command::new("docker")
                .args(["exec", &id, "cat", "/proc/self/mountinfo"])
                .output()?;
            let under: Vec<String> = text(&mounts.stdout)
                .lines()
                .filter(|l| l.contains(&format!(" {}/", g.fork)))
                .map(str::to_string)
                .collect();
            ensure!(
                under.iter().all(|l| !l.contains("/bundles/")),
                "round {round}: mounts left under the fork's bundles/:\n{}",
                under.join("\n")
            );
            let links = Command::new("docker")
                .args(["exec", &id, "ip", "-o", "link", "show", "type", "bridge"])
                .output()?;
            let bridges = text(&links.stdout);
            ensure!(
                links.status.success() && !bridges.contains("docker0") && !bridges.contains("br-"),
                "round {round}: bridges left in the dev container: {bridges}{}",
                text(&links.stderr)
            );
        }
    }
    Ok(())
}

#[test]
fn unit_and_integration_tests_on_debian_moby_26_1_5() -> Result<()> {
    tests::e2e!();
    let s = Scratch::new("e2e-integration-2615");
    let g = GitFork::of(&MOBY_2615, &s, OWNER)?;
    let frozen = MOBY_2615.suites_dev_image("debian:bookworm-slim")?;
    let (image, dlv) = MOBY_2615.delve_dev_image(&frozen)?;
    let out = g.xtask(&image, &["test", "unit", "./pkg/stringid"], &[]);
    let stdout = text(&out.stdout);
    ensure!(
        out.status.success(),
        "test unit:\n{stdout}\n{}",
        text(&out.stderr)
    );
    ensure!(
        test_summary(&stdout).is_some_and(|(p, f, _)| p > 0 && f == 0),
        "{stdout}"
    );
    let out = g.xtask(
        &image,
        &[
            "test",
            "unit",
            "./pkg/stringid",
            "--run",
            "^TestGenerateRandomID$",
        ],
        &[],
    );
    ensure!(
        test_summary(&text(&out.stdout)) == Some((1, 0, 0)),
        "{}",
        text(&out.stdout)
    );
    one_integration_test(&g, &image)?;
    delve_mode(&g, &image, &dlv)
}

/// `run` with `DELVE_PORT`: dockerd under `dlv exec` on the published port, waiting for a
/// debugger; once a client continues it, it answers the host; Ctrl-C leaves nothing running.
fn delve_mode(g: &GitFork, image: &str, dlv: &camino::Utf8Path) -> Result<()> {
    let out = g.binary(image);
    ensure!(out.status.success(), "binary:\n{}", text(&out.stderr));
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let delve_port = format!("127.0.0.1:{port}:2345");
    let args = ["--fork", g.fork.as_str(), "--image", image, "run"];
    let env = [
        ("HOME", g.home.as_str()),
        ("DELVE_PORT", delve_port.as_str()),
    ];
    let mut run = tests::Running::spawn(&args, &env)?;
    run.wait_for(
        &format!("dlv connect 127.0.0.1:{port}"),
        Duration::from_secs(120),
    )?;
    run.wait_for("API server listening at", Duration::from_secs(60))?;
    let init = g.home.join("dlv-init");
    fs_err::write(&init, "continue\n")?;
    let mut client = Command::new(dlv.as_str())
        .args([
            "connect",
            &format!("127.0.0.1:{port}"),
            "--init",
            init.as_str(),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let up = run.wait_for(
        "dockerd is up: export DOCKER_HOST=",
        Duration::from_secs(120),
    );
    let socket = format!("unix://{}/bundles/xtask-run/docker.sock", g.fork);
    let v = Command::new("docker")
        .args(["-H", &socket, "version", "--format", "{{.Server.Version}}"])
        .output()?;
    if let Err(e) = run.signal("INT") {
        anyhow::bail!("{e}: `run` had ended:\n{}", run.output());
    }
    let (code, out) = run.finish(Duration::from_secs(60))?;
    let _ = client.kill();
    let _ = client.wait();
    up?;
    ensure!(v.status.success(), "docker version under dlv: {v:?}\n{out}");
    ensure!(
        out.contains("dlv") && out.contains("--headless=true"),
        "{out}"
    );
    ensure!(code == Some(130), "run after Ctrl-C: {code:?}\n{out}");
    let ctr = tests::containers_with_role(&g.fork, "dev").join(" ");
    let ps = Command::new("docker")
        .args(["exec", &ctr, "ps", "-eo", "args"])
        .output()?;
    let ps = text(&ps.stdout);
    ensure!(!ps.contains("dockerd") && !ps.contains("dlv"), "left: {ps}");
    Ok(())
}
