//! The container's shell in one place: `scripts.sh`, a library of POSIX functions run by name
//! (`sh -c <library> sh <function> <args…>`). No script is assembled with `format!`: values
//! travel as arguments, so a path or a commit can never change a script's meaning.

pub const LIBRARY: &str = include_str!("scripts.sh");

/// The argv that runs `func` of the library with `args` under the container's `/bin/sh`.
pub fn argv(func: &str, args: &[&str]) -> Vec<String> {
    let mut v = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        LIBRARY.to_string(),
        "sh".to_string(),
        func.to_string(),
    ];
    v.extend(args.iter().map(|a| a.to_string()));
    v
}

#[cfg(test)]
mod tests;
