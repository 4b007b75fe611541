//! Series labels: a tiny placeholder syntax over a stage's matrix values.
//!
//! `{NAME}` is replaced by the producing stage's matrix value `NAME`, and
//! `{stage}` by its full name; `{{` and `}}` are literal braces. Example:
//! `"{model} ({mode})"` gives `resnet50 (transfer)`. `{NAME|TEXT}` gives TEXT
//! for a stage without the matrix value NAME (`{policy|none}` labels the
//! run without augmentation beside those with one). Without a template the
//! label is made of the matrix values that differ between the plotted runs
//! as `name=value`, so a figure of one model's three modes is labelled
//! `mode=transfer`, `mode=finetune`, ...

use std::collections::BTreeMap;

use pipe_engine::{Error, Result, Value};

/// One piece of a parsed template.
#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Text(String),
    Var(String),
}

/// Splits a template into text and placeholders, or says what is wrong.
fn parse(template: &str) -> std::result::Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => return Err(format!("unclosed `{{` in `{template}`")),
                    }
                }
                let name = name.trim().to_string();
                if name.is_empty() {
                    return Err(format!("empty placeholder `{{}}` in `{template}`"));
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Var(name));
            }
            '}' => {
                return Err(format!(
                    "unmatched `}}` in `{template}` (write `}}}}` for a literal brace)"
                ))
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// Checks a template's syntax (for `Kind::check`, before anything runs).
pub fn check(template: &str) -> std::result::Result<(), String> {
    parse(template).map(|_| ())
}

/// Checks a template against the stages it will label (name, matrix
/// values), before anything runs (the error is (message, hint)): a placeholder without a default must be
/// a matrix variable of every stage, one with a default of at least one
/// (else it is a typo like `{mdoe}` or `{polcy|none}`).
pub fn check_against(
    template: &str,
    stages: &[(&str, &BTreeMap<String, Value>)],
) -> std::result::Result<(), (String, String)> {
    // A template that does not parse is reported by `check`.
    let Ok(pieces) = parse(template) else {
        return Ok(());
    };
    for piece in pieces {
        let Piece::Var(var) = piece else { continue };
        if var == "stage" || stages.is_empty() {
            continue;
        }
        let name = var.split_once('|').map_or(var.as_str(), |(n, _)| n.trim());
        let with_default = var.contains('|');
        let ok = if with_default {
            stages.iter().any(|(_, m)| m.contains_key(name))
        } else {
            stages.iter().all(|(_, m)| m.contains_key(name))
        };
        if !ok {
            let mut vars: Vec<&str> = stages
                .iter()
                .flat_map(|(_, m)| m.keys().map(String::as_str))
                .collect();
            vars.sort_unstable();
            vars.dedup();
            let lacking = stages
                .iter()
                .find(|(_, m)| !m.contains_key(name))
                .map_or("", |(s, _)| s);
            let hint = match pipe_engine::diagnostic::suggest(name, vars.iter().copied()) {
                Some(s) if s == name => {
                    format!("write `{{{name}|TEXT}}` to label the stages without `{name}` TEXT")
                }
                Some(s) => format!("did you mean `{{{s}}}`?"),
                None => {
                    let mut have: Vec<String> = vars.iter().map(|k| format!("`{{{k}}}`")).collect();
                    have.push("`{stage}`".into());
                    format!(
                        "use one of {}, or `{{{name}|TEXT}}` for a default",
                        have.join(", ")
                    )
                }
            };
            return Err((
                format!("label placeholder `{{{name}}}` is not a matrix variable of input stage `{lacking}`"),
                hint,
            ));
        }
    }
    Ok(())
}

/// Fills a template for one stage.
pub fn fill(template: &str, stage: &str, matrix: &BTreeMap<String, Value>) -> Result<String> {
    let pieces = parse(template).map_err(Error::failed)?;
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(&t),
            Piece::Var(name) if name == "stage" => out.push_str(stage),
            Piece::Var(name) => match name.split_once('|') {
                Some((name, fallback)) => match matrix.get(name.trim()) {
                    Some(v) => out.push_str(&v.to_string()),
                    None => out.push_str(fallback),
                },
                None => missing_or(&mut out, &name, stage, matrix)?,
            },
        }
    }
    Ok(out)
}

/// Appends the matrix value `name`, or fails naming the placeholders there are.
fn missing_or(
    out: &mut String,
    name: &str,
    stage: &str,
    matrix: &BTreeMap<String, Value>,
) -> Result<()> {
    match matrix.get(name) {
        Some(v) => out.push_str(&v.to_string()),
        None => {
            let mut have: Vec<String> = matrix.keys().map(|k| format!("`{{{k}}}`")).collect();
            have.push("`{stage}`".into());
            return Err(Error::failed(format!(
                "label placeholder `{{{name}}}` is not a matrix value of stage `{stage}`"
            ))
            .with_hint(format!(
                "use one of {}, or `{{{name}|TEXT}}` for a default",
                have.join(", ")
            )));
        }
    }
    Ok(())
}

