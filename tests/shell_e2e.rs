//! `cargo xtask shell` and `down` against the real daemon and the 20.10 dev image: a real
//! interactive session driven through tmux (a real pseudo-terminal), piped use, two concurrent
//! shells in one container, and the bad-input paths.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use camino::Utf8PathBuf;
use tests::{
    copy_tree, debian_2010_tree, dev_image_2010, text, unset_env, xtask, xtask_bin, Scratch, Xtask,
};

struct Fixture {
    scratch: Scratch,
    fork: Utf8PathBuf,
    image: &'static str,
}

fn fixture(tag: &str) -> Result<Fixture> {
    let image = dev_image_2010()?;
    let scratch = Scratch::new(tag);
    let fork = scratch.dir.join("fork");
    copy_tree(&debian_2010_tree()?.join("engine"), &fork)?;
    Ok(Fixture {
        scratch,
        fork,
        image,
    })
}

impl Fixture {
    fn args<'a>(&'a self, rest: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec![
            "--fork",
            self.fork.as_str(),
            "--image",
            self.image,
            "--commit",
            "c0ffee1",
        ];
        a.extend_from_slice(rest);
        a
    }
}

#[test]
fn shell_piped_commands_and_down() -> Result<()> {
    tests::e2e!();
    let f = fixture("shell-piped")?;

    // Piped: bash reads the script from stdin, no TTY; the exit code is bash's.
    let mut child = Xtask::new(f.args(&["shell"]))
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().context("stdin")?.write_all(
        b"echo hi; echo commit=$DOCKER_GITCOMMIT; pwd; [ -t 0 ] || echo notty; exit 4\n",
    )?;
    let out = child.wait_with_output()?;
    let stdout = text(&out.stdout);
    ensure!(
        out.status.code() == Some(4),
        "exit {:?}: {stdout} {}",
        out.status,
        text(&out.stderr)
    );
    ensure!(
        stdout.contains("hi\ncommit=c0ffee1\n/go/src/github.com/docker/docker\nnotty"),
        "{stdout}"
    );

    // One command; its exit code.
    let out = xtask(
        &f.args(&["shell", "--", "sh", "-c", "echo one; exit 7"]),
        &[],
    );
    ensure!(
        out.status.code() == Some(7) && text(&out.stdout) == "one\n",
        "{out:?}"
    );

    // Two concurrent shells join the same container: the second sees the first's file in /tmp.
    let mut first = Xtask::new(f.args(&[
        "shell",
        "--",
        "sh",
        "-c",
        "echo $$ > /tmp/first; cat >/dev/null",
    ]))
    .command()
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .spawn()?;
    let seen = wait_for(Duration::from_secs(20), || {
        let out = xtask(&f.args(&["shell", "--", "cat", "/tmp/first"]), &[]);
        out.status.success().then(|| text(&out.stdout))
    })?;
    drop(first.stdin.take());
    ensure!(first.wait()?.success(), "first shell failed");
    ensure!(seen.trim().parse::<u32>().is_ok(), "{seen}");
    ensure!(
        Scratch::containers_of(&f.fork).len() == 1,
        "two shells, more than one container"
    );

    // --rm: a one-shot container, gone afterwards.
    let out = xtask(
        &f.args(&["shell", "--rm", "--", "test", "!", "-e", "/tmp/first"]),
        &[],
    );
    ensure!(
        out.status.success(),
        "one-shot shell saw the dev container's /tmp: {out:?}"
    );
    ensure!(
        Scratch::containers_of(&f.fork).len() == 1,
        "the one-shot container stayed"
    );

    // down: the dev container goes, the named cache volume stays.
    let out = xtask(&f.args(&["down"]), &[]);
    ensure!(
        out.status.success() && text(&out.stdout).contains("removed moby-xtask-fork-"),
        "{out:?}"
    );
    ensure!(
        Scratch::containers_of(&f.fork).is_empty(),
        "down left a container"
    );
    let vol = Command::new("docker")
        .args(["volume", "inspect", "docker-dev-cache"])
        .output()?;
    ensure!(vol.status.success(), "down removed the named cache volume");
    drop(f.scratch);
    Ok(())
}

