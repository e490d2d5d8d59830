//! `cargo xtask binary [BUNDLE…]`: `hack/make.sh binary` (or the named bundles) in the fork's dev
//! container, with `DOCKER_GITCOMMIT` stamped on the host; output streamed; the build's files
//! handed back to the fork's owner; a summary of what was built. A signal stops the whole build.

use anyhow::{bail, Result};
use serde_json::json;

use crate::context::Context;
use crate::dev::profile::{self, Profile};
use crate::dev::{Dev, Output, Work};
use crate::flags;
use crate::ops::build::{self, make_cmd};
use crate::ops::{prehash, summary};
use crate::source::Source;

impl flags::Binary {
    pub async fn run(self, cx: &Context) -> Result<u8> {
        let dev = Dev::open(cx, true)?;
        let bundles = build::bundles(&dev.fork, &self.bundles)?;
        if self.dry_run {
            let line = dev
                .spec
                .docker_run_line(&make_cmd(&bundles), &dry_run_privileges(cx).await);
            cx.ui.result(&line);
            cx.ui
                .event(json!({"step": "dry-run", "status": "ok", "command": line}));
            return Ok(0);
        }
        // The work lock is held until the summary is read: another build would replace bundles/.
        let force = self.force;
        dev.work(cx, self.rm, async |w| {
            build_and_summarise(cx, w, &bundles, force).await
        })
        .await?;
        Ok(0)
    }
}

/// Build unless nothing the build reads changed since the last one (`Fresh`, as cargo says),
/// then the summary.
async fn build_and_summarise(
    cx: &Context,
    w: &Work<'_>,
    bundles: &[String],
    force: bool,
) -> Result<()> {
    let (dev, version) = (w.dev, w.dev.version());
    let (why, read) = match force {
        true => (Some("--force".to_string()), None),
        false => build::why_build(w, bundles),
    };
    let mut early_digests = None;
    match why {
        None => {
            cx.ui.status(
                "Fresh",
                format!(
                    "`{}`: nothing it reads changed since its last build (--force builds anyway)",
                    make_cmd(bundles).join(" ")
                ),
            );
            cx.ui.event(json!({"step": "build", "status": "fresh"}));
        }
        Some(why) => {
            cx.ui.verbose("Dirty", &why);
            // Where the build writes into this machine's files, what it is done with is hashed
            // while it goes on.
            let bound = matches!(w.ctr.source, Source::Bind);
            let since = std::time::SystemTime::now();
            let early = bound
                .then(|| prehash::Early::start(&dev.fork, bundles, &version, since))
                .flatten();
            let ran = match force {
                true => build::build(w, bundles, Output::Stream).await,
                false => build::build_read(w, bundles, Output::Stream, read).await,
            };
            early_digests = early.map(prehash::Early::finish);
            build::succeeded(bundles, &ran?)?;
        }
    }
    // On an engine elsewhere the artifacts are here only once bundles/ came back; where they
    // are this machine's files, they are hashed while their owner is given back.
    let artifacts = match w.ctr.source {
        Source::Bind => {
            let summary = summary::collect(cx, &dev.fork, bundles, &version, early_digests);
            let (handed, artifacts) = tokio::join!(w.hand_back(), summary);
            handed?;
            artifacts?
        }
        _ => {
            w.hand_back().await?;
            summary::collect(cx, &dev.fork, bundles, &version, None).await?
        }
    };
    let builds_binaries = bundles.iter().any(|b| b.contains("binary"));
    if artifacts.is_empty() && builds_binaries {
        bail!(
            "`{}` succeeded but wrote nothing under {}/bundles: check the build's output above",
            make_cmd(bundles).join(" "),
            dev.fork.root
        );
    }
    cx.cancel.check_now().await?;
    if !summary::print(cx.ui, &dev.fork, &artifacts, &version, dev.commit()) {
        bail!("an artifact does not match its checksum file: the build output is inconsistent, rebuild it");
    }
    Ok(())
}

/// The privilege flags the dev container gets on this engine, when it answers within a moment;
/// otherwise those of a rootful engine that grants `--privileged`, and a note saying so.
async fn dry_run_privileges(cx: &Context) -> Vec<String> {
    let wait = std::time::Duration::from_secs(3);
    match tokio::time::timeout(wait, cx.engine()).await {
        Ok(Ok(engine)) => {
            let mut flags = profile::first_choice(engine).cli_flags();
            if let Some(mode) = engine.kind.userns_mode() {
                flags.push(format!("--userns={mode}"));
            }
            cx.ui.note(format!(
                "the line for this engine: {} at {}",
                engine.kind.describe(),
                engine.describe_endpoint()
            ));
            flags
        }
        _ => {
            cx.ui.note(
                "no engine answered: the line assumes a rootful Docker engine that grants --privileged",
            );
            Profile::Privileged.cli_flags()
        }
    }
}
