//! `test integration --engines`: Debian's moby 20.10.24 integration suites split over three real
//! engines, this machine's and two "remote" ones (dockerd in containers of their own, one reached
//! through a docker context over TLS, one over `ssh://`), against one engine running the same
//! subset: the merged counts are the same. Then a Ctrl-C during the split run, and an engine
//! stopped while its share runs: named, exit 1, and on every engine nothing left running. And
//! `ci run` of two CI jobs over two of the engines: one merged summary.

use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Result};
use camino::Utf8Path;
use tests::{
    add_ci_workflows, containers_with_role, nothing_runs_in_the_dev_container, owned_by,
    test_summary, text, GitFork, Remote, Running, Scratch, Steps, MOBY_2010,
};

const OWNER: u32 = 1000;
/// Three units, one test each. (Debian's 20.10.24 tree cannot build `integration-cli`: Debian
/// has no `hcsshim/osversion`; its suites' split is checked on the tree in `real_trees.rs`.)
const RUN: &str = "TestVersion|TestVolumesInspect|TestTagInvalidReference";
const DIRS: [&str; 3] = [
    "integration/system",
    "integration/volume",
    "integration/image",
];

fn args(engines: Option<&str>) -> Vec<&str> {
    let mut a = vec!["test", "integration", "--run", RUN];
    if let Some(e) = engines {
        a.extend(["--engines", e]);
    }
    a.extend(DIRS);
    a
}

/// No process of the split run is left in the fork's dev container on `r`, and no container
/// of the fork there but the dev container and the synced source's holder.
fn nothing_left_on(r: &Remote, fork: &Utf8Path) -> Result<()> {
    let filter = format!("label=dev.moby-xtask.fork={fork}");
    let all = r.docker(&[
        "ps",
        "-a",
        "--filter",
        &filter,
        "--format",
        "{{.Label \"dev.moby-xtask.role\"}} {{.ID}}",
    ])?;
    for line in all.lines() {
        ensure!(
            line.starts_with("dev ") || line.starts_with("sync "),
            "left on {}: {line}",
            r.name
        );
        if let Some(id) = line.strip_prefix("dev ") {
            let ps = r.docker(&["exec", id, "ps", "-eo", "args"])?;
            for what in ["hack/make", "test.main", "dockerd"] {
                ensure!(!ps.contains(what), "{what} left on {}:\n{ps}", r.name);
            }
            let mounts = r.docker(&["exec", id, "cat", "/proc/self/mountinfo"])?;
            no_test_daemon_mounts(&mounts, &r.name)?;
        }
    }
    Ok(())
}

/// No mount of a test daemon (its root, its `netns`, under the bundle) left in a dev container.
fn no_test_daemon_mounts(mountinfo: &str, on: &str) -> Result<()> {
    let left: Vec<&str> = mountinfo
        .lines()
        .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.contains("/bundles/")))
        .collect();
    ensure!(
        left.is_empty(),
        "mounts under bundles/ left on {on}:\n{}",
        left.join("\n")
    );
    Ok(())
}

/// The same on this machine's engine.
fn nothing_left_here(fork: &Utf8Path) -> Result<()> {
    for what in ["hack/make", "test.main", "dockerd"] {
        nothing_runs_in_the_dev_container(fork, what)?;
    }
    ensure!(
        containers_with_role(fork, "oneshot").is_empty(),
        "a one-shot container left"
    );
    for id in containers_with_role(fork, "dev") {
        let out = Command::new("docker")
            .args(["exec", &id, "cat", "/proc/self/mountinfo"])
            .output()?;
        no_test_daemon_mounts(&text(&out.stdout), "this machine's engine")?;
    }
    Ok(())
}

