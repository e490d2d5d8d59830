//! A CI job of the fork (hack-compat's `ci`) as this tool runs it: which jobs a command line
//! names (ids, globs of ids, the names CI shows, `id@storage`), the tool's own command that
//! runs the job's `make` target (`test integration`, `test unit`, `validate`) and the variables
//! it gets, and why a job cannot run on this engine ("not run: …", never "passed").

use anyhow::{bail, Result};
use hack_compat::ci::{CiJob, JobKind};
use hack_compat::Fork;

/// Variables a job's run replaces: yours are not mixed into CI's.
const REPLACED: &[&str] = &[
    "TESTFLAGS",
    "TEST_FILTER",
    "TESTDIRS",
    "TEST_INTEGRATION_DIR",
    "TEST_SKIP_INTEGRATION",
    "TEST_SKIP_INTEGRATION_CLI",
    "TEST_INTEGRATION_USE_SNAPSHOTTER",
    "TEST_INTEGRATION_USE_GRAPHDRIVER",
    "TEST_INTEGRATION_CONTAINERD_EMBEDDED",
    "DOCKER_ROOTLESS",
    "DOCKER_REMAP_ROOT",
    "DOCKER_GRAPHDRIVER",
    "DOCKER_EXPERIMENTAL",
    "DOCKER_FIREWALL_BACKEND",
];

/// The key of a job in plans and memos: `id@storage` (or the id alone).
pub fn key(j: &CiJob) -> String {
    match &j.storage {
        Some(s) => format!("{}@{s}", j.id),
        None => j.id.clone(),
    }
}

/// The jobs `given` names among `jobs` (of this arch), each once, in the order given. A name
/// that is an id (or glob) under several storages picks `storage`, else the first listed.
pub fn select<'a>(
    jobs: &'a [CiJob],
    given: &[String],
    storage: Option<&str>,
) -> Result<Vec<&'a CiJob>> {
    let mut out: Vec<&CiJob> = Vec::new();
    for g in given {
        let (pat, at) = match g.rsplit_once('@') {
            Some((p, s)) if !p.contains(" / ") && !s.contains(' ') => (p, Some(s)),
            _ => (g.as_str(), None),
        };
        let by_name = g.contains('(') || g.contains(" / ");
        let found: Vec<&CiJob> = jobs
            .iter()
            .filter(|j| match by_name {
                true => j.names.iter().any(|n| same_name(n, g)),
                false => glob(pat, &j.id),
            })
            .collect();
        if found.is_empty() {
            bail!("{g}: no such job in this fork's CI for this arch; `cargo xtask ci list` shows them");
        }
        // `@storage` or --storage choose; else the first storage listed (a CI name that says
        // its storage matched only that one).
        let wanted = at.or(storage);
        let mut seen: Vec<&str> = Vec::new();
        for j in found {
            if wanted.is_some_and(|w| j.storage.as_deref().is_some_and(|s| s != w)) {
                continue;
            }
            if wanted.is_none() {
                if seen.contains(&j.id.as_str()) {
                    continue;
                }
                seen.push(&j.id);
            }
            if !out.iter().any(|o| key(o) == key(j)) {
                out.push(j);
            }
        }
    }
    if out.is_empty() {
        bail!(
            "no job of {} runs with storage {}; `cargo xtask ci list` shows each job's storage",
            given.join(" "),
            storage.unwrap_or("?")
        );
    }
    Ok(out)
}

/// `*` in `pat` matches any run of characters.
fn glob(pat: &str, s: &str) -> bool {
    match pat.split_once('*') {
        None => pat == s,
        Some((head, rest)) => {
            let Some(tail) = s.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|i| tail.is_char_boundary(*i))
                .any(|i| glob(rest, &tail[i..]))
        }
    }
}

/// Whether the name CI shows, `shown`, is the one `given` (copied from a job's page): the job
/// part (after the last ` / `) with the same words, not counting the arch and empty values; the
/// caller part, when given, with words all in the shown one.
fn same_name(shown: &str, given: &str) -> bool {
    let words = |s: &str| -> Vec<String> {
        let mut w: Vec<String> = s
            .split([' ', '(', ')', ','])
            .filter(|w| !w.is_empty() && !matches!(*w, "amd64" | "arm64"))
            .map(str::to_string)
            .collect();
        w.sort();
        w.dedup();
        w
    };
    let split = |s: &str| match s.rsplit_once(" / ") {
        Some((caller, own)) => (Some(caller.to_string()), own.to_string()),
        None => (None, s.to_string()),
    };
    let (shown_caller, shown_own) = split(shown.trim());
    let (given_caller, given_own) = split(given.trim());
    if words(&shown_own) != words(&given_own) {
        return false;
    }
    match (given_caller, shown_caller) {
        (None, _) => true,
        (Some(g), Some(s)) => {
            let have = words(&s);
            words(&g).iter().all(|w| have.contains(w))
        }
        (Some(_), None) => false,
    }
}

/// How this tool runs a job: its task's arguments and the variables it sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Variables of yours the run leaves out (CI's replace them).
    pub removed: Vec<String>,
    /// The job's variables the fork's `make` would not hand to the dev container (the CI
    /// runner's own: `GO_VERSION`, `SETUP_BUILDX_VERSION`, …).
    pub runner_only: Vec<String>,
}

