//! `cargo xtask smoke`: build if the sources changed, install, start the new dockerd in the dev
//! container, check that `docker version` reports the version and commit just stamped, import a
//! one-file image and `docker run` it in the nested daemon, stop it and clean its data. One line
//! per step with its time, and a verdict. On failure the daemon log stays in `bundles/`.

use std::time::{Duration, Instant};

use anyhow::Result;
use bollard::Docker;
use clap::Args;

use crate::build_record;
use crate::container::DevContainer;
use crate::dev::{runtime, Dev};
use crate::exec::Output;
use crate::install::{self, tail_of};
use crate::{binary, daemon, docker, Global};

#[derive(Args, Debug)]
pub struct SmokeArgs {
    /// Do not build, even when the sources changed since the last build
    #[arg(long)]
    pub no_build: bool,
    /// Leave the daemon running (use it with `cargo xtask shell`)
    #[arg(long)]
    pub keep_running: bool,
    /// Seconds to wait for the daemon to answer
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout: u64,
}

/// A failed step: its name and what went wrong (with any output worth showing).
struct Failure {
    step: &'static str,
    why: String,
}

fn fail<T>(step: &'static str, why: impl Into<String>) -> std::result::Result<T, Failure> {
    Err(Failure {
        step,
        why: why.into(),
    })
}

pub fn run(global: &Global, args: &SmokeArgs) -> Result<u8> {
    let dev = Dev::open(global, true)?;
    let rt = runtime()?;
    rt.block_on(async {
        let docker = docker::connect().await?;
        let Some(ctr) = dev.up(&docker, false).await? else { return Ok(130) };
        let exec = dev.exec(&docker, &ctr);
        let started = Instant::now();
        let outcome = tokio::select! {
            r = steps(&dev, &docker, &ctr, args) => Some(r),
            _ = tokio::signal::ctrl_c() => None,
        };
        let keep = args.keep_running && matches!(outcome, Some(Ok(())));
        if !keep {
            exec.interrupt().await;
            let t = Instant::now();
            let killed = daemon::stop(&exec, Duration::from_secs(10)).await?;
            daemon::clean(&exec).await?;
            let note = if killed { "  (SIGKILL after 10 s)" } else { "" };
            line("stop + clean", t.elapsed(), note);
        }
        binary::give_back_bundles(&exec, &dev.fork).await?;
        let log = dev.fork.root.join(daemon::LOG);
        match outcome {
            None => {
                eprintln!("smoke: interrupted");
                Ok(130)
            }
            Some(Ok(())) => {
                if keep {
                    println!("smoke: dockerd left running in the dev container: `cargo xtask shell -- docker version`");
                } else {
                    let _ = std::fs::remove_file(&log);
                }
                println!("smoke: PASS in {:.1} s (dockerd {}, commit {})", started.elapsed().as_secs_f64(), dev.version(), dev.commit());
                Ok(0)
            }
            Some(Err(f)) => {
                println!("smoke: FAIL at {}: {}", f.step, f.why);
                // The log is this run's only once the daemon was started.
                let started_daemon = matches!(f.step, "start" | "version" | "run");
                if let Some(text) = started_daemon.then(|| std::fs::read_to_string(&log).ok()).flatten() {
                    if let Some(e) = daemon_error_line(&text) {
                        println!("smoke: dockerd said: {e}");
                    }
                    println!("smoke: last lines of the daemon log:{}", tail_of(text.as_bytes(), 10));
                    println!("smoke: daemon log kept at {log}");
                }
                Ok(1)
            }
        }
    })
}

fn line(step: &str, took: Duration, detail: &str) {
    println!("smoke: {step:<16} {:>6.2} s{detail}", took.as_secs_f64());
}

