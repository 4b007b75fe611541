//! Experiments: every cached result of a pipeline's stages, across every
//! `--set` and every past version of the file still in the cache, as rows
//! of params and summary metrics. `pipe exp show`, `pipe exp diff` and
//! `pipe exp plot` are views of these rows.
//!
//! Rows come from the cache's manifests (params, stage, wall time and
//! the run's other measurements, creation time) and from each result's small files: `metrics.csv` of a
//! training run, and `metrics.json` of an `evaluate` result whose key
//! names that run's output as an input. Checkpoints are never read.

mod diff;
mod figure;
mod table;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use pipe_engine::cache::results::{results, CachedResult};
use pipe_engine::cache::{Cache, StageHash};
use pipe_engine::run::select;
use pipe_engine::{ContentHash, Diagnostic, Error, Pipeline, Result, Value};

pub use diff::{default_pairs, diff, Change, Diff};
pub use figure::figure;
pub use table::{Format, Table};

use crate::metrics::{as_fractions, Metrics};

/// The summary metrics of a row, in column order: (name, what it is).
pub const METRICS: [(&str, Measure); 6] = [
    ("min_test_loss", Measure::Loss),
    ("min_epoch", Measure::Epoch),
    ("best_test_acc", Measure::Accuracy),
    ("best_epoch", Measure::Epoch),
    ("final_train_loss", Measure::Loss),
    ("eval_acc", Measure::Accuracy),
];

/// How a metric is shown and compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    Loss,
    /// A fraction, shown as a percentage; higher is better.
    Accuracy,
    Epoch,
}

/// One cached result of a stage.
#[derive(Clone, Debug)]
pub struct Row {
    pub stage: String,
    pub kind: String,
    pub key: StageHash,
    pub params: BTreeMap<String, Value>,
    pub matrix: BTreeMap<String, Value>,
    /// Metric name (see [`METRICS`]) -> value; absent when not recorded.
    pub metrics: BTreeMap<&'static str, f64>,
    /// Seconds the stage took to run.
    pub seconds: f64,
    /// What the run measured about itself (`images_per_s`, ...): in the
    /// manifest, not in the outputs.
    pub measured: BTreeMap<String, f64>,
    /// Unix time the result was made.
    pub created: u64,
    /// When its manifest was written (ns): the order results were made in.
    pub written_ns: u128,
    /// The result the pipeline file, as it stands, would use.
    pub current: bool,
    /// The run's per-epoch table, if it wrote one (what `exp plot` draws).
    pub metrics_csv: Option<PathBuf>,
}

impl Row {
    /// Training images per second, if the run measured it.
    pub fn images_per_s(&self) -> Option<f64> {
        self.measured.get("images_per_s").copied()
    }

    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).copied()
    }

    /// The key's first 12 hex digits: how a row is named on the command line.
    pub fn short_key(&self) -> String {
        self.key.0.short()
    }
}

/// The rows of the stages of `pipeline` that `patterns` select (globs as
/// in `pipe run`; a pattern matching no stage is an error). Without
/// patterns: every stage whose results hold a `metrics.csv` (the training
/// runs). Rows come in pipeline order, oldest first within a stage.
pub fn load(pipeline: &Pipeline, cache: &Cache, patterns: &[String]) -> Result<Vec<Row>> {
    let selected = select::matching(pipeline, patterns, "stage pattern")?;
    let order: HashMap<&str, (usize, &str)> = pipeline
        .stages
        .iter()
        .enumerate()
        .filter(|(i, _)| patterns.is_empty() || selected[*i])
        .map(|(i, s)| (s.name.as_str(), (i, s.kind.name())))
        .collect();
    let all = results(cache, |_| true);
    let chosen: Vec<&CachedResult> = all
        .iter()
        .filter(|r| {
            let m = &r.manifest;
            order
                .get(m.stage.as_str())
                .is_some_and(|&(_, kind)| kind == m.key.kind)
                && (!patterns.is_empty() || m.files.contains_key("metrics.csv"))
        })
        .collect();
    let evaluations = evaluations(cache, &all, &chosen);
    let current: HashSet<StageHash> = pipe_engine::status::status(pipeline, cache, &[], &[])?
        .into_iter()
        .filter_map(|s| s.key)
        .collect();
    let mut rows: Vec<Row> = chosen
        .into_iter()
        .map(|r| {
            let mut row = row(cache, r, current.contains(&r.key));
            if let Some(acc) = evaluations.get(&r.manifest.output) {
                row.metrics.insert("eval_acc", *acc);
            }
            row
        })
        .collect();
    rows.sort_by(|a, b| {
        let at = |r: &Row| order.get(r.stage.as_str()).map_or(usize::MAX, |o| o.0);
        (at(a), a.written_ns, a.key).cmp(&(at(b), b.written_ns, b.key))
    });
    Ok(rows)
}

