//! The daily-loop tasks around the build, on Debian's moby 20.10.24: `validate` with the fork's
//! own checks (compared with the clone's `upstream/master`, offline), `clean` (what it lists is
//! what goes, another fork's container and a volume in use stay), and `doctor` on a set-up fork.

use std::process::Command;

use anyhow::{ensure, Result};
use tests::{containers_with_role, dev_image_2010, e2e_enabled, text, GitFork, Scratch};
use xshell::cmd;

const OWNER: u32 = 1000;

#[test]
fn validate_clean_and_doctor_on_debian_moby_20_10_24() -> Result<()> {
    if !e2e_enabled()? {
        return Ok(());
    }
    let image = dev_image_2010()?;
    let s = Scratch::new("e2e-daily");
    let g = GitFork::new(&s, OWNER)?;
    let sh = &g.sh;
    // A contributor's clone: `upstream` is moby, fetched; the work branch is the same commit.
    cmd!(
        sh,
        "git remote add upstream https://github.com/moby/moby.git"
    )
    .run()?;
    cmd!(sh, "git update-ref refs/remotes/upstream/master HEAD").run()?;
    cmd!(sh, "git checkout -q -b my-change").run()?;

    // validate: two named checks, offline, against upstream/master.
    let out = g.xtask(image, &["validate", "dco", "pkg-imports"], &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    ensure!(out.status.success(), "validate:\n{stdout}\n{stderr}");
    ensure!(
        stderr.contains("comparing with upstream/master"),
        "{stderr}"
    );
    ensure!(
        stdout.lines().any(|l| l == "2 passed, 0 failed"),
        "{stdout}"
    );
    let out = g.xtask(image, &["validate", "no-such-check"], &[]);
    let err = text(&out.stderr);
    ensure!(
        out.status.code() == Some(1)
            && err.contains("unknown check `no-such-check`")
            && err.contains("pkg-imports"),
        "{err}"
    );

    // doctor on this set-up fork: no problem (the daemon here may refuse --privileged: a warning).
    let out = g.xtask(image, &["doctor"], &[]);
    let stdout = text(&out.stdout);
    ensure!(
        out.status.success(),
        "doctor:\n{stdout}\n{}",
        text(&out.stderr)
    );
    for ok in [
        "git user.name is t",
        "remote upstream is https://github.com/moby/moby.git",
        "on branch my-change",
        "dev image moby-xtask-test/dev:bookworm-20.10-v2 is present",
    ] {
        ensure!(stdout.contains(ok), "{ok} not in:\n{stdout}");
    }

    // clean: root-owned bundles/ and the dev container go; another fork's container and the
    // cache volume it uses stay.
    let out = g.xtask(
        image,
        &[
            "shell",
            "--",
            "sh",
            "-c",
            "mkdir -p bundles/x && head -c 1048576 /dev/zero > bundles/x/f",
        ],
        &[],
    );
    ensure!(out.status.success(), "{}", text(&out.stderr));
    let other = Scratch::new("e2e-daily-other");
    let h = GitFork::new(&other, OWNER)?;
    let out = h.xtask(image, &["shell", "--", "true"], &[]);
    ensure!(out.status.success(), "{}", text(&out.stderr));
    let out = g.xtask(image, &["clean", "--all"], &[]);
    let stdout = text(&out.stdout);
    ensure!(
        out.status.success(),
        "clean:\n{stdout}\n{}",
        text(&out.stderr)
    );
    ensure!(
        stdout.contains("removing bundles") && stdout.contains("(1.0 MiB)"),
        "{stdout}"
    );
    ensure!(
        stdout.contains("removing container moby-xtask-fork-"),
        "{stdout}"
    );
    ensure!(
        text(&out.stderr).contains("cache volume docker-dev-cache kept: used by"),
        "{}",
        text(&out.stderr)
    );
    ensure!(!g.fork.join("bundles").exists(), "bundles/ left");
    ensure!(
        containers_with_role(&g.fork, "dev").is_empty(),
        "dev container left"
    );
    ensure!(
        containers_with_role(&h.fork, "dev").len() == 1,
        "the other fork's container was touched"
    );
    let vol = Command::new("docker")
        .args(["volume", "inspect", "docker-dev-cache"])
        .output()?;
    ensure!(vol.status.success(), "the cache volume in use was removed");
    // The prebuilt image is not this fork's: never removed.
    ensure!(Command::new("docker")
        .args(["image", "inspect", image])
        .output()?
        .status
        .success());
    Ok(())
}
