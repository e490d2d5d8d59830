//! The matrices moby's workflows compute with `actions/github-script` (HEAD's and v28's
//! `integration-prepare`, `integration-cli-prepare`): the script's JavaScript, run as far as
//! those scripts go: `const`/`let` bindings, object and array literals, strings and template
//! strings, `JSON.parse`, `core.getInput` (the step's `INPUT_*` variables), `.push(…)` with
//! spread, `.map(x => …)`, `==` comparisons and `if` blocks; then the value handed to
//! `core.setOutput(NAME, JSON.stringify(VAR))`. `${{ … }}` is substituted before, as GitHub
//! does. Any other statement is passed over; a form not understood gives `None`.

use serde_json::{Map, Value};

use super::expr::truthy;
use std::collections::HashMap;

/// The output `name` of `script` (already interpolated); `input` gives `core.getInput(n)`.
pub fn output(script: &str, name: &str, input: &dyn Fn(&str) -> Option<String>) -> Option<Value> {
    let toks = lex(&strip_comments(script))?;
    let mut run = Run {
        t: &toks,
        i: 0,
        vars: HashMap::new(),
        input,
    };
    run.statements(toks.len())?;
    // core.setOutput('name', JSON.stringify(var))
    let call = [
        T::Id("core".into()),
        T::P("."),
        T::Id("setOutput".into()),
        T::P("("),
        T::Str(name.into()),
        T::P(","),
        T::Id("JSON".into()),
        T::P("."),
        T::Id("stringify".into()),
        T::P("("),
    ];
    let at = (0..toks.len()).find(|&i| toks[i..].starts_with(&call))?;
    let var = match toks.get(at + call.len())? {
        T::Id(v) => v.clone(),
        _ => return None,
    };
    run.vars.get(&var).cloned()
}

/// Line comments (`// …` after a space or at a line's start) removed.
fn strip_comments(s: &str) -> String {
    s.lines()
        .map(|l| match l.find("//") {
            Some(i) if i == 0 || l[..i].ends_with([' ', '\t', ',']) => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Debug, Clone, PartialEq)]
enum T {
    Id(String),
    Str(String),
    /// A template string's raw text, `${…}` unresolved.
    Tpl(String),
    Num(f64),
    P(&'static str),
}

const PUNCT: &[&str] = &[
    "...", "===", "!==", "=>", "==", "!=", "&&", "||", "{", "}", "[", "]", "(", ")", ",", ":", ";",
    ".", "=", "!",
];

fn lex(s: &str) -> Option<Vec<T>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        let c = rest.chars().next()?;
        if c.is_whitespace() {
            i += c.len_utf8();
        } else if matches!(c, '\'' | '"' | '`') {
            let end = rest[1..].find(c)? + 1;
            let body = rest[1..end].to_string();
            out.push(if c == '`' { T::Tpl(body) } else { T::Str(body) });
            i += end + 1;
        } else if let Some(p) = PUNCT.iter().find(|p| rest.starts_with(**p)) {
            out.push(T::P(p));
            i += p.len();
        } else if c.is_ascii_digit() {
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            out.push(T::Num(rest[..end].parse().ok()?));
            i += end;
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(rest.len());
            out.push(T::Id(rest[..end].to_string()));
            i += end;
        } else {
            return None;
        }
    }
    Some(out)
}

struct Run<'a> {
    t: &'a [T],
    i: usize,
    vars: HashMap<String, Value>,
    input: &'a dyn Fn(&str) -> Option<String>,
}

