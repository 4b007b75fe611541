//! What a stage asks of the cluster: `resources: {time, mem, cpus, gpus,
//! partition, account, extra: [...]}`, as a typed, validated value, and the
//! sbatch flags it becomes.
//!
//! The pipeline file gives it per stage and as pipeline-level defaults
//! ([`Resources::over`]). Parsing collects every problem with the field it
//! is about, so that `pipe check` can point at the field's line and column;
//! anything sbatch would reject later is rejected here.

use std::str::FromStr;

use serde_json::Value;

use crate::memory::{Memory, MEMORY_HINT};
use crate::time_limit::{TimeLimit, TIME_HINT};

/// A stage's resource request; `None` leaves the cluster's default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub time: Option<TimeLimit>,
    pub mem: Option<Memory>,
    pub cpus: Option<u32>,
    /// GPUs for the stage; the job sees them through `CUDA_VISIBLE_DEVICES`.
    pub gpus: Option<u32>,
    pub partition: Option<String>,
    pub account: Option<String>,
    /// Further sbatch flags, passed as written (`--constraint=a100`).
    pub extra: Vec<String>,
}

/// One thing wrong in a `resources` entry: the field (`time`, `extra[1]`, or
/// empty for the entry itself), what is wrong, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub message: String,
    pub hint: Option<String>,
}

/// How `gpus: N` is asked of SLURM: `--gpus=N` (SLURM 19.05 and later) or
/// `--gres=gpu:N` (older clusters, and sites that configure only GRES).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GpuFlag {
    #[default]
    Gpus,
    Gres,
}

impl FromStr for GpuFlag {
    type Err = String;
    fn from_str(s: &str) -> Result<GpuFlag, String> {
        match s {
            "gpus" => Ok(GpuFlag::Gpus),
            "gres" => Ok(GpuFlag::Gres),
            _ => Err(format!(
                "`{s}` is not a way to ask for GPUs; use `gpus` (--gpus=N) or `gres` (--gres=gpu:N)"
            )),
        }
    }
}

const FIELDS: &[&str] = &[
    "time",
    "mem",
    "cpus",
    "gpus",
    "partition",
    "account",
    "extra",
];

/// Flags the client sets itself: a stage setting them would break how its
/// job is named, logged or found again.
const RESERVED: &[&str] = &[
    "-J",
    "--job-name",
    "-o",
    "--output",
    "-e",
    "--error",
    "--open-mode",
    "--comment",
    "--parsable",
    "--wrap",
    "-D",
    "--chdir",
];