fn row(cache: &Cache, result: &CachedResult, current: bool) -> Row {
    let m = &result.manifest;
    let metrics_csv = result.file(cache, "metrics.csv");
    let metrics = metrics_csv
        .as_deref()
        .and_then(|p| Metrics::read(p).ok())
        .map(|m| summarise(&m))
        .unwrap_or_default();
    Row {
        stage: m.stage.clone(),
        kind: m.key.kind.clone(),
        key: result.key,
        params: m.key.params.clone(),
        matrix: m
            .matrix
            .iter()
            .map(|(k, v)| (k.clone(), Value::from_json(v)))
            .collect(),
        metrics,
        seconds: m.seconds,
        measured: m.measured.clone(),
        created: m.created,
        written_ns: result.written_ns,
        current,
        metrics_csv,
    }
}

/// The summary metrics of a per-epoch table; a column it lacks gives none.
pub fn summarise(m: &Metrics) -> BTreeMap<&'static str, f64> {
    let series = |c: &str| {
        m.columns
            .iter()
            .any(|x| x == c)
            .then(|| m.series(c).ok())
            .flatten()
            .filter(|s| !s.is_empty())
    };
    let mut out = BTreeMap::new();
    if let Some(loss) = series("test_loss") {
        if let Some(&(e, v)) = loss.iter().reduce(|a, b| if b.1 < a.1 { b } else { a }) {
            out.insert("min_test_loss", v);
            out.insert("min_epoch", e as f64);
        }
    }
    if let Some(acc) = series("test_acc") {
        let acc = as_fractions(acc);
        if let Some(&(e, v)) = acc.iter().reduce(|a, b| if b.1 > a.1 { b } else { a }) {
            out.insert("best_test_acc", v);
            out.insert("best_epoch", e as f64);
        }
    }
    if let Some(&(_, v)) = series("train_loss")
        .and_then(|s| s.last().copied())
        .as_ref()
    {
        out.insert("final_train_loss", v);
    }
    out
}

/// Output hash of a chosen result -> the accuracy an evaluation of it
/// recorded (`metrics.json`'s `accuracy`; the newest evaluation wins).
fn evaluations(
    cache: &Cache,
    all: &[CachedResult],
    chosen: &[&CachedResult],
) -> HashMap<ContentHash, f64> {
    let outputs: HashSet<ContentHash> = chosen.iter().map(|r| r.manifest.output).collect();
    let mut newest: HashMap<ContentHash, (u128, f64)> = HashMap::new();
    for r in all {
        let Some(consumed) = r
            .manifest
            .key
            .inputs
            .values()
            .flatten()
            .map(|(_, hash)| *hash)
            .find(|h| outputs.contains(h))
        else {
            continue;
        };
        let Some(path) = r.file(cache, "metrics.json") else {
            continue;
        };
        let accuracy = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|j| j.get("accuracy").and_then(serde_json::Value::as_f64));
        if let Some(acc) = accuracy {
            let acc = if acc > 1.0 + 1e-9 { acc / 100.0 } else { acc };
            let entry = newest.entry(consumed).or_insert((0, acc));
            if r.written_ns >= entry.0 {
                *entry = (r.written_ns, acc);
            }
        }
    }
    newest.into_iter().map(|(k, (_, a))| (k, a)).collect()
}

/// The params whose values are not the same in every row, in name order.
pub fn varying_params(rows: &[Row]) -> Vec<String> {
    let names: std::collections::BTreeSet<&String> =
        rows.iter().flat_map(|r| r.params.keys()).collect();
    names
        .into_iter()
        .filter(|name| {
            let first = rows.first().and_then(|r| r.params.get(*name));
            rows.iter().any(|r| r.params.get(*name) != first)
        })
        .cloned()
        .collect()
}

/// Finds a row by a prefix of its key (as `exp show` prints it).
pub fn by_key<'a>(rows: &'a [Row], prefix: &str) -> Result<&'a Row> {
    let prefix = prefix.trim().to_ascii_lowercase();
    let found: Vec<&Row> = rows
        .iter()
        .filter(|r| !prefix.is_empty() && r.key.0.to_hex().starts_with(&prefix))
        .collect();
    let problem = match found.as_slice() {
        [one] => return Ok(one),
        [] => Diagnostic::error(format!(
            "no cached result of the selected stages has a key starting with `{prefix}`"
        ))
        .hint("`pipe exp show FILE` lists the results with their keys"),
        many => Diagnostic::error(format!(
            "{} results have keys starting with `{prefix}`",
            many.len()
        ))
        .hint("give more digits of the key"),
    };
    Err(Error::Invalid(vec![problem]))
}
