//! From the workflow files to the jobs: `test.yml`'s jobs, each call of a local reusable
//! workflow (`uses: ./.github/workflows/.test.yml`) once per combination of its matrix with
//! the inputs its `with:` gives, each job of a file once per combination of its own matrix
//! (computed ones from the prepare job's step, `scripts.rs` and `github_script.rs`), and per
//! combination the variables, selection, id and CI name.

use camino::{Utf8Path, Utf8PathBuf};
use serde_json::{Map, Value};

use super::expr::{as_text, interpolate};
use super::matrix::{self, Combo};
use super::{github_script, gotestlist, scripts, yaml, CiJob, JobKind};
use crate::go_tests::Platform;
use crate::Error;

const DIR: &str = ".github/workflows";
const TARGETS: &[&str] = &["test-unit", "test-integration", "test-docker-py"];

/// The workflow files read and the jobs, in `test.yml`'s order.
pub(super) fn jobs(root: &Utf8Path, p: Platform) -> Result<(Vec<Utf8PathBuf>, Vec<CiJob>), Error> {
    let test = yaml::load(&root.join(DIR).join("test.yml"))?;
    let mut files = vec![Utf8PathBuf::from(DIR).join("test.yml")];
    let mut out: Vec<CiJob> = Vec::new();
    let top = Scope::new(root, p, &test, "test.yml", Map::new(), None);
    for (key, job) in entries(&test["jobs"]) {
        let Some(called) = job["uses"]
            .as_str()
            .and_then(|u| u.strip_prefix("./.github/workflows/"))
        else {
            merge(&mut out, top.jobs_of(key, job));
            continue;
        };
        let path = root.join(DIR).join(called);
        if !path.is_file() {
            return Err(Error::MissingWorkflow {
                job: key.clone(),
                path: Utf8PathBuf::from(DIR).join(called),
            });
        }
        let callee = yaml::load(&path)?;
        let rel = Utf8PathBuf::from(DIR).join(called);
        if !files.contains(&rel) {
            files.push(rel);
        }
        for combo in top.combos(job) {
            let ctx = top.lookup(&combo, &[]);
            let mut inputs = Map::new();
            for (name, spec) in entries(&callee["on"]["workflow_call"]["inputs"]) {
                if !spec["default"].is_null() {
                    inputs.insert(name.clone(), spec["default"].clone());
                }
            }
            for (name, v) in entries(&job["with"]) {
                if let Some(v) = eval_value(v, &ctx) {
                    inputs.insert(name.clone(), v);
                }
            }
            let caller = display_name(key, job, &combo, &ctx);
            let scope = Scope::new(root, p, &callee, called, inputs, Some(caller));
            for (k, j) in entries(&callee["jobs"]) {
                merge(&mut out, scope.jobs_of(k, j));
            }
        }
    }
    Ok((files, out))
}

/// A job already listed under the same id, storage and arch (another runner): one more name.
fn merge(out: &mut Vec<CiJob>, new: Vec<CiJob>) {
    for j in new {
        match out
            .iter_mut()
            .find(|o| o.id == j.id && o.storage == j.storage && o.arch == j.arch)
        {
            Some(o) => o.names.extend(j.names),
            None => out.push(j),
        }
    }
}

fn entries(v: &Value) -> impl Iterator<Item = (&String, &Value)> {
    v.as_object().into_iter().flatten()
}

/// A value with its strings' expressions evaluated (objects and lists through).
fn eval_value(v: &Value, ctx: &dyn Fn(&str) -> Option<Value>) -> Option<Value> {
    match v {
        Value::String(s) => interpolate(s, ctx),
        Value::Array(a) => a
            .iter()
            .map(|x| eval_value(x, ctx))
            .collect::<Option<_>>()
            .map(Value::Array),
        Value::Object(o) => {
            let mut m = Map::new();
            for (k, x) in o {
                m.insert(k.clone(), eval_value(x, ctx)?);
            }
            Some(Value::Object(m))
        }
        other => Some(other.clone()),
    }
}

