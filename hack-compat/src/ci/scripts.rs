//! What the shell steps of moby's test workflows compute, read from their `run:` text the way
//! the Makefile is read: a mode's `Prepare` step (`if [[ "$MODE" == *"userns"* ]]; then echo
//! "DOCKER_REMAP_ROOT=default" >> $GITHUB_ENV`), the validate matrix (`ls -I … hack/validate`
//! or `jq '$ARGS.positional - […] …' --args *`), the gotestlist command of
//! `integration-cli-prepare`, and a test step's `make` line.

/// The variables a `Prepare` script writes to `$GITHUB_ENV`: lines inside `if` blocks count
/// when their condition holds. `value` gives what a `"$VAR"` or interpolated operand is.
/// Values that are themselves shell expansions (`${CACHE_DEV_SCOPE}`) are the runner's own
/// bookkeeping and left out.
pub fn env_written(script: &str, value: &dyn Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    let mut conds: Vec<bool> = Vec::new();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in script.lines().map(str::trim) {
        if let Some(test) = line.strip_prefix("if ") {
            conds.push(condition(test, value).unwrap_or(false));
        } else if line == "fi" {
            conds.pop();
        } else if let Some(assign) = echoed(line) {
            if conds.iter().all(|c| *c) {
                if let Some((k, v)) = assign.split_once('=') {
                    if !v.contains('$') && !k.is_empty() {
                        out.retain(|(name, _)| name != k);
                        out.push((k.to_string(), v.to_string()));
                    }
                }
            }
        }
    }
    out
}

/// `echo "NAME=VALUE" >> $GITHUB_ENV`: `NAME=VALUE`.
fn echoed(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("echo ")?;
    let (what, target) = rest.split_once(">>")?;
    let target = target.trim().trim_matches('"');
    (target == "$GITHUB_ENV" || target == "${GITHUB_ENV}")
        .then(|| what.trim().trim_matches(['"', '\'']))
}

/// `[[ "X" == *"sub"* ]]; then` (contains) or `[ "X" = "v" ]; then` (equals).
fn condition(test: &str, value: &dyn Fn(&str) -> Option<String>) -> Option<bool> {
    let inner = test
        .trim_end_matches("; then")
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim();
    let (left, op, right) = ["==", "!=", "="].into_iter().find_map(|op| {
        inner
            .split_once(&format!(" {op} "))
            .map(|(l, r)| (l, op, r))
    })?;
    let left = value(left.trim().trim_matches('"'))?;
    let right = right.trim();
    let holds = match right
        .strip_prefix("*\"")
        .and_then(|r| r.strip_suffix("\"*"))
    {
        Some(sub) => left.contains(sub),
        None => left == right.trim_matches('"'),
    };
    Some(if op == "!=" { !holds } else { holds })
}

/// The validate checks the prepare step lists from `hack/validate/`'s `entries` (sorted as
/// the shell's `*` and `ls` sort them here, byte order).
pub fn validate_matrix(script: &str, entries: &[String]) -> Option<Vec<String>> {
    let mut names: Vec<String> = entries.to_vec();
    names.sort();
    if let Some(jq) = script.find("$ARGS.positional") {
        let prog = &script[jq..];
        let list = |after: &str| -> Option<Vec<String>> {
            let at = prog.find(after)? + after.len();
            let end = prog[at..].find(']')? + at;
            serde_json::from_str(&format!("[{}]", &prog[at..end])).ok()
        };
        let minus = list("- [").unwrap_or_default();
        // `--args *`: the glob leaves dot-files out.
        names.retain(|n| !n.starts_with('.') && !minus.contains(n));
        if prog.contains(r#"test("[.]")|not"#) {
            names.retain(|n| !n.contains('.'));
        }
        names.extend(list("+ [").unwrap_or_default());
        return Some(names);
    }
    let ls = script.find("ls ")?;
    let line = script[ls..].lines().next()?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let ignored: Vec<&str> = words
        .windows(2)
        .filter(|w| w[0] == "-I")
        .map(|w| w[1])
        .collect();
    let all = words.contains(&"-A") || words.contains(&"-a");
    names.retain(|n| (all || !n.starts_with('.')) && !ignored.contains(&n.as_str()));
    Some(names)
}

/// `gotestlist -d N -o X … PATTERN…` in `script` (interpolated): N, the overrides (each `-o`
/// split at commas, as its flag parser does) and the patterns.
pub fn gotestlist(script: &str) -> Option<(usize, Vec<String>, Vec<String>)> {
    let line = script.lines().find(|l| l.contains("gotestlist "))?;
    let words = shell_words(&line[line.find("gotestlist ")? + "gotestlist ".len()..]);
    let (mut n, mut overrides, mut patterns) = (None, Vec::new(), Vec::new());
    let mut it = words.into_iter();
    while let Some(w) = it.next() {
        match w.as_str() {
            "-d" => n = it.next()?.parse().ok(),
            "-o" => overrides.extend(it.next()?.split(',').map(str::to_string)),
            w if w.starts_with('-') => return None,
            _ => patterns.push(w),
        }
    }
    Some((n?, overrides, patterns))
}

