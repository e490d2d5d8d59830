//! A workflow file, read with yaml-rust2 (YAML 1.2: `on` is a key, not `true`) into JSON
//! values, keys in the file's order.

use camino::Utf8Path;
use serde_json::{Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

use crate::Error;

/// The first document of the file at `path`.
pub fn load(path: &Utf8Path) -> Result<Value, Error> {
    let text = fs_err::read_to_string(path).map_err(Error::Io)?;
    let docs = YamlLoader::load_from_str(&text).map_err(|e| Error::BadWorkflow {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    Ok(docs.first().map(to_json).unwrap_or(Value::Null))
}

fn to_json(y: &Yaml) -> Value {
    match y {
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Integer(i) => Value::Number((*i).into()),
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or_else(|| Value::String(r.clone()), Value::Number),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        Yaml::Hash(h) => {
            let mut m = Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Real(r) => r.clone(),
                    _ => continue,
                };
                m.insert(key, to_json(v));
            }
            Value::Object(m)
        }
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Value::Null,
    }
}
