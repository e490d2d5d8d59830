//! How the fork runs its integration suites: the command of its Makefile's `test-integration`
//! target (`test-integration-cli` up to 17.06), how a test filter and a directory choice reach
//! it (`TEST_FILTER` / `TEST_INTEGRATION_DIR` where `hack/make/` reads them, else `TESTFLAGS`),
//! and the "frozen" images the suites load instead of pulling: the ones the Dockerfile downloads
//! and the directory the Go test helpers load them from.

/// What `make test-integration` needs, as the fork's own files state it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationTests {
    /// The in-container command of the Makefile target (`hack/make.sh dynbinary test-integration`).
    pub command: Vec<String>,
    /// The last bundle of that command: its directory under `bundles/` holds `test.log` and
    /// gotestsum's `*-go-test-report.json` files.
    pub bundle: String,
    /// How a `--run` regex reaches the suite.
    pub filter: Filter,
    /// How directories are chosen, where the fork reads a variable for it.
    pub dirs: DirChoice,
    /// The images the suites load instead of pulling.
    pub frozen: FrozenImages,
    /// The variable with which the suites use a daemon already running instead of starting
    /// one (`DOCKER_TEST_HOST`, read by `hack/make/.integration-daemon-start`, which then neither
    /// starts nor, in `.integration-daemon-stop`, stops it), and the bundles that start one as
    /// the suites would (`.integration-daemon-start .integration-daemon-setup`).
    pub test_host: Option<TestHost>,
}

/// How the fork's scripts start a test daemon and use one already running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestHost {
    pub var: String,
    pub start_bundles: Vec<String>,
}

/// The variables `hack/make/` reads to choose integration directories.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirChoice {
    /// The variable that picks integration directories (`TEST_INTEGRATION_DIR`), when read.
    pub var: Option<String>,
    /// The variable that skips the `integration-cli` suite (`TEST_SKIP_INTEGRATION_CLI`), when
    /// read: set when directories are chosen that do not include it.
    pub skip_cli_var: Option<String>,
    /// The variable that skips the `integration/` suites (`TEST_SKIP_INTEGRATION`), when read:
    /// set when only `integration-cli` suites run.
    pub skip_var: Option<String>,
}

/// The "frozen" images of the integration suites.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FrozenImages {
    /// What the suites load from `dir`: the Go helpers' `frozenImages` (a renamed one,
    /// `hello-world:frozen`, as the name it is loaded under, `hello-world:latest`), else what
    /// the Dockerfile downloads; `name:tag`.
    pub images: Vec<String>,
    /// Where the test helpers load them from (`frozenImgDir`, `/docker-frozen-images`).
    pub dir: Option<String>,
}

/// How a test filter is handed to the suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `TEST_FILTER=<regex>`: `hack/make/` picks the directories and the `-test.run` itself.
    TestFilter,
    /// `TESTFLAGS="<flag> <regex>"`: `-check.f` for the gocheck `integration-cli` suite,
    /// `-test.run` for Go test suites.
    TestFlags(&'static str),
}

