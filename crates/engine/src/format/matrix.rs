//! `matrix:` expansion: one YAML stage becomes one stage per combination.
//!
//! A list is an axis (cartesian product over axes, in key order), a scalar a
//! default for every entry; `exclude` drops product entries matching all its
//! keys, then `include` adds entries. Each entry gets a readable name,
//! `TEMPLATE[v1,v2,...]`, from its values in variable order, skipping values
//! equal to that variable's scalar default (`train[vit_b_16,transfer,adam]`
//! differs from its siblings only where it says so).

use std::collections::{BTreeMap, HashSet};

use crate::diagnostic::sink::{SetHint, Sink};
use crate::format::spec::{MatrixSpec, Spanned};
use crate::format::validate::resolve::{resolve, Scope};
use crate::format::yaml::{Node, Pos};
use crate::kind::value::Value;

/// One variable of a matrix.
#[derive(Clone, Debug, PartialEq)]
pub enum Var {
    /// A list: one entry per value.
    Axis(Vec<Value>),
    /// A scalar: the value of every entry that does not set it.
    Default(Value),
}

/// One expanded entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// `train[resnet50,transfer]`.
    pub name: String,
    pub vars: BTreeMap<String, Value>,
    /// The `include` entry this came from, if any (for locating duplicates).
    pub origin: Option<Pos>,
}

/// A matrix with interpolation done and shapes checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Matrix {
    pub vars: Vec<(String, Var)>,
    pub include: Vec<(Pos, Vec<(String, Value)>)>,
    pub exclude: Vec<BTreeMap<String, Value>>,
}

impl Matrix {
    /// Every variable name: declared ones, then ones only `include` sets.
    pub fn var_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.vars.iter().map(|(k, _)| k.clone()).collect();
        for (_, entry) in &self.include {
            for (k, _) in entry {
                if !names.contains(k) {
                    names.push(k.clone());
                }
            }
        }
        names
    }
}

/// Resolves and checks a `matrix:` (only `${params...}` may appear in it).
pub fn read(
    spec: &MatrixSpec,
    params: &BTreeMap<String, Value>,
    stage: &str,
    sink: &mut Sink,
) -> Option<Matrix> {
    let scope = Scope {
        params,
        matrix: None,
        matrix_vars: &[],
        stage,
        in_matrix: true,
    };
    let errors_before = sink.diagnostics.len();
    let mut matrix = Matrix::default();
    for (key, node) in &spec.vars {
        check_var_name(key, sink);
        let Some(value) = resolve(node, &scope, sink) else {
            continue;
        };
        match value {
            Value::List(items) => {
                if items.is_empty() {
                    sink.error(node.pos, format!("matrix axis `{}` is empty", key.value))
                        .set_hint("give it at least one value, or remove it");
                    continue;
                }
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    if matches!(item, Value::List(_) | Value::Map(_)) {
                        let pos = node
                            .as_seq()
                            .and_then(|s| s.get(i))
                            .map_or(node.pos, |n| n.pos);
                        sink.error(
                            pos,
                            format!(
                                "matrix axis `{}` must be a list of scalars, found {}",
                                key.value,
                                item.type_name()
                            ),
                        )
                        .set_hint("each axis value becomes part of a stage name");
                        ok = false;
                    }
                }
                if ok {
                    matrix.vars.push((key.value.clone(), Var::Axis(items)));
                }
            }
            Value::Map(_) => {
                sink.error(
                    node.pos,
                    format!(
                        "matrix variable `{}` must be a list or a scalar, found a mapping",
                        key.value
                    ),
                )
                .set_hint("a list is an axis; a scalar is a default for every entry");
            }
            scalar => matrix.vars.push((key.value.clone(), Var::Default(scalar))),
        }
    }
    let declared: Vec<String> = spec.vars.iter().map(|(k, _)| k.value.clone()).collect();
    for entry in &spec.exclude {
        let mut map = BTreeMap::new();
        for (key, node) in entry {
            if !declared.contains(&key.value) {
                sink.unknown(
                    key.pos,
                    format!("unknown matrix variable `{}` in `exclude`", key.value),
                    &key.value,
                    declared.iter().map(String::as_str),
                );
                continue;
            }
            if let Some(v) = scalar(key, node, &scope, sink) {
                never_matches(&matrix, &key.value, &v, node.pos, sink);
                map.insert(key.value.clone(), v);
            }
        }
        matrix.exclude.push(map);
    }
    for entry in &spec.include {
        let pos = entry.first().map_or(spec.pos, |(k, _)| k.pos);
        let mut vars = Vec::new();
        for (key, node) in entry {
            check_var_name(key, sink);
            if let Some(v) = scalar(key, node, &scope, sink) {
                vars.push((key.value.clone(), v));
            }
        }
        matrix.include.push((pos, vars));
    }
    (sink.diagnostics.len() == errors_before).then_some(matrix)
}

