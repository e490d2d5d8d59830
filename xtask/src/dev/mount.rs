//! A mount of the dev container, as the Engine API takes it and as `docker run` writes it.

use bollard::models::{Mount as ApiMount, MountType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    Bind { source: String, target: String },
    Volume { name: String, target: String },
}

impl Mount {
    /// The `-v` form, `source:target`; `--mount` when the source holds a `:` or `,`.
    pub fn cli_args(&self) -> [String; 2] {
        let (source, target) = match self {
            Mount::Bind { source, target } => (source, target),
            Mount::Volume { name, target } => (name, target),
        };
        if source.contains([':', ',']) {
            let kind = match self {
                Mount::Bind { .. } => "bind",
                Mount::Volume { .. } => "volume",
            };
            // `--mount` is CSV: a field holding a comma is quoted.
            let src = if source.contains(',') {
                format!("\"source={}\"", source.replace('"', "\"\""))
            } else {
                format!("source={source}")
            };
            [
                "--mount".into(),
                format!("type={kind},{src},target={target}"),
            ]
        } else {
            ["-v".into(), format!("{source}:{target}")]
        }
    }

    /// For the label that identifies a reusable container.
    pub fn label(&self) -> String {
        match self {
            Mount::Bind { source, target } => format!("{source}:{target}"),
            Mount::Volume { name, target } => format!("{name}:{target}"),
        }
    }

    /// The Engine API's `Mounts` entry: no `:` parsing, and a missing bind source is an error
    /// instead of an empty directory the daemon creates.
    pub fn api(&self) -> ApiMount {
        let (typ, source, target) = match self {
            Mount::Bind { source, target } => (MountType::BIND, source, target),
            Mount::Volume { name, target } => (MountType::VOLUME, name, target),
        };
        ApiMount {
            typ: Some(typ),
            source: Some(source.clone()),
            target: Some(target.clone()),
            ..Default::default()
        }
    }
}