impl Resources {
    /// Parses a `resources` mapping (YAML read into JSON values).
    pub fn from_value(value: &Value) -> Result<Resources, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut r = Resources::default();
        let Some(map) = value.as_object() else {
            return Err(vec![problem(
                "",
                "`resources` must be a mapping",
                Some(format!("give some of {}", FIELDS.join(", "))),
            )]);
        };
        for (key, v) in map {
            let mut bad = |message: String, hint: Option<&str>| {
                problems.push(problem(key, message, hint.map(str::to_string)));
            };
            match key.as_str() {
                "time" => match number_or_text(
                    v,
                    "minutes",
                    "a time limit",
                    TimeLimit::from_minutes,
                    TimeLimit::parse,
                ) {
                    Ok(t) => r.time = Some(t),
                    Err(e) => bad(e, Some(TIME_HINT)),
                },
                "mem" => match number_or_text(
                    v,
                    "megabytes",
                    "a memory amount",
                    Memory::from_megabytes,
                    Memory::parse,
                ) {
                    Ok(m) => r.mem = Some(m),
                    Err(e) => bad(e, Some(MEMORY_HINT)),
                },
                "cpus" | "gpus" => {
                    let min = u64::from(key == "cpus");
                    match v
                        .as_u64()
                        .filter(|&n| n >= min)
                        .and_then(|n| u32::try_from(n).ok())
                    {
                        Some(n) if key == "cpus" => r.cpus = Some(n),
                        Some(n) => r.gpus = Some(n),
                        None => bad(
                            format!(
                                "expected a whole number of at least {min}, found {}",
                                what(v)
                            ),
                            None,
                        ),
                    }
                }
                "partition" | "account" => match v.as_str().filter(|s| is_name(s)) {
                    Some(s) if key == "partition" => r.partition = Some(s.to_string()),
                    Some(s) => r.account = Some(s.to_string()),
                    None => bad(
                        format!("expected a {key} name, found {}", what(v)),
                        Some("letters, digits, `_`, `-` and `.`, as `sinfo`/`sacctmgr` list them"),
                    ),
                },
                "extra" => match v.as_array() {
                    Some(items) => {
                        for (i, item) in items.iter().enumerate() {
                            match extra_flag(item) {
                                Ok(flag) => r.extra.push(flag),
                                Err((message, hint)) => problems.push(problem(
                                    &format!("extra[{i}]"),
                                    message,
                                    Some(hint),
                                )),
                            }
                        }
                    }
                    None => bad(
                        format!("expected a list of sbatch flags, found {}", what(v)),
                        Some("write `extra: [\"--constraint=a100\"]`"),
                    ),
                },
                other => bad(
                    format!("unknown resource `{other}`"),
                    Some(&format!("use one of {}", FIELDS.join(", "))),
                ),
            }
        }
        if problems.is_empty() {
            Ok(r)
        } else {
            Err(problems)
        }
    }

    /// This stage's request with the pipeline's `defaults` filling what it
    /// leaves out; `extra` flags are the defaults' followed by the stage's
    /// (sbatch lets a later flag override an earlier one).
    pub fn over(&self, defaults: &Resources) -> Resources {
        Resources {
            time: self.time.or(defaults.time),
            mem: self.mem.or(defaults.mem),
            cpus: self.cpus.or(defaults.cpus),
            gpus: self.gpus.or(defaults.gpus),
            partition: self
                .partition
                .clone()
                .or_else(|| defaults.partition.clone()),
            account: self.account.clone().or_else(|| defaults.account.clone()),
            extra: defaults.extra.iter().chain(&self.extra).cloned().collect(),
        }
    }

    /// The sbatch flags for this request, one per element.
    pub fn sbatch_flags(&self, gpu_flag: GpuFlag) -> Vec<String> {
        let mut flags = Vec::new();
        if let Some(t) = self.time {
            flags.push(format!("--time={t}"));
        }
        if let Some(m) = self.mem {
            flags.push(format!("--mem={m}"));
        }
        if let Some(c) = self.cpus {
            flags.push(format!("--cpus-per-task={c}"));
        }
        match (self.gpus, gpu_flag) {
            (None | Some(0), _) => {}
            (Some(n), GpuFlag::Gpus) => flags.push(format!("--gpus={n}")),
            (Some(n), GpuFlag::Gres) => flags.push(format!("--gres=gpu:{n}")),
        }
        if let Some(p) = &self.partition {
            flags.push(format!("--partition={p}"));
        }
        if let Some(a) = &self.account {
            flags.push(format!("--account={a}"));
        }
        flags.extend(self.extra.iter().cloned());
        flags
    }
}

fn problem(field: &str, message: impl Into<String>, hint: Option<String>) -> Problem {
    Problem {
        field: field.to_string(),
        message: message.into(),
        hint,
    }
}