/// Read from the Makefile's target, `hack/make/`'s scripts, the Dockerfile and the Go helpers.
/// `files` gives a file's text by path relative to the root (empty when missing).
pub(crate) fn read(
    command: Option<Vec<String>>,
    dockerfile: &str,
    files: &dyn Fn(&str) -> String,
) -> Option<IntegrationTests> {
    let command = command?;
    let bundle = command.last()?.clone();
    let scripts =
        files("hack/make/.integration-test-helpers") + &files(&format!("hack/make/{bundle}"));
    let filter = if scripts.contains("TEST_FILTER") {
        Filter::TestFilter
    } else if bundle == "test-integration-cli" {
        Filter::TestFlags("-check.f")
    } else {
        Filter::TestFlags("-test.run")
    };
    let dir_var = scripts
        .contains("TEST_INTEGRATION_DIR")
        .then(|| "TEST_INTEGRATION_DIR".to_string());
    let skip_cli_var = scripts
        .contains("TEST_SKIP_INTEGRATION_CLI")
        .then(|| "TEST_SKIP_INTEGRATION_CLI".to_string());
    let skip_var = scripts
        .contains("${TEST_SKIP_INTEGRATION}")
        .then(|| "TEST_SKIP_INTEGRATION".to_string());
    let loader = [
        "testutil/fixtures/load/frozen.go",
        "internal/test/fixtures/load/frozen.go",
        "integration-cli/fixtures/load/frozen.go",
    ]
    .iter()
    .map(|p| files(p))
    .find(|go| !go.is_empty())
    .unwrap_or_default();
    let frozen_dir = go_string_const(&loader, "frozenImgDir");
    let frozen_images = [
        "testutil/environment/protect.go",
        "internal/test/environment/protect.go",
        "integration-cli/environment/protect.go",
    ]
    .iter()
    .find_map(|p| go_string_list(&files(p), "frozenImages"))
    .map(|names| names.iter().map(|n| loaded_as(&loader, n)).collect())
    .unwrap_or_else(|| frozen_images(dockerfile));
    Some(IntegrationTests {
        command,
        bundle,
        filter,
        dirs: DirChoice {
            var: dir_var,
            skip_cli_var,
            skip_var,
        },
        frozen: FrozenImages {
            images: frozen_images,
            dir: frozen_dir,
        },
        test_host: test_host(files),
    })
}

/// `DOCKER_TEST_HOST`, where both the start and the stop script honour it.
fn test_host(files: &dyn Fn(&str) -> String) -> Option<TestHost> {
    let start = files("hack/make/.integration-daemon-start");
    let stop = files("hack/make/.integration-daemon-stop");
    let var = "DOCKER_TEST_HOST";
    if !start.contains(var) || !(stop.contains(var) || stop.contains("docker.pid")) {
        return None;
    }
    let mut start_bundles = vec![".integration-daemon-start".to_string()];
    if !files("hack/make/.integration-daemon-setup").is_empty() {
        start_bundles.push(".integration-daemon-setup".to_string());
    }
    Some(TestHost {
        var: var.to_string(),
        start_bundles,
    })
}

/// The `name:tag` arguments of the Dockerfile's `download-frozen-image-v2.sh` call(s).
pub fn frozen_images(dockerfile: &str) -> Vec<String> {
    let joined = dockerfile.replace("\\\n", " ");
    let mut images = Vec::new();
    for line in joined.lines() {
        let Some(at) = line.find("download-frozen-image-v2.sh") else {
            continue;
        };
        let args = line[at..].split_whitespace().skip(2); // the script and its output dir
        for arg in args {
            if arg.starts_with('&') || arg.starts_with(';') || arg.starts_with('#') {
                break;
            }
            let name = arg.split('@').next().unwrap_or(arg);
            if name.contains(':') && !images.iter().any(|i| i == name) {
                images.push(name.to_string());
            }
        }
    }
    images
}

/// `name = "value"` (a Go `const` or `var`) in a Go file's text.
fn go_string_const(go: &str, name: &str) -> Option<String> {
    go.lines().find_map(|l| {
        let rest = l.trim().trim_start_matches("const ").trim_start();
        let rest = rest.strip_prefix(name)?.trim_start().strip_prefix('=')?;
        let value = rest.trim().strip_prefix('"')?;
        Some(value[..value.find('"')?].to_string())
    })
}

/// `var name = []string{"a", "b"}` in a Go file's text.
fn go_string_list(go: &str, name: &str) -> Option<Vec<String>> {
    let at = go.find(&format!("{name} = []string{{"))?;
    let body = &go[at..];
    let body = &body[body.find('{')? + 1..body.find('}')?];
    Some(
        body.split(',')
            .filter_map(|w| w.trim().strip_prefix('"')?.strip_suffix('"'))
            .map(str::to_string)
            .collect(),
    )
}

