//! The command line as plain types: what each task takes. Each task module adds
//! `impl flags::Task { async fn run(self, cx: &Context) }`; `main` parses and dispatches.

use camino::Utf8PathBuf;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

mod ci;
mod testing;
pub use ci::{CiCmd, CiList, CiRun, Storage};
pub use testing::{KeepDaemon, TestIntegration, TestKind, TestUnit};

/// Every help page starts with how to call it, as `cargo xtask …`.
const HELP: &str = "{usage-heading} {usage}\n\n{about-with-newline}\n{all-args}{after-help}";

/// The command line, every subcommand's help in the same shape.
pub fn command() -> clap::Command {
    fn shape(mut cmd: clap::Command) -> clap::Command {
        let names: Vec<String> = cmd
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect();
        for n in names {
            cmd = cmd.mut_subcommand(n, shape);
        }
        cmd.help_template(HELP)
    }
    shape(Cli::command())
}

/// Parse the process's arguments (clap prints usage errors and exits 2 itself).
pub fn parse() -> Cli {
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Drive a moby fork's dev container: build, install and smoke-test dockerd.
#[derive(Parser, Debug)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    version,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub output: OutputOpts,
    #[command(flatten)]
    pub engine: EngineOpts,
    #[command(flatten)]
    pub fork: ForkOpts,
    #[command(subcommand)]
    pub task: Option<Task>,
}

/// Which Docker engine, as the docker CLI's own global option says it.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Engine options")]
pub struct EngineOpts {
    /// The docker context to use (overrides DOCKER_HOST and DOCKER_CONTEXT, as `docker --context`)
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
}