/// Wait until each engine's share says it is testing.
fn all_testing(run: &mut Running, engines: &[&str]) -> Result<()> {
    let t = std::time::Instant::now();
    loop {
        let out = run.output();
        let testing = |e: &&str| {
            out.lines()
                .any(|l| l.starts_with(&format!("[{e}]")) && l.contains("Testing"))
        };
        if engines.iter().all(testing) {
            return Ok(());
        }
        ensure!(!run.ended()?, "the split run ended early:\n{out}");
        ensure!(
            t.elapsed() < Duration::from_secs(900),
            "not all testing:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn integration_suites_split_over_three_engines() -> Result<()> {
    tests::e2e!();
    let s = Scratch::new("e2e-split");
    let image = MOBY_2010.suites_dev_image("debian:bullseye-slim")?;
    let g = GitFork::of(&MOBY_2010, &s, OWNER)?;
    let a = Remote::start(&s, "split-a")?;
    let b = Remote::start(&s, "split-b")?;
    std::thread::scope(|sc| -> Result<()> {
        let la = sc.spawn(|| a.load(&image));
        let lb = sc.spawn(|| b.load(&image));
        la.join().map_err(|_| anyhow::anyhow!("load a"))??;
        lb.join().map_err(|_| anyhow::anyhow!("load b"))??;
        Ok(())
    })?;
    // Engine a by a docker context (TLS), engine b by its ssh:// URL.
    let config = s.dir.join("docker-config");
    let certs = &a.work;
    let made = Command::new("docker")
        .env("DOCKER_CONFIG", &config)
        .env_remove("DOCKER_HOST")
        .args(["context", "create", "a-tls", "--docker"])
        .arg(format!(
            "host={},ca={certs}/ca.pem,cert={certs}/cert.pem,key={certs}/key.pem",
            a.tcp()
        ))
        .output()?;
    ensure!(made.status.success(), "{}", text(&made.stderr));
    let b_url = b.ssh_url();
    let path = b.ssh_path();
    let env = [
        ("DOCKER_CONFIG", config.as_str()),
        ("PATH", path.as_str()),
        ("DOCKER_GRAPHDRIVER", "vfs"),
    ];
    let engines = format!("local,a-tls,{b_url}");
    let names = ["local", "a-tls", b_url.as_str()];
    let mut steps = Steps::new("split over three engines");

    let one = steps.needs("one engine runs the subset (no split)", || {
        let out = g.xtask_past_fs_flake(&image, &args(None), &env);
        let stdout = text(&out.stdout);
        ensure!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
        let counts = test_summary(&stdout);
        ensure!(counts.is_some_and(|(p, f, _)| p >= 3 && f == 0), "{stdout}");
        Ok(counts)
    });

    steps.step(
        "split over local, a context (TLS) and ssh://: the same counts",
        || {
            let out = g.xtask_past_fs_flake(&image, &args(Some(&engines)), &env);
            let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
            ensure!(out.status.success(), "{stdout}\n{stderr}");
            ensure!(test_summary(&stdout) == one, "{stdout}\nagainst {one:?}");
            ensure!(
                stderr.contains("Splitting 3 piece(s) over 3 engine(s), by size"),
                "{stderr}"
            );
            for e in names {
                let line = stdout
                    .lines()
                    .filter(|l| l.starts_with(&format!("  {e}: ")))
                    .nth(1)
                    .unwrap_or_default();
                ensure!(
                    line.contains("1 passed, 0 failed, 0 skipped in"),
                    "{e}: {stdout}"
                );
            }
            let back = g
                .fork
                .join("bundles/.engines/a-tls/bundles/test-integration");
            ensure!(
                back.read_dir()?.flatten().any(|e| e
                    .file_name()
                    .to_string_lossy()
                    .ends_with("go-test-report.json")),
                "no report came back to {back}"
            );
            // The local engine ran the suites twice in a row (alone, then its share): nothing left.
            nothing_left_here(&g.fork)?;
            nothing_left_on(&a, &g.fork)?;
            nothing_left_on(&b, &g.fork)?;
            owned_by(&g.fork, OWNER)
        },
    );

    let spawn = || {
        let mut all = vec!["--fork", g.fork.as_str(), "--image", image.as_str()];
        all.extend(args(Some(&engines)));
        let mut env = env.to_vec();
        env.push(("HOME", g.home.as_str()));
        Running::spawn(&all, &env)
    };

    steps.step(
        "Ctrl-C during the split run: nothing left on any engine",
        || {
            let mut run = spawn()?;
            all_testing(&mut run, &names)?;
            let out = run.output();
            ensure!(
                out.contains("by the last run's times"),
                "the times not remembered:\n{out}"
            );
            std::thread::sleep(Duration::from_secs(3));
            run.signal("INT")?;
            let (code, out) = run.finish(Duration::from_secs(180))?;
            ensure!(code == Some(130), "exit {code:?}:\n{out}");
            nothing_left_here(&g.fork)?;
            nothing_left_on(&a, &g.fork)?;
            nothing_left_on(&b, &g.fork)?;
            owned_by(&g.fork, OWNER)
        },
    );

    steps.step(
        "ci run: two CI jobs dealt over local and a context, one summary",
        || {
            // HEAD's workflows (Debian's tree has none): its userns mode, which 20.10's
            // `.integration-daemon-start` reads too.
            add_ci_workflows(&g.fork, "head")?;
            let chown = Command::new("chown")
                .args([
                    "-R",
                    &format!("{OWNER}:{OWNER}"),
                    g.fork.join(".github").as_str(),
                ])
                .status()?;
            ensure!(chown.success());
            let args = [
                "ci",
                "run",
                "integration",
                "integration/userns",
                "--storage",
                "graphdriver",
                "--run",
                "TestVersion",
                "--engines",
                "local,a-tls",
            ];
            let out = g.xtask_past_fs_flake(&image, &args, &env);
            let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
            ensure!(out.status.success(), "{stdout}\n{stderr}");
            ensure!(
                stderr.contains("Splitting 2 job(s) over 2 engine(s)"),
                "{stderr}"
            );
            for e in ["local", "a-tls"] {
                ensure!(
                    stdout
                        .lines()
                        .any(|l| l.starts_with(&format!("  {e}: 1 passed, 0 failed"))),
                    "{e}: {stdout}"
                );
            }
            ensure!(test_summary(&stdout) == Some((2, 0, 0)), "{stdout}");
            nothing_left_here(&g.fork)?;
            nothing_left_on(&a, &g.fork)?;
            owned_by(&g.fork, OWNER)
        },
    );

    steps.step(
        "an engine stopped mid-run: named, exit 1, the others finish clean",
        || {
            let mut run = spawn()?;
            all_testing(&mut run, &names)?;
            let stop = Command::new("docker")
                .args(["stop", "-t", "1", &b.name])
                .output()?;
            ensure!(stop.status.success(), "{}", text(&stop.stderr));
            let (code, out) = run.finish(Duration::from_secs(900))?;
            ensure!(code == Some(1), "exit {code:?}:\n{out}");
            ensure!(
                out.lines()
                    .any(|l| l.contains(&format!("{b_url}: its share was not run"))),
                "{out}"
            );
            for e in ["local", "a-tls"] {
                ensure!(
                    out.lines()
                        .any(|l| l.starts_with(&format!("  {e}: 1 passed"))),
                    "{e}:\n{out}"
                );
            }
            nothing_left_here(&g.fork)?;
            nothing_left_on(&a, &g.fork)?;
            owned_by(&g.fork, OWNER)
        },
    );
    steps.finish();
    Ok(())
}
