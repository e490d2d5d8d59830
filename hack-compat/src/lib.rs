//! What a moby checkout *is*, read from the fork's own files, in every era from 17.04 to today.
//!
//! [`Fork::open`] reads the Makefile, `hack/make.sh`, `hack/make/` and a few marker files and
//! answers the questions a tool needs to drive the fork like its own `make` would: the era, the
//! source path inside the dev container, the env pass-through allowlist, the Go cache volumes,
//! the accepted bundles, where `binary` output lands, how the commit is stamped, what the Makefile
//! computes and exports, what it adds to the dev image build and the dev container, and how the
//! fork starts and installs its daemon.
//!
//! This crate is pure: no Docker, no async, no process spawning. The workspace's `docs/eras.md`
//! describes what each era of moby looks like and which of its files these facts come from.

mod build_args;
mod bundles;
pub mod checksum;
pub mod ci;
mod daemon;
pub mod dockerfile;
mod era;
mod error;
mod exports;
pub mod go_tests;
mod integration;
mod make_expr;
mod make_model;
mod make_sh;
mod makefile;
mod shards;

use camino::{Utf8Path, Utf8PathBuf};

pub use build_args::{BuildArg, BuildArgValue, EnvMount, EnvPort, ImageBuild};
pub use bundles::{BinaryLayout, BundleOutput};
pub use daemon::{
    DaemonFlags, DataRootFlag, InstallDir, InstallFiles, RunArg, RunSwitch, NON_BUILD_DIRS,
};
pub use era::Era;
pub use error::Error;
pub use exports::{ExportValue, MakeExport};
pub use integration::{DirChoice, Filter, IntegrationTests, TestHost};
pub use make_model::MakeCond;
pub use make_sh::{Checksum, CommitForm};
pub use makefile::CacheMount;
pub use shards::{Piece, Unit};

/// A moby checkout, as far as its own files say.
#[derive(Debug, Clone)]
pub struct Fork {
    pub root: Utf8PathBuf,
    pub era: Era,
    /// Where the source sits inside the dev container (`/go/src/github.com/docker/docker`,
    /// `/usr/src/moby` from E8).
    pub src_path: String,
    /// Variable names the Makefile's `DOCKER_ENVS` forwards with `-e NAME`.
    pub env_allowlist: Vec<String>,
    /// Named volumes the Makefile mounts for Go build caches in this era.
    pub go_caches: Vec<CacheMount>,
    /// The variable that gates `go_caches` (`DOCKER_INCREMENTAL_BINARY` for E1–E3's
    /// `PKGCACHE_MAP`): mount them only when its effective value (host, else the Makefile's
    /// export default, see `exports`) is non-empty. `None`: always mounted.
    pub go_caches_when: Option<String>,
    /// Variables the Makefile `export`s (and so hands to the container when `env_allowlist`
    /// names them), with the value it gives them.
    pub exports: Vec<MakeExport>,
    /// `--build-arg`s and host-spliced variables of the Makefile's dev image build.
    pub image_build: ImageBuild,
    /// Host variables the Makefile turns into a bind mount of their dirname (`DOCKER_CLI_PATH`
    /// → `/usr/local/cli`).
    pub env_mounts: Vec<EnvMount>,
    /// Host variables the Makefile publishes with `-p "$VAR"` (`DOCKER_PORT`, `DELVE_PORT`).
    pub env_ports: Vec<EnvPort>,
    /// How `hack/make/run` starts the nested daemon, and its data-root flag.
    pub daemon: DaemonFlags,
    /// Where `hack/make.sh install-binary` copies the binaries.
    pub install_dir: InstallDir,
    /// What it copies, when copying is all it does.
    pub install_files: Option<InstallFiles>,
    /// What `make test-unit` runs in the dev container (`hack/make.sh test-unit` up to 17.06,
    /// `hack/test/unit` later), read from its recipe.
    pub unit_tests: Option<Vec<String>>,
    /// What `make test-integration` (`test-integration-cli` up to 17.06) runs, how a filter and
    /// directories reach it, and the frozen images its suites load.
    pub integration: Option<IntegrationTests>,
    /// The checks of `hack/validate/` (`default` runs the usual set).
    pub validate_checks: Vec<String>,
    /// Bundle names `hack/make.sh` accepts (the scripts in `hack/make/`, without dot-files).
    pub bundles: Vec<String>,
    /// Versioned (`bundles/<VERSION>/…`, E1/E2) or flat (`bundles/…`) output.
    pub layout: BinaryLayout,
    /// The checksum files `hash_files` writes next to each binary (`.md5`, `.sha256`; E1–E4),
    /// wherever the era defines it (`hack/make.sh` or `hack/make/.binary`).
    pub checksum_kinds: Vec<Checksum>,
    /// `git rev-parse --short HEAD` or the full hash, as `hack/make.sh` stamps it.
    pub commit_form: CommitForm,
    /// Content of the root `VERSION` file (≤ 17.11), which `hack/make.sh` reads instead of `$VERSION`.
    pub version_file: Option<String>,
    /// The dev image tag the fork's Makefile builds (`docker-dev:<branch>` up to E4, `docker-dev` later).
    pub image_tag_per_branch: bool,
}

