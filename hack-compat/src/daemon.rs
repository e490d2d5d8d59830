//! How the fork starts its own nested daemon (`hack/make/run`, `hack/make/.integration-daemon-start`)
//! and which flags its `dockerd` accepts, and where `install-binary` puts the binaries.

use crate::Era;

/// The flag naming the daemon's state directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataRootFlag {
    /// `--data-root` (17.05 on).
    DataRoot,
    /// `--graph` / `-g` (17.04 and earlier; hidden from 17.05, removed in 24.0).
    Graph,
}

impl DataRootFlag {
    pub fn flag(self) -> &'static str {
        match self {
            DataRootFlag::DataRoot => "--data-root",
            DataRootFlag::Graph => "--graph",
        }
    }
}

/// The nested daemon's start flags as the fork's own scripts use them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonFlags {
    /// From the daemon's flag definitions (`cmd/dockerd/config.go`, `daemon/command/config.go`),
    /// else by era (`--graph` in E1).
    pub data_root: DataRootFlag,
    /// `--debug`, as `hack/make/run` passes it (every era).
    pub debug: Option<String>,
    /// The variable naming the storage driver (`DOCKER_GRAPHDRIVER`) and its default when unset
    /// (`vfs` up to 28.x, `native` at the docker-v29 HEAD).
    pub storage_driver_var: String,
    pub storage_driver_default: String,
    /// The variable whose words `run` appends to dockerd's arguments (`DOCKERD_ARGS`, E3 on).
    pub extra_args_var: Option<String>,
    /// `hack/make/run`'s `DELVE_PORT` mode (E5 on): the debugger's words before `exec dockerd`,
    /// `{port}` standing for the port part of `DELVE_PORT`.
    pub delve: Option<Vec<String>>,
    /// The rest of `hack/make/run`'s `args=( … )` (E5 on): flags beyond the debug flag, the
    /// listeners and the storage driver (`--userland-proxy`, `--firewall-backend`, `--tls=false`).
    pub run_args: Vec<RunArg>,
    /// Variables `run` turns into more flags: `DOCKER_STORAGE_OPTS` (`--storage-opt` per comma
    /// item), `DOCKER_REMAP_ROOT` (`--userns-remap`), `DOCKER_EXPERIMENTAL` (`--experimental`).
    pub run_switches: Vec<RunSwitch>,
}

/// One flag of `hack/make/run`'s `args=( … )`: `--flag=<value>`, the value a literal or a
/// variable's (with the script's `${VAR:-default}`, else empty, when unset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunArg {
    pub flag: String,
    pub var: Option<String>,
    /// The literal value, or the variable's default.
    pub value: String,
}

impl RunArg {
    /// `--flag=value` for the host's variables.
    pub fn word(&self, host: impl Fn(&str) -> Option<String>) -> String {
        let value = match &self.var {
            Some(v) => host(v).unwrap_or_else(|| self.value.clone()),
            None => self.value.clone(),
        };
        format!("{}={value}", self.flag)
    }
}

/// A variable `hack/make/run` turns into flags when it is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunSwitch {
    /// `DOCKER_STORAGE_OPTS=a,b` → `--storage-opt a --storage-opt b`.
    StorageOpts,
    /// `DOCKER_REMAP_ROOT=x` → `--userns-remap x`.
    RemapRoot,
    /// `DOCKER_EXPERIMENTAL=1` → `--experimental`.
    Experimental,
}

impl RunSwitch {
    pub fn var(self) -> &'static str {
        match self {
            RunSwitch::StorageOpts => "DOCKER_STORAGE_OPTS",
            RunSwitch::RemapRoot => "DOCKER_REMAP_ROOT",
            RunSwitch::Experimental => "DOCKER_EXPERIMENTAL",
        }
    }

    /// The flags for the variable's value (none when unset or empty).
    pub fn words(self, value: Option<&str>) -> Vec<String> {
        let Some(v) = value.filter(|v| !v.is_empty()) else {
            return Vec::new();
        };
        match self {
            RunSwitch::StorageOpts => v
                .split(',')
                .filter(|o| !o.is_empty())
                .flat_map(|o| ["--storage-opt".to_string(), o.to_string()])
                .collect(),
            RunSwitch::RemapRoot => vec!["--userns-remap".to_string(), v.to_string()],
            RunSwitch::Experimental => vec!["--experimental".to_string()],
        }
    }
}

