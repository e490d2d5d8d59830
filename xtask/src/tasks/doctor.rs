//! `cargo xtask doctor`: the set-up the contributor's guide walks through by hand, checked in one
//! go: the fork, git (identity, an `upstream` remote at moby/moby, a work branch), the daemon
//! (endpoint, API version, privileges, free disk at its data root) and the dev image. One line per
//! check, ok / warning / problem, with the command that fixes it; exit 1 on a problem.

use anyhow::Result;
use git2::Repository;
use hack_compat::Fork;
use serde_json::json;

use crate::context::Context;
use crate::dev::image_build::{Builder, Plan};
use crate::dev::{container, profile};
use crate::engine::{Engine, Kind};
use crate::flags;
use crate::fork::{self, commit, ImageSource};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warning,
    Problem,
}

#[derive(Default)]
struct Report(Vec<(Level, String, Option<String>)>);

impl Report {
    fn ok(&mut self, what: impl Into<String>) {
        self.0.push((Level::Ok, what.into(), None));
    }
    fn warn(&mut self, what: impl Into<String>, fix: impl Into<String>) {
        self.0.push((Level::Warning, what.into(), Some(fix.into())));
    }
    fn problem(&mut self, what: impl Into<String>, fix: impl Into<String>) {
        self.0.push((Level::Problem, what.into(), Some(fix.into())));
    }
}

impl flags::Doctor {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        run(cx).await
    }
}

async fn run(cx: &Context) -> Result<u8> {
    let mut r = Report::default();
    let fork = match fork::open(&cx.opts) {
        Ok(f) => {
            r.ok(format!(
                "fork {}: era {}, source at {} in the dev container",
                f.root, f.era, f.src_path
            ));
            Some(f)
        }
        Err(e) => {
            r.problem(format!("{e:#}"), "pass --fork <path to your moby checkout>");
            None
        }
    };
    if let Some(f) = &fork {
        git_checks(&mut r, f);
        kept_check(&mut r, f);
    }
    match cx.engine().await {
        Ok(e) => daemon_checks(cx, &mut r, e, fork.as_ref()).await,
        Err(e) => r.problem(
            format!("{e:#}"),
            "sudo systemctl start docker (or set DOCKER_HOST)",
        ),
    }
    let mut problems = 0;
    for (level, what, fix) in &r.0 {
        let tag = match level {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Problem => "problem",
        };
        problems += usize::from(*level == Level::Problem);
        let fix_txt = fix
            .as_deref()
            .map(|f| format!("\n           fix: {f}"))
            .unwrap_or_default();
        cx.ui.result(format!("{tag:<9}  {what}{fix_txt}"));
        cx.ui
            .event(json!({"step": "check", "status": tag, "message": what, "fix": fix}));
    }
    Ok(u8::from(problems > 0))
}

/// `test integration --keep-daemon`'s daemon, from its files in the fork: whether it answers.
fn kept_check(r: &mut Report, fork: &Fork) {
    let Some(th) = fork
        .integration
        .as_ref()
        .and_then(|it| it.test_host.as_ref())
    else {
        return;
    };
    let rel = crate::ops::kept_daemon::dir(th);
    let dir = fork.root.join(&rel);
    let Ok(pid) = std::fs::read_to_string(dir.join("docker.pid")) else {
        return;
    };
    let build = std::fs::read_to_string(dir.join("xtask-build")).unwrap_or_default();
    let build: String = build.trim().chars().take(12).collect();
    let answers = std::os::unix::net::UnixStream::connect(dir.join("docker.sock")).is_ok();
    match answers {
        true => r.ok(format!(
            "a kept test daemon answers on {rel}/docker.sock (pid {}, build {build}); \
             `test integration --keep-daemon=stop` stops it",
            pid.trim()
        )),
        false => r.ok(format!(
            "the kept test daemon of {rel} (pid {}) no longer answers (its dev container was \
             replaced or stopped); the next `test integration --keep-daemon` starts one",
            pid.trim()
        )),
    }
}

