//! `cargo xtask ci list | run`: the fork's own CI jobs (hack-compat reads them from its
//! `.github/workflows/`). `list` prints each job of this machine's arch with the name CI
//! shows; `run` runs jobs as CI runs them, each as a child of this program (`test
//! integration`, `test unit`, `validate`) with the job's variables in its environment, as
//! CI's `make` has them, one after another or dealt over `--engines`; a job the engine
//! cannot give (its arch, systemd, firewalld, rootless on cgroup v1) is "not run" and fails
//! the command. One summary line per job.

use anyhow::{bail, Result};
use hack_compat::ci::{self, Ci, CiJob, CiSource};
use hack_compat::go_tests::Platform;
use hack_compat::{Fork, Unit};
use serde_json::json;

use crate::context::Context;
use crate::flags;
use crate::ops::ci_job::{self, Facts, Invocation};
use crate::split::{self, merge, plan, run};
use crate::ui::Verbosity;

impl flags::CiCmd {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        match self {
            flags::CiCmd::List(_) => list(cx),
            flags::CiCmd::Run(r) => r.run(cx).await,
        }
    }
}

/// The fork and its CI.
fn read(cx: &Context) -> Result<(Fork, Ci)> {
    let fork = crate::fork::open(&cx.opts)?;
    let ci = ci::read(&fork.root, Platform::linux_here())?;
    Ok((fork, ci))
}

/// A fork without workflows, in one line with what it has instead.
fn no_workflows(fork: &Fork, source: &CiSource) -> Option<String> {
    match source {
        CiSource::Workflows(_) => None,
        CiSource::Jenkinsfile => Some(format!(
            "this fork ({}) has no .github/workflows/test.yml: its CI is its Jenkinsfile, which \
             this tool does not read; run its stages with `cargo xtask test unit`, `test \
             integration` and `validate`",
            fork.era
        )),
        CiSource::None => Some(
            "this fork has no .github/workflows/test.yml (nor a Jenkinsfile): it defines no CI jobs"
                .into(),
        ),
    }
}

fn list(cx: &Context) -> Result<u8> {
    let (fork, ci) = read(cx)?;
    if let Some(line) = no_workflows(&fork, &ci.source) {
        cx.ui.result(line);
        return Ok(0);
    }
    let here = Platform::linux_here();
    let facts = Facts {
        arch: here.arch.to_string(),
        cgroup_v2: true,
    };
    let jobs: Vec<&CiJob> = ci.jobs.iter().filter(|j| j.arch == here.arch).collect();
    let width = jobs.iter().map(|j| j.id.len()).max().unwrap_or(0);
    for j in &jobs {
        let storage = j.storage.as_deref().unwrap_or("-");
        cx.ui
            .result(format!("{:<width$}  {storage:<11}  {}", j.id, j.names[0]));
        let inv = ci_job::invocation(j, &fork, None).ok();
        if cx.ui.verbosity == Verbosity::Verbose {
            for line in details(j, inv.as_ref(), ci_job::not_run(j, &fork, &facts)) {
                cx.ui.result(format!("    {line}"));
            }
        }
        cx.ui.event(
            json!({"step": "job", "id": j.id, "storage": j.storage, "arch": j.arch,
            "mode": j.mode, "names": j.names, "env": pairs(&j.env), "make": j.make,
            "file": j.file, "runs": inv.map(|i| i.args)}),
        );
    }
    let files = match &ci.source {
        CiSource::Workflows(f) => f.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", "),
        _ => String::new(),
    };
    cx.ui.result(format!(
        "{} jobs for {} from {files}{}",
        jobs.len(),
        here.arch,
        if cx.ui.verbosity == Verbosity::Verbose {
            ""
        } else {
            " (-v: what each sets and runs)"
        }
    ));
    Ok(0)
}

fn pairs(env: &[(String, String)]) -> serde_json::Map<String, serde_json::Value> {
    env.iter()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect()
}

