//! `pipe exp diff`: two results of a stage side by side, like `dvc params
//! diff` and `dvc metrics diff`: the params that changed (old -> new) and
//! every metric either has (old -> new, and the change).

use pipe_engine::Value;

use super::{Measure, Row, METRICS};
use crate::report::fmt;

/// What changed from one result (`old`) to another (`new`).
#[derive(Clone, Debug)]
pub struct Diff<'a> {
    pub old: &'a Row,
    pub new: &'a Row,
    /// (param, old, new) for params that differ; `None`: not set there.
    pub params: Vec<(String, Option<Value>, Option<Value>)>,
    pub metrics: Vec<Change>,
}

/// One metric in both results.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub name: &'static str,
    pub measure: Measure,
    pub old: Option<f64>,
    pub new: Option<f64>,
}

impl Change {
    /// `new - old` where both exist.
    pub fn delta(&self) -> Option<f64> {
        Some(self.new? - self.old?)
    }

    pub fn shown(&self, v: Option<f64>) -> String {
        v.map_or("-".into(), |v| match self.measure {
            Measure::Loss => fmt::loss(v),
            Measure::Accuracy => fmt::percent(v),
            Measure::Epoch => format!("{v:.0}"),
        })
    }

    /// The change in the metric's units: `-0.0211`, `+10.00 pp`, `+2`.
    pub fn shown_delta(&self) -> String {
        self.delta().map_or("-".into(), |d| match self.measure {
            Measure::Loss => format!("{d:+.4}"),
            Measure::Accuracy => format!("{:+.2} pp", d * 100.0),
            Measure::Epoch => format!("{d:+.0}"),
        })
    }
}

/// The difference from `old` to `new`.
pub fn diff<'a>(old: &'a Row, new: &'a Row) -> Diff<'a> {
    let names: std::collections::BTreeSet<&String> =
        old.params.keys().chain(new.params.keys()).collect();
    let params = names
        .into_iter()
        .filter_map(|name| {
            let (a, b) = (old.params.get(name), new.params.get(name));
            (a != b).then(|| (name.clone(), a.cloned(), b.cloned()))
        })
        .collect();
    let metrics = METRICS
        .iter()
        .map(|&(name, measure)| Change {
            name,
            measure,
            old: old.metric(name),
            new: new.metric(name),
        })
        .filter(|c| c.old.is_some() || c.new.is_some())
        .collect();
    Diff {
        old,
        new,
        params,
        metrics,
    }
}

impl Diff<'_> {
    /// Aligned text: a heading naming both results, then one line per
    /// changed param and per metric.
    pub fn text(&self) -> String {
        let mut out = format!("{}\n", self.heading());
        if self.params.is_empty() {
            out.push_str("  no param changed\n");
        } else {
            out.push_str("  params:\n");
            let w = self.params.iter().map(|p| p.0.len()).max().unwrap_or(0);
            for (name, a, b) in &self.params {
                out.push_str(&format!("    {name:<w$}  {} -> {}\n", value(a), value(b)));
            }
        }
        if !self.metrics.is_empty() {
            out.push_str("  metrics:\n");
        }
        let cells: Vec<[String; 4]> = self
            .metrics
            .iter()
            .map(|c| {
                [
                    c.name.to_string(),
                    c.shown(c.old),
                    c.shown(c.new),
                    c.shown_delta(),
                ]
            })
            .collect();
        let width = |i: usize| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .max()
                .unwrap_or(0)
        };
        let (w0, w1, w2) = (width(0), width(1), width(2));
        for [name, a, b, d] in &cells {
            let line = format!("    {name:<w0$}  {a:>w1$} -> {b:<w2$}  {d}");
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// A Markdown section for a pull-request comment.
    pub fn markdown(&self) -> String {
        let mut out = format!("**{}**\n\n", self.heading().replace('`', ""));
        out.push_str("| | old | new | change |\n| :-- | --: | --: | --: |\n");
        for (name, a, b) in &self.params {
            out.push_str(&format!("| `{name}` | {} | {} | |\n", value(a), value(b)));
        }
        for c in &self.metrics {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                c.name,
                c.shown(c.old),
                c.shown(c.new),
                c.shown_delta()
            ));
        }
        out
    }

    fn heading(&self) -> String {
        let mark = |r: &Row| if r.current { " (current)" } else { "" };
        format!(
            "{}: {}{} -> {}{}",
            self.new.stage,
            self.old.short_key(),
            mark(self.old),
            self.new.short_key(),
            mark(self.new)
        )
    }
}

fn value(v: &Option<Value>) -> String {
    v.as_ref().map_or("(unset)".into(), Value::to_string)
}

/// Per stage, the pair `exp diff` compares by default: the current result
/// (or, if the stage has none cached, the newest) against the newest one
/// made before it. Stages with a single result give no pair.
pub fn default_pairs(rows: &[Row]) -> Vec<(&Row, &Row)> {
    let mut stages: Vec<&str> = Vec::new();
    for r in rows {
        if !stages.contains(&r.stage.as_str()) {
            stages.push(&r.stage);
        }
    }
    let mut pairs = Vec::new();
    for stage in stages {
        let mut of: Vec<&Row> = rows.iter().filter(|r| r.stage == stage).collect();
        of.sort_by_key(|r| (r.written_ns, r.key));
        let Some(new) = of.iter().rev().find(|r| r.current).or(of.last()).copied() else {
            continue;
        };
        let old = of
            .iter()
            .rev()
            .find(|r| r.key != new.key && (r.written_ns, r.key) < (new.written_ns, new.key))
            .or_else(|| of.iter().rev().find(|r| r.key != new.key))
            .copied();
        if let Some(old) = old {
            pairs.push((old, new));
        }
    }
    pairs
}
