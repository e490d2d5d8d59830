//! `ci list` and `ci run` on Debian's moby 26.1.5 (E6), whose source package has no
//! `.github/`: the test's copy gets upstream's workflow files (hack-compat's fixtures). With
//! v26.1.5's own: the list, a systemd job "not run" with its reason, one integration-cli shard
//! narrowed with `--run`. With HEAD's (which define the userns mode 26.1.5's lack, and whose
//! variables 26.1.5's scripts read): `integration/userns`, whose nested daemon's `/info` the
//! test's own integration test writes down (`name=userns` among its security options).

use anyhow::{ensure, Context as _, Result};
use camino::Utf8Path;
use tests::{add_ci_workflows, test_summary, text, GitFork, Scratch, MOBY_2615};

const OWNER: u32 = 1000;

/// Upstream revision `rev`'s workflow files into the fork, the owner's.
fn add_workflows(g: &GitFork, rev: &str) -> Result<()> {
    add_ci_workflows(&g.fork, rev)?;
    chown(&g.fork.join(".github"))
}

fn chown(p: &Utf8Path) -> Result<()> {
    let s = std::process::Command::new("chown")
        .args(["-R", &format!("{OWNER}:{OWNER}"), p.as_str()])
        .status()?;
    ensure!(s.success(), "chown {p}");
    Ok(())
}

/// An integration test of the fork's own package that writes the test daemon's security
/// options into `$DEST` (the bundle directory `hack/make/` gives the tests), named so that
/// `--run TestVersion` selects it.
const INFO_TEST: &str = r#"package system

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersionXtaskDaemonInfo(t *testing.T) {
	info, err := testEnv.APIClient().Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(os.Getenv("DEST"), "xtask-security-options")
	if err := os.WriteFile(out, []byte(strings.Join(info.SecurityOptions, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
"#;

#[test]
fn ci_jobs_on_debian_moby_26_1_5() -> Result<()> {
    tests::e2e!();
    let s = Scratch::new("e2e-ci-2615");
    let g = GitFork::of(&MOBY_2615, &s, OWNER)?;
    add_workflows(&g, "v26.1.5")?;
    let image = MOBY_2615.suites_dev_image("debian:bookworm-slim")?;
    list(&g, &image)?;

    let out = g.xtask(&image, &["ci", "run", "integration/systemd"], &[]);
    let stdout = text(&out.stdout);
    ensure!(
        out.status.code() == Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    ensure!(
        stdout.contains("integration/systemd@graphdriver: not run: systemd mode"),
        "{stdout}"
    );

    cli_shard(&g, &image)?;

    add_workflows(&g, "head")?;
    let test = g.fork.join("integration/system/xtask_info_test.go");
    fs_err::write(&test, INFO_TEST)?;
    chown(&test)?;
    let out = g.xtask_past_fs_flake(
        &image,
        &["ci", "run", "integration/userns", "--run", "TestVersion"],
        &[],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    ensure!(
        out.status.success(),
        "ci run integration/userns:\n{stdout}\n{stderr}"
    );
    ensure!(
        stdout.contains("integration/userns@graphdriver: 2 passed, 0 failed, 0 skipped"),
        "{stdout}"
    );
    println!("{stdout}");
    let opts = fs_err::read_to_string(
        g.fork
            .join("bundles/test-integration/xtask-security-options"),
    )?;
    ensure!(
        opts.lines().any(|l| l == "name=userns"),
        "the test daemon's security options: {opts}"
    );
    Ok(())
}

/// `ci list`: every job, one line each, the CI names as GitHub shows them; `--json` the same.
fn list(g: &GitFork, image: &str) -> Result<()> {
    let out = g.xtask(image, &["ci", "list"], &[]);
    let stdout = text(&out.stdout);
    ensure!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let words = |l: &str| l.split_whitespace().collect::<Vec<_>>().join(" ");
    let lines: Vec<String> = stdout.lines().map(words).collect();
    for want in [
        "integration/rootless graphdriver test (graphdriver) / integration (ubuntu-20.04, rootless)",
        "integration-cli/8 snapshotter test (snapshotter) / integration-cli (DockerSwarmSuite)",
        "validate/vendor - validate (vendor)",
        "unit snapshotter test (snapshotter) / unit",
    ] {
        ensure!(lines.iter().any(|l| l == want), "no line `{want}`:\n{stdout}");
    }
    // Per storage 5 jobs and 9 integration-cli entries (6 packed, 3 overrides), and
    // the validate matrix of 12.
    ensure!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("40 jobs for amd64")),
        "{stdout}"
    );
    let out = g.xtask(image, &["--json", "ci", "list"], &[]);
    let events: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|e: &serde_json::Value| e["step"] == "job")
        .collect();
    ensure!(events.len() == 40, "{} job events", events.len());
    let userns_free = events
        .iter()
        .all(|e| e["env"].get("DOCKER_REMAP_ROOT").is_none());
    ensure!(userns_free, "26.1.5's workflows have no userns mode");
    Ok(())
}

/// One integration-cli shard of 26.1.5's split (the one holding `DockerCLIInfoSuite`),
/// narrowed with `--run` to one test: that test passes, or the tool names what could not build.
fn cli_shard(g: &GitFork, image: &str) -> Result<()> {
    let out = g.xtask(image, &["--json", "ci", "list"], &[]);
    let shard = text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| {
            e["id"]
                .as_str()
                .is_some_and(|i| i.starts_with("integration-cli/"))
                && e["env"]["TESTFLAGS"]
                    .as_str()
                    .is_some_and(|f| f.contains("DockerCLIInfoSuite"))
        })
        .and_then(|e| e["id"].as_str().map(str::to_string))
        .context("no integration-cli entry holds DockerCLIInfoSuite")?;
    let out = g.xtask_past_fs_flake(
        image,
        &[
            "ci",
            "run",
            &shard,
            "--storage",
            "graphdriver",
            "--run",
            "TestInfoEnsureSucceeds",
        ],
        &[],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    // Debian's Go (1.24) vets integration-cli's printf calls, which 26.1.5's code fails: then
    // the run says which test binary did not build, and the job did not run.
    let unbuilt = "no test ran: the test binary of ./integration-cli did not build (`go test -c`)";
    if stderr.contains(unbuilt) {
        ensure!(out.status.code() == Some(1), "{stdout}\n{stderr}");
        ensure!(
            stdout.contains(&format!("  {shard}@graphdriver: not run")),
            "{stdout}"
        );
        println!("{shard}: this tree's integration-cli does not build here; said so");
        return Ok(());
    }
    ensure!(out.status.success(), "ci run {shard}:\n{stdout}\n{stderr}");
    // The suites' runner tests the alternation selects pass around the one test asked for.
    ensure!(
        test_summary(&stdout).is_some_and(|(p, f, _)| p >= 1 && f == 0),
        "{stdout}"
    );
    ensure!(
        stdout.contains(&format!("{shard}@graphdriver: ")),
        "{stdout}"
    );
    ensure!(
        stderr.contains("TestDockerCLIInfoSuite/TestInfoEnsureSucceeds"),
        "the test asked for did not run:\n{stderr}"
    );
    Ok(())
}
