//! Checking a stage's params against its kind's [`ParamSpec`]s: unknown and
//! missing names, types (with `Int` widened to `Float`), enum values, list
//! items, path existence; defaults filled in.

use std::collections::BTreeMap;
use std::path::Path;

use crate::diagnostic::sink::{SetHint, Sink};
use crate::format::yaml::{Node, Pos};
use crate::kind::param::{Lit, ParamSpec, ParamType, Params};
use crate::kind::value::Value;

/// One written param after interpolation: name, where the name was written,
/// the value, and its node (for locating list items).
pub struct Written<'a> {
    pub name: &'a str,
    pub key_pos: Pos,
    pub node: &'a Node,
    /// `None` when interpolating it already failed (and was reported).
    pub value: Option<Value>,
}

/// Types and defaults the written params; `None` after reporting errors.
pub fn check(
    specs: &[ParamSpec],
    written: Vec<Written>,
    missing_pos: Pos,
    kind: &str,
    dir: &Path,
    sink: &mut Sink,
) -> Option<Params> {
    let mut out = BTreeMap::new();
    let mut ok = true;
    let mut present = Vec::with_capacity(written.len());
    for w in written {
        let Some(spec) = specs.iter().find(|s| s.name == w.name) else {
            let d = sink.error(
                w.key_pos,
                format!("unknown parameter `{}` for kind `{kind}`", w.name),
            );
            let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
            d.set_hint(crate::diagnostic::unknown_name_hint(
                w.name,
                &names,
                &format!("kind `{kind}`"),
                "parameters",
            ));
            ok = false;
            continue;
        };
        present.push(spec.name);
        let Some(value) = w.value else {
            ok = false;
            continue;
        };
        let nullable = spec.default == Some(Lit::Null);
        match typed(&spec.ty, value, nullable, w.node, w.node.pos, dir, sink) {
            Some(v) => {
                out.insert(w.name.to_string(), v);
            }
            None => ok = false,
        }
    }
    for spec in specs {
        if present.contains(&spec.name) {
            continue;
        }
        match spec.default {
            Some(lit) => {
                out.insert(spec.name.to_string(), lit.to_value());
            }
            None => {
                sink.error(
                    missing_pos,
                    format!(
                        "missing required parameter `{}` for kind `{kind}`",
                        spec.name
                    ),
                )
                .set_hint(format!(
                    "add `{}: ...` ({}) under `params:`",
                    spec.name,
                    spec.ty.describe()
                ));
                ok = false;
            }
        }
    }
    ok.then_some(Params(out))
}

