//! The facts read from the Makefile and hack/ scripts of each era's fixture: computed exports,
//! image build args, env-paired mounts and ports, the nested daemon's flags, the install
//! directory and checksum files.

use camino::Utf8Path;
use hack_compat::{
    BuildArgValue, Checksum, CommitForm, DataRootFlag, EnvMount, ExportValue, Fork, MakeCond,
};

fn open(name: &str) -> Fork {
    let dir = Utf8Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    match Fork::open(&dir) {
        Ok(f) => f,
        Err(e) => panic!("fixture {name}: {e}"),
    }
}

fn export_names(f: &Fork) -> Vec<&str> {
    f.exports.iter().map(|e| e.name.as_str()).collect()
}

fn arg_names(f: &Fork) -> Vec<&str> {
    f.image_build.args.iter().map(|a| a.name.as_str()).collect()
}

#[test]
fn e1_exports_incremental_binary_and_gates_the_pkg_cache() {
    let f = open("e1");
    let inc = f.export("DOCKER_INCREMENTAL_BINARY").expect("exported");
    assert_eq!(inc.value, ExportValue::Literal("1".into()));
    assert!(inc.host_wins);
    assert_eq!(inc.static_value(None).as_deref(), Some("1"));
    assert_eq!(inc.static_value(Some("")).as_deref(), Some("1"));
    assert_eq!(inc.static_value(Some("0")).as_deref(), Some("0"));
    assert_eq!(
        f.go_caches_when.as_deref(),
        Some("DOCKER_INCREMENTAL_BINARY")
    );
    let gd = f.export("DOCKER_GRAPHDRIVER").expect("exported");
    assert_eq!(
        (gd.value.clone(), gd.host_wins),
        (ExportValue::DaemonStorageDriver, true)
    );
    let gc = f.export("DOCKER_GITCOMMIT").expect("exported");
    assert_eq!(
        (gc.value.clone(), gc.host_wins),
        (ExportValue::GitCommit(CommitForm::Short), false)
    );
    assert!(matches!(
        f.export("BUILD_APT_MIRROR").map(|e| &e.value),
        Some(ExportValue::Unknown(_))
    ));
}

#[test]
fn e1_e2_checksums_come_from_make_sh() {
    for e in ["e1", "e2", "e3", "e4"] {
        assert_eq!(
            open(e).checksum_kinds,
            vec![Checksum::Md5, Checksum::Sha256],
            "{e}"
        );
        assert!(!open(e).checksum_kinds.is_empty());
    }
    for e in ["e5", "e6", "e7", "e8"] {
        assert!(open(e).checksum_kinds.is_empty(), "{e}");
    }
    assert_eq!(Checksum::Sha256.ext(), "sha256");
}

#[test]
fn e1_daemon_uses_graph_later_data_root() {
    let f = open("e1");
    assert_eq!(f.daemon.data_root, DataRootFlag::Graph);
    assert_eq!(f.daemon.data_root.flag(), "--graph");
    assert_eq!(f.daemon.debug.as_deref(), Some("--debug"));
    assert_eq!(f.daemon.storage_driver_var, "DOCKER_GRAPHDRIVER");
    assert_eq!(f.daemon.storage_driver_default, "vfs");
    assert_eq!(f.daemon.extra_args_var, None);
    for e in ["e2", "e3", "e4", "e5", "e6", "e7", "e8"] {
        assert_eq!(open(e).daemon.data_root.flag(), "--data-root", "{e}");
    }
    assert_eq!(
        open("e3").daemon.extra_args_var.as_deref(),
        Some("DOCKERD_ARGS")
    );
    assert_eq!(open("e7").daemon.storage_driver_default, "vfs");
    assert_eq!(open("e8").daemon.storage_driver_default, "native");
}

#[test]
fn install_dir_every_era() {
    for e in ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"] {
        let f = open(e);
        assert_eq!(
            f.install_dir.prefix_var, "DOCKER_MAKE_INSTALL_PREFIX",
            "{e}"
        );
        assert_eq!(f.install_dir.path(None), "/usr/local/bin", "{e}");
        assert_eq!(f.install_dir.path(Some("/opt")), "/opt/bin", "{e}");
    }
}

