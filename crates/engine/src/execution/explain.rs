//! Why a stage would run: the difference between the key that produced its
//! last result and its key now, in words a user can act on.

use std::fmt;

use crate::execution::cache::key::StageKey;
use crate::kind::value::Value;

/// One reason a stage is not up to date.
#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    /// Named by `--force`.
    Forced,
    /// No run of this stage is recorded for this pipeline.
    NeverRun,
    /// The key is the one last recorded, but its result left the cache.
    OutputsMissing,
    /// The last key's manifest is gone, so what changed is unknown.
    PreviousUnknown,
    KindChanged {
        kind: String,
        old: String,
        new: String,
        old_version: u32,
        new_version: u32,
    },
    /// `old` or `new` is `None` when the parameter did not exist then/now.
    ParamChanged {
        name: String,
        old: Option<Value>,
        new: Option<Value>,
    },
    /// A file or directory named by a `Path` parameter changed content.
    PathChanged { param: String, path: String },
    /// A `Path` parameter names other paths than before.
    PathsRenamed {
        param: String,
        old: Vec<String>,
        new: Vec<String>,
    },
    /// These upstream stages now give other output.
    InputChanged { slot: String, stages: Vec<String> },
    /// The slot names other stages than before.
    InputRewired {
        slot: String,
        old: Vec<String>,
        new: Vec<String>,
    },
    /// An upstream stage will run first; whether this one must run too is
    /// known only after it (its output may come out the same).
    UpstreamWillRerun { stages: Vec<String> },
    /// Up to date in the cache, but the results directory shows another
    /// result (an earlier configuration's): `pipe run` relinks it.
    ResultsDiffer { dir: String },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Forced => f.write_str("forced"),
            Reason::NeverRun => f.write_str("never run"),
            Reason::OutputsMissing => f.write_str("outputs missing from cache"),
            Reason::PreviousUnknown => {
                f.write_str("changed since the last run (its record left the cache)")
            }
            Reason::KindChanged {
                kind,
                old,
                new,
                old_version,
                new_version,
            } => {
                if old == new {
                    write!(
                        f,
                        "kind `{kind}` implementation changed (v{old_version} -> v{new_version})"
                    )
                } else {
                    write!(f, "kind changed: `{old}` -> `{new}`")
                }
            }
            Reason::ParamChanged { name, old, new } => match (old, new) {
                (Some(Value::Str(o)), Some(Value::Str(n))) => {
                    let (o, n) = around_difference(o, n);
                    write!(f, "param `{name}` changed: {o} -> {n}")
                }
                (Some(o), Some(n)) => {
                    write!(f, "param `{name}` changed: {} -> {}", show(o), show(n))
                }
                (None, Some(n)) => write!(f, "param `{name}` added: {}", show(n)),
                (Some(o), None) => write!(f, "param `{name}` removed (was {})", show(o)),
                (None, None) => write!(f, "param `{name}` changed"),
            },
            Reason::PathChanged { param, path } => {
                write!(f, "file `{path}` changed (param `{param}`)")
            }
            Reason::PathsRenamed { param, old, new } => {
                write!(f, "param `{param}` changed: {} -> {}", list(old), list(new))
            }
            Reason::InputChanged { slot, stages } => {
                let what = if stages.len() == 1 {
                    "output differs"
                } else {
                    "outputs differ"
                };
                write!(f, "input `{slot}` changed: {} {what}", list(stages))
            }
            Reason::InputRewired { slot, old, new } => {
                write!(
                    f,
                    "input `{slot}` now names {} (was {})",
                    list(new),
                    list(old)
                )
            }
            Reason::UpstreamWillRerun { stages } => match stages.as_slice() {
                [one] => write!(f, "upstream `{one}` will rerun"),
                [first, second] => write!(f, "upstreams `{first}` and `{second}` will rerun"),
                [first, rest @ ..] => {
                    write!(f, "upstream `{first}` and {} others will rerun", rest.len())
                }
                [] => f.write_str("an upstream stage will rerun"),
            },
            Reason::ResultsDiffer { dir } => write!(
                f,
                "`{dir}` shows another result than this configuration's (`pipe run` relinks it)"
            ),
        }
    }
}

fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(57).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// Two long strings cut to a window around where they first differ, so
/// that an edit deep inside a shell command stays visible.
fn around_difference(old: &str, new: &str) -> (String, String) {
    const WIDTH: usize = 80;
    let o: Vec<char> = old.chars().collect();
    let n: Vec<char> = new.chars().collect();
    if o.len() <= WIDTH && n.len() <= WIDTH {
        return (old.to_string(), new.to_string());
    }
    let first = o.iter().zip(&n).take_while(|(a, b)| a == b).count();
    let start = first.saturating_sub(15);
    let cut = |s: &[char]| {
        let end = (start + WIDTH).min(s.len());
        let mut t = String::new();
        if start > 0 {
            t.push_str("...");
        }
        t.extend(&s[start..end]);
        if end < s.len() {
            t.push_str("...");
        }
        t
    };
    (cut(&o), cut(&n))
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        return "nothing".into();
    }
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The reasons `new` differs from `old`. With `compare_inputs == false`
/// (upstream outputs not known yet) inputs are not compared.
pub fn diff(old: &StageKey, new: &StageKey, compare_inputs: bool) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if old.kind != new.kind || old.impl_version != new.impl_version {
        reasons.push(Reason::KindChanged {
            kind: new.kind.clone(),
            old: old.kind.clone(),
            new: new.kind.clone(),
            old_version: old.impl_version,
            new_version: new.impl_version,
        });
    }
    let names: std::collections::BTreeSet<&String> =
        old.params.keys().chain(new.params.keys()).collect();
    for name in names {
        let (o, n) = (old.params.get(name), new.params.get(name));
        if o != n {
            reasons.push(Reason::ParamChanged {
                name: name.clone(),
                old: o.cloned(),
                new: n.cloned(),
            });
        }
    }
    for (param, now) in &new.paths {
        let before = old.paths.get(param).map(Vec::as_slice).unwrap_or(&[]);
        let same_names =
            before.len() == now.len() && before.iter().zip(now).all(|(a, b)| a.0 == b.0);
        if !same_names {
            // The parameter's own change already says it, unless only the
            // written paths are equal but came from elsewhere.
            if !reasons
                .iter()
                .any(|r| matches!(r, Reason::ParamChanged { name, .. } if name == param))
            {
                reasons.push(Reason::PathsRenamed {
                    param: param.clone(),
                    old: before.iter().map(|p| p.0.clone()).collect(),
                    new: now.iter().map(|p| p.0.clone()).collect(),
                });
            }
            continue;
        }
        for (a, b) in before.iter().zip(now) {
            if a.1 != b.1 {
                reasons.push(Reason::PathChanged {
                    param: param.clone(),
                    path: b.0.clone(),
                });
            }
        }
    }
    if compare_inputs {
        let slots: std::collections::BTreeSet<&String> =
            old.inputs.keys().chain(new.inputs.keys()).collect();
        for slot in slots {
            let before = old.inputs.get(slot).map(Vec::as_slice).unwrap_or(&[]);
            let now = new.inputs.get(slot).map(Vec::as_slice).unwrap_or(&[]);
            let names = |l: &[(String, crate::hash::ContentHash)]| {
                l.iter().map(|p| p.0.clone()).collect::<Vec<_>>()
            };
            if names(before) != names(now) {
                reasons.push(Reason::InputRewired {
                    slot: slot.clone(),
                    old: names(before),
                    new: names(now),
                });
                continue;
            }
            let changed: Vec<String> = before
                .iter()
                .zip(now)
                .filter(|(a, b)| a.1 != b.1)
                .map(|(_, b)| b.0.clone())
                .collect();
            if !changed.is_empty() {
                reasons.push(Reason::InputChanged {
                    slot: slot.clone(),
                    stages: changed,
                });
            }
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::ContentHash;

    fn key(lr: f64, input: &[u8]) -> StageKey {
        StageKey {
            kind: "train".into(),
            impl_version: 1,
            params: [("lr".to_string(), Value::Float(lr))].into(),
            paths: Default::default(),
            inputs: [(
                "data".to_string(),
                vec![("resize".to_string(), ContentHash::of(input))],
            )]
            .into(),
            environment: None,
        }
    }

    fn check(old: StageKey, new: StageKey, expected: &[&str]) {
        let got: Vec<String> = diff(&old, &new, true)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn names_what_changed() {
        check(
            key(0.001, b"a"),
            key(0.01, b"a"),
            &["param `lr` changed: 0.001 -> 0.01"],
        );
        check(
            key(0.1, b"a"),
            key(0.1, b"b"),
            &["input `data` changed: `resize` output differs"],
        );
        let mut v2 = key(0.1, b"a");
        v2.impl_version = 2;
        check(
            key(0.1, b"a"),
            v2,
            &["kind `train` implementation changed (v1 -> v2)"],
        );
        check(key(0.1, b"a"), key(0.1, b"a"), &[]);
        let long = |x: &str| {
            let mut k = key(0.1, b"a");
            k.params.insert("run".into(), Value::Str(format!("python scripts/train.py --data data/stl10 --output results/m.safetensors --epochs {x} --batch 64 --seed 1 --log-every 10 --workers 4")));
            k
        };
        check(long("5"), long("7"), &["param `run` changed: ...nsors --epochs 5 --batch 64 --seed 1 --log-every 10 --workers 4 -> ...nsors --epochs 7 --batch 64 --seed 1 --log-every 10 --workers 4"]);
    }
}
