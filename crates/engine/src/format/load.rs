//! Reading a pipeline file: bytes -> YAML tree -> [`crate::format::spec`] ->
//! [`crate::format::validate`] -> [`Pipeline`]. The entry points of the format.

use std::path::Path;

use crate::diagnostic::sink::{SetHint, Sink};
use crate::diagnostic::{Diagnostic, Severity};
use crate::error::{Error, Result};
use crate::format::pipeline::Pipeline;
use crate::format::validate::{self, Input};
use crate::format::{spec, yaml};
use crate::hash::ContentHash;
use crate::kind::Registry;

/// Loads and validates a pipeline file. `overrides` are `KEY=VALUE` strings
/// from `--set`; each VALUE is read as YAML. Every problem found is in the
/// returned [`Error::Invalid`]; failing to read the file is [`Error::Io`].
pub fn load(file: &Path, registry: &Registry, overrides: &[String]) -> Result<Pipeline> {
    let bytes = read(file)?;
    let (pipeline, diagnostics) = load_bytes(file, &bytes, registry, overrides)?;
    match pipeline {
        Some(p) if !diagnostics.iter().any(|d| d.severity == Severity::Error) => Ok(p),
        None if diagnostics.is_empty() => Err(Error::internal(format!(
            "validation of `{}` failed without saying why",
            file.display()
        ))),
        _ => Err(Error::Invalid(diagnostics)),
    }
}

/// [`load`] for `pipe check`: the pipeline, or every problem as diagnostics
/// (a file that cannot be read gives one diagnostic without a location).
pub fn check(
    file: &Path,
    registry: &Registry,
    overrides: &[String],
) -> std::result::Result<Pipeline, Vec<Diagnostic>> {
    load(file, registry, overrides).map_err(|e| match e {
        Error::Invalid(d) => d,
        e => {
            let mut d = Diagnostic::error(e.to_string());
            d.hint = e.hint().map(str::to_string);
            vec![d]
        }
    })
}

/// The file's bytes; a file that does not exist is bad input, with the
/// pipeline file its name was likely meant to be (`quik.yaml` ->
/// `pipelines/quick.yaml`).
fn read(file: &Path) -> Result<Vec<u8>> {
    match std::fs::read(file) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let err = Error::bad_data(file, "no such pipeline file");
            Err(match similar_file(file) {
                Some(s) => err.with_hint(format!("did you mean `{}`?", s.display())),
                None => err,
            })
        }
        Err(e) => Err(Error::io(file, "read", e)),
    }
}

/// A YAML file beside `file` or in a `pipelines/` directory there whose
/// name is a likely typo of `file`'s.
fn similar_file(file: &Path) -> Option<std::path::PathBuf> {
    let dir = file.parent().unwrap_or(Path::new(""));
    let name = file.file_name()?.to_str()?;
    let mut candidates = Vec::new();
    for sub in [dir.to_path_buf(), dir.join("pipelines")] {
        let listing = if sub.as_os_str().is_empty() {
            std::fs::read_dir(".")
        } else {
            std::fs::read_dir(&sub)
        };
        for entry in listing.into_iter().flatten().flatten() {
            let n = entry.file_name().to_string_lossy().into_owned();
            if n.ends_with(".yaml") || n.ends_with(".yml") {
                candidates.push((n, sub.join(entry.file_name())));
            }
        }
    }
    let best =
        crate::diagnostic::suggest(name, candidates.iter().map(|(n, _)| n.as_str()))?.to_string();
    candidates
        .into_iter()
        .find(|(n, _)| *n == best)
        .map(|(_, p)| p)
}