#[test]
fn env_mounts_and_ports() {
    let cli = EnvMount {
        var: "DOCKER_CLI_PATH".into(),
        target: "/usr/local/cli".into(),
    };
    assert!(open("e1").env_mounts.is_empty());
    assert_eq!(open("e2").env_mounts, vec![cli.clone()]);
    let e4 = open("e4");
    assert_eq!(e4.env_mounts[0], cli);
    assert_eq!(e4.env_mounts[1].target, "/usr/local/completion/bash");
    // E7 still references DOCKER_MOUNT_BASH_COMPLETION but no longer defines it.
    assert_eq!(open("e7").env_mounts, vec![cli.clone()]);
    assert_eq!(open("e8").env_mounts, vec![cli]);
    let ports = |e: &str| -> Vec<String> { open(e).env_ports.into_iter().map(|p| p.var).collect() };
    assert_eq!(ports("e1"), vec!["DOCKER_PORT"]);
    assert_eq!(ports("e4"), vec!["DOCKER_PORT"]);
    assert_eq!(ports("e5"), vec!["DOCKER_PORT", "DELVE_PORT"]);
    assert_eq!(ports("e8"), vec!["DOCKER_PORT", "DELVE_PORT"]);
}

#[test]
fn build_args_per_era() {
    let e1 = open("e1");
    assert_eq!(arg_names(&e1), vec!["APT_MIRROR"]);
    assert_eq!(
        e1.image_build.args[0].value,
        BuildArgValue::Host("DOCKER_BUILD_APT_MIRROR".into())
    );
    assert_eq!(
        e1.image_build.args[0].when,
        vec![MakeCond::Set("DOCKER_BUILD_APT_MIRROR".into())]
    );
    assert_eq!(e1.image_build.host_spliced, vec!["DOCKER_BUILD_ARGS"]);
    let e4 = open("e4");
    assert!(arg_names(&e4).contains(&"GO_VERSION"));
    let systemd = e4
        .image_build
        .args
        .iter()
        .find(|a| a.name == "SYSTEMD")
        .expect("SYSTEMD");
    assert_eq!(systemd.value, BuildArgValue::Literal("true".into()));
    assert_eq!(systemd.when, vec![MakeCond::Set("DOCKER_SYSTEMD".into())]);
    assert!(e4
        .image_build
        .host_spliced
        .contains(&"DOCKER_BUILD_OPTS".to_string()));
    assert_eq!(
        arg_names(&open("e6")),
        vec![
            "GO_VERSION",
            "DOCKERCLI_VERSION",
            "DOCKERCLI_REPOSITORY",
            "DOCKERCLI_INTEGRATION_VERSION",
            "DOCKERCLI_INTEGRATION_REPOSITORY",
            "SYSTEMD"
        ]
    );
    let e8 = open("e8");
    let fw = e8
        .image_build
        .args
        .iter()
        .find(|a| a.name == "FIREWALLD")
        .expect("FIREWALLD");
    assert_eq!(fw.when, vec![MakeCond::Set("FIREWALLD".into())]);
    assert!(!arg_names(&e8).contains(&"APT_MIRROR"));
    assert_eq!(e8.image_build.host_spliced, vec!["DOCKER_BUILD_ARGS"]);
}

#[test]
fn exports_per_era() {
    let e4 = open("e4");
    let bk = e4.export("DOCKER_BUILDKIT").expect("DOCKER_BUILDKIT");
    assert_eq!(bk.value, ExportValue::Literal("1".into()));
    assert_eq!(bk.when, vec![MakeCond::Unset("USE_BUILDX".into())]);
    assert_eq!(bk.when[0].holds(|_| false), Some(true));
    assert_eq!(
        e4.export("VALIDATE_REPO").map(|e| &e.value),
        Some(&ExportValue::Host)
    );
    assert!(e4.export("DOCKER_INCREMENTAL_BINARY").is_none());
    assert_eq!(e4.go_caches_when, None);
    let e6 = open("e6");
    assert_eq!(
        e6.export("DOCKER_GRAPHDRIVER").map(|e| &e.value),
        Some(&ExportValue::DaemonStorageDriver)
    );
    assert_eq!(
        e6.export("DOCKER_GITCOMMIT").map(|e| &e.value),
        Some(&ExportValue::GitCommit(CommitForm::Full))
    );
    assert!(export_names(&e6).contains(&"PAGER") && export_names(&e6).contains(&"GIT_PAGER"));
    let e7 = open("e7");
    assert!(e7.export("DOCKER_GRAPHDRIVER").is_none());
    assert_eq!(
        export_names(&e7),
        vec![
            "DOCKER_GITCOMMIT",
            "VALIDATE_REPO",
            "VALIDATE_BRANCH",
            "VALIDATE_ORIGIN_BRANCH",
            "PAGER",
            "GIT_PAGER"
        ]
    );
}

