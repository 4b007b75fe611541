//! Published numbers to compare runs with: the `reference` parameter.
//!
//! A mapping whose keys select runs and whose leaves are numbers (or text,
//! such as "overfits", shown as is). Two ways to select, mixable:
//!
//! - a stage name or glob at the top level, e.g.
//!   `"train[resnet50,transfer]": 0.1166` or `train_adam: 0.05`;
//! - nested matrix values, e.g. `resnet50: {transfer: 0.1166}`. A leaf
//!   applies to a run when every key on its path is one of the run's matrix
//!   values; `axis=value` pins the axis (`optimizer=sgd`). Where several
//!   leaves apply, stage-name keys win, then the longest path; two different
//!   leaves with equally long paths are an error.

use std::collections::BTreeMap;

use pipe_engine::{Error, Result, Value};

/// A published figure.
#[derive(Clone, Debug, PartialEq)]
pub enum Published {
    Number(f64),
    Text(String),
}

impl std::fmt::Display for Published {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Published::Number(n) => write!(f, "{n}"),
            Published::Text(t) => f.write_str(t),
        }
    }
}

/// One leaf of the mapping.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The keys from the top to the leaf, as written.
    pub path: Vec<String>,
    pub value: Published,
}

impl Entry {
    /// How well the entry selects a run: `None` if it does not.
    pub fn rank(&self, stage: &str, matrix: &BTreeMap<String, Value>) -> Option<usize> {
        if self.path.len() == 1 && glob(&self.path[0], stage) {
            return Some(usize::MAX);
        }
        if self.path[0].contains('[') {
            return None;
        }
        let values: Vec<(String, String)> = matrix
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        let all = self.path.iter().all(|key| match key.split_once('=') {
            Some((axis, want)) => values
                .iter()
                .any(|(k, v)| k == axis.trim() && v == want.trim()),
            None => values.iter().any(|(_, v)| v == key),
        });
        all.then_some(self.path.len())
    }

    /// The path for messages: `vit_b_16 > finetune > none`.
    pub fn describe(&self) -> String {
        self.path.join(" > ")
    }
}

/// The parsed `reference` parameter.
#[derive(Clone, Debug, Default)]
pub struct Reference {
    pub entries: Vec<Entry>,
}

impl Reference {
    /// Parses the parameter (null: no reference numbers).
    pub fn parse(value: &Value) -> std::result::Result<Reference, String> {
        let mut entries = Vec::new();
        match value {
            Value::Null => {}
            Value::Map(map) => flatten(map, &mut Vec::new(), &mut entries)?,
            other => return Err(format!("must be a mapping, not {}", other.type_name())),
        }
        Ok(Reference { entries })
    }

    /// The published figure for a run, if any.
    /// The entries that select none of `stages` (name, matrix values):
    /// typos, which `pipe check` rejects before anything runs.
    pub fn matching_none<'a>(
        &'a self,
        stages: &[(&str, &BTreeMap<String, Value>)],
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        let selects: Vec<bool> = self
            .entries
            .iter()
            .map(|e| stages.iter().any(|(s, m)| e.rank(s, m).is_some()))
            .collect();
        self.entries
            .iter()
            .zip(selects)
            .filter(|(_, any)| !any)
            .map(|(e, _)| e)
    }

    pub fn lookup(&self, stage: &str, matrix: &BTreeMap<String, Value>) -> Result<Option<&Entry>> {
        let mut best: Vec<(usize, &Entry)> = Vec::new();
        for entry in &self.entries {
            let Some(rank) = entry.rank(stage, matrix) else {
                continue;
            };
            match best.first().map(|b| b.0) {
                Some(r) if r > rank => {}
                Some(r) if r == rank => best.push((rank, entry)),
                _ => best = vec![(rank, entry)],
            }
        }
        let Some(&(_, first)) = best.first() else {
            return Ok(None);
        };
        if let Some((_, other)) = best.iter().find(|(_, e)| e.value != first.value) {
            return Err(Error::failed(format!(
                "stage `{stage}` matches two `reference` entries with different values: `{}` and `{}`",
                first.describe(),
                other.describe()
            ))
            .with_hint("make one path longer (add another matrix value, or `axis=value`) or key it by stage name"));
        }
        Ok(Some(first))
    }
}