/// Checks one value against a type; `node` is where it was written, if it
/// still corresponds (list items are located through it).
fn typed(
    ty: &ParamType,
    value: Value,
    nullable: bool,
    node: &Node,
    pos: Pos,
    dir: &Path,
    sink: &mut Sink,
) -> Option<Value> {
    if nullable && value == Value::Null {
        return Some(value);
    }
    let mismatch = |sink: &mut Sink, value: &Value| {
        let found = match value {
            Value::Str(s) => format!("the string `{s}`"),
            other => other.type_name().to_string(),
        };
        sink.error(pos, format!("expected {}, found {found}", ty.describe()));
    };
    match (ty, value) {
        (ParamType::Any, v) => Some(v),
        (ParamType::Bool, v @ Value::Bool(_)) | (ParamType::Int, v @ Value::Int(_)) => Some(v),
        (ParamType::Float, Value::Int(i)) => Some(Value::Float(i as f64)),
        (ParamType::Float, v @ Value::Float(_)) | (ParamType::Str, v @ Value::Str(_)) => Some(v),
        (ParamType::Map, v @ Value::Map(_)) => Some(v),
        (ParamType::Enum(options), Value::Str(s)) => {
            if options.contains(&s.as_str()) {
                return Some(Value::Str(s));
            }
            let d = sink.error(pos, format!("expected {}, found `{s}`", ty.describe()));
            if let Some(close) = crate::diagnostic::suggest(&s, options.iter().copied()) {
                d.set_hint(format!("did you mean `{close}`?"));
            }
            None
        }
        (ParamType::Path, Value::Str(s)) => {
            if s.is_empty() {
                sink.error(pos, "expected a path, found an empty string");
                return None;
            }
            let full = dir.join(&s);
            if !full.exists() {
                sink.error(pos, format!("file `{s}` does not exist"))
                    .set_hint(format!(
                        "paths are relative to the pipeline file's directory (`{}`)",
                        dir.display()
                    ));
                return None;
            }
            Some(Value::Str(s))
        }
        (ParamType::List(item), Value::List(items)) => {
            let nodes = node.as_seq().filter(|s| s.len() == items.len());
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, v) in items.into_iter().enumerate() {
                let (n, p) = nodes.map_or((node, pos), |s| (&s[i], s[i].pos));
                match typed(item, v, false, n, p, dir, sink) {
                    Some(v) => out.push(v),
                    None => ok = false,
                }
            }
            ok.then_some(Value::List(out))
        }
        (_, v) => {
            mismatch(sink, &v);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::yaml;

    static SIZES: ParamType = ParamType::Int;
    static PATHS: ParamType = ParamType::Path;
    const SPECS: &[ParamSpec] = &[
        ParamSpec::required("epochs", ParamType::Int, ""),
        ParamSpec::optional("lr", ParamType::Float, Lit::Float(0.1), ""),
        ParamSpec::optional(
            "opt",
            ParamType::Enum(&["sgd", "adam"]),
            Lit::Str("sgd"),
            "",
        ),
        ParamSpec::optional("sizes", ParamType::List(&SIZES), Lit::EmptyList, ""),
        ParamSpec::optional("deps", ParamType::List(&PATHS), Lit::EmptyList, ""),
        ParamSpec::optional("note", ParamType::Str, Lit::Null, ""),
    ];

    /// Checks `src` (a YAML mapping of params); returns params or messages.
    fn run(src: &str) -> Result<Params, Vec<String>> {
        let root = yaml::parse(src).unwrap().0.unwrap();
        let written = root
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, v)| Written {
                name: k.as_scalar().unwrap(),
                key_pos: k.pos,
                node: v,
                value: Some(v.to_value()),
            })
            .collect();
        let mut sink = Sink::new(Path::new("p.yaml"));
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        check(SPECS, written, Pos::default(), "fake", dir, &mut sink)
            .ok_or_else(|| sink.diagnostics.iter().map(|d| d.message.clone()).collect())
    }

    #[test]
    fn defaults_fill_and_ints_widen() {
        let p = run("epochs: 3\nlr: 1\n").unwrap();
        assert_eq!(p.0["lr"], Value::Float(1.0));
        assert_eq!(p.0["opt"], Value::Str("sgd".into()));
        assert_eq!(p.0["sizes"], Value::List(vec![]));
        assert_eq!(p.0["note"], Value::Null);
    }

    #[test]
    fn number_spelling_does_not_matter() {
        assert_eq!(
            run("epochs: 3\nlr: 1e-3\n").unwrap(),
            run("lr: 0.001\nepochs: 3").unwrap()
        );
    }

    #[test]
    fn wrong_types_are_reported() {
        assert_eq!(
            run("epochs: ten\n").unwrap_err(),
            ["expected an integer, found the string `ten`"]
        );
        assert_eq!(
            run("epochs: 1.5\n").unwrap_err(),
            ["expected an integer, found a number"]
        );
        assert_eq!(
            run("epochs: 1\nsizes: [1, x]\n").unwrap_err(),
            ["expected an integer, found the string `x`"]
        );
        assert_eq!(
            run("epochs: 1\nopt: adma\n").unwrap_err(),
            ["expected one of `sgd`, `adam`, found `adma`"]
        );
        assert_eq!(
            run("epochs: 1\nnote: 3\n").unwrap_err(),
            ["expected a string, found an integer"]
        );
    }

    #[test]
    fn unknown_and_missing_names_are_reported() {
        let e = run("epoch: 1\n").unwrap_err();
        assert_eq!(
            e,
            [
                "unknown parameter `epoch` for kind `fake`",
                "missing required parameter `epochs` for kind `fake`"
            ]
        );
    }

    #[test]
    fn paths_must_exist() {
        assert!(run("epochs: 1\ndeps: [Cargo.toml, src]\n").is_ok());
        assert_eq!(
            run("epochs: 1\ndeps: [nope.txt]\n").unwrap_err(),
            ["file `nope.txt` does not exist"]
        );
    }
}