/// Words of a command line: spaces split, double and single quotes group, up to a `)` that
/// closes `$(…)`.
fn shell_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    let mut started = false;
    for c in s.chars() {
        match (quote, c) {
            (None, '"' | '\'') => {
                quote = Some(c);
                started = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, ')') => break,
            (None, c) if c.is_whitespace() => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            (_, c) => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(cur);
    }
    out
}

/// Variables, name and value, in order.
pub type Vars = Vec<(String, String)>;

/// A test step's `make` line: its `NAME=VALUE` words (make variables) and its targets and
/// options (`-o build test-integration`).
pub fn make_line(script: &str) -> Option<(Vars, Vec<String>)> {
    let line = script
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("make "))?;
    let (mut vars, mut args) = (Vec::new(), Vec::new());
    for w in shell_words(&line["make ".len()..]) {
        match w.split_once('=') {
            Some((k, v))
                if !w.starts_with('-')
                    && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                vars.push((k.to_string(), v.to_string()))
            }
            _ => args.push(w),
        }
    }
    Some((vars, args))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prepare_step_by_mode() {
        let script = r#"CACHE_DEV_SCOPE=dev-${ARCH}
if [[ "$MODE" == *"rootless"* ]]; then
  echo "DOCKER_ROOTLESS=1" >> $GITHUB_ENV
fi
if [[ "$MODE" == *"userns"* ]]; then
  echo "DOCKER_REMAP_ROOT=default" >> $GITHUB_ENV
fi
if [[ "$MODE" == *"systemd"* ]]; then
  echo "SYSTEMD=true" >> $GITHUB_ENV
  CACHE_DEV_SCOPE="dev-systemd-${ARCH}"
fi
echo "CACHE_DEV_SCOPE=${CACHE_DEV_SCOPE}" >> $GITHUB_ENV
"#;
        let mode = |m: &'static str| move |v: &str| (v == "$MODE").then(|| m.to_string());
        assert_eq!(
            env_written(script, &mode("userns")),
            [("DOCKER_REMAP_ROOT".to_string(), "default".to_string())]
        );
        assert_eq!(
            env_written(script, &mode("rootless-systemd")),
            [
                ("DOCKER_ROOTLESS".to_string(), "1".to_string()),
                ("SYSTEMD".to_string(), "true".to_string())
            ]
        );
        assert!(env_written(script, &mode("")).is_empty());
        let eq = "if [ \"${{ matrix.mode }}\" = \"systemd\" ]; then\n  echo \"SYSTEMD=true\" >> $GITHUB_ENV\nfi\n";
        let m = |v: &str| (v == "${{ matrix.mode }}").then(|| "systemd".to_string());
        assert_eq!(env_written(eq, &m).len(), 1);
    }

    #[test]
    fn the_validate_matrix_both_ways() {
        let entries: Vec<String> = [
            ".validate",
            "all",
            "dco",
            "default",
            "golangci-lint",
            "golangci-lint.yml",
            "vendor",
        ]
        .map(String::from)
        .to_vec();
        let jq = r#"scripts=$(cd ./hack/validate && jq -nc '$ARGS.positional - ["all", "default", "dco"] | map(select(test("[.]")|not)) + ["generate-files"]' --args *)"#;
        assert_eq!(
            validate_matrix(jq, &entries).unwrap(),
            ["golangci-lint", "vendor", "generate-files"]
        );
        let ls = r#"scripts=$(jq -ncR '[inputs]' <<< "$(ls -I .validate -I all -I default -I dco -I golangci-lint.yml -I yamllint.yaml -A ./hack/validate/)")"#;
        assert_eq!(
            validate_matrix(ls, &entries).unwrap(),
            ["golangci-lint", "vendor"]
        );
    }

    #[test]
    fn the_gotestlist_and_make_lines() {
        let s = r#"matrix="$(gotestlist -d 6 -o "./..." -o "DockerSwarmSuite" -o "A|B" ./...)""#;
        let (n, o, p) = gotestlist(s).unwrap();
        assert_eq!(
            (n, o.as_slice(), p.as_slice()),
            (
                6,
                &["./...".to_string(), "DockerSwarmSuite".into(), "A|B".into()][..],
                &["./...".to_string()][..]
            )
        );
        let (vars, args) =
            make_line("make TEST_SKIP_INTEGRATION_CLI=1 -o build test-docker-py\n").unwrap();
        assert_eq!(
            vars,
            [("TEST_SKIP_INTEGRATION_CLI".to_string(), "1".to_string())]
        );
        assert_eq!(args, ["-o", "build", "test-docker-py"]);
        let (_, args) = make_line(r#"make -o build "validate-golangci-lint""#).unwrap();
        assert_eq!(args, ["-o", "build", "validate-golangci-lint"]);
    }
}
