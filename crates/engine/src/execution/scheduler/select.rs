//! Which stages a run or status covers: `TARGET`s plus their ancestors, and
//! which of them `--force` names. Patterns are stage names or globs where
//! `*` and `?` are wildcards and brackets are literal (`train[vit_b_16,*]`).

use crate::diagnostic::{suggest, Diagnostic};
use crate::error::{Error, Result};
use crate::format::pattern::glob;
use crate::format::pipeline::Pipeline;

/// `selected[i]`: stage i is a target or an ancestor of one. No targets
/// selects every stage.
pub fn targets(pipeline: &Pipeline, patterns: &[String]) -> Result<Vec<bool>> {
    if patterns.is_empty() {
        return Ok(vec![true; pipeline.stages.len()]);
    }
    let mut selected = matching(pipeline, patterns, "target")?;
    // Stages are in topological order, so walking backwards visits every
    // user before its inputs.
    for i in (0..pipeline.stages.len()).rev() {
        if selected[i] {
            for ids in pipeline.stages[i].inputs.values() {
                for id in ids {
                    selected[id.0] = true;
                }
            }
        }
    }
    Ok(selected)
}

/// `matched[i]`: stage i matches one of the patterns. A pattern matching no
/// stage is an error (a typo would otherwise silently do nothing).
pub fn matching(pipeline: &Pipeline, patterns: &[String], what: &str) -> Result<Vec<bool>> {
    let mut matched = vec![false; pipeline.stages.len()];
    let mut problems = Vec::new();
    for pattern in patterns {
        let mut any = false;
        for (i, stage) in pipeline.stages.iter().enumerate() {
            if glob(pattern, &stage.name) || glob(pattern, &stage.template) {
                matched[i] = true;
                any = true;
            }
        }
        if !any {
            let mut d = Diagnostic::error(format!("{what} `{pattern}` matches no stage"));
            let names = pipeline.stages.iter().map(|s| s.name.as_str());
            if let Some(s) = suggest(pattern, names) {
                d = d.hint(format!("did you mean `{s}`?"));
            } else {
                d = d.hint("`pipe dag FILE` lists the stages");
            }
            problems.push(d);
        }
    }
    if problems.is_empty() {
        Ok(matched)
    } else {
        Err(Error::Invalid(problems))
    }
}