/// The name GitHub shows: the job's `name:` evaluated, else its key and its combination's
/// non-empty values (`integration (ubuntu-22.04, rootless)`).
fn display_name(
    key: &str,
    job: &Value,
    combo: &Combo,
    ctx: &dyn Fn(&str) -> Option<Value>,
) -> String {
    if let Some(n) = job["name"].as_str().and_then(|n| interpolate(n, ctx)) {
        return as_text(&n);
    }
    let values: Vec<String> = combo
        .values()
        .map(as_text)
        .filter(|v| !v.is_empty())
        .collect();
    match values.is_empty() {
        true => key.to_string(),
        false => format!("{key} ({})", values.join(", ")),
    }
}

/// One workflow file under its caller's inputs.
struct Scope<'a> {
    root: &'a Utf8Path,
    platform: Platform,
    doc: &'a Value,
    file: String,
    inputs: Map<String, Value>,
    /// The workflow's `env:`, evaluated.
    env: Vec<(String, Value)>,
    caller: Option<String>,
}

impl<'a> Scope<'a> {
    fn new(
        root: &'a Utf8Path,
        platform: Platform,
        doc: &'a Value,
        file: &str,
        inputs: Map<String, Value>,
        caller: Option<String>,
    ) -> Scope<'a> {
        let mut s = Scope {
            root,
            platform,
            doc,
            file: format!("{DIR}/{file}"),
            inputs,
            env: Vec::new(),
            caller,
        };
        // A workflow's `env:` sees its inputs (not its own other entries).
        let none = Combo::default();
        let env: Vec<(String, Value)> = entries(&doc["env"])
            .filter_map(|(k, v)| Some((k.clone(), eval_value(v, &s.lookup(&none, &[]))?)))
            .collect();
        s.env = env;
        s
    }

    /// Context names: `inputs.*`, `matrix.*`, `env.*` (the step's, then the workflow's),
    /// `needs.<job>.outputs.<name>` (computed).
    fn lookup<'s>(
        &'s self,
        combo: &'s Combo,
        step_env: &'s [(String, Value)],
    ) -> impl Fn(&str) -> Option<Value> + 's {
        move |name: &str| {
            let parts: Vec<&str> = name.split('.').collect();
            // A property a context lacks is null (empty text), as in GitHub.
            match parts.as_slice() {
                ["inputs", k] => Some(self.inputs.get(*k).cloned().unwrap_or(Value::Null)),
                ["matrix", k] => Some(combo.get(k).cloned().unwrap_or(Value::Null)),
                ["env", k] => Some(
                    step_env
                        .iter()
                        .chain(self.env.iter())
                        .find(|(n, _)| n == k)
                        .map_or(Value::Null, |(_, v)| v.clone()),
                ),
                ["needs", job, "outputs", out] => self.job_output(job, out),
                _ => None,
            }
        }
    }

    /// A prepare job's output: the step output its `outputs:` names.
    fn job_output(&self, job: &str, out: &str) -> Option<Value> {
        let j = &self.doc["jobs"][job];
        let expr = j["outputs"][out].as_str()?;
        let inner = expr.trim().strip_prefix("${{")?.strip_suffix("}}")?.trim();
        match inner.split('.').collect::<Vec<_>>().as_slice() {
            ["steps", step, "outputs", key] => self.step_output(j, step, key),
            _ => None,
        }
    }

    /// What step `id` of `job` outputs as `key`: a github-script's `core.setOutput`, a
    /// gotestlist run, or the validate scripts' list.
    fn step_output(&self, job: &Value, id: &str, key: &str) -> Option<Value> {
        let step = job["steps"]
            .as_array()?
            .iter()
            .find(|s| s["id"].as_str() == Some(id))?;
        let steps = |name: &str| -> Option<Value> {
            match name.split('.').collect::<Vec<_>>().as_slice() {
                ["steps", s, "outputs", k] => self.step_output(job, s, k),
                _ => None,
            }
        };
        let none = Combo::default();
        let base = self.lookup(&none, &[]);
        let with_steps = |n: &str| base(n).or_else(|| steps(n));
        let mut step_env = Vec::new();
        for (k, v) in entries(&step["env"]) {
            step_env.push((k.clone(), eval_value(v, &with_steps)?));
        }
        let scoped = self.lookup(&none, &step_env);
        let ctx = |n: &str| scoped(n).or_else(|| steps(n));
        if step["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/github-script"))
        {
            let script = as_text(&interpolate(step["with"]["script"].as_str()?, &ctx)?);
            let input = |n: &str| {
                let var = format!("INPUT_{}", n.replace(' ', "_").to_uppercase());
                step_env
                    .iter()
                    .find(|(k, _)| *k == var)
                    .map(|(_, v)| as_text(v))
            };
            return github_script::output(&script, key, &input);
        }
        let run = as_text(&interpolate(step["run"].as_str()?, &ctx)?);
        let wd = step["working-directory"].as_str().unwrap_or(".");
        if let Some((n, overrides, patterns)) = scripts::gotestlist(&run) {
            let mut tests = Vec::new();
            for pat in &patterns {
                let (dir, rec) = match pat.strip_suffix("/...").or(pat.strip_suffix("...")) {
                    Some(d) => (d, true),
                    None => (pat.as_str(), false),
                };
                let dir = self.root.join(wd).join(dir);
                tests.extend(gotestlist::tests(&normal(&dir), rec, self.platform));
            }
            let entries = gotestlist::distribute(&tests, n, &overrides);
            return Some(Value::Array(
                entries.into_iter().map(Value::String).collect(),
            ));
        }
        if run.contains("hack/validate") {
            let names: Vec<String> = self
                .root
                .join("hack/validate")
                .read_dir_utf8()
                .ok()?
                .flatten()
                .map(|e| e.file_name().to_string())
                .collect();
            let checks = scripts::validate_matrix(&run, &names)?;
            return Some(Value::Array(
                checks.into_iter().map(Value::String).collect(),
            ));
        }
        None
    }

    /// The combinations of a job's matrix (one, empty, without a matrix; none when it cannot
    /// be computed here).
    fn combos(&self, job: &Value) -> Vec<Combo> {
        self.combos_counted(job).0
    }

    /// The combinations, and how many came from the matrix's own lists (the rest from `include`).
    fn combos_counted(&self, job: &Value) -> (Vec<Combo>, usize) {
        let m = &job["strategy"]["matrix"];
        if m.is_null() {
            return (vec![Combo::default()], 1);
        }
        let none = Combo::default();
        let ctx = self.lookup(&none, &[]);
        let Some(v) = eval_value(m, &ctx) else {
            return (Vec::new(), 0);
        };
        matrix::expand_counted(&v).unwrap_or_default()
    }

    /// The test jobs of job `key`: one per combination, where a step runs one of the fork's
    /// test or validate targets from the fork's root.
    fn jobs_of(&self, key: &str, job: &Value) -> Vec<CiJob> {
        let Some(steps) = job["steps"].as_array() else {
            return Vec::new();
        };
        let in_root = |s: &Value| {
            let wd = s["working-directory"]
                .as_str()
                .or(job["defaults"]["run"]["working-directory"].as_str());
            wd.is_none_or(|d| d == "." || d == "./")
        };
        let Some(at) = steps.iter().position(|s| {
            in_root(s)
                && s["run"]
                    .as_str()
                    .and_then(scripts::make_line)
                    .is_some_and(|(_, args)| args.iter().any(|a| wanted(a)))
        }) else {
            return Vec::new();
        };
        let (combos, base) = self.combos_counted(job);
        let mut per_mode: Vec<(String, usize)> = Vec::new();
        let mut out = Vec::new();
        for (i, combo) in combos.iter().enumerate() {
            let Some(mut j) = self.job(key, job, &steps[..=at], combo) else {
                continue;
            };
            if let JobKind::IntegrationCli { .. } = j.kind {
                let n = if i < base || j.mode.is_empty() {
                    i + 1
                } else {
                    let slot = match per_mode.iter_mut().find(|(m, _)| *m == j.mode) {
                        Some(s) => s,
                        None => {
                            per_mode.push((j.mode.clone(), 0));
                            per_mode.last_mut().expect("just pushed")
                        }
                    };
                    slot.1 += 1;
                    slot.1
                };
                j.id = match i < base || j.mode.is_empty() {
                    true => format!("integration-cli/{n}"),
                    false => format!("integration-cli/{}/{n}", j.mode),
                };
            }
            out.push(j);
        }
        out
    }

    /// One combination's job: `steps` end with the test step.
    fn job(&self, key: &str, job: &Value, steps: &[Value], combo: &Combo) -> Option<CiJob> {
        let ctx = self.lookup(combo, &[]);
        let mut env: Vec<(String, String)> = self
            .env
            .iter()
            .map(|(k, v)| (k.clone(), as_text(v)))
            .collect();
        let (test, before) = steps.split_last()?;
        for step in before {
            let Some(run) = step["run"].as_str().filter(|r| r.contains("GITHUB_ENV")) else {
                continue;
            };
            let step_env = step_env(step, &ctx)?;
            let run = as_text(&interpolate(run, &ctx)?);
            let value = |operand: &str| -> Option<String> {
                match operand.strip_prefix('$') {
                    Some(var) => {
                        let var = var.trim_start_matches('{').trim_end_matches('}');
                        step_env
                            .iter()
                            .find(|(k, _)| k == var)
                            .map(|(_, v)| v.clone())
                    }
                    None => Some(operand.to_string()),
                }
            };
            env.extend(scripts::env_written(&run, &value));
        }
        let test_env = step_env(test, &ctx)?;
        let run = expand_vars(
            &as_text(&interpolate(test["run"].as_str()?, &ctx)?),
            &test_env,
        );
        env.extend(test_env);
        let (vars, make) = scripts::make_line(&run)?;
        env.extend(vars);
        // Later settings win; empty ones are unset.
        let mut kept: Vec<(String, String)> = Vec::new();
        for (k, v) in env {
            kept.retain(|(n, _)| *n != k);
            kept.push((k, v));
        }
        kept.retain(|(_, v)| !v.is_empty());
        let text = |k: &str| combo.get(k).map(as_text).unwrap_or_default();
        let mode = text("mode");
        let target = make.iter().rfind(|a| wanted(a))?.clone();
        let skips_integration = kept.iter().any(|(k, _)| k == "TEST_SKIP_INTEGRATION");
        let (kind, base_id) = match target.as_str() {
            "test-unit" => (JobKind::Unit, "unit".to_string()),
            "test-docker-py" => (JobKind::DockerPy, "docker-py".to_string()),
            "test-integration" if skips_integration => (
                JobKind::IntegrationCli {
                    selection: text("test"),
                },
                "integration-cli".to_string(),
            ),
            "test-integration" => (JobKind::Integration, "integration".to_string()),
            v => {
                let check = v.strip_prefix("validate-")?.to_string();
                (
                    JobKind::Validate {
                        check: check.clone(),
                    },
                    format!("validate/{check}"),
                )
            }
        };
        let id = match (&kind, mode.is_empty()) {
            (JobKind::Validate { .. } | JobKind::IntegrationCli { .. }, _) | (_, true) => base_id,
            _ => format!("{base_id}/{mode}"),
        };
        let own = display_name(key, job, combo, &ctx);
        let name = match &self.caller {
            Some(c) => format!("{c} / {own}"),
            None => own,
        };
        Some(CiJob {
            id,
            kind,
            storage: self.inputs.get("storage").map(as_text),
            arch: self
                .inputs
                .get("arch")
                .map(as_text)
                .unwrap_or_else(|| "amd64".into()),
            mode,
            names: vec![name],
            env: kept,
            make,
            file: self.file.clone(),
        })
    }
}

/// A step's `env:`, evaluated (`None`: a value that cannot be).
fn step_env(step: &Value, ctx: &dyn Fn(&str) -> Option<Value>) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (k, v) in entries(&step["env"]) {
        out.push((k.clone(), as_text(&eval_value(v, ctx)?)));
    }
    Some(out)
}

/// `$NAME` and `${NAME}` replaced from the step's `env:` (`make "validate-${SCRIPT}"`).
fn expand_vars(run: &str, env: &[(String, String)]) -> String {
    let mut out = run.to_string();
    for (k, v) in env {
        out = out
            .replace(&format!("${{{k}}}"), v)
            .replace(&format!("${k}"), v);
    }
    out
}

fn wanted(arg: &str) -> bool {
    TARGETS.contains(&arg) || arg.starts_with("validate-")
}

/// `a/./b` and `a/b/` as `a/b`.
fn normal(p: &Utf8Path) -> Utf8PathBuf {
    p.components().filter(|c| c.as_str() != ".").collect()
}