/// Validates a file's bytes. `Ok((None, diagnostics))` when invalid.
pub fn load_bytes(
    file: &Path,
    bytes: &[u8],
    registry: &Registry,
    overrides: &[String],
) -> Result<(Option<Pipeline>, Vec<Diagnostic>)> {
    let mut sink = Sink::new(file);
    let source_hash = ContentHash::of(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            report_not_utf8(&mut sink, bytes, &e);
            return Ok((None, sink.diagnostics));
        }
    };
    let root = match yaml::parse(text) {
        Ok((root, errors)) => {
            for e in errors {
                report_syntax(&mut sink, e);
            }
            root
        }
        Err(e) => {
            report_syntax(&mut sink, e);
            return Ok((None, sink.diagnostics));
        }
    };
    let spec = spec::read(root.as_ref(), &mut sink);
    // The spec holds what it needs; the tree is freed before validation
    // builds the stages (a third less peak memory on large files).
    drop(root);
    let dir = absolute_dir(file)?;
    let input = Input {
        file,
        dir: &dir,
        source_hash,
        registry,
        overrides,
    };
    let pipeline = validate::validate(&spec, &input, &mut sink);
    if let Some(p) = &pipeline {
        for stage in &p.stages {
            sink.diagnostics.extend(stage.kind.check_stage(p, stage));
        }
    }
    let mut diagnostics = finish(sink.diagnostics);
    name_overrides(&mut diagnostics, text, overrides);
    Ok((pipeline, diagnostics))
}

/// An error at a line that reads an overridden parameter (`${params.K}`)
/// names the `--set K=V` that caused it: the line alone shows the file's
/// value, not the one that failed.
fn name_overrides(diagnostics: &mut [Diagnostic], text: &str, overrides: &[String]) {
    let lines: Vec<&str> = text.lines().collect();
    for d in diagnostics.iter_mut() {
        let Some(line) = d
            .span
            .as_ref()
            .and_then(|s| lines.get(s.line.wrapping_sub(1)))
        else {
            continue;
        };
        let used: Vec<String> = overrides
            .iter()
            .filter(|o| {
                o.split_once('=').is_some_and(|(key, _)| {
                    let key = key.trim();
                    line.contains(&format!("${{params.{key}}}"))
                })
            })
            .map(|o| format!("`--set {o}`"))
            .collect();
        if !used.is_empty() {
            d.message = format!("{} (from {})", d.message, used.join(", "));
        }
    }
}

/// Locates the first byte that is not UTF-8: line, and column in
/// characters of the valid text before it.
fn report_not_utf8(sink: &mut Sink, bytes: &[u8], e: &std::str::Utf8Error) {
    let valid = &bytes[..e.valid_up_to()];
    let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&valid[line_start..])
        .chars()
        .count()
        + 1;
    let pos = yaml::Pos {
        line: valid.iter().filter(|b| **b == b'\n').count() + 1,
        column,
        len: 1,
    };
    let byte = bytes[e.valid_up_to()];
    sink.error(
        pos,
        format!("the file is not UTF-8 text: byte 0x{byte:02x}"),
    )
    .set_hint("save the file as UTF-8 (pipeline files are UTF-8 YAML)");
}

fn report_syntax(sink: &mut Sink, e: yaml::SyntaxError) {
    let d = sink.error(e.pos, e.message);
    d.hint = e.hint;
}

/// The same problem found once per matrix entry is reported once; the rest
/// are sorted by place so the output reads top to bottom.
fn finish(mut diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = std::collections::HashSet::with_capacity(diagnostics.len());
    diagnostics.retain(|d| seen.insert(format!("{d:?}")));
    diagnostics.sort_by_key(|d| d.span.as_ref().map(|s| (s.line, s.column)));
    diagnostics
}

fn absolute_dir(file: &Path) -> Result<std::path::PathBuf> {
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::path::absolute(&parent)
        .map(|p| normalize(&p))
        .map_err(|e| Error::io(parent, "resolve", e))
}

