//! `cargo xtask test unit | integration`: the test tasks' command lines.

use clap::{Args, Subcommand};

use super::ForkOpts;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepDaemon {
    Keep,
    Stop,
}

#[derive(Subcommand, Debug)]
pub enum TestKind {
    /// The unit tests, as `make test-unit` runs them (`hack/test/unit`, or `hack/make.sh test-unit`)
    Unit(TestUnit),
    /// The integration tests, as `make test-integration` runs them (`hack/make.sh dynbinary
    /// test-integration`, or `… test-integration-cli` up to 17.06), against a freshly built daemon
    Integration(TestIntegration),
}

#[derive(Args, Debug)]
pub struct TestIntegration {
    /// Only the tests matching this regular expression; sets TEST_FILTER (TESTFLAGS `-check.f`
    /// up to 17.06)
    #[arg(long, value_name = "REGEX")]
    pub run: Option<String>,
    /// Integration test directories (`integration/system`) [default: those the filter selects, else
    /// all]; sets TEST_INTEGRATION_DIR
    #[arg(value_name = "DIR")]
    pub dirs: Vec<String>,
    /// Split the suites over these engines and merge the results: docker context names,
    /// DOCKER_HOST URLs (`ssh://me@box`, `tcp://box:2376`), `local` for the default engine. Each
    /// gets its share (by the last run's times, else by size), builds once and runs it; the
    /// bundles of an engine elsewhere come back to bundles/.engines/<NAME>/
    #[arg(long, value_name = "NAME,…", value_delimiter = ',')]
    pub engines: Vec<String>,
    #[command(flatten)]
    pub reruns: Reruns,
    /// Keep watching: a change to a `_test.go` file under integration/ or integration-cli/ reruns
    /// that package's tests (as narrowed by --run) against the kept test daemon; any other Go
    /// change rebuilds, replaces the kept daemon, and reruns the selection
    #[arg(long)]
    pub watch: bool,
    /// Keep the test daemon running after the run, started as the fork's
    /// `.integration-daemon-start` would; later runs of the same build reuse it
    /// (`DOCKER_TEST_HOST`); `--keep-daemon=stop` stops it
    #[arg(long, value_enum, value_name = "stop", num_args = 0..=1, default_missing_value = "keep")]
    pub keep_daemon: Option<KeepDaemon>,
    /// One engine's share of a split run (the pieces `--engines` gave it); set by `--engines`
    #[arg(long, hide = true, value_delimiter = ',')]
    pub shard_units: Vec<String>,
    /// The engine's name in a split run; set by `--engines`
    #[arg(long, hide = true)]
    pub shard_name: Option<String>,
    #[command(flatten)]
    pub opts: ForkOpts,
}

#[derive(Args, Debug)]
pub struct TestUnit {
    /// Packages to test, as `go test` names them (`./pkg/stringid`) [default: all]; sets TESTDIRS
    #[arg(value_name = "PKG")]
    pub pkgs: Vec<String>,
    /// Only the tests matching this regular expression (`go test -run`); goes into TESTFLAGS
    #[arg(long, value_name = "REGEX")]
    pub run: Option<String>,
    /// Keep watching: rerun the tests of the packages whose files change (within PKG… if given)
    #[arg(long)]
    pub watch: bool,
    #[command(flatten)]
    pub reruns: Reruns,
    /// More `go test` flags, after `--`; go into TESTFLAGS
    #[arg(last = true, value_name = "GO_TEST_ARGS")]
    pub go_args: Vec<String>,
    #[command(flatten)]
    pub opts: ForkOpts,
}

/// `--rerun-fails`, `--allow-flaky`, `--count`: of `test unit` and `test integration` alike.
#[derive(Args, Debug)]
pub struct Reruns {
    /// Run the tests that failed again, alone, up to N times [N: 2]; a test that passes only on
    /// a rerun is reported flaky and fails the command unless --allow-flaky
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "2")]
    pub rerun_fails: Option<u32>,
    /// With --rerun-fails: tests that passed on a rerun do not fail the command
    #[arg(long, requires = "rerun_fails")]
    pub allow_flaky: bool,
    /// Run each test N times (`-test.count=N`) and report, per test, how many runs failed
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub count: Option<u32>,
}
