//! The fork's CI read from the real workflow files of v23.0.6, v26.1.5, v27.5.1, v28.5.2 and
//! HEAD b985e23 (fixtures copied byte for byte from upstream, with an empty `hack/validate/`
//! entry per script): the job list, each job's variables and CI names; and gotestlist's split
//! of an `integration-cli/` written by the test, worked by hand.

use camino::{Utf8Path, Utf8PathBuf};
use hack_compat::ci::{self, Ci, CiJob, CiSource, JobKind};
use hack_compat::go_tests::Platform;

const AMD64: Platform = Platform {
    os: "linux",
    arch: "amd64",
};

fn read(era: &str) -> Ci {
    let root = Utf8Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ci")
        .join(era);
    ci::read(&root, AMD64).unwrap_or_else(|e| panic!("{era}: {e}"))
}

fn job<'a>(ci: &'a Ci, id: &str, storage: Option<&str>, arch: &str) -> &'a CiJob {
    ci.jobs
        .iter()
        .find(|j| j.id == id && j.storage.as_deref() == storage && j.arch == arch)
        .unwrap_or_else(|| panic!("no job {id} {storage:?} {arch}"))
}

fn ids<'a>(ci: &'a Ci, storage: Option<&str>) -> Vec<&'a str> {
    ci.jobs
        .iter()
        .filter(|j| j.storage.as_deref() == storage && j.arch == "amd64")
        .map(|j| j.id.as_str())
        .collect()
}

fn has(j: &CiJob, pairs: &[(&str, &str)]) {
    for (k, v) in pairs {
        assert_eq!(j.var(k), Some(*v), "{} {:?}: {k}", j.id, j.storage);
    }
}

#[test]
fn v23_0_6_one_file_no_storage() {
    let ci = read("v23.0.6");
    assert!(matches!(ci.source, CiSource::Workflows(ref f) if f.len() == 2));
    assert_eq!(
        ids(&ci, None),
        [
            "validate/default-seccomp",
            "validate/deprecate-integration-cli",
            "validate/golangci-lint",
            "validate/no-module",
            "validate/pkg-imports",
            "validate/shfmt",
            "validate/swagger",
            "validate/swagger-gen",
            "validate/toml",
            "validate/vendor",
            "validate/yamllint",
            "unit",
            "docker-py",
            "integration",
            "integration/rootless",
            "integration/systemd",
            "integration-cli/1",
            "integration-cli/2",
            "integration-cli/3",
        ]
    );
    let r = job(&ci, "integration/rootless", None, "amd64");
    has(
        r,
        &[
            ("DOCKER_EXPERIMENTAL", "1"),
            ("DOCKER_GRAPHDRIVER", "overlay2"),
            ("DOCKER_ROOTLESS", "1"),
            ("TEST_SKIP_INTEGRATION_CLI", "1"),
        ],
    );
    assert_eq!(r.var("SYSTEMD"), None);
    assert_eq!(
        r.names,
        [
            "integration (ubuntu-20.04, rootless)",
            "integration (ubuntu-22.04, rootless)"
        ]
    );
    assert_eq!(r.make, ["-o", "build", "test-integration"]);
    // The fixture has no integration-cli/: the split is the overrides alone.
    let cli = job(&ci, "integration-cli/2", None, "amd64");
    has(
        cli,
        &[
            ("TEST_SKIP_INTEGRATION", "1"),
            ("TESTFLAGS", "-test.run (DockerSwarmSuite)/"),
        ],
    );
    assert_eq!(
        cli.kind,
        JobKind::IntegrationCli {
            selection: "DockerSwarmSuite".into()
        }
    );
    assert_eq!(
        job(&ci, "validate/vendor", None, "amd64").target(),
        "validate-vendor"
    );
}

#[test]
fn v26_and_v27_per_storage() {
    for era in ["v26.1.5", "v27.5.1"] {
        let ci = read(era);
        let both = [
            "unit",
            "docker-py",
            "integration",
            "integration/rootless",
            "integration/systemd",
            "integration-cli/1",
            "integration-cli/2",
            "integration-cli/3",
        ];
        assert_eq!(ids(&ci, Some("graphdriver")), both, "{era}");
        assert_eq!(ids(&ci, Some("snapshotter")), both, "{era}");
        let g = job(&ci, "integration", Some("graphdriver"), "amd64");
        has(g, &[("DOCKER_GRAPHDRIVER", "overlay2")]);
        assert_eq!(g.var("TEST_INTEGRATION_USE_SNAPSHOTTER"), None, "{era}");
        let s = job(&ci, "integration/systemd", Some("snapshotter"), "amd64");
        has(
            s,
            &[
                ("DOCKER_GRAPHDRIVER", "overlayfs"),
                ("TEST_INTEGRATION_USE_SNAPSHOTTER", "1"),
                ("SYSTEMD", "true"),
            ],
        );
        assert_eq!(
            s.names[0],
            "test (snapshotter) / integration (ubuntu-20.04, systemd)"
        );
        assert_eq!(s.file, ".github/workflows/.test.yml");
        let validate: Vec<&str> = ids(&ci, None);
        assert_eq!(validate.len(), 12, "{era}: {validate:?}");
        assert_eq!(validate.last(), Some(&"validate/generate-files"));
    }
}

