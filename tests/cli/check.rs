//! `pipe check`, driving the real binary: the corpus of malformed pipeline
//! files in tests/malformed (each states its expected diagnostics in its
//! header), the output formats, and valid files.
//!
//! A corpus file's header:
//!   # what the file gets wrong
//!   # args: --set epochs=abc          (optional: extra arguments)
//!   # expect: 12:11 unknown stage kind `trian`     (`-` for no location)
//!   # hint: did you mean `train`?      (the hint of the `expect` above)
//! The diagnostics reported must be exactly the expected ones, and every
//! one has a hint.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::project::Project;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/malformed")
}

fn pipe_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pipe"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("pipe runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// (location `L:C` or `-`, message, hint) of one diagnostic.
type Expected = (String, String, Option<String>);

struct Case {
    name: String,
    args: Vec<String>,
    expected: Vec<Expected>,
}

fn read_case(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let dir = corpus_dir().display().to_string();
    let mut args = Vec::new();
    let mut expected: Vec<Expected> = Vec::new();
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(rest) = line.strip_prefix("# args: ") {
            args = rest.split_whitespace().map(str::to_string).collect();
        } else if let Some(rest) = line.strip_prefix("# expect: ") {
            let (loc, message) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("{name}: bad expect line"));
            expected.push((loc.to_string(), message.to_string(), None));
        } else if let Some(hint) = line.strip_prefix("# hint: ") {
            let last = expected
                .last_mut()
                .unwrap_or_else(|| panic!("{name}: hint before expect"));
            last.2 = Some(hint.replace("%DIR%", &dir));
        }
    }
    assert!(!expected.is_empty(), "{name}: no `# expect:` lines");
    // docs/pipeline-format.md promises a hint for every problem.
    for (loc, message, hint) in &expected {
        assert!(
            hint.is_some(),
            "{name}: `{loc} {message}` has no `# hint:` line"
        );
    }
    Case {
        name,
        args,
        expected,
    }
}

