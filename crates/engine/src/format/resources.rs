//! What a stage asks of a cluster's scheduler: `resources: {time, mem, cpus,
//! partition, account, extra: [...]}`, as a typed, validated value on the
//! resolved [`Stage`](crate::format::pipeline::Stage).
//!
//! Generic on purpose: the engine knows no cluster. An executor that
//! submits stages as jobs (`pipe-slurm`) maps it to its own flags; the local
//! executor ignores it. The GPU count is not here: it is the stage's own
//! `gpus:`, which the local executor turns into GPU tokens and a cluster
//! executor into a GPU request, so that there is one way to write it
//! (`resources: {gpus: 1}` is an error pointing there).
//!
//! A stage's request is filled in from the file's top-level `resources:`
//! ([`Resources::over`]). Resources are not part of a stage's cache key:
//! where a stage ran does not change what it computes.
//!
//! Every value may be a `${...}` interpolation (a matrix axis can pick the
//! time limit); each problem is reported at its field's line and column.

pub mod memory;
pub mod time_limit;

use serde::{Deserialize, Serialize};

pub use memory::Memory;
pub use time_limit::TimeLimit;

use crate::diagnostic::sink::{SetHint, Sink};
use crate::format::validate::resolve::{resolve, Scope};
use crate::format::yaml::{Data, Node};
use crate::kind::value::Value;

/// A stage's request; `None` leaves the cluster's default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub time: Option<TimeLimit>,
    pub mem: Option<Memory>,
    pub cpus: Option<u32>,
    pub partition: Option<String>,
    pub account: Option<String>,
    /// Further scheduler flags, passed as written (`--constraint=a100`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<String>,
}

/// One thing wrong with one field: what, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The field (`time`, `extra[1]`), or empty for the entry itself.
    pub field: String,
    pub message: String,
    pub hint: String,
}

/// The fields, in the order the docs list them.
pub const FIELDS: &[&str] = &["time", "mem", "cpus", "partition", "account", "extra"];

const EXTRA_HINT: &str =
    "write one flag per item, like `extra: [\"--constraint=a100\", \"--qos=long\"]`";

impl Resources {
    /// Reads a `resources:` mapping from the file, interpolating each value
    /// in `scope`; every problem goes to `sink` at its place.
    pub fn read(node: &Node, scope: &Scope, sink: &mut Sink) -> Resources {
        let mut r = Resources::default();
        let entries = match &node.data {
            Data::Map(entries) => entries,
            Data::Scalar {
                text,
                quoted: false,
            } if text.is_empty() || text == "~" || text == "null" => return r,
            _ => {
                sink.error(
                    node.pos,
                    format!("`resources` must be a mapping, found {}", node.describe()),
                )
                .set_hint(format!("give some of {}", list(FIELDS)));
                return r;
            }
        };
        for (key, value) in entries {
            let Some(field) = key.as_scalar() else {
                sink.error(
                    key.pos,
                    format!("a key must be a plain name, found {}", key.describe()),
                )
                .set_hint(format!("the fields are {}", list(FIELDS)));
                continue;
            };
            if field == "gpus" {
                sink.error(key.pos, "`gpus` is not a resource: it is the stage's own `gpus:`")
                    .set_hint("move it up one level, beside `kind:` (`gpus: 1`); it asks for GPUs both locally and on a cluster");
                continue;
            }
            if !FIELDS.contains(&field) {
                sink.unknown(
                    key.pos,
                    format!("unknown resource `{field}`"),
                    field,
                    FIELDS.iter().copied(),
                );
                continue;
            }
            let Some(v) = resolve(value, scope, sink) else {
                continue;
            };
            // An `extra` item's own place, when the list was written out.
            let item_pos = |i: usize| match &value.data {
                Data::Seq(items) => items.get(i).map_or(value.pos, |n| n.pos),
                _ => value.pos,
            };
            for p in r.set(field, &v) {
                let pos = p
                    .field
                    .strip_prefix("extra[")
                    .and_then(|i| i.trim_end_matches(']').parse().ok())
                    .map_or(value.pos, item_pos);
                sink.error(pos, p.message).set_hint(p.hint);
            }
        }
        r
    }

    /// Reads a whole request from a value (a mapping), collecting every
    /// problem: for requests that do not come from a pipeline file.
    pub fn from_value(value: &Value) -> Result<Resources, Vec<Problem>> {
        let Some(map) = value.as_map() else {
            return Err(vec![Problem {
                field: String::new(),
                message: format!("`resources` must be a mapping, found {}", value.type_name()),
                hint: format!("give some of {}", list(FIELDS)),
            }]);
        };
        let mut r = Resources::default();
        let mut problems = Vec::new();
        for (field, v) in map {
            if FIELDS.contains(&field.as_str()) {
                problems.extend(r.set(field, v));
            } else {
                problems.push(Problem {
                    field: field.clone(),
                    message: format!("unknown resource `{field}`"),
                    hint: format!("use one of {}", list(FIELDS)),
                });
            }
        }
        if problems.is_empty() {
            Ok(r)
        } else {
            Err(problems)
        }
    }

