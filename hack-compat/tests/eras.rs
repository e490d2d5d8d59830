//! One fixture fork per era (tests/fixtures/e1…e8: the Makefile and hack/ scripts of a real release
//! of each era, see `docs/eras.md`, with stand-ins for the rest) and malformed inputs.

use camino::{Utf8Path, Utf8PathBuf};
use hack_compat::{BinaryLayout, CacheMount, CommitForm, Era, Error, Fork};

fn fixture(name: &str) -> Utf8PathBuf {
    Utf8Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn open(name: &str) -> Fork {
    match Fork::open(fixture(name)) {
        Ok(f) => f,
        Err(e) => panic!("fixture {name}: {e}"),
    }
}

const GO_SRC: &str = "/go/src/github.com/docker/docker";

fn caches(pairs: &[(&str, &str)]) -> Vec<CacheMount> {
    pairs
        .iter()
        .map(|(v, t)| CacheMount {
            volume: v.to_string(),
            target: t.to_string(),
        })
        .collect()
}

fn pkgcache() -> Vec<CacheMount> {
    caches(&[
        ("dockerdev-go-pkg-cache-gopath", "/go/pkg"),
        (
            "dockerdev-go-pkg-cache-goroot-linux_amd64",
            "/usr/local/go/pkg/linux_amd64",
        ),
        (
            "dockerdev-go-pkg-cache-goroot-linux_amd64_netgo",
            "/usr/local/go/pkg/linux_amd64_netgo",
        ),
    ])
}

#[test]
fn e1_monorepo_version_file() {
    let f = open("e1");
    assert_eq!(f.era, Era::E1);
    assert_eq!(f.src_path, GO_SRC);
    assert_eq!(f.env_allowlist.len(), 25);
    assert_eq!(f.env_allowlist[0], "BUILD_APT_MIRROR");
    assert!(f
        .env_allowlist
        .iter()
        .any(|n| n == "DOCKER_INCREMENTAL_BINARY"));
    assert_eq!(f.go_caches, pkgcache());
    assert!(f.accepts_bundle("binary-client"));
    assert!(!f.accepts_bundle(".binary"));
    assert_eq!(f.layout, BinaryLayout::Versioned);
    assert!(!f.checksum_kinds.is_empty());
    assert_eq!(f.commit_form, CommitForm::Short);
    assert_eq!(f.version(Some("ignored")), "17.04.0-dev");
    let dirs: Vec<String> = f
        .bundle_outputs("binary", "17.04.0-dev")
        .into_iter()
        .map(|o| o.dir.to_string())
        .collect();
    assert!(dirs.contains(&"bundles/17.04.0-dev/binary-daemon".to_string()));
    assert!(dirs.contains(&"bundles/17.04.0-dev/binary-client".to_string()));
    assert_eq!(
        f.make_image_tag(Some("my/feature_1")),
        "docker-dev:my-feature-1"
    );
    assert_eq!(f.make_image_tag(None), "docker-dev");
    assert_eq!(f.dev_target(), None);
}

#[test]
fn e2_cli_split_and_if_wrapper() {
    let f = open("e2");
    assert_eq!(f.era, Era::E2);
    assert_eq!(f.env_allowlist.len(), 26);
    // `$(if $(DOCKER_CROSSPLATFORMS), -e DOCKER_CROSSPLATFORMS)` is still an allowed name.
    assert!(f.env_allowlist.iter().any(|n| n == "DOCKER_CROSSPLATFORMS"));
    assert!(f.env_allowlist.iter().any(|n| n == "DOCKER_CLI_PATH"));
    assert!(!f.accepts_bundle("binary-client"));
    assert_eq!(f.layout, BinaryLayout::Versioned);
    assert_eq!(f.version(None), "17.06.0-ce");
    assert_eq!(f.go_caches, pkgcache());
}

#[test]
fn e3_flat_bundles_classic_builder() {
    let f = open("e3");
    assert_eq!(f.era, Era::E3);
    assert_eq!(f.env_allowlist.len(), 35);
    assert_eq!(f.layout, BinaryLayout::Flat);
    assert!(!f.checksum_kinds.is_empty());
    assert_eq!(f.commit_form, CommitForm::Short);
    assert_eq!(f.version(None), "dev");
    assert_eq!(f.version(Some("18.09.0")), "18.09.0");
    assert!(f.accepts_bundle("containerutility"));
    let dirs: Vec<String> = f
        .bundle_outputs("binary", "dev")
        .into_iter()
        .map(|o| o.dir.to_string())
        .collect();
    assert!(dirs.contains(&"bundles/binary-daemon".to_string()));
}

#[test]
fn e4_buildkit_dev_cache() {
    let f = open("e4");
    assert_eq!(f.era, Era::E4);
    assert_eq!(f.src_path, GO_SRC);
    assert_eq!(f.env_allowlist.len(), 47);
    assert!(!f
        .env_allowlist
        .iter()
        .any(|n| n == "DOCKER_INCREMENTAL_BINARY"));
    assert_eq!(f.go_caches, caches(&[("docker-dev-cache", "/root/.cache")]));
    assert!(!f.checksum_kinds.is_empty());
    assert_eq!(f.make_image_tag(Some("master")), "docker-dev:master");
    assert_eq!(f.dev_target(), Some("dev"));
    assert!(f.accepts_bundle("test-integration-flaky"));
}

#[test]
fn e5_bake_no_checksums() {
    let f = open("e5");
    assert_eq!(f.era, Era::E5);
    assert_eq!(f.env_allowlist.len(), 45);
    assert!(!f.env_allowlist.iter().any(|n| n == "HTTP_PROXY"));
    assert_eq!(
        f.go_caches,
        caches(&[
            ("docker-dev-cache", "/root/.cache"),
            ("docker-mod-cache", "/go/pkg/mod/")
        ])
    );
    assert!(f.checksum_kinds.is_empty());
    assert!(f.accepts_bundle("binary-proxy"));
    assert!(!f.accepts_bundle("cross"));
    assert_eq!(f.make_image_tag(Some("master")), "docker-dev");
    assert_eq!(f.dev_target(), Some("dev-base"));
    assert_eq!(f.commit_form, CommitForm::Short);
}

#[test]
fn e6_full_commit_devcontainer() {
    let f = open("e6");
    assert_eq!(f.era, Era::E6);
    assert_eq!(f.env_allowlist.len(), 55);
    assert_eq!(f.commit_form, CommitForm::Full);
    assert!(f.checksum_kinds.is_empty());
    assert!(!f.accepts_bundle("test-integration-cli"));
}

#[test]
fn e7_bind_dir_default() {
    let f = open("e7");
    assert_eq!(f.era, Era::E7);
    assert_eq!(f.src_path, GO_SRC);
    assert_eq!(f.env_allowlist.len(), 54);
    assert!(f.env_allowlist.iter().any(|n| n == "FIREWALLD"));
    assert_eq!(f.layout, BinaryLayout::Flat);
}

#[test]
fn e8_module_v2_usr_src_moby() {
    let f = open("e8");
    assert_eq!(f.era, Era::E8);
    assert_eq!(f.src_path, "/usr/src/moby");
    assert_eq!(f.env_allowlist.len(), 55);
    assert!(f.env_allowlist.iter().any(|n| n == "CI"));
    assert_eq!(f.commit_form, CommitForm::Full);
    assert_eq!(f.go_caches.len(), 2);
}

#[test]
fn eras_are_ordered() {
    let eras: Vec<Era> = ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"]
        .iter()
        .map(|e| open(e).era)
        .collect();
    assert!(eras.windows(2).all(|w| w[0] < w[1]), "{eras:?}");
}

/// A scratch copy of a fixture that a test may break.
struct Scratch(Utf8PathBuf);

impl Scratch {
    fn of(fixture_name: &str, tag: &str) -> Scratch {
        let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .expect("utf-8 temp dir")
            .join(format!("hack-compat-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(&fixture(fixture_name), &dir);
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(from: &Utf8Path, to: &Utf8Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&from.join(&name), &to.join(&name));
        } else {
            std::fs::copy(e.path(), to.join(&name)).unwrap();
        }
    }
}

fn error_of(dir: &Utf8Path) -> String {
    match Fork::open(dir) {
        Ok(f) => panic!("expected an error, got {f:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn empty_makefile_is_a_clear_error() {
    let s = Scratch::of("e4", "empty-makefile");
    std::fs::write(s.0.join("Makefile"), "\n").unwrap();
    let msg = error_of(&s.0);
    assert!(msg.contains("Makefile is empty"), "{msg}");
}

#[test]
fn missing_make_sh_is_a_clear_error() {
    let s = Scratch::of("e4", "no-make-sh");
    std::fs::remove_file(s.0.join("hack/make.sh")).unwrap();
    let msg = error_of(&s.0);
    assert!(msg.contains("is not a moby checkout"), "{msg}");
    assert!(msg.contains("--fork"), "{msg}");
}

#[test]
fn makefile_without_docker_envs_is_a_clear_error() {
    let s = Scratch::of("e6", "no-envs");
    std::fs::write(s.0.join("Makefile"), "all:\n\t@echo hello\n").unwrap();
    let msg = error_of(&s.0);
    assert!(msg.contains("no DOCKER_ENVS"), "{msg}");
}

#[test]
fn make_sh_without_commit_rule_is_a_clear_error() {
    let s = Scratch::of("e3", "no-commit");
    std::fs::write(s.0.join("hack/make.sh"), "#!/bin/sh\necho hi\n").unwrap();
    let msg = error_of(&s.0);
    assert!(msg.contains("commit stamp rule is unknown"), "{msg}");
}

#[test]
fn debian_layout_points_at_engine() {
    let s = Scratch::of("e4", "debian");
    let engine = s.0.join("engine");
    std::fs::create_dir_all(&engine).unwrap();
    for name in ["Makefile", "hack", "Dockerfile"] {
        std::fs::rename(s.0.join(name), engine.join(name)).unwrap();
    }
    let msg = error_of(&s.0);
    assert!(msg.contains(&format!("pass --fork {engine}")), "{msg}");
    assert_eq!(Fork::open(&engine).unwrap().era, Era::E4);
}

#[test]
fn not_a_directory() {
    let msg = error_of(Utf8Path::new("/nonexistent/moby"));
    assert!(msg.contains("is not a directory"), "{msg}");
}

#[test]
fn versioned_layout_without_version_file() {
    let s = Scratch::of("e1", "no-version");
    std::fs::remove_file(s.0.join("VERSION")).unwrap();
    assert!(matches!(
        Fork::open(&s.0),
        Err(Error::MissingVersionFile(_))
    ));
}
