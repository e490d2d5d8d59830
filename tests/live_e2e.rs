//! The live loop on Debian's 20.10.24: `run --watch` builds first where nothing is built yet,
//! serves the build, rebuilds and restarts on an edit ("ready in X s", the host's DOCKER_HOST
//! unchanged, the new daemon stamped `<commit>-unsupported` as the fork stamps an edited tree), keeps the old daemon serving
//! when an edit does not compile (the compiler's line shown), and leaves nothing after Ctrl-C;
//! `test unit --watch` reruns the package whose file changed. And `test unit`'s own errors: a
//! package that does not compile shows the compiler's line, a package that is not in the fork
//! is refused before anything runs.

use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Result};
use tests::{dev_image_2010, text, GitFork, Running, Scratch, Steps};

const OWNER: u32 = 1000;

/// The server's commit through the socket `run` gives the host.
fn server_answers(socket: &str) -> Result<String> {
    let v = Command::new("docker")
        .args(["-H", socket, "version", "--format", "{{.Server.GitCommit}}"])
        .output()?;
    ensure!(
        v.status.success(),
        "docker -H {socket} version: {}",
        text(&v.stderr)
    );
    Ok(text(&v.stdout).trim().to_string())
}

/// Append `line` to a source file of the fork, as an editor would (the owner's file stays its).
fn append(g: &GitFork, file: &str, line: &str) -> Result<()> {
    use std::io::Write;
    let mut f = fs_err::OpenOptions::new()
        .append(true)
        .open(g.fork.join(file))?;
    writeln!(f, "{line}")?;
    Ok(())
}