fn git_checks(r: &mut Report, fork: &Fork) {
    let Ok(repo) = Repository::open(&fork.root) else {
        r.problem(
            format!("{} is not a git checkout", fork.root),
            "git clone https://github.com/<you>/moby.git, and work in the clone",
        );
        return;
    };
    let config = repo.config().ok();
    for key in ["user.name", "user.email"] {
        match config
            .as_ref()
            .and_then(|c| c.get_string(key).ok())
            .filter(|v| !v.is_empty())
        {
            Some(v) => r.ok(format!("git {key} is {v}")),
            None => r.problem(
                format!("git {key} is not set (commits need it, and the DCO sign-off)"),
                format!(
                    "git config {key} \"{}\"",
                    if key == "user.name" {
                        "Your Name"
                    } else {
                        "you@example.com"
                    }
                ),
            ),
        }
    }
    let remotes: Vec<(String, String)> = repo
        .remotes()
        .map(|names| {
            names
                .iter()
                .flatten()
                .flatten()
                .filter_map(|n| {
                    let remote = repo.find_remote(n).ok()?;
                    Some((n.to_string(), remote.url().ok()?.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    let official = |u: &str| u.contains("moby/moby") || u.contains("docker/docker");
    match remotes.iter().find(|(_, u)| official(u)) {
        Some((name, url)) if name == "upstream" => r.ok(format!("remote upstream is {url}")),
        Some((name, url)) => r.warn(
            format!("the official repository is remote `{name}` ({url}), not `upstream`"),
            format!("git remote rename {name} upstream"),
        ),
        None => r.problem(
            "no `upstream` remote points at moby/moby",
            "git remote add upstream https://github.com/moby/moby.git",
        ),
    }
    match commit::branch(&fork.root).as_deref() {
        Some("master" | "main") => r.warn(
            "you are on the default branch",
            "git checkout -b my-change (a branch per pull request)",
        ),
        Some("HEAD") => r.warn("HEAD is detached", "git checkout -b my-change"),
        Some(b) => r.ok(format!("on branch {b}")),
        None => r.warn(
            "no commit checked out yet",
            "git commit, or check out a branch",
        ),
    }
}

async fn daemon_checks(cx: &Context, r: &mut Report, e: &Engine, fork: Option<&Fork>) {
    let d = &e.docker;
    let endpoint = match e.endpoint.tls {
        Some(_) => format!("{} (TLS, {})", e.endpoint.host, e.endpoint.from),
        None => e.describe_endpoint(),
    };
    match d.version().await {
        Ok(v) => r.ok(format!(
            "{} at {endpoint}: server {}, API {}",
            e.kind.describe(),
            v.version.unwrap_or_default(),
            v.api_version.unwrap_or_default()
        )),
        Err(e) => r.problem(
            format!("the daemon at {endpoint} did not answer its version: {e}"),
            "docker version",
        ),
    }
    let kind_line = format!("engine kind: {}: {}", e.kind.describe(), e.kind.meaning());
    match e.kind {
        Kind::Docker | Kind::Userns | Kind::Podman { rootless: false } => r.ok(kind_line),
        Kind::Rootless | Kind::Podman { rootless: true } => r.warn(
            kind_line,
            "smoke's and run's nested dockerd runs no containers where the engine delegates no cgroups (cgroup v1): use a rootful engine for those",
        ),
    }
    let info = d.info().await.ok().unwrap_or_default();
    let emulated_here = container::with_profile(e, "emulated").await;
    if profile::first_choice(e) == profile::Profile::Emulated || emulated_here {
        r.warn(
            "this daemon refuses --privileged: dev containers use the emulated profile (all caps but SYS_RESOURCE)",
            "nothing to do for builds; on your own machine a daemon that grants --privileged is closer to CI",
        );
    } else {
        r.ok("no refusal of --privileged seen from this daemon (the first dev container tries it)");
    }
    // The data root's free space is measured only for an engine on this machine's socket: the
    // same path here on an engine elsewhere is another disk.
    let here = e.endpoint.host.starts_with("unix://");
    if let (false, Some(root)) = (here, info.docker_root_dir.as_deref()) {
        r.ok(format!(
            "the daemon's data root {root} is on the engine's machine: its free space is not measured from here (`docker system df` there)"
        ));
    } else if let Some(root) = info.docker_root_dir.as_deref() {
        match free_bytes(root) {
            Some(b) if b < 10 << 30 => r.problem(
                format!(
                    "{:.1} GiB free at the daemon's data root {root}: a moby build needs ~10 GiB",
                    gib(b)
                ),
                "docker system prune (or free space on that disk)",
            ),
            Some(b) if b < 20 << 30 => r.warn(
                format!("{:.1} GiB free at {root}", gib(b)),
                "docker system prune",
            ),
            Some(b) => r.ok(format!(
                "{:.1} GiB free at the daemon's data root {root}",
                gib(b)
            )),
            None => r.ok(format!(
                "the daemon's data root {root} is not visible from here (remote daemon?)"
            )),
        }
    }
    let Some(fork) = fork else { return };
    match fork::image(&cx.opts, fork) {
        Ok(ImageSource::Prebuilt(i)) => match e.try_image_id(&i).await {
            Ok(Some(_)) => r.ok(format!("dev image {i} is present")),
            _ => r.problem(
                format!("dev image {i} is not present"),
                format!("docker pull {i}, or drop --image"),
            ),
        },
        Ok(ImageSource::Fork(tag)) => image_check(r, e, fork, &tag).await,
        Err(e) => r.problem(format!("{e:#}"), "fix .moby-xtask.toml"),
    }
}

async fn image_check(r: &mut Report, e: &Engine, fork: &Fork, tag: &str) {
    let plan = match Plan::new(fork, tag) {
        Ok(p) => p,
        Err(e) => return r.problem(format!("{e:#}"), "pass --image <ref>"),
    };
    if let Ok(Some(_)) = plan.current(e).await {
        return r.ok(format!("dev image {tag} is current"));
    }
    let sh = xshell::Shell::new();
    match sh
        .map_err(anyhow::Error::from)
        .and_then(|sh| Builder::detect(&sh, plan.needs_buildkit()))
    {
        Ok(b) => r.warn(
            format!(
                "dev image {tag} is missing or stale; the next command builds it ({b:?} builder)"
            ),
            "cargo xtask image",
        ),
        Err(e) => r.problem(
            format!("{e:#}"),
            "install the buildx plugin, or pass --image <ref>",
        ),
    }
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// Free bytes for an unprivileged writer on the file system holding `path`.
fn free_bytes(path: &str) -> Option<u64> {
    let c = std::ffi::CString::new(path).ok()?;
    // SAFETY: statvfs fills a struct we own from a NUL-terminated path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}
