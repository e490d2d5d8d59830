//! `cargo xtask`: the moby contributor loop as typed, checked subcommands.
//!
//! One binary, one module per task. The pure knowledge of what a fork is lives in `hack-compat`;
//! this crate is the CLI and the effects: git on the host, the Docker Engine API, the terminal.

mod adopt;
mod binary;
mod build_record;
mod commit;
mod config;
mod container;
mod daemon;
mod dev;
mod dev_spec;
mod docker;
mod down;
mod exec;
mod fork;
mod hooks;
mod image;
mod install;
mod shell;
mod smoke;
mod summary;
mod terminal;

use std::process::ExitCode;

use camino::Utf8PathBuf;
use clap::{Args, CommandFactory, Parser, Subcommand};

/// Drive a moby fork's dev container: build, install and smoke-test dockerd.
#[derive(Parser, Debug)]
#[command(name = "cargo xtask", version, disable_help_subcommand = true)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    task: Option<Task>,
}

/// Options every task accepts, before or after the task name.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The moby checkout to work on [default: the workspace root]
    #[arg(long, global = true, value_name = "PATH")]
    pub fork: Option<Utf8PathBuf>,
    /// Prebuilt dev image to use [default: $MOBY_XTASK_IMAGE, else `[image] ref` in .moby-xtask.toml, else the fork's own, built from its Dockerfile]
    #[arg(long, global = true, value_name = "REF")]
    pub image: Option<String>,
    /// Commit to stamp as DOCKER_GITCOMMIT [default: $DOCKER_GITCOMMIT, else HEAD as the fork's hack/make.sh stamps it]
    #[arg(long, global = true, value_name = "HASH")]
    pub commit: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Task {
    /// Open bash (or run `-- CMD…`) in the fork's dev container, like `make BIND_DIR=. shell`
    Shell(shell::ShellArgs),
    /// Build dockerd in the dev container, like `hack/make.sh binary`
    Binary(binary::BinaryArgs),
    /// Put the last build's binaries on the dev container's PATH, like `make install`
    Install(install::InstallArgs),
    /// Build if needed, install, start the new dockerd, check `docker version`, run a container
    Smoke(smoke::SmokeArgs),
    /// Install or remove a git pre-commit hook that runs `cargo xtask smoke`
    Hooks {
        #[command(subcommand)]
        cmd: hooks::HooksCmd,
    },
    /// Build the dev image from the fork's Dockerfile if it changed, or get the prebuilt one
    Image(image::ImageArgs),
    /// Add /target/ to the fork's .gitignore and .dockerignore
    Adopt,
    /// Stop and remove the fork's dev container (named cache volumes stay)
    Down,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(task) = cli.task else {
        // `cargo xtask` alone lists the tasks, and that is not an error.
        let _ = Cli::command().print_help();
        return ExitCode::SUCCESS;
    };
    let result = match task {
        Task::Shell(args) => shell::run(&cli.global, &args),
        Task::Binary(args) => binary::run(&cli.global, &args),
        Task::Install(args) => install::run(&cli.global, &args),
        Task::Smoke(args) => smoke::run(&cli.global, &args),
        Task::Hooks { cmd } => hooks::run(&cli.global, &cmd),
        Task::Image(args) => image::run(&cli.global, &args),
        Task::Adopt => adopt::run(&cli.global),
        Task::Down => down::run(&cli.global),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// A child's exit code as ours: 0–255 as is, anything else (unknown, -1) as 1.
pub fn exit_code(code: i64) -> u8 {
    u8::try_from(code).unwrap_or(1)
}

/// The workspace root: where `cargo xtask` was dropped in (the fork root, by default).
pub fn project_root() -> Utf8PathBuf {
    let manifest = Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Utf8PathBuf::from).unwrap_or(manifest)
}
