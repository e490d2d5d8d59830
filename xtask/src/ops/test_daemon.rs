//! The fork's test daemons in the dev container, after a run: what they left (their processes,
//! their mounts under the bundle, the bridges daemons made) cleaned away, and why one did not start (its log's tail, a
//! storage driver it could not use).

use anyhow::Result;
use camino::Utf8PathBuf;

use crate::dev::{Output, Work};

/// Stop the test daemons a run left in the dev container and unmount what they mounted under
/// the bundle's directory (`root/` of each daemon), so that the next run can remove it.
pub async fn clean(w: &Work<'_>, rel: &Utf8PathBuf) -> Result<()> {
    let ran = w
        .exec()
        .script("test_daemons_clean", &[rel.as_str()], Output::Capture)
        .await?;
    for line in ran.text().lines() {
        if let Some(m) = line.strip_prefix("left ") {
            w.cx.ui.warn(format!(
                "{m} is still mounted in the dev container (a test daemon's): `cargo xtask down` removes it"
            ));
        } else if let Some(b) = line.strip_prefix("bridge ") {
            w.cx.ui
                .verbose("Removed", format!("the bridge {b} a daemon made"));
        } else {
            w.cx.ui
                .verbose("Stopped", format!("a test daemon left running ({line})"));
        }
    }
    Ok(())
}

/// A run that broke before any test: the test daemon's log, when it wrote one, says why (its
/// last lines); a storage driver it could not use is named with where it came from.
pub fn explain(w: &Work<'_>, out: &Utf8PathBuf, suites: &str) {
    let log = out.join("docker.log");
    let Ok(text) = std::fs::read_to_string(&log) else {
        // No test daemon was started: what broke came before it. The fork builds the suites'
        // test binaries after its daemon (`dynbinary`), before starting the daemon.
        let daemon = out
            .parent()
            .is_some_and(|b| b.join("dynbinary-daemon/dockerd").is_file());
        w.cx.ui.error(match daemon {
            true => format!(
                "no test ran: the test binary of {suites} did not build (`go test -c`): its \
                 compiler's lines are above"
            ),
            false => "no test ran: the daemon did not build: the compiler's lines are above".into(),
        });
        return;
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let last = lines[lines.len().saturating_sub(8)..].join("\n");
    w.cx.ui.error(format!(
        "the test daemon's log ({log}) ends:{}",
        crate::text::indent(&crate::private::printable_lines(&last))
    ));
    // The Makefile's DOCKER_GRAPHDRIVER is this engine's driver unless the user set one.
    let spec = &w.dev.spec;
    let from_engine = spec.from_daemon.iter().any(|v| v == "DOCKER_GRAPHDRIVER")
        && !spec.has_env("DOCKER_GRAPHDRIVER");
    let driver = w.ctr.daemon_driver.as_deref().filter(|_| from_engine);
    if let Some(hint) = driver_hint(&text, driver) {
        w.cx.ui.note(hint);
    }
}

/// When the daemon could not use the storage driver it was given: which one, where it came
/// from, and how to choose another.
fn driver_hint(log: &str, driver: Option<&str>) -> Option<String> {
    let driver = driver.filter(|d| !d.is_empty())?;
    let refused =
        log.contains("error initializing graphdriver") || log.contains("driver not supported");
    refused.then(|| {
        format!(
            "DOCKER_GRAPHDRIVER={driver} is this engine's storage driver, which the fork's Makefile \
             hands to the test daemon; that daemon cannot use it here: set DOCKER_GRAPHDRIVER=vfs \
             (or overlay2) for this command"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_driver_the_test_daemon_refused_is_named() {
        let log = "level=info msg=\"Starting up\"\nfailed to start daemon: error initializing graphdriver: driver not supported\n";
        let hint = driver_hint(log, Some("fuse-overlayfs")).unwrap();
        assert!(
            hint.contains("DOCKER_GRAPHDRIVER=fuse-overlayfs") && hint.contains("vfs"),
            "{hint}"
        );
        assert_eq!(driver_hint(log, None), None);
        assert_eq!(
            driver_hint("failed to start daemon: pid file found\n", Some("vfs")),
            None
        );
    }
}
