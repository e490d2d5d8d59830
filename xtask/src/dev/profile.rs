//! How the dev container is privileged: `--privileged` (what moby's Makefile runs), or, on a
//! daemon that refuses it ("unable to apply caps": its own capability bounding set lacks one),
//! an emulated profile: all capabilities but SYS_RESOURCE, unconfined seccomp and AppArmor, no
//! masked or read-only paths, every device, and `emulated_entry` of the script library before
//! the fork's entrypoint. A daemon's refusal is remembered by its ID, so later creations do not
//! try and fail again.

use bollard::models::HostConfig;

use super::scripts;
use crate::engine::{Engine, Kind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Privileged,
    Emulated,
}

impl Profile {
    pub fn label(self) -> &'static str {
        match self {
            Profile::Privileged => "privileged",
            Profile::Emulated => "emulated",
        }
    }

    /// The same privileges as `docker run` flags (for `--dry-run`).
    pub fn cli_flags(self) -> Vec<String> {
        let flags: &[&str] = match self {
            Profile::Privileged => &["--privileged"],
            Profile::Emulated => &[
                "--cap-add=ALL",
                "--cap-drop=SYS_RESOURCE",
                "--security-opt=seccomp=unconfined",
                "--security-opt=apparmor=unconfined",
                "--security-opt=systempaths=unconfined",
                "--device-cgroup-rule=a *:* rwm",
            ],
        };
        flags.iter().map(|f| f.to_string()).collect()
    }

    /// Set the host config's privileges for `kind` of engine; returns the entrypoint to use in
    /// front of `entrypoint` (on a userns-remap engine, `userns_host_entry` first).
    pub fn apply_on(self, kind: Kind, host: &mut HostConfig, entrypoint: &[String]) -> Vec<String> {
        let entry = self.apply(host, entrypoint);
        match kind.userns_mode() {
            Some(mode) => {
                host.userns_mode = Some(mode);
                let args: Vec<&str> = entry.iter().map(String::as_str).collect();
                scripts::argv("userns_host_entry", &args)
            }
            None => entry,
        }
    }

    /// Set the host config's privileges; returns the entrypoint to use in front of `entrypoint`.
    fn apply(self, host: &mut HostConfig, entrypoint: &[String]) -> Vec<String> {
        match self {
            Profile::Privileged => {
                host.privileged = Some(true);
                entrypoint.to_vec()
            }
            Profile::Emulated => {
                host.cap_add = Some(vec!["ALL".into()]);
                host.cap_drop = Some(vec!["SYS_RESOURCE".into()]);
                host.security_opt = Some(vec![
                    "seccomp=unconfined".into(),
                    "apparmor=unconfined".into(),
                ]);
                // `--security-opt systempaths=unconfined` is the CLI's name for these two, emptied.
                host.masked_paths = Some(Vec::new());
                host.readonly_paths = Some(Vec::new());
                host.device_cgroup_rules = Some(vec!["a *:* rwm".into()]);
                let args: Vec<&str> = entrypoint.iter().map(String::as_str).collect();
                scripts::argv("emulated_entry", &args)
            }
        }
    }
}

const MEMO: &str = "refuses-privileged";

/// The profile to try first on this engine.
pub fn first_choice(engine: &Engine) -> Profile {
    match engine.memo(MEMO) {
        Some(p) if p.exists() => Profile::Emulated,
        _ => Profile::Privileged,
    }
}

/// Remember that this engine refused `--privileged` (best effort: a cache, not state).
pub fn remember_refusal(engine: &Engine) {
    if let Some(p) = engine.memo(MEMO) {
        crate::engine::memo::write(&p, "refuses --privileged: unable to apply caps\n");
    }
}

/// True when the daemon refused a privileged container because it cannot grant the capabilities.
pub fn is_caps_refusal(e: &bollard::errors::Error) -> bool {
    e.to_string().contains("unable to apply caps")
}
