//! The Go tests of a directory, as `go test` (and gotestlist, which moby's CI splits with) sees
//! them: the `_test.go` files `go/build` selects for a platform (file-name `_GOOS`/`_GOARCH`
//! suffixes, `//go:build` or old `// +build` lines), and in them each `Test…`, `Benchmark…`
//! and `Fuzz…` function with one `*testing.T`/`*testing.B`/`*testing.F` parameter and no
//! result, the character after the prefix not lower-case; a method's receiver type (pointer or
//! not) names its suite (gocheck's `Test…(c *check.C)` methods, up to 17.06, count as well). The one home of "what is a Go test" for the split and the shards.

use camino::{Utf8Path, Utf8PathBuf};

/// The platform the files are selected for (`go env GOOS GOARCH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    pub os: &'static str,
    pub arch: &'static str,
}

impl Platform {
    /// Linux on this machine's architecture, in Go's names.
    pub fn linux_here() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            "arm" => "arm",
            _ => "amd64",
        };
        Platform { os: "linux", arch }
    }

    /// Whether build tag `tag` holds: the OS, the architecture, `unix` for a Unix OS, `cgo`
    /// and `gc` (go/build's defaults on Linux), and every `go1.N` release tag.
    fn has(&self, tag: &str) -> bool {
        tag == self.os
            || tag == self.arch
            || (tag == "unix" && UNIX.contains(&self.os))
            || tag == "cgo"
            || tag == "gc"
            || tag
                .strip_prefix("go1.")
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    }
}

/// One test function.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoTest {
    /// The receiver's type without `*`, for a suite's method.
    pub suite: Option<String>,
    /// Whether that receiver is a pointer (`(s *DockerSuite)`).
    pub by_pointer: bool,
    pub name: String,
}

const UNIX: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "linux",
    "netbsd",
    "openbsd",
    "solaris",
];
const OSES: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
    "zos",
];
const ARCHES: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

/// The `_test.go` files of `dir` (not below it) that build on `p`, sorted.
pub fn test_files(dir: &Utf8Path, p: Platform) -> Vec<Utf8PathBuf> {
    let Ok(entries) = dir.read_dir_utf8() else {
        return Vec::new();
    };
    let mut files: Vec<Utf8PathBuf> = entries
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            n.ends_with("_test.go") && !n.starts_with(['_', '.']) && name_builds(n, p)
        })
        .map(|e| e.into_path())
        .filter(|f| f.is_file())
        .collect();
    files.sort();
    files
}

/// The tests of `dir`'s files that build on `p`, in file order.
pub fn tests_in(dir: &Utf8Path, p: Platform) -> Vec<GoTest> {
    test_files(dir, p)
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .filter(|text| constraints_hold(text, p))
        .flat_map(|text| tests_of(&text))
        .collect()
}

/// Whether a file name's `_GOOS`, `_GOARCH` or `_GOOS_GOARCH` ending (before `_test.go`)
/// allows `p`.
fn name_builds(name: &str, p: Platform) -> bool {
    let stem = name.trim_end_matches(".go").trim_end_matches("_test");
    let parts: Vec<&str> = stem.split('_').collect();
    let n = parts.len();
    let last = |i: usize| (n > i).then(|| parts[n - 1 - i]);
    match (last(1), last(0)) {
        (Some(os), Some(arch)) if n > 2 && OSES.contains(&os) && ARCHES.contains(&arch) => {
            os == p.os && arch == p.arch
        }
        (_, Some(x)) if n > 1 && OSES.contains(&x) => {
            x == p.os || (x == "linux" && p.os == "android")
        }
        (_, Some(x)) if n > 1 && ARCHES.contains(&x) => x == p.arch,
        _ => true,
    }
}

/// Whether the file's build constraints (its `//go:build` line, else its `// +build` lines,
/// in the header before `package`) hold on `p`.
pub(crate) fn constraints_hold(text: &str, p: Platform) -> bool {
    let mut plus = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with("package ") {
            break;
        }
        if let Some(expr) = l.strip_prefix("//go:build ") {
            return eval(&tokens(expr), p).unwrap_or(false);
        }
        if let Some(opts) = l.strip_prefix("// +build ") {
            plus.push(opts.to_string());
        }
    }
    // `// +build a,b c` is (a && b) || c; several lines must all hold.
    plus.iter().all(|line| {
        line.split_whitespace().any(|alt| {
            alt.split(',').all(|t| match t.strip_prefix('!') {
                Some(t) => !p.has(t),
                None => p.has(t),
            })
        })
    })
}