#[test]
fn shell_bad_input_is_one_clear_line() -> Result<()> {
    tests::e2e!();
    let f = fixture("shell-bad")?;
    let fork = f.fork.as_str();
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: [Case; 3] = [
        (
            vec![
                "--fork",
                fork,
                "--image",
                "no/such-image:1",
                "--commit",
                "x",
                "shell",
            ],
            vec![],
            "cannot pull no/such-image:1",
        ),
        (
            vec!["--fork", fork, "--commit", "x", "shell"],
            vec![("DOCKER_HOST", "unix:///nonexistent.sock")],
            "cannot reach the Docker daemon at unix:///nonexistent.sock",
        ),
        (
            vec!["--fork", "/nonexistent/fork", "shell"],
            vec![],
            "is not a directory",
        ),
    ];
    for (args, env, expect) in cases {
        let out = xtask(&args, &env);
        let err = text(&out.stderr);
        ensure!(out.status.code() == Some(1), "{args:?}: {out:?}");
        // One line saying what happened and what to do (after a "pulling" progress line for an image).
        let last = err.lines().last().unwrap_or_default();
        ensure!(
            last.contains(expect) && err.lines().count() <= 2,
            "{args:?}: {err}"
        );
    }
    ensure!(
        Scratch::containers_of(&f.fork).is_empty(),
        "a failed shell left a container"
    );
    Ok(())
}

/// A tmux session running `cmd` in a pane of the given size.
struct Tmux {
    name: String,
}

impl Tmux {
    fn start(name: &str, cols: u16, rows: u16, cmd: &str) -> Result<Tmux> {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", name])
            .output();
        let (c, r) = (cols.to_string(), rows.to_string());
        let st = Command::new("tmux")
            .args(["new-session", "-d", "-s", name, "-x", &c, "-y", &r, cmd])
            .status()?;
        ensure!(st.success(), "tmux new-session failed (is tmux installed?)");
        Ok(Tmux {
            name: name.to_string(),
        })
    }

    fn tmux(&self, args: &[&str]) -> Result<String> {
        let out = Command::new("tmux").args(args).output()?;
        ensure!(out.status.success(), "tmux {args:?}: {}", text(&out.stderr));
        Ok(text(&out.stdout))
    }

    fn keys(&self, keys: &[&str]) -> Result<()> {
        let mut a = vec!["send-keys", "-t", &self.name];
        a.extend_from_slice(keys);
        self.tmux(&a).map(drop)
    }

    fn screen(&self) -> Result<String> {
        self.tmux(&["capture-pane", "-p", "-t", &self.name])
    }