impl Fork {
    /// Read a checkout. Errors name what is missing and what to do.
    pub fn open(root: impl AsRef<Utf8Path>) -> Result<Fork, Error> {
        let root = root.as_ref().to_path_buf();
        if !root.is_dir() {
            return Err(Error::NotADirectory(root));
        }
        let files = Files::read(&root)?;
        let era = era::detect(&files);
        let src_path = makefile::src_path(&files.makefile)
            .or_else(|| {
                files
                    .devcontainer
                    .as_deref()
                    .and_then(makefile::devcontainer_src)
            })
            .or_else(|| {
                files
                    .dockerfile
                    .as_deref()
                    .and_then(makefile::dockerfile_workdir)
            })
            .unwrap_or_else(|| era.default_src_path().to_string());
        let env_allowlist = makefile::docker_envs(&files.makefile)
            .ok_or_else(|| Error::NoDockerEnvs(root.join("Makefile")))?;
        let go_caches = makefile::go_caches(&files.makefile);
        let bundles = bundles::list(&root)?;
        let validate_checks = bundles::validate_checks(&root)?;
        let layout = make_sh::layout(&files.make_sh);
        let checksum_kinds = make_sh::checksums(
            &files.make_sh,
            files.dot_binary.as_deref().unwrap_or_default(),
        );
        let mk = make_model::Makefile::parse(&files.makefile);
        let unit_tests = in_container_command(&mk, "test-unit");
        let text = |rel: &str| files.optional(rel);
        let integration = integration::read(
            in_container_command(&mk, "test-integration")
                .or_else(|| in_container_command(&mk, "test-integration-cli")),
            files.dockerfile.as_deref().unwrap_or_default(),
            &text,
        );
        let dockerd_config = text("cmd/dockerd/config.go") + &text("daemon/command/config.go");
        let daemon = daemon::flags(
            era,
            &text("hack/make/run"),
            &text("hack/make/.integration-daemon-start"),
            &dockerd_config,
        );
        let install_dir = daemon::install_dir(&[
            &text("hack/make/.install"),
            &text("hack/make/install-binary"),
            &files.make_sh,
        ]);
        let install_files = daemon::install_files(
            &[
                &text("hack/make/.install"),
                &text("hack/make/install-binary"),
            ],
            &text("hack/make/install-binary"),
        );
        let commit_form = make_sh::commit_form(&files.make_sh)
            .ok_or_else(|| Error::NoCommitRule(root.join("hack/make.sh")))?;
        let version_file = match layout {
            BinaryLayout::Versioned => read_optional(&root.join("VERSION"))?
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
            BinaryLayout::Flat => None,
        };
        if layout == BinaryLayout::Versioned && version_file.is_none() {
            return Err(Error::MissingVersionFile(root.join("VERSION")));
        }
        let image_tag_per_branch = files.makefile.contains("GIT_BRANCH_CLEAN");
        Ok(Fork {
            root,
            era,
            src_path,
            env_allowlist,
            go_caches,
            go_caches_when: exports::go_caches_when(&mk),
            exports: exports::exports(&mk),
            image_build: build_args::image_build(&mk),
            env_mounts: build_args::env_mounts(&mk),
            env_ports: build_args::env_ports(&mk),
            daemon,
            install_dir,
            install_files,
            bundles,
            validate_checks,
            unit_tests,
            integration,
            layout,
            checksum_kinds,
            commit_form,
            version_file,
            image_tag_per_branch,
        })
    }

