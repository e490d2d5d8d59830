//! What the fork's Makefile adds to `docker build` of the dev image (`--build-arg …`, and host
//! variables spliced in as they are), and the host variables it turns into a mount or a published
//! port of the dev container (`DOCKER_CLI_PATH`, `DOCKER_PORT`, `DELVE_PORT`, …).

use crate::make_expr::{if_call, top_level_refs};
use crate::make_model::{MakeCond, Makefile, Op};

/// One `--build-arg` of the dev image build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildArg {
    /// The build arg's name (`GO_VERSION`, `SYSTEMD`, `APT_MIRROR`, …).
    pub name: String,
    pub value: BuildArgValue,
    /// Conditions for passing it: the `ifdef`/`ifndef` blocks around it, and `Set(X)` for a
    /// `$(if $(X),…)` wrapper. All must hold.
    pub when: Vec<MakeCond>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildArgValue {
    /// The host variable's value; docker passes nothing when it is unset (`--build-arg=GO_VERSION`
    /// reads `GO_VERSION`, `--build-arg APT_MIRROR=$(DOCKER_BUILD_APT_MIRROR)` reads the latter).
    Host(String),
    /// A fixed value (`--build-arg=SYSTEMD=true`).
    Literal(String),
}

/// What the dev image build takes from the Makefile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageBuild {
    pub args: Vec<BuildArg>,
    /// Host variables whose raw value make splices into the build command line (never assigned,
    /// or only appended to, by the Makefile): `DOCKER_BUILD_ARGS`, `DOCKER_BUILD_OPTS`, … .
    pub host_spliced: Vec<String>,
}

/// A mount of the dev container that exists when a host variable is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvMount {
    /// `DOCKER_CLI_PATH`, `DOCKER_BASH_COMPLETION_PATH`.
    pub var: String,
    /// The directory containing the variable's path is bind-mounted here (`/usr/local/cli`).
    pub target: String,
}

/// `-p "$VAR"` when the host variable is set (`DOCKER_PORT`, `DELVE_PORT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvPort {
    pub var: String,
}

/// The build args and spliced variables reachable from the recipe of the `build` target.
pub(crate) fn image_build(mk: &Makefile) -> ImageBuild {
    let mut seen: Vec<String> = Vec::new();
    let mut queue: Vec<String> = Vec::new();
    let mut out = ImageBuild::default();
    for line in mk.recipe_of("build") {
        let rest = collect_args(line, &[], &mut out.args);
        queue.extend(top_level_refs(&rest));
    }
    let mut next = 0;
    while let Some(var) = queue.get(next).cloned() {
        next += 1;
        if seen.contains(&var) {
            continue;
        }
        seen.push(var.clone());
        let assigns: Vec<_> = mk
            .assigns
            .iter()
            .filter(|a| a.name == var && a.target.as_deref().is_none_or(|t| t == "build"))
            .collect();
        if assigns.iter().all(|a| a.op == Op::Append) && !out.host_spliced.contains(&var) {
            out.host_spliced.push(var.clone());
        }
        for a in assigns {
            let rest = collect_args(&a.value, &a.when, &mut out.args);
            queue.extend(top_level_refs(&rest));
        }
    }
    out.host_spliced.sort();
    out
}

/// Adds the `--build-arg`s of `text` to `out`; returns `text` without them (variables spliced
/// into a build arg's value are not spliced into the command line).
fn collect_args(text: &str, when: &[MakeCond], out: &mut Vec<BuildArg>) -> String {
    let mut when = when.to_vec();
    let mut text = text.to_string();
    if let Some((var, then, _)) = if_call(&text) {
        when.push(MakeCond::Set(var));
        text = then;
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut rest: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let spec = match words[i].strip_prefix("--build-arg") {
            Some("") => {
                i += 1;
                words.get(i).copied()
            }
            Some(arg) => arg.strip_prefix('='),
            None => None,
        };
        if spec.is_none() {
            rest.push(words[i]);
        }
        i += 1;
        let Some(spec) = spec else { continue };
        let (name, value) = match spec.split_once('=') {
            None => (spec, BuildArgValue::Host(spec.to_string())),
            Some((name, v)) => match v.strip_prefix("$(").or_else(|| v.strip_prefix("${")) {
                Some(var) => {
                    let var = var.trim_end_matches([')', '}']);
                    (name, BuildArgValue::Host(var.to_string()))
                }
                None => (
                    name,
                    BuildArgValue::Literal(v.trim_matches('"').to_string()),
                ),
            },
        };
        let arg = BuildArg {
            name: name.to_string(),
            value,
            when: when.clone(),
        };
        if !out.contains(&arg) {
            out.push(arg);
        }
    }
    rest.join(" ")
}

/// `$(if $(VAR),-v $(shell dirname $(VAR)):TARGET,)` anywhere in the Makefile's assignments.
pub(crate) fn env_mounts(mk: &Makefile) -> Vec<EnvMount> {
    let mut out: Vec<EnvMount> = Vec::new();
    for a in &mk.assigns {
        let Some((var, then, _)) = if_call(&a.value) else {
            continue;
        };
        let dirname = format!("-v $(shell dirname $({var})):");
        let Some(target) = then.strip_prefix(&dirname) else {
            continue;
        };
        let target = target.trim().trim_matches('"').to_string();
        if target.starts_with('/') && !out.iter().any(|m| m.var == var) {
            out.push(EnvMount { var, target });
        }
    }
    out
}

/// `$(if $(VAR),-p "$(VAR)",)` anywhere in the Makefile's assignments.
pub(crate) fn env_ports(mk: &Makefile) -> Vec<EnvPort> {
    let mut out: Vec<EnvPort> = Vec::new();
    for a in &mk.assigns {
        let Some((var, then, _)) = if_call(&a.value) else {
            continue;
        };
        let published = then
            .strip_prefix("-p")
            .map(|p| p.trim().trim_matches('"') == format!("$({var})"));
        if published == Some(true) && !out.iter().any(|p| p.var == var) {
            out.push(EnvPort { var });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_through_variables() {
        let mk = Makefile::parse(
            "DOCKER ?= docker\nBUILD_CMD := $(DOCKER) build\n\
             BUILD_APT_MIRROR := $(if $(DOCKER_BUILD_APT_MIRROR),--build-arg APT_MIRROR=$(DOCKER_BUILD_APT_MIRROR))\n\
             DOCKER_BUILD_ARGS += --build-arg=GO_VERSION\nifdef DOCKER_SYSTEMD\n\
             DOCKER_BUILD_ARGS += --build-arg=SYSTEMD=true\nendif\n\
             BUILD_OPTS := ${BUILD_APT_MIRROR} ${DOCKER_BUILD_ARGS} ${DOCKER_BUILD_OPTS}\n\
             cross: BUILD_OPTS += --build-arg CROSS=true\n\
             build: bundles\n\t$(BUILD_CMD) $(BUILD_OPTS) -t x .\n",
        );
        let b = image_build(&mk);
        let names: Vec<_> = b.args.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, vec!["APT_MIRROR", "GO_VERSION", "SYSTEMD"], "{b:?}");
        assert_eq!(
            b.args[0].value,
            BuildArgValue::Host("DOCKER_BUILD_APT_MIRROR".into())
        );
        assert_eq!(b.args[2].value, BuildArgValue::Literal("true".into()));
        assert_eq!(b.args[2].when, vec![MakeCond::Set("DOCKER_SYSTEMD".into())]);
        assert_eq!(
            b.host_spliced,
            vec!["DOCKER_BUILD_ARGS", "DOCKER_BUILD_OPTS"]
        );
    }
}