/// How the tool speaks, like cargo: before or after the task.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Output options")]
pub struct OutputOpts {
    /// Only errors and results [env: CARGO_TERM_QUIET]
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also each Engine API call and its time [env: CARGO_TERM_VERBOSE]
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Colour: auto (on a terminal, unless NO_COLOR), always, never [env: CARGO_TERM_COLOR]
    #[arg(long, global = true, value_name = "WHEN")]
    pub color: Option<ColorChoice>,
    /// One JSON object per stdout line for every step and result; human text on stderr
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Which fork, which image, which commit, given before the task (each task also takes those it
/// uses after its name).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Fork options")]
pub struct ForkOpts {
    #[command(flatten)]
    pub fork: ForkArg,
    #[command(flatten)]
    pub image: ImageArg,
    #[command(flatten)]
    pub commit: CommitArg,
}

#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Fork options")]
pub struct ForkArg {
    /// The moby checkout (any directory inside it) [default: the workspace root]
    #[arg(long, value_name = "PATH")]
    pub fork: Option<Utf8PathBuf>,
}

#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Fork options")]
pub struct ImageArg {
    /// Prebuilt dev image [default: $MOBY_XTASK_IMAGE, else `[image] ref` in .moby-xtask.toml, else the fork's own]
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Fork options")]
pub struct CommitArg {
    /// Commit to stamp as DOCKER_GITCOMMIT [default: $DOCKER_GITCOMMIT, else HEAD as the fork's hack/make.sh stamps it (`-unsupported` on a modified tree); `shell`: HEAD as `make shell` exports it]
    #[arg(long, value_name = "HASH")]
    pub commit: Option<String>,
}

/// The fork options in effect for a task: those after its name win over those before it. One
/// given before a task that does not use it is left aside (an alias may carry `--image` to every
/// task); after the task's name, clap refuses it.
pub fn fork_opts(before: ForkOpts, task: &Task) -> ForkOpts {
    let none = (None, None, None);
    let (fork, image, commit) = match task {
        Task::Shell(Shell { opts, .. })
        | Task::Binary(Binary { opts, .. })
        | Task::Install(Install { opts, .. })
        | Task::Smoke(Smoke { opts, .. })
        | Task::Validate(Validate { opts, .. })
        | Task::Run(Run { opts, .. })
        | Task::Test {
            kind: TestKind::Unit(TestUnit { opts, .. }),
        }
        | Task::Test {
            kind: TestKind::Integration(TestIntegration { opts, .. }),
        }
        | Task::Ci {
            cmd: CiCmd::List(CiList { opts }) | CiCmd::Run(CiRun { opts, .. }),
        } => (Some(&opts.fork), Some(&opts.image), Some(&opts.commit)),
        Task::Image(t) => (Some(&t.fork), Some(&t.image), None),
        Task::Clean(t) => (Some(&t.fork), Some(&t.image), None),
        Task::Doctor(t) => (Some(&t.fork), Some(&t.image), None),
        Task::Hooks {
            cmd: Hooks::Install { fork, .. } | Hooks::Uninstall { fork },
        } => (Some(fork), None, None),
        Task::Adopt(Adopt { fork }) | Task::Down(Down { fork, .. }) => (Some(fork), None, None),
        Task::Completions { .. } => none,
    };
    ForkOpts {
        fork: ForkArg {
            fork: fork.and_then(|f| f.fork.clone()).or(before.fork.fork),
        },
        image: ImageArg {
            image: image.and_then(|i| i.image.clone()).or(before.image.image),
        },
        commit: CommitArg {
            commit: commit
                .and_then(|c| c.commit.clone())
                .or(before.commit.commit),
        },
    }
}

#[derive(Subcommand, Debug)]
pub enum Task {
    /// Open bash (or run `-- CMD…`) in the fork's dev container, like `make BIND_DIR=. shell`
    Shell(Shell),
    /// Build dockerd in the dev container, like `hack/make.sh binary`
    Binary(Binary),
    /// Put the last build's binaries on the dev container's PATH, like `make install`
    Install(Install),
    /// Build if needed, install, start the new dockerd, check `docker version`, run a container
    Smoke(Smoke),
    /// Install or remove a git pre-commit hook that runs `cargo xtask smoke`
    Hooks {
        #[command(subcommand)]
        cmd: Hooks,
    },
    /// Build the dev image from the fork's Dockerfile if it changed, or get the prebuilt one
    Image(Image),
    /// The last build's dockerd, like `make run` and with its flags, reachable from the host through
    /// a socket only the fork's owner can use; never `make run`'s tcp://0.0.0.0:2375 (unauthenticated,
    /// from a privileged container: root on this host for every local user)
    Run(Run),
    /// Run the fork's tests in the dev container, with a summary of what failed
    Test {
        #[command(subcommand)]
        kind: TestKind,
    },
    /// Run the fork's hack/validate checks (`default`, or the named ones) in the dev container
    Validate(Validate),
    /// The fork's own CI jobs, as its `.github/workflows` define them: list them, or run them here
    Ci {
        #[command(subcommand)]
        cmd: CiCmd,
    },
    /// Check the set-up a contributor needs: daemon, privileges, disk, dev image, git identity, remotes
    Doctor(Doctor),
    /// Remove the fork's bundles/ and dev container (`--all`: also its cache volumes and dev image)
    Clean(Clean),
    /// Keep cargo's target/ out of `git status` (.git/info/exclude), touching no tracked file
    Adopt(Adopt),
    /// Stop and remove the fork's dev container (named cache volumes stay)
    Down(Down),
    /// Print a shell completion script: `cargo xtask completions bash > ~/.local/share/bash-completion/completions/cargo-xtask`
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

impl Task {
    /// The name in `--json` events.
    pub fn name(&self) -> &'static str {
        match self {
            Task::Shell(_) => "shell",
            Task::Binary(_) => "binary",
            Task::Install(_) => "install",
            Task::Smoke(_) => "smoke",
            Task::Hooks { .. } => "hooks",
            Task::Image(_) => "image",
            Task::Run(_) => "run",
            Task::Test { .. } => "test",
            Task::Validate(_) => "validate",
            Task::Ci { .. } => "ci",
            Task::Doctor(_) => "doctor",
            Task::Clean(_) => "clean",
            Task::Adopt(_) => "adopt",
            Task::Down(_) => "down",
            Task::Completions { .. } => "completions",
        }
    }

    /// Whether the task runs until it is stopped: `run` (its daemon serves until Ctrl-C) and
    /// `test unit --watch`, `test integration --watch`.
    pub fn until_stopped(&self) -> bool {
        matches!(
            self,
            Task::Run(_)
                | Task::Test {
                    kind: TestKind::Unit(TestUnit { watch: true, .. })
                }
                | Task::Test {
                    kind: TestKind::Integration(TestIntegration { watch: true, .. })
                }
        )
    }
}

#[derive(Args, Debug)]
pub struct Shell {
    /// Use a one-shot container, removed on exit, instead of the fork's reusable dev container
    #[arg(long)]
    pub rm: bool,
    /// The command to run instead of bash
    #[arg(last = true, value_name = "CMD")]
    pub cmd: Vec<String>,
    #[command(flatten)]
    pub opts: ForkOpts,
}

#[derive(Args, Debug)]
pub struct Binary {
    /// Bundles to make [default: binary]; checked against the fork's hack/make/
    #[arg(value_name = "BUNDLE")]
    pub bundles: Vec<String>,
    /// Print the equivalent `docker run …` line and run nothing (needs no daemon)
    #[arg(long)]
    pub dry_run: bool,
    /// Use a one-shot container, removed afterwards, instead of the fork's reusable dev container
    #[arg(long)]
    pub rm: bool,
    /// Build even when nothing the build reads changed since the last one (else: `Fresh`)
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub opts: ForkOpts,
}

#[derive(Args, Debug)]
pub struct Install {
    /// Run `cargo xtask binary` first
    #[arg(long)]
    pub build: bool,
    #[command(flatten)]
    pub opts: ForkOpts,
}

#[derive(Args, Debug)]
pub struct Smoke {
    /// Do not build, even when the sources changed since the last build
    #[arg(long)]
    pub no_build: bool,
    /// Leave the daemon running (use it with `cargo xtask shell`)
    #[arg(long)]
    pub keep_running: bool,
    /// Seconds to wait for the daemon to answer
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout: u64,
    #[command(flatten)]
    pub opts: ForkOpts,
}

#[derive(Subcommand, Debug)]
pub enum Hooks {
    /// Write the git pre-commit hook that runs `cargo xtask smoke` on the fork being committed to
    Install {
        /// Replace a pre-commit hook that this tool did not write (a backup is kept)
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        fork: ForkArg,
    },
    /// Remove the pre-commit hook, if this tool wrote it
    Uninstall {
        #[command(flatten)]
        fork: ForkArg,
    },
}

#[derive(Args, Debug)]
pub struct Image {
    /// Build even when the image is current
    #[arg(long)]
    pub rebuild: bool,
    #[command(flatten)]
    pub fork: ForkArg,
    #[command(flatten)]
    pub image: ImageArg,
}

#[derive(Args, Debug)]
pub struct Adopt {
    #[command(flatten)]
    pub fork: ForkArg,
}

#[derive(Args, Debug)]
pub struct Down {
    /// Also when a command runs in the container (a `shell`, a `run` daemon, a build): it ends
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub fork: ForkArg,
}

#[derive(Args, Debug)]
pub struct Validate {
    /// Checks from the fork's hack/validate/ [default: default]
    #[arg(value_name = "CHECK")]
    pub checks: Vec<String>,
    #[command(flatten)]
    pub opts: ForkOpts,
}

#[derive(Args, Debug)]
pub struct Clean {
    /// Also the fork's Go cache volumes and its dev image (when no other container uses them)
    #[arg(long)]
    pub all: bool,
    /// Also when a command runs in the fork's dev container (a `shell`, a `run` daemon): it ends
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub fork: ForkArg,
    #[command(flatten)]
    pub image: ImageArg,
}

#[derive(Args, Debug)]
pub struct Doctor {
    #[command(flatten)]
    pub fork: ForkArg,
    #[command(flatten)]
    pub image: ImageArg,
}

#[derive(Args, Debug)]
pub struct Run {
    /// Run `cargo xtask binary` first
    #[arg(long)]
    pub build: bool,
    /// Keep it running: on every change to the fork's source, build again, install, and restart
    /// dockerd on the same sockets ("ready in X s"); a failed build leaves the running one serving
    #[arg(long)]
    pub watch: bool,
    #[command(flatten)]
    pub opts: ForkOpts,
}
