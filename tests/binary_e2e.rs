//! `cargo xtask binary` on a real moby tree: Debian 12's moby 20.10.24 (an E4 fork), built in a
//! registry-free dev image by the real daemon. Slow tier: the first run fetches the source and
//! makes the image (~3 min), the build itself takes ~1 min cold.

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use anyhow::{ensure, Context, Result};
use camino::Utf8Path;
use tests::{debian_2010_tree, dev_image_2010, text, xtask, GitFork, Scratch, Xtask};
use xshell::cmd;

const OWNER: u32 = 1000;

#[test]
fn binary_builds_debian_moby_20_10_24() -> Result<()> {
    tests::e2e!();
    let image = dev_image_2010()?;
    let tree = debian_2010_tree()?;

    // The source as Debian ships it has no .git: the seed's failure, turned into advice.
    let out = xtask(
        &[
            "--fork",
            tree.join("engine").as_str(),
            "--image",
            image,
            "binary",
        ],
        &[],
    );
    ensure!(
        out.status.code() == Some(1),
        "no-.git run must fail: {out:?}"
    );
    let err = text(&out.stderr);
    ensure!(
        err.contains("--commit <hash>") && err.contains("DOCKER_GITCOMMIT"),
        "{err}"
    );

    // A contributor's fork: the same tree under git, owned by a non-root user.
    let s = Scratch::new("e2e-2010");
    let g = GitFork::new(&s, OWNER)?;
    let (fork, home, sh, head) = (&g.fork, &g.home, &g.sh, &g.head_short);
    let status_before = cmd!(sh, "git status --porcelain").read()?;

    let env = [("HOME", home.as_str())];
    // A split run's bundles of an engine elsewhere, and a stale bundle: the fork's own
    // `rm -rf bundles/*` removes the second and leaves the first (a dot name).
    let kept = fork.join("bundles/.engines/a-tls/bundles/test-integration/report.json");
    std::fs::create_dir_all(kept.parent().unwrap())?;
    std::fs::write(&kept, "{}")?;
    std::fs::create_dir_all(fork.join("bundles/stale"))?;
    let (owner, bundles) = (format!("{OWNER}:{OWNER}"), fork.join("bundles"));
    cmd!(sh, "chown -R {owner} {bundles}").run()?;
    let out = g.xtask(image, &["binary"], &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    ensure!(out.status.success(), "binary failed:\n{stdout}\n{stderr}");
    ensure!(
        stderr.contains(&format!("DOCKER_GITCOMMIT={head} (from git)")),
        "{stderr}"
    );
    ensure!(
        stdout.contains("bundles/binary-daemon/dockerd-dev") && stdout.contains("sha256 ok"),
        "{stdout}"
    );
    ensure!(stdout.contains(&format!("commit {head}")), "{stdout}");

    // The artifacts, checked independently of the tool.
    let daemon_dir = fork.join("bundles/binary-daemon");
    ensure!(daemon_dir.join("dockerd-dev").is_file(), "no dockerd-dev");
    let check = Command::new("sha256sum")
        .args(["-c", "dockerd-dev.sha256"])
        .current_dir(&daemon_dir)
        .output()?;
    ensure!(
        check.status.success(),
        "sha256sum -c: {}",
        text(&check.stdout)
    );
    assert_owned_by(&fork.join("bundles"), OWNER)?;
    ensure!(
        !fork.join("bundles/stale").exists() && kept.is_file(),
        "the fork's `rm -rf bundles/*` must have run and left bundles/.engines/"
    );

    // The built daemon, run in a container, reports the stamped commit.
    let mount = format!("{daemon_dir}:/b:ro");
    let version = cmd!(
        sh,
        "docker run --rm -v {mount} --entrypoint /b/dockerd-dev {image} --version"
    )
    .read()?;
    ensure!(
        version.contains(&format!("build {head}")),
        "dockerd --version: {version}"
    );

    // Nothing outside bundles/ changed in the eyes of git.
    let status_after = cmd!(sh, "git status --porcelain").read()?;
    ensure!(
        status_before == status_after,
        "git status changed:\n{status_before}\n---\n{status_after}"
    );

    // The dev container is reused by the next run (found again by its labels).
    let first = Scratch::containers_of(fork);
    ensure!(
        first.len() == 1,
        "expected one dev container, got {first:?}"
    );
    let out = xtask(&["--fork", fork.as_str(), "--image", image, "binary"], &env);
    ensure!(
        out.status.success(),
        "second build failed: {}",
        text(&out.stderr)
    );
    ensure!(
        Scratch::containers_of(fork) == first,
        "the dev container was not reused"
    );

    // Ctrl-C halfway through a one-shot build: exit 130, no container left behind for it.
    interrupt_one_shot(fork, image, &env)?;
    ensure!(
        Scratch::containers_of(fork) == first,
        "the interrupted one-shot run left a container"
    );
    Ok(())
}

fn assert_owned_by(dir: &Utf8Path, uid: u32) -> Result<()> {
    let meta = fs_err::symlink_metadata(dir)?;
    ensure!(
        meta.uid() == uid,
        "{dir} is owned by uid {}, not {uid}",
        meta.uid()
    );
    if meta.is_dir() {
        for e in fs_err::read_dir(dir)? {
            let p = camino::Utf8PathBuf::from_path_buf(e?.path())
                .map_err(|p| anyhow::anyhow!("{p:?}"))?;
            assert_owned_by(&p, uid)?;
        }
    }
    Ok(())
}

fn interrupt_one_shot(fork: &Utf8Path, image: &str, env: &[(&str, &str)]) -> Result<()> {
    // --force: nothing changed since the last build, which would make this one `Fresh`.
    let mut child = Xtask::new([
        "--fork",
        fork.as_str(),
        "--image",
        image,
        "binary",
        "--rm",
        "--force",
    ])
    .envs(env)
    .command()
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()?;
    let stderr = child.stderr.take().context("stderr")?;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    // Wait until the build runs in the container, then interrupt as a terminal would.
    for line in lines.by_ref() {
        if line?.contains("Building") {
            break;
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let pid = child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status()?;
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait()?;
    ensure!(
        status.code() == Some(130),
        "expected exit 130 after SIGINT, got {status:?}: {rest:?}"
    );
    ensure!(rest.iter().any(|l| l.contains("Interrupted")), "{rest:?}");
    Ok(())
}

/// `binary` is `Fresh`, running nothing of the fork's, exactly while nothing it reads changed;
/// and `smoke` builds exactly when `binary` would. Each kind of change (an edit of a `.go` file,
/// another `BUILDFLAGS`, another dev image, a deleted artifact) is made once before `smoke` and
/// once more (another of its kind) before `binary`; the `binary` after that one is `Fresh`, as
/// are the `smoke` and the `binary` after a `smoke` that built.
#[test]
fn binary_is_fresh_until_an_input_changes() -> Result<()> {
    tests::e2e!();
    let image = dev_image_2010()?;
    let other = tests::second::other_image(image)?;
    let s = Scratch::new("e2e-fresh");
    let g = GitFork::new(&s, OWNER)?;
    let mut steps = tests::Steps::new("fresh builds");
    steps.needs("the first build", || built(&g, image, &[]));
    let dockerd = g.fork.join("bundles/binary-daemon/dockerd-dev");
    let fresh = |image: &str, env: &[(&str, &str)]| -> Result<()> {
        let before = std::fs::metadata(&dockerd)?;
        let out = g.xtask(image, &["binary"], env);
        let err = text(&out.stderr);
        ensure!(out.status.success(), "binary: {err}");
        ensure!(
            err.contains("Fresh `hack/make.sh binary`") && !err.contains("Building `"),
            "not fresh: {err}"
        );
        ensure!(
            text(&out.stdout).contains("md5+sha256 ok"),
            "no summary: {}",
            text(&out.stdout)
        );
        let after = std::fs::metadata(&dockerd)?;
        ensure!(
            (before.ino(), before.mtime_nsec()) == (after.ino(), after.mtime_nsec()),
            "the fork's script ran: dockerd-dev was written again"
        );
        Ok(())
    };
    let smoke_builds = |image: &str, env: &[(&str, &str)], builds: bool| -> Result<()> {
        let out = g.xtask(image, &["smoke"], env);
        let stdout = text(&out.stdout);
        ensure!(out.status.success(), "smoke: {stdout}{}", text(&out.stderr));
        let line = stdout.lines().find(|l| l.starts_with("smoke: build"));
        let skipped = line.is_some_and(|l| l.contains("up to date, skipped"));
        ensure!(skipped != builds, "smoke's build line: {line:?}");
        Ok(())
    };
    steps.step(
        "nothing changed: binary Fresh, smoke skips its build",
        || {
            fresh(image, &[])?;
            smoke_builds(image, &[], false)
        },
    );
    let edit = |n: u32| {
        use std::io::Write;
        let mut f = fs_err::OpenOptions::new()
            .append(true)
            .open(g.fork.join("daemon/daemon.go"))?;
        writeln!(f, "// edit {n}")?;
        anyhow::Ok(())
    };
    steps.step("an edit of a .go file", || {
        edit(1)?;
        smoke_builds(image, &[], true)?;
        // What smoke built stands: the next smoke and binary find it as it was left.
        smoke_builds(image, &[], false)?;
        fresh(image, &[])?;
        edit(2)?;
        built(&g, image, &[])?;
        fresh(image, &[])
    });
    steps.step("another BUILDFLAGS", || {
        smoke_builds(image, &[("BUILDFLAGS", "-v")], true)?;
        built(&g, image, &[])?;
        fresh(image, &[])
    });
    steps.step("another dev image", || {
        smoke_builds(&other, &[], true)?;
        built(&g, image, &[])?;
        fresh(image, &[])
    });
    steps.step("a deleted artifact", || {
        fs_err::remove_file(g.fork.join("bundles/binary-daemon/docker-proxy"))?;
        smoke_builds(image, &[], true)?;
        fs_err::remove_file(g.fork.join("bundles/binary-daemon/ctr"))?;
        built(&g, image, &[])?;
        fresh(image, &[])
    });
    steps.finish();
    Ok(())
}

/// `binary` ran the fork's build, and it succeeded.
fn built(g: &GitFork, image: &str, env: &[(&str, &str)]) -> Result<()> {
    let out = g.xtask_past_fs_flake(image, &["binary"], env);
    let err = text(&out.stderr);
    ensure!(out.status.success(), "binary: {err}");
    ensure!(
        err.contains("Building `hack/make.sh binary`"),
        "binary did not build: {err}"
    );
    Ok(())
}
