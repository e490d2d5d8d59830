//! Two terminals on one fork, and faults mid-build, on Debian's moby 20.10.24: two first uses at
//! once, two `binary`, two `smoke`, `shell` during `binary`; the dev container killed or removed,
//! the fork cloned again at the same path, a read-only `bundles/`, the daemon connection cut.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{ensure, Result};
use tests::{containers_with_role, dev_image_2010, text, GitFork, Running, Scratch, Steps};

const OWNER: u32 = 1000;
const LONG: Duration = Duration::from_secs(900);

fn spawn(g: &GitFork, image: &str, rest: &[&str], env: &[(&str, &str)]) -> Result<Running> {
    let mut args = vec!["--fork", g.fork.as_str(), "--image", image];
    args.extend_from_slice(rest);
    let mut env = env.to_vec();
    env.push(("HOME", g.home.as_str()));
    Running::spawn(&args, &env)
}

fn ok(run: Running, what: &str) -> Result<String> {
    let (code, out) = run.finish(LONG)?;
    ensure!(code == Some(0), "{what}: exit {code:?}\n{out}");
    Ok(out)
}

#[test]
fn two_terminals_on_one_fork() -> Result<()> {
    tests::e2e!();
    let image = dev_image_2010()?;
    let s = Scratch::new("e2e-concurrent");
    let g = GitFork::new(&s, OWNER)?;
    let mut steps = Steps::new("concurrency");

    steps.step("two first uses at once: one container, both work", || {
        let a = spawn(&g, image, &["shell", "--", "true"], &[])?;
        let b = spawn(&g, image, &["shell", "--", "true"], &[])?;
        ok(a, "first shell")?;
        ok(b, "second shell")?;
        let dev = containers_with_role(&g.fork, "dev");
        ensure!(dev.len() == 1, "two first uses made {dev:?}");
        Ok(())
    });

    steps.step(
        "two builds: the second waits for the first, saying whom it waits for; both succeed",
        || {
            // --force: two real builds, not a build and a `Fresh` one.
            let a = spawn(&g, image, &["binary", "--force"], &[])?;
            let b = spawn(&g, image, &["binary", "--force"], &[])?;
            let (oa, ob) = (ok(a, "first binary")?, ok(b, "second binary")?);
            ensure!(
                oa.contains("Blocking") || ob.contains("Blocking"),
                "neither build waited:\n{oa}\n---\n{ob}"
            );
            let head = &g.head_short;
            ensure!(
                oa.contains(&format!("commit {head}")) && ob.contains(&format!("commit {head}"))
            );
            Ok(())
        },
    );

    steps.step(
        "two smokes: both pass, neither stops the other's daemon",
        || {
            let a = spawn(&g, image, &["smoke"], &[])?;
            let b = spawn(&g, image, &["smoke"], &[])?;
            let (oa, ob) = (ok(a, "first smoke")?, ok(b, "second smoke")?);
            ensure!(
                oa.contains("smoke: PASS") && ob.contains("smoke: PASS"),
                "{oa}\n---\n{ob}"
            );
            Ok(())
        },
    );

    steps.step("a shell next to a build never waits for it", || {
        let mut build = spawn(&g, image, &["binary", "--force"], &[("BUILDFLAGS", "-a")])?;
        build.wait_for("Building", LONG)?;
        let sh = spawn(&g, image, &["shell", "--", "echo", "beside"], &[])?;
        let out = ok(sh, "shell during binary")?;
        ensure!(out.contains("beside"), "{out}");
        ensure!(
            !build.ended()?,
            "the build ended before the shell: nothing shown"
        );
        build.signal("INT")?;
        let (code, _) = build.finish(Duration::from_secs(60))?;
        ensure!(code == Some(130), "interrupted build: {code:?}");
        Ok(())
    });
    steps.finish();
    Ok(())
}

/// A loopback TCP proxy to the daemon's socket that the test can cut.
struct Proxy {
    port: u16,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<Mutex<bool>>,
}

