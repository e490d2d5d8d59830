//! What the fork's `hack/make.sh` (and `hack/make/.binary`) decide: commit form, output layout,
//! checksum files.

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

/// A checksum file `hack/make.sh`'s `hash_files` writes next to each binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    Md5,
    Sha256,
}

impl Checksum {
    /// The file extension (and `<ext>sum` tool): `md5`, `sha256`.
    pub fn ext(self) -> &'static str {
        match self {
            Checksum::Md5 => "md5",
            Checksum::Sha256 => "sha256",
        }
    }
}

/// The `for hashAlgo in …` list of `hash_files`, wherever it is defined (`hack/make.sh` in
/// 17.04/17.06, `hack/make/.binary` from 17.07), provided `.binary` calls it. Empty from 23.0.
pub(crate) fn checksums(make_sh: &str, dot_binary: &str) -> Vec<Checksum> {
    let is_code = |l: &&str| !l.trim_start().starts_with('#');
    let called = dot_binary
        .lines()
        .filter(is_code)
        .any(|l| l.trim_start().starts_with("hash_files "));
    if !called {
        return Vec::new();
    }
    let mut out = Vec::new();
    for line in make_sh.lines().chain(dot_binary.lines()).filter(is_code) {
        let Some(list) = line.trim().strip_prefix("for hashAlgo in ") else {
            continue;
        };
        for word in list.split([' ', ';']).filter(|w| !w.is_empty()) {
            let kind = match word {
                "md5" => Checksum::Md5,
                "sha256" => Checksum::Sha256,
                _ => continue,
            };
            if !out.contains(&kind) {
                out.push(kind);
            }
        }
    }
    out
}
