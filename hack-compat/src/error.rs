//! Why a directory could not be read as a moby checkout, worded as advice.

use camino::Utf8PathBuf;
use std::fmt;

#[derive(Debug)]
pub enum Error {
    NotADirectory(Utf8PathBuf),
    NotAMobyCheckout {
        root: Utf8PathBuf,
        hint: Option<Utf8PathBuf>,
    },
    EmptyMakefile(Utf8PathBuf),
    NoDockerEnvs(Utf8PathBuf),
    NoCommitRule(Utf8PathBuf),
    MissingVersionFile(Utf8PathBuf),
    BadWorkflow {
        path: Utf8PathBuf,
        why: String,
    },
    MissingWorkflow {
        job: String,
        path: Utf8PathBuf,
    },
    Io(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotADirectory(p) => write!(f, "fork {p} is not a directory: pass --fork <path to your moby checkout>"),
            Error::NotAMobyCheckout { root, hint: Some(h) } => write!(
                f,
                "{root} is not a moby checkout (no Makefile and hack/make.sh); the engine is in {h}: pass --fork {h}"
            ),
            Error::NotAMobyCheckout { root, hint: None } => write!(
                f,
                "{root} is not a moby checkout (no Makefile and hack/make.sh): pass --fork <path to your moby checkout>, or drop this workspace into your fork's root"
            ),
            Error::EmptyMakefile(p) => write!(f, "{p} is empty: restore it (`git checkout -- Makefile`) or point --fork at a complete moby checkout"),
            Error::NoDockerEnvs(p) => write!(
                f,
                "{p} has no DOCKER_ENVS list, so the variables `make` forwards to the dev container are unknown: is this a moby Makefile?"
            ),
            Error::NoCommitRule(p) => write!(
                f,
                "{p} has no `git rev-parse … HEAD` line, so the commit stamp rule is unknown: is this moby's hack/make.sh?"
            ),
            Error::MissingVersionFile(p) => write!(
                f,
                "this fork's hack/make.sh writes bundles/$VERSION/… and reads {p}, which is missing or empty: restore it"
            ),
            Error::MissingWorkflow { job, path } => write!(
                f,
                ".github/workflows/test.yml: job `{job}` calls {path}, which is missing: restore it (`git checkout -- {path}`)"
            ),
            Error::BadWorkflow { path, why } => write!(
                f,
                "{path} is not valid YAML ({why}): fix it, or restore it with `git checkout -- {path}`"
            ),
            Error::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}
