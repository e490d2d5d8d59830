//! The Makefile's decisions on the era fixtures (each holds that era's real Makefile).

use hack_compat::Fork;

use super::*;
use crate::context::project_root;

fn fork(era: &str) -> Fork {
    Fork::open(project_root().join("hack-compat/tests/fixtures").join(era)).unwrap()
}

fn host<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |n| {
        vars.iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.to_string())
            .filter(|v| !v.is_empty())
    }
}

fn get<'a>(env: &'a [(String, String)], k: &str) -> Option<&'a str> {
    env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

#[test]
fn e1_exports_incremental_binary_and_mounts_caches() {
    let f = fork("e1");
    let (env, daemon) = container_env(&f, &host(&[]));
    assert_eq!(get(&env, "DOCKER_INCREMENTAL_BINARY"), Some("1"));
    assert!(
        daemon.contains(&"DOCKER_GRAPHDRIVER".to_string()),
        "{daemon:?}"
    );
    assert!(get(&env, "DOCKER_GITCOMMIT").is_none());
    assert!(caches_enabled(&f, &host(&[])));
    // The host's own value wins where the Makefile says so.
    let (env, daemon) = container_env(&f, &host(&[("DOCKER_GRAPHDRIVER", "overlay2")]));
    assert_eq!(get(&env, "DOCKER_GRAPHDRIVER"), Some("overlay2"));
    assert!(daemon.is_empty());
}

#[test]
fn later_eras_pass_only_what_the_host_sets() {
    let f = fork("e4");
    let (env, _) = container_env(&f, &host(&[("KEEPBUNDLE", "1"), ("HOME", "/root")]));
    assert_eq!(get(&env, "KEEPBUNDLE"), Some("1"));
    assert!(get(&env, "HOME").is_none());
    assert!(caches_enabled(&f, &host(&[])));
}

#[test]
fn cli_path_and_ports_become_a_mount_and_published_ports() {
    let f = fork("e6");
    let h = [
        ("DOCKER_CLI_PATH", "/home/me/cli/docker"),
        ("DOCKER_PORT", "127.0.0.1:2375:2375"),
        ("DELVE_PORT", "2345"),
    ];
    let mounts = env_mounts(&f, &host(&h));
    assert_eq!(
        mounts,
        vec![Mount::Bind {
            source: "/home/me/cli".into(),
            target: "/usr/local/cli".into()
        }]
    );
    assert_eq!(ports(&f, &host(&h)), ["127.0.0.1:2375:2375", "2345"]);
    assert!(env_mounts(&f, &host(&[])).is_empty());
}

#[test]
fn build_args_as_the_makefile_passes_them() {
    let f = fork("e6");
    assert!(build_args(&f, &host(&[])).is_empty());
    let args = build_args(
        &f,
        &host(&[
            ("GO_VERSION", "1.21.12"),
            ("DOCKERCLI_VERSION", "v26.0.0"),
            ("DOCKER_BUILD_ARGS", "--build-arg X=1 --no-cache"),
        ]),
    );
    assert!(
        args.contains(&"--build-arg=GO_VERSION=1.21.12".to_string()),
        "{args:?}"
    );
    assert!(
        args.contains(&"--build-arg=DOCKERCLI_VERSION=v26.0.0".to_string()),
        "{args:?}"
    );
    assert!(
        args.ends_with(&["--build-arg".into(), "X=1".into(), "--no-cache".into()]),
        "{args:?}"
    );
    // SYSTEMD=true is passed only when the host asks for systemd.
    let sys = build_args(&f, &host(&[("DOCKER_SYSTEMD", "1")]));
    assert!(
        sys.iter().any(|a| a.starts_with("--build-arg=SYSTEMD=")),
        "{sys:?}"
    );
}