/// An `exclude` value that no product entry can have is a typo that would
/// silently exclude nothing.
fn never_matches(matrix: &Matrix, key: &str, value: &Value, pos: Pos, sink: &mut Sink) {
    let Some((_, var)) = matrix.vars.iter().find(|(k, _)| k == key) else {
        return;
    };
    let values: &[Value] = match var {
        Var::Axis(values) => values,
        Var::Default(d) => std::slice::from_ref(d),
    };
    if values.contains(value) {
        return;
    }
    let shown: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
    let d = sink.error(
        pos,
        format!("`exclude` value `{value}` is not a value of matrix variable `{key}`"),
    );
    let words: Vec<String> = values.iter().map(Value::to_string).collect();
    match crate::diagnostic::suggest(&value.to_string(), words.iter().map(String::as_str)) {
        Some(close) => d.set_hint(format!("did you mean `{close}`?")),
        None => d.set_hint(format!("`{key}` takes {}", shown.join(", "))),
    }
}

fn check_var_name(key: &Spanned<String>, sink: &mut Sink) {
    if key.value.is_empty()
        || !key
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        sink.error(
            key.pos,
            format!("invalid matrix variable name `{}`", key.value),
        )
        .set_hint("variable names use only letters, digits, `_` and `-`");
    }
}

fn scalar(key: &Spanned<String>, node: &Node, scope: &Scope, sink: &mut Sink) -> Option<Value> {
    let v = resolve(node, scope, sink)?;
    if matches!(v, Value::List(_) | Value::Map(_)) {
        sink.error(
            node.pos,
            format!(
                "matrix variable `{}` must be a scalar here, found {}",
                key.value,
                v.type_name()
            ),
        )
        .set_hint("an `include` or `exclude` entry gives each variable one value");
        return None;
    }
    Some(v)
}

/// The most stages one pipeline file may expand to. Each stage costs about
/// a kilobyte while it is validated; a sweep of a few axes can ask for
/// billions (ten axes of ten values is 10^10), so the size is computed and
/// checked before anything is built.
pub const MAX_STAGES: usize = 200_000;

/// How many entries [`expand`] would make (before `exclude` drops any),
/// saturating at `u128::MAX`.
pub fn size(matrix: &Matrix) -> u128 {
    let product = matrix.vars.iter().fold(1u128, |n, (_, var)| match var {
        Var::Axis(values) => n.saturating_mul(values.len() as u128),
        Var::Default(_) => n,
    });
    product.saturating_add(matrix.include.len() as u128)
}

/// The axes' lengths as a product, for messages: `10 × 10 × 3`.
pub fn shape(matrix: &Matrix) -> String {
    let lengths: Vec<String> = matrix
        .vars
        .iter()
        .filter_map(|(_, var)| match var {
            Var::Axis(values) => Some(values.len().to_string()),
            Var::Default(_) => None,
        })
        .collect();
    lengths.join(" × ")
}

/// All entries of the matrix of stage `template`, product entries first in
/// axis order (the first axis varies slowest), then `include`s in order.
pub fn expand(template: &str, matrix: &Matrix) -> Vec<Entry> {
    let names = matrix.var_names();
    let defaults: BTreeMap<&str, &Value> = matrix
        .vars
        .iter()
        .filter_map(|(k, v)| match v {
            Var::Default(d) => Some((k.as_str(), d)),
            Var::Axis(_) => None,
        })
        .collect();
    let mut combos: Vec<BTreeMap<String, Value>> = vec![BTreeMap::new()];
    for (key, var) in &matrix.vars {
        let values: &[Value] = match var {
            Var::Axis(values) => values,
            Var::Default(d) => std::slice::from_ref(d),
        };
        combos = combos
            .into_iter()
            .flat_map(|combo| {
                values.iter().map(move |v| {
                    let mut c = combo.clone();
                    c.insert(key.clone(), v.clone());
                    c
                })
            })
            .collect();
    }
    // Excludes are grouped by the variables they name, each group a set of
    // encoded values: checking every entry against every exclude cost
    // entries x excludes.
    let mut groups: BTreeMap<Vec<&str>, HashSet<Vec<u8>>> = BTreeMap::new();
    for ex in matrix.exclude.iter().filter(|ex| !ex.is_empty()) {
        let keys = ex.keys().map(String::as_str).collect();
        groups.entry(keys).or_default().insert(encode(ex.values()));
    }
    combos.retain(|c| {
        !groups.iter().any(|(keys, values)| {
            let picked: Option<Vec<&Value>> = keys.iter().map(|k| c.get(*k)).collect();
            picked.is_some_and(|vs| values.contains(&encode(vs)))
        })
    });
    let mut entries: Vec<Entry> = combos
        .into_iter()
        .map(|vars| Entry {
            name: name(template, &names, &defaults, &vars),
            vars,
            origin: None,
        })
        .collect();
    for (pos, include) in &matrix.include {
        let mut vars: BTreeMap<String, Value> = defaults
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).clone()))
            .collect();
        for (k, v) in include {
            vars.insert(k.clone(), v.clone());
        }
        entries.push(Entry {
            name: name(template, &names, &defaults, &vars),
            vars,
            origin: Some(*pos),
        });
    }
    entries
}

