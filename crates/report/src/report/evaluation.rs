//! The results of `evaluate` stages, one per run: test accuracy of the
//! chosen checkpoint, per-class accuracy and the confusion matrix
//! (`metrics.json`), and the class names of the data (`classes.json`).

use std::path::Path;

use pipe_engine::{Artifact, Error, Result};

/// One evaluation.
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub stage: String,
    /// A fraction.
    pub accuracy: f64,
    /// Per class, a fraction.
    pub per_class: Vec<f64>,
    /// Rows: true class; columns: predicted class.
    pub confusion: Vec<Vec<u64>>,
}

impl Evaluation {
    /// Reads an `evaluate` stage's `metrics.json`.
    pub fn load(artifact: &Artifact) -> Result<Evaluation> {
        let path = artifact
            .file("metrics.json")
            .map_err(|e| e.with_hint("`evaluations` must name `evaluate` stages"))?;
        let json = read_json(path)?;
        let bad = |what: &str| {
            Error::bad_data(
                path,
                format!("`{what}` is missing or not what `evaluate` writes"),
            )
        };
        let accuracy = json["accuracy"].as_f64().ok_or_else(|| bad("accuracy"))?;
        let per_class = json["per_class_accuracy"]
            .as_array()
            .ok_or_else(|| bad("per_class_accuracy"))?
            .iter()
            .map(|v| v.as_f64().ok_or_else(|| bad("per_class_accuracy")))
            .collect::<Result<Vec<f64>>>()?;
        let confusion = json["confusion"]
            .as_array()
            .ok_or_else(|| bad("confusion"))?
            .iter()
            .map(|row| {
                row.as_array()
                    .ok_or_else(|| bad("confusion"))?
                    .iter()
                    .map(|v| v.as_u64().ok_or_else(|| bad("confusion")))
                    .collect()
            })
            .collect::<Result<Vec<Vec<u64>>>>()?;
        if confusion.len() != per_class.len()
            || confusion.iter().any(|r| r.len() != per_class.len())
        {
            return Err(bad("confusion"));
        }
        Ok(Evaluation {
            stage: artifact.stage.clone(),
            accuracy,
            per_class,
            confusion,
        })
    }
}

/// Pairs evaluations with runs: given in the same order, one per run, and
/// where both are matrix stages their matrix values must agree (so that a
/// reordered list is an error, not a silently wrong table).
pub fn pair(runs: &[Artifact], evaluations: &[Artifact]) -> Result<Vec<Option<Evaluation>>> {
    if evaluations.is_empty() {
        return Ok(vec![None; runs.len()]);
    }
    if evaluations.len() != runs.len() {
        return Err(Error::failed(format!(
            "{} `evaluations` for {} `runs`: give one per run, in the same order",
            evaluations.len(),
            runs.len()
        ))
        .with_hint("list the evaluate stages as the train stages are listed, e.g. `runs: [train, train_adam]`, `evaluations: [evaluate, evaluate_adam]`"));
    }
    runs.iter()
        .zip(evaluations)
        .map(|(run, eval)| {
            let both = !run.matrix.is_empty() && !eval.matrix.is_empty();
            if both && run.matrix != eval.matrix {
                return Err(Error::failed(format!(
                    "evaluation `{}` is paired with run `{}`, but their matrix values differ",
                    eval.stage, run.stage
                ))
                .with_hint("list `evaluations` in the order of `runs`"));
            }
            Evaluation::load(eval).map(Some)
        })
        .collect()
}

/// The class names in `classes.json` (a list of strings), or `0..n` as
/// text where no data stage was given.
pub fn class_names(classes: Option<&Artifact>, n: usize) -> Result<Vec<String>> {
    let Some(artifact) = classes else {
        return Ok((0..n).map(|i| i.to_string()).collect());
    };
    let path = artifact
        .file("classes.json")
        .map_err(|e| e.with_hint("`classes` must name a data stage (`stl10`, `resize`)"))?;
    let names: Vec<String> = serde_json::from_value(read_json(path)?)
        .map_err(|e| Error::bad_data(path, format!("not a list of class names: {e}")))?;
    if n > 0 && names.len() != n {
        return Err(Error::bad_data(
            path,
            format!(
                "{} class names, but the evaluations have {n} classes",
                names.len()
            ),
        ));
    }
    Ok(names)
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "read", e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::bad_data(path, format!("not valid JSON: {e}")))
}