/// Removes `.` components (no symlink resolution: the path is as the user sees it).
fn normalize(p: &Path) -> std::path::PathBuf {
    p.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::pipeline::StageId;
    use crate::kind::param::{Lit, ParamSpec, ParamType, Params};
    use crate::kind::value::Value;
    use crate::kind::{Declaration, InputSpec, Kind};

    static INT: ParamType = ParamType::Int;
    const PARAMS: &[ParamSpec] = &[
        ParamSpec::required("model", ParamType::Enum(&["a", "b", "c"]), ""),
        ParamSpec::optional("epochs", ParamType::Int, Lit::Int(1), ""),
        ParamSpec::optional("lr", ParamType::Float, Lit::Float(0.1), ""),
        ParamSpec::optional("title", ParamType::Str, Lit::Str(""), ""),
        ParamSpec::optional("sizes", ParamType::List(&INT), Lit::EmptyList, ""),
        ParamSpec::optional("file", ParamType::Path, Lit::Null, ""),
        ParamSpec::optional("flag", ParamType::Bool, Lit::Bool(false), ""),
    ];
    const INPUTS: &[InputSpec] = &[
        InputSpec::optional("one", ""),
        InputSpec {
            required: false,
            ..InputSpec::many("runs", "")
        },
    ];

    fn check(params: &Params) -> Vec<(String, String)> {
        match params.i64("epochs") {
            Ok(e) if e > 1000 => vec![(
                "epochs".into(),
                format!("`epochs` must be at most 1000, found {e}"),
            )],
            _ => Vec::new(),
        }
    }

    /// A kind with one parameter of every type, for the typing rules.
    const FAKE: Kind = Kind::in_process(
        Declaration {
            name: "fake",
            summary: "a test kind",
            params: PARAMS,
            inputs: INPUTS,
            check,
            ..Declaration::BASE
        },
        |_| Ok(()),
    );

    fn registry() -> Registry {
        let mut r = Registry::new();
        r.add(FAKE);
        r
    }

    fn load_str(src: &str, overrides: &[&str]) -> (tempfile::TempDir, Result<Pipeline>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("data.csv"), "x").unwrap();
        let file = dir.path().join("p.yaml");
        std::fs::write(&file, src).unwrap();
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        let result = load(&file, &registry(), &overrides);
        (dir, result)
    }

    fn ok(src: &str) -> Pipeline {
        match load_str(src, &[]).1 {
            Ok(p) => p,
            Err(Error::Invalid(d)) => panic!("{}", crate::render::text(&d, false)),
            Err(e) => panic!("{e}"),
        }
    }

    fn messages(src: &str, overrides: &[&str]) -> Vec<String> {
        match load_str(src, overrides).1 {
            Err(Error::Invalid(d)) => d.into_iter().map(|d| d.message).collect(),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("expected problems"),
        }
    }

    const PAPER: &str = "version: 1
params:
  epochs: 50
  lr: 0.001