    /// Sets `field` (one of [`FIELDS`]) from `v`; the problems if it is bad.
    fn set(&mut self, field: &str, v: &Value) -> Vec<Problem> {
        let bad = |message: String, hint: &str| {
            vec![Problem {
                field: field.to_string(),
                message,
                hint: hint.to_string(),
            }]
        };
        match field {
            "time" => match number_or_text(v, "minutes", TimeLimit::from_minutes, TimeLimit::parse) {
                Ok(t) => self.time = Some(t),
                Err(e) => return bad(e, time_limit::TIME_HINT),
            },
            "mem" => match number_or_text(v, "megabytes", Memory::from_megabytes, Memory::parse) {
                Ok(m) => self.mem = Some(m),
                Err(e) => return bad(e, memory::MEMORY_HINT),
            },
            "cpus" => match v.as_i64().filter(|&n| n >= 1).and_then(|n| u32::try_from(n).ok()) {
                Some(n) => self.cpus = Some(n),
                None => {
                    return bad(
                        format!("`cpus` must be a whole number of at least 1, found {}", what(v)),
                        "`cpus: 4` asks for four CPU cores for the stage",
                    )
                }
            },
            "partition" | "account" => match v.as_str().filter(|s| is_name(s)) {
                Some(s) if field == "partition" => self.partition = Some(s.to_string()),
                Some(s) => self.account = Some(s.to_string()),
                None => {
                    return bad(
                        format!("`{field}` must be a {field} name, found {}", what(v)),
                        "letters, digits, `_`, `-` and `.`, as the cluster lists them (`sinfo`, `sacctmgr`)",
                    )
                }
            },
            "extra" => {
                let Some(items) = v.as_list() else {
                    return bad(
                        format!("`extra` must be a list of strings, found {}", what(v)),
                        EXTRA_HINT,
                    );
                };
                let mut problems = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(s) if s.starts_with('-') && !s.contains(['\n', '\r', '\0']) && s.trim() == s => {
                            self.extra.push(s.to_string());
                        }
                        _ => problems.push(Problem {
                            field: format!("extra[{i}]"),
                            message: format!("`extra` item {} is not a scheduler flag: {}", i + 1, what(item)),
                            hint: EXTRA_HINT.to_string(),
                        }),
                    }
                }
                return problems;
            }
            _ => {}
        }
        Vec::new()
    }

    /// This stage's request with the pipeline's `defaults` filling what it
    /// leaves out; `extra` flags are the defaults' followed by the stage's
    /// (schedulers let a later flag override an earlier one).
    pub fn over(&self, defaults: &Resources) -> Resources {
        Resources {
            time: self.time.or(defaults.time),
            mem: self.mem.or(defaults.mem),
            cpus: self.cpus.or(defaults.cpus),
            partition: self
                .partition
                .clone()
                .or_else(|| defaults.partition.clone()),
            account: self.account.clone().or_else(|| defaults.account.clone()),
            extra: defaults.extra.iter().chain(&self.extra).cloned().collect(),
        }
    }
}

/// A value given as a whole number of `unit`s or as text in its own
/// format (`time: 90` or `time: "1:30:00"`).
fn number_or_text<T>(
    v: &Value,
    unit: &str,
    from_number: fn(u64) -> Option<T>,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, String> {
    match v {
        Value::Int(n) => u64::try_from(*n)
            .ok()
            .and_then(from_number)
            .ok_or_else(|| format!("`{n}` is not a whole number of {unit} above zero")),
        Value::Str(s) => parse(s),
        other => Err(format!(
            "expected a number of {unit} or text, found {}",
            what(other)
        )),
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

fn what(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("`{}`", s.escape_debug()),
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => format!("`{v}`"),
        other => other.type_name().to_string(),
    }
}

fn list(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(v: serde_json::Value) -> Vec<(String, String)> {
        Resources::from_value(&Value::from_json(&v))
            .unwrap_err()
            .into_iter()
            .map(|p| (p.field, p.message))
            .collect()
    }

    #[test]
    fn every_field_parses() {
        let r = Resources::from_value(&Value::from_json(&json!({"time": "1:30:00", "mem": "16G",
            "cpus": 4, "partition": "gpu", "account": "lab-1", "extra": ["--qos=long"]})))
        .unwrap();
        assert_eq!(r.time, TimeLimit::from_minutes(90));
        assert_eq!(r.mem, Memory::parse("16384M").ok());
        assert_eq!(r.cpus, Some(4));
        assert_eq!(r.extra, ["--qos=long"]);
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let got = problems(json!({"time": "1h", "mem": "lots", "cpus": 0,
                                  "partition": "a b", "extra": ["--qos=x", 3, "nope"], "tiem": 1}));
        let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "cpus",
                "extra[1]",
                "extra[2]",
                "mem",
                "partition",
                "tiem",
                "time"
            ]
        );
        assert!(problems(json!({"time": 0}))[0].1.contains("above zero"));
        assert!(problems(json!({"extra": "--qos=x"}))[0]
            .1
            .contains("must be a list of strings"));
    }

    #[test]
    fn stage_fields_override_defaults() {
        let read = |v| Resources::from_value(&Value::from_json(&v)).unwrap();
        let defaults = read(json!({"time": 60, "partition": "cpu", "extra": ["--qos=a"]}));
        let r = read(json!({"partition": "gpu", "extra": ["--qos=b"]})).over(&defaults);
        assert_eq!(r.time, TimeLimit::from_minutes(60));
        assert_eq!(r.partition.as_deref(), Some("gpu"));
        assert_eq!(r.extra, ["--qos=a", "--qos=b"]);
    }
}
