//! Make function-call text as data: variable references at the top level of a value, and
//! `$(if $(X),then,else)` calls split into their parts. Nothing is expanded.

use crate::make_model::is_name;

/// Variable references at the top level of `text` (`$(NAME)`, `${NAME}`), not those inside a
/// function call such as `$(if $(X),…)`.
pub(crate) fn top_level_refs(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut refs = Vec::new();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'$' && matches!(bytes[i + 1], b'(' | b'{') {
            let end = matching_close(text, i + 1).unwrap_or(text.len());
            let inner = &text[i + 2..end.min(text.len())];
            if is_name(inner) {
                refs.push(inner.to_string());
            }
            i = end + 1;
        } else {
            i += 1;
        }
    }
    refs
}

/// The index of the bracket closing the one at `open`.
pub(crate) fn matching_close(text: &str, open: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'(' | b'{' => depth += 1,
            b')' | b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `$(if $(X),then[,else])` → (X, then, else) when `text` is exactly such a call.
pub(crate) fn if_call(text: &str) -> Option<(String, String, String)> {
    let t = text.trim();
    let body = t.strip_prefix("$(if ")?;
    if matching_close(t, 1)? != t.len() - 1 {
        return None;
    }
    let body = &body[..body.len() - 1];
    let args = split_args(body);
    let cond = args.first()?.trim();
    let var = cond
        .strip_prefix("$(")
        .and_then(|c| c.strip_suffix(')'))
        .filter(|v| is_name(v))?;
    let then = args
        .get(1)
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let other = args
        .get(2)
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    Some((var.to_string(), then, other))
}

/// Split function arguments on top-level commas.
fn split_args(body: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in body.char_indices() {
        match c {
            '(' | '{' => depth += 1,
            ')' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&body[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_calls_and_refs() {
        let (v, then, other) =
            if_call("$(if $(DOCKER_GRAPHDRIVER),$(DOCKER_GRAPHDRIVER),$(shell docker info))")
                .unwrap();
        assert_eq!(
            (v.as_str(), then.as_str(), other.as_str()),
            (
                "DOCKER_GRAPHDRIVER",
                "$(DOCKER_GRAPHDRIVER)",
                "$(shell docker info)"
            )
        );
        assert_eq!(
            top_level_refs("${A} $(if $(B),x) $(C) $(shell d)"),
            vec!["A", "C"]
        );
    }
}