fn flatten(
    map: &BTreeMap<String, Value>,
    path: &mut Vec<String>,
    out: &mut Vec<Entry>,
) -> std::result::Result<(), String> {
    for (key, value) in map {
        path.push(key.clone());
        let at = path.join(" > ");
        match value {
            Value::Int(_) | Value::Float(_) | Value::Str(_)
                if key.contains('[') && path.len() > 1 =>
            {
                return Err(format!(
                    "`{at}`: a stage name (`{key}`) can only be a top-level key"
                ));
            }
            Value::Int(_) | Value::Float(_) => out.push(Entry {
                path: path.clone(),
                value: Published::Number(value.as_f64().unwrap_or(f64::NAN)),
            }),
            Value::Str(s) => out.push(Entry {
                path: path.clone(),
                value: Published::Text(s.clone()),
            }),
            Value::Map(_) if key.contains('[') => {
                return Err(format!(
                    "`{at}`: a stage name key takes a number or text, not a mapping"
                ));
            }
            Value::Map(inner) => flatten(inner, path, out)?,
            other => {
                return Err(format!(
                    "`{at}` is {}; expected a number, text or a mapping",
                    other.type_name()
                ))
            }
        }
        path.pop();
    }
    Ok(())
}

/// `*` (any run of characters) and `?` (one character) globbing.
fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: Vec<(&str, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    fn matrix(values: &[(&str, &str)]) -> BTreeMap<String, Value> {
        values
            .iter()
            .map(|(k, v)| (k.to_string(), Value::Str(v.to_string())))
            .collect()
    }

    fn paper() -> Reference {
        Reference::parse(&map(vec![
            (
                "resnet50",
                map(vec![
                    ("transfer", Value::Float(0.1166)),
                    ("scratch", Value::Str("overfits".into())),
                ]),
            ),
            (
                "vit_b_16",
                map(vec![
                    (
                        "transfer",
                        map(vec![("optimizer=sgd", Value::Float(0.0635))]),
                    ),
                    (
                        "finetune",
                        map(vec![
                            ("none", Value::Float(0.0546)),
                            ("pspnet", Value::Float(0.0451)),
                        ]),
                    ),
                ]),
            ),
            ("train[special]", Value::Float(1.0)),
            ("plain_stage", Value::Float(2.0)),
        ]))
        .unwrap()
    }

    fn look(r: &Reference, stage: &str, m: &[(&str, &str)]) -> Option<Published> {
        r.lookup(stage, &matrix(m))
            .unwrap()
            .map(|e| e.value.clone())
    }

    #[test]
    fn selects_by_matrix_values_and_stage_names() {
        let r = paper();
        let n = |v| Some(Published::Number(v));
        let check = |stage, m: &[(&str, &str)], want: Option<Published>| {
            assert_eq!(look(&r, stage, m), want, "{stage}")
        };
        let sgd = ("optimizer", "sgd");
        let none = ("augment", "none");
        check(
            "t[r,t]",
            &[("model", "resnet50"), ("mode", "transfer"), sgd, none],
            n(0.1166),
        );
        check(
            "t[r,s]",
            &[("model", "resnet50"), ("mode", "scratch"), sgd, none],
            Some(Published::Text("overfits".into())),
        );
        check(
            "t[v,t]",
            &[("model", "vit_b_16"), ("mode", "transfer"), sgd, none],
            n(0.0635),
        );
        check(
            "t[v,t,adam]",
            &[
                ("model", "vit_b_16"),
                ("mode", "transfer"),
                ("optimizer", "adam"),
                none,
            ],
            None,
        );
        check(
            "t[v,f]",
            &[("model", "vit_b_16"), ("mode", "finetune"), sgd, none],
            n(0.0546),
        );
        check(
            "t[v,f,p]",
            &[
                ("model", "vit_b_16"),
                ("mode", "finetune"),
                sgd,
                ("augment", "pspnet"),
            ],
            n(0.0451),
        );
        check(
            "train[special]",
            &[("model", "resnet50"), ("mode", "transfer")],
            n(1.0),
        );
        check(
            "t[d,t]",
            &[("model", "densenet201"), ("mode", "transfer")],
            None,
        );
        check("plain_stage", &[], n(2.0));
    }

    #[test]
    fn ambiguity_and_bad_shapes_are_errors() {
        let r = Reference::parse(&map(vec![
            ("a", Value::Float(1.0)),
            ("b", Value::Float(2.0)),
        ]))
        .unwrap();
        let err = r
            .lookup("s", &matrix(&[("x", "a"), ("y", "b")]))
            .unwrap_err();
        assert!(err.to_string().contains("two `reference` entries"), "{err}");
        assert!(Reference::parse(&Value::Int(3))
            .unwrap_err()
            .contains("must be a mapping"));
        let nested_stage = map(vec![("a", map(vec![("t[x]", Value::Float(1.0))]))]);
        assert!(Reference::parse(&nested_stage)
            .unwrap_err()
            .contains("top-level"));
        let list = map(vec![("a", Value::List(vec![]))]);
        assert!(Reference::parse(&list)
            .unwrap_err()
            .contains("expected a number"));
    }

    #[test]
    fn globs() {
        assert!(glob("train[resnet50,*]", "train[resnet50,transfer]"));
        assert!(!glob("train[resnet50,*]", "train[vit_b_16,transfer]"));
        assert!(glob("t?", "ta") && !glob("t?", "t"));
    }
}