#[test]
fn a_17_05_tree_read_as_e1_gets_data_root() {
    // 17.05 still builds the client in-tree (E1 by its markers) but its dockerd has --data-root.
    let dir = std::env::temp_dir().join(format!("hack-compat-1705-{}", std::process::id()));
    let dir = camino::Utf8PathBuf::from_path_buf(dir).expect("utf-8 temp dir");
    let _ = std::fs::remove_dir_all(&dir);
    let src = Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/e1");
    let status = std::process::Command::new("cp")
        .args(["-a", src.as_str(), dir.as_str()])
        .status();
    assert!(status.is_ok_and(|s| s.success()));
    std::fs::create_dir_all(dir.join("cmd/dockerd")).unwrap();
    std::fs::write(
        dir.join("cmd/dockerd/config.go"),
        "\tflags.StringVar(&conf.Root, \"data-root\", defaultDataRoot, \"Root directory\")\n",
    )
    .unwrap();
    let f = Fork::open(&dir).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(f.daemon.data_root, DataRootFlag::DataRoot);
}

#[test]
fn non_build_dirs_cover_outputs_and_tests() {
    for d in [
        "bundles",
        ".git",
        "target",
        ".gopath",
        "autogen",
        "docs",
        "integration",
        "integration-cli",
    ] {
        assert!(hack_compat::NON_BUILD_DIRS.contains(&d), "{d}");
    }
    for d in ["cmd", "daemon", "vendor", "hack", "api"] {
        assert!(!hack_compat::NON_BUILD_DIRS.contains(&d), "{d}");
    }
}

#[test]
fn validate_checks_are_the_scripts_of_hack_validate() {
    let f = open("e4");
    assert_eq!(f.validate_checks, ["dco", "default", "pkg-imports"]);
    assert!(open("e1").validate_checks.is_empty());
}

#[test]
fn unit_tests_as_make_test_unit_runs_them() {
    assert_eq!(
        open("e1").unit_tests,
        Some(vec!["hack/make.sh".into(), "test-unit".into()])
    );
    assert_eq!(
        open("e2").unit_tests,
        Some(vec!["hack/make.sh".into(), "test-unit".into()])
    );
    for era in ["e3", "e4", "e5", "e6", "e7", "e8"] {
        assert_eq!(
            open(era).unit_tests,
            Some(vec!["hack/test/unit".into()]),
            "{era}"
        );
    }
}

#[test]
fn integration_tests_as_make_runs_them() {
    for era in ["e1", "e2"] {
        let it = open(era).integration.expect(era);
        assert_eq!(
            it.command,
            [
                "hack/make.sh",
                "build-integration-test-binary",
                "dynbinary",
                "test-integration-cli"
            ],
            "{era}"
        );
        assert_eq!(it.bundle, "test-integration-cli");
        assert_eq!(
            it.filter,
            hack_compat::Filter::TestFlags("-check.f"),
            "{era}"
        );
    }
    for era in ["e3", "e4", "e5", "e6", "e7", "e8"] {
        let it = open(era).integration.expect(era);
        assert_eq!(
            it.command,
            ["hack/make.sh", "dynbinary", "test-integration"],
            "{era}"
        );
        assert_eq!(it.bundle, "test-integration");
    }
}

#[test]
fn delve_mode_of_hack_make_run() {
    for era in ["e1", "e2", "e3", "e4"] {
        assert_eq!(open(era).daemon.delve, None, "{era}");
    }
    for era in ["e5", "e6", "e7", "e8"] {
        let words = open(era).daemon.delve.expect(era);
        assert_eq!(words[0], "dlv", "{era}");
        assert!(
            words.contains(&"--listen=0.0.0.0:{port}".to_string()),
            "{era}: {words:?}"
        );
        assert!(words.contains(&"--headless=true".to_string()), "{era}");
    }
}

#[test]
fn run_args_of_hack_make_run() {
    let flags = |era: &str| -> Vec<String> {
        open(era)
            .daemon
            .run_args
            .iter()
            .map(|a| a.word(|_| None))
            .collect()
    };
    for era in ["e1", "e2", "e3", "e4"] {
        assert!(flags(era).is_empty(), "{era}: {:?}", flags(era));
    }
    assert_eq!(flags("e5"), ["--userland-proxy=true"]);
    for era in ["e6", "e7"] {
        assert_eq!(
            flags(era),
            ["--userland-proxy=true", "--tls=false"],
            "{era}"
        );
    }
    assert_eq!(
        flags("e8"),
        [
            "--userland-proxy=true",
            "--firewall-backend=",
            "--tls=false"
        ]
    );
    let switches = open("e8").daemon.run_switches;
    assert_eq!(switches.len(), 3, "{switches:?}");
}

#[test]
fn install_files_where_install_binary_only_copies() {
    for era in ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"] {
        let root = camino::Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(era);
        let f = Fork::open(&root).unwrap();
        let want = !matches!(era, "e1" | "e2" | "e3");
        assert_eq!(
            f.install_files.is_some(),
            want,
            "{era}: {:?}",
            f.install_files
        );
        if let Some(files) = f.install_files {
            assert_eq!(files.required[0], "dockerd", "{era}");
            assert!(files.required.iter().any(|n| n == "docker-proxy"), "{era}");
        }
    }
}
