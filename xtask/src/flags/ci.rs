//! `cargo xtask ci list | run`: the fork's own CI jobs, as its workflows define them.

use clap::{Args, Subcommand, ValueEnum};

use super::ForkOpts;

#[derive(Subcommand, Debug)]
pub enum CiCmd {
    /// Every test job of the fork's CI for this machine's arch: the id to type, its storage and
    /// the name CI shows (`-v`: what it sets, what it runs here, or why it cannot)
    List(CiList),
    /// Run jobs as CI runs them, through `test integration`, `test unit` and `validate`, with
    /// each job's variables and selection; one summary line per job
    Run(CiRun),
}

#[derive(Args, Debug)]
pub struct CiList {
    #[command(flatten)]
    pub opts: ForkOpts,
}

#[derive(Args, Debug)]
pub struct CiRun {
    /// Jobs: ids from `ci list` (`integration/userns`, `integration-cli/3`), globs of ids
    /// (`integration/*`), or the name CI shows, as copied from a failed job's page
    #[arg(value_name = "JOB", required = true)]
    pub jobs: Vec<String>,
    /// The storage of the jobs that CI runs under both [default: the first the workflow lists]
    #[arg(long, value_enum)]
    pub storage: Option<Storage>,
    /// Only the tests matching this regular expression, within the job's own selection
    #[arg(long, value_name = "REGEX")]
    pub run: Option<String>,
    /// Print each job's command and variables, and run nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Deal the jobs out over these engines (by the last run's times, else one weight each) and
    /// merge their summaries: docker context names, DOCKER_HOST URLs, `local`
    #[arg(long, value_name = "NAME,…", value_delimiter = ',')]
    pub engines: Vec<String>,
    /// The engine's name in a split run; set by `--engines`
    #[arg(long, hide = true)]
    pub shard_name: Option<String>,
    #[command(flatten)]
    pub opts: ForkOpts,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    Graphdriver,
    Snapshotter,
}

impl Storage {
    pub fn name(self) -> &'static str {
        match self {
            Storage::Graphdriver => "graphdriver",
            Storage::Snapshotter => "snapshotter",
        }
    }
}
