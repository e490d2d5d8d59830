//! The loop on each newer engine layout, one row per era: `binary` then `smoke` on a contributor's
//! fork of Debian's moby. What every era shares: the full commit hash stamped (from git), the
//! daemon and its proxy built side by side in `bundles/binary-daemon/`, no checksums, and `smoke`
//! passing against the daemon just built. What differs is in the row.
//!
//! - E6: Debian 13's moby 26.1.5 (full commit hashes, no checksums, `binary` = daemon + proxy,
//!   two Go cache volumes).
//! - E7: Debian testing's (forky) moby 28.5.2, the newest layout before the module move
//!   (`BIND_DIR=.` by default, full commit hashes, no checksums, `binary` = daemon + proxy).
//!
//! (Debian 12's 20.10.24, an E4 fork, has its own files: `binary_e2e.rs`, `smoke_e2e.rs`, …)

use anyhow::{ensure, Result};
use tests::{text, GitFork, Moby, Scratch, Steps, MOBY_2615, MOBY_2852};
use xshell::cmd;

/// One era: its moby, and what its build must leave.
struct Era {
    name: &'static str,
    moby: &'static Moby,
    /// The scratch directory's tag.
    scratch: &'static str,
    /// The files `binary` must leave in `bundles/binary-daemon/`.
    built: &'static [&'static str],
}

const ERAS: &[Era] = &[
    Era {
        name: "E6: Debian's moby 26.1.5",
        moby: &MOBY_2615,
        scratch: "e2e-2615",
        built: &["dockerd"],
    },
    Era {
        name: "E7: Debian's moby 28.5.2",
        moby: &MOBY_2852,
        scratch: "e2e-2852",
        built: &["dockerd", "docker-proxy"],
    },
];

/// Each era a step: one era's failure does not hide the next's.
#[test]
fn binary_and_smoke_on_each_newer_era() -> Result<()> {
    tests::e2e!();
    let mut steps = Steps::new("eras");
    for era in ERAS {
        steps.step(era.name, || binary_and_smoke(era));
    }
    steps.finish();
    Ok(())
}

fn binary_and_smoke(era: &Era) -> Result<()> {
    let image = era.moby.dev_image()?;
    let s = Scratch::new(era.scratch);
    let g = GitFork::of(era.moby, &s, 1000)?;
    let sh = &g.sh;
    let full = cmd!(sh, "git rev-parse HEAD").read()?;

    let out = g.binary(image);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    ensure!(out.status.success(), "binary failed:\n{stdout}\n{stderr}");
    // The full hash stamped, no checksums written; the daemon and its proxy, side by side.
    ensure!(
        stderr.contains(&format!("DOCKER_GITCOMMIT={full} (from git)")),
        "{stderr}"
    );
    ensure!(
        stdout.contains("bundles/binary-daemon/dockerd ")
            && stdout.contains("bundles/binary-daemon/docker-proxy "),
        "{stdout}"
    );
    ensure!(!stdout.contains("sha256"), "{stdout}");
    for bin in era.built {
        ensure!(
            g.fork.join("bundles/binary-daemon").join(bin).is_file(),
            "no {bin}"
        );
    }

    g.smoke_passes(image, &full)?;
    Ok(())
}
