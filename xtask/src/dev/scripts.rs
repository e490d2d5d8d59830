//! The container's shell in one place: `scripts.sh`, a library of POSIX functions run by name.
//! No script is assembled with `format!`: values travel as arguments, so a path or a commit can
//! never change a script's meaning. Each exec carries only the function it runs and those it
//! calls (not the whole library), so `ps` in the dev container stays readable.

use std::collections::BTreeMap;
use std::sync::OnceLock;

pub const LIBRARY: &str = include_str!("scripts.sh");

/// The argv that runs `func` of the library with `args` under the container's `/bin/sh`.
pub fn argv(func: &str, args: &[&str]) -> Vec<String> {
    let mut v = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        script_for(func),
        "sh".to_string(),
        func.to_string(),
    ];
    v.extend(args.iter().map(|a| a.to_string()));
    v
}

/// The library's variable lines and function definitions, by name.
struct Parsed {
    preamble: String,
    functions: BTreeMap<String, String>,
}

fn parsed() -> &'static Parsed {
    static PARSED: OnceLock<Parsed> = OnceLock::new();
    PARSED.get_or_init(|| {
        let mut preamble = String::new();
        let mut functions = BTreeMap::new();
        let mut current: Option<(String, String)> = None;
        for line in LIBRARY.lines() {
            if let Some((name, body)) = current.as_mut() {
                body.push_str(line);
                body.push('\n');
                if line == "}" {
                    functions.insert(std::mem::take(name), std::mem::take(body));
                    current = None;
                }
            } else if let Some(name) = line.strip_suffix("() {") {
                current = Some((name.to_string(), format!("{line}\n")));
            } else if !line.starts_with('#') && !line.trim().is_empty() && line != "\"$@\"" {
                preamble.push_str(line);
                preamble.push('\n');
            }
        }
        Parsed {
            preamble,
            functions,
        }
    })
}

/// `func` and every library function it calls, after the library's variables, then the call.
pub fn script_for(func: &str) -> String {
    let p = parsed();
    let mut needed: Vec<&str> = vec![func];
    let mut i = 0;
    while i < needed.len() {
        let body = p.functions.get(needed[i]).map(String::as_str).unwrap_or("");
        for name in p.functions.keys() {
            let called = body
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|w| w == name);
            if called && !needed.contains(&name.as_str()) {
                needed.push(name);
            }
        }
        i += 1;
    }
    let bodies: Vec<&str> = needed
        .iter()
        .filter_map(|n| p.functions.get(*n).map(String::as_str))
        .collect();
    // Only the variables these functions use.
    let mut script: String = p
        .preamble
        .lines()
        .filter(|l| {
            let var = l.split('=').next().unwrap_or_default();
            bodies.iter().any(|b| b.contains(var))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    for body in bodies {
        script.push_str(body);
    }
    script.push_str("\"$@\"\n");
    script
}

#[cfg(test)]
mod tests;