/// Default labels for several stages: the matrix values that differ between
/// them as `name=value`, joined by ", "; the stage name where that leaves
/// nothing. Values
/// come in the order the stage names show them (`train[resnet50,transfer]`:
/// model before mode), which is the matrix's order in the pipeline file.
pub fn defaults(stages: &[(&str, &BTreeMap<String, Value>)]) -> Vec<String> {
    let mut keys: Vec<(usize, &String)> = Vec::new();
    for (stage, matrix) in stages {
        let shown = bracketed(stage);
        for (key, value) in matrix.iter() {
            let value = value.to_string();
            let at = shown.iter().position(|v| *v == value).unwrap_or(usize::MAX);
            match keys.iter_mut().find(|(_, k)| *k == key) {
                Some(entry) => entry.0 = entry.0.min(at),
                None => keys.push((at, key)),
            }
        }
    }
    keys.sort();
    let varying: Vec<&String> = keys
        .into_iter()
        .map(|(_, k)| k)
        .filter(|k| {
            let first = stages.first().and_then(|(_, m)| m.get(*k));
            stages.iter().any(|(_, m)| m.get(*k) != first)
        })
        .collect();
    stages
        .iter()
        .map(|(stage, matrix)| {
            let parts: Vec<String> = varying
                .iter()
                .filter_map(|k| Some(format!("{k}={}", matrix.get(*k)?)))
                .collect();
            if parts.is_empty() || stages.len() == 1 {
                (*stage).to_string()
            } else {
                parts.join(", ")
            }
        })
        .collect()
}

/// The values listed in a stage name's brackets: `t[a,b]` -> `[a, b]`.
fn bracketed(stage: &str) -> Vec<&str> {
    match (stage.find('['), stage.rfind(']')) {
        (Some(open), Some(close)) if open < close => stage[open + 1..close].split(',').collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_checked_against_the_labelled_stages() {
        let (a, b) = (matrix(&[("mode", "transfer")]), matrix(&[]));
        let stages = [("train[transfer]", &a), ("train_adam", &b)];
        assert!(check_against("{mode|adam} {stage}", &stages).is_ok());
        let (message, hint) = check_against("{mode}", &stages).unwrap_err();
        assert_eq!(
            message,
            "label placeholder `{mode}` is not a matrix variable of input stage `train_adam`"
        );
        assert_eq!(
            hint,
            "write `{mode|TEXT}` to label the stages without `mode` TEXT"
        );
        // A default does not excuse a name no stage has.
        let (_, hint) = check_against("{mdoe|none}", &stages).unwrap_err();
        assert_eq!(hint, "did you mean `{mode}`?");
    }

    fn matrix(pairs: &[(&str, &str)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::Str(v.to_string())))
            .collect()
    }

    #[test]
    fn fills_placeholders() {
        let m = matrix(&[("model", "resnet50"), ("mode", "transfer")]);
        let check = |t: &str, want: &str| assert_eq!(fill(t, "train[x]", &m).unwrap(), want, "{t}");
        check("{mode}", "transfer");
        check("{model} ({mode})", "resnet50 (transfer)");
        check("{stage}", "train[x]");
        check("{{mode}} {mode}", "{mode} transfer");
        check("plain", "plain");
        check("{policy|none}/{mode|x}", "none/transfer");
    }

    #[test]
    fn rejects_bad_templates() {
        assert!(check("{mode").unwrap_err().contains("unclosed"));
        assert!(check("mode}").unwrap_err().contains("unmatched"));
        assert!(check("{}").unwrap_err().contains("empty"));
        let err = fill("{modle}", "s", &matrix(&[("mode", "x")])).unwrap_err();
        assert!(err.to_string().contains("`{modle}`"), "{err}");
        assert!(err.hint().unwrap().contains("`{mode}`"));
    }

    #[test]
    fn default_labels_show_what_varies() {
        let a = matrix(&[("model", "resnet50"), ("mode", "transfer")]);
        let b = matrix(&[("model", "resnet50"), ("mode", "scratch")]);
        let c = BTreeMap::new();
        assert_eq!(
            defaults(&[("t[a]", &a), ("t[b]", &b)]),
            ["mode=transfer", "mode=scratch"]
        );
        assert_eq!(defaults(&[("t[a]", &a)]), ["t[a]"]);
        assert_eq!(
            defaults(&[("t[resnet50,transfer]", &a), ("plain", &c)]),
            ["model=resnet50, mode=transfer", "plain"]
        );
    }
}