    fn wait_screen(&self, what: &str, within: Duration) -> Result<String> {
        wait_for(within, || self.screen().ok().filter(|s| s.contains(what))).with_context(|| {
            format!(
                "`{what}` never appeared; screen:\n{}",
                self.screen().unwrap_or_default()
            )
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .output();
    }
}

#[test]
fn shell_interactive_through_a_pty() -> Result<()> {
    tests::e2e!();
    let f = fixture("shell-tty")?;
    let dir = &f.scratch.dir;
    let t = shell_in_tmux(&f, "xtask-tty")?;

    t.keys(&["echo size=$(stty size)", "Enter"])?;
    t.wait_screen("\nsize=24 80", Duration::from_secs(10))?;

    t.tmux(&["resize-window", "-t", &t.name, "-x", "100", "-y", "30"])?;
    std::thread::sleep(Duration::from_millis(300));
    t.keys(&["echo size=$(stty size)", "Enter"])?;
    t.wait_screen("\nsize=30 100", Duration::from_secs(10))?;

    // Ctrl-C reaches the program inside, not the tool: sleep stops (the echo that follows could
    // not run for 30 s otherwise), the shell lives on.
    t.keys(&["sleep 30", "Enter"])?;
    std::thread::sleep(Duration::from_millis(800));
    t.keys(&["C-c"])?;
    t.keys(&["echo alive-$((6*7))", "Enter"])?;
    t.wait_screen("\nalive-42", Duration::from_secs(10))?;

    // Ctrl-Z too: bash inside stops the job.
    t.keys(&["sleep 40", "Enter"])?;
    std::thread::sleep(Duration::from_millis(800));
    t.keys(&["C-z"])?;
    t.wait_screen("Stopped", Duration::from_secs(10))?;
    // SIGKILL: a stopped job does not act on SIGTERM until continued, and bash will not exit over it.
    t.keys(&["kill -KILL %1; wait; echo killed-$((2*4))", "Enter"])?;
    t.wait_screen("\nkilled-8", Duration::from_secs(10))?;

    t.keys(&["exit 3", "Enter"])?;
    let rc = wait_for(Duration::from_secs(20), || {
        fs_err::read_to_string(dir.join("rc")).ok()
    })?;
    ensure!(rc.trim() == "3", "tool exit code {rc}");
    let after = wait_for(Duration::from_secs(5), || {
        fs_err::read_to_string(dir.join("after")).ok()
    })?;
    ensure!(
        fs_err::read_to_string(dir.join("before"))? == after,
        "terminal settings changed"
    );
    Ok(())
}

/// `cargo xtask shell` in an 80x24 tmux pane, at its prompt. The pane's shell records the outer
/// terminal settings before (`before`) and after (`after`) the tool, and its exit code (`rc`);
/// the tool runs in the test environment (`unset_env`: tmux's own environment is the server's).
fn shell_in_tmux(f: &Fixture, name: &str) -> Result<Tmux> {
    let dir = &f.scratch.dir;
    let args: Vec<String> = f.args(&["shell"]).iter().map(|a| a.to_string()).collect();
    let cmd = format!(
        "{}stty -g > {dir}/before; {} {}; echo $? > {dir}/rc; stty -g > {dir}/after; sleep 600",
        unset_env(),
        xtask_bin(),
        args.join(" ")
    );
    let t = Tmux::start(&format!("{name}-{}", std::process::id()), 80, 24, &cmd)?;
    t.wait_screen("/go/src/github.com/docker/docker#", Duration::from_secs(60))?;
    Ok(t)
}

fn wait_for<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Result<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out after {within:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn shell_restores_the_terminal_when_killed() -> Result<()> {
    tests::e2e!();
    let f = fixture("shell-term")?;
    let dir = &f.scratch.dir;
    let _tmux = shell_in_tmux(&f, "xtask-term")?;
    // Anchored on the binary: the pane's own `sh -c` line mentions the fork too.
    let pattern = format!("^{} --fork {} ", xtask_bin(), f.fork);
    let st = Command::new("pkill")
        .args(["-TERM", "-f", &pattern])
        .status()?;
    ensure!(st.success(), "no xtask process matched {pattern}");
    let rc = wait_for(Duration::from_secs(20), || {
        fs_err::read_to_string(dir.join("rc")).ok()
    })?;
    ensure!(rc.trim() == "143", "tool exit code after SIGTERM: {rc}");
    let after = wait_for(Duration::from_secs(5), || {
        fs_err::read_to_string(dir.join("after")).ok()
    })?;
    ensure!(
        fs_err::read_to_string(dir.join("before"))? == after,
        "terminal left in raw mode"
    );
    Ok(())
}

/// Terminal A's `shell` runs with `DOCKER_PORT`; terminal B's, without, wants another dev
/// container: B refuses in two lines naming what differs and what runs, and A goes on to its
/// own end (its exit code, its last line). Once A ended, B replaces the container.
#[test]
fn a_second_terminal_never_replaces_a_container_in_use() -> Result<()> {
    tests::e2e!();
    let f = fixture("shell-in-use")?;
    let a_args = f.args(&[
        "shell",
        "--",
        "sh",
        "-c",
        "echo A-started; sleep 12; echo A-done; exit 7",
    ]);
    let mut a = Xtask::new(a_args)
        .env("DOCKER_PORT", "127.0.0.1:23998:2375")
        .spawn()?;
    a.wait_for("A-started", Duration::from_secs(300))?;
    let b = xtask(&f.args(&["shell", "--", "echo", "B-ran"]), &[]);
    let err = text(&b.stderr);
    ensure!(b.status.code() == Some(1), "B was not refused:\n{err}");
    ensure!(
        err.contains("in use") && err.contains("a `shell`") && err.contains("mounts changed"),
        "{err}"
    );
    let said = err
        .trim()
        .lines()
        .filter(|l| !l.starts_with("note:"))
        .count();
    ensure!(said <= 2, "more than two lines:\n{err}");
    let (code, out) = a.finish(Duration::from_secs(60))?;
    ensure!(
        code == Some(7) && out.contains("A-done"),
        "A: {code:?}\n{out}"
    );
    let b = xtask(&f.args(&["shell", "--", "echo", "B-ran"]), &[]);
    ensure!(
        b.status.success() && text(&b.stdout).contains("B-ran"),
        "{}",
        text(&b.stderr)
    );

    // `down` and `clean` on a container in use: refused, naming `--force`; with it, down ends A.
    let mut a = Xtask::new(f.args(&["shell", "--", "sh", "-c", "echo A2; sleep 120"])).spawn()?;
    a.wait_for("A2", Duration::from_secs(60))?;
    for task in ["down", "clean"] {
        let out = xtask(&f.args(&[task]), &[]);
        let err = text(&out.stderr);
        ensure!(
            out.status.code() == Some(1) && err.contains("in use") && err.contains("--force"),
            "{task} on a container in use: {err}"
        );
    }
    let out = xtask(&f.args(&["down", "--force"]), &[]);
    ensure!(out.status.success(), "down --force: {}", text(&out.stderr));
    let (code, _) = a.finish(Duration::from_secs(30))?;
    ensure!(code != Some(0), "A2 went on after down --force: {code:?}");
    ensure!(
        tests::containers_with_role(&f.fork, "dev").is_empty(),
        "down --force left the dev container"
    );
    Ok(())
}

/// The matrix's A = an interactive `shell` (a real terminal, tmux): B runs `shell`, `binary`,
/// `smoke` and `down` with another `DOCKER_PORT` and another `--image`; after each cell A's
/// shell still answers, and at the end it exits with its own code.
#[test]
fn an_interactive_shell_outlives_every_second_terminal() -> Result<()> {
    tests::e2e!();
    let f = fixture("shell-matrix")?;
    let dir = &f.scratch.dir;
    let other = tests::second::other_image(f.image)?;
    let t = shell_in_tmux(&f, "xtask-matrix")?;
    let fork_args = ["--fork", f.fork.as_str(), "--commit", "c0ffee1"];
    let differs = [
        tests::second::Differs::Env("DOCKER_PORT", "127.0.0.1:23997:2375"),
        tests::second::Differs::Image(&other),
    ];
    let mut n = 0;
    let cells = tests::second::cells(&fork_args, f.image, &differs, &[], || {
        n += 1;
        t.keys(&[&format!("echo alive-$((1000+{n}))"), "Enter"])?;
        t.wait_screen(&format!("\nalive-{}", 1000 + n), Duration::from_secs(10))
            .map(drop)
    })?;
    ensure!(cells.len() == 8, "{cells:?}");
    ensure!(
        cells
            .iter()
            .all(|c| c.contains("worked") || c.contains("an interactive `shell`")),
        "a refusal that does not name what runs: {cells:#?}"
    );
    t.keys(&["exit 5", "Enter"])?;
    let rc = wait_for(Duration::from_secs(20), || {
        fs_err::read_to_string(dir.join("rc")).ok()
    })?;
    ensure!(rc.trim() == "5", "A's exit code: {rc}");
    let _ = xtask(&f.args(&["down"]), &[]);
    Ok(())
}

/// Every path the tool keeps on this machine (its runtime directory and what is in it, its cache
/// and each memo), learnt from a first `shell -- true`, is in turn replaced by a symlink another
/// user planted, to a file and a directory of root's: the command either works or says why in
/// one or two lines, and the targets keep their mode, owner and content.
#[test]
fn a_symlink_at_every_runtime_path_changes_nothing_outside() -> Result<()> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    tests::e2e!();
    let f = fixture("shell-planted")?;
    let dir = &f.scratch.dir;
    let (tmp, home) = (dir.join("tmp"), dir.join("home"));
    fs_err::create_dir_all(&tmp)?;
    fs_err::create_dir_all(&home)?;
    let env = [("TMPDIR", tmp.as_str()), ("HOME", home.as_str())];
    let run = || xtask(&f.args(&["shell", "--", "true"]), &env);
    let out = run();
    ensure!(out.status.success(), "first shell: {}", text(&out.stderr));

    let victim_dir = dir.join("victim-dir");
    let victim_file = dir.join("victim-file");
    fs_err::create_dir_all(&victim_dir)?;
    fs_err::set_permissions(&victim_dir, std::fs::Permissions::from_mode(0o755))?;
    fs_err::write(victim_dir.join("f"), "precious")?;
    fs_err::write(&victim_file, "precious\n")?;
    fs_err::set_permissions(&victim_file, std::fs::Permissions::from_mode(0o600))?;
    let seen = |p: &Utf8PathBuf| -> Result<(u32, u32, String)> {
        let m = fs_err::metadata(p)?;
        let content = match m.is_dir() {
            true => {
                let mut names: Vec<String> = fs_err::read_dir(p)?
                    .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                    .collect();
                names.sort();
                names.join(",")
            }
            false => fs_err::read_to_string(p)?,
        };
        Ok((m.mode() & 0o7777, m.uid(), content))
    };
    let before = (seen(&victim_dir)?, seen(&victim_file)?);

    let mut paths = Vec::new();
    for root in [tmp.join("moby-xtask-0"), home.join(".cache/moby-xtask")] {
        ensure!(root.is_dir(), "{root} was not made");
        let found = Command::new("find").arg(&root).output()?;
        paths.extend(text(&found.stdout).lines().map(Utf8PathBuf::from));
    }
    ensure!(paths.len() >= 4, "too few runtime paths: {paths:?}");
    let mut cells = 0;
    // Deepest first, so that a path's parent is still the real one when it is planted.
    paths.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in &paths {
        let is_dir = p.is_dir();
        let aside = Utf8PathBuf::from(format!("{p}.aside"));
        fs_err::rename(p, &aside)?;
        let target = if is_dir { &victim_dir } else { &victim_file };
        std::os::unix::fs::symlink(target, p)?;
        std::os::unix::fs::lchown(p, Some(1000), Some(1000))?;
        let out = run();
        let err = text(&out.stderr);
        let said: Vec<&str> = err.lines().filter(|l| !l.starts_with("note:")).collect();
        let verdict = match out.status.code() {
            Some(0) => "worked".to_string(),
            Some(1) if said.len() <= 2 && err.contains("symlink") => {
                format!("refused: {}", said[0])
            }
            c => bail!("planted {p}: exit {c:?}, not a one- or two-line refusal:\n{err}"),
        };
        println!("planted {p} -> {target}: {verdict}");
        ensure!(
            (seen(&victim_dir)?, seen(&victim_file)?) == before,
            "planted {p}: a target outside the private directories changed"
        );
        // The link (or what replaced it) goes; the real one comes back.
        let _ = std::fs::remove_file(p).or_else(|_| std::fs::remove_dir_all(p));
        fs_err::rename(&aside, p)?;
        cells += 1;
    }
    println!("{cells} runtime paths planted");
    let _ = xtask(&f.args(&["down"]), &env);
    Ok(())
}
