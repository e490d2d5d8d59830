//! What the fork's Makefile says: `DOCKER_ENVS`, the cache volumes, the in-container source path.

/// A named volume the Makefile mounts for Go caches, e.g. `docker-dev-cache:/root/.cache`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheMount {
    pub volume: String,
    pub target: String,
}

/// The logical lines of a Makefile assignment `NAME :=`/`=`/`?=`, continuation lines joined.
fn assignment(makefile: &str, name: &str) -> Option<String> {
    let mut lines = makefile.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.trim_start().strip_prefix(name) else {
            continue;
        };
        let rest = rest.trim_start();
        let value = [":=", "?=", "="]
            .iter()
            .find_map(|op| rest.strip_prefix(op));
        let Some(value) = value else { continue };
        let mut out = String::new();
        let mut cur = value;
        loop {
            match cur.trim_end().strip_suffix('\\') {
                Some(head) => {
                    out.push_str(head);
                    out.push(' ');
                    match lines.next() {
                        Some(next) => cur = next,
                        None => break,
                    }
                }
                None => {
                    out.push_str(cur);
                    break;
                }
            }
        }
        return Some(out);
    }
    None
}

/// Every `-e NAME` in `DOCKER_ENVS`, also inside `$(if $(X),-e X)` wrappers; `None` if absent.
pub(crate) fn docker_envs(makefile: &str) -> Option<Vec<String>> {
    let value = assignment(makefile, "DOCKER_ENVS")?;
    let mut names: Vec<String> = Vec::new();
    // Split on whitespace, commas and parentheses so that `$(if $(X),-e X)` yields `-e`, `X`.
    let tokens: Vec<&str> = value
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .filter(|t| !t.is_empty())
        .collect();
    for pair in tokens.windows(2) {
        if pair[0] == "-e" {
            let name = pair[1].split('=').next().unwrap_or_default();
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if valid && !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
    }
    if names.is_empty() {
        None
    } else {
        Some(names)
    }
}

/// The Go cache volumes of the era: `PKGCACHE_MAP` (E1–E3) or `-v <name>:<path>` (E4+).
pub(crate) fn go_caches(makefile: &str) -> Vec<CacheMount> {
    if let Some(map) = assignment(makefile, "PKGCACHE_MAP") {
        let root = assignment(makefile, "PKGCACHE_VOLROOT")
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "dockerdev-go-pkg-cache".to_string());
        return map
            .split_whitespace()
            .filter_map(|entry| entry.split_once(':'))
            .map(|(key, target)| CacheMount {
                volume: format!("{root}-{key}"),
                target: target.to_string(),
            })
            .collect();
    }
    let Some(value) = assignment(makefile, "DOCKER_MOUNT_CACHE") else {
        return Vec::new();
    };
    let tokens: Vec<&str> = value.split_whitespace().collect();
    tokens
        .windows(2)
        .filter(|p| p[0] == "-v")
        .filter_map(|p| {
            let (volume, target) = p[1].trim_matches('"').split_once(':')?;
            let named = !volume.is_empty() && !volume.contains(['/', '$']);
            named.then(|| CacheMount {
                volume: volume.to_string(),
                target: target.trim_end_matches(':').to_string(),
            })
        })
        .collect()
}

/// The bind mount target before `/$(BIND_DIR)`, e.g. `/go/src/github.com/docker/docker`.
pub(crate) fn src_path(makefile: &str) -> Option<String> {
    let marker = "/$(BIND_DIR)";
    makefile.lines().find_map(|line| {
        line.match_indices(marker).find_map(|(end, _)| {
            let head = &line[..end];
            let start = head.rfind(':')? + 1;
            let path = &head[start..];
            (path.starts_with('/') && !path.contains('$')).then(|| path.to_string())
        })
    })
}

/// `"workspaceFolder": "/usr/src/moby"` in `.devcontainer/devcontainer.json`.
pub(crate) fn devcontainer_src(json: &str) -> Option<String> {
    let rest = &json[json.find("\"workspaceFolder\"")? + "\"workspaceFolder\"".len()..];
    let rest = rest
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let path = &rest[..rest.find('"')?];
    path.starts_with('/').then(|| path.to_string())
}

/// The last absolute `WORKDIR` of the Dockerfile that looks like the engine's source dir.
pub(crate) fn dockerfile_workdir(dockerfile: &str) -> Option<String> {
    dockerfile
        .lines()
        .rev()
        .filter_map(|l| l.trim().strip_prefix("WORKDIR "))
        .map(str::trim)
        .find(|p| p.ends_with("/docker/docker") || p.ends_with("/moby"))
        .map(str::to_string)
}