/// The invocation of `j` on `fork`, narrowed to `run`.
pub fn invocation(j: &CiJob, fork: &Fork, run: Option<&str>) -> Result<Invocation> {
    let forwarded = |k: &str| fork.env_allowlist.iter().any(|n| n == k);
    let mut env: Vec<(String, String)> = Vec::new();
    let mut runner_only = Vec::new();
    for (k, v) in &j.env {
        match forwarded(k) {
            true => env.push((k.clone(), v.clone())),
            false => runner_only.push(k.clone()),
        }
    }
    let mut args: Vec<String> = match &j.kind {
        JobKind::Integration => vec!["test".into(), "integration".into()],
        JobKind::IntegrationCli { selection } => {
            // `-test.run (A|B)/` as CI passes it; `--run` narrows each suite's tests.
            let narrowed = format!("-test.run ({selection})/{}", run.unwrap_or_default());
            env.retain(|(k, _)| k != "TESTFLAGS");
            env.push(("TESTFLAGS".into(), narrowed));
            vec!["test".into(), "integration".into()]
        }
        JobKind::Unit => vec!["test".into(), "unit".into()],
        JobKind::Validate { check } => {
            if run.is_some() {
                bail!("{}: a validate job has no tests to narrow with --run", j.id);
            }
            vec!["validate".into(), check.clone()]
        }
        JobKind::DockerPy => vec!["test".into(), "docker-py".into()],
    };
    if let (Some(re), JobKind::Integration | JobKind::Unit) = (run, &j.kind) {
        args.push(format!("--run={re}"));
    }
    let removed = REPLACED
        .iter()
        .filter(|n| forwarded(n) && !env.iter().any(|(k, _)| k == *n))
        .map(|n| n.to_string())
        .collect();
    Ok(Invocation {
        args,
        env,
        removed,
        runner_only,
    })
}

/// What the engine (and the dev container it gives) can do, for [`not_run`].
#[derive(Debug, Clone)]
pub struct Facts {
    /// The engine's architecture in Go's names (`amd64`).
    pub arch: String,
    /// Whether the engine's host has cgroup v2 (where the nested rootless daemon can have cgroups).
    pub cgroup_v2: bool,
}

/// Why `j` cannot run here, if it cannot.
pub fn not_run(j: &CiJob, fork: &Fork, facts: &Facts) -> Option<String> {
    if j.arch != facts.arch {
        return Some(format!(
            "an {} job, and this engine is {}",
            j.arch, facts.arch
        ));
    }
    if j.var("SYSTEMD") == Some("true") {
        return Some(
            "systemd mode: CI boots the fork's systemd dev image with systemd as PID 1; this tool \
             runs the dev container without an init system"
                .into(),
        );
    }
    if j.var("FIREWALLD") == Some("true") {
        return Some(
            "firewalld mode: CI runs firewalld (and its D-Bus) in a systemd dev container, which \
             this tool does not start"
                .into(),
        );
    }
    if j.var("DOCKER_ROOTLESS").is_some() && !facts.cgroup_v2 {
        return Some(
            "rootless mode on a cgroup v1 host: the nested rootless daemon gets no cgroups there, \
             so the tests that start containers fail"
                .into(),
        );
    }
    match &j.kind {
        JobKind::DockerPy => Some(
            "docker-py: this tool has no run of `make test-docker-py` (it needs docker-py's test \
             image from a registry)"
                .into(),
        ),
        JobKind::Validate { check } if !fork.validate_checks.contains(check) => Some(format!(
            "`make validate-{check}` is a Makefile target of its own here, not a hack/validate/ \
             script `validate` runs"
        )),
        JobKind::Integration | JobKind::IntegrationCli { .. } if fork.integration.is_none() => {
            Some("this fork's Makefile has no test-integration target".into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_copied_from_a_jobs_page() {
        let shown = "test (amd64, graphdriver) / integration (amd64, ubuntu-26.04, userns)";
        for given in [
            "integration (ubuntu-26.04, userns)",
            "test (amd64, graphdriver) / integration (ubuntu-26.04, userns)",
            "test (amd64, graphdriver) / integration (amd64, ubuntu-26.04, userns)",
            "  integration (ubuntu-26.04, userns) ",
        ] {
            assert!(same_name(shown, given), "{given}");
        }
        for given in [
            "integration (ubuntu-26.04)",
            "test (amd64, snapshotter) / integration (ubuntu-26.04, userns)",
            "integration-cli (ubuntu-26.04, userns)",
        ] {
            assert!(!same_name(shown, given), "{given}");
        }
        // A mode-less job's name, with GitHub's trailing empty value or without.
        let plain = "test (amd64, snapshotter) / integration (amd64, ubuntu-22.04)";
        assert!(same_name(plain, "integration (ubuntu-22.04, )"));
        assert!(glob("integration/*", "integration/userns"));
        assert!(!glob("integration/*", "integration-cli/3"));
        assert!(glob("integration-cli/*", "integration-cli/nftables/2"));
        assert!(glob("unit", "unit") && !glob("unit", "unit/firewalld"));
    }
}
