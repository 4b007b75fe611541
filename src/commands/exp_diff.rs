//! `pipe exp diff`: per stage, what changed between two cached results.

use pipe_engine::Result;
use pipe_report::experiments::{by_key, default_pairs, diff, Row};

use super::Config;
use crate::cli::ExpDiffArgs;

pub fn exp_diff(config: &Config, args: &ExpDiffArgs) -> Result<u8> {
    let rows = super::exp_show::rows(config, &args.pipeline, &args.stages)?;
    let pairs: Vec<(&Row, &Row)> = match &args.from {
        Some(from) => {
            let old = by_key(&rows, from)?;
            let new = match &args.to {
                Some(to) => by_key(&rows, to)?,
                None => default_new(&rows, old),
            };
            vec![(old, new)]
        }
        None => default_pairs(&rows),
    };
    let mut out = String::new();
    if pairs.is_empty() {
        out.push_str("no stage has two cached results to compare\n");
    }
    for (i, (old, new)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let d = diff(old, new);
        out.push_str(&if args.md { d.markdown() } else { d.text() });
    }
    super::output::out(&out)?;
    Ok(0)
}

/// The current result of `old`'s stage, else its newest one.
fn default_new<'a>(rows: &'a [Row], old: &'a Row) -> &'a Row {
    let same: Vec<&Row> = rows.iter().filter(|r| r.stage == old.stage).collect();
    same.iter()
        .find(|r| r.current)
        .or_else(|| same.iter().max_by_key(|r| r.written_ns))
        .copied()
        .unwrap_or(old)
}
