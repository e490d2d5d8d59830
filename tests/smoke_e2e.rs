//! `install` and `smoke` on Debian's moby 20.10.24: the fresh daemon proven to work, a broken
//! daemon reported with its own error line and nothing left behind, and `--keep-running`.

use anyhow::{ensure, Result};
use std::process::Command;
use tests::{dev_image_2010, text, GitFork, Scratch};

fn volumes() -> Result<usize> {
    let out = Command::new("docker")
        .args(["volume", "ls", "-q"])
        .output()?;
    Ok(text(&out.stdout).lines().count())
}

#[test]
fn binary_install_smoke_on_debian_moby_20_10_24() -> Result<()> {
    tests::e2e!();
    let image = dev_image_2010()?;
    let s = Scratch::new("e2e-smoke");
    let g = GitFork::new(&s, 1000)?;
    let head = &g.head_short;

    // install before any build: says so and what to do.
    let out = g.xtask(image, &["install"], &[]);
    ensure!(
        out.status.code() == Some(1) && text(&out.stderr).contains("cargo xtask binary"),
        "{out:?}"
    );

    let out = g.xtask(image, &["binary"], &[]);
    ensure!(out.status.success(), "binary: {}", text(&out.stderr));
    let out = g.xtask(image, &["install"], &[]);
    ensure!(out.status.success(), "install: {}", text(&out.stderr));
    let installed = g.xtask(
        image,
        &["shell", "--", "sh", "-c", "command -v dockerd"],
        &[],
    );
    ensure!(
        text(&installed.stdout).trim() == "/usr/local/bin/dockerd",
        "{installed:?}"
    );

    // smoke: the build is current (skipped), the daemon reports the commit just stamped.
    let stdout = g.smoke_passes(image, head)?;
    ensure!(stdout.contains("up to date, skipped"), "{stdout}");
    ensure!(stdout.contains("tini version"), "{stdout}");

    // A broken daemon: its own error line, the kept log, and nothing left behind.
    let containers = Scratch::containers_of(&g.fork);
    let vols = volumes()?;
    let out = g.xtask(image, &["smoke"], &[("DOCKERD_ARGS", "--no-such-flag")]);
    let stdout = text(&out.stdout);
    ensure!(
        out.status.code() == Some(1),
        "broken smoke must fail: {stdout}"
    );
    ensure!(stdout.contains("smoke: FAIL at start"), "{stdout}");
    ensure!(stdout.contains("unknown flag: --no-such-flag"), "{stdout}");
    let log = g.fork.join("bundles/xtask-smoke/dockerd.log");
    ensure!(
        stdout.contains(&format!("daemon log kept at {log}")) && log.is_file(),
        "{stdout}"
    );
    ensure!(
        Scratch::containers_of(&g.fork) == containers,
        "a container appeared or vanished"
    );
    ensure!(volumes()? == vols, "a volume was left behind");
    let leftover = g.xtask(
        image,
        &[
            "shell",
            "--",
            "sh",
            "-c",
            "pgrep -a dockerd; ls -A /var/lib/docker",
        ],
        &[],
    );
    ensure!(
        text(&leftover.stdout).trim().is_empty(),
        "left behind: {}",
        text(&leftover.stdout)
    );

    // A source edit makes smoke build again; --keep-running leaves the daemon for `shell`.
    fs_err::write(
        g.fork.join("daemon/smoke_edit.go"),
        "package daemon\n\nvar _ = \"smoke edit\"\n",
    )?;
    let out = g.xtask(image, &["smoke", "--keep-running"], &[]);
    let stdout = text(&out.stdout);
    ensure!(
        out.status.success(),
        "smoke --keep-running failed:\n{stdout}\n{}",
        text(&out.stderr)
    );
    ensure!(stdout.contains("daemon/smoke_edit.go is new"), "{stdout}");
    ensure!(
        server_commit(&g, image)? == *head,
        "the running daemon reports another commit"
    );

    // install while the tool's daemon runs: it comes back up on the new binaries.
    let out = g.xtask(image, &["install"], &[]);
    ensure!(
        out.status.success() && text(&out.stderr).contains("Restarted"),
        "{out:?}"
    );
    ensure!(
        server_commit(&g, image)? == *head,
        "the running daemon reports another commit"
    );
    Ok(())
}

/// The commit the daemon running in the dev container reports, through `shell`.
fn server_commit(g: &GitFork, image: &str) -> Result<String> {
    let v = g.xtask(
        image,
        &[
            "shell",
            "--",
            "docker",
            "version",
            "--format",
            "{{.Server.GitCommit}}",
        ],
        &[],
    );
    ensure!(
        v.status.success(),
        "docker version in the dev container: {v:?}"
    );
    Ok(text(&v.stdout).trim().to_string())
}