impl Proxy {
    fn start() -> Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let conns = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(Mutex::new(false));
        let (c, st) = (conns.clone(), stop.clone());
        std::thread::spawn(move || {
            for tcp in listener.incoming().map_while(|c| c.ok()) {
                if *st.lock().unwrap() {
                    let _ = tcp.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                let Ok(unix) = UnixStream::connect("/var/run/docker.sock") else {
                    continue;
                };
                if let Ok(t) = tcp.try_clone() {
                    c.lock().unwrap().push(t);
                }
                let (mut t1, mut u1) = (tcp.try_clone().unwrap(), unix.try_clone().unwrap());
                let (mut t2, mut u2) = (tcp, unix);
                // A side that ends its output ends the other's input (a hijacked exec's end).
                std::thread::spawn(move || {
                    pump(&mut t1, &mut u1);
                    let _ = u1.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    pump(&mut u2, &mut t2);
                    let _ = t2.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Ok(Proxy { port, conns, stop })
    }

    fn cut(&self) {
        *self.stop.lock().unwrap() = true;
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn pump(from: &mut dyn Read, to: &mut dyn Write) {
    let mut buf = [0u8; 65536];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

fn build_processes(fork: &camino::Utf8Path) -> Result<String> {
    let Some(ctr) = containers_with_role(fork, "dev").into_iter().next() else {
        return Ok(String::new());
    };
    let out = Command::new("docker")
        .args(["exec", &ctr, "ps", "-eo", "args"])
        .output()?;
    Ok(text(&out.stdout)
        .lines()
        .filter(|l| l.contains("hack/make.sh") || l.contains("go build") || l.contains("/compile"))
        .collect::<Vec<_>>()
        .join("\n"))
}

#[test]
fn faults_mid_build() -> Result<()> {
    tests::e2e!();
    let image = dev_image_2010()?;
    let s = Scratch::new("e2e-faults");
    let g = GitFork::new(&s, OWNER)?;
    let slow = [("BUILDFLAGS", "-a")];
    let mut steps = Steps::new("faults");
    let shell_works = |what: &str| -> Result<()> {
        ok(spawn(&g, image, &["shell", "--", "true"], &[])?, what).map(drop)
    };

    // The cause first, then the way on.
    for (how, says) in [
        ("kill", "stopped while the command ran"),
        ("rm", "was removed while"),
    ] {
        steps.step(format!("the dev container: docker {how} mid-build"), || {
            let mut run = spawn(&g, image, &["binary", "--force"], &slow)?;
            run.wait_for("Building", LONG)?;
            std::thread::sleep(Duration::from_secs(3));
            let ctr = containers_with_role(&g.fork, "dev").join(" ");
            let args: Vec<&str> = match how {
                "kill" => vec!["kill", &ctr],
                _ => vec!["rm", "-fv", &ctr],
            };
            Command::new("docker").args(&args).output()?;
            let (code, out) = run.finish(Duration::from_secs(120))?;
            ensure!(
                code == Some(1) && out.contains(says),
                "docker {how}: {code:?}\n{out}"
            );
            ensure!(!out.contains("panicked"), "{out}");
            shell_works(&format!("shell after docker {how}"))?;
            Ok(())
        });
    }

    steps.step(
        "the fork cloned again at the same path: the stale container replaced",
        || {
            let moved = s.dir.join("fork.old");
            std::fs::rename(&g.fork, &moved)?;
            tests::copy_tree(&moved, &g.fork)?;
            let out = ok(
                spawn(&g, image, &["shell", "--", "ls", "Makefile"], &[])?,
                "after re-clone",
            )?;
            ensure!(
                out.contains("fork directory was replaced") && out.contains("Makefile"),
                "{out}"
            );
            Ok(())
        },
    );

    steps.step(
        "a read-only bundles/: the file system's word, no panic, exit non-zero",
        || {
            let bundles = g.fork.join("bundles");
            std::fs::create_dir_all(&bundles)?;
            let st = Command::new("mount")
                .args(["-t", "tmpfs", "-o", "ro", "tmpfs", bundles.as_str()])
                .status()?;
            ensure!(st.success(), "mount a read-only tmpfs on bundles/");
            let ran = spawn(&g, image, &["binary"], &[]).and_then(|run| run.finish(LONG));
            // Unmounted whatever happened: the next steps build there.
            let _ = Command::new("umount").arg(bundles.as_str()).status();
            let (code, out) = ran?;
            ensure!(
                code != Some(0) && code.is_some(),
                "read-only bundles: {code:?}\n{out}"
            );
            ensure!(
                out.contains("Read-only file system") && !out.contains("panicked"),
                "{out}"
            );
            Ok(())
        },
    );

    steps.step(
        "the daemon connection cut mid-build: said so; the next command stops the orphaned build",
        || {
            let proxy = Proxy::start()?;
            let host = format!("tcp://127.0.0.1:{}", proxy.port);
            let mut run = spawn(
                &g,
                image,
                &["binary", "--force"],
                &[("BUILDFLAGS", "-a"), ("DOCKER_HOST", &host)],
            )?;
            run.wait_for("Building", LONG)?;
            std::thread::sleep(Duration::from_secs(3));
            proxy.cut();
            let (code, out) = run.finish(Duration::from_secs(120))?;
            ensure!(
                code == Some(1) && out.contains("Docker daemon"),
                "connection cut: {code:?}\n{out}"
            );
            let out = ok(spawn(&g, image, &["binary"], &[])?, "binary after the cut")?;
            ensure!(
                out.contains("Stopped"),
                "the orphaned build was not stopped:\n{out}"
            );
            ensure!(build_processes(&g.fork)?.is_empty(), "build processes left");
            Ok(())
        },
    );
    steps.finish();
    Ok(())
}
