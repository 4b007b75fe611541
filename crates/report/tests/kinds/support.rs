//! Test helpers: synthetic training outputs and a stage runner.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use pipe_engine::kind::{NoHistory, WorkDirs};
use pipe_engine::{Artifact, ContentHash, Context, Kind, Params, Progress, Result, Value};

pub const HEADER: &str = "epoch,train_loss,train_acc,test_loss,test_acc,lr";

/// A fake training run's output directory.
pub struct FakeRun {
    pub stage: String,
    pub matrix: BTreeMap<String, Value>,
    pub dir: PathBuf,
}

/// Writes `metrics.csv` (the given body under the standard header) and a
/// `run.json` into a fresh directory under `root`.
pub fn fake_run(root: &Path, stage: &str, matrix: &[(&str, &str)], rows: &[String]) -> FakeRun {
    let dir = root.join(stage.replace(['[', ']', ','], "_"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv = format!("{HEADER}\n");
    for row in rows {
        csv.push_str(row);
        csv.push('\n');
    }
    std::fs::write(dir.join("metrics.csv"), csv).unwrap();
    let info = serde_json::json!({
        "model": matrix.iter().find(|(k, _)| *k == "model").map(|(_, v)| *v),
        "device": "Fake GPU 9000",
        "libtorch_version": "2.11.0",
        "cuda_version": "12.8",
    });
    std::fs::write(dir.join("run.json"), info.to_string()).unwrap();
    FakeRun {
        stage: stage.to_string(),
        matrix: matrix
            .iter()
            .map(|(k, v)| (k.to_string(), Value::Str(v.to_string())))
            .collect(),
        dir,
    }
}

/// Rows of a run whose test loss falls to `floor` at epoch `best` and then
/// rises again; accuracies mirror it.
pub fn curve(epochs: i64, start: f64, floor: f64, best: i64) -> Vec<String> {
    (1..=epochs)
        .map(|e| {
            let d = (e - best) as f64;
            let test_loss = if e <= best {
                floor + (start - floor) * (best - e) as f64 / (best - 1).max(1) as f64
            } else {
                floor + 0.02 * d
            };
            let train_loss = start * 0.9f64.powi(e as i32);
            let test_acc = (1.0 - test_loss / (start * 1.2)).clamp(0.0, 1.0);
            format!(
                "{e},{train_loss},{},{test_loss},{test_acc},0.001",
                1.0 - train_loss / 3.0
            )
        })
        .collect()
}

/// An artifact for a directory: every file in it, by name.
pub fn artifact(stage: &str, matrix: BTreeMap<String, Value>, dir: &Path) -> Artifact {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        files.insert(
            entry.file_name().to_string_lossy().into_owned(),
            entry.path(),
        );
    }
    Artifact {
        stage: stage.to_string(),
        matrix,
        hash: ContentHash::of(stage.as_bytes()),
        files,
    }
}

pub fn run_artifact(run: &FakeRun) -> Artifact {
    artifact(&run.stage, run.matrix.clone(), &run.dir)
}

/// A kind's params: its defaults, overridden by `set`.
pub fn params(kind: &Kind, set: &[(&str, Value)]) -> Params {
    let mut map = BTreeMap::new();
    for spec in kind.params() {
        if let Some(default) = spec.default {
            map.insert(spec.name.to_string(), default.to_value());
        }
    }
    for (k, v) in set {
        assert!(
            kind.params().iter().any(|p| p.name == *k),
            "kind has no param `{k}`"
        );
        map.insert(k.to_string(), v.clone());
    }
    Params(map)
}

pub fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

/// Runs a kind as the engine would, writing into `out` (created).
pub fn run_kind(
    kind: &Kind,
    stage: &str,
    params: &Params,
    inputs: BTreeMap<String, Vec<Artifact>>,
    out: &Path,
    pipeline_file: &Path,
) -> Result<()> {
    std::fs::create_dir_all(out).unwrap();
    let work = out.with_extension("work");
    std::fs::create_dir_all(&work).unwrap();
    let progress = Progress::hidden();
    let cancel = AtomicBool::new(false);
    let ctx = Context {
        stage,
        params,
        inputs: &inputs,
        out,
        work: &work,
        gpus: &[],
        progress: &progress,
        history: &NoHistory,
        input_dirs: &WorkDirs,
        cancel: &cancel,
        pipeline_file,
        pipeline_hash: ContentHash::of(b"pipeline"),
    };
    kind.run(&ctx)
}

/// PNG signature and IHDR dimensions, then a full decode.
pub fn png_dims(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    let decoder = png::Decoder::new(bytes);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (w, h));
    (w, h)
}

/// Every `<text>` element's content in an SVG document (which must parse).
pub fn svg_texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is not well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.tag_name().name() == "text")
        .map(|n| {
            n.descendants()
                .filter(|d| d.is_text())
                .filter_map(|d| d.text())
                .collect::<String>()
                .trim()
                .to_string()
        })
        .collect()
}
