//! Variables the fork's Makefile computes and `export`s, so that they reach the dev container
//! through `DOCKER_ENVS` (e.g. 17.04's `DOCKER_INCREMENTAL_BINARY := …,1`, without which its
//! `hack/make.sh` builds with `go build -a`). Read from the Makefile's text, not from a table.

use crate::make_expr::if_call;
use crate::make_model::{MakeCond, Makefile, Op};
use crate::CommitForm;

/// One `export NAME` of the Makefile and what value it gives `NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MakeExport {
    pub name: String,
    pub value: ExportValue,
    /// A non-empty host value wins over the Makefile's (`$(if $(NAME),$(NAME),…)`, `?=`, or a
    /// bare `export NAME`). When false, make replaces the host's environment value (only a
    /// `make NAME=…` command-line value would win).
    pub host_wins: bool,
    /// The enclosing `ifdef`/`ifndef`/`ifeq` blocks of the assignment: all must hold.
    pub when: Vec<MakeCond>,
}

/// What the Makefile assigns to an exported variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportValue {
    /// No assignment: `export NAME` only passes the host's value on (`VALIDATE_*`, `PAGER`).
    Host,
    /// A literal default, e.g. `1` for `DOCKER_INCREMENTAL_BINARY` (E1–E3), `DOCKER_BUILDKIT`.
    Literal(String),
    /// The storage driver of the daemon `docker info` reaches (`DOCKER_GRAPHDRIVER`, E1–E6).
    DaemonStorageDriver,
    /// `git rev-parse [--short] HEAD` (`DOCKER_GITCOMMIT`).
    GitCommit(CommitForm),
    /// Anything else (another `$(shell …)`, other variables): not reproduced, skip it.
    Unknown(String),
}

impl MakeExport {
    /// The value make would export when it needs neither Docker nor git: the host's non-empty
    /// value where it wins, else a literal default. `None` for the computed kinds and `Unknown`.
    pub fn static_value(&self, host: Option<&str>) -> Option<String> {
        let host = host.filter(|h| !h.is_empty());
        match (&self.value, host) {
            (_, Some(h)) if self.host_wins => Some(h.to_string()),
            (ExportValue::Host, h) => h.map(str::to_string),
            (ExportValue::Literal(v), _) => Some(v.clone()),
            _ => None,
        }
    }
}

pub(crate) fn exports(mk: &Makefile) -> Vec<MakeExport> {
    let mut out: Vec<MakeExport> = Vec::new();
    for (name, export_when) in &mk.exports {
        if out.iter().any(|e| &e.name == name) {
            continue;
        }
        // The last plain assignment decides (`+=` only appends to it).
        let assigns: Vec<_> = mk.assigns_of(name).filter(|a| a.op != Op::Append).collect();
        let export = match assigns.last() {
            None => MakeExport {
                name: name.clone(),
                value: ExportValue::Host,
                host_wins: true,
                when: export_when.clone(),
            },
            Some(a) => {
                let (host_wins, text) = match if_call(&a.value) {
                    Some((var, then, other)) if &var == name && then == format!("$({name})") => {
                        (true, other)
                    }
                    _ => (a.op == Op::IfUnset, a.value.clone()),
                };
                MakeExport {
                    name: name.clone(),
                    value: classify(&text),
                    host_wins,
                    when: a.when.clone(),
                }
            }
        };
        out.push(export);
    }
    out
}

fn classify(text: &str) -> ExportValue {
    let t = text.trim();
    if !t.contains('$') {
        return ExportValue::Literal(t.to_string());
    }
    if let Some(cmd) = t.strip_prefix("$(shell ") {
        if cmd.contains("docker info") && cmd.contains("Driver") {
            return ExportValue::DaemonStorageDriver;
        }
        if cmd.contains("git rev-parse --short HEAD") {
            return ExportValue::GitCommit(CommitForm::Short);
        }
        if cmd.contains("git rev-parse HEAD") {
            return ExportValue::GitCommit(CommitForm::Full);
        }
    }
    ExportValue::Unknown(t.to_string())
}

/// The variable that gates the `PKGCACHE_MAP` volumes (`DOCKER_MOUNT_PKGCACHE := $(if
/// $(DOCKER_INCREMENTAL_BINARY),…)`, E1–E3): they are mounted only when it is non-empty.
pub(crate) fn go_caches_when(mk: &Makefile) -> Option<String> {
    mk.assigns
        .iter()
        .filter(|a| a.value.contains("PKGCACHE_MAP"))
        .find_map(|a| if_call(&a.value).map(|(var, _, _)| var))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> MakeExport {
        exports(&Makefile::parse(text)).remove(0)
    }

    #[test]
    fn forms() {
        let e = one("X := $(if $(X),$(X),1)\nexport X\n");
        assert_eq!(
            (e.value, e.host_wins),
            (ExportValue::Literal("1".into()), true)
        );
        let e =
            one("G := $(if $(G),$(G),$(shell docker info -f '{{ .Driver }}' 2>&1))\nexport G\n");
        assert_eq!(e.value, ExportValue::DaemonStorageDriver);
        let e = one("C := $(shell git rev-parse --short HEAD || echo unsupported)\nexport C\n");
        assert_eq!(
            (e.value, e.host_wins),
            (ExportValue::GitCommit(CommitForm::Short), false)
        );
        let e = one("export PAGER\n");
        assert_eq!(e.value, ExportValue::Host);
        assert_eq!(e.static_value(Some("less")).as_deref(), Some("less"));
        let e = one("B := $(if $(M),--build-arg A=$(M))\nexport B\n");
        assert!(matches!(e.value, ExportValue::Unknown(_)));
        assert_eq!(e.static_value(Some("x")), None);
    }
}