/// The canonical encoding of a sequence of values (a hashable key).
fn encode<'a>(values: impl IntoIterator<Item = &'a Value>) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        v.canonical(&mut out);
    }
    out
}

fn name(
    template: &str,
    names: &[String],
    defaults: &BTreeMap<&str, &Value>,
    vars: &BTreeMap<String, Value>,
) -> String {
    let shown: Vec<String> = names
        .iter()
        .filter_map(|k| {
            let v = vars.get(k)?;
            (defaults.get(k.as_str()) != Some(&v)).then(|| v.to_string())
        })
        .collect();
    format!("{template}[{}]", shown.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    fn axis(xs: &[&str]) -> Var {
        Var::Axis(xs.iter().map(|x| s(x)).collect())
    }

    fn paper() -> Matrix {
        Matrix {
            vars: vec![
                (
                    "model".into(),
                    axis(&["resnet50", "densenet201", "vit_b_16"]),
                ),
                ("mode".into(), axis(&["transfer", "finetune", "scratch"])),
                ("optimizer".into(), Var::Default(s("sgd"))),
            ],
            include: vec![(
                Pos::default(),
                vec![
                    ("model".into(), s("vit_b_16")),
                    ("mode".into(), s("transfer")),
                    ("optimizer".into(), s("adam")),
                ],
            )],
            exclude: vec![[
                ("model".to_string(), s("resnet50")),
                ("mode".to_string(), s("scratch")),
            ]
            .into()],
        }
    }

    #[test]
    fn product_exclude_include_and_names() {
        let names: Vec<String> = expand("train", &paper())
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(
            names,
            [
                "train[resnet50,transfer]",
                "train[resnet50,finetune]",
                "train[densenet201,transfer]",
                "train[densenet201,finetune]",
                "train[densenet201,scratch]",
                "train[vit_b_16,transfer]",
                "train[vit_b_16,finetune]",
                "train[vit_b_16,scratch]",
                "train[vit_b_16,transfer,adam]",
            ]
        );
    }

    #[test]
    fn entries_carry_defaults_and_include_overrides() {
        let entries = expand("train", &paper());
        assert_eq!(entries[0].vars["optimizer"], s("sgd"));
        assert_eq!(entries[8].vars["optimizer"], s("adam"));
        assert!(entries[8].origin.is_some());
    }

    #[test]
    fn include_may_add_variables_and_leave_others_unset() {
        let m = Matrix {
            vars: vec![("model".into(), axis(&["a", "b"]))],
            include: vec![(Pos::default(), vec![("seed".into(), Value::Int(7))])],
            exclude: vec![],
        };
        let entries = expand("t", &m);
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["t[a]", "t[b]", "t[7]"]);
        assert!(!entries[2].vars.contains_key("model"));
    }

    #[test]
    fn numbers_in_names_are_written_as_values() {
        let m = Matrix {
            vars: vec![(
                "lr".into(),
                Var::Axis(vec![Value::Float(0.001), Value::Int(1)]),
            )],
            ..Matrix::default()
        };
        let names: Vec<String> = expand("t", &m).into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["t[0.001]", "t[1]"]);
    }

    #[test]
    fn size_is_known_before_expanding() {
        let axis10 = Var::Axis((0..10).map(Value::Int).collect());
        let m = Matrix {
            vars: (0..10).map(|i| (format!("v{i}"), axis10.clone())).collect(),
            ..Matrix::default()
        };
        assert_eq!(size(&m), 10_000_000_000);
        assert_eq!(size(&paper()), 3 * 3 + 1);
        assert_eq!(shape(&paper()), "3 × 3");
        let huge = Matrix {
            vars: (0..40).map(|i| (format!("v{i}"), axis10.clone())).collect(),
            ..Matrix::default()
        };
        assert_eq!(size(&huge), u128::MAX);
    }

    #[test]
    fn an_all_default_matrix_has_one_entry() {
        let m = Matrix {
            vars: vec![("x".into(), Var::Default(Value::Int(1)))],
            ..Matrix::default()
        };
        let entries = expand("t", &m);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].name, "t[]");
    }
}
