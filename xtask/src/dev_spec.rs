//! The dev container as data: image, mounts, workdir, entrypoint, and the env of one command.
//! Built from the fork (hack-compat) and the host; used both to create the container through the
//! Engine API and to print the equivalent `docker run` line for `--dry-run`.

use hack_compat::Fork;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    Bind { source: String, target: String },
    Volume { name: String, target: String },
}

impl Mount {
    /// The `-v` / `Binds` form, `source:target`.
    pub fn bind_spec(&self) -> String {
        match self {
            Mount::Bind { source, target } => format!("{source}:{target}"),
            Mount::Volume { name, target } => format!("{name}:{target}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DevSpec {
    pub image: String,
    pub fork_root: String,
    pub workdir: String,
    pub mounts: Vec<Mount>,
    /// The fork's `hack/dind`, as every era's dev image runs it (relative to the workdir).
    pub entrypoint: Vec<String>,
    /// Variables for the command: the allowlisted host ones, then `DOCKER_GITCOMMIT`.
    pub env: Vec<(String, String)>,
}

impl DevSpec {
    pub fn new(
        fork: &Fork,
        image: String,
        passthrough: Vec<(String, String)>,
        commit: Option<&str>,
    ) -> DevSpec {
        let mut mounts = vec![Mount::Bind {
            source: fork.root.to_string(),
            target: fork.src_path.clone(),
        }];
        mounts.extend(fork.go_caches.iter().map(|c| Mount::Volume {
            name: c.volume.clone(),
            target: c.target.clone(),
        }));
        let entrypoint = if fork.root.join("hack/dind").is_file() {
            vec!["hack/dind".to_string()]
        } else {
            Vec::new()
        };
        let mut env = passthrough;
        if let Some(c) = commit {
            env.push(("DOCKER_GITCOMMIT".to_string(), c.to_string()));
        }
        DevSpec {
            image,
            fork_root: fork.root.to_string(),
            workdir: fork.src_path.clone(),
            mounts,
            entrypoint,
            env,
        }
    }

    /// What identifies a reusable dev container: mounts and entrypoint (the image id is separate).
    pub fn mounts_label(&self) -> String {
        let mut parts: Vec<String> = self.mounts.iter().map(Mount::bind_spec).collect();
        parts.extend(self.entrypoint.iter().map(|e| format!("entrypoint={e}")));
        parts.join(",")
    }

    pub fn env_strings(&self) -> Vec<String> {
        self.env.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// The plain `docker run` that does the same work as one command in the dev container.
    pub fn docker_run_line(&self, cmd: &[String]) -> String {
        let mut args: Vec<String> = ["docker", "run", "--rm", "-i", "--privileged", "--init"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for m in &self.mounts {
            args.push("-v".into());
            args.push(m.bind_spec());
        }
        args.push("-w".into());
        args.push(self.workdir.clone());
        for (k, v) in &self.env {
            args.push("-e".into());
            args.push(format!("{k}={v}"));
        }
        if let Some(ep) = self.entrypoint.first() {
            args.push("--entrypoint".into());
            args.push(ep.clone());
        }
        args.push(self.image.clone());
        args.extend(cmd.iter().cloned());
        args.iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Quote for a POSIX shell only where needed.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("hack/make.sh"), "hack/make.sh");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