/// `-v` and `--dry-run` lines of a job: what it sets, what runs, or why it cannot here.
fn details(j: &CiJob, inv: Option<&Invocation>, not_run: Option<String>) -> Vec<String> {
    let mut out = Vec::new();
    if j.names.len() > 1 {
        out.push(format!("also shown as: {}", j.names[1..].join("; ")));
    }
    out.push(format!("CI runs: make {} ({})", j.make.join(" "), j.file));
    if let Some(inv) = inv {
        let sets: Vec<String> = inv.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push(format!("sets: {}", sets.join(" ")));
        out.push(format!("here: cargo xtask {}", inv.args.join(" ")));
        if !inv.runner_only.is_empty() {
            out.push(format!(
                "the CI runner's own (make does not pass them on): {}",
                inv.runner_only.join(" ")
            ));
        }
    }
    if let Some(why) = not_run {
        out.push(format!("not run here: {why}"));
    }
    out
}

impl flags::CiRun {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        let (fork, ci) = read(cx)?;
        if let Some(line) = no_workflows(&fork, &ci.source) {
            bail!("{line}");
        }
        let storage = self.storage.map(flags::Storage::name);
        // The names and the narrowing checked before the engine is asked anything.
        for j in ci_job::select(&ci.jobs, &self.jobs, storage)? {
            ci_job::invocation(j, &fork, self.run.as_deref())?;
        }
        // A dry run needs no daemon: without one, this machine's arch, and cgroup v2 assumed.
        let facts = match (self.dry_run, engine_facts(cx).await) {
            (_, Ok(f)) => f,
            (true, Err(_)) => Facts {
                arch: Platform::linux_here().arch.to_string(),
                cgroup_v2: true,
            },
            (false, Err(e)) => return Err(e),
        };
        let mine: Vec<CiJob> = ci
            .jobs
            .iter()
            .filter(|j| j.arch == facts.arch)
            .cloned()
            .collect();
        // Ids of this engine's arch; a CI name may name another arch's job (then: not run).
        let jobs = match ci_job::select(&mine, &self.jobs, storage) {
            Ok(j) => j,
            Err(e) => match ci_job::select(&ci.jobs, &self.jobs, storage) {
                Ok(j) => j,
                Err(_) => return Err(e),
            },
        };
        let mut runnable = Vec::new();
        let mut not_here = Vec::new();
        for j in jobs {
            let inv = ci_job::invocation(j, &fork, self.run.as_deref())?;
            match ci_job::not_run(j, &fork, &facts) {
                Some(why) => not_here.push((ci_job::key(j), why)),
                None => runnable.push((j, inv)),
            }
        }
        if self.dry_run {
            return Ok(dry_run(cx, &runnable, &not_here));
        }
        if !self.engines.is_empty() {
            return self.over_engines(cx, &fork, &runnable, &not_here).await;
        }
        cx.ui.status(
            "Running",
            format!(
                "{} CI job(s){}",
                runnable.len() + not_here.len(),
                if not_here.is_empty() {
                    String::new()
                } else {
                    format!(", {} of them not runnable here", not_here.len())
                }
            ),
        );
        let mut outcomes = Vec::new();
        for (j, inv) in &runnable {
            let key = ci_job::key(j);
            cx.ui.status("Job", format!("{key}: {}", j.names[0]));
            let share = plan::Share {
                engine: key.clone(),
                units: vec![Unit::Job(key.clone())],
                weight: 0.0,
            };
            let got = run::all(cx, &[share], &|_| job_child(cx, &fork, inv)).await?;
            outcomes.extend(got);
            if let Some(sig) = cx.cancel.signal() {
                return Err(crate::cancel::Interrupted(sig).into());
            }
        }
        if self.shard_name.is_some() {
            let times: serde_json::Map<String, serde_json::Value> = outcomes
                .iter()
                .map(|o| (format!("ci:{}", o.engine), o.secs.into()))
                .collect();
            cx.ui.event(json!({"step": "share", "times": times}));
        }
        Ok(merge::conclude(cx, &fork, &outcomes, "ci run", &not_here))
    }

    /// The jobs dealt over `--engines` by their last times: each engine's share runs as a child
    /// `ci run <keys> --shard-name <engine>` against that engine.
    async fn over_engines(
        &self,
        cx: &Context,
        fork: &Fork,
        runnable: &[(&CiJob, Invocation)],
        not_here: &[(String, String)],
    ) -> Result<u8> {
        let engines = split::engine_names(&self.engines)?;
        let pieces: Vec<hack_compat::Piece> = runnable
            .iter()
            .map(|(j, _)| hack_compat::Piece {
                unit: Unit::Job(ci_job::key(j)),
                tests: 1,
            })
            .collect();
        let times = plan::read_times(&fork.root);
        let (basis, shares) = plan::plan(&engines, &pieces, &times);
        cx.ui.status(
            "Splitting",
            format!(
                "{} job(s) over {} engine(s), {}",
                pieces.len(),
                engines.len(),
                basis.describe()
            ),
        );
        for s in &shares {
            let keys: Vec<String> = s.units.iter().map(job_key).collect();
            cx.ui.result(format!(
                "  {}: {}",
                s.engine,
                if keys.is_empty() {
                    "nothing to run".into()
                } else {
                    keys.join(" ")
                }
            ));
        }
        let outcomes = run::all(cx, &shares, &|s| {
            let mut c = run::child(cx, &s.engine)?;
            c.args(["ci", "run"]).args(run::fork_args(cx, fork));
            c.args(s.units.iter().map(job_key));
            c.arg(format!("--shard-name={}", s.engine));
            if let Some(re) = &self.run {
                c.arg(format!("--run={re}"));
            }
            Ok(c)
        })
        .await?;
        let new_times: Vec<(String, f64)> = outcomes.iter().flat_map(|o| o.times.clone()).collect();
        if let Err(e) = plan::write_times(fork, &new_times) {
            cx.ui
                .warn(format!("could not remember the jobs' times: {e:#}"));
        }
        if let Some(sig) = cx.cancel.signal() {
            return Err(crate::cancel::Interrupted(sig).into());
        }
        Ok(merge::conclude(cx, fork, &outcomes, "ci run", not_here))
    }
}