fn tokens(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        let op = match c {
            '(' | ')' | '!' => Some(c.to_string()),
            '&' | '|' if chars.peek() == Some(&c) => {
                chars.next();
                Some(format!("{c}{c}"))
            }
            _ => None,
        };
        if op.is_some() || c.is_whitespace() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            out.extend(op);
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A `//go:build` expression: `||` over `&&` over `!` and parentheses. `None`: malformed.
fn eval(toks: &[String], p: Platform) -> Option<bool> {
    let mut pos = 0;
    let v = or(toks, &mut pos, p)?;
    (pos == toks.len()).then_some(v)
}

fn or(t: &[String], pos: &mut usize, p: Platform) -> Option<bool> {
    let mut v = and(t, pos, p)?;
    while t.get(*pos).map(String::as_str) == Some("||") {
        *pos += 1;
        v |= and(t, pos, p)?;
    }
    Some(v)
}

fn and(t: &[String], pos: &mut usize, p: Platform) -> Option<bool> {
    let mut v = unary(t, pos, p)?;
    while t.get(*pos).map(String::as_str) == Some("&&") {
        *pos += 1;
        v &= unary(t, pos, p)?;
    }
    Some(v)
}

fn unary(t: &[String], pos: &mut usize, p: Platform) -> Option<bool> {
    let tok = t.get(*pos)?.as_str();
    *pos += 1;
    match tok {
        "!" => unary(t, pos, p).map(|v| !v),
        "(" => {
            let v = or(t, pos, p)?;
            (t.get(*pos).map(String::as_str) == Some(")")).then(|| *pos += 1)?;
            Some(v)
        }
        "&&" | "||" | ")" => None,
        tag => Some(p.has(tag)),
    }
}

/// The test functions declared in one file's text.
fn tests_of(text: &str) -> Vec<GoTest> {
    text.lines()
        .filter_map(|l| l.strip_prefix("func"))
        .filter(|rest| rest.starts_with([' ', '(']))
        .filter_map(|rest| declared_test(rest.trim_start()))
        .collect()
}

/// `(s *Suite) TestX(c *testing.T) {` or `TestX(t *testing.T) {`, after `func `.
fn declared_test(sig: &str) -> Option<GoTest> {
    let (suite, by_pointer, rest) = match sig.strip_prefix('(') {
        Some(r) => {
            let (recv, rest) = r.split_once(')')?;
            let written = recv.split_whitespace().last()?;
            let ty = written.trim_start_matches('*').split('[').next()?;
            (
                Some(ty.to_string()),
                written.starts_with('*'),
                rest.trim_start(),
            )
        }
        None => (None, false, sig),
    };
    let (name, rest) = rest.split_once('(')?;
    let name = name.trim();
    let (params, after) = rest.split_once(')')?;
    let kind = ["Test", "Benchmark", "Fuzz"]
        .into_iter()
        .find_map(|k| name.strip_prefix(k).map(|tail| (k, tail)));
    let (prefix, tail) = kind?;
    if tail.chars().next().is_some_and(char::is_lowercase)
        || !name.chars().all(|c| c.is_alphanumeric() || c == '_')
    {
        return None;
    }
    let want = match prefix {
        "Test" => "*testing.T",
        "Benchmark" => "*testing.B",
        _ => "*testing.F",
    };
    let ps: Vec<&str> = params.split_whitespace().collect();
    // gocheck's methods (`*check.C`, integration-cli up to 17.06) are its suites' tests.
    let gocheck = |ty: &str| prefix == "Test" && suite.is_some() && ty == "*check.C";
    let one_param = match ps.as_slice() {
        [_, ty] | [ty] => *ty == want || gocheck(ty),
        _ => false,
    };
    // No result: the body's brace (or nothing, for a multi-line body start) follows.
    let no_result = matches!(after.trim(), "" | "{" | "{}") || after.trim().starts_with("{ ");
    (one_param && no_result).then(|| GoTest {
        suite,
        by_pointer,
        name: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AMD64: Platform = Platform {
        os: "linux",
        arch: "amd64",
    };

    #[test]
    fn file_names_select_the_platform() {
        for (name, builds) in [
            ("a_test.go", true),
            ("a_linux_test.go", true),
            ("a_windows_test.go", false),
            ("a_arm64_test.go", false),
            ("a_linux_amd64_test.go", true),
            ("a_linux_arm64_test.go", false),
            ("linux_test.go", true),
            ("a_unix_test.go", true),
        ] {
            assert_eq!(name_builds(name, AMD64), builds, "{name}");
        }
    }

    #[test]
    fn build_lines_are_evaluated() {
        let f = |h: &str| constraints_hold(&format!("{h}\n\npackage main\n"), AMD64);
        assert!(f("//go:build !windows"));
        assert!(!f("//go:build windows"));
        assert!(f("//go:build linux && (amd64 || arm64)"));
        assert!(!f("//go:build linux && !cgo"));
        assert!(f("//go:build go1.22"));
        assert!(!f("//go:build no_such_tag"));
        assert!(f("// +build linux,amd64 windows"));
        assert!(!f("// +build windows\n// +build linux"));
        assert!(f("// Copyright\n"));
        // A constraint after the package clause is a comment, not a constraint.
        assert!(constraints_hold("package x\n//go:build windows\n", AMD64));
    }

    #[test]
    fn what_counts_as_a_test() {
        let text = "package main\n\
            func TestA(t *testing.T) {\n}\n\
            func (s *DockerCLIRunSuite) TestRunX(c *testing.T) {\n\
            func (s DockerAPISuite) TestY(c *testing.T) {}\n\
            func Testlower(t *testing.T) {\n\
            func TestWithResult(t *testing.T) error {\n\
            func TestTwo(t *testing.T, x int) {\n\
            func BenchmarkB(b *testing.B) {\n\
            func BenchmarkWrong(b *testing.T) {\n\
            func FuzzF(f *testing.F) {\n\
            func Test(t *testing.T) {\n\
            func helper(t *testing.T) {\n\
            func (s *DockerSuite) OnTimeout(c *testing.T) {\n\
            func (s *DockerSuite) TestGocheck(c *check.C) {\n\
            func TestGocheckTop(c *check.C) {\n";
        let names: Vec<String> = tests_of(text)
            .iter()
            .map(|t| match &t.suite {
                Some(s) => format!("{s}.{}", t.name),
                None => t.name.clone(),
            })
            .collect();
        assert_eq!(
            names,
            [
                "TestA",
                "DockerCLIRunSuite.TestRunX",
                "DockerAPISuite.TestY",
                "BenchmarkB",
                "FuzzF",
                "Test",
                "DockerSuite.TestGocheck"
            ]
        );
    }
}
