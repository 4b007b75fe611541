//! `pipe exp show`'s table: one row per result, the params as columns (all,
//! or only those that vary), the summary metrics, wall time, training
//! throughput (a measurement in the manifest), creation time and which row
//! is current; as aligned text, CSV, JSON or Markdown.

use std::cmp::Ordering;

use pipe_engine::diagnostic::suggest;
use pipe_engine::{Diagnostic, Error, Result, Value};

use super::{varying_params, Measure, Row, METRICS};
use crate::report::fmt;

/// How `exp show` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Csv,
    Json,
    Markdown,
}

/// One column: its name (as `--sort-by` takes it) and what fills it.
#[derive(Clone, Debug, PartialEq)]
enum Column {
    Current,
    Stage,
    Param(String),
    Metric(&'static str, Measure),
    Wall,
    /// Training images per second, measured by the run (not an output).
    Rate,
    Created,
    Key,
}

impl Column {
    fn name(&self) -> &str {
        match self {
            Column::Current => "current",
            Column::Stage => "stage",
            Column::Param(p) => p,
            Column::Metric(m, _) => m,
            Column::Wall => "wall",
            Column::Rate => "images/s",
            Column::Created => "created",
            Column::Key => "key",
        }
    }

    /// The value to sort by: numbers where the column holds numbers.
    fn sort_value(&self, row: &Row) -> Option<Sortable> {
        Some(match self {
            Column::Current => Sortable::Number(f64::from(u8::from(!row.current))),
            Column::Stage => Sortable::Text(row.stage.clone()),
            Column::Param(p) => match row.params.get(p)? {
                v @ (Value::Int(_) | Value::Float(_)) => Sortable::Number(v.as_f64()?),
                v => Sortable::Text(v.to_string()),
            },
            Column::Metric(m, _) => Sortable::Number(row.metric(m)?),
            Column::Wall => Sortable::Number(row.seconds),
            Column::Rate => Sortable::Number(row.images_per_s()?),
            Column::Created => Sortable::Number(row.written_ns as f64),
            Column::Key => Sortable::Text(row.key.0.to_hex()),
        })
    }

    /// The cell as people read it (percent, rounded losses, durations).
    fn shown(&self, row: &Row) -> String {
        match self {
            Column::Current => if row.current { "*" } else { "" }.into(),
            Column::Stage => row.stage.clone(),
            Column::Param(p) => row.params.get(p).map_or("-".into(), Value::to_string),
            Column::Metric(m, measure) => row.metric(m).map_or("-".into(), |v| match measure {
                Measure::Loss => fmt::loss(v),
                Measure::Accuracy => fmt::percent(v),
                Measure::Epoch => format!("{v:.0}"),
            }),
            Column::Wall => fmt::duration(row.seconds),
            Column::Rate => row.images_per_s().map_or("-".into(), fmt::rate),
            Column::Created => utc(row.created),
            Column::Key => row.short_key(),
        }
    }

    /// The cell for machines (CSV): raw numbers, fractions, seconds.
    fn raw(&self, row: &Row) -> String {
        match self {
            Column::Current => row.current.to_string(),
            Column::Metric(m, _) => row.metric(m).map_or(String::new(), |v| v.to_string()),
            Column::Param(p) => row.params.get(p).map_or(String::new(), Value::to_string),
            Column::Wall => row.seconds.to_string(),
            Column::Rate => row.images_per_s().map_or(String::new(), |v| v.to_string()),
            Column::Created => row.created.to_string(),
            Column::Key => row.key.0.to_hex(),
            Column::Stage => row.stage.clone(),
        }
    }

    fn numeric(&self) -> bool {
        !matches!(self, Column::Current | Column::Stage | Column::Key)
    }
}

#[derive(PartialEq, PartialOrd)]
enum Sortable {
    Number(f64),
    Text(String),
}

/// The rows with the columns chosen for them.
pub struct Table<'a> {
    rows: Vec<&'a Row>,
    columns: Vec<Column>,
}