#[test]
fn v28_5_2_firewalld_and_the_unit_workflow() {
    let ci = read("v28.5.2");
    let f = job(&ci, "integration/firewalld", Some("snapshotter"), "amd64");
    has(
        f,
        &[("FIREWALLD", "true"), ("DOCKER_GRAPHDRIVER", "overlayfs")],
    );
    assert!(!ids(&ci, Some("graphdriver")).contains(&"integration/firewalld"));
    // ubuntu-24.04's rootless entry is commented out in the script.
    assert_eq!(
        job(&ci, "integration/rootless", Some("graphdriver"), "amd64").names,
        ["test (graphdriver) / integration (ubuntu-22.04, rootless)"]
    );
    has(
        job(&ci, "unit/firewalld", None, "amd64"),
        &[("FIREWALLD", "true")],
    );
    assert_eq!(job(&ci, "unit", None, "amd64").names, ["test-unit / unit"]);
    // The make command's own variable.
    has(
        job(&ci, "docker-py", Some("snapshotter"), "amd64"),
        &[("TEST_SKIP_INTEGRATION_CLI", "1")],
    );
    // GitHub's include rule: `{mode: firewalld, test: DockerSwarmSuite}` changes no original
    // value of the `DockerSwarmSuite` entry, so it adds its mode to that entry.
    let swarm = job(&ci, "integration-cli/2", Some("snapshotter"), "amd64");
    assert_eq!(swarm.mode, "firewalld");
    has(
        swarm,
        &[
            ("FIREWALLD", "true"),
            ("TESTFLAGS", "-test.run (DockerSwarmSuite)/"),
        ],
    );
    assert_eq!(
        job(&ci, "integration-cli/2", Some("graphdriver"), "amd64").mode,
        ""
    );
    has(
        job(
            &ci,
            "integration-cli/firewalld/1",
            Some("snapshotter"),
            "amd64",
        ),
        &[(
            "TESTFLAGS",
            "-test.run (DockerCLINetworkSuite|DockerCLIPortSuite|DockerDaemonSuite)/",
        )],
    );
}

#[test]
fn head_arch_storage_and_modes() {
    let ci = read("head");
    let u = job(&ci, "integration/userns", Some("graphdriver"), "amd64");
    has(
        u,
        &[
            ("DOCKER_REMAP_ROOT", "default"),
            ("TEST_INTEGRATION_USE_GRAPHDRIVER", "1"),
            ("DOCKER_GRAPHDRIVER", "overlay2"),
            ("TEST_SKIP_INTEGRATION_CLI", "1"),
        ],
    );
    assert_eq!(
        u.names,
        ["test (amd64, graphdriver) / integration (amd64, ubuntu-26.04, userns)"]
    );
    assert!(!ids(&ci, Some("snapshotter")).contains(&"integration/userns"));
    let s = job(
        &ci,
        "integration/nftables+firewalld",
        Some("snapshotter"),
        "amd64",
    );
    has(
        s,
        &[
            ("DOCKER_FIREWALL_BACKEND", "nftables"),
            ("FIREWALLD", "true"),
            ("DOCKER_GRAPHDRIVER", "overlayfs"),
        ],
    );
    assert_eq!(s.var("TEST_INTEGRATION_USE_GRAPHDRIVER"), None);
    has(
        job(&ci, "integration/embedded", Some("snapshotter"), "amd64"),
        &[("TEST_INTEGRATION_CONTAINERD_EMBEDDED", "1")],
    );
    // ubuntu-22.04 runs '', rootless and systemd for amd64 beside 26.04.
    assert_eq!(
        job(&ci, "integration/rootless", Some("snapshotter"), "amd64")
            .names
            .len(),
        2
    );
    // arm64: snapshotter only, no extra modes.
    let arm: Vec<&str> = ci
        .jobs
        .iter()
        .filter(|j| j.arch == "arm64" && j.kind == JobKind::Integration)
        .map(|j| j.id.as_str())
        .collect();
    assert_eq!(arm, ["integration"]);
    let validate: Vec<&str> = ids(&ci, None)
        .into_iter()
        .filter(|i| i.starts_with("validate/"))
        .collect();
    assert_eq!(
        validate,
        [
            "validate/deprecate-integration-cli",
            "validate/golangci-lint",
            "validate/module-replace",
            "validate/pkg-imports",
            "validate/shfmt",
            "validate/vendor",
            "validate/generate-files"
        ]
    );
    assert_eq!(
        job(&ci, "unit", None, "amd64").names,
        ["test-unit (amd64) / unit"]
    );
    // HEAD's snapshotter includes: the DockerSwarmSuite entry ends with the last mode given
    // for it; the other suites get entries of their own per mode.
    assert_eq!(
        job(&ci, "integration-cli/2", Some("snapshotter"), "amd64").mode,
        "nftables+firewalld"
    );
    for mode in ["iptables+firewalld", "nftables", "nftables+firewalld"] {
        let j = job(
            &ci,
            &format!("integration-cli/{mode}/2"),
            Some("snapshotter"),
            "amd64",
        );
        has(j, &[("TESTFLAGS", "-test.run (DockerNetworkSuite)/")]);
    }
}

