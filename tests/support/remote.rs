//! A "remote" Docker engine for the tests (`fixtures/remote-engine.sh`): Debian's dockerd in a
//! container with its own filesystem, reached only through 127.0.0.1, TLS with certificates the
//! test made and ssh with a key the test made (the real `ssh`, through a wrapper first on PATH
//! that gives it the test's config). Removed when dropped.

use std::process::Command;

use anyhow::{ensure, Context as _, Result};
use camino::Utf8PathBuf;

use super::{text, workspace_root, Scratch, MOBY_2010};

/// The remote engine container, removed on drop.
pub struct Remote {
    pub name: String,
    pub tls: String,
    pub ssh: String,
    pub work: Utf8PathBuf,
}

impl Drop for Remote {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-fv", &self.name])
            .output();
    }
}

impl Remote {
    pub fn start(scratch: &Scratch, tag: &str) -> Result<Remote> {
        let base = MOBY_2010.dev_image()?;
        let name = format!("moby-xtask-test-remote-{tag}-{}", std::process::id());
        let work = scratch.dir.join(format!("remote-{tag}"));
        let script = workspace_root().join("tests/fixtures/remote-engine.sh");
        let out = Command::new(script.as_str())
            .args([base, &name, work.as_str()])
            .output()?;
        let mut remote = Remote {
            name,
            tls: String::new(),
            ssh: String::new(),
            work,
        };
        ensure!(
            out.status.success(),
            "remote engine did not start:\n{}",
            text(&out.stderr)
        );
        let ports = text(&out.stdout);
        let mut it = ports.split_whitespace();
        remote.tls = it.next().context("tls port")?.to_string();
        remote.ssh = it.next().context("ssh port")?.to_string();
        // The real ssh, told where the test's key and config are (ssh reads ~/.ssh of the
        // passwd entry, not $HOME): a wrapper first on PATH.
        let bin = remote.work.join("bin");
        fs_err::create_dir_all(&bin)?;
        let config = remote.work.join("ssh_config");
        fs_err::write(
            &config,
            format!(
                "Host 127.0.0.1\n  IdentityFile {}/id_ed25519\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n",
                remote.work
            ),
        )?;
        let ssh = bin.join("ssh");
        fs_err::write(
            &ssh,
            format!("#!/bin/sh\nexec /usr/bin/ssh -F {config} \"$@\"\n"),
        )?;
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(&ssh, std::fs::Permissions::from_mode(0o755))?;
        Ok(remote)
    }

    pub fn tcp(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.tls)
    }

    /// `image` from this machine's engine into the remote one.
    pub fn load(&self, image: &str) -> Result<()> {
        let load = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "docker save {image} | DOCKER_HOST={} DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH={} docker load -q",
                self.tcp(),
                self.work
            ))
            .status()?;
        ensure!(load.success(), "loading {image} into the remote engine");
        Ok(())
    }

    /// The docker CLI against the remote engine, over TLS.
    pub fn docker(&self, args: &[&str]) -> Result<String> {
        let out = Command::new("docker")
            .env("DOCKER_HOST", self.tcp())
            .env("DOCKER_TLS_VERIFY", "1")
            .env("DOCKER_CERT_PATH", &self.work)
            .args(args)
            .output()?;
        ensure!(
            out.status.success(),
            "docker {args:?}: {}",
            text(&out.stderr)
        );
        Ok(text(&out.stdout))
    }

    /// `ssh://root@127.0.0.1:<port>`, the engine over ssh.
    pub fn ssh_url(&self) -> String {
        format!("ssh://root@127.0.0.1:{}", self.ssh)
    }

    /// `PATH` with the ssh wrapper (the test's key and config) first.
    pub fn ssh_path(&self) -> String {
        format!(
            "{}:{}",
            self.work.join("bin"),
            std::env::var("PATH").unwrap_or_default()
        )
    }
}
