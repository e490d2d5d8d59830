//! GitHub Actions' `${{ … }}` expressions, as far as moby's test workflows use them: contexts
//! (`inputs.storage`, `matrix.mode`, `env.ITG_CLI_MATRIX_SIZE`, …), string and number literals,
//! `==` / `!=` (strings compared ignoring case), `!`, `&&` / `||` (which yield an operand, as in
//! `inputs.storage == 'snapshotter' && 'overlayfs' || 'overlay2'`), parentheses and
//! `fromJson(…)`. What is not known (another context, another function) is `None`.

use serde_json::Value;

/// What a context name gives (`inputs.storage` → `"graphdriver"`); `None`: unknown.
pub type Lookup<'a> = dyn Fn(&str) -> Option<Value> + 'a;

/// A value with every `${{ … }}` replaced; a string that is one expression keeps its value's
/// type. `None` when an expression cannot be evaluated here.
pub fn interpolate(text: &str, ctx: &Lookup) -> Option<Value> {
    let trimmed = text.trim();
    if let Some(inner) = whole_expr(trimmed) {
        return eval(inner, ctx);
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}")? + start;
        let v = eval(&rest[start + 3..end], ctx)?;
        out.push_str(&as_text(&v));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Some(Value::String(out))
}

/// `${{ x }}` spanning the whole text: `x`.
fn whole_expr(t: &str) -> Option<&str> {
    let inner = t.strip_prefix("${{")?.strip_suffix("}}")?;
    (!inner.contains("${{")).then_some(inner)
}

/// A value as the text a workflow would substitute.
pub fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// GitHub's and JavaScript's falsy values: null, false, 0, "".
pub(super) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        (Value::Number(x), Value::String(y)) | (Value::String(y), Value::Number(x)) => {
            y.trim().parse::<f64>().ok() == x.as_f64()
        }
        _ => a == b,
    }
}

/// One expression (the text inside `${{ }}`).
pub fn eval(expr: &str, ctx: &Lookup) -> Option<Value> {
    let toks = lex(expr)?;
    let mut p = Parser {
        toks: &toks,
        pos: 0,
        ctx,
    };
    let v = p.or()?;
    (p.pos == toks.len()).then_some(v)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String),
    Num(f64),
    Name(String),
    Op(&'static str),
}

fn lex(s: &str) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            // '' inside a literal is one quote.
            let mut lit = String::new();
            i += 1;
            loop {
                let rest = s.get(i..)?;
                let q = rest.find('\'')?;
                lit.push_str(&rest[..q]);
                i += q + 1;
                if s.get(i..i + 1) == Some("'") {
                    lit.push('\'');
                    i += 1;
                } else {
                    break;
                }
            }
            out.push(Tok::Str(lit));
        } else if let Some(op) = ["==", "!=", "&&", "||", "(", ")", "!", ","]
            .into_iter()
            .find(|op| s[i..].starts_with(op))
        {
            out.push(Tok::Op(op));
            i += op.len();
        } else if c.is_ascii_digit() {
            let end = s[i..]
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .map_or(s.len(), |e| i + e);
            out.push(Tok::Num(s[i..end].parse().ok()?));
            i = end;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let end = s[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || "_-.*".contains(c)))
                .map_or(s.len(), |e| i + e);
            out.push(Tok::Name(s[i..end].to_string()));
            i = end;
        } else {
            return None;
        }
    }
    Some(out)
}

struct Parser<'t, 'c> {
    toks: &'t [Tok],
    pos: usize,
    ctx: &'c Lookup<'c>,
}

impl Parser<'_, '_> {
    fn peek_op(&self, op: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Op(o)) if *o == op)
    }

    fn or(&mut self) -> Option<Value> {
        let mut v = self.and()?;
        while self.peek_op("||") {
            self.pos += 1;
            let r = self.and()?;
            if !truthy(&v) {
                v = r;
            }
        }
        Some(v)
    }

    fn and(&mut self) -> Option<Value> {
        let mut v = self.cmp()?;
        while self.peek_op("&&") {
            self.pos += 1;
            let r = self.cmp()?;
            if truthy(&v) {
                v = r;
            }
        }
        Some(v)
    }

    fn cmp(&mut self) -> Option<Value> {
        let l = self.unary()?;
        for (op, want) in [("==", true), ("!=", false)] {
            if self.peek_op(op) {
                self.pos += 1;
                let r = self.unary()?;
                return Some(Value::Bool(equal(&l, &r) == want));
            }
        }
        Some(l)
    }

    fn unary(&mut self) -> Option<Value> {
        let tok = self.toks.get(self.pos)?.clone();
        self.pos += 1;
        match tok {
            Tok::Op("!") => Some(Value::Bool(!truthy(&self.unary()?))),
            Tok::Op("(") => {
                let v = self.or()?;
                self.peek_op(")").then(|| self.pos += 1)?;
                Some(v)
            }
            Tok::Str(s) => Some(Value::String(s)),
            Tok::Num(n) => serde_json::Number::from_f64(n).map(Value::Number),
            Tok::Name(name) if self.peek_op("(") => self.call(&name),
            Tok::Name(name) => match name.as_str() {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                "null" => Some(Value::Null),
                _ => (self.ctx)(&name),
            },
            Tok::Op(_) => None,
        }
    }

    fn call(&mut self, name: &str) -> Option<Value> {
        self.pos += 1;
        let arg = self.or()?;
        self.peek_op(")").then(|| self.pos += 1)?;
        match name.to_ascii_lowercase().as_str() {
            "fromjson" => serde_json::from_str(&as_text(&arg)).ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(name: &str) -> Option<Value> {
        match name {
            "inputs.storage" => Some("snapshotter".into()),
            "matrix.test" => Some("DockerCLIRunSuite".into()),
            "env.ITG_CLI_MATRIX_SIZE" => Some(6.into()),
            _ => None,
        }
    }

    #[test]
    fn the_forms_moby_uses() {
        let e = |s: &str| interpolate(s, &ctx);
        assert_eq!(
            e("${{ inputs.storage == 'snapshotter' && 'overlayfs' || 'overlay2' }}"),
            Some("overlayfs".into())
        );
        assert_eq!(
            e("${{ inputs.storage == 'graphdriver' && '1' || '' }}"),
            Some("".into())
        );
        assert_eq!(
            e("-test.run (${{ matrix.test }})/"),
            Some("-test.run (DockerCLIRunSuite)/".into())
        );
        assert_eq!(e("${{ env.ITG_CLI_MATRIX_SIZE }}"), Some(6.into()));
        assert_eq!(
            e("${{ inputs.storage == 'SNAPSHOTTER' }}"),
            Some(true.into())
        );
        assert_eq!(
            e(r#"${{ fromJson('["a", "b"]') }}"#),
            Some(serde_json::json!(["a", "b"]))
        );
        assert_eq!(e("plain"), Some("plain".into()));
        assert_eq!(e("${{ github.event_name != 'pull_request' }}"), None);
        assert_eq!(e("${{ inputs.storage == }}"), None);
    }
}
