//! `pipe exp plot`: one figure of a per-epoch metric over cached results,
//! one curve per result, labelled by what sets them apart (`lr=0.01`).

use pipe_engine::{Diagnostic, Error, Result};

use super::{varying_params, Row};
use crate::metrics::{Metrics, COLUMNS};
use crate::plot::{curve, y_label, Figure, METRICS};

/// Legend labels: the params that vary between the rows as `name=value`,
/// preceded by the stage name when the rows come from several stages; the
/// key where nothing else tells two rows apart.
pub fn labels(rows: &[&Row]) -> Vec<String> {
    let owned: Vec<Row> = rows.iter().map(|r| (*r).clone()).collect();
    let varying = varying_params(&owned);
    let stages_vary = rows.iter().any(|r| r.stage != rows[0].stage);
    let mut labels: Vec<String> = rows
        .iter()
        .map(|r| {
            let mut parts: Vec<String> = Vec::new();
            if stages_vary {
                parts.push(r.stage.clone());
            }
            parts.extend(varying.iter().map(|p| {
                let v = r
                    .params
                    .get(p)
                    .map_or("(unset)".into(), ToString::to_string);
                format!("{p}={v}")
            }));
            parts.join(", ")
        })
        .collect();
    for i in 0..labels.len() {
        let twice = labels.iter().filter(|l| **l == labels[i]).count() > 1;
        if labels[i].is_empty() || twice {
            let key = rows[i].short_key();
            labels[i] = if labels[i].is_empty() {
                key
            } else {
                format!("{} ({key})", labels[i])
            };
        }
    }
    labels
}

/// The figure of `metric` over the rows that have a per-epoch table,
/// drawn as the `plot` kind draws (minima marked, 1000x600).
pub fn figure(rows: &[Row], metric: &str, title: &str, log_y: bool) -> Result<Figure> {
    if !COLUMNS.contains(&metric) || metric == "epoch" {
        return Err(Error::Invalid(vec![Diagnostic::error(format!(
            "`--metric {metric}`: not a column of `metrics.csv`"
        ))
        .hint(format!("use one of {}", METRICS.join(", ")))]));
    }
    let drawn: Vec<&Row> = rows.iter().filter(|r| r.metrics_csv.is_some()).collect();
    if drawn.is_empty() {
        return Err(Error::failed(
            "none of the selected results has a per-epoch `metrics.csv` to draw",
        )
        .with_hint("select training stages: `pipe exp plot FILE 'train*'`"));
    }
    let mut series = Vec::with_capacity(drawn.len());
    for (row, label) in drawn.iter().zip(labels(&drawn)) {
        if let Some(path) = &row.metrics_csv {
            series.push(curve(&Metrics::read(path)?, metric, label, log_y)?);
        }
    }
    Ok(Figure {
        title: title.to_string(),
        x_label: "epoch".into(),
        y_label: y_label(metric),
        series,
        log_y,
        mark_min: !metric.ends_with("_acc"),
        mark_max: metric.ends_with("_acc"),
        width: 1000,
        height: 600,
    })
}