/// The flags of `args=( … )` the tool does not set itself, with their variables' defaults.
fn run_args(run: &str) -> Vec<RunArg> {
    let own = [
        "--debug",
        "--host",
        "--storage-driver",
        "--data-root",
        "--graph",
    ];
    let mut lines = run.lines().map(str::trim).skip_while(|l| *l != "args=(");
    if lines.next().is_none() {
        return Vec::new();
    }
    lines
        .take_while(|l| *l != ")")
        .filter_map(|l| {
            let (flag, value) = l.split_once('=')?;
            if !flag.starts_with("--") || own.contains(&flag) {
                return None;
            }
            let value = value.trim_matches('"');
            let var = value
                .strip_prefix("${")
                .and_then(|v| v.strip_suffix('}'))
                .filter(|v| v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            Some(match var {
                Some(var) => RunArg {
                    flag: flag.to_string(),
                    var: Some(var.to_string()),
                    value: shell_default(run, var).unwrap_or_default(),
                },
                None => RunArg {
                    flag: flag.to_string(),
                    var: None,
                    value: value.to_string(),
                },
            })
        })
        .collect()
}

pub(crate) fn flags(era: Era, run: &str, daemon_start: &str, dockerd_config: &str) -> DaemonFlags {
    let data_root = if dockerd_config.contains("\"data-root\"") {
        DataRootFlag::DataRoot
    } else if dockerd_config.contains("\"graph\"") || era == Era::E1 {
        DataRootFlag::Graph
    } else {
        DataRootFlag::DataRoot
    };
    let code = |text: &str| -> String {
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let run = code(run);
    let start = code(daemon_start);
    let var = "DOCKER_GRAPHDRIVER";
    let default = [&run, &start]
        .iter()
        .find_map(|t| shell_default(t, var))
        .unwrap_or_else(|| "vfs".to_string());
    let debug = [&run, &start]
        .iter()
        .any(|t| t.contains("--debug"))
        .then(|| "--debug".to_string());
    let extra_args_var = run
        .contains("$DOCKERD_ARGS")
        .then(|| "DOCKERD_ARGS".to_string());
    DaemonFlags {
        data_root,
        debug,
        storage_driver_var: var.to_string(),
        storage_driver_default: default,
        extra_args_var,
        delve: delve(&run),
        run_args: run_args(&run),
        run_switches: [
            RunSwitch::StorageOpts,
            RunSwitch::RemapRoot,
            RunSwitch::Experimental,
        ]
        .into_iter()
        .filter(|s| {
            run.contains(&format!("${}", s.var())) || run.contains(&format!("${{{}", s.var()))
        })
        .collect(),
    }
}

/// The `dlv … exec` words of `hack/make/run`'s `DELVE_PORT` branch: one word per line of the
/// `dockerd=( dlv … exec "${dockerd[@]}" -- )` array, quotes dropped, the listen port variable
/// (`${DELVE_PORT##*:}`'s) as `{port}`.
fn delve(run: &str) -> Option<Vec<String>> {
    if !run.contains("DELVE_PORT") {
        return None;
    }
    let port_var = run.lines().find_map(|l| {
        let (name, value) = l.trim().split_once('=')?;
        value
            .contains("${DELVE_PORT##*:}")
            .then(|| name.trim().to_string())
    })?;
    let mut lines = run.lines().map(str::trim).skip_while(|l| *l != "dlv");
    let mut words = vec![lines.next()?.to_string()];
    for line in lines {
        if line.starts_with("exec ") {
            return Some(words);
        }
        let word = line
            .replace('"', "")
            .replace(&format!("${port_var}"), "{port}")
            .replace(&format!("${{{port_var}}}"), "{port}");
        words.push(word);
    }
    None
}

/// `X` in `${VAR:-X}` (or `${VAR:=X}`).
pub(crate) fn shell_default(text: &str, var: &str) -> Option<String> {
    [":-", ":="].iter().find_map(|op| {
        let pat = format!("${{{var}{op}");
        let start = text.find(&pat)? + pat.len();
        let end = text[start..].find('}')?;
        Some(text[start..start + end].to_string())
    })
}

/// Where `install-binary` copies: `${DOCKER_MAKE_INSTALL_PREFIX:=/usr/local}/bin/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallDir {
    /// `DOCKER_MAKE_INSTALL_PREFIX`.
    pub prefix_var: String,
    /// `/usr/local`.
    pub default_prefix: String,
    /// `bin`.
    pub subdir: String,
}

impl InstallDir {
    /// The directory, for the prefix variable's value in the container (if set and non-empty).
    pub fn path(&self, prefix: Option<&str>) -> String {
        let prefix = prefix
            .filter(|p| !p.is_empty())
            .unwrap_or(&self.default_prefix);
        format!("{}/{}", prefix.trim_end_matches('/'), self.subdir)
    }
}

/// Read from the first script that defines `install_binary` (`hack/make/.install` from 23.0,
/// `install-binary` in 17.06–20.10, `hack/make.sh` in 17.04); the known default otherwise.
pub(crate) fn install_dir(scripts: &[&str]) -> InstallDir {
    let var = "DOCKER_MAKE_INSTALL_PREFIX";
    for text in scripts {
        let Some(prefix) = shell_default(text, var) else {
            continue;
        };
        let pat = format!("{prefix}}}/");
        let Some(at) = text.find(&pat) else { continue };
        let subdir: String = text[at + pat.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            .collect();
        return InstallDir {
            prefix_var: var.to_string(),
            default_prefix: prefix,
            subdir: if subdir.is_empty() {
                "bin".into()
            } else {
                subdir
            },
        };
    }
    InstallDir {
        prefix_var: var.to_string(),
        default_prefix: "/usr/local".to_string(),
        subdir: "bin".to_string(),
    }
}

/// What `hack/make.sh install-binary` copies, when that is all it does: the daemon bundle's
/// files by name (`install_binary "${DEST}/dockerd"` … in `install-binary`, with `DEST` the
/// `binary-daemon` bundle), each `cp -f -L` into [`InstallDir`] by `install_binary` (18.09 to
/// today). `optional` are those installed only `if [ -f … ]`. `None` when the script does
/// anything else, or `install_binary` is not a plain copy: then only the script itself says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallFiles {
    pub required: Vec<String>,
    pub optional: Vec<String>,
}

/// `install_binary`'s definition is among `defs`; `script` is `hack/make/install-binary`.
pub(crate) fn install_files(defs: &[&str], script: &str) -> Option<InstallFiles> {
    let def = defs.iter().find(|t| t.contains("install_binary() {"))?;
    let body = &def[def.find("install_binary() {")?..];
    let body = &body[..body.find("\n}")?];
    let copies = body.contains(r#"cp -f -L "$file" "$target""#);
    let only = body.lines().skip(1).map(str::trim).all(|l| {
        l.is_empty()
            || l.starts_with("local ")
            || l.starts_with("echo ")
            || l.starts_with("mkdir -p \"$target\"")
            || l.starts_with("cp -f -L \"$file\" \"$target\"")
            || l.starts_with("if [ \"$(go env GOOS)\"")
            || matches!(l, "else" | "fi" | "return 1")
    });
    if !copies || !only {
        return None;
    }
    let (mut required, mut optional) = (Vec::new(), Vec::new());
    let (mut guarded, mut in_def) = (false, false);
    let name = |l: &str, prefix: &str| -> Option<String> {
        let n = l.strip_prefix(prefix)?.strip_suffix('"')?;
        n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            .then(|| n.to_string())
    };
    for l in script.lines().map(str::trim) {
        // Its own definition (20.10 and older keep it in this script), read above.
        if in_def || l == "install_binary() {" {
            in_def = l != "}";
            continue;
        }
        if let Some(n) = name(l, r#"install_binary "${DEST}/"#) {
            match guarded {
                true => optional.push(n),
                false => required.push(n),
            }
        } else if let Some(n) = l
            .strip_suffix("; then")
            .and_then(|c| name(c.trim_end_matches(" ]"), r#"if [ -f "${DEST}/"#))
        {
            guarded = true;
            let _ = n;
        } else if l == "fi" {
            guarded = false;
        } else if !(l.is_empty()
            || l.starts_with('#')
            || matches!(l, "set -e" | "(" | ")" | r#"rm -rf "$DEST""#)
            || l == r#"DEST="$(dirname $DEST)/binary-daemon""#
            || l.starts_with("source ")
            || l.starts_with(". "))
        {
            return None;
        }
    }
    (!required.is_empty()).then_some(InstallFiles { required, optional })
}

/// Top-level directories of a checkout that `hack/make.sh binary` does not compile (or that it,
/// git or this workspace write): a change there does not make the daemon binary stale.
pub const NON_BUILD_DIRS: &[&str] = &[
    ".git",
    ".github",
    ".devcontainer",
    ".gopath",
    "autogen",
    "bundles",
    "docs",
    "integration",
    "integration-cli",
    "man",
    "project",
    "target",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_root_from_flag_definitions() {
        let v1704 = r#"flags.StringVarP(&conf.Root, "graph", "g", defaultGraph, "Root")"#;
        let v1705 = r#"flags.StringVar(&conf.Root, "data-root", defaultDataRoot, "Root")"#;
        assert_eq!(flags(Era::E2, "", "", v1704).data_root, DataRootFlag::Graph);
        assert_eq!(
            flags(Era::E1, "", "", v1705).data_root,
            DataRootFlag::DataRoot
        );
        assert_eq!(flags(Era::E1, "", "", "").data_root, DataRootFlag::Graph);
        assert_eq!(flags(Era::E4, "", "", "").data_root.flag(), "--data-root");
    }

    #[test]
    fn run_args_of_head_and_of_19_03() {
        let head = "DOCKER_USERLANDPROXY=${DOCKER_USERLANDPROXY:-true}\n\
            if [ -n \"$DOCKER_STORAGE_OPTS\" ]; then\n\tfor i in ${DOCKER_STORAGE_OPTS}; do :; done\nfi\n\
            if [ \"$DOCKER_REMAP_ROOT\" ]; then :; fi\nif [ -n \"$DOCKER_EXPERIMENTAL\" ]; then :; fi\n\
            args=(\n\t--debug\n\t--host=\"tcp://0.0.0.0:${listen_port}\"\n\t--host=\"unix://${socket}\"\n\
            \t--storage-driver=\"${DOCKER_GRAPHDRIVER}\"\n\t--userland-proxy=\"${DOCKER_USERLANDPROXY}\"\n\
            \t--firewall-backend=\"${DOCKER_FIREWALL_BACKEND}\"\n\t--tls=false\n\t$storage_params\n\t$extra_params\n)\n";
        let f = flags(Era::E8, head, "", "");
        let env = |k: &str| (k == "DOCKER_FIREWALL_BACKEND").then(|| "nftables".to_string());
        let words: Vec<String> = f.run_args.iter().map(|a| a.word(env)).collect();
        assert_eq!(
            words,
            [
                "--userland-proxy=true",
                "--firewall-backend=nftables",
                "--tls=false"
            ]
        );
        assert_eq!(
            f.run_switches,
            [
                RunSwitch::StorageOpts,
                RunSwitch::RemapRoot,
                RunSwitch::Experimental
            ]
        );
        assert_eq!(
            RunSwitch::StorageOpts.words(Some("dm.basesize=20G,size=1G")),
            [
                "--storage-opt",
                "dm.basesize=20G",
                "--storage-opt",
                "size=1G"
            ]
        );
        assert!(RunSwitch::RemapRoot.words(Some("")).is_empty());
        // 17.04's run has no args array: nothing more than before.
        let old = flags(Era::E1, "exec dockerd -D --graph /var/lib/docker", "", "");
        assert!(old.run_args.is_empty() && old.run_switches.is_empty());
    }

    #[test]
    fn install_files_when_install_binary_only_copies() {
        let def = "install_binary() {\n\tlocal file=\"$1\"\n\tlocal target=\"${DOCKER_MAKE_INSTALL_PREFIX:=/usr/local}/bin/\"\n\tif [ \"$(go env GOOS)\" == \"linux\" ]; then\n\t\techo \"Installing $(basename $file) to ${target}\"\n\t\tmkdir -p \"$target\"\n\t\tcp -f -L \"$file\" \"$target\"\n\telse\n\t\techo \"Install is only supported on linux\"\n\t\treturn 1\n\tfi\n}\n";
        let script = "#!/usr/bin/env bash\n\nset -e\nrm -rf \"$DEST\"\n\n(\n\tDEST=\"$(dirname $DEST)/binary-daemon\"\n\tinstall_binary \"${DEST}/dockerd\"\n\tinstall_binary \"${DEST}/runc\"\n\tif [ -f \"${DEST}/vpnkit\" ]; then\n\t\tinstall_binary \"${DEST}/vpnkit\"\n\tfi\n)\n";
        let f = install_files(&["", def], script).unwrap();
        assert_eq!(f.required, ["dockerd", "runc"]);
        assert_eq!(f.optional, ["vpnkit"]);
        // Anything more than copies: the script decides.
        let more = script.replace("(\n", "(\n\tchmod 700 /usr/local/bin\n");
        assert_eq!(install_files(&[def], &more), None);
        let strip = def.replace("cp -f -L", "strip -o \"$target/x\" \"$file\"; cp -f -L");
        assert_eq!(install_files(&[&strip], script), None);
        assert_eq!(install_files(&[], script), None);
    }

    #[test]
    fn install_dir_forms() {
        let d = install_dir(&[
            "",
            "local target=\"${DOCKER_MAKE_INSTALL_PREFIX:=/usr/local}/bin/\"",
        ]);
        assert_eq!(d.path(None), "/usr/local/bin");
        assert_eq!(d.path(Some("/opt/x/")), "/opt/x/bin");
        assert_eq!(install_dir(&[]).path(Some("")), "/usr/local/bin");
    }
}
