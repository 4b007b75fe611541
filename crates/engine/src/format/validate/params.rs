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
    /// Where the value was written: the stage's param, or, for a whole
    /// `${params.NAME}`, the top-level param it copies (so that a wrong
    /// value is reported once, where it was written).
    pub node: &'a Node,
    /// `NAME` when the value is a whole `${params.NAME}` and `node` is the
    /// top-level param's.
    pub via: Option<&'a str>,
    /// `None` when interpolating it already failed (and was reported).
    pub value: Option<Value>,
}

/// Which param of which kind a value is checked for, to word hints.
struct For<'a> {
    param: &'a str,
    kind: &'a str,
    /// The param's type (a list item's hint shows the whole list).
    ty: &'a ParamType,
    via: Option<&'a str>,
}

impl For<'_> {
    /// The hint for a value of the wrong type.
    fn hint(&self) -> String {
        let ty = self.ty;
        match self.via {
            Some(name) => format!(
                "`${{params.{name}}}` passes this value to `{}` of kind `{}`, which takes {}",
                self.param,
                self.kind,
                ty.describe()
            ),
            None => format!(
                "`{}` of kind `{}` takes {}, e.g. `{}: {}`",
                self.param,
                self.kind,
                ty.describe(),
                self.param,
                example(ty)
            ),
        }
    }
}

/// A value of type `ty` as it would be written.
fn example(ty: &ParamType) -> String {
    match ty {
        ParamType::Bool => "true".into(),
        ParamType::Int => "3".into(),
        ParamType::Float => "0.01".into(),
        ParamType::Str => "\"text\"".into(),
        ParamType::Enum(options) => options.first().copied().unwrap_or("").into(),
        ParamType::List(item) => format!("[{}]", example(item)),
        ParamType::Path => "data/file.csv".into(),
        ParamType::Map => "{name: value}".into(),
        ParamType::Any => "value".into(),
    }
}

/// The first NaN or infinity in `value`: they have no JSON form, so they
/// cannot reach a stage (the worker reads its params as JSON).
fn non_finite(value: &Value) -> Option<f64> {
    match value {
        Value::Float(f) if !f.is_finite() => Some(*f),
        Value::List(items) => items.iter().find_map(non_finite),
        Value::Map(entries) => entries.values().find_map(non_finite),
        _ => None,
    }
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
        let place = For {
            param: w.name,
            kind,
            ty: &spec.ty,
            via: w.via,
        };
        match typed(
            &spec.ty, value, nullable, w.node, w.node.pos, dir, &place, sink,
        ) {
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
#[allow(clippy::too_many_arguments)]
fn typed(
    ty: &ParamType,
    value: Value,
    nullable: bool,
    node: &Node,
    pos: Pos,
    dir: &Path,
    place: &For,
    sink: &mut Sink,
) -> Option<Value> {
    if nullable && value == Value::Null {
        return Some(value);
    }
    let is_list = matches!(ty, ParamType::List(_)) && matches!(value, Value::List(_));
    if let Some(f) = non_finite(&value).filter(|_| !is_list) {
        let written = if f.is_nan() {
            ".nan"
        } else if f > 0.0 {
            ".inf"
        } else {
            "-.inf"
        };
        sink.error(pos, format!("expected a finite number, found `{written}`"))
            .set_hint(format!(
                "NaN and infinity cannot be passed to a stage; give `{}` a number such as `{}`",
                place.param,
                example(&ParamType::Float)
            ));
        return None;
    }
    let mismatch = |sink: &mut Sink, value: &Value| {
        let found = match value {
            Value::Str(s) => format!("the string `{s}`"),
            other => other.type_name().to_string(),
        };
        sink.error(pos, format!("expected {}, found {found}", ty.describe()))
            .set_hint(place.hint());
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
            match crate::diagnostic::suggest(&s, options.iter().copied()) {
                Some(close) => d.set_hint(format!("did you mean `{close}`?")),
                None => d.set_hint(place.hint()),
            }
            None
        }
        (ParamType::Path, Value::Str(s)) => {
            if s.is_empty() {
                sink.error(pos, "expected a path, found an empty string")
                    .set_hint(place.hint());
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
                match typed(item, v, false, n, p, dir, place, sink) {
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
                via: None,
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