impl Run<'_> {
    fn at(&self, p: &str) -> bool {
        matches!(self.t.get(self.i), Some(T::P(q)) if *q == p)
    }

    fn eat(&mut self, p: &str) -> Option<()> {
        self.at(p).then(|| self.i += 1)
    }

    fn id(&mut self) -> Option<String> {
        match self.t.get(self.i) {
            Some(T::Id(s)) => {
                self.i += 1;
                Some(s.clone())
            }
            _ => None,
        }
    }

    /// Statements up to token `end`.
    fn statements(&mut self, end: usize) -> Option<()> {
        while self.i < end {
            if self.eat(";").is_some() {
                continue;
            }
            self.statement()?;
        }
        Some(())
    }

    fn statement(&mut self) -> Option<()> {
        let start = self.i;
        match self.id().as_deref() {
            Some("const" | "let" | "var") => {
                let name = self.id()?;
                self.eat("=")?;
                let v = self.expr()?;
                self.vars.insert(name, v);
                Some(())
            }
            Some("if") => {
                self.eat("(")?;
                let cond = truthy(&self.expr()?);
                self.eat(")")?;
                let (body, after) = self.block()?;
                self.i = body;
                if cond {
                    self.statements(after - 1)?;
                }
                self.i = after;
                Some(())
            }
            Some(first) => {
                let mut path = vec![first.to_string()];
                while self.eat(".").is_some() {
                    path.push(self.id()?);
                }
                if path.last().map(String::as_str) == Some("push") && self.eat("(").is_some() {
                    path.pop();
                    let items = self.list(")")?;
                    let target = self.place(&path)?;
                    target.as_array_mut()?.extend(items);
                    return Some(());
                }
                self.i = start;
                self.skip_statement()
            }
            None => {
                self.i = start;
                self.skip_statement()
            }
        }
    }

    /// `{ … }` from here: the index after `{` and the index after its `}`.
    fn block(&mut self) -> Option<(usize, usize)> {
        self.eat("{")?;
        let body = self.i;
        let mut depth = 1;
        while depth > 0 {
            match self.t.get(self.i)? {
                T::P("{") | T::P("(") | T::P("[") => depth += 1,
                T::P("}") | T::P(")") | T::P("]") => depth -= 1,
                _ => {}
            }
            self.i += 1;
        }
        Some((body, self.i))
    }

    /// A statement not understood: passed over, to its `;` (brackets balanced).
    fn skip_statement(&mut self) -> Option<()> {
        let mut depth = 0i32;
        while let Some(t) = self.t.get(self.i) {
            self.i += 1;
            match t {
                T::P("{") | T::P("(") | T::P("[") => depth += 1,
                T::P("}") | T::P(")") | T::P("]") => depth -= 1,
                T::P(";") if depth == 0 => return Some(()),
                _ => {}
            }
            if depth < 0 {
                return None;
            }
        }
        Some(())
    }

    /// The value a dotted path names, to change it.
    fn place(&mut self, path: &[String]) -> Option<&mut Value> {
        let (first, rest) = path.split_first()?;
        let mut v = self.vars.get_mut(first)?;
        for key in rest {
            v = v.as_object_mut()?.get_mut(key)?;
        }
        Some(v)
    }

    /// Items up to `close` (consumed), `...spread` expanded.
    fn list(&mut self, close: &str) -> Option<Vec<Value>> {
        let mut items = Vec::new();
        while self.eat(close).is_none() {
            if self.eat("...").is_some() {
                items.extend(self.expr()?.as_array()?.iter().cloned());
            } else {
                items.push(self.expr()?);
            }
            if self.eat(",").is_none() {
                self.eat(close)?;
                break;
            }
        }
        Some(items)
    }

    fn expr(&mut self) -> Option<Value> {
        let mut v = self.and()?;
        while self.eat("||").is_some() {
            let r = self.and()?;
            if !truthy(&v) {
                v = r;
            }
        }
        Some(v)
    }

    fn and(&mut self) -> Option<Value> {
        let mut v = self.cmp()?;
        while self.eat("&&").is_some() {
            let r = self.cmp()?;
            if truthy(&v) {
                v = r;
            }
        }
        Some(v)
    }

    fn cmp(&mut self) -> Option<Value> {
        let l = self.unary()?;
        for (op, eq) in [("===", true), ("==", true), ("!==", false), ("!=", false)] {
            if self.eat(op).is_some() {
                let r = self.unary()?;
                return Some(Value::Bool((l == r) == eq));
            }
        }
        Some(l)
    }

    fn unary(&mut self) -> Option<Value> {
        if self.eat("!").is_some() {
            return Some(Value::Bool(!truthy(&self.unary()?)));
        }
        let mut v = self.primary()?;
        // `.map(x => body)` on an array.
        while self.at(".") && self.t.get(self.i + 1) == Some(&T::Id("map".into())) {
            self.i += 2;
            self.eat("(")?;
            let param = self.id()?;
            self.eat("=>")?;
            let body_at = self.i;
            let mut out = Vec::new();
            let mut end = body_at;
            for item in v.as_array()?.clone() {
                self.i = body_at;
                let saved = self.vars.insert(param.clone(), item);
                out.push(self.expr()?);
                end = self.i;
                match saved {
                    Some(s) => self.vars.insert(param.clone(), s),
                    None => self.vars.remove(&param),
                };
            }
            if out.is_empty() {
                self.i = body_at;
                self.skip_expr()?;
                end = self.i;
            }
            self.i = end;
            self.eat(")")?;
            v = Value::Array(out);
        }
        Some(v)
    }

    /// Past one expression (a `.map` body over nothing), brackets balanced.
    fn skip_expr(&mut self) -> Option<()> {
        let mut depth = 0i32;
        while let Some(t) = self.t.get(self.i) {
            match t {
                T::P("{") | T::P("(") | T::P("[") => depth += 1,
                T::P("}") | T::P(")") | T::P("]") if depth == 0 => return Some(()),
                T::P("}") | T::P(")") | T::P("]") => depth -= 1,
                T::P(",") if depth == 0 => return Some(()),
                _ => {}
            }
            self.i += 1;
        }
        None
    }

    fn primary(&mut self) -> Option<Value> {
        let tok = self.t.get(self.i)?.clone();
        self.i += 1;
        match tok {
            T::Str(s) => Some(Value::String(s)),
            T::Tpl(raw) => self.template(&raw).map(Value::String),
            T::Num(n) => serde_json::Number::from_f64(n).map(Value::Number),
            T::P("(") => {
                let v = self.expr()?;
                self.eat(")")?;
                Some(v)
            }
            T::P("[") => self.list("]").map(Value::Array),
            T::P("{") => self.object(),
            T::Id(name) => self.named(&name),
            T::P(_) => None,
        }
    }

    fn object(&mut self) -> Option<Value> {
        let mut m = Map::new();
        while self.eat("}").is_none() {
            let key = match self.t.get(self.i)?.clone() {
                T::Id(k) | T::Str(k) => k,
                _ => return None,
            };
            self.i += 1;
            self.eat(":")?;
            let v = self.expr()?;
            m.insert(key, v);
            if self.eat(",").is_none() {
                self.eat("}")?;
                break;
            }
        }
        Some(Value::Object(m))
    }

    /// A name: `true`/`false`/`null`, `JSON.parse(…)`, `core.getInput(…)`, or a binding.
    fn named(&mut self, name: &str) -> Option<Value> {
        match name {
            "true" => return Some(Value::Bool(true)),
            "false" => return Some(Value::Bool(false)),
            "null" => return Some(Value::Null),
            _ => {}
        }
        let method = |r: &Run, m: &str| r.at(".") && r.t.get(r.i + 1) == Some(&T::Id(m.into()));
        if name == "JSON" && method(self, "parse") {
            self.i += 2;
            self.eat("(")?;
            let text = self.expr()?;
            self.eat(")")?;
            return serde_json::from_str(text.as_str()?).ok();
        }
        if name == "core" && method(self, "getInput") {
            self.i += 2;
            self.eat("(")?;
            let args = self.list(")")?;
            return (self.input)(args.first()?.as_str()?).map(Value::String);
        }
        self.vars.get(name).cloned()
    }

    /// A template string: each `${name}` replaced by that binding's text.
    fn template(&self, raw: &str) -> Option<String> {
        let mut out = String::new();
        let mut rest = raw;
        while let Some(at) = rest.find("${") {
            out.push_str(&rest[..at]);
            let end = rest[at..].find('}')? + at;
            match self.vars.get(rest[at + 2..end].trim())? {
                Value::String(s) => out.push_str(s),
                other => out.push_str(&other.to_string()),
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn heads_integration_prepare() {
        // HEAD b985e23's script, after GitHub substituted its `${{ env.… }}`.
        let script = r#"
            const arch = `amd64`;
            const extraModes = JSON.parse(`["rootless", "userns"]`);
            const runnerSuffix = ``;
            let includes = [
              { arch: arch, runner: `ubuntu-26.04${runnerSuffix}`, mode: '' },
            ];
            includes.push(...extraModes.map(mode => ({ arch: arch, runner: `ubuntu-26.04${runnerSuffix}`, mode: mode })));

            if (arch == "amd64") {
              includes.push({ arch: arch, runner: 'ubuntu-22.04', mode: '' });
              // includes.push({ arch: arch, runner: 'ubuntu-22.04', mode: 'gone' });
            }
            await core.group(`Set matrix`, async () => {
              core.info(`matrix: ${JSON.stringify(includes)}`);
              core.setOutput('includes', JSON.stringify(includes));
            });
        "#;
        let got = output(script, "includes", &|_| None);
        assert_eq!(
            got,
            Some(json!([
                {"arch": "amd64", "runner": "ubuntu-26.04", "mode": ""},
                {"arch": "amd64", "runner": "ubuntu-26.04", "mode": "rootless"},
                {"arch": "amd64", "runner": "ubuntu-26.04", "mode": "userns"},
                {"arch": "amd64", "runner": "ubuntu-22.04", "mode": ""},
            ]))
        );
    }

    #[test]
    fn an_input_and_a_false_branch() {
        let script = r#"
            const storage = core.getInput('storage', { required: true });
            let matrix = {
              test: JSON.parse(core.getInput('test-matrix', { required: true })),
              include: [],
            };
            if (storage == "snapshotter") {
              matrix.include.push({ 'mode': 'nftables', 'test': 'DockerSwarmSuite' });
            }
            core.setOutput('matrix', JSON.stringify(matrix));
        "#;
        let input = |storage: &'static str| {
            move |n: &str| match n {
                "storage" => Some(storage.to_string()),
                "test-matrix" => Some(r#"["A","./..."]"#.to_string()),
                _ => None,
            }
        };
        assert_eq!(
            output(script, "matrix", &input("graphdriver")),
            Some(json!({"test": ["A", "./..."], "include": []}))
        );
        assert_eq!(
            output(script, "matrix", &input("snapshotter")).map(|m| m["include"].clone()),
            Some(json!([{"mode": "nftables", "test": "DockerSwarmSuite"}]))
        );
        assert_eq!(output(script, "other", &input("snapshotter")), None);
    }
}
