//! `cargo xtask`: the moby contributor loop as typed, checked subcommands.
//!
//! One binary, one module per task. `flags` holds the command line; `main` parses it, builds the
//! one runtime, the one signal owner and the context, and dispatches. The pure knowledge of what
//! a fork is lives in `hack-compat`; this crate is the CLI and the effects: git on the host, the
//! Docker Engine API, the terminal.

mod cancel;
mod config;
mod context;
mod dev;
mod engine;
mod fail;
mod flags;
mod fork;
mod ops;
mod private;
mod source;
mod split;
mod tasks;
mod terminal;
mod text;
mod ui;

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use serde_json::json;

use crate::cancel::{Cancel, Interrupted};
use crate::context::Context;
use crate::flags::Task;
use crate::ui::Ui;

fn main() -> ExitCode {
    let cli = flags::parse();
    let Some(task) = cli.task else {
        // `cargo xtask` alone lists the tasks, and that is not an error.
        let _ = flags::command().print_help();
        return ExitCode::SUCCESS;
    };
    let ui = match Ui::new(&cli.output, task.name()) {
        Ok(mut ui) => {
            ui.until_stopped = task.until_stopped();
            ui
        }
        Err(e) => {
            Ui::plain().error(format!("{e:#}"));
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
    {
        Ok(rt) => rt,
        Err(e) => {
            ui.error(format!("{e:#}"));
            return ExitCode::from(1);
        }
    };
    let started = std::time::Instant::now();
    let code = runtime.block_on(async {
        let cancel = match Cancel::install() {
            Ok(c) => c,
            Err(e) => {
                ui.error(format!("{e:#}"));
                return 1;
            }
        };
        let opts = flags::fork_opts(cli.fork, &task);
        let cx = Context::new(ui, cancel, opts, cli.engine.context);
        let result = tokio::select! {
            r = dispatch(task, &cx) => r,
            sig = watchdog(&cx) => Err(Interrupted(sig).into()),
        };
        // A signal that came during the last synchronous stretch is seen once the runtime runs.
        let _ = cx.cancel.check_now().await;
        finish(&cx, result)
    });
    ui.event(json!({"status": "finished", "exit_code": code,
        "seconds": started.elapsed().as_secs_f64()}));
    // A stdin pump (`shell`) may sit in a blocking read: do not wait for it.
    runtime.shutdown_background();
    ExitCode::from(code)
}

async fn dispatch(task: Task, cx: &Context) -> Result<u8> {
    match task {
        Task::Shell(t) => t.run(cx).await,
        Task::Binary(t) => t.run(cx).await,
        Task::Install(t) => t.run(cx).await,
        Task::Smoke(t) => t.run(cx).await,
        Task::Hooks { cmd } => cmd.run(cx).await,
        Task::Image(t) => t.run(cx).await,
        Task::Test {
            kind: flags::TestKind::Unit(t),
        } => t.run(cx).await,
        Task::Test {
            kind: flags::TestKind::Integration(t),
        } => t.run(cx).await,
        Task::Validate(t) => t.run(cx).await,
        Task::Ci { cmd } => cmd.run(cx).await,
        Task::Run(t) => t.run(cx).await,
        Task::Doctor(t) => t.run(cx).await,
        Task::Clean(t) => t.run(cx).await,
        Task::Adopt(t) => t.run(cx).await,
        Task::Down(t) => t.run(cx).await,
        Task::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut flags::command(), "cargo-xtask", &mut script);
            let script = String::from_utf8_lossy(&script);
            if cx.ui.json {
                cx.ui
                    .event(json!({"step": "completions", "status": "ok", "script": script}));
            } else {
                print!("{script}");
            }
            Ok(0)
        }
    }
}

/// After a signal, the task has [`cancel::CLEANUP`] (a split run: more, for its children) to stop what it started (its own waits are
/// bounded by the shorter limits); a second signal cuts it to a moment. Past that the tool exits
/// anyway: a call to a daemon that no longer answers must not keep it alive.
async fn watchdog(cx: &Context) -> cancel::Sig {
    let sig = cx.cancel.cancelled().await;
    let start = std::time::Instant::now();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if start.elapsed() >= cx.cancel.cleanup_limit() {
            cx.ui.warn(
                "the cleanup did not finish in time: something may still run in the dev container \
                 (`cargo xtask down` stops it)",
            );
            return sig;
        }
    }
}

/// The exit code, after saying what went wrong: 128 + n for a signal, 1 for an error.
fn finish(cx: &Context, result: Result<u8>) -> u8 {
    let interrupted = match &result {
        Err(e) => e.downcast_ref::<Interrupted>().copied(),
        Ok(_) => cx.cancel.signal().map(Interrupted),
    };
    if let Some(Interrupted(sig)) = interrupted {
        cx.ui.status("Interrupted", format!("by {}", sig.name()));
        cx.ui
            .event(json!({"status": "interrupted", "signal": sig.name()}));
        return sig.exit_code();
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            cx.ui.error(format!("{e:#}"));
            match e.downcast_ref::<ops::build::Failed>() {
                Some(failed) => context::exit_code(failed.code),
                None => 1,
            }
        }
    }
}