/// A value the file may give as a whole number of `unit`s or as text in
/// its own format (`time: 90` or `time: "1:30:00"`).
fn number_or_text<T>(
    v: &Value,
    unit: &str,
    expected: &str,
    from_number: fn(u64) -> Option<T>,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, String> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .and_then(from_number)
            .ok_or_else(|| format!("`{n}` is not a whole number of {unit} above zero")),
        Value::String(s) => parse(s),
        _ => Err(format!("expected {expected}, found {}", what(v))),
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

/// One `extra` flag: a single-line option that the client does not own.
fn extra_flag(item: &Value) -> Result<String, (String, String)> {
    let hint = "write one sbatch option per item, like `--constraint=a100` or `--qos=long`";
    let Some(s) = item.as_str() else {
        return Err((
            format!("expected an sbatch flag, found {}", what(item)),
            hint.into(),
        ));
    };
    if !s.starts_with('-') || s.contains(['\n', '\r', '\0']) || s.trim() != s {
        return Err((
            format!("`{}` is not an sbatch flag", s.escape_debug()),
            hint.into(),
        ));
    }
    let name = s.split(['=', ' ']).next().unwrap_or(s);
    let reserved = RESERVED
        .iter()
        .any(|r| *r == name || (r.len() == 2 && name.starts_with(r) && !name.starts_with("--")));
    if reserved {
        return Err((
            format!("`{name}` is set by pipe for every job"),
            "pipe names each job after its run, logs into the stage's work dir and tags it with the stage's key; remove this flag".into(),
        ));
    }
    Ok(s.to_string())
}

fn what(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::String(s) => format!("`{}`", s.escape_debug()),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flags(v: Value, gpu: GpuFlag) -> Vec<String> {
        Resources::from_value(&v).unwrap().sbatch_flags(gpu)
    }

    fn problems(v: Value) -> Vec<(String, String)> {
        Resources::from_value(&v)
            .unwrap_err()
            .into_iter()
            .map(|p| (p.field, p.message))
            .collect()
    }

    #[test]
    fn every_field_becomes_its_flag() {
        let v = json!({"time": "1:30:00", "mem": "16G", "cpus": 4, "gpus": 2,
                       "partition": "gpu", "account": "lab-1", "extra": ["--qos=long"]});
        assert_eq!(
            flags(v.clone(), GpuFlag::Gpus),
            [
                "--time=0-01:30:00",
                "--mem=16G",
                "--cpus-per-task=4",
                "--gpus=2",
                "--partition=gpu",
                "--account=lab-1",
                "--qos=long"
            ]
        );
        assert!(flags(v, GpuFlag::Gres).contains(&"--gres=gpu:2".to_string()));
        assert_eq!(
            flags(json!({"time": 5, "mem": 100, "gpus": 0}), GpuFlag::Gpus),
            ["--time=0-00:05:00", "--mem=100M"]
        );
        assert!(flags(json!({}), GpuFlag::Gpus).is_empty());
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let got = problems(json!({"time": "1h", "mem": "lots", "cpus": 0, "gpus": -1,
                                  "partition": "a b", "extra": ["--qos=x", "-J x", 3, "--output=y"],
                                  "tiem": 1}));
        let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "time",
                "mem",
                "cpus",
                "gpus",
                "partition",
                "extra[1]",
                "extra[2]",
                "extra[3]",
                "tiem"
            ]
        );
        assert_eq!(problems(json!([1]))[0].1, "`resources` must be a mapping");
        assert!(problems(json!({"extra": ["--wrap=x"]}))[0]
            .1
            .contains("set by pipe"));
        assert!(problems(json!({"extra": ["-ofile"]}))[0]
            .1
            .contains("set by pipe"));
        assert!(problems(json!({"extra": ["nope"]}))[0]
            .1
            .contains("not an sbatch flag"));
        assert!(problems(json!({"extra": ["--a\n#SBATCH --b"]}))[0]
            .1
            .contains("not an sbatch flag"));
        assert!(problems(json!({"time": 0}))[0].1.contains("above zero"));
    }

    #[test]
    fn stage_fields_override_defaults() {
        let defaults =
            Resources::from_value(&json!({"time": 60, "partition": "cpu", "extra": ["--qos=a"]}))
                .unwrap();
        let stage =
            Resources::from_value(&json!({"partition": "gpu", "gpus": 1, "extra": ["--qos=b"]}))
                .unwrap();
        let r = stage.over(&defaults);
        assert_eq!(r.time, TimeLimit::from_minutes(60));
        assert_eq!(r.partition.as_deref(), Some("gpu"));
        assert_eq!(r.gpus, Some(1));
        assert_eq!(r.extra, ["--qos=a", "--qos=b"]);
    }

    #[test]
    fn gpu_flag_names() {
        assert_eq!("gres".parse(), Ok(GpuFlag::Gres));
        assert_eq!("gpus".parse(), Ok(GpuFlag::Gpus));
        assert!("gpu".parse::<GpuFlag>().is_err());
    }
}