fn job_key(u: &Unit) -> String {
    match u {
        Unit::Job(k) => k.clone(),
        other => other.key(),
    }
}

/// The child that runs one job on this command's engine: its task, with the job's variables
/// set and the ones CI's replace removed.
fn job_child(cx: &Context, fork: &Fork, inv: &Invocation) -> Result<tokio::process::Command> {
    let mut c = run::child(cx, "local")?;
    c.args(&inv.args[..inv.args.len().min(2)]);
    c.args(run::fork_args(cx, fork));
    c.args(&inv.args[inv.args.len().min(2)..]);
    for name in &inv.removed {
        c.env_remove(name);
    }
    c.envs(inv.env.iter().map(|(k, v)| (k, v)));
    Ok(c)
}

fn dry_run(cx: &Context, runnable: &[(&CiJob, Invocation)], not_here: &[(String, String)]) -> u8 {
    for (j, inv) in runnable {
        cx.ui.result(format!("{}: {}", ci_job::key(j), j.names[0]));
        for line in details(j, Some(inv), None) {
            cx.ui.result(format!("    {line}"));
        }
        if !inv.removed.is_empty() {
            cx.ui
                .result(format!("    unset for it: {}", inv.removed.join(" ")));
        }
        cx.ui
            .event(json!({"step": "job", "id": j.id, "storage": j.storage,
            "args": inv.args, "env": pairs(&inv.env), "unset": inv.removed}));
    }
    for (key, why) in not_here {
        cx.ui.result(format!("{key}: not run: {why}"));
        cx.ui
            .event(json!({"step": "job", "id": key, "not_run": why}));
    }
    0
}

/// The engine's architecture and cgroup version, from `/info`.
async fn engine_facts(cx: &Context) -> Result<Facts> {
    let engine = cx.engine().await?;
    let info = engine.docker.info().await?;
    let arch = match info.architecture.as_deref() {
        Some("x86_64") => "amd64",
        Some("aarch64") => "arm64",
        Some(other) => other,
        None => Platform::linux_here().arch,
    }
    .to_string();
    Ok(Facts {
        arch,
        cgroup_v2: info.cgroup_version.map(|v| v.to_string()).as_deref() == Some("2"),
    })
}