#[test]
fn run_watch_and_test_unit_watch_on_debian_moby_20_10_24() -> Result<()> {
    tests::e2e!();
    let image = dev_image_2010()?;
    let s = Scratch::new("e2e-live");
    let g = GitFork::new(&s, OWNER)?;
    let mut steps = Steps::new("live loop");
    let socket = format!("unix://{}/bundles/xtask-run/docker.sock", g.fork);
    let home = [("HOME", g.home.as_str())];
    let file = "cmd/dockerd/daemon.go";
    let original = fs_err::read_to_string(g.fork.join(file))?;

    steps.step(
        "run --watch: built first, up, rebuilt on an edit and stamped as that tree is, the old one kept on a broken edit",
        || {
            let args = [
                "--fork",
                g.fork.as_str(),
                "--image",
                image,
                "run",
                "--watch",
            ];
            // No build yet: the loop starts by building, and says so.
            let mut run = Running::spawn(&args, &[("HOME", g.home.as_str())])?;
            run.wait_for("no dockerd built", Duration::from_secs(60))?;
            run.wait_for("Finished hack/make.sh binary", Duration::from_secs(900))?;
            run.wait_for(
                "dockerd is up: export DOCKER_HOST=",
                Duration::from_secs(180),
            )?;
            run.wait_for("Watching", Duration::from_secs(10))?;
            let first = server_answers(&socket)?;
            ensure!(first == g.head_short, "the first build says {first}");

            // The two-terminal matrix, A = this `run`: B wants another container (another
            // DOCKER_PORT, another image; and a debugger's DELVE_PORT); A's daemon answers after
            // every cell.
            let other = tests::second::other_image(image)?;
            let differs = [
                tests::second::Differs::Env("DOCKER_PORT", "127.0.0.1:23995:2375"),
                tests::second::Differs::Image(&other),
                tests::second::Differs::Env("DELVE_PORT", "127.0.0.1:23994:2345"),
            ];
            let fork_args = ["--fork", g.fork.as_str()];
            let cells = tests::second::cells(&fork_args, image, &differs, &home, || {
                ensure!(server_answers(&socket)? == first, "another daemon answers");
                Ok(())
            })?;
            ensure!(
                cells.iter().all(|c| c.contains("worked")
                    || c.contains("a `run` daemon")
                    || c.contains("`cargo xtask run`")),
                "a refusal that does not name the run daemon: {cells:#?}"
            );

            // An edit that compiles: built again, installed, restarted on the same socket.
            append(&g, file, "// edited while `run --watch` serves")?;
            run.wait_for("ready in ", Duration::from_secs(600))?;
            // The edited tree is stamped as the fork's hack/make.sh stamps a modified tree.
            let second = server_answers(&socket)?;
            ensure!(
                second == format!("{}-unsupported", g.head_short),
                "after the edit the server says {second} (before: {first})"
            );

            // An edit that compiles but whose dockerd dies at start: its log's last lines, the
            // previous build installed and serving again, the watch going on.
            append(
                &g,
                file,
                "func init() { panic(\"broken at start by the test\") }",
            )?;
            run.wait_for("broken at start by the test", Duration::from_secs(600))?;
            run.wait_for("the previous build serves again", Duration::from_secs(90))?;
            ensure!(
                server_answers(&socket)? == second,
                "the previous build is not what serves after a daemon that did not start"
            );

            // An edit that does not compile: the compiler's line, the old daemon still serving.
            append(&g, file, "func brokenByTheTest() { undefinedThing() }")?;
            run.wait_for("undefined: undefinedThing", Duration::from_secs(600))?;
            run.wait_for("keeps serving", Duration::from_secs(10))?;
            ensure!(
                server_answers(&socket)? == second,
                "the running daemon did not keep serving after a failed build"
            );

            run.signal("INT")?;
            let (code, out) = run.finish(Duration::from_secs(60))?;
            ensure!(
                code == Some(130),
                "run --watch after Ctrl-C: {code:?}\n{out}"
            );
            tests::nothing_runs_in_the_dev_container(&g.fork, "dockerd")?;
            ensure!(
                !g.fork.join("bundles/xtask-run/docker.sock").exists(),
                "the host socket was left"
            );
            Ok(())
        },
    );
    fs_err::write(g.fork.join(file), &original)?;

    steps.step("test unit --watch: the changed package again", || {
        let args = [
            "--fork",
            g.fork.as_str(),
            "--image",
            image,
            "test",
            "unit",
            "--watch",
            "./pkg/stringid",
        ];
        let mut run = Running::spawn(&args, &[("HOME", g.home.as_str())])?;
        run.wait_for(" skipped", Duration::from_secs(300))?;
        run.wait_for("Watching", Duration::from_secs(10))?;
        let before = run.output().matches(" skipped\n").count();
        append(&g, "pkg/stringid/stringid.go", "// edited while watching")?;
        let t = std::time::Instant::now();
        while run.output().matches(" skipped\n").count() == before {
            ensure!(
                t.elapsed() < Duration::from_secs(300),
                "no second run after the edit:\n{}",
                run.output()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        run.signal("INT")?;
        let (code, out) = run.finish(Duration::from_secs(60))?;
        ensure!(
            code == Some(130),
            "test unit --watch after Ctrl-C: {code:?}\n{out}"
        );
        ensure!(
            out.contains("Changed") && out.contains("pkg/stringid/stringid.go"),
            "{out}"
        );
        Ok(())
    });

    steps.step(
        "test unit: a package that does not compile shows the compiler",
        || {
            append(
                &g,
                "pkg/stringid/stringid_test.go",
                "func TestBrokenByTheTest(t *testing.T) { undefinedThing() }",
            )?;
            let out = g.xtask(image, &["test", "unit", "./pkg/stringid"], &[]);
            let all = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
            ensure!(out.status.code() == Some(1), "{all}");
            ensure!(all.contains("undefined: undefinedThing"), "{all}");
            Ok(())
        },
    );

    steps.step(
        "test unit: a package not in the fork, refused by name first",
        || {
            let out = g.xtask(image, &["test", "unit", "./pkg/nosuchthing"], &[]);
            let err = text(&out.stderr);
            ensure!(out.status.code() == Some(1), "{err}");
            ensure!(err.contains("no package `./pkg/nosuchthing`"), "{err}");
            ensure!(!err.contains("Testing"), "it ran before refusing:\n{err}");
            Ok(())
        },
    );
    steps.finish();
    Ok(())
}
