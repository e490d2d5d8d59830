//! The fork stays its owner's on every engine contributors run: the host's rootful Docker, a
//! rootless Docker of the fork's owner, a userns-remap Docker and a Podman service (the last three
//! started by `fixtures/engines.sh` and stopped after). On Debian's 20.10.24, each engine gets one
//! cold build and every command on it: `doctor` names the engine, then `shell` (writing in the
//! fork and in `.git/`), `binary`, `install`, `smoke` (or its named refusal), `test unit` on one
//! package, `validate` with one check and an interrupted `binary`. After each command no file of
//! the fork, `.git/` included, belongs to anyone but its owner.

use std::process::Output;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use tests::{dev_image_2010, text, workspace_root, GitFork, Scratch, Steps, Xtask};
use xshell::{cmd, Shell};

/// The fork's owner: the rootless engine's user (`fixtures/engines.sh`).
const OWNER: u32 = 1000;

/// An engine of `fixtures/engines.sh`, stopped when dropped (its state, images included, stays
/// for the next run).
struct Started {
    kind: &'static str,
    state: Utf8PathBuf,
    host: String,
}

impl Started {
    fn new(kind: &'static str, images: &[&str]) -> Result<Started> {
        // Short (unix socket paths) and reachable by the rootless engine's user.
        let base = std::env::var("MOBY_XTASK_ENGINES_DIR")
            .unwrap_or_else(|_| "/var/tmp/moby-xtask-engines".into());
        let state = Utf8PathBuf::from(format!("{base}/{kind}"));
        let sh = Shell::new()?;
        let script = workspace_root().join("tests/fixtures/engines.sh");
        let host = cmd!(sh, "{script} start {kind} {state}")
            .read()
            .with_context(|| format!("starting the {kind} engine"))?;
        let started = Started {
            kind,
            state,
            host: host.trim().to_string(),
        };
        let state = &started.state;
        cmd!(sh, "{script} load {kind} {state} {images...}")
            .run()
            .with_context(|| format!("loading images into the {kind} engine"))?;
        Ok(started)
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let script = workspace_root().join("tests/fixtures/engines.sh");
        let _ = std::process::Command::new(script)
            .args(["stop", self.kind, self.state.as_str()])
            .status();
    }
}

/// How the engine is reached and who runs the tool there.
struct On<'a> {
    g: &'a GitFork,
    image: &'a str,
    /// `DOCKER_HOST`, or `None` for the host's own daemon.
    host: Option<&'a str>,
    /// Run the tool as the fork's owner (rootless: the engine is the user's), else as root.
    as_owner: bool,
}

impl On<'_> {
    fn xtask(&self, args: &[&str]) -> Output {
        let mut all = vec!["--fork", self.g.fork.as_str(), "--image", self.image];
        all.extend_from_slice(args);
        let x = match self.as_owner {
            true => Xtask::as_user(OWNER, all),
            false => Xtask::new(all),
        };
        let x = x.env("HOME", self.g.home.as_str());
        match self.host {
            Some(h) => x.env("DOCKER_HOST", h).output(),
            None => x.output(),
        }
    }

    /// Run, then require success and that the fork is still all its owner's.
    fn ok(&self, args: &[&str]) -> Result<(String, String)> {
        let out = self.xtask(args);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        ensure!(
            out.status.success(),
            "`{}` exited {:?}:\n{stdout}\n{stderr}",
            args.join(" "),
            out.status.code()
        );
        owned_by_owner(&self.g.fork)?;
        Ok((stdout, stderr))
    }
}

/// Every file of the fork, `.git/` included, belongs to [`OWNER`].
fn owned_by_owner(fork: &Utf8Path) -> Result<()> {
    tests::owned_by(fork, OWNER)
}

