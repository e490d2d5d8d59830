//! Small text helpers shared by the tasks: indented blocks of captured output, lower-case hex,
//! whether an ignore file lists cargo's `target/`.

/// `text`'s last `n` lines as an indented block (`\n  | …`), empty when there is nothing.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    indent(&lines[lines.len().saturating_sub(n)..].join("\n"))
}

/// Every line of `text` as `\n  | line`.
pub fn indent(text: &str) -> String {
    text.lines().map(|l| format!("\n  | {l}")).collect()
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// FNV-1a: a hash that stays the same across runs and Rust versions (names, identities).
pub fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// A size as people read it: `12.3 MiB`.
pub fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    } else if bytes >= 1 << 10 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

/// Whether an ignore file already excludes the root `target/` directory.
pub fn lists_target(ignore: &str) -> bool {
    ignore.lines().map(str::trim).any(|l| {
        matches!(
            l,
            "/target/" | "/target" | "target/" | "target" | "target/**"
        )
    })
}

/// A test that cannot run here says so on stderr (`skipped: <test>: <reason>`, not captured);
/// with `MOBY_XTASK_NO_SKIPS=1` (CI, which installs everything) it fails instead.
#[cfg(test)]
pub fn skipped(reason: &str) {
    use std::io::Write;
    let name = std::thread::current().name().unwrap_or("test").to_string();
    if std::env::var("MOBY_XTASK_NO_SKIPS").is_ok_and(|v| v == "1") {
        panic!("{name} cannot run here ({reason}) and MOBY_XTASK_NO_SKIPS=1");
    }
    let _ = writeln!(std::io::stderr(), "skipped: {name}: {reason}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_and_hex() {
        assert_eq!(tail("a\nb\nc", 2), "\n  | b\n  | c");
        assert_eq!(tail("", 5), "");
        assert_eq!(hex(&[0, 15, 255]), "000fff");
        assert!(lists_target("bundles\n/target/\n"));
        assert!(!lists_target("target-other\n# /target/\n"));
    }
}
