//! hack-compat against real moby trees, not only its own fixtures: Debian 12's moby 20.10.24 (E4),
//! Debian 13's 26.1.5 (E6) and Debian testing's 28.5.2 (E7), as `apt-get source docker.io` gives
//! them. Pure reads, no daemon: the real-tree tier (`tests::real_trees!()`), on the end-to-end
//! tier's switch because it downloads the sources (cached) as that tier's fixtures do.

use anyhow::{ensure, Result};
use hack_compat::{BinaryLayout, CommitForm, Era, Fork};
use tests::{debian_2010_tree, text, xtask, MOBY_2615, MOBY_2852, NO_DAEMON};

#[test]
fn moby_20_10_24_is_e4() -> Result<()> {
    tests::real_trees!();
    let f = Fork::open(debian_2010_tree()?.join("engine"))?;
    ensure!(f.era == Era::E4, "{:?}", f.era);
    ensure!(f.src_path == "/go/src/github.com/docker/docker");
    ensure!(
        f.env_allowlist.len() == 47,
        "{} names: {:?}",
        f.env_allowlist.len(),
        f.env_allowlist
    );
    ensure!(f.go_caches.len() == 1 && f.go_caches[0].volume == "docker-dev-cache");
    ensure!(
        f.commit_form == CommitForm::Short
            && !f.checksum_kinds.is_empty()
            && f.layout == BinaryLayout::Flat
    );
    ensure!(
        f.accepts_bundle("install-binary")
            && f.accepts_bundle("binary-daemon")
            && !f.accepts_bundle("binary-proxy")
    );
    ensure!(f.dev_target() == Some("dev") && f.image_tag_per_branch);
    // Its suites can use a test daemon already running (`--keep-daemon`).
    let th = f.integration.as_ref().and_then(|it| it.test_host.clone());
    ensure!(
        th.as_ref().is_some_and(|t| t.var == "DOCKER_TEST_HOST"
            && t.start_bundles == [".integration-daemon-start", ".integration-daemon-setup"]),
        "{th:?}"
    );
    Ok(())
}

#[test]
fn moby_26_1_5_is_e6() -> Result<()> {
    tests::real_trees!();
    let root = MOBY_2615.tree()?.join("engine");
    let f = Fork::open(&root)?;
    ensure!(f.era == Era::E6, "{:?}", f.era);
    ensure!(f.src_path == "/go/src/github.com/docker/docker");
    ensure!(
        f.env_allowlist.len() == 55,
        "{} names: {:?}",
        f.env_allowlist.len(),
        f.env_allowlist
    );
    ensure!(f.env_allowlist.iter().any(|n| n == "OTEL_SERVICE_NAME"));
    let vols: Vec<&str> = f.go_caches.iter().map(|c| c.volume.as_str()).collect();
    ensure!(vols == ["docker-dev-cache", "docker-mod-cache"], "{vols:?}");
    ensure!(
        f.commit_form == CommitForm::Full
            && f.checksum_kinds.is_empty()
            && f.layout == BinaryLayout::Flat
    );
    ensure!(f.accepts_bundle("binary-proxy") && !f.accepts_bundle("test-integration-cli"));
    ensure!(f.dev_target() == Some("dev-base") && !f.image_tag_per_branch);

    // The tool on it: the same values in the docker run line, no daemon needed.
    let out = xtask(
        &[
            "--fork",
            root.as_str(),
            "--commit",
            "0123abc",
            "binary",
            "--dry-run",
        ],
        &[NO_DAEMON],
    );
    let line = text(&out.stdout);
    ensure!(out.status.success(), "{}", text(&out.stderr));
    ensure!(
        line.contains("-v docker-mod-cache:/go/pkg/mod/")
            && line.contains(" docker-dev hack/make.sh binary"),
        "{line}"
    );
    Ok(())
}

#[test]
fn moby_28_5_2_is_e7() -> Result<()> {
    tests::real_trees!();
    let root = MOBY_2852.tree()?.join("engine");
    let f = Fork::open(&root)?;
    ensure!(f.era == Era::E7, "{:?}", f.era);
    ensure!(f.src_path == "/go/src/github.com/docker/docker");
    ensure!(
        f.env_allowlist.len() == 54,
        "{} names: {:?}",
        f.env_allowlist.len(),
        f.env_allowlist
    );
    ensure!(f.env_allowlist.iter().any(|n| n == "FIREWALLD"));
    let vols: Vec<&str> = f.go_caches.iter().map(|c| c.volume.as_str()).collect();
    ensure!(vols == ["docker-dev-cache", "docker-mod-cache"], "{vols:?}");
    ensure!(
        f.commit_form == CommitForm::Full
            && f.checksum_kinds.is_empty()
            && f.layout == BinaryLayout::Flat
    );
    ensure!(f.accepts_bundle("binary-proxy") && f.accepts_bundle("install-binary"));
    ensure!(f.dev_target() == Some("dev-base") && !f.image_tag_per_branch);

    // BIND_DIR defaults to `.` in E7 (the whole tree is mounted, `dev-base` is the target): the
    // tool mounts the fork itself at the source path, and nothing at bundles/.
    let makefile = fs_err::read_to_string(root.join("Makefile"))?;
    ensure!(makefile.contains("BIND_DIR := $(if $(BINDDIR),$(BINDDIR),$(if $(DOCKER_HOST),,.))"));
    let out = xtask(
        &[
            "--fork",
            root.as_str(),
            "--commit",
            "0123abc",
            "binary",
            "--dry-run",
        ],
        &[NO_DAEMON],
    );
    let line = text(&out.stdout);
    ensure!(out.status.success(), "{}", text(&out.stderr));
    ensure!(
        line.contains(&format!("-v {root}:/go/src/github.com/docker/docker "))
            && !line.contains("/bundles")
            && line.contains(" docker-dev hack/make.sh binary"),
        "{line}"
    );
    Ok(())
}

/// The pieces a split run deals out, on the 20.10.24 tree: `integration/` package directories
/// and the `integration-cli` suites that are Go tests, each sized by the tests a plain `--run`
/// names; pieces with none of them left out, as the fork's own filter grep leaves them out.
#[test]
fn moby_20_10_24_splits_into_directories_and_cli_suites() -> Result<()> {
    use hack_compat::Unit;
    tests::real_trees!();
    let f = Fork::open(debian_2010_tree()?.join("engine"))?;
    let it = f.integration.as_ref().expect("test-integration");
    ensure!(it.dirs.skip_var.as_deref() == Some("TEST_SKIP_INTEGRATION"));
    let dirs = [
        "integration/system".to_string(),
        "integration-cli".to_string(),
    ];
    let some = f.integration_pieces(&dirs, Some("TestVersion|TestInfoEnsureSucceeds"));
    let got: Vec<(String, usize)> = some.iter().map(|p| (p.unit.key(), p.tests)).collect();
    ensure!(
        got == [
            ("./integration/system".to_string(), 1),
            ("integration-cli/TestDockerSuite".to_string(), 1)
        ],
        "{got:?}"
    );
    let all = f.integration_pieces(&[], None);
    let suites = all
        .iter()
        .filter(|p| matches!(p.unit, Unit::CliSuite(_)))
        .count();
    let dirs = all
        .iter()
        .filter(|p| matches!(p.unit, Unit::Dir(_)))
        .count();
    ensure!(
        suites == 11 && dirs == 18,
        "{suites} suites, {dirs} directories: {all:?}"
    );
    ensure!(
        all.iter()
            .any(|p| p.unit == Unit::Dir("./integration/plugin/authz".into())),
        "nested directories: {all:?}"
    );
    Ok(())
}
