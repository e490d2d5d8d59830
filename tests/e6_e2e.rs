//! The same loop on a newer layout: Debian 13's moby 26.1.5 (an E6 fork: full commit hashes, no
//! checksums, `binary` = daemon + proxy, two Go cache volumes). `binary` then `smoke`.

use anyhow::{ensure, Result};
use tests::{e2e_enabled, text, GitFork, Scratch, MOBY_2615};
use xshell::cmd;

#[test]
fn binary_and_smoke_on_debian_moby_26_1_5() -> Result<()> {
    if !e2e_enabled()? {
        return Ok(());
    }
    let image = MOBY_2615.dev_image()?;
    let s = Scratch::new("e2e-2615");
    let g = GitFork::of(&MOBY_2615, &s, 1000)?;
    let sh = &g.sh;
    let full = cmd!(sh, "git rev-parse HEAD").read()?;

    let out = g.binary(image);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    ensure!(out.status.success(), "binary failed:\n{stdout}\n{stderr}");
    // E6 stamps the full hash and writes no checksums.
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
    ensure!(g.fork.join("bundles/binary-daemon/dockerd").is_file());

    g.smoke_passes(image, &full)?;
    Ok(())
}
