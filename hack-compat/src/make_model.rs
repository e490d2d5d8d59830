//! Just enough of GNU make's syntax to read moby's Makefile as data: logical lines (continuations
//! joined, comments and `define` blocks dropped), variable assignments with the `ifdef`/`ifndef`/
//! `ifeq` blocks around them, `export` lines, and rules with their recipes. Nothing is expanded.

/// A condition of an enclosing `ifdef`/`ifndef`/`ifeq`/`ifneq` block (or its `else`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MakeCond {
    /// `ifdef NAME` (or the `else` of `ifndef NAME`): holds when `NAME` is set and non-empty.
    Set(String),
    /// `ifndef NAME` (or the `else` of `ifdef NAME`): holds when `NAME` is unset or empty.
    Unset(String),
    /// An `ifeq`/`ifneq` test, as written (`!` in front for its `else` branch).
    Other(String),
}

impl MakeCond {
    /// Whether the condition holds for the host environment `is_set` describes; `None` for
    /// [`MakeCond::Other`], which needs make to evaluate.
    pub fn holds(&self, is_set: impl Fn(&str) -> bool) -> Option<bool> {
        match self {
            MakeCond::Set(n) => Some(is_set(n)),
            MakeCond::Unset(n) => Some(!is_set(n)),
            MakeCond::Other(_) => None,
        }
    }

    fn negated(&self) -> MakeCond {
        match self {
            MakeCond::Set(n) => MakeCond::Unset(n.clone()),
            MakeCond::Unset(n) => MakeCond::Set(n.clone()),
            MakeCond::Other(t) => match t.strip_prefix('!') {
                Some(inner) => MakeCond::Other(inner.to_string()),
                None => MakeCond::Other(format!("!{t}")),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `:=` / `::=`
    Simple,
    /// `=`
    Recursive,
    /// `?=`
    IfUnset,
    /// `+=`
    Append,
    /// `!=`
    Shell,
}

#[derive(Debug, Clone)]
pub(crate) struct Assign {
    pub name: String,
    pub op: Op,
    pub value: String,
    pub when: Vec<MakeCond>,
    /// `Some(target)` for a target-specific assignment (`build: X := …`).
    pub target: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub targets: Vec<String>,
    pub recipe: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Makefile {
    pub assigns: Vec<Assign>,
    /// Exported names with the conditions of the `export` line.
    pub exports: Vec<(String, Vec<MakeCond>)>,
    pub rules: Vec<Rule>,
}

impl Makefile {
    pub fn parse(text: &str) -> Makefile {
        let mut mk = Makefile::default();
        let mut conds: Vec<MakeCond> = Vec::new();
        let mut in_rule = false;
        let mut in_define = false;
        for line in logical_lines(text) {
            let is_recipe = line.starts_with('\t') && in_rule;
            let t = line.trim();
            if in_define {
                in_define = t != "endef";
                continue;
            }
            if is_recipe {
                if let Some(rule) = mk.rules.last_mut() {
                    rule.recipe.push(t.to_string());
                }
                continue;
            }
            let t = strip_comment(t);
            if t.is_empty() {
                continue;
            }
            let (word, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
            let rest = rest.trim();
            match word {
                "define" => in_define = true,
                "ifdef" => conds.push(MakeCond::Set(rest.to_string())),
                "ifndef" => conds.push(MakeCond::Unset(rest.to_string())),
                "ifeq" | "ifneq" => conds.push(MakeCond::Other(t.to_string())),
                "else" => {
                    if let Some(c) = conds.pop() {
                        conds.push(c.negated());
                    }
                }
                "endif" => {
                    conds.pop();
                }
                "export" if !rest.is_empty() => {
                    in_rule = false;
                    match assignment(rest) {
                        Some((name, op, value)) => {
                            mk.exports.push((name.clone(), conds.clone()));
                            mk.push_assign(name, op, value, &conds, None);
                        }
                        None => mk.exports.extend(
                            rest.split_whitespace()
                                .map(|n| (n.to_string(), conds.clone())),
                        ),
                    }
                }
                _ => {
                    let body = t.strip_prefix("override ").unwrap_or(t);
                    if let Some((name, op, value)) = assignment(body) {
                        in_rule = false;
                        mk.push_assign(name, op, value, &conds, None);
                    } else if let Some((targets, after)) = rule_head(t) {
                        match assignment(after) {
                            Some((name, op, value)) => {
                                in_rule = false;
                                for target in &targets {
                                    mk.push_assign(
                                        name.clone(),
                                        op,
                                        value.clone(),
                                        &conds,
                                        Some(target.clone()),
                                    );
                                }
                            }
                            None => {
                                in_rule = true;
                                mk.rules.push(Rule {
                                    targets,
                                    recipe: Vec::new(),
                                });
                            }
                        }
                    }
                }
            }
        }
        mk
    }

    fn push_assign(
        &mut self,
        name: String,
        op: Op,
        value: String,
        when: &[MakeCond],
        target: Option<String>,
    ) {
        self.assigns.push(Assign {
            name,
            op,
            value,
            when: when.to_vec(),
            target,
        });
    }

    /// Global (not target-specific) assignments of `name`, in file order.
    pub fn assigns_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Assign> + 'a {
        self.assigns
            .iter()
            .filter(move |a| a.name == name && a.target.is_none())
    }

    /// Recipe lines of the rules that make `target`.
    pub fn recipe_of(&self, target: &str) -> Vec<&str> {
        self.rules
            .iter()
            .filter(|r| r.targets.iter().any(|t| t == target))
            .flat_map(|r| r.recipe.iter().map(String::as_str))
            .collect()
    }
}

/// Lines with `\` continuations joined by a space (recipe lines keep their leading tab).
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        match line.strip_suffix('\\') {
            Some(head) => {
                let head = head.trim_end();
                cur.push_str(if cur.is_empty() {
                    head
                } else {
                    head.trim_start()
                });
                cur.push(' ');
            }
            None => {
                cur.push_str(if cur.is_empty() {
                    line
                } else {
                    line.trim_start()
                });
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1] != b'\\') {
            return line[..i].trim_end();
        }
    }
    line
}

pub(crate) fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `NAME op value` → (name, op, value trimmed).
fn assignment(line: &str) -> Option<(String, Op, String)> {
    let end = line.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))?;
    let (name, rest) = line.split_at(end);
    if !is_name(name) {
        return None;
    }
    let rest = rest.trim_start();
    let ops = [
        ("::=", Op::Simple),
        (":=", Op::Simple),
        ("?=", Op::IfUnset),
        ("+=", Op::Append),
        ("!=", Op::Shell),
        ("=", Op::Recursive),
    ];
    ops.iter().find_map(|(text, op)| {
        rest.strip_prefix(text)
            .map(|v| (name.to_string(), *op, v.trim().to_string()))
    })
}

