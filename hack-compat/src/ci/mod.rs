//! The fork's CI, read from its own `.github/workflows/`: every job of `test.yml` (and of the
//! workflows it calls, once per calling combination: storage, arch) that runs one of the
//! fork's `make` test targets (`test-unit`, `test-integration`, `test-docker-py`,
//! `validate-*`), with its CI name, the variables it gives `make` (the workflow's `env:`, its
//! mode's `Prepare` step, the test step's `env:` and `make` words) and its selection (the
//! integration-cli shard, computed as gotestlist computes it). Pure: nothing runs.
//!
//! Job ids are short and stable across storages: `unit`, `docker-py`, `integration`,
//! `integration/<mode>`, `integration-cli/<n>` (n from 1, in CI's order),
//! `integration-cli/<mode>/<n>`, `validate/<check>`. The same id under two storages is two
//! jobs; several runners of one id (ubuntu-22.04 and 26.04) are one job here, with all their
//! CI names: the runner's OS does not change what runs in the dev container.

mod expr;
mod github_script;
pub mod gotestlist;
mod matrix;
mod scripts;
mod workflow;
mod yaml;

use camino::{Utf8Path, Utf8PathBuf};

use crate::go_tests::Platform;
use crate::Error;

/// Where the fork's CI is defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CiSource {
    /// `.github/workflows/test.yml` and the workflows it calls.
    Workflows(Vec<Utf8PathBuf>),
    /// No workflow: the era's `Jenkinsfile` (up to 20.10).
    Jenkinsfile,
    /// Neither.
    None,
}

/// What a job runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobKind {
    Unit,
    DockerPy,
    Integration,
    /// One entry of the integration-cli split: the suites `-test.run` selects (`A|B`, or
    /// `./...` for the `integration/` suites' own entry, which selects no suite).
    IntegrationCli {
        selection: String,
    },
    Validate {
        check: String,
    },
}

/// One CI job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiJob {
    pub id: String,
    pub kind: JobKind,
    /// `graphdriver` / `snapshotter`, where the calling workflow passes a storage.
    pub storage: Option<String>,
    /// The architecture its runner has (`amd64` where the workflow does not say).
    pub arch: String,
    /// The mode of its matrix (`userns`, `rootless-systemd`), empty for none.
    pub mode: String,
    /// The names CI shows for it (`test (amd64, graphdriver) / integration (ubuntu-26.04, userns)`),
    /// one per runner.
    pub names: Vec<String>,
    /// The variables its `make` sees that the workflow sets, in the order set, empty ones out.
    pub env: Vec<(String, String)>,
    /// The `make` options and target (`-o build test-integration`).
    pub make: Vec<String>,
    /// The workflow file that defines it, relative to the fork.
    pub file: String,
}

impl CiJob {
    /// The variable `name`'s value for this job.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `make` target (`test-integration`, `validate-vendor`).
    pub fn target(&self) -> &str {
        self.make
            .iter()
            .rfind(|w| !w.starts_with('-') && w.as_str() != "build")
            .map_or("", String::as_str)
    }
}

/// The fork's CI jobs, and where they come from.
#[derive(Debug, Clone)]
pub struct Ci {
    pub source: CiSource,
    pub jobs: Vec<CiJob>,
}

/// Read the CI of the fork at `root`, as it would run on `platform` (the `_test.go` files the
/// integration-cli split counts).
pub fn read(root: &Utf8Path, platform: Platform) -> Result<Ci, Error> {
    let test_yml = root.join(".github/workflows/test.yml");
    if !test_yml.is_file() {
        let source = if root.join("Jenkinsfile").is_file() {
            CiSource::Jenkinsfile
        } else {
            CiSource::None
        };
        return Ok(Ci {
            source,
            jobs: Vec::new(),
        });
    }
    let (files, jobs) = workflow::jobs(root, platform)?;
    Ok(Ci {
        source: CiSource::Workflows(files),
        jobs,
    })
}
