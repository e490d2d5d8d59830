//! What the fork's `hack/make.sh` (and `hack/make/.binary`) decide: commit form, output layout, checksums.

use crate::BinaryLayout;

/// How `hack/make.sh` stamps the commit when it asks git itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitForm {
    /// `git rev-parse --short HEAD` (up to v24.0.0).
    Short,
    /// `git rev-parse HEAD` (later).
    Full,
}

pub(crate) fn commit_form(make_sh: &str) -> Option<CommitForm> {
    let code = make_sh.lines().filter(|l| !l.trim_start().starts_with('#'));
    let mut form = None;
    for line in code {
        if line.contains("git rev-parse --short HEAD") {
            return Some(CommitForm::Short);
        }
        if line.contains("git rev-parse HEAD") {
            form = Some(CommitForm::Full);
        }
    }
    form
}

pub(crate) fn layout(make_sh: &str) -> BinaryLayout {
    let code = make_sh.lines().filter(|l| !l.trim_start().starts_with('#'));
    let versioned = code
        .into_iter()
        .any(|l| l.contains("bundles/$VERSION") || l.contains("bundles/${VERSION}"));
    if versioned {
        BinaryLayout::Versioned
    } else {
        BinaryLayout::Flat
    }
}

pub(crate) fn writes_checksums(dot_binary: &str) -> bool {
    dot_binary
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .any(|l| l.contains("sha256"))
}
