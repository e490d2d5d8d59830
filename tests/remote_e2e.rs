//! Engines elsewhere: a "remote" engine started by the test (Debian's dockerd in a container with
//! its own filesystem, `fixtures/remote-engine.sh`), reached only through 127.0.0.1: TLS with
//! certificates the test made, ssh with a key the test made (the real `ssh` and `sshd`). Against
//! it: the endpoint from `DOCKER_HOST` + `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`, from a docker
//! context by `DOCKER_CONTEXT`, `currentContext` and `--context`, and over `ssh://`; each TLS and
//! ssh failure named; and a fork this engine cannot see refused before anything is made there.

// The split over three engines (two of them elsewhere) is a test of this binary, not one of its
// own: cargo runs test binaries one after another, and this way it runs beside the synced-source
// test (each waits mostly on its own engines), which saves CI about ten minutes.
#[path = "remote_split.rs"]
mod split;

use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Result};
use tests::{
    e4_copy, fixture_fork, text, workspace_root, xtask, Remote, Scratch, Steps, MOBY_2010,
    NO_DAEMON,
};

/// `doctor`'s line for the engine: it reached it, and says from where and how.
fn doctor_line(fork: &str, env: &[(&str, &str)], before: &[&str]) -> String {
    let mut args = before.to_vec();
    args.extend(["--fork", fork, "doctor"]);
    let out = xtask(&args, env);
    let all = text(&out.stdout) + &text(&out.stderr);
    all.lines()
        .find(|l| l.contains("Docker daemon at") || l.contains("Docker engine at"))
        .unwrap_or(&all)
        .to_string()
}

