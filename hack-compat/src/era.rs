//! The era of a checkout (E1…E8, see `docs/eras.md`), from marker files and strings, newest first.

use crate::Files;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Era {
    /// 17.04: monorepo, `VERSION` file, client built in-tree.
    E1,
    /// 17.06 (to 17.09): CLI split out, `DOCKER_CLI_PATH`.
    E2,
    /// 18.09 (from 17.10): flat bundles, multi-stage Dockerfile, classic builder.
    E3,
    /// 20.10: BuildKit Dockerfile, host-side `make binary`, `docker-dev-cache`.
    E4,
    /// 23/24: buildx + bake, `docker-dev` tag, `vendor.mod`, no checksums.
    E5,
    /// 25–27: pinned modern CLI, devcontainer.
    E6,
    /// 28: `BIND_DIR=.` by default, `validate-bind-dir`.
    E7,
    /// docker-v29+: Go module v2, source at `/usr/src/moby`.
    E8,
}

impl Era {
    pub fn default_src_path(self) -> &'static str {
        match self {
            Era::E8 => "/usr/src/moby",
            _ => "/go/src/github.com/docker/docker",
        }
    }
}

impl fmt::Display for Era {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, what) = match self {
            Era::E1 => ("E1", "17.04, monorepo + VERSION file"),
            Era::E2 => ("E2", "17.06, CLI split"),
            Era::E3 => ("E3", "18.09, multi-stage, classic builder"),
            Era::E4 => ("E4", "20.10, BuildKit"),
            Era::E5 => ("E5", "23/24, buildx + bake"),
            Era::E6 => ("E6", "25-27, pinned CLI, devcontainer"),
            Era::E7 => ("E7", "28, BIND_DIR=. default"),
            Era::E8 => ("E8", "29+, module v2, /usr/src/moby"),
        };
        write!(f, "{name} ({what})")
    }
}

pub(crate) fn detect(f: &Files) -> Era {
    let mk = f.makefile.as_str();
    let go_mod_v2 = f.go_mod.as_deref().is_some_and(|m| {
        m.lines()
            .any(|l| l.trim() == "module github.com/moby/moby/v2")
    });
    let usr_src_moby = mk.contains("/usr/src/moby/$(BIND_DIR)")
        || f.dockerfile
            .as_deref()
            .is_some_and(|d| d.contains("WORKDIR /usr/src/moby"));
    if (go_mod_v2 && !f.has("vendor.mod")) || usr_src_moby {
        return Era::E8;
    }
    if mk.contains("validate-bind-dir") {
        return Era::E7;
    }
    if f.has("hack/dockerfile/cli.sh") || mk.contains("DOCKERCLI_INTEGRATION_VERSION") {
        return Era::E6;
    }
    if (f.has("docker-bake.hcl") && mk.contains("BAKE_CMD"))
        || f.has("vendor.mod")
        || mk.contains("docker-mod-cache")
        || f.has("hack/make/binary-proxy")
    {
        return Era::E5;
    }
    let syntax_line = f
        .dockerfile
        .as_deref()
        .and_then(|d| d.lines().next())
        .is_some_and(|l| l.starts_with("# syntax="));
    if (mk.contains("--output=bundles/") && mk.contains("USE_BUILDX"))
        || syntax_line
        || mk.contains("docker-dev-cache")
    {
        return Era::E4;
    }
    if f.has("hack/make/binary-client") || f.has("cmd/docker") {
        return Era::E1;
    }
    if f.has("VERSION") && mk.contains("DOCKER_CLI_PATH") {
        // 17.06 up to 17.11 still have the VERSION file (the 17.09–17.11 transition is E2-like).
        return Era::E2;
    }
    Era::E3
}
