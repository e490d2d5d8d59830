//! `cargo xtask image`: the fork's dev image built from its own Dockerfile only when what the
//! build reads changed; BuildKit through buildx, the legacy builder for an E1-style Dockerfile;
//! a missing, unpullable `--image` fails clearly. Offline: the base image is imported locally.

use std::process::Command;

use anyhow::{ensure, Result};
use camino::{Utf8Path, Utf8PathBuf};
use tests::{cache_dir, copy_tree, fixture_fork, once, text, workspace_root, xtask, Scratch};
use xshell::{cmd, Shell};

fn base_image() -> Result<()> {
    once("base-image", || {
        let sh = Shell::new()?;
        let script = workspace_root().join("tests/fixtures/base-image.sh");
        let cache = cache_dir();
        cmd!(sh, "{script} moby-xtask-test/busybox:1 {cache}").run()?;
        Ok(String::new())
    })
    .map(drop)
}

/// A DOCKER_CONFIG with the buildx plugin (Debian 13's docker-buildx, offline: no registry here).
fn buildx_config() -> Result<String> {
    once("buildx", || {
        let sh = Shell::new()?;
        let script = workspace_root().join("tests/fixtures/buildx.sh");
        let cache = cache_dir();
        Ok(cmd!(sh, "{script} {cache}").read()?.trim().to_string())
    })
}

/// A fixture fork of `era` (hack-compat's fixtures) with `dockerfile`, under git on a unique branch.
fn fork(s: &Scratch, era: &str, dockerfile: &str) -> Result<(Utf8PathBuf, String)> {
    let fork = s.dir.join("fork");
    copy_tree(&fixture_fork(era), &fork)?;
    fs_err::write(fork.join("Dockerfile"), dockerfile)?;
    fs_err::create_dir_all(fork.join("hack/dockerfile/install"))?;
    fs_err::write(
        fork.join("hack/dockerfile/install/tool.installer"),
        "echo tool v1\n",
    )?;
    fs_err::create_dir_all(fork.join("daemon"))?;
    fs_err::write(fork.join("daemon/daemon.go"), "package daemon\n")?;
    let branch = format!("xtask-img-{era}-{}", std::process::id());
    let sh = Shell::new()?;
    sh.change_dir(&fork);
    cmd!(sh, "git init -q -b {branch}").run()?;
    cmd!(sh, "git add -A").run()?;
    cmd!(
        sh,
        "git -c user.name=t -c user.email=t@example.com commit -q -m fixture"
    )
    .run()?;
    Ok((fork, format!("docker-dev:{branch}")))
}

struct RemoveImage(String);

impl Drop for RemoveImage {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

/// (id, creation time) of an image.
fn identity(tag: &str) -> Result<String> {
    let out = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}} {{.Created}}", tag])
        .output()?;
    ensure!(out.status.success(), "no image {tag}");
    Ok(text(&out.stdout).trim().to_string())
}

fn image(fork: &Utf8Path, config: &str) -> (bool, String) {
    let out = xtask(
        &["--fork", fork.as_str(), "image"],
        &[("DOCKER_CONFIG", config)],
    );
    (out.status.success(), text(&out.stderr))
}

const BUILDKIT_DOCKERFILE: &str = "FROM moby-xtask-test/busybox:1 AS base
RUN --mount=type=cache,target=/root/.cache/fixture echo built > /built
FROM base AS dev
COPY hack/dockerfile/install/tool.installer /tool.installer
WORKDIR /go/src/github.com/docker/docker
";