/// The name an image is loaded under: the loader's `if img == "X" { srcName = "Y" }` rename.
fn loaded_as(loader: &str, name: &str) -> String {
    let needle = format!("== \"{name}\"");
    loader
        .find(&needle)
        .and_then(|at| {
            let after = &loader[at..];
            let src = after[after.find("srcName = \"")? + "srcName = \"".len()..].to_string();
            Some(src[..src.find('"')?].to_string())
        })
        .unwrap_or_else(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_images_of_a_20_10_dockerfile() {
        let df = "RUN /download-frozen-image-v2.sh /build \\\n        busybox:latest@sha256:95cf \\\n        busybox:glibc@sha256:1f81 \\\n        hello-world:latest@sha256:d58e\n# See also frozenImages\n";
        assert_eq!(
            frozen_images(df),
            ["busybox:latest", "busybox:glibc", "hello-world:latest"]
        );
    }

    #[test]
    fn frozen_images_of_a_17_04_dockerfile() {
        let df = "COPY contrib/download-frozen-image-v2.sh /usr/local/bin/\nRUN ./contrib/download-frozen-image-v2.sh /docker-frozen-images \\\n\tbuildpack-deps:jessie@sha256:85b3 \\\n\tbusybox:latest@sha256:32f0 \\\n\tdebian:jessie@sha256:72f7\n# Please edit hack/make/.ensure-frozen-images-windows too\n";
        assert_eq!(
            frozen_images(df),
            ["buildpack-deps:jessie", "busybox:latest", "debian:jessie"]
        );
    }

    #[test]
    fn the_go_helpers_name_the_directory() {
        let go = "package load\n\nconst frozenImgDir = \"/docker-frozen-images\"\n";
        assert_eq!(
            go_string_const(go, "frozenImgDir").as_deref(),
            Some("/docker-frozen-images")
        );
        assert_eq!(go_string_const(go, "other"), None);
    }

    #[test]
    fn the_go_helpers_name_the_images() {
        let protect = "var frozenImages = []string{\"busybox:latest\", \"busybox:glibc\", \"hello-world:frozen\", \"debian:bullseye-slim\"}\n";
        let loader = "\t\tif img == \"hello-world:frozen\" {\n\t\t\tsrcName = \"hello-world:latest\"\n\t\t}\n";
        let names = go_string_list(protect, "frozenImages").unwrap();
        let loaded: Vec<String> = names.iter().map(|n| loaded_as(loader, n)).collect();
        assert_eq!(
            loaded,
            [
                "busybox:latest",
                "busybox:glibc",
                "hello-world:latest",
                "debian:bullseye-slim"
            ]
        );
        assert_eq!(go_string_list(protect, "other"), None);
    }

    #[test]
    fn filter_follows_the_scripts() {
        let cmd = |b: &str| Some(vec!["hack/make.sh".into(), "dynbinary".into(), b.into()]);
        let with = |f: &'static str| {
            move |p: &str| {
                if p == "hack/make/.integration-test-helpers" {
                    f.to_string()
                } else {
                    String::new()
                }
            }
        };
        let new = read(
            cmd("test-integration"),
            "",
            &with(": ${TEST_INTEGRATION_DIR:=$(echo \"$dirs\")}\nif [ -z \"${TEST_FILTER}\" ]"),
        )
        .unwrap();
        assert_eq!(new.filter, Filter::TestFilter);
        assert_eq!(new.dirs.var.as_deref(), Some("TEST_INTEGRATION_DIR"));
        assert_eq!(new.bundle, "test-integration");
        let old = read(cmd("test-integration-cli"), "", &with("")).unwrap();
        assert_eq!(old.filter, Filter::TestFlags("-check.f"));
        assert_eq!(old.dirs.var, None);
        assert_eq!(old.dirs.skip_cli_var, None);
        assert_eq!(old.frozen.dir, None);
        assert!(read(None, "", &with("")).is_none());
    }
}