/// What the owner can do with the fork afterwards: write the Makefile, and `git status` (with a
/// HOME that trusts nothing, as git's ownership check applies).
fn owner_can_work(fork: &Utf8Path) -> Result<()> {
    let out = std::process::Command::new("setpriv")
        .args([
            &format!("--reuid={OWNER}"),
            &format!("--regid={OWNER}"),
            "--clear-groups",
            "sh",
            "-c",
            "test -w Makefile && test -w .git/index && HOME=/nonexistent git status --porcelain >/dev/null",
        ])
        .current_dir(fork)
        .output()?;
    ensure!(
        out.status.success(),
        "the owner cannot work in the fork: {}",
        text(&out.stderr)
    );
    Ok(())
}

/// What `smoke` does on an engine: pass, or refuse with a reason and what to use instead.
enum SmokeOn {
    Passes,
    Refused(&'static str),
}

/// Every command on one engine, each step's result reported (`Steps`).
fn scenario(name: &str, on: &On<'_>, doctor_says: &str, smoke: SmokeOn) {
    let g = on.g;
    let mut steps = Steps::new(format!("engine {name}"));
    steps.step("doctor names the engine", || {
        let out = on.xtask(&["doctor"]);
        let stdout = text(&out.stdout);
        ensure!(
            stdout.contains(doctor_says),
            "{stdout}\n{}",
            text(&out.stderr)
        );
        owned_by_owner(&g.fork)
    });
    steps.step("shell writes in the fork and in .git/", || {
        on.ok(&[
            "shell",
            "--",
            "sh",
            "-c",
            "echo x > shell-wrote.txt && git update-ref refs/heads/xtask-shell HEAD && : > .git/FETCH_HEAD",
        ])?;
        fs_err::remove_file(g.fork.join("shell-wrote.txt"))?;
        Ok(())
    });
    steps.needs("binary", || {
        let out = g.binary(on.image);
        ensure!(
            out.status.success(),
            "{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        owned_by_owner(&g.fork)
    });
    steps.step("install", || on.ok(&["install"]).map(drop));
    steps.step("smoke", || match smoke {
        SmokeOn::Passes => {
            let (stdout, _) = on.ok(&["smoke"])?;
            ensure!(stdout.contains("smoke: PASS"), "{stdout}");
            Ok(())
        }
        SmokeOn::Refused(why) => {
            let out = on.xtask(&["smoke"]);
            let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
            ensure!(!out.status.success(), "smoke passed:\n{stdout}");
            ensure!(
                stdout.contains(why) || stderr.contains(why),
                "no `{why}` in:\n{stdout}\n{stderr}"
            );
            owned_by_owner(&g.fork)
        }
    });
    steps.step("test unit on one package", || {
        let (stdout, _) = on.ok(&["test", "unit", "./pkg/stringid"])?;
        let (passed, failed, _) =
            tests::test_summary(&stdout).with_context(|| format!("no summary in:\n{stdout}"))?;
        ensure!(passed > 0 && failed == 0, "{stdout}");
        Ok(())
    });
    steps.step("validate with one check", || {
        let (stdout, _) = on.ok(&["validate", "dco"])?;
        ensure!(
            stdout.lines().any(|l| l == "1 passed, 0 failed"),
            "{stdout}"
        );
        Ok(())
    });
    steps.step("binary interrupted", || {
        // --force: the tree is as the last build left it, which would make this one `Fresh`.
        let all = [
            "--fork",
            g.fork.as_str(),
            "--image",
            on.image,
            "binary",
            "--force",
        ];
        let x = match on.as_owner {
            true => Xtask::as_user(OWNER, all),
            false => Xtask::new(all),
        };
        let x = x.env("HOME", g.home.as_str());
        let x = match on.host {
            Some(h) => x.env("DOCKER_HOST", h),
            None => x,
        };
        let mut run = x.spawn()?;
        run.wait_for("Building", Duration::from_secs(600))?;
        std::thread::sleep(Duration::from_secs(3));
        run.signal("INT")?;
        let (code, output) = run.finish(Duration::from_secs(60))?;
        ensure!(code == Some(130), "exit {code:?}:\n{output}");
        owned_by_owner(&g.fork)
    });
    steps.step("the owner works in the fork afterwards", || {
        owner_can_work(&g.fork)
    });
    steps.finish();
}

/// A contributor's 20.10.24 fork owned by [`OWNER`], with a fetched `upstream/master` (validate
/// compares with it), its HOME the owner's too.
fn fork(s: &Scratch) -> Result<GitFork> {
    let g = GitFork::new(s, OWNER)?;
    let sh = &g.sh;
    g.with_upstream()?;
    let (owner, home, fork) = (format!("{OWNER}:{OWNER}"), &g.home, &g.fork);
    // The git set-up above ran as root: all of it is the owner's, as in a real clone.
    cmd!(sh, "chown -R {owner} {home} {fork}").run()?;
    owned_by_owner(&g.fork)?;
    Ok(g)
}

#[test]
fn rootful_docker_keeps_the_fork_its_owners() -> Result<()> {
    tests::e2e!();
    let image = dev_image_2010()?;
    let s = Scratch::new("e2e-eng-rootful");
    let g = fork(&s)?;
    let on = On {
        g: &g,
        image,
        host: None,
        as_owner: false,
    };
    scenario(
        "rootful Docker",
        &on,
        "engine kind: Docker:",
        SmokeOn::Passes,
    );
    Ok(())
}

/// Every command on an engine of `fixtures/engines.sh` (`kind`), the tool run as the fork's owner
/// where the engine is the owner's (`as_owner`).
fn on_started(kind: &'static str, as_owner: bool, doctor_says: &str, smoke: SmokeOn) -> Result<()> {
    let image = dev_image_2010()?;
    let engine = Started::new(kind, &[image])?;
    let s = Scratch::new(&format!("e2e-eng-{kind}"));
    let g = fork(&s)?;
    let on = On {
        g: &g,
        image,
        host: Some(&engine.host),
        as_owner,
    };
    let _cleanup = RemoveOn(engine.host.clone(), g.fork.clone());
    scenario(kind, &on, doctor_says, smoke);
    Ok(())
}

#[test]
fn rootless_docker_keeps_the_fork_its_owners() -> Result<()> {
    tests::e2e!();
    // Decided by what this host has: on cgroup v1 a rootless engine delegates no cgroups (the
    // nested daemon starts and answers, its containers cannot start, and smoke says so); on
    // cgroup v2 (most current hosts) smoke passes.
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let smoke = match v2 {
        true => SmokeOn::Passes,
        false => SmokeOn::Refused("the nested dockerd cannot give its containers cgroups"),
    };
    on_started("rootless", true, "engine kind: rootless Docker:", smoke)
}

#[test]
fn userns_remap_docker_keeps_the_fork_its_owners() -> Result<()> {
    tests::e2e!();
    on_started(
        "userns",
        false,
        "engine kind: userns-remap Docker:",
        SmokeOn::Passes,
    )
}

#[test]
fn podman_keeps_the_fork_its_owners_and_remembers_what_it_learnt() -> Result<()> {
    tests::e2e!();
    let image = dev_image_2010()?;
    let base = "xtask-engines-probe:1";
    ensure_probe_image(base)?;
    // One Podman service for the whole test (tests run in parallel: a second one would stop it).
    let engine = Started::new("podman", &[image, base])?;
    let s = Scratch::new("e2e-eng-podman");
    let g = fork(&s)?;
    let on = On {
        g: &g,
        image,
        host: Some(&engine.host),
        as_owner: false,
    };
    let _cleanup = RemoveOn(engine.host.clone(), g.fork.clone());
    scenario(
        "Podman",
        &on,
        "engine kind: Podman (rootful):",
        SmokeOn::Passes,
    );

    let mut steps = Steps::new("podman memos");
    let memos = || -> Result<usize> { Ok(files_under(&g.home.join(".cache/moby-xtask"))) };
    let before = steps.needs("memo files after the scenario", memos);
    steps.step("a later command makes no shared-files probe", || {
        let (_, stderr) = on.ok(&["-v", "shell", "--", "true"])?;
        ensure!(!stderr.contains("probe: shared files"), "{stderr}");
        ensure!(stderr.contains("Remembered"), "{stderr}");
        Ok(())
    });
    steps.step("memo files do not grow with the commands", || {
        for _ in 0..3 {
            on.ok(&["shell", "--", "true"])?;
        }
        let after = memos()?;
        ensure!(after == before, "{before} memo files, then {after}");
        Ok(())
    });
    steps.step("image builds with Podman's own builder", || {
        podman_builds_the_dev_image(&engine, base)
    });
    steps.finish();
    Ok(())
}

/// `image` on Podman builds the fork's Dockerfile with Podman's own builder (`podman build`
/// through the same service), as `make DOCKER=podman` would: a fixture fork whose Dockerfile
/// starts from an image Podman has locally.
fn podman_builds_the_dev_image(engine: &Started, base: &str) -> Result<()> {
    let s = Scratch::new("e2e-eng-podman-image");
    let fork = s.dir.join("fork");
    tests::copy_tree(&tests::fixture_fork("e4"), &fork)?;
    fs_err::write(
        fork.join("Dockerfile"),
        format!("FROM {base} AS dev\nRUN echo built > /built\n"),
    )?;
    let branch = format!("xtask-podman-{}", std::process::id());
    let sh = Shell::new()?;
    sh.change_dir(&fork);
    cmd!(sh, "git init -q -b {branch}").run()?;
    cmd!(sh, "git add -A").run()?;
    cmd!(
        sh,
        "git -c user.name=t -c user.email=t@example.com commit -q -m fixture"
    )
    .run()?;
    let tag = format!("docker-dev:{branch}");
    let out = Xtask::new(["--fork", fork.as_str(), "image"])
        .env("DOCKER_HOST", &engine.host)
        .output();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let inspect = std::process::Command::new("docker")
        .env("DOCKER_HOST", &engine.host)
        .args([
            "image",
            "inspect",
            "--format",
            "{{json .Config.Labels}}",
            &tag,
        ])
        .output()?;
    let _ = std::process::Command::new("docker")
        .env("DOCKER_HOST", &engine.host)
        .args(["rmi", "-f", &tag])
        .output();
    ensure!(out.status.success(), "{stdout}\n{stderr}");
    ensure!(
        stderr.contains("Podman builder") && stderr.contains("podman --remote --url"),
        "{stderr}"
    );
    ensure!(
        text(&inspect.stdout).contains("dev.moby-xtask.image-inputs"),
        "{tag} not built with the tool's label: {}",
        text(&inspect.stderr)
    );
    Ok(())
}

/// Files (not directories) under `dir`.
fn files_under(dir: &Utf8Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => match Utf8PathBuf::from_path_buf(e.path()) {
                Ok(p) => files_under(&p),
                Err(_) => 0,
            },
            _ => 1,
        })
        .sum()
}

