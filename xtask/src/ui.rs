//! One voice for everything the tool says, in cargo's manner: status lines as a verb and a subject
//! on stderr (`    Building hack/make.sh binary`), `warning:` / `error:` / `note:`, colour on a
//! terminal only, `--quiet` and `--verbose`; results on stdout. With `--json`, stdout carries one
//! JSON object per line for every step and result, and all human text goes to stderr.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::{json, Value};

use crate::flags::{ColorChoice, OutputOpts};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Cheap to copy: every part of the tool that prints holds one.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub verbosity: Verbosity,
    color: bool,
    pub json: bool,
    /// The task, for `--json` events.
    pub task: &'static str,
    /// The task holds the fork until it is stopped (`run`, a `--watch`): a command that would
    /// wait for it refuses instead (see `dev/lock.rs`).
    pub until_stopped: bool,
}

impl Ui {
    /// From the flags, else cargo's variables (`CARGO_TERM_QUIET`, `CARGO_TERM_VERBOSE`,
    /// `CARGO_TERM_COLOR`), and `NO_COLOR`.
    pub fn new(opts: &OutputOpts, task: &'static str) -> Result<Ui> {
        let env_true = |k: &str| std::env::var(k).is_ok_and(|v| v == "true" || v == "1");
        let quiet = opts.quiet || (!opts.verbose && env_true("CARGO_TERM_QUIET"));
        let verbose = opts.verbose || (!opts.quiet && env_true("CARGO_TERM_VERBOSE"));
        if quiet && verbose {
            bail!("--quiet and --verbose (or CARGO_TERM_QUIET and CARGO_TERM_VERBOSE) cannot be used together");
        }
        let choice = match opts.color {
            Some(c) => c,
            None => match std::env::var("CARGO_TERM_COLOR").ok().as_deref() {
                Some("always") => ColorChoice::Always,
                Some("never") => ColorChoice::Never,
                _ => ColorChoice::Auto,
            },
        };
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stderr().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        Ok(Ui {
            verbosity: if quiet {
                Verbosity::Quiet
            } else if verbose {
                Verbosity::Verbose
            } else {
                Verbosity::Normal
            },
            color,
            json: opts.json,
            task,
            until_stopped: false,
        })
    }

    /// Plain defaults, for the paths that run before the flags are known.
    pub fn plain() -> Ui {
        Ui {
            verbosity: Verbosity::Normal,
            color: false,
            json: false,
            task: "xtask",
            until_stopped: false,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// `    Building hack/make.sh binary`: a step starting or done (hidden by `--quiet`).
    pub fn status(&self, verb: &str, subject: impl AsRef<str>) {
        if self.verbosity >= Verbosity::Normal {
            let v = self.paint("1;32", &format!("{verb:>12}"));
            eprintln!("{v} {}", subject.as_ref());
        }
    }

    /// Detail only `--verbose` shows (Engine API calls and their time, scripts run).
    pub fn verbose(&self, what: &str, subject: impl AsRef<str>) {
        if self.verbosity >= Verbosity::Verbose {
            let v = self.paint("2", &format!("{what:>12}"));
            eprintln!("{v} {}", subject.as_ref());
        }
    }

    /// An Engine API call and how long it took (`--verbose`).
    pub fn api(&self, call: &str, took: Duration) {
        self.verbose(
            "Engine",
            format!("{call} ({:.1} ms)", took.as_secs_f64() * 1e3),
        );
    }

    pub fn note(&self, msg: impl AsRef<str>) {
        if self.verbosity >= Verbosity::Normal {
            eprintln!("{} {}", self.paint("1;36", "note:"), msg.as_ref());
        }
    }

    pub fn warn(&self, msg: impl AsRef<str>) {
        eprintln!("{} {}", self.paint("1;33", "warning:"), msg.as_ref());
        self.event(json!({"status": "warning", "message": msg.as_ref()}));
    }

    pub fn error(&self, msg: impl AsRef<str>) {
        eprintln!("{} {}", self.paint("1;31", "error:"), msg.as_ref());
        self.event(json!({"status": "error", "message": msg.as_ref()}));
    }

    /// A result line: stdout normally, stderr with `--json` (stdout is for JSON there).
    pub fn result(&self, line: impl AsRef<str>) {
        if self.json {
            eprintln!("{}", line.as_ref());
        } else {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", line.as_ref());
        }
    }

    /// One JSON object on stdout (only with `--json`); `task` is added.
    pub fn event(&self, mut value: Value) {
        if !self.json {
            return;
        }
        if let Value::Object(map) = &mut value {
            map.insert("task".into(), Value::from(self.task));
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{value}");
        let _ = out.flush();
    }

    /// A step done: a status line and a `{"step", "status", "seconds"}` event.
    pub fn step(&self, verb: &str, step: &str, took: Duration, detail: &str) {
        let secs = took.as_secs_f64();
        let detail_txt = if detail.is_empty() {
            String::new()
        } else {
            format!(" ({detail})")
        };
        self.status(verb, format!("{step} in {secs:.2}s{detail_txt}"));
        self.event(json!({"step": step, "status": "ok", "seconds": secs, "detail": detail}));
    }

    /// Where the output of a command in the container goes: its stdout is ours, except with
    /// `--json` (then stderr, so that stdout stays JSON).
    pub fn container_stdout(&self) -> Box<dyn Write> {
        if self.json {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        }
    }

    /// A progress line for a wait: after a second, `{label} (Ns)` every second on a terminal
    /// (rewritten in place), every ten seconds otherwise; ended by dropping the guard.
    pub fn progress(&self, label: &str) -> Progress {
        if self.verbosity == Verbosity::Quiet {
            return Progress(None);
        }
        let label = label.to_string();
        let tty = std::io::stderr().is_terminal();
        let start = Instant::now();
        let handle = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let secs = start.elapsed().as_secs();
                if tty {
                    eprint!("\r\x1b[K{:>12} {label} ({secs}s)", "Waiting");
                } else if secs == 1 || secs.is_multiple_of(10) {
                    eprintln!("{:>12} {label} ({secs}s)", "Waiting");
                }
            }
        });
        Progress(Some((handle, tty, start)))
    }
}

/// Ends a progress line when dropped.
pub struct Progress(Option<(tokio::task::JoinHandle<()>, bool, Instant)>);

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some((h, tty, start)) = self.0.take() {
            h.abort();
            if tty && start.elapsed() >= Duration::from_secs(1) {
                eprint!("\r\x1b[K");
            }
        }
    }
}
