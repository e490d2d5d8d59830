//! What the fork's Dockerfile needs to build its dev image: BuildKit or not, and which files of
//! the build context it reads (so that a content hash can tell when a rebuild is due). The whole
//! source (`COPY . …`) is deliberately not an input: the dev container bind-mounts it anyway.

/// True when the Dockerfile uses syntax only BuildKit accepts (E4 on).
pub fn needs_buildkit(dockerfile: &str) -> bool {
    let first = dockerfile.lines().next().unwrap_or_default();
    first.starts_with("# syntax=")
        || instructions(dockerfile).any(|(op, args)| {
            (op == "RUN" && args.contains("--mount="))
                || args.contains("<<")
                || (matches!(op.as_str(), "COPY" | "ADD")
                    && (args.contains("--link") || args.contains("--chmod")))
        })
}

/// Context paths the build reads: `COPY`/`ADD` sources without `--from`, and
/// `RUN --mount=type=bind,source=…` without `from=`; the whole context (`.`) excluded.
pub fn context_inputs(dockerfile: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (op, args) in instructions(dockerfile) {
        let words: Vec<&str> = args.split_whitespace().collect();
        match op.as_str() {
            "COPY" | "ADD" => {
                if words.iter().any(|w| w.starts_with("--from="))
                    || args.trim_start().starts_with('[')
                {
                    continue;
                }
                let paths: Vec<&str> = words
                    .iter()
                    .copied()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                if let Some((_dest, sources)) = paths.split_last() {
                    out.extend(sources.iter().map(|s| s.to_string()));
                }
            }
            "RUN" => {
                for w in words.iter().filter_map(|w| w.strip_prefix("--mount=")) {
                    let opts: Vec<(&str, &str)> =
                        w.split(',').filter_map(|kv| kv.split_once('=')).collect();
                    let get = |k: &str| opts.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
                    if get("type") == Some("bind") && get("from").is_none() {
                        out.push(get("source").or(get("src")).unwrap_or(".").to_string());
                    }
                }
            }
            _ => {}
        }
    }
    let whole = |p: &str| matches!(p.trim_end_matches('/'), "" | ".");
    let mut inputs: Vec<String> = out
        .into_iter()
        .map(|p| p.trim_start_matches("./").to_string())
        .filter(|p| !whole(p))
        .collect();
    inputs.sort();
    inputs.dedup();
    inputs
}

/// `(INSTRUCTION, arguments)` per logical line: continuations joined, comments dropped.
fn instructions(dockerfile: &str) -> impl Iterator<Item = (String, String)> + '_ {
    let mut logical = Vec::new();
    let mut cur = String::new();
    for line in dockerfile.lines() {
        let t = line.trim();
        if t.starts_with('#') && cur.is_empty() {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(head) => {
                cur.push_str(head);
                cur.push(' ');
            }
            None => {
                cur.push_str(t);
                if !cur.trim().is_empty() {
                    logical.push(std::mem::take(&mut cur));
                }
                cur.clear();
            }
        }
    }
    logical.into_iter().map(|l| {
        let l = l.trim().to_string();
        match l.split_once(char::is_whitespace) {
            Some((op, rest)) => (op.to_ascii_uppercase(), rest.trim().to_string()),
            None => (l.to_ascii_uppercase(), String::new()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buildkit_signals() {
        assert!(needs_buildkit("# syntax=docker/dockerfile:1\nFROM x\n"));
        assert!(needs_buildkit(
            "FROM x\nRUN --mount=type=cache,target=/root/.cache \\\n  go build\n"
        ));
        assert!(needs_buildkit("FROM x\nCOPY --link a /a\n"));
        assert!(!needs_buildkit(
            "FROM debian:jessie\nRUN apt-get update\nCOPY . /go/src/x\n"
        ));
    }

    #[test]
    fn inputs_skip_whole_context_and_other_stages() {
        let df = "FROM a AS base\n\
                  COPY hack/dockerfile/install/install.sh ./install.sh\n\
                  COPY --from=base /x /y\n\
                  COPY ./contrib/dockerd-rootless.sh contrib/x.sh /usr/local/bin/\n\
                  RUN --mount=type=bind,source=hack/dockerfile/cli.sh,target=/cli.sh \\\n    --mount=type=bind,target=. \\\n    --mount=type=bind,from=base,source=/x,target=/y true\n\
                  COPY . /go/src/github.com/docker/docker\n\
                  COPY --link . .\n";
        assert_eq!(
            context_inputs(df),
            vec![
                "contrib/dockerd-rootless.sh",
                "contrib/x.sh",
                "hack/dockerfile/cli.sh",
                "hack/dockerfile/install/install.sh"
            ]
        );
    }
}
