//! The second terminal of the two-terminal matrix: while terminal A holds the fork's dev
//! container (an interactive `shell`, a `run` daemon), terminal B runs `shell`, `binary`, `smoke`
//! and `down`, each wanting another container (another `DOCKER_PORT`, another `--image`). Every
//! cell is printed; each must either work or refuse in one or two lines, and A must still be
//! alive after it (the caller's `alive` says how A is asked).

use anyhow::{bail, ensure, Context, Result};
use xshell::{cmd, Shell};

use super::command::{text, Xtask};
use super::moby::once;

/// What B does differently from A.
pub enum Differs<'a> {
    Env(&'a str, &'a str),
    Image(&'a str),
}

impl Differs<'_> {
    fn describe(&self) -> String {
        match self {
            Differs::Env(k, v) => format!("{k}={v}"),
            Differs::Image(i) => format!("--image {i}"),
        }
    }
}

/// `base` with one label more: another image ID, the same files (made once, locally).
pub fn other_image(base: &str) -> Result<String> {
    let tag = format!("{base}-other");
    once(&format!("other {tag}"), || {
        let sh = Shell::new()?;
        let ctr = cmd!(sh, "docker create {base} true").read()?;
        let made = cmd!(
            sh,
            "docker commit --change 'LABEL moby-xtask.test=other' {ctr} {tag}"
        )
        .quiet()
        .run();
        cmd!(sh, "docker rm {ctr}").quiet().ignore_stdout().run()?;
        made.context("docker commit")?;
        Ok(tag.clone())
    })
}

/// B's commands of the matrix, each run with `args` (`--fork …`) before it.
const COMMANDS: [(&str, &[&str]); 4] = [
    ("shell", &["shell", "--", "echo", "B-ran"]),
    ("binary", &["binary"]),
    ("smoke", &["smoke"]),
    ("down", &["down"]),
];

/// Every cell of B against A: `fork_args` are `--fork <dir>` and `--commit`, `image` A's dev
/// image, `env` B's environment (HOME), `alive` asks A whether it still runs. The cells as lines.
pub fn cells(
    fork_args: &[&str],
    image: &str,
    differs: &[Differs],
    env: &[(&str, &str)],
    mut alive: impl FnMut() -> Result<()>,
) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for d in differs {
        for (name, cmd) in COMMANDS {
            let mut args: Vec<&str> = fork_args.to_vec();
            let img = match d {
                Differs::Image(i) => *i,
                Differs::Env(..) => image,
            };
            args.extend(["--image", img]);
            args.extend_from_slice(cmd);
            let mut b = Xtask::new(&args).envs(env);
            if let Differs::Env(k, v) = d {
                b = b.env(k, v);
            }
            let out = b.output();
            let err = text(&out.stderr);
            let said: Vec<&str> = err
                .trim()
                .lines()
                .filter(|l| !l.starts_with("note:") && !l.trim().is_empty())
                .collect();
            let cell = match out.status.code() {
                Some(0) => "worked".to_string(),
                // Refused: the container is in use, or the fork is held until A stops.
                Some(1)
                    if (err.contains("in use") || err.contains("until it is stopped"))
                        && said.len() <= 2 =>
                {
                    format!("refused: {}", said.first().copied().unwrap_or(""))
                }
                c => bail!(
                    "B `{name}` with {}: neither worked nor refused in two lines (exit {c:?}):\n{err}",
                    d.describe()
                ),
            };
            alive()
                .with_context(|| format!("A after B `{name}` with {} ({cell})", d.describe()))?;
            let line = format!("B `{name}` with {}: {cell}; A alive", d.describe());
            println!("{line}");
            lines.push(line);
        }
    }
    ensure!(!lines.is_empty(), "no cell ran");
    Ok(lines)
}
