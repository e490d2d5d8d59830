//! The daily-loop tasks around the build, on Debian's moby 20.10.24: `validate` with the fork's
//! own checks (compared with the clone's `upstream/master`, offline), `doctor` on a set-up fork,
//! `run` reached from the host and stopped by Ctrl-C, `clean` (what it lists is what goes,
//! another fork's container and a volume in use stay), and `test unit` with its summary.

use std::process::Command;

use std::time::Duration;

use anyhow::{ensure, Result};
use tests::{
    containers_with_role, dev_image_2010, test_summary, text, GitFork, Running, Scratch, Steps,
};

const OWNER: u32 = 1000;

#[test]
fn validate_clean_and_doctor_on_debian_moby_20_10_24() -> Result<()> {
    tests::e2e!();
    let image = dev_image_2010()?;
    let s = Scratch::new("e2e-daily");
    let g = GitFork::new(&s, OWNER)?;
    // A contributor's clone: `upstream` is moby, fetched; the work branch is the same commit.
    g.with_upstream()?;
    let mut steps = Steps::new("daily loop");

    steps.step(
        "validate: two named checks, offline, against upstream/master",
        || {
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
            Ok(())
        },
    );
    steps.step("validate: an unknown check, named with the fork's", || {
        let out = g.xtask(image, &["validate", "no-such-check"], &[]);
        let err = text(&out.stderr);
        ensure!(
            out.status.code() == Some(1)
                && err.contains("unknown check `no-such-check`")
                && err.contains("pkg-imports"),
            "{err}"
        );
        Ok(())
    });

    // The daemon here may refuse --privileged: a warning.
    steps.step("doctor on this set-up fork: no problem", || {
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
            "dev image moby-xtask-test/dev:bookworm-20.10-v3 is present",
        ] {
            ensure!(stdout.contains(ok), "{ok} not in:\n{stdout}");
        }
        Ok(())
    });

    steps.step("binary, for run", || {
        let out = g.xtask(image, &["binary"], &[]);
        ensure!(out.status.success(), "binary: {}", text(&out.stderr));
        Ok(())
    });
    steps.step(
        "run: the built daemon in the foreground, reached from the host, stopped by Ctrl-C",
        || {
            let args = ["--fork", g.fork.as_str(), "--image", image, "run"];
            let mut run = Running::spawn(&args, &[("HOME", g.home.as_str())])?;
            run.wait_for(
                "dockerd is up: export DOCKER_HOST=",
                Duration::from_secs(120),
            )?;
            let socket = format!("unix://{}/bundles/xtask-run/docker.sock", g.fork);
            let v = Command::new("docker")
                .args([
                    "-H",
                    &socket,
                    "version",
                    "--format",
                    "{{.Server.GitCommit}}",
                ])
                .output()?;
            ensure!(
                text(&v.stdout).trim() == g.head_short,
                "host docker version: {v:?}"
            );
            run.signal("INT")?;
            let (code, out) = run.finish(Duration::from_secs(60))?;
            ensure!(code == Some(130), "run after Ctrl-C: {code:?}\n{out}");
            tests::nothing_runs_in_the_dev_container(&g.fork, "dockerd")?;
            Ok(())
        },
    );

    steps.step(
        "clean: root-owned bundles/ and the dev container go; another fork's container and the cache volume it uses stay",
        || {
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
                stdout.contains("removing bundles") && stdout.contains(" MiB)"),
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
        },
    );
    steps.finish();
    Ok(())
}

#[test]
fn test_unit_counts_selects_and_names_failures() -> Result<()> {
    tests::e2e!();
    let image = dev_image_2010()?;
    let s = Scratch::new("e2e-unit");
    let g = GitFork::new(&s, OWNER)?;
    // One small package: the count is the tests gotestsum ran, and they pass.
    let out = g.xtask(image, &["test", "unit", "./pkg/stringid"], &[]);
    let stdout = text(&out.stdout);
    ensure!(
        out.status.success(),
        "test unit:\n{stdout}\n{}",
        text(&out.stderr)
    );
    let (passed, failed, _) =
        test_summary(&stdout).ok_or_else(|| anyhow::anyhow!("no summary in {stdout}"))?;
    let ran = text(&out.stderr) + &stdout;
    let done = ran
        .lines()
        .find(|l| l.starts_with("DONE "))
        .unwrap_or_default()
        .to_string();
    ensure!(
        passed > 0 && failed == 0 && done.starts_with(&format!("DONE {passed} tests")),
        "{done}\n{stdout}"
    );
    // --run selects exactly the matching test.
    let out = g.xtask(
        image,
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
    // A deliberately failing test: exit 1, named with its message.
    std::fs::write(
        g.fork.join("pkg/stringid/deliberate_test.go"),
        "package stringid\n\nimport \"testing\"\n\nfunc TestDeliberatelyFails(t *testing.T) {\n\tt.Fatalf(\"want %d, got %d\", 1, 2)\n}\n",
    )?;
    let out = g.xtask(image, &["test", "unit", "./pkg/stringid"], &[]);
    let stdout = text(&out.stdout);
    ensure!(out.status.code() == Some(1), "{stdout}");
    ensure!(
        stdout.contains("FAIL github.com/docker/docker/pkg/stringid TestDeliberatelyFails"),
        "{stdout}"
    );
    ensure!(
        stdout.contains("deliberate_test.go:6: want 1, got 2"),
        "{stdout}"
    );
    ensure!(
        test_summary(&stdout).is_some_and(|(p, f, _)| f == 1 && p == passed),
        "{stdout}"
    );
    Ok(())
}
