//! A trained model's loss, accuracy, per-class accuracy and confusion
//! matrix on a test split: what the `evaluate` stage kind
//! (`kinds/evaluate.rs`) computes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use pipe_engine::{Error, Result};
use serde_json::json;
use tch::nn;

use crate::metrics::Tally;
use crate::models::{self, Model};
use crate::train::data::{Normalizer, Split};
use crate::train::init::load_weights;

/// What to evaluate.
pub struct Request {
    pub run_json: PathBuf,
    pub weights: PathBuf,
    pub test: PathBuf,
    pub batch_size: usize,
    pub device: tch::Device,
}

/// The model as `run.json` describes it.
struct RunInfo {
    model: String,
    classes: i64,
    image_size: Option<i64>,
}

fn read_run(path: &Path) -> Result<RunInfo> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read", e))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::bad_data(path, format!("not JSON: {e}")))?;
    let model = json["model"]
        .as_str()
        .ok_or_else(|| Error::bad_data(path, "has no `model`"))?
        .to_string();
    Ok(RunInfo {
        model,
        classes: json["num_classes"].as_i64().unwrap_or(10),
        image_size: json["image_size"].as_i64(),
    })
}

/// Evaluates the run's weights on the test split. `builder` overrides
/// [`models::build`] (tests).
pub fn evaluate_run(req: &Request, builder: Option<&crate::train::Builder>) -> Result<Tally> {
    let info = read_run(&req.run_json)?;
    let test = Split::load(&req.test, req.device)?;
    let image_size = info.image_size.unwrap_or(test.image_size().0);
    let vs = nn::VarStore::new(req.device);
    let model: Box<dyn Model> = match builder {
        Some(b) => b(&vs.root(), info.classes, image_size)?,
        None => models::build(&info.model, &vs.root(), info.classes, image_size)?,
    };
    // Every variable must come from the file, the head too.
    load_weights(&vs, &req.weights, "")?;
    let (mean, std) = models::normalization(&info.model);
    let norm = Normalizer::new(mean, std, req.device, false);
    crate::train::session::evaluate(
        model.as_ref(),
        &test,
        &norm,
        req.batch_size,
        false,
        info.classes,
    )
}

/// Writes `metrics.json`, `confusion.csv` and `per_class.csv`.
pub fn write_outputs(out: &Path, tally: &Tally) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, "create", e))?;
    let per_class = tally.per_class_accuracy();
    let metrics = json!({
        "loss": tally.loss(),
        "accuracy": tally.accuracy(),
        "error": 1.0 - tally.accuracy(),
        "count": tally.count,
        "per_class_accuracy": per_class,
        "confusion": tally.confusion,
    });
    let path = out.join("metrics.json");
    let text =
        serde_json::to_string_pretty(&metrics).map_err(|e| Error::internal(e.to_string()))?;
    std::fs::write(&path, text + "\n").map_err(|e| Error::io(&path, "write", e))?;

    let classes = tally.confusion.len();
    let mut confusion = String::from("true");
    for j in 0..classes {
        let _ = write!(confusion, ",pred_{j}");
    }
    confusion.push('\n');
    for (i, row) in tally.confusion.iter().enumerate() {
        let _ = write!(confusion, "{i}");
        for v in row {
            let _ = write!(confusion, ",{v}");
        }
        confusion.push('\n');
    }
    let path = out.join("confusion.csv");
    std::fs::write(&path, confusion).map_err(|e| Error::io(&path, "write", e))?;

    let mut table = String::from("class,count,correct,accuracy\n");
    for (i, row) in tally.confusion.iter().enumerate() {
        let count: u64 = row.iter().sum();
        let _ = writeln!(table, "{i},{count},{},{}", row[i], per_class[i]);
    }
    let path = out.join("per_class.csv");
    std::fs::write(&path, table).map_err(|e| Error::io(&path, "write", e))
}