#[test]
fn image_builds_only_when_its_inputs_change() -> Result<()> {
    tests::e2e!();
    base_image()?;
    let config = buildx_config()?;
    let s = Scratch::new("image-bk");
    let (fork, tag) = fork(&s, "e4", BUILDKIT_DOCKERFILE)?;
    let _cleanup = RemoveImage(tag.clone());

    let (ok, err) = image(&fork, &config);
    ensure!(ok, "first build failed: {err}");
    ensure!(
        err.contains(&format!(
            "Running `docker buildx build --load --target=dev -t {tag}"
        )),
        "{err}"
    );
    let first = identity(&tag)?;

    // Current: no build at all, the image untouched.
    let (ok, err) = image(&fork, &config);
    ensure!(ok && !err.contains("Building the dev image"), "{err}");
    ensure!(identity(&tag)? == first, "image changed without a build");

    // A Go source edit does not make the image stale.
    fs_err::write(
        fork.join("daemon/daemon.go"),
        "package daemon\n\nvar edited = 1\n",
    )?;
    let (ok, err) = image(&fork, &config);
    ensure!(
        ok && !err.contains("Building the dev image"),
        "a .go edit rebuilt the image: {err}"
    );
    ensure!(identity(&tag)? == first, "image changed after a .go edit");

    // The implicit use: `shell` finds the current image and runs in it.
    let out = xtask(
        &[
            "--fork",
            fork.as_str(),
            "--commit",
            "x",
            "shell",
            "--rm",
            "--",
            "cat",
            "/built",
        ],
        &[("DOCKER_CONFIG", &config)],
    );
    ensure!(
        out.status.success() && text(&out.stdout) == "built\n",
        "{out:?}"
    );
    ensure!(
        !text(&out.stderr).contains("Building the dev image"),
        "{}",
        text(&out.stderr)
    );

    // Editing the Dockerfile, or a file it copies from hack/dockerfile/, rebuilds.
    fs_err::write(
        fork.join("Dockerfile"),
        format!("{BUILDKIT_DOCKERFILE}RUN echo two > /two\n"),
    )?;
    let (ok, err) = image(&fork, &config);
    ensure!(ok && err.contains("Building the dev image"), "{err}");
    let second = identity(&tag)?;
    ensure!(second != first, "Dockerfile edit did not rebuild");
    fs_err::write(
        fork.join("hack/dockerfile/install/tool.installer"),
        "echo tool v2\n",
    )?;
    let (ok, err) = image(&fork, &config);
    ensure!(
        ok && err.contains("Building the dev image") && identity(&tag)? != second,
        "{err}"
    );

    // --rebuild forces one.
    let out = xtask(
        &["--fork", fork.as_str(), "image", "--rebuild"],
        &[("DOCKER_CONFIG", &config)],
    );
    ensure!(
        out.status.success() && text(&out.stderr).contains("Building the dev image"),
        "{out:?}"
    );

    // BuildKit needed, no buildx, a CLI without built-in BuildKit: say what to install.
    let empty = s.dir.join("empty-docker-config");
    fs_err::create_dir_all(&empty)?;
    let out = xtask(
        &["--fork", fork.as_str(), "image", "--rebuild"],
        &[("DOCKER_CONFIG", empty.as_str())],
    );
    let err = text(&out.stderr);
    let client = Command::new("docker")
        .args(["version", "--format", "{{.Client.Version}}"])
        .output()?;
    let major: u32 = text(&client.stdout)
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major >= 23 {
        ensure!(
            out.status.code() == Some(1) && err.contains("apt-get install docker-buildx"),
            "{err}"
        );
    }
    Ok(())
}

#[test]
fn image_e1_single_stage_uses_the_legacy_builder() -> Result<()> {
    tests::e2e!();
    base_image()?;
    let s = Scratch::new("image-e1");
    let dockerfile = "FROM moby-xtask-test/busybox:1\nRUN echo e1 > /built\n\
                      WORKDIR /go/src/github.com/docker/docker\nCOPY . /go/src/github.com/docker/docker\n";
    let (fork, tag) = fork(&s, "e1", dockerfile)?;
    let _cleanup = RemoveImage(tag.clone());
    let empty = s.dir.join("no-buildx");
    fs_err::create_dir_all(&empty)?;
    // A workspace dropped into the fork without `adopt`: its target/ would be build context.
    fs_err::create_dir_all(fork.join("target/debug"))?;
    let (ok, err) = image(&fork, empty.as_str());
    ensure!(ok, "{err}");
    ensure!(
        err.contains(&format!("Running `DOCKER_BUILDKIT=0 docker build -t {tag}")),
        "{err}"
    );
    ensure!(
        err.contains("target/ (cargo's build output) goes to the classic builder as build context"),
        "{err}"
    );
    identity(&tag)?;
    // A .go edit: `COPY .` is not an input, the image stays current.
    fs_err::write(fork.join("daemon/daemon.go"), "package daemon // edited\n")?;
    let (ok, err) = image(&fork, empty.as_str());
    ensure!(ok && !err.contains("Building the dev image"), "{err}");
    Ok(())
}

#[test]
fn missing_unpullable_image_is_one_clear_error() -> Result<()> {
    tests::e2e!();
    let s = Scratch::new("image-pull");
    let (fork, _) = fork(&s, "e4", BUILDKIT_DOCKERFILE)?;
    let out = xtask(
        &[
            "--fork",
            fork.as_str(),
            "--image",
            "registry.invalid/nobody/dev:none",
            "image",
        ],
        &[],
    );
    let err = text(&out.stderr);
    ensure!(out.status.code() == Some(1), "{out:?}");
    let last = err.lines().last().unwrap_or_default();
    ensure!(
        last.contains("cannot pull registry.invalid/nobody/dev:none")
            && last.contains("cargo xtask image"),
        "{err}"
    );
    Ok(())
}