/// `targets: prerequisites` → (targets, text after the colon); `None` if not a rule line.
fn rule_head(line: &str) -> Option<(Vec<String>, &str)> {
    let colon = line.find(':')?;
    if line[colon..].starts_with(":=") || line[..colon].contains('=') {
        return None;
    }
    let targets: Vec<String> = line[..colon]
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if targets.is_empty() {
        return None;
    }
    let after = line[colon + 1..].trim_start_matches(':').trim();
    Some((targets, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditionals_exports_rules() {
        let mk = Makefile::parse(
            "ifndef USE_BUILDX\nDOCKER_BUILDKIT := 1\nexport DOCKER_BUILDKIT\nelse\nX ?= y # c\nendif\n\
             export PAGER\ndefine \\n\n\nendef\nbuild: bundles\n\tdocker build \\\n\t  -t x .\n\
             ifeq ($(BIND_DIR), .)\nbuild: shell_target := --target=dev\nendif\n\
             ifeq ($(I), 1)\n\tFLAGS += -t\nendif\n",
        );
        let bk: Vec<_> = mk.assigns_of("DOCKER_BUILDKIT").collect();
        assert_eq!(bk[0].when, vec![MakeCond::Unset("USE_BUILDX".into())]);
        let x: Vec<_> = mk.assigns_of("X").collect();
        assert_eq!((x[0].op, x[0].value.as_str()), (Op::IfUnset, "y"));
        assert_eq!(x[0].when, vec![MakeCond::Set("USE_BUILDX".into())]);
        assert_eq!(mk.exports.len(), 2);
        assert_eq!(mk.recipe_of("build"), vec!["docker build -t x ."]);
        assert_eq!(mk.assigns_of("shell_target").count(), 0);
        assert!(mk
            .assigns
            .iter()
            .any(|a| a.name == "shell_target" && a.target.as_deref() == Some("build")));
        assert_eq!(mk.assigns_of("FLAGS").count(), 1);
    }
}