async fn steps(
    dev: &Dev,
    docker: &Docker,
    ctr: &DevContainer,
    args: &SmokeArgs,
) -> std::result::Result<(), Failure> {
    let exec = dev.exec(docker, ctr);
    let err = |step| {
        move |e: anyhow::Error| Failure {
            step,
            why: format!("{e:#}"),
        }
    };

    let t = Instant::now();
    let stale = build_record::stale_because(&dev.fork, dev.commit());
    match (&stale, args.no_build) {
        (Some(why), false) => {
            let (code, output) =
                binary::build(dev, docker, ctr, &["binary".to_string()], Output::Capture)
                    .await
                    .map_err(err("build"))?;
            if code != 0 {
                return fail(
                    "build",
                    format!("hack/make.sh binary exited {code}{}", tail_of(&output, 30)),
                );
            }
            line("build", t.elapsed(), &format!("  ({why})"));
        }
        (Some(why), true)
            if build_record::read(&dev.fork).is_none() || install::daemon_dir(dev).is_none() =>
        {
            return fail(
                "build",
                format!("--no-build, but {why}: run `cargo xtask binary`"),
            );
        }
        _ => line("build", t.elapsed(), "  (up to date, skipped)"),
    }
    // The version and commit to expect are those of the build being installed.
    let expected = build_record::read(&dev.fork).map(|(r, _)| r);

    let t = Instant::now();
    daemon::stop(&exec, Duration::from_secs(10))
        .await
        .map_err(err("install"))?;
    install::install(dev, docker, ctr, Output::Capture)
        .await
        .map_err(err("install"))?;
    line("install", t.elapsed(), "");

    let t = Instant::now();
    daemon::clean(&exec).await.map_err(err("start"))?;
    daemon::start(&exec).await.map_err(err("start"))?;
    match daemon::wait_ready(&exec, Duration::from_secs(args.timeout))
        .await
        .map_err(err("start"))?
    {
        daemon::Ready::Yes => line("start dockerd", t.elapsed(), ""),
        daemon::Ready::Died => return fail("start", "dockerd exited before it answered"),
        daemon::Ready::TimedOut => {
            return fail(
                "start",
                format!("dockerd did not answer within {} s", args.timeout),
            )
        }
    }

    let t = Instant::now();
    let (code, out) = exec
        .script(
            "docker version --format '{{.Server.Version}}|{{.Server.GitCommit}}'",
            Output::Capture,
        )
        .await
        .map_err(err("version"))?;
    let out = String::from_utf8_lossy(&out).trim().to_string();
    if code != 0 {
        return fail("version", format!("docker version failed: {out}"));
    }
    let (version, commit) = out.split_once('|').unwrap_or((out.as_str(), ""));
    if let Some(exp) = &expected {
        if version != exp.version || commit != exp.commit {
            return fail(
                "version",
                format!(
                    "server reports {version} {commit}, expected {} {} (the build just stamped)",
                    exp.version, exp.commit
                ),
            );
        }
    }
    line(
        "docker version",
        t.elapsed(),
        &format!("  (server {version}, commit {commit})"),
    );

    let t = Instant::now();
    let (code, out) = exec
        .script(RUN_IMAGE, Output::Capture)
        .await
        .map_err(err("run"))?;
    if code != 0 {
        return fail(
            "run",
            format!("docker run in the new daemon failed{}", tail_of(&out, 10)),
        );
    }
    line(
        "import + run",
        t.elapsed(),
        &format!("  ({})", String::from_utf8_lossy(&out).trim()),
    );
    Ok(())
}

/// A registry-free one-file image (the static docker-init/tini) imported and run in the nested daemon.
const RUN_IMAGE: &str = r#"set -e
b=$(command -v docker-init || command -v tini-static || command -v tini) || { echo "no static docker-init/tini in the dev image"; exit 1; }
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
cp -L "$b" "$d/smoke"
tar -C "$d" -c smoke | docker import - moby-xtask-smoke:latest >/dev/null
docker run --rm moby-xtask-smoke:latest /smoke --version"#;

/// The daemon's own complaint: the last fatal/error line, or a CLI flag error.
fn daemon_error_line(log: &str) -> Option<&str> {
    log.lines().rev().find(|l| {
        l.contains("level=fatal")
            || l.starts_with("failed to start daemon")
            || l.contains("unknown flag")
            || l.starts_with("Error")
            || l.contains("level=error")
    })
}
