//! Every bad input a user can give, as a table: the exit code, a phrase the message must hold,
//! no panic, no backtrace, and a short message (clap's usage errors aside). None needs a daemon:
//! the endpoint is a socket that does not exist, so a case that got past its check would fail
//! with the "cannot reach the Docker daemon" line instead of its own.

use std::process::Command;

use anyhow::{ensure, Result};
use camino::{Utf8Path, Utf8PathBuf};
use tests::{copy_tree, fixture_fork, text, Scratch, Steps, Xtask, NO_DAEMON};

/// The rows of [`cases`]: all of them must run, each once (a row added or removed changes this).
const CASES: usize = 75;

/// One bad input: the arguments (`{fork}` stands for the case's fork), its environment, how its
/// fork is prepared, the exit code and a phrase of the message.
struct Case {
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    setup: Setup,
    code: i32,
    needle: &'static str,
}

#[derive(Clone, Copy)]
enum Setup {
    /// A copy of the E4 fixture fork.
    E4,
    /// A copy of the E4 fixture, then `f(fork)`.
    E4With(fn(&Utf8Path)),
    /// An empty directory.
    Empty,
    /// A copy of the E1 fixture, then `f(fork)`.
    E1With(fn(&Utf8Path)),
}

fn write(fork: &Utf8Path, rel: &str, content: &[u8]) {
    let p = fork.join(rel);
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(p, content).unwrap();
}

/// v26.1.5's real workflow files (hack-compat's fixture) into the fork.
fn workflows(fork: &Utf8Path) {
    tests::add_ci_workflows(fork, "v26.1.5").unwrap();
}

fn git_init(fork: &Utf8Path) {
    let st = Command::new("git")
        .args(["init", "-q"])
        .current_dir(fork)
        .status()
        .unwrap();
    assert!(st.success());
}

const fn case(
    name: &'static str,
    args: &'static [&'static str],
    code: i32,
    needle: &'static str,
) -> Case {
    Case {
        name,
        args,
        env: &[],
        setup: Setup::E4,
        code,
        needle,
    }
}

const fn with_env(mut c: Case, env: &'static [(&'static str, &'static str)]) -> Case {
    c.env = env;
    c
}

const fn with_setup(mut c: Case, setup: Setup) -> Case {
    c.setup = setup;
    c
}

const BIN: &[&str] = &[
    "--fork",
    "{fork}",
    "binary",
    "--dry-run",
    "--commit",
    "abc1234",
];