#[test]
fn remote_engine_over_tls_ssh_and_contexts() -> Result<()> {
    tests::e2e!();
    let (s, fork) = e4_copy("e2e-remote");
    let r = Remote::start(&s, "endpoints")?;
    let fork = fork.as_str();
    let tcp = r.tcp();
    let certs = r.work.as_str();
    let tls = |dir: &str| {
        vec![
            ("DOCKER_HOST", tcp.clone()),
            ("DOCKER_TLS_VERIFY", "1".to_string()),
            ("DOCKER_CERT_PATH", dir.to_string()),
        ]
    };
    let pairs = |v: &Vec<(&'static str, String)>| -> Vec<(&'static str, String)> { v.clone() };
    let run = |env: &[(&'static str, String)], before: &[&str]| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        doctor_line(fork, &env, before)
    };
    let mut steps = Steps::new("remote engine");

    steps.step(
        "TLS from DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH",
        || {
            let line = run(&pairs(&tls(certs)), &[]);
            ensure!(
                line.contains(&format!("{tcp} (TLS, DOCKER_HOST): server 20.10")),
                "{line}"
            );
            Ok(())
        },
    );

    // A docker context made by the docker CLI: DOCKER_CONTEXT, currentContext, --context (which
    // beats a DOCKER_HOST that points elsewhere).
    let config = s.dir.join("docker-config");
    let docker_cfg = |args: &[&str]| -> Result<()> {
        let out = Command::new("docker")
            .env("DOCKER_CONFIG", &config)
            .env_remove("DOCKER_HOST")
            .args(args)
            .output()?;
        ensure!(out.status.success(), "{}", text(&out.stderr));
        Ok(())
    };
    let cfg = ("DOCKER_CONFIG", config.to_string());
    let want = format!("{tcp} (TLS, docker context `remote`): server 20.10");
    steps.step(
        "a docker context made by the docker CLI, by DOCKER_CONTEXT",
        || {
            docker_cfg(&[
                "context",
                "create",
                "remote",
                "--docker",
                &format!("host={tcp},ca={certs}/ca.pem,cert={certs}/cert.pem,key={certs}/key.pem"),
            ])?;
            let line = run(&[cfg.clone(), ("DOCKER_CONTEXT", "remote".into())], &[]);
            ensure!(line.contains(&want), "DOCKER_CONTEXT: {line}");
            Ok(())
        },
    );
    steps.step("--context, over a DOCKER_HOST elsewhere", || {
        let elsewhere = ("DOCKER_HOST", NO_DAEMON.1.to_string());
        let line = run(&[cfg.clone(), elsewhere.clone()], &["--context", "remote"]);
        ensure!(line.contains(&want), "--context: {line}");
        Ok(())
    });
    steps.step("currentContext", || {
        docker_cfg(&["context", "use", "remote"])?;
        let line = run(std::slice::from_ref(&cfg), &[]);
        ensure!(line.contains(&want), "currentContext: {line}");
        Ok(())
    });

    // ssh://, the docker CLI's way (ssh … docker system dial-stdio), with the test's key.
    let path = format!(
        "{}:{}",
        r.work.join("bin"),
        std::env::var("PATH").unwrap_or_default()
    );
    let ssh_url = format!("ssh://root@127.0.0.1:{}", r.ssh);
    steps.step("ssh:// with the test's key", || {
        let line = run(
            &[("DOCKER_HOST", ssh_url.clone()), ("PATH", path.clone())],
            &[],
        );
        ensure!(
            line.contains(&format!("{ssh_url} (DOCKER_HOST): server 20.10")),
            "ssh: {line}"
        );
        Ok(())
    });

    // Failures, each naming the part that failed.
    let fails = |env: &[(&'static str, String)], words: &[&str]| -> Result<()> {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = xtask(&["--fork", fork, "down"], &env);
        let err = text(&out.stderr);
        ensure!(out.status.code() == Some(1), "exit {:?}: {err}", out.status);
        ensure!(!err.contains("panicked"), "{err}");
        for w in words {
            ensure!(err.contains(w), "{w:?} not in: {err}");
        }
        Ok(())
    };
    let other = format!("{certs}/other");
    steps.step("TLS: a server certificate another CA signed", || {
        fails(&tls(&other), &["TLS:", "not signed by", "other/ca.pem"])
    });
    let mixed = s.dir.join("mixed");
    steps.step("TLS: a client certificate the engine refuses", || {
        fs_err::create_dir_all(&mixed)?;
        fs_err::copy(format!("{certs}/ca.pem"), mixed.join("ca.pem"))?;
        for f in ["cert.pem", "key.pem"] {
            fs_err::copy(format!("{other}/{f}"), mixed.join(f))?;
        }
        fails(
            &tls(mixed.as_str()),
            &[
                "TLS:",
                "refused this client's certificate",
                "mixed/cert.pem",
            ],
        )
    });
    steps.step("TLS: the client key missing", || {
        fs_err::remove_file(mixed.join("key.pem"))?;
        fails(&tls(mixed.as_str()), &["mixed/key.pem is missing"])
    });
    steps.step("TLS: an engine that speaks TLS, reached without", || {
        fails(
            &[("DOCKER_HOST", tcp.clone())],
            &["the engine speaks TLS", "DOCKER_TLS_VERIFY"],
        )
    });
    // ssh without the key (the plain ssh, no identity the engine knows): authentication.
    steps.step("ssh: no key the engine knows", || {
        fails(
            &[
                ("DOCKER_HOST", ssh_url.clone()),
                ("HOME", s.dir.join("nohome").to_string()),
            ],
            &["ssh:", "check `ssh` to that host works"],
        )
    });

    // A fork the engine cannot see (its own filesystem): refused before anything is made there.
    let image = "moby-xtask-test/busybox:1";
    steps.step("a base image loaded into the engine", || {
        let base = workspace_root().join("tests/fixtures/base-image.sh");
        let made = Command::new(base.as_str())
            .args([image, tests::cache_dir().as_str()])
            .status()?;
        ensure!(made.success(), "base-image.sh");
        r.load(image)
    });
    let env = tls(certs);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // The dev image is built on that engine: the docker CLI with the same endpoint (here the
    // classic builder of an E1-style single-stage Dockerfile, FROM the image loaded there).
    steps.step("the dev image built on that engine", || {
        let e1 = s.dir.join("e1-fork");
        tests::copy_tree(&fixture_fork("e1"), &e1)?;
        fs_err::write(
            e1.join("Dockerfile"),
            format!("FROM {image}\nRUN echo built-there > /built\n"),
        )?;
        let branch = format!("xtask-remote-{}", std::process::id());
        let git = |args: &[&str]| -> Result<()> {
            let st = Command::new("git")
                .current_dir(&e1)
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                .args(args)
                .status()?;
            ensure!(st.success(), "git {args:?}");
            Ok(())
        };
        git(&["init", "-q", "-b", &branch])?;
        git(&["add", "-A"])?;
        git(&["commit", "-q", "-m", "fixture"])?;
        let no_buildx = s.dir.join("no-buildx");
        fs_err::create_dir_all(&no_buildx)?;
        let mut image_env = env.clone();
        image_env.push(("DOCKER_CONFIG", no_buildx.as_str()));
        let out = xtask(&["--fork", e1.as_str(), "image"], &image_env);
        ensure!(
            out.status.success(),
            "image on the remote engine: {}",
            text(&out.stderr)
        );
        let tag = format!("docker-dev:{branch}");
        ensure!(
            r.docker(&["run", "--rm", &tag, "cat", "/built"])?.trim() == "built-there",
            "the dev image is not on the remote engine"
        );
        let here = Command::new("docker")
            .env_remove("DOCKER_HOST")
            .args(["image", "inspect", &tag])
            .output()?;
        ensure!(
            !here.status.success(),
            "{tag} was built on this machine's engine"
        );
        Ok(())
    });
    // A fork that is not a git checkout: git lists what to sync, so it is refused first.
    steps.step("a fork that is not a git checkout, refused", || {
        let out = xtask(
            &["--fork", fork, "--image", image, "shell", "--", "true"],
            &env,
        );
        let err = text(&out.stderr);
        ensure!(out.status.code() == Some(1), "{err}");
        ensure!(
            err.contains("does not see") && err.contains("not a git checkout"),
            "{err}"
        );
        Ok(())
    });
    // Told that it shares the files when it does not: the engine's refusal, and what to change.
    steps.step("shares_files = \"yes\" on an engine that does not", || {
        fs_err::write(
            camino::Utf8Path::new(fork).join(".moby-xtask.toml"),
            "[engine]\nshares_files = \"yes\"\n",
        )?;
        let out = xtask(
            &["--fork", fork, "--image", image, "shell", "--", "true"],
            &env,
        );
        let err = text(&out.stderr);
        ensure!(out.status.code() == Some(1), "{err}");
        ensure!(
            err.contains("does not share this machine's files")
                && err.contains(fork)
                && err.contains("shares_files"),
            "{err}"
        );
        Ok(())
    });
    steps.step("nothing left or made on the engine", || {
        ensure!(
            r.docker(&["ps", "-aq"])?.trim().is_empty(),
            "a container was left on the engine"
        );
        let seen = Command::new("docker")
            .args(["exec", &r.name, "test", "-e", fork])
            .status()?;
        ensure!(!seen.success(), "{fork} was created on the engine");
        Ok(())
    });
    steps.finish();
    Ok(())
}

/// The fork's source on an engine with its own filesystem: synced into a volume there, over TLS
/// and over ssh; the bundles come back checked; edits, new and deleted files reach the build and
/// `shell`; `smoke` passes; nothing appears at the fork's path on the engine.
#[test]
fn synced_source_on_a_remote_engine() -> Result<()> {
    tests::e2e!();
    const OWNER: u32 = 1000;
    let s = Scratch::new("e2e-remote-sync");
    let r = Remote::start(&s, "sync")?;
    let image = MOBY_2010.dev_image()?;
    let (tcp, certs) = (r.tcp(), r.work.to_string());
    r.load(image)?;
    let g = tests::GitFork::of(&MOBY_2010, &s, OWNER)?;
    let tls = [
        ("DOCKER_HOST", tcp.as_str()),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", certs.as_str()),
    ];
    let path = format!(
        "{}:{}",
        r.work.join("bin"),
        std::env::var("PATH").unwrap_or_default()
    );
    let ssh_url = format!("ssh://root@127.0.0.1:{}", r.ssh);
    let ssh = [("DOCKER_HOST", ssh_url.as_str()), ("PATH", path.as_str())];
    let mut steps = Steps::new("synced source");

    steps.step(
        "binary over TLS: built there, bundles back, checked here",
        || {
            let out = g.xtask(image, &["binary"], &tls);
            let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
            ensure!(out.status.success(), "binary over TLS:\n{stdout}\n{stderr}");
            ensure!(
                stderr.contains("does not see") && stderr.contains("Syncing"),
                "{stderr}"
            );
            ensure!(
                stdout.contains("dockerd-dev") && stdout.contains("md5+sha256 ok"),
                "{stdout}"
            );
            let daemon_dir = g.fork.join("bundles/binary-daemon");
            let link = fs_err::read_link(daemon_dir.join("dockerd"))?;
            ensure!(link.to_str() == Some("dockerd-dev"), "dockerd -> {link:?}");
            use std::os::unix::fs::MetadataExt;
            let owner = fs_err::metadata(daemon_dir.join("dockerd-dev"))?.uid();
            ensure!(owner == OWNER, "bundles come back owned by {owner}");
            Ok(())
        },
    );

    // The fault matrix's two points that need an engine elsewhere (tests/faults_e2e.rs has the
    // others): a sync and a pull stopped half-way, by an error and by a signal. Each leaves the
    // fork the owner's, and the next command syncs and pulls what the stopped one did not.
    steps.step("failpoints mid-sync and mid-pull x {error, signal}", || {
        let md5 = g.fork.join("bundles/binary-daemon/dockerd-dev.md5");
        let note = g.fork.join("xtask-fault-note.txt");
        for (point, action, want) in [
            ("mid-sync", "error", 1),
            ("mid-sync", "signal", 130),
            ("mid-pull", "error", 1),
            ("mid-pull", "signal", 130),
        ] {
            // Something to send (a new file) and something to fetch (a bundle file gone here).
            fs_err::write(&note, format!("{point} {action}\n"))?;
            std::os::unix::fs::chown(&note, Some(OWNER), Some(OWNER))?;
            let _ = fs_err::remove_file(&md5);
            let armed = format!("{point}={action}");
            let env: Vec<(&str, &str)> = [("MOBY_XTASK_FAILPOINT", armed.as_str())]
                .into_iter()
                .chain(tls.iter().copied())
                .collect();
            let probe = ["shell", "--", "sh", "-c", "cat xtask-fault-note.txt"];
            let out = g.xtask(image, &probe, &env);
            let all = text(&out.stdout) + &text(&out.stderr);
            println!(
                "fault matrix: {armed}: shell -- cat -> exit {:?}",
                out.status.code()
            );
            ensure!(out.status.code() == Some(want), "{armed}: {all}");
            if action == "error" {
                ensure!(all.contains(&format!("failpoint {point}")), "{all}");
            }
            tests::owned_by(&g.fork, OWNER)?;
            ensure!(
                r.docker(&["ps", "-aq", "--filter", "label=dev.moby-xtask.role=oneshot"])?
                    .trim()
                    .is_empty(),
                "{armed}: a one-shot container was left on the engine"
            );
            let out = g.xtask(image, &probe, &tls);
            ensure!(
                out.status.success() && text(&out.stdout).contains(&format!("{point} {action}")),
                "after {armed}, the next command: {}",
                text(&out.stderr)
            );
            ensure!(
                md5.is_file(),
                "after {armed}, the next command did not pull bundles/ back"
            );
            tests::owned_by(&g.fork, OWNER)?;
        }
        fs_err::remove_file(&note)?;
        Ok(())
    });

    let marker = g.fork.join("daemon/xtask_sync_marker.go");
    steps.step("a new file that breaks the build reaches it (ssh)", || {
        fs_err::write(&marker, "package daemon\n\nfunc broken( {\n")?;
        let out = g.xtask(image, &["binary"], &ssh);
        let all = text(&out.stdout) + &text(&out.stderr);
        ensure!(!out.status.success(), "a broken file built:\n{all}");
        ensure!(all.contains("xtask_sync_marker.go"), "{all}");
        Ok(())
    });
    steps.step("and so does its deletion", || {
        fs_err::remove_file(&marker)?;
        let out = g.xtask(image, &["binary"], &ssh);
        ensure!(
            out.status.success(),
            "binary over ssh:\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        Ok(())
    });

    // An exec attach half-closes its side.
    steps.step(
        "a command's output and exit code back over ssh, 3 times",
        || {
            for _ in 0..3 {
                let out = g.xtask(
                    image,
                    &["shell", "--", "sh", "-c", "echo over-ssh; exit 3"],
                    &ssh,
                );
                ensure!(
                    out.status.code() == Some(3) && text(&out.stdout).contains("over-ssh"),
                    "shell over ssh: {:?}\n{}\n{}",
                    out.status,
                    text(&out.stdout),
                    text(&out.stderr)
                );
            }
            Ok(())
        },
    );

    steps.step("an edit and a deleted tracked file, seen by shell", || {
        let mut daemon_go = fs_err::read_to_string(g.fork.join("daemon/daemon.go"))?;
        daemon_go.push_str("// synced edit\n");
        fs_err::write(g.fork.join("daemon/daemon.go"), daemon_go)?;
        fs_err::remove_file(g.fork.join("AUTHORS"))?;
        let out = g.xtask(
            image,
            &[
                "shell",
                "--",
                "sh",
                "-c",
                "tail -1 daemon/daemon.go; test ! -e AUTHORS && test ! -e daemon/xtask_sync_marker.go && echo gone",
            ],
            &tls,
        );
        let stdout = text(&out.stdout);
        ensure!(
            stdout.contains("// synced edit") && stdout.contains("gone"),
            "{stdout}\n{}",
            text(&out.stderr)
        );
        Ok(())
    });

    steps.step("smoke: the daemon built there starts there", || {
        let out = g.xtask(image, &["smoke"], &tls);
        let stdout = text(&out.stdout);
        ensure!(
            out.status.success() && stdout.contains("smoke: PASS"),
            "{stdout}\n{}",
            text(&out.stderr)
        );
        Ok(())
    });

    // Ctrl-C while a large new file goes up.
    let big = g.fork.join("xtask-big.bin");
    steps.step(
        "a sync interrupted half-way: exit 130, the next command repairs it",
        || {
            let made = Command::new("sh")
                .arg("-c")
                .arg(format!("head -c 600M /dev/urandom > {big}"))
                .status()?;
            ensure!(made.success(), "making {big}");
            let md5 = |out: &std::process::Output| {
                text(&out.stdout)
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string()
            };
            let want = md5(&Command::new("md5sum").arg(big.as_str()).output()?);
            let mut env: Vec<(&str, &str)> = tls.to_vec();
            env.push(("HOME", g.home.as_str()));
            let args = [
                "--fork",
                g.fork.as_str(),
                "--image",
                image,
                "shell",
                "--",
                "true",
            ];
            let mut run = tests::Running::spawn(&args, &env)?;
            run.wait_for("Syncing", Duration::from_secs(60))?;
            run.signal("INT")?;
            let (code, out) = run.finish(Duration::from_secs(60))?;
            ensure!(code == Some(130), "interrupted sync: {code:?}\n{out}");
            let out = g.xtask(image, &["shell", "--", "md5sum", "xtask-big.bin"], &tls);
            ensure!(
                md5(&out) == want,
                "after the repair: {}\n{}",
                text(&out.stdout),
                text(&out.stderr)
            );
            fs_err::remove_file(&big)?;
            Ok(())
        },
    );
    // Not left for the steps after a failure above.
    let _ = std::fs::remove_file(&big);

    steps.step("clean takes the synced copy too", || {
        let out = g.xtask(image, &["clean"], &tls);
        ensure!(
            out.status.success()
                && text(&out.stdout).contains("removing source volume moby-xtask-src-"),
            "{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        ensure!(
            !r.docker(&["volume", "ls", "-q"])?
                .contains("moby-xtask-src-"),
            "the source volume is still on the engine"
        );
        Ok(())
    });

    steps.step("nothing made at the fork's path on the engine", || {
        let seen = Command::new("docker")
            .args(["exec", &r.name, "test", "-e", g.fork.as_str()])
            .status()?;
        ensure!(!seen.success(), "{} was created on the engine", g.fork);
        Ok(())
    });
    steps.finish();
    Ok(())
}
