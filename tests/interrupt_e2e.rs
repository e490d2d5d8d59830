//! The interruption matrix on Debian's moby 20.10.24 in a Debian dev image (`/bin/sh` is dash):
//! SIGINT at each point of `binary`, `smoke` and a piped `shell` (creating the container, the
//! build, the summary, the nested daemon's start, the inner run), SIGTERM and SIGHUP, and a double
//! Ctrl-C. After each: the exit code, no process of the command left in the container, no
//! one-shot container or volume leaked, no root-owned file in the fork, `git status` unchanged;
//! at the end, the next command works.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use tests::{containers_with_role, dev_image_2010, text, GitFork, Running, Scratch, Steps};

const OWNER: u32 = 1000;
const LONG: Duration = Duration::from_secs(600);

/// Processes a command of the tool may have left in the dev container.
const LEFTOVER: &[&str] = &[
    "hack/make.sh",
    "go build",
    "/compile",
    "/link",
    "dockerd",
    "containerd",
    "sleep 300",
];

struct Matrix<'a> {
    g: &'a GitFork,
    image: &'a str,
    status: String,
    volumes: Vec<String>,
    /// The output of the last point.
    last: String,
}

/// Volumes no container uses: what a removed container would leak.
fn volumes() -> Result<Vec<String>> {
    let out = Command::new("docker")
        .args(["volume", "ls", "-q", "--filter", "dangling=true"])
        .output()?;
    Ok(text(&out.stdout).lines().map(str::to_string).collect())
}

