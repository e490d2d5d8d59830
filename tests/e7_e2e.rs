//! The loop on the newest engine layout before the module move: Debian testing's (forky) moby
//! 28.5.2 (an E7 fork: `BIND_DIR=.` by default, full commit hashes, no checksums, `binary` =
//! daemon + proxy). One `binary`, then one `smoke` against the daemon it built.

use anyhow::{ensure, Result};
use tests::{e2e_enabled, text, GitFork, Scratch, MOBY_2852};
use xshell::cmd;

#[test]
fn binary_and_smoke_on_debian_moby_28_5_2() -> Result<()> {
    if !e2e_enabled()? {
        return Ok(());
    }
    let image = MOBY_2852.dev_image()?;
    let s = Scratch::new("e2e-2852");
    let g = GitFork::of(&MOBY_2852, &s, 1000)?;
    let sh = &g.sh;
    let full = cmd!(sh, "git rev-parse HEAD").read()?;

    let out = g.binary(image);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    ensure!(out.status.success(), "binary failed:\n{stdout}\n{stderr}");
    // E7 stamps the full hash and writes no checksums; the daemon and its proxy, side by side.
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
    for bin in ["dockerd", "docker-proxy"] {
        ensure!(
            g.fork.join("bundles/binary-daemon").join(bin).is_file(),
            "no {bin}"
        );
    }

    g.smoke_passes(image, &full)?;
    Ok(())
}