/// The fork's containers on an engine of `fixtures/engines.sh`, removed when the test ends
/// (`Scratch` removes those of the host's daemon).
struct RemoveOn(String, Utf8PathBuf);

impl Drop for RemoveOn {
    fn drop(&mut self) {
        let filter = format!("label=dev.moby-xtask.fork={}", self.1);
        let list = std::process::Command::new("docker")
            .env("DOCKER_HOST", &self.0)
            .args(["ps", "-aq", "--filter", &filter])
            .output();
        for id in list.map(|o| text(&o.stdout)).unwrap_or_default().lines() {
            let _ = std::process::Command::new("docker")
                .env("DOCKER_HOST", &self.0)
                .args(["rm", "-fv", id])
                .output();
        }
    }
}

/// The one-file busybox image `fixtures/base-image.sh` makes, on the host's daemon.
fn ensure_probe_image(tag: &str) -> Result<()> {
    let sh = Shell::new()?;
    let script = workspace_root().join("tests/fixtures/base-image.sh");
    let cache = tests::cache_dir();
    if cmd!(sh, "docker image inspect {tag}")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_ok()
    {
        return Ok(());
    }
    cmd!(sh, "{script} {tag} {cache}").run()?;
    if cmd!(sh, "docker image inspect {tag}")
        .quiet()
        .ignore_stdout()
        .run()
        .is_err()
    {
        bail!("no {tag} after base-image.sh");
    }
    Ok(())
}