stages:
  train:
    kind: fake
    matrix:
      model: [a, b]
      mode: [x, y]
      opt: sgd
      include:
        - {model: c, mode: x, opt: adam}
      exclude:
        - {model: b, mode: y}
    params:
      model: ${matrix.model}
      epochs: ${params.epochs}
      lr: ${params.lr}
      title: \"${matrix.model} ${matrix.mode} ${matrix.opt}\"
  plot:
    kind: fake
    params: {model: a, file: data.csv}
    inputs:
      runs: [\"train[a,*]\", \"train[c,x,adam]\"]
      one: train[b,x]
";

    #[test]
    fn a_matrix_expands_into_named_typed_stages() {
        let p = ok(PAPER);
        let names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "train[a,x]",
                "train[a,y]",
                "train[b,x]",
                "train[c,x,adam]",
                "plot"
            ]
        );
        let t = p.find("train[c,x,adam]").unwrap();
        assert_eq!(t.template, "train");
        assert_eq!(t.params.0["epochs"], Value::Int(50));
        assert_eq!(t.params.0["lr"], Value::Float(0.001));
        assert_eq!(t.params.0["title"], Value::Str("c x adam".into()));
        assert_eq!(t.params.0["flag"], Value::Bool(false));
        assert_eq!(t.matrix["opt"], Value::Str("adam".into()));
        assert_eq!(
            p.find("train[a,x]").unwrap().matrix["opt"],
            Value::Str("sgd".into())
        );
        assert!(t.param_spans.contains_key("title") && !t.param_spans.contains_key("flag"));
        assert_eq!(t.param_spans["title"].line, 20);
        assert_eq!(t.span.line, 6);
    }

    #[test]
    fn inputs_resolve_to_earlier_stages() {
        let p = ok(PAPER);
        let plot = p.find("plot").unwrap();
        let runs: Vec<&str> = plot.inputs["runs"]
            .iter()
            .map(|id| p.stage(*id).name.as_str())
            .collect();
        assert_eq!(runs, ["train[a,x]", "train[a,y]", "train[c,x,adam]"]);
        assert_eq!(p.stage(plot.inputs["one"][0]).name, "train[b,x]");
        for stage in &p.stages {
            assert_eq!(p.stage(stage.id).name, stage.name);
            assert!(stage.inputs.values().flatten().all(|up| up.0 < stage.id.0));
        }
        assert!(p.dir.is_absolute());
        assert_eq!(p.source_hash, ContentHash::of(PAPER.as_bytes()));
        assert_eq!(plot.params.0["file"], Value::Str("data.csv".into()));
    }

    #[test]
    fn stages_are_ordered_topologically() {
        let p = ok("version: 1
stages:
  late:
    kind: fake
    params: {model: a}
    inputs: {one: early}
  early:
    kind: fake
    params: {model: b}
");
        let names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["early", "late"]);
        assert_eq!(p.by_name["late"], StageId(1));
    }

    #[test]
    fn reformatting_does_not_change_params() {
        let reformatted = "# the same pipeline, written differently
version: 1
stages:
  plot: {kind: fake, inputs: {one: 'train[b,x]', runs: ['train[a,*]', 'train[c,x,adam]']}, params: {file: 'data.csv', model: 'a'}}
  train:
    params: {title: '${matrix.model} ${matrix.mode} ${matrix.opt}', lr: '${params.lr}', epochs: \"${params.epochs}\", model: '${matrix.model}'}
    matrix:
      model: ['a', \"b\"]
      mode: [x, y]
      opt: 'sgd'
      exclude: [{mode: y, model: b}]
      include: [{opt: adam, mode: x, model: c}]
    kind: fake
params: {lr: 1e-3, epochs: 50}
";
        let (a, b) = (ok(PAPER), ok(reformatted));
        for s in &a.stages {
            let t = b.find(&s.name).unwrap();
            assert_eq!(s.params, t.params, "{}", s.name);
            assert_eq!(s.matrix, t.matrix);
        }
        assert_eq!(a.stages.len(), b.stages.len());
    }

    #[test]
    fn overrides_replace_top_level_params() {
        let (_dir, p) = load_str(PAPER, &["epochs=5", "lr=1"]);
        let p = p.unwrap();
        assert_eq!(p.stages[0].params.0["epochs"], Value::Int(5));
        assert_eq!(p.stages[0].params.0["lr"], Value::Float(1.0));
        assert_eq!(
            messages(PAPER, &["epochs=1e3"]),
            ["`--set epochs=1e3`: expected an integer, found a number"]
        );
    }

    #[test]
    fn kind_checks_are_located_at_the_param() {
        let (_dir, r) = load_str(PAPER, &["epochs=5000"]);
        let Err(Error::Invalid(d)) = r else {
            panic!("expected problems")
        };
        assert_eq!(d.len(), 1);
        // The line shows the file's value; the message names the override.
        assert_eq!(
            d[0].message,
            "`epochs` must be at most 1000, found 5000 (from `--set epochs=5000`)"
        );
        assert_eq!(d[0].span.as_ref().unwrap().line, 18);
    }

    #[test]
    fn whole_value_interpolation_keeps_types() {
        let src = "version: 1
params: {sizes: [1, 2], on: true, name: a}
stages:
  s:
    kind: fake
    params: {model: '${params.name}', sizes: '${params.sizes}', flag: '${params.on}', title: 'n=${params.sizes}'}
";
        let p = ok(src);
        let s = &p.stages[0];
        assert_eq!(
            s.params.0["sizes"],
            Value::List(vec![Value::Int(1), Value::Int(2)])
        );
        assert_eq!(s.params.0["flag"], Value::Bool(true));
        assert_eq!(s.params.0["title"], Value::Str("n=[1, 2]".into()));
    }

    #[test]
    fn typing_problems_are_all_reported() {
        let src = "version: 1
stages:
  s:
    kind: fake
    params: {model: d, epochs: '3', lr: x, sizes: [1, b], file: nope.csv, flag: 1}
";
        assert_eq!(
            messages(src, &[]),
            [
                "expected one of `a`, `b`, `c`, found `d`",
                "expected an integer, found the string `3`",
                "expected a number, found the string `x`",
                "expected an integer, found the string `b`",
                "file `nope.csv` does not exist",
                "expected a boolean (`true` or `false`), found an integer",
            ]
        );
    }

    #[test]
    fn a_template_name_in_a_single_slot_must_be_one_stage() {
        let src = "version: 1
stages:
  t:
    kind: fake
    matrix: {model: [a]}
    params: {model: '${matrix.model}'}
  u:
    kind: fake
    params: {model: a}
    inputs: {one: t}
";
        assert_eq!(ok(src).find("u").unwrap().inputs["one"], vec![StageId(0)]);
    }

    #[test]
    fn a_list_valued_param_can_name_inputs_and_make_an_axis() {
        let src = "version: 1
params: {models: [a, b], runs: ['t[a]', 't[b]']}
stages:
  t:
    kind: fake
    matrix: {model: '${params.models}'}
    params: {model: '${matrix.model}'}
  u:
    kind: fake
    params: {model: a}
    inputs: {runs: '${params.runs}'}
";
        let p = ok(src);
        let u = p.find("u").unwrap();
        assert_eq!(u.inputs["runs"], vec![StageId(0), StageId(1)]);
        assert_eq!(p.stages[1].name, "t[b]");
    }

    #[test]
    fn problems_in_every_matrix_entry_are_reported_once() {
        let src = "version: 1
stages:
  t:
    kind: fake
    matrix: {model: [a, b, c]}
    params: {model: '${matrix.model}', epochs: '${params.nope}'}
";
        assert_eq!(
            messages(src, &[]),
            ["unknown parameter `nope` in `${params.nope}`"]
        );
    }

    /// The paper's shape at 1,000 runs (2,013 stages). Timing depends on the
    /// machine, so it runs only when asked:
    /// `cargo test -p pipe-engine --release -- --ignored loads_2013_stages`.
    #[test]
    #[ignore]
    fn loads_2013_stages_quickly() {
        let n = 1000;
        let seeds: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        let seeds = seeds.join(", ");
        let src = format!(
            "version: 1
stages:
  download: {{kind: cmd, params: {{run: 'true'}}}}
  decode: {{kind: cmd, params: {{run: 'true'}}, inputs: {{a: download}}}}
  resize: {{kind: cmd, params: {{run: 'true'}}, inputs: {{a: decode}}}}
  augment: {{kind: cmd, matrix: {{p: [a, b, c, d]}}, params: {{run: 'echo ${{matrix.p}}'}}}}
  train:
    kind: cmd
    matrix: {{seed: [{seeds}]}}
    params: {{run: 'echo ${{matrix.seed}}'}}
    inputs: {{data: resize, aug: 'augment[a]'}}
  evaluate:
    kind: cmd
    matrix: {{seed: [{seeds}]}}
    params: {{run: 'echo ${{matrix.seed}}'}}
    inputs: {{model: 'train[${{matrix.seed}}]', data: resize}}
  plot: {{kind: cmd, matrix: {{i: [1, 2, 3, 4, 5]}}, params: {{run: 'true'}}, inputs: {{runs: 'train[*]'}}}}
  report: {{kind: cmd, params: {{run: 'true'}}, inputs: {{figs: plot, evals: 'evaluate[*]'}}}}
"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.yaml");
        std::fs::write(&file, src).unwrap();
        let mut registry = Registry::new();
        crate::kinds::register(&mut registry);
        let start = std::time::Instant::now();
        let p = load(&file, &registry, &[]).unwrap();
        let took = start.elapsed();
        eprintln!("loaded {} stages in {took:?}", p.stages.len());
        assert_eq!(p.stages.len(), 2013);
        assert!(
            took < std::time::Duration::from_millis(100),
            "took {took:?}"
        );
    }
}