    /// The version `hack/make.sh` stamps: the `VERSION` file (E1/E2), else `$VERSION`, else `dev`.
    pub fn version(&self, env_version: Option<&str>) -> String {
        if let Some(v) = &self.version_file {
            return v.clone();
        }
        match env_version {
            Some(v) if !v.is_empty() => v.to_string(),
            _ => "dev".to_string(),
        }
    }

    /// The Makefile's export of `name`, if it exports it.
    pub fn export(&self, name: &str) -> Option<&MakeExport> {
        self.exports.iter().find(|e| e.name == name)
    }

    /// Whether `name` is a bundle this fork's `hack/make.sh` accepts.
    pub fn accepts_bundle(&self, name: &str) -> bool {
        self.bundles.iter().any(|b| b == name)
    }

    /// The dev image tag the fork's own `make shell` builds, for a branch name (if any).
    pub fn make_image_tag(&self, branch: Option<&str>) -> String {
        match branch {
            Some(b) if self.image_tag_per_branch && !b.is_empty() => {
                let clean: String = b
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                format!("docker-dev:{clean}")
            }
            _ => "docker-dev".to_string(),
        }
    }

    /// The Dockerfile target `make shell` builds with the source bind-mounted (`BIND_DIR=.`):
    /// none (single stage, or the last stage) up to E3, `dev` in E4, `dev-base` from E5.
    pub fn dev_target(&self) -> Option<&'static str> {
        match self.era {
            Era::E1 | Era::E2 | Era::E3 => None,
            Era::E4 => Some("dev"),
            _ => Some("dev-base"),
        }
    }

    /// Where the output of `bundle` lands, relative to the fork root.
    pub fn bundle_outputs(&self, bundle: &str, version: &str) -> Vec<BundleOutput> {
        bundles::outputs(self.layout, bundle, version)
    }

    /// The programs beyond Go that the fork's unit-test script (`hack/test/unit`) runs, which the
    /// dev image must provide: `gotestsum` from 20.10 on.
    pub fn unit_test_tools(&self) -> Vec<&'static str> {
        let script = std::fs::read_to_string(self.root.join("hack/test/unit")).unwrap_or_default();
        tools_in_script(&script)
    }

    /// The daemon bundle directory that holds a built `dockerd` (versioned or flat layout),
    /// relative to the fork root; `None` before the first build.
    pub fn built_daemon_dir(&self, version: &str) -> Option<Utf8PathBuf> {
        ["binary-daemon", "binary"].iter().find_map(|bundle| {
            self.bundle_outputs(bundle, version)
                .into_iter()
                .map(|o| o.dir)
                .find(|d| {
                    d.ends_with("binary-daemon") && self.root.join(d).join("dockerd").exists()
                })
        })
    }
}

/// Which of the tools a dev image may lack a shell script runs (outside comments).
pub fn tools_in_script(script: &str) -> Vec<&'static str> {
    ["gotestsum"]
        .into_iter()
        .filter(|tool| {
            script
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .any(|l| {
                    l.split(|c: char| !c.is_ascii_alphanumeric())
                        .any(|w| w == *tool)
                })
        })
        .collect()
}