impl Matrix<'_> {
    fn args<'b>(&'b self, rest: &[&'b str]) -> Vec<&'b str> {
        let mut a = vec!["--fork", self.g.fork.as_str(), "--image", self.image];
        a.extend_from_slice(rest);
        a
    }

    fn spawn(&self, rest: &[&str], env: &[(&str, &str)]) -> Result<Running> {
        let mut env = env.to_vec();
        env.push(("HOME", self.g.home.as_str()));
        Running::spawn(&self.args(rest), &env)
    }

    /// What a command left: processes in the dev container (waited for up to 10 s), one-shot
    /// containers, volumes, root-owned files, a changed `git status`.
    fn leftovers(&self) -> Result<Vec<String>> {
        let mut found = Vec::new();
        let t = Instant::now();
        let procs = loop {
            let procs = self.processes()?;
            if procs.is_empty() || t.elapsed() > Duration::from_secs(10) {
                break procs;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        found.extend(procs.into_iter().map(|p| format!("process: {p}")));
        let fork = &self.g.fork;
        found.extend(
            containers_with_role(fork, "oneshot")
                .into_iter()
                .map(|c| format!("one-shot container {c}")),
        );
        for v in volumes()? {
            if !self.volumes.contains(&v) {
                found.push(format!("dangling volume {v}"));
            }
        }
        let root_owned = Command::new("find")
            .arg(fork.as_str())
            .args(["-user", "0", "-print"])
            .output()?;
        found.extend(
            text(&root_owned.stdout)
                .lines()
                .take(5)
                .map(|l| format!("root-owned: {l}")),
        );
        let status = self.git_status()?;
        if status != self.status {
            found.push(format!("git status changed: {status}"));
        }
        Ok(found)
    }

    fn processes(&self) -> Result<Vec<String>> {
        tests::dev_container_processes(&self.g.fork, LEFTOVER)
    }

    fn git_status(&self) -> Result<String> {
        // `--no-optional-locks`: a status run as root must not rewrite the index (as root).
        let out = Command::new("git")
            .args(["--no-optional-locks", "status", "--porcelain"])
            .current_dir(&self.g.fork)
            .env("HOME", &self.g.home)
            .output()?;
        Ok(text(&out.stdout))
    }

    /// A point of the matrix, one step: run `rest`, wait for `after` in its output (or for
    /// `ready` to hold), send `sig`, and check the exit code and that nothing is left. Whether it
    /// passed.
    #[allow(clippy::too_many_arguments)]
    fn point(
        &mut self,
        steps: &mut Steps,
        name: &str,
        rest: &[&str],
        env: &[(&str, &str)],
        ready: &mut dyn FnMut(&mut Running) -> Result<()>,
        sigs: &[&str],
        code: i32,
    ) -> bool {
        steps
            .step(name, || self.try_point(name, rest, env, ready, sigs, code))
            .is_some()
    }

    fn try_point(
        &mut self,
        name: &str,
        rest: &[&str],
        env: &[(&str, &str)],
        ready: &mut dyn FnMut(&mut Running) -> Result<()>,
        sigs: &[&str],
        code: i32,
    ) -> Result<()> {
        let mut run = self.spawn(rest, env)?;
        ready(&mut run).with_context(|| format!("{name}: never reached its point"))?;
        let mut tries = 1;
        while run.ended()? && tries < 3 {
            // It finished between the point and the signal (the summary is short): again.
            run = self.spawn(rest, env)?;
            ready(&mut run).with_context(|| format!("{name}: never reached its point"))?;
            tries += 1;
        }
        for s in sigs {
            run.signal(s)?;
            std::thread::sleep(Duration::from_millis(150));
        }
        let (got, out) = run.finish(Duration::from_secs(60))?;
        ensure!(
            got == Some(code),
            "{name}: exit {got:?}, expected {code}:\n{out}"
        );
        ensure!(!out.contains("panicked"), "{name}: panicked:\n{out}");
        let left = self.leftovers()?;
        ensure!(left.is_empty(), "{name}: left {left:#?}\n{out}");
        self.last = out;
        Ok(())
    }
}

fn after(needle: &'static str, extra: Duration) -> impl FnMut(&mut Running) -> Result<()> {
    move |r| {
        r.wait_for(needle, LONG)?;
        std::thread::sleep(extra);
        Ok(())
    }
}

#[test]
fn interruption_matrix_on_debian_moby_20_10_24() -> Result<()> {
    tests::e2e!();
    let image = dev_image_2010()?;
    let s = Scratch::new("e2e-interrupt");
    let g = GitFork::new(&s, OWNER)?;
    let mut m = Matrix {
        g: &g,
        image,
        status: String::new(),
        volumes: volumes()?,
        last: String::new(),
    };
    m.status = m.git_status()?;
    let fork = g.fork.clone();
    let appears = |role: &'static str| {
        let fork = fork.clone();
        move |_: &mut Running| -> Result<()> {
            let t = Instant::now();
            while containers_with_role(&fork, role).is_empty() {
                ensure!(t.elapsed() < LONG, "no {role} container appeared");
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(())
        }
    };
    let slow = [("BUILDFLAGS", "-a")];
    let mut steps = Steps::new("interruption matrix");
    let st = &mut steps;

    // Creating the containers: the first use of the fork, and a one-shot one.
    if m.point(
        st,
        "binary: creating the dev container",
        &["binary"],
        &[],
        &mut appears("dev"),
        &["INT"],
        130,
    ) {
        // The half-made dev container is gone with the interrupted command (unless the signal
        // came once it was made, during the build: then it is the fork's container, and stays).
        st.step("binary: no half-made dev container", || {
            ensure!(
                containers_with_role(&fork, "dev").is_empty()
                    || m.last.contains("Stopping `binary`"),
                "half-made dev container left:\n{}",
                m.last
            );
            Ok(())
        });
    }
    m.point(
        st,
        "binary --rm: creating",
        &["binary", "--rm"],
        &[],
        &mut appears("oneshot"),
        &["INT"],
        130,
    );
    // The build, by each signal, and a double Ctrl-C.
    let building = || after("Building", Duration::from_secs(4));
    m.point(
        st,
        "binary: build, SIGINT",
        &["binary"],
        &slow,
        &mut building(),
        &["INT"],
        130,
    );
    st.step(
        "binary: no build record after the interrupted build",
        || {
            ensure!(
                !fork.join("bundles/.moby-xtask-build").exists(),
                "a build record after an interrupted build"
            );
            Ok(())
        },
    );
    m.point(
        st,
        "binary: build, SIGTERM",
        &["binary"],
        &slow,
        &mut building(),
        &["TERM"],
        143,
    );
    m.point(
        st,
        "binary: build, SIGHUP",
        &["binary"],
        &slow,
        &mut building(),
        &["HUP"],
        129,
    );
    m.point(
        st,
        "binary: build, Ctrl-C twice",
        &["binary"],
        &slow,
        &mut building(),
        &["INT", "INT"],
        130,
    );
    // The summary and hand-back, right after the build.
    m.point(
        st,
        "binary: summary",
        &["binary"],
        &[],
        &mut after("Finished", Duration::ZERO),
        &["INT"],
        130,
    );
    // smoke: its build, the nested daemon's start, the inner run.
    st.step("smoke: a source edit, for smoke to build", || {
        std::fs::write(fork.join("daemon/interrupt_edit.go"), "package daemon\n")?;
        std::process::Command::new("chown")
            .args([
                &format!("{OWNER}:{OWNER}"),
                fork.join("daemon/interrupt_edit.go").as_str(),
            ])
            .status()?;
        m.status = m.git_status()?;
        Ok(())
    });
    m.point(
        st,
        "smoke: build",
        &["smoke"],
        &slow,
        &mut building(),
        &["INT"],
        130,
    );
    st.step("binary before the smoke points", || {
        let out = m.spawn(&["binary"], &[])?.finish(LONG)?;
        ensure!(
            out.0 == Some(0),
            "binary before the smoke points:\n{}",
            out.1
        );
        Ok(())
    });
    m.point(
        st,
        "smoke: daemon start",
        &["smoke"],
        &[],
        &mut after("smoke: install", Duration::ZERO),
        &["INT"],
        130,
    );
    m.point(
        st,
        "smoke: inner run",
        &["smoke"],
        &[],
        &mut after("smoke: docker version", Duration::ZERO),
        &["INT"],
        130,
    );
    // A piped shell's command.
    let sleeping = || after("", Duration::from_secs(3));
    m.point(
        st,
        "shell: piped command",
        &["shell", "--", "sh", "-c", "sleep 300"],
        &[],
        &mut sleeping(),
        &["INT"],
        130,
    );

    // The next command works: a smoke from where the interruptions left the fork.
    st.step("the next command works: smoke", || {
        let stdout = g.smoke_passes(image, &g.head_short)?;
        ensure!(stdout.contains("smoke: PASS"), "{stdout}");
        let left = m.leftovers()?;
        ensure!(left.is_empty(), "after the final smoke: {left:#?}");
        Ok(())
    });
    steps.finish();
    Ok(())
}