fn actual(json: &serde_json::Value, name: &str) -> Vec<Expected> {
    let list = json
        .as_array()
        .unwrap_or_else(|| panic!("{name}: json output is not an array"));
    list.iter()
        .map(|d| {
            let loc = match (d["line"].as_u64(), d["column"].as_u64()) {
                (Some(l), Some(c)) => {
                    assert_eq!(d["file"], name, "{name}: diagnostic names another file");
                    format!("{l}:{c}")
                }
                _ => "-".to_string(),
            };
            assert_eq!(d["severity"], "error");
            (
                loc,
                d["message"].as_str().unwrap().to_string(),
                d["hint"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn corpus() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files.iter().map(|p| read_case(p)).collect()
}

#[test]
fn every_malformed_file_reports_exactly_its_expected_diagnostics() {
    let cases = corpus();
    assert!(
        cases.len() >= 30,
        "the corpus has only {} files",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let mut args = vec!["check", "--format", "json", case.name.as_str()];
        args.extend(case.args.iter().map(String::as_str));
        let (code, stdout, stderr) = pipe_in(&corpus_dir(), &args);
        let json: serde_json::Value = match serde_json::from_str(&stdout) {
            Ok(j) => j,
            Err(e) => {
                failures.push(format!(
                    "{}: output is not JSON ({e}): {stdout}{stderr}",
                    case.name
                ));
                continue;
            }
        };
        let mut got = actual(&json, &case.name);
        let mut want = case.expected.clone();
        got.sort();
        want.sort();
        if code != 2 || got != want {
            failures.push(format!(
                "{}: exit {code}\n  expected: {want:#?}\n  got: {got:#?}",
                case.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn text_output_points_at_every_expected_location() {
    for case in corpus() {
        let mut args = vec!["check", case.name.as_str()];
        args.extend(case.args.iter().map(String::as_str));
        let (code, _, stderr) = pipe_in(&corpus_dir(), &args);
        assert_eq!(code, 2, "{}: {stderr}", case.name);
        for (loc, message, hint) in &case.expected {
            assert!(
                stderr.contains(&format!("error: {message}\n")),
                "{}: no `{message}` in\n{stderr}",
                case.name
            );
            if loc != "-" {
                assert!(
                    stderr.contains(&format!("--> {}:{loc}\n", case.name)),
                    "{}: no {loc} in\n{stderr}",
                    case.name
                );
            }
            if let Some(hint) = hint {
                assert!(
                    stderr.contains(&format!("= hint: {hint}\n")),
                    "{}: no hint `{hint}` in\n{stderr}",
                    case.name
                );
            }
        }
    }
}

#[test]
fn text_output_shows_the_source_line_and_a_caret() {
    let (_, _, stderr) = pipe_in(&corpus_dir(), &["check", "typo_kind.yaml"]);
    let expected = "error: unknown stage kind `resise`
 --> typo_kind.yaml:7:11
  |
7 |     kind: resise
  |           ^^^^^^
  = hint: did you mean `resize`?
";
    assert!(stderr.starts_with(expected), "got:\n{stderr}");
}

#[test]
fn colour_is_used_only_when_asked() {
    let (_, _, plain) = pipe_in(&corpus_dir(), &["check", "typo_kind.yaml"]);
    assert!(!plain.contains('\x1b'));
    let (_, _, coloured) = pipe_in(
        &corpus_dir(),
        &["--color", "always", "check", "typo_kind.yaml"],
    );
    assert!(coloured.contains("\x1b[1;31merror\x1b[0m"), "{coloured}");
}

#[test]
fn github_format_is_one_annotation_per_diagnostic() {
    let (code, stdout, _) = pipe_in(
        &corpus_dir(),
        &[
            "check",
            "--format",
            "github",
            "all_at_once.yaml",
            "typo_kind.yaml",
        ],
    );
    assert_eq!(code, 2);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(
        lines.iter().all(|l| l.starts_with("::error file=")),
        "{stdout}"
    );
    assert!(lines.contains(&"::error file=typo_kind.yaml,line=7,col=11::unknown stage kind `resise`%0Ahint: did you mean `resize`?"), "{stdout}");
}

#[test]
fn json_format_has_every_field() {
    let (code, stdout, _) = pipe_in(
        &corpus_dir(),
        &["check", "--format", "json", "typo_kind.yaml"],
    );
    assert_eq!(code, 2);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{
            "severity": "error",
            "message": "unknown stage kind `resise`",
            "file": "typo_kind.yaml",
            "line": 7,
            "column": 11,
            "len": 6,
            "hint": "did you mean `resize`?"
        }])
    );
}

#[test]
fn all_problems_of_a_file_are_reported_at_once() {
    let (code, stdout, _) = pipe_in(
        &corpus_dir(),
        &["check", "--format", "json", "all_at_once.yaml"],
    );
    assert_eq!(code, 2);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 4);
}

#[test]
fn several_files_are_checked_in_one_run() {
    let p = Project::new();
    p.write("good.yaml", VALID);
    std::fs::copy(corpus_dir().join("cycle_3.yaml"), p.join("cycle.yaml")).unwrap();
    std::fs::copy(corpus_dir().join("bad_enum.yaml"), p.join("enum.yaml")).unwrap();
    let out = p.pipe(&[
        "check",
        "--format",
        "json",
        "good.yaml",
        "cycle.yaml",
        "enum.yaml",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let json = out.json();
    let files: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["cycle.yaml", "enum.yaml"]);
    let out = p.pipe(&["check", "good.yaml", "good.yaml"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "ok: good.yaml (12 stages)\nok: good.yaml (12 stages)\n"
    );
}

/// The paper's shape with `cmd` stages: matrix with defaults, include and
/// exclude, globs, template references, interpolation of every kind.
const VALID: &str = r#"version: 1
params:
  epochs: 50
  lr: 1e-3
stages:
  data:
    kind: cmd
    doc: "stand-in for the download"
    params:
      run: echo data > $PIPE_OUT/data.txt
      outs: [data.txt]
  train:
    kind: cmd
    gpus: 1
    matrix:
      model: [resnet50, densenet201, vit_b_16]
      mode: [transfer, finetune, scratch]
      optimizer: sgd
      include:
        - {model: vit_b_16, mode: transfer, optimizer: adam}
      exclude:
        - {model: resnet50, mode: scratch}
    inputs:
      data: data
    params:
      run: echo ${matrix.model} ${matrix.mode} ${matrix.optimizer} ${params.epochs} ${params.lr} $${HOME} > $PIPE_OUT/m.txt
  plot:
    kind: cmd
    inputs:
      runs: ["train[resnet50,*]", "train[vit_b_16,transfer,adam]"]
      all: train
    params:
      run: "true"
  report:
    kind: cmd
    inputs: {figures: plot, data: data}
    params: {run: "true"}
"#;

#[test]
fn a_valid_pipeline_passes() {
    let p = Project::new();
    p.write("p.yaml", VALID);
    let out = p.pipe(&["check", "p.yaml"]);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    let out = p.pipe(&["check", "--format", "json", "p.yaml"]);
    assert_eq!((out.code, out.stdout.trim()), (0, "[]"));
    let out = p.pipe(&["check", "--format", "github", "p.yaml", "--set", "epochs=5"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, ""));
}

#[test]
fn dag_lists_expanded_stages_in_order() {
    let p = Project::new();
    p.write("p.yaml", VALID);
    let out = p.pipe(&["dag", "p.yaml"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let names: Vec<&str> = out.stdout.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(names.len(), 12);
    assert_eq!(names[0], "data (cmd)");
    assert_eq!(names[1], "train[resnet50,transfer] (cmd, 1 gpu)");
    assert_eq!(names[9], "train[vit_b_16,transfer,adam] (cmd, 1 gpu)");
    assert_eq!(names[11], "report (cmd)");
    assert!(out
        .stdout
        .contains("plot (cmd)\n    all <- train[resnet50,transfer], train[resnet50,finetune],"));
    assert!(out.stdout.contains("    runs <- train[resnet50,finetune], train[resnet50,transfer], train[vit_b_16,transfer,adam]\n"));
    let dot = p.pipe(&["dag", "--format", "dot", "p.yaml"]);
    assert!(dot.stdout.starts_with("digraph pipeline {\n"));
    assert!(
        dot.stdout
            .contains("    \"data\" -> \"train[resnet50,transfer]\" [label=\"data\"];\n"),
        "{}",
        dot.stdout
    );
    let mermaid = p.pipe(&["dag", "--format", "mermaid", "p.yaml"]);
    assert!(
        mermaid
            .stdout
            .starts_with("flowchart LR\n    s0[\"data<br/><i>cmd</i>\"]\n"),
        "{}",
        mermaid.stdout
    );
    assert!(mermaid.stdout.contains("    s0 -->|data| s1\n"));
}

#[test]
fn dag_of_an_invalid_file_fails_with_diagnostics() {
    let (code, stdout, stderr) = pipe_in(&corpus_dir(), &["dag", "cycle_2.yaml"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(
        stderr.contains("error: stages form a cycle: a -> b -> a\n"),
        "{stderr}"
    );
}

#[test]
fn a_missing_file_is_bad_input() {
    let p = Project::new();
    let out = p.pipe(&["check", "--format", "json", "nope.yaml"]);
    assert_eq!(out.code, 2);
    let json = out.json();
    assert!(
        json[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("`nope.yaml`: no such pipeline file"),
        "{json}"
    );
    // A file that is not there is bad input, like a mistyped stage name.
    let out = p.pipe(&["dag", "nope.yaml"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn schema_describes_every_kind() {
    let p = Project::new();
    let out = p.pipe(&["schema"]);
    assert_eq!(out.code, 0);
    let schema = out.json();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let kinds = p.pipe(&["kinds", "--format", "json"]);
    let kinds = kinds.json();
    for kind in kinds.as_array().unwrap() {
        let name = kind["name"].as_str().unwrap();
        let params = &schema["$defs"][format!("params-{name}")];
        for param in kind["params"].as_array().unwrap() {
            let pname = param["name"].as_str().unwrap();
            assert_eq!(
                params["properties"][pname]["description"], param["doc"],
                "{name}.{pname}"
            );
        }
    }
    assert_eq!(
        schema["$defs"]["params-cmd"]["required"],
        serde_json::json!(["run"])
    );
}

#[test]
fn kinds_markdown_is_a_reference_page() {
    let p = Project::new();
    let out = p.pipe(&["kinds", "--format", "markdown"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.starts_with("# Stage kinds\n"));
    assert!(out.stdout.contains("\n## cmd\n"));
    assert!(
        out.stdout.contains("| `run` | a string | *required* |"),
        "{}",
        out.stdout
    );
    let text = p.pipe(&["kinds"]);
    assert!(text.stdout.contains("cmd (v1): "), "{}", text.stdout);
}

/// docs/pipeline-format.md promises a hint for every problem: the paper's
/// pipeline, broken in the ways people break it, says how to fix each.
#[test]
fn a_mutated_paper_pipeline_has_a_hint_for_every_problem() {
    let paper =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/paper.yaml"))
            .unwrap();
    // (what is broken, from, to, the message expected among the problems)
    let mutations = [
        (
            "a typo in a kind",
            "kind: resize",
            "kind: resise",
            "unknown stage kind `resise`",
        ),
        (
            "a typo in a stage key",
            "    inputs: {data: stl10}",
            "    input: {data: stl10}",
            "unknown key `input` in stage `data`",
        ),
        (
            "a typo in a top-level key",
            "stages:",
            "stagse:",
            "unknown top-level key `stagse`",
        ),
        (
            "a string for an integer",
            "  epochs: 50",
            "  epochs: fifty",
            "expected an integer, found the string `fifty`",
        ),
        (
            "a list for a number",
            "  lr: 0.001",
            "  lr: [0.001]",
            "expected a number, found a list",
        ),
        (
            "NaN for a number",
            "  momentum: 0.9",
            "  momentum: .nan",
            "expected a finite number, found `.nan`",
        ),
        (
            "a missing required param",
            "      url: http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz\n",
            "",
            "missing required parameter `url` for kind `download`",
        ),
        ("a missing version", "version: 1\n", "", "missing `version`"),
        (
            "a mapping for a list",
            "runs: [train, train_adam, train_aug]",
            "runs: {a: train}",
            "input `runs` must name stages, found a mapping",
        ),
        (
            "an unknown input",
            "inputs: {model: train_adam, data: data}",
            "inputs: {modle: train_adam, data: data}",
            "unknown input `modle` for kind `evaluate`",
        ),
        (
            "a bad enum value",
            "variant: DEFAULT",
            "variant: 7",
            "expected a string, found an integer",
        ),
        (
            "a stages list",
            "  archive:\n    kind: download",
            "  - archive:\n    kind: download",
            "invalid YAML",
        ),
    ];
    let p = Project::new();
    for (what, from, to, expected) in mutations {
        assert!(
            paper.contains(from),
            "{what}: `{from}` is not in paper.yaml"
        );
        p.write("paper.yaml", &paper.replacen(from, to, 1));
        let out = p.pipe(&["check", "--format", "json", "paper.yaml"]);
        assert_eq!(out.code, 2, "{what}: {}", out.stderr);
        let json = out.json();
        let problems = json.as_array().unwrap();
        assert!(
            problems
                .iter()
                .any(|d| d["message"].as_str().unwrap().starts_with(expected)),
            "{what}: no `{expected}` in {json:#}"
        );
        for d in problems {
            assert!(d["hint"].is_string(), "{what}: no hint in {d:#}");
        }
    }
}

/// A wrong value written once under `params:` and used three times is
/// reported once, where it was written (not at each `${params.NAME}`).
#[test]
fn a_wrong_top_level_param_is_reported_where_it_is_written() {
    let p = Project::new();
    p.write(
        "p.yaml",
        "version: 1
params: {size: big}
stages:
  a: {kind: synthetic, params: {image_size: '${params.size}'}}
  b: {kind: synthetic, params: {image_size: '${params.size}'}}
  c: {kind: synthetic, params: {image_size: '${params.size}'}}
",
    );
    let out = p.pipe(&["check", "--format", "json", "p.yaml"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let json = out.json();
    let problems = json.as_array().unwrap();
    assert_eq!(problems.len(), 1, "{json:#}");
    assert_eq!(
        (&problems[0]["line"], &problems[0]["column"]),
        (&2.into(), &16.into())
    );
    assert_eq!(
        problems[0]["hint"],
        "`${params.size}` passes this value to `image_size` of kind `synthetic`, which takes an integer"
    );
    // Set on the command line, it has no place in the file: each use says.
    let out = p.pipe(&["check", "--format", "json", "p.yaml", "--set", "size=x"]);
    let json = out.json();
    let lines: Vec<&serde_json::Value> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["line"])
        .collect();
    assert_eq!(lines, [4, 5, 6], "{json:#}");
}

/// A UTF-8 byte-order mark is valid YAML (editors on Windows write one).
#[test]
fn a_file_with_a_byte_order_mark_passes() {
    let p = Project::new();
    p.write("p.yaml", &format!("\u{feff}{VALID}"));
    let out = p.pipe(&["check", "p.yaml"]);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    assert_eq!(out.stdout, "ok: p.yaml (12 stages)\n");
}

/// A file that is not UTF-8 (Latin-1 here) is located at its first bad byte.
#[test]
fn a_non_utf8_byte_is_located() {
    let p = Project::new();
    let mut bytes = b"version: 1\nstages:\n  a:\n    kind: cmd\n    doc: caf".to_vec();
    bytes.extend_from_slice(b"\xe9 au lait\n    params: {run: \"true\"}\n");
    std::fs::write(p.join("p.yaml"), bytes).unwrap();
    let out = p.pipe(&["check", "--format", "json", "p.yaml"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let json = out.json();
    assert_eq!(
        json,
        serde_json::json!([{
            "severity": "error",
            "message": "the file is not UTF-8 text: byte 0xe9",
            "file": "p.yaml",
            "line": 5,
            "column": 13,
            "len": 1,
            "hint": "save the file as UTF-8 (pipeline files are UTF-8 YAML)"
        }])
    );
}

/// NaN once failed at run time as "internal error ... a bug in pipe" (it
/// has no JSON form for the worker); `pipe run` now refuses the file.
#[test]
fn run_refuses_a_non_finite_float_before_anything_runs() {
    let p = Project::new();
    p.write(
        "p.yaml",
        "version: 1
params: {momentum: .nan}
stages:
  data: {kind: synthetic}
  t:
    kind: train
    inputs: {data: data}
    params: {model: resnet50, mode: scratch, epochs: 1, momentum: '${params.momentum}'}
",
    );
    let out = p.pipe(&["run", "p.yaml"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("error: expected a finite number, found `.nan`\n --> p.yaml:2:20\n"),
        "{}",
        out.stderr
    );
    assert!(!p.join("results").exists());
}