/// Where the unit tests' `go test -json` stream lands (gotestsum's `--jsonfile` in
/// `hack/test/unit`, 20.10 on), relative to the fork root.
pub const UNIT_TEST_REPORT: &str = "bundles/go-test-report.json";

/// The log a test bundle writes in its directory in every era (`go test -v` or gocheck lines):
/// the counts where no gotestsum report is written.
pub const TEST_LOG: &str = "test.log";

/// The command a Makefile target runs in the dev container: its recipe's `$(DOCKER_RUN_DOCKER) …`
/// line, from the first `hack/` word on.
fn in_container_command(mk: &make_model::Makefile, target: &str) -> Option<Vec<String>> {
    mk.recipe_of(target).iter().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        let start = words.iter().position(|w| w.starts_with("hack/"))?;
        Some(words[start..].iter().map(|w| w.to_string()).collect())
    })
}

/// The files era detection and parsing read, loaded once.
pub(crate) struct Files {
    pub(crate) makefile: String,
    pub(crate) make_sh: String,
    pub(crate) dot_binary: Option<String>,
    pub(crate) dockerfile: Option<String>,
    pub(crate) devcontainer: Option<String>,
    pub(crate) go_mod: Option<String>,
    pub(crate) root: Utf8PathBuf,
}

impl Files {
    fn read(root: &Utf8Path) -> Result<Files, Error> {
        let makefile_path = root.join("Makefile");
        let make_sh_path = root.join("hack/make.sh");
        if !makefile_path.is_file() || !make_sh_path.is_file() {
            let hint = ["engine", "moby"]
                .iter()
                .map(|d| root.join(d))
                .find(|d| d.join("hack/make.sh").is_file());
            return Err(Error::NotAMobyCheckout {
                root: root.to_path_buf(),
                hint,
            });
        }
        let makefile = fs_err::read_to_string(&makefile_path).map_err(Error::Io)?;
        if makefile.trim().is_empty() {
            return Err(Error::EmptyMakefile(makefile_path));
        }
        let make_sh = fs_err::read_to_string(&make_sh_path).map_err(Error::Io)?;
        Ok(Files {
            makefile,
            make_sh,
            dot_binary: read_optional(&root.join("hack/make/.binary"))?,
            dockerfile: read_optional(&root.join("Dockerfile"))?,
            devcontainer: read_optional(&root.join(".devcontainer/devcontainer.json"))?,
            go_mod: read_optional(&root.join("go.mod"))?,
            root: root.to_path_buf(),
        })
    }

    pub fn has(&self, rel: &str) -> bool {
        self.root.join(rel).exists()
    }

    /// A file's text, empty when it is missing or unreadable (for optional scripts).
    fn optional(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap_or_default()
    }
}

fn read_optional(path: &Utf8Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => Ok(None),
        Err(e) => Err(Error::Io(std::io::Error::new(
            e.kind(),
            format!("failed to read {path}: {e}"),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::tools_in_script;

    #[test]
    fn tools_a_unit_test_script_runs() {
        // hack/test/unit of 20.10 and later (abridged), and of an era before gotestsum.
        let gotestsum = "#!/usr/bin/env bash\n\
            gotestsum --format=standard-quiet --jsonfile=bundles/go-test-report.json \\\n\
            \t--junitfile=bundles/junit-report.xml -- \"${BUILDFLAGS[@]}\" ${TESTFLAGS} ${pkg_list}\n";
        assert_eq!(tools_in_script(gotestsum), ["gotestsum"]);
        let plain = "#!/bin/bash\n# gotestsum would be nicer\ngo test ${BUILDFLAGS} ${TESTFLAGS} ${pkg_list}\n";
        assert!(tools_in_script(plain).is_empty());
    }
}
