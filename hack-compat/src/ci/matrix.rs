//! A job's `strategy.matrix` expanded as GitHub expands it: the product of its lists (first
//! key slowest), then each `include` object merged into every combination whose original
//! values it does not change (values that an include added may be changed by a later one),
//! or, where it fits none, added as a combination of its own; `exclude` removes matches.

use serde_json::Value;

/// One combination: the matrix keys and their values, in their order (GitHub names a job by
/// the values in that order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Combo(pub Vec<(String, Value)>);

impl Combo {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn insert(&mut self, key: &str, v: &Value) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = v.clone(),
            None => self.0.push((key.to_string(), v.clone())),
        }
    }

    fn from_object(o: &serde_json::Map<String, Value>) -> Combo {
        let mut c = Combo::default();
        for (k, v) in o {
            c.insert(k, v);
        }
        c
    }

    /// The values as a job's name shows them.
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.0.iter().map(|(_, v)| v)
    }
}

/// The combinations of `matrix` (already evaluated: lists, objects, keys in the file's
/// order). `None`: not a matrix.
#[cfg(test)]
pub fn expand(matrix: &Value) -> Option<Vec<Combo>> {
    expand_counted(matrix).map(|(c, _)| c)
}

/// The combinations, and how many come from the matrix's lists (they come first; the rest
/// are `include` objects that fitted none).
pub fn expand_counted(matrix: &Value) -> Option<(Vec<Combo>, usize)> {
    let m = matrix.as_object()?;
    let mut combos: Vec<Combo> = vec![Combo::default()];
    let mut originals: Vec<&str> = Vec::new();
    for (key, values) in m {
        if key == "include" || key == "exclude" {
            continue;
        }
        let values = values.as_array()?;
        originals.push(key);
        combos = combos
            .iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.insert(key, v);
                    c
                })
            })
            .collect();
    }
    if originals.is_empty() {
        combos.clear();
    }
    let base = combos.len();
    for inc in m
        .get("include")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let inc = inc.as_object()?;
        let mut fitted = false;
        for c in combos.iter_mut().take(base) {
            let keeps_originals = inc
                .iter()
                .filter(|(k, _)| originals.contains(&k.as_str()))
                .all(|(k, v)| c.get(k) == Some(v));
            if keeps_originals {
                for (k, v) in inc {
                    c.insert(k, v);
                }
                fitted = true;
            }
        }
        if !fitted {
            combos.push(Combo::from_object(inc));
        }
    }
    for exc in m
        .get("exclude")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let exc = exc.as_object()?;
        combos.retain(|c| !exc.iter().all(|(k, v)| c.get(k) == Some(v)));
    }
    Some((combos, base))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(combos: &[Combo]) -> Vec<String> {
        combos
            .iter()
            .map(|c| {
                c.values()
                    .map(|v| v.as_str().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect()
    }

    /// GitHub's documented example (fruit × animal with five includes).
    #[test]
    fn githubs_include_rule() {
        let m = json!({
            "fruit": ["apple", "pear"],
            "animal": ["cat", "dog"],
            "include": [
                {"color": "green"},
                {"color": "pink", "animal": "cat"},
                {"fruit": "apple", "shape": "circle"},
                {"fruit": "banana"},
                {"fruit": "banana", "animal": "cat"}
            ]
        });
        assert_eq!(
            names(&expand(&m).unwrap()),
            [
                "apple,cat,pink,circle",
                "apple,dog,green,circle",
                "pear,cat,pink",
                "pear,dog,green",
                "banana",
                "banana,cat"
            ]
        );
    }

    #[test]
    fn includes_alone_and_excludes() {
        let m = json!({"include": [{"os": "a", "mode": ""}, {"os": "b", "mode": "x"}]});
        assert_eq!(names(&expand(&m).unwrap()), ["a,", "b,x"]);
        let m = json!({"os": ["a", "b"], "mode": ["", "x"], "exclude": [{"os": "b", "mode": "x"}]});
        assert_eq!(names(&expand(&m).unwrap()), ["a,", "a,x", "b,"]);
    }
}