impl<'a> Table<'a> {
    /// All params as columns, or with `only_changed` those that vary;
    /// metrics that some row has. `sort_by` names a column: accuracies sort
    /// best first, everything else ascending; `reverse` flips it. Rows
    /// without a value sort last either way.
    pub fn new(
        rows: &'a [Row],
        only_changed: bool,
        sort_by: Option<&str>,
        reverse: bool,
    ) -> Result<Table<'a>> {
        let params: Vec<String> = if only_changed {
            varying_params(rows)
        } else {
            let names: std::collections::BTreeSet<&String> =
                rows.iter().flat_map(|r| r.params.keys()).collect();
            names.into_iter().cloned().collect()
        };
        let mut columns = vec![Column::Current, Column::Stage];
        columns.extend(params.into_iter().map(Column::Param));
        columns.extend(
            METRICS
                .iter()
                .filter(|(m, _)| rows.iter().any(|r| r.metric(m).is_some()))
                .map(|&(m, measure)| Column::Metric(m, measure)),
        );
        columns.push(Column::Wall);
        if rows.iter().any(|r| r.images_per_s().is_some()) {
            columns.push(Column::Rate);
        }
        columns.extend([Column::Created, Column::Key]);
        let mut table = Table {
            rows: rows.iter().collect(),
            columns,
        };
        if let Some(name) = sort_by {
            table.sort(name, reverse)?;
        } else if reverse {
            table.rows.reverse();
        }
        Ok(table)
    }

    fn sort(&mut self, name: &str, reverse: bool) -> Result<()> {
        let mut known: Vec<Column> = self.columns.clone();
        known.extend(
            METRICS
                .iter()
                .map(|&(m, measure)| Column::Metric(m, measure)),
        );
        let Some(column) = known.into_iter().find(|c| c.name() == name) else {
            let names: Vec<&str> = self.columns.iter().map(Column::name).collect();
            let hint = match suggest(name, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("columns: {}", names.join(", ")),
            };
            return Err(Error::Invalid(vec![Diagnostic::error(format!(
                "`--sort-by {name}`: no such column"
            ))
            .hint(hint)]));
        };
        let best_first = matches!(column, Column::Metric(_, Measure::Accuracy));
        self.rows
            .sort_by(|a, b| match (column.sort_value(a), column.sort_value(b)) {
                (Some(x), Some(y)) => {
                    let o = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
                    if best_first != reverse {
                        o.reverse()
                    } else {
                        o
                    }
                }
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            });
        Ok(())
    }

    /// The column names, in order.
    pub fn header(&self) -> Vec<&str> {
        self.columns.iter().map(Column::name).collect()
    }

    pub fn render(&self, format: Format) -> Result<String> {
        Ok(match format {
            Format::Text => self.text(),
            Format::Markdown => self.markdown(),
            Format::Csv => self.csv()?,
            Format::Json => self.json(),
        })
    }

    fn cells(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| self.columns.iter().map(|c| c.shown(r)).collect())
            .collect()
    }

    fn text(&self) -> String {
        let mut header: Vec<String> = self.header().iter().map(|s| s.to_string()).collect();
        header[0] = String::new();
        let cells = self.cells();
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                cells
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([header[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for line in std::iter::once(&header).chain(&cells) {
            let mut parts = Vec::with_capacity(line.len());
            for (i, cell) in line.iter().enumerate() {
                let pad = widths[i] - cell.chars().count();
                parts.push(if self.columns[i].numeric() {
                    format!("{}{cell}", " ".repeat(pad))
                } else {
                    format!("{cell}{}", " ".repeat(pad))
                });
            }
            out.push_str(parts.join("  ").trim_end());
            out.push('\n');
        }
        let n = self.rows.len();
        out.push_str(&format!(
            "{n} result{}; * marks the current one of each stage\n",
            if n == 1 { "" } else { "s" }
        ));
        out
    }

    fn markdown(&self) -> String {
        let cell = |s: &str| s.replace('|', "\\|");
        let header: Vec<String> = self.header().iter().map(|h| cell(h)).collect();
        let mut out = format!("| {} |\n", header.join(" | "));
        let align: Vec<&str> = self
            .columns
            .iter()
            .map(|c| if c.numeric() { "--:" } else { ":--" })
            .collect();
        out.push_str(&format!("| {} |\n", align.join(" | ")));
        for row in self.cells() {
            let row: Vec<String> = row.iter().map(|c| cell(c)).collect();
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        out
    }

    fn csv(&self) -> Result<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let fail = |e: csv::Error| Error::internal(format!("cannot write CSV: {e}"));
        w.write_record(self.header()).map_err(fail)?;
        for r in &self.rows {
            w.write_record(self.columns.iter().map(|c| c.raw(r)))
                .map_err(fail)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| Error::internal(format!("cannot write CSV: {e}")))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn json(&self) -> String {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                let params: serde_json::Map<String, serde_json::Value> = self
                    .columns
                    .iter()
                    .filter_map(|c| match c {
                        Column::Param(p) => Some((p.clone(), r.params.get(p)?.to_json())),
                        _ => None,
                    })
                    .collect();
                serde_json::json!({
                    "stage": r.stage,
                    "kind": r.kind,
                    "key": r.key.0.to_hex(),
                    "current": r.current,
                    "params": params,
                    "matrix": Value::Map(r.matrix.clone()).to_json(),
                    "metrics": r.metrics,
                    "seconds": r.seconds,
                    "measured": r.measured,
                    "created": r.created,
                    "created_utc": utc(r.created),
                })
            })
            .collect();
        format!("{:#}\n", serde_json::Value::Array(rows))
    }
}

/// Unix seconds as `2026-11-30 14:35` (UTC).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00");
        assert_eq!(utc(1_796_052_900), "2026-11-30 15:35");
    }
}