#[test]
fn no_workflow_says_what_there_is() {
    let dir = tempdir("jenkins");
    assert_eq!(ci::read(&dir, AMD64).unwrap().source, CiSource::None);
    std::fs::write(dir.join("Jenkinsfile"), "pipeline {}\n").unwrap();
    let ci = ci::read(&dir, AMD64).unwrap();
    assert_eq!(ci.source, CiSource::Jenkinsfile);
    assert!(ci.jobs.is_empty());
    std::fs::create_dir_all(dir.join(".github/workflows")).unwrap();
    std::fs::write(dir.join(".github/workflows/test.yml"), "jobs: [unclosed\n").unwrap();
    let err = ci::read(&dir, AMD64).unwrap_err().to_string();
    assert!(err.contains("test.yml is not valid YAML"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir(name: &str) -> Utf8PathBuf {
    let dir = Utf8PathBuf::from(std::env::temp_dir().to_string_lossy().into_owned())
        .join(format!("hack-compat-ci-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// gotestlist's split of a written `integration-cli/`, worked by hand. 26 tests, N = 3: size
/// ceil(26 / 3) = 9. GammaSuite (6) is an override. Keys sorted: AlphaSuite 4, BetaSuite 3,
/// DeltaSuite 2, EpsilonSuite 5, TestZeta 1 (the runners `Test…Suite` are no keys; `helper`,
/// `Testlower`, a value receiver and a windows-only file count for nothing). Alpha+Beta+Delta
/// = 9 reaches the size without passing it; Epsilon would pass it: entry 2 takes Epsilon and
/// TestZeta.
#[test]
fn gotestlist_split_worked_by_hand() {
    let dir = tempdir("cli");
    let mut text = String::from("package main\n\nimport \"testing\"\n\n");
    for (suite, n) in [
        ("AlphaSuite", 4),
        ("BetaSuite", 3),
        ("DeltaSuite", 2),
        ("EpsilonSuite", 5),
        ("GammaSuite", 6),
    ] {
        for i in 1..=n {
            text.push_str(&format!("func (s *{suite}) TestT{i}(c *testing.T) {{}}\n"));
        }
        text.push_str(&format!("func Test{suite}(t *testing.T) {{}}\n"));
    }
    text.push_str("func TestZeta(t *testing.T) {}\nfunc helper(t *testing.T) {}\n");
    text.push_str(
        "func Testlower(t *testing.T) {}\nfunc (s AlphaSuite) TestValue(c *testing.T) {}\n",
    );
    std::fs::write(dir.join("a_test.go"), text).unwrap();
    std::fs::write(
        dir.join("w_test.go"),
        "//go:build windows\n\npackage main\n\nfunc (s *AlphaSuite) TestWin(c *testing.T) {}\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("sub/x_windows_test.go"),
        "package sub\nfunc TestW(t *testing.T) {}\n",
    )
    .unwrap();
    let tests = ci::gotestlist::tests(&dir, true, AMD64);
    assert_eq!(tests.len(), 26);
    assert_eq!(
        ci::gotestlist::distribute(&tests, 3, &["GammaSuite".into()]),
        [
            "AlphaSuite|BetaSuite|DeltaSuite",
            "EpsilonSuite|TestZeta",
            "GammaSuite"
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// HEAD b985e23's `integration-cli/` (reduced to its files' build constraints and `func` lines,
/// `testdata/head-integration-cli/`): 1,418 tests, and the split an independent
/// reimplementation of gotestlist printed for the full tree (`testdata/head-gotestlist.json`).
/// With `MOBY_XTASK_UPSTREAM_HEAD` naming a checkout of that commit, the full tree too.
#[test]
fn gotestlist_split_of_heads_integration_cli() {
    let fixtures = Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ci/testdata");
    let want: Vec<String> = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("head-gotestlist.json")).unwrap(),
    )
    .unwrap();
    let overrides: Vec<String> = want[6..].to_vec();
    let mut trees = vec![fixtures.join("head-integration-cli/integration-cli")];
    if let Ok(full) = std::env::var("MOBY_XTASK_UPSTREAM_HEAD") {
        trees.push(Utf8PathBuf::from(full).join("integration-cli"));
    }
    for tree in &trees {
        let tests = ci::gotestlist::tests(tree, true, AMD64);
        assert_eq!(tests.len(), 1418, "{tree}");
        assert_eq!(
            ci::gotestlist::distribute(&tests, 6, &overrides),
            want,
            "{tree}"
        );
        println!("{tree}: 1418 tests, the split as gotestlist's");
    }
}
