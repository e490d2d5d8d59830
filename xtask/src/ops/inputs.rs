//! What a build reads, written down: the dev image, the bundles asked for, every variable the
//! build's exec sees (the stamp among them), and each of the fork's source files by its stat
//! (`source::walk`: git's tracked and untracked-not-ignored files; nothing is hashed), but those
//! of the top-level directories the daemon build never reads (`hack_compat::NON_BUILD_DIRS`). Taken
//! before a build starts, so that an edit during it makes the next one build; kept beside the
//! build record after it succeeds (`bundles/.moby-xtask-inputs`), and compared by `binary` (its
//! `Fresh`) and `smoke` (build or not). Anything that cannot be read means "build".

use anyhow::Result;
use camino::Utf8Path;
use sha2::{Digest, Sha256};

use crate::dev::Work;

/// Where the inputs of the last successful build are kept, relative to the fork root.
pub const FILE: &str = "bundles/.moby-xtask-inputs";

/// The inputs of a build of `bundles` with `env` over the fork's, one fact a line, in a fixed
/// order; `None` when the fork's files cannot be listed (no git checkout): always build then.
pub fn render(w: &Work<'_>, bundles: &[String], env: &[String]) -> Option<String> {
    let files = w.dev.early_walk.take(&w.dev.fork.root).ok()?;
    let mut vars = w.exec().env;
    vars.extend(env.iter().cloned());
    vars.sort();
    vars.dedup();
    let mut text = format!(
        "image\t{}\nbundles\t{}\n",
        w.ctr.image_id,
        bundles.join(" ")
    );
    for v in vars {
        text.push_str(&format!("env\t{v}\n"));
    }
    // The daemon build never reads what the fork keeps under its docs, tests and CI dirs.
    let read_by_build = |p: &str| {
        let top = p.split('/').next().unwrap_or_default();
        !hack_compat::NON_BUILD_DIRS.contains(&top)
    };
    for (path, e) in files.iter().filter(|(p, _)| read_by_build(p)) {
        text.push_str(&format!(
            "file\t{path}\t{}\t{}\t{:o}\n",
            e.size, e.mtime_ns, e.mode
        ));
    }
    Some(text)
}

/// A short digest of rendered inputs, for the build record.
pub fn digest(text: &str) -> String {
    crate::text::hex(&Sha256::digest(text.as_bytes())[..16])
}

/// Kept beside the build record, the fork owner's (as the record is).
pub fn write(fork: &hack_compat::Fork, text: &str) -> Result<()> {
    let path = fork.root.join(FILE);
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir)?;
    }
    fs_err::write(&path, text)?;
    crate::fork::own(fork, &path)
}

/// The inputs of the last build, when they are those its record names.
pub fn read(root: &Utf8Path, digest_in_record: &str) -> Option<String> {
    let text = std::fs::read_to_string(root.join(FILE)).ok()?;
    (digest(&text) == digest_in_record).then_some(text)
}

/// What differs between the inputs `then` and `now`, in a few words (`None`: the same).
pub fn changed(then: &str, now: &str) -> Option<String> {
    if then == now {
        return None;
    }
    let old: std::collections::BTreeSet<&str> = then.lines().collect();
    let new: std::collections::BTreeSet<&str> = now.lines().collect();
    let key = |l: &str| -> (String, String) {
        let mut f = l.split('\t');
        let kind = f.next().unwrap_or_default().to_string();
        let name = match kind.as_str() {
            "env" => f
                .next()
                .unwrap_or_default()
                .split('=')
                .next()
                .unwrap_or_default(),
            "file" => f.next().unwrap_or_default(),
            _ => "",
        };
        (kind, name.to_string())
    };
    let added = new.difference(&old).next().map(|l| key(l));
    let gone = old.difference(&new).next().map(|l| key(l));
    let (kind, name) = added.clone().or(gone.clone())?;
    let is_new = added.is_some() && !old.iter().any(|l| key(l) == (kind.clone(), name.clone()));
    let removed = added.is_none();
    Some(match kind.as_str() {
        "image" => "the dev image changed since the last build".to_string(),
        "bundles" => "other bundles were built last".to_string(),
        "env" if name == "DOCKER_GITCOMMIT" => "the commit stamp changed".to_string(),
        "env" if removed => format!("{name} is no longer set"),
        "env" => format!("{name} changed"),
        "file" if removed => format!("{name} was removed"),
        "file" if is_new => format!("{name} is new"),
        "file" => format!("{name} changed"),
        _ => "the build's inputs changed".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_changed_between_two_builds() {
        let then = "image\tsha256:1\nbundles\tbinary\nenv\tDOCKER_GITCOMMIT=abc\nenv\tX=1\n\
                    file\ta.go\t1\t10\t100644\nfile\tb.go\t1\t10\t100644\n";
        assert_eq!(changed(then, then), None);
        let edit = then.replace("a.go\t1\t10", "a.go\t1\t11");
        assert_eq!(changed(then, &edit).as_deref(), Some("a.go changed"));
        let new = format!("{then}file\tc.go\t1\t10\t100644\n");
        assert_eq!(changed(then, &new).as_deref(), Some("c.go is new"));
        let gone = then.replace("file\tb.go\t1\t10\t100644\n", "");
        assert_eq!(changed(then, &gone).as_deref(), Some("b.go was removed"));
        let image = then.replace("sha256:1", "sha256:2");
        assert!(changed(then, &image).unwrap().contains("dev image"));
        let stamp = then.replace("=abc", "=abc-unsupported");
        assert_eq!(
            changed(then, &stamp).as_deref(),
            Some("the commit stamp changed")
        );
        let var = then.replace("X=1", "X=2");
        assert_eq!(changed(then, &var).as_deref(), Some("X changed"));
        let unset = then.replace("env\tX=1\n", "");
        assert_eq!(changed(then, &unset).as_deref(), Some("X is no longer set"));
        assert_eq!(digest(then), digest(then));
        assert_ne!(digest(then), digest(&edit));
    }
}