#[rustfmt::skip] // one case a line reads as the table it is
fn cases() -> Vec<Case> {
    vec![
        // The command line itself (clap: exit 2, with usage).
        case("unknown task", &["frobnicate"], 2, "unrecognized subcommand"),
        case("unknown flag", &["binary", "--frob"], 2, "unexpected argument '--frob'"),
        case("bad colour", &["--color", "pink", "binary"], 2, "invalid value 'pink'"),
        case("quiet and verbose", &["-q", "-v", "binary"], 2, "cannot be used with"),
        case("completions without shell", &["completions"], 2, "<SHELL>"),
        case("completions for an unknown shell", &["completions", "tcsh"], 2, "invalid value 'tcsh'"),
        case("smoke timeout not a number", &["smoke", "--timeout", "soon"], 2, "invalid value 'soon'"),
        case("smoke timeout negative", &["smoke", "--timeout", "-1"], 2, "unexpected argument"),
        case("hooks without action", &["hooks"], 2, "Usage"),
        case("hooks unknown action", &["hooks", "delete"], 2, "unrecognized subcommand"),
        case("image unknown flag", &["image", "--rebuid"], 2, "unexpected argument"),
        case("fork without value", &["binary", "--fork"], 2, "a value is required"),
        case("image after a task that takes none", &["down", "--image", "x"], 2, "unexpected argument '--image'"),
        with_env(case("quiet and verbose from cargo's variables", &["binary", "--dry-run"], 2, "cannot be used together"),
            &[("CARGO_TERM_QUIET", "true"), ("CARGO_TERM_VERBOSE", "true")]),
        // Which fork.
        case("fork does not exist", &["--fork", "/nonexistent/moby", "binary", "--dry-run"], 1, "is not a directory"),
        case("fork is a file", &["--fork", "/etc/hostname", "binary", "--dry-run"], 1, "is not a directory"),
        with_setup(case("fork is an empty directory", BIN, 1, "is not a moby checkout"), Setup::Empty),
        with_setup(case("Debian source layout", BIN, 1, "engine"), Setup::E4With(|f| {
            std::fs::rename(f.join("hack"), f.join("hack.moved")).unwrap();
            std::fs::create_dir_all(f.join("engine")).unwrap();
            std::fs::rename(f.join("hack.moved"), f.join("engine/hack")).unwrap();
            std::fs::copy(f.join("Makefile"), f.join("engine/Makefile")).unwrap();
        })),
        with_setup(case("empty Makefile", BIN, 1, "Makefile"), Setup::E4With(|f| write(f, "Makefile", b"\n"))),
        with_setup(case("Makefile without DOCKER_ENVS", BIN, 1, "DOCKER_ENVS"),
            Setup::E4With(|f| write(f, "Makefile", b"all:\n\techo hi\n"))),
        with_setup(case("hack/make.sh without a commit rule", BIN, 1, "hack/make.sh"),
            Setup::E4With(|f| write(f, "hack/make.sh", b"#!/bin/sh\necho no rule\n"))),
        with_setup(case("no hack/make.sh", BIN, 1, "is not a moby checkout"),
            Setup::E4With(|f| std::fs::remove_file(f.join("hack/make.sh")).unwrap())),
        with_setup(case("no hack/make directory", BIN, 1, "hack/make"),
            Setup::E4With(|f| std::fs::remove_dir_all(f.join("hack/make")).unwrap())),
        with_setup(case("17.04 fork without VERSION", BIN, 1, "VERSION"),
            Setup::E1With(|f| std::fs::remove_file(f.join("VERSION")).unwrap())),
        // Which commit.
        case("no .git and no commit", &["--fork", "{fork}", "binary", "--dry-run"], 1, ".git directory missing"),
        case("commit with a space", &["--fork", "{fork}", "binary", "--dry-run", "--commit", "abc 123"], 1, "not a commit hash"),
        case("commit with a semicolon", &["--fork", "{fork}", "binary", "--dry-run", "--commit", "abc;rm -rf /"], 1, "not a commit hash"),
        case("commit with a quote", &["--fork", "{fork}", "binary", "--dry-run", "--commit", "ab'c"], 1, "not a commit hash"),
        case("commit with a double quote", &["--fork", "{fork}", "binary", "--dry-run", "--commit", "ab\"c"], 1, "not a commit hash"),
        case("commit with a newline", &["--fork", "{fork}", "binary", "--dry-run", "--commit", "abc\nversion=evil"], 1, "not a commit hash"),
        case("commit with a substitution", &["--fork", "{fork}", "binary", "--dry-run", "--commit", "$(id)"], 1, "not a commit hash"),
        case("commit too long", &["--fork", "{fork}", "binary", "--dry-run", "--commit", "0123456789012345678901234567890123456789012345678901234567890123456789"], 1, "not a commit hash"),
        with_env(case("DOCKER_GITCOMMIT with a newline", &["--fork", "{fork}", "binary", "--dry-run"], 1, "from $DOCKER_GITCOMMIT"),
            &[("DOCKER_GITCOMMIT", "abc\nversion=evil")]),
        with_env(case("DOCKER_GITCOMMIT with a space", &["--fork", "{fork}", "smoke"], 1, "not a commit hash"),
            &[("DOCKER_GITCOMMIT", "a b")]),
        case("commit checked for install too", &["--fork", "{fork}", "install", "--commit", "a;b"], 1, "not a commit hash"),
        case("commit checked for smoke too", &["--fork", "{fork}", "smoke", "--commit", "a b"], 1, "not a commit hash"),
        with_setup(case("git repository with no commit", &["--fork", "{fork}", "binary", "--dry-run"], 1, "no commit checked out"),
            Setup::E4With(git_init)),
        // Which image.
        case("empty --image", &["--fork", "{fork}", "--image", "", "binary", "--dry-run", "--commit", "abc"], 1, "--image is empty"),
        case("blank --image", &["--fork", "{fork}", "--image", "  ", "binary", "--dry-run", "--commit", "abc"], 1, "--image is empty"),
        with_setup(case("config not UTF-8", BIN, 1, "not UTF-8"),
            Setup::E4With(|f| write(f, ".moby-xtask.toml", b"[image]\nref = \"\xff\xfe\"\n"))),
        with_setup(case("config with an empty ref", BIN, 1, "is empty"),
            Setup::E4With(|f| write(f, ".moby-xtask.toml", b"[image]\nref = \"\"\n"))),
        with_setup(case("config with a misspelt section", BIN, 1, "unknown section `[imgae]`"),
            Setup::E4With(|f| write(f, ".moby-xtask.toml", b"[imgae]\nref = \"x\"\n"))),
        with_setup(case("config with an unknown key", BIN, 1, "unknown key `reference`"),
            Setup::E4With(|f| write(f, ".moby-xtask.toml", b"[image]\nreference = \"x\"\n"))),
        with_setup(case("config with an unquoted value", BIN, 1, "quoted string"),
            Setup::E4With(|f| write(f, ".moby-xtask.toml", b"[image]\nref = docker-dev\n"))),
        with_setup(case("config key outside a section", BIN, 1, "outside any section"),
            Setup::E4With(|f| write(f, ".moby-xtask.toml", b"ref = \"x\"\n"))),
        with_setup(case("config line that is not key = value", BIN, 1, "expected `key = \"value\"`"),
            Setup::E4With(|f| write(f, ".moby-xtask.toml", b"[image]\nref\n"))),
        with_setup(case("config is a directory", BIN, 1, ".moby-xtask.toml"),
            Setup::E4With(|f| std::fs::create_dir_all(f.join(".moby-xtask.toml")).unwrap())),
        // Which daemon.
        case("no daemon at the socket", &["--fork", "{fork}", "binary", "--commit", "abc"], 1, NO_DAEMON.1),
        with_env(case("refused tcp endpoint", &["--fork", "{fork}", "binary", "--commit", "abc"], 1, "tcp://127.0.0.1:1"),
            &[("DOCKER_HOST", "tcp://127.0.0.1:1")]),
        with_env(case("unknown endpoint scheme", &["--fork", "{fork}", "binary", "--commit", "abc"], 1, "scheme this tool does not know"),
            &[("DOCKER_HOST", "gopher://example")]),
        with_env(case("ssh endpoint, unknown host", &["--fork", "{fork}", "binary", "--commit", "abc"], 1, "ssh: Could not resolve hostname build-box"),
            &[("DOCKER_HOST", "ssh://me@build-box")]),
        with_env(case("ssh endpoint with a path", &["--fork", "{fork}", "binary", "--commit", "abc"], 1, "an ssh endpoint has no path"),
            &[("DOCKER_HOST", "ssh://me@build-box/var/run/docker.sock")]),
        with_env(case("TLS files missing", &["--fork", "{fork}", "binary", "--commit", "abc"], 1, "/nonexistent/certs/ca.pem is missing"),
            &[("DOCKER_HOST", "tcp://127.0.0.1:2376"), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", "/nonexistent/certs")]),
        with_env(case("TLS without verification", &["--fork", "{fork}", "binary", "--commit", "abc"], 1, "not supported"),
            &[("DOCKER_HOST", "tcp://127.0.0.1:2376"), ("DOCKER_TLS", "1"), ("DOCKER_CERT_PATH", "/nonexistent/certs")]),
        with_env(case("unknown docker context", &["--fork", "{fork}", "binary", "--commit", "abc"], 1, "docker context `nosuch` not found"),
            &[("DOCKER_HOST", ""), ("DOCKER_CONTEXT", "nosuch"), ("DOCKER_CONFIG", "/nonexistent/docker-config")]),
        case("no daemon for shell", &["--fork", "{fork}", "shell", "--commit", "abc", "--", "true"], 1, NO_DAEMON.1),
        case("no daemon for install", &["--fork", "{fork}", "install", "--build", "--commit", "abc"], 1, NO_DAEMON.1),
        case("no daemon for smoke", &["--fork", "{fork}", "smoke", "--commit", "abc"], 1, NO_DAEMON.1),
        case("no daemon for image", &["--fork", "{fork}", "image"], 1, NO_DAEMON.1),
        case("no daemon for down", &["--fork", "{fork}", "down"], 1, NO_DAEMON.1),
        // What to build and install.
        case("unknown bundle", &["--fork", "{fork}", "binary", "--dry-run", "--commit", "abc", "bogus"], 1, "unknown bundle `bogus`"),
        case("bundle as a path", &["--fork", "{fork}", "binary", "--dry-run", "--commit", "abc", "../../bin/sh"], 1, "unknown bundle"),
        case("helper script as a bundle", &["--fork", "{fork}", "binary", "--dry-run", "--commit", "abc", ".binary"], 1, "unknown bundle `.binary`"),
        case("install with nothing built", &["--fork", "{fork}", "install", "--commit", "abc"], 1, "no dockerd built"),
        case("unknown validate check", &["--fork", "{fork}", "validate", "lint-all"], 1, "unknown check `lint-all`: this fork has dco, default, pkg-imports"),
        with_setup(case("validate on a fork without checks", &["--fork", "{fork}", "validate"], 1, "has no hack/validate/ checks"),
            Setup::E1With(|_| {})),
        // Hooks and adopt need git.
        case("hooks without git", &["--fork", "{fork}", "hooks", "install"], 1, "is not a git repository"),
        case("adopt without git", &["--fork", "{fork}", "adopt"], 1, "is not a git repository"),
        with_setup(case("hook path is a directory", &["--fork", "{fork}", "hooks", "install"], 1, "is not a regular file"),
            Setup::E4With(|f| { git_init(f); std::fs::create_dir_all(f.join(".git/hooks/pre-commit")).unwrap(); })),
        with_setup(case("uninstall a foreign hook", &["--fork", "{fork}", "hooks", "uninstall"], 1, "left alone"),
            Setup::E4With(|f| { git_init(f); write(f, ".git/hooks/pre-commit", b"#!/bin/sh\nexit 0\n"); })),
        // The fork's CI: a job it does not define, a fork with no workflow, `--run` on a validate
        // job, a workflow that is not YAML.
        with_setup(case("ci: no such job", &["--fork", "{fork}", "ci", "run", "integration/nope"], 1, "no such job in this fork's CI"),
            Setup::E4With(workflows)),
        case("ci: no workflows", &["--fork", "{fork}", "ci", "run", "unit"], 1, "has no .github/workflows/test.yml"),
        with_setup(case("ci: --run on a validate job", &["--fork", "{fork}", "ci", "run", "validate/pkg-imports", "--run", "X"], 1, "no tests to narrow"),
            Setup::E4With(workflows)),
        with_setup(case("ci: a workflow that is not YAML", &["--fork", "{fork}", "ci", "list"], 1, "is not valid YAML"),
            Setup::E4With(|f| write(f, ".github/workflows/test.yml", b"jobs: [unclosed\n"))),
        // A directory that is no fork, nor inside one.
        case("fork inside a non-fork", &["--fork", "/usr/share", "binary", "--dry-run"], 1, "is not a moby checkout"),
    ]
}

fn prepare(s: &Scratch, setup: Setup) -> Utf8PathBuf {
    let fork = s.dir.join("fork");
    match setup {
        Setup::E4 => copy_tree(&fixture_fork("e4"), &fork).unwrap(),
        Setup::E4With(f) => {
            copy_tree(&fixture_fork("e4"), &fork).unwrap();
            f(&fork);
        }
        Setup::E1With(f) => {
            copy_tree(&fixture_fork("e1"), &fork).unwrap();
            f(&fork);
        }
        Setup::Empty => std::fs::create_dir_all(&fork).unwrap(),
    }
    fork
}

/// One case, run: what is wrong with how it was handled, if anything.
fn run(i: usize, c: &Case) -> Result<()> {
    let s = Scratch::new(&format!("bad-{i}"));
    let fork = prepare(&s, c.setup);
    let args: Vec<String> = c
        .args
        .iter()
        .map(|a| a.replace("{fork}", fork.as_str()))
        .collect();
    let out = Xtask::new(&args)
        .no_daemon()
        .env("RUST_BACKTRACE", "1")
        .envs(c.env)
        .output();
    let err = text(&out.stderr);
    let mut wrong = Vec::new();
    if out.status.code() != Some(c.code) {
        wrong.push(format!("exit {:?}, expected {}", out.status.code(), c.code));
    }
    if !err.contains(c.needle) {
        wrong.push(format!("stderr lacks {:?}", c.needle));
    }
    if err.contains("panicked") || err.contains("stack backtrace") {
        wrong.push("panicked".to_string());
    }
    // Our own errors are a line or two; clap's usage errors (exit 2) carry usage lines.
    if c.code == 1 && err.lines().count() > 3 {
        wrong.push(format!("{} lines of stderr", err.lines().count()));
    }
    ensure!(wrong.is_empty(), "{}\n  stderr: {err}", wrong.join("; "));
    Ok(())
}

#[test]
fn every_bad_input_is_one_clear_error() {
    let cases = cases();
    assert_eq!(cases.len(), CASES, "the table has {} rows", cases.len());
    let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "two rows share a name");
    let mut steps = Steps::new("bad inputs");
    for (i, c) in cases.iter().enumerate() {
        steps.step(c.name, || run(i, c));
    }
    // Each row is a step of its own: finish fails the test on any of them, listing them all.
    steps.finish();
    println!("{} bad inputs: all one clear error, 0 panics", cases.len());
}
