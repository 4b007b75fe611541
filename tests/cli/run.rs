//! `pipe run` behaviour, driving the real binary on `cmd` pipelines: what
//! reruns after which edit, early cutoff, failures, `--keep-going`,
//! `--force`, targets, results links and the `cmd` kind's environment.

use crate::common::project::{names, Project};

/// data -> train[a|b|c|d] -> evaluate[a|b|c|d] -> report, with one
/// `include` entry whose learning rate the tests edit.
const PAPER: &str = r#"version: 1
params:
  lines: 5
stages:
  data:
    kind: cmd
    params:
      run: seq 1 ${params.lines} > $PIPE_OUT/data.txt
  train:
    kind: cmd
    matrix:
      model: [a, b, c]
      lr: 0.1
      include:
        - {model: d, lr: 0.5}
    inputs:
      data: data
    params:
      run: echo "${matrix.model} ${matrix.lr} $(wc -l < $PIPE_INPUT_DATA/data.txt)" > $PIPE_OUT/model.txt
  evaluate:
    kind: cmd
    matrix:
      model: [a, b, c, d]
    inputs:
      model: "train[${matrix.model}*"
    params:
      run: cat $PIPE_INPUT_MODEL/model.txt > $PIPE_OUT/score.txt
  report:
    kind: cmd
    inputs:
      scores: "evaluate[*]"
    params:
      run: for d in $PIPE_INPUT_SCORES; do cat $d/score.txt; done > $PIPE_OUT/report.txt
"#;

const ALL: &[&str] = &[
    "data",
    "train[a]",
    "train[b]",
    "train[c]",
    "train[d,0.5]",
    "evaluate[a]",
    "evaluate[b]",
    "evaluate[c]",
    "evaluate[d]",
    "report",
];

fn paper() -> Project {
    let p = Project::new();
    p.write("p.yaml", PAPER);
    p
}

#[test]
fn first_run_executes_all_and_a_rerun_none() {
    let p = paper();
    let first = p.pipe(&["run", "p.yaml"]);
    first.ok();
    assert_eq!(first.ran(), names(ALL));
    assert!(
        first.stderr.contains("ran 10, cached 0, failed 0 in "),
        "{}",
        first.stderr
    );
    assert_eq!(
        p.read("results/p/report/report.txt"),
        "a 0.1 5\nb 0.1 5\nc 0.1 5\nd 0.5 5\n"
    );
    let second = p.pipe(&["run", "p.yaml"]);
    second.ok();
    assert!(second.ran().is_empty(), "{}", second.stderr);
    assert_eq!(second.cached(), names(ALL));
}

#[test]
fn editing_one_matrix_entry_reruns_it_and_its_dependents_only() {
    let p = paper();
    p.pipe(&["run", "p.yaml"]).ok();
    p.write("p.yaml", &PAPER.replace("lr: 0.5", "lr: 0.7"));
    let out = p.pipe(&["run", "p.yaml"]);
    out.ok();
    assert_eq!(out.ran(), names(&["train[d,0.7]", "evaluate[d]", "report"]));
    assert_eq!(
        p.read("results/p/report/report.txt"),
        "a 0.1 5\nb 0.1 5\nc 0.1 5\nd 0.7 5\n"
    );
}

#[test]
fn reformatting_the_file_reruns_nothing() {
    let p = paper();
    p.pipe(&["run", "p.yaml"]).ok();
    // Comments, key order, quoting, flow vs block style, number spelling.
    let reformatted = PAPER
        .replace("version: 1\n", "# the paper\nversion: 1 # format\n")
        .replace(
            "      model: [a, b, c]\n      lr: 0.1\n",
            "      model:\n        - 'a'\n        - \"b\"\n        - c\n      lr: 1e-1\n",
        )
        .replace(
            "  data:\n    kind: cmd\n    params:\n      run: seq",
            "  data:\n    params:\n      run: seq",
        )
        .replace(
            "> $PIPE_OUT/data.txt\n",
            "> $PIPE_OUT/data.txt\n    kind: \"cmd\"\n",
        );
    assert_ne!(reformatted, PAPER);
    p.write("p.yaml", &reformatted);
    let out = p.pipe(&["run", "p.yaml"]);
    out.ok();
    assert!(
        out.ran().is_empty(),
        "reformatting reran {:?}\n{}",
        out.ran(),
        out.stderr
    );
}

#[test]
fn a_rerun_with_identical_output_stops_the_rerun_there() {
    let p = paper();
    p.pipe(&["run", "p.yaml"]).ok();
    // Another command, same bytes out: only `data` reruns.
    p.write(
        "p.yaml",
        &PAPER.replace("seq 1 ${params.lines}", "seq 1 1 ${params.lines}"),
    );
    let out = p.pipe(&["run", "p.yaml"]);
    out.ok();
    assert_eq!(out.ran(), names(&["data"]));
    assert_eq!(out.cached().len(), ALL.len() - 1);
}

#[test]
fn going_back_to_an_old_value_reruns_nothing() {
    let p = paper();
    p.pipe(&["run", "p.yaml"]).ok();
    p.write("p.yaml", &PAPER.replace("lines: 5", "lines: 7"));
    let out = p.pipe(&["run", "p.yaml"]);
    out.ok();
    assert_eq!(out.ran().len(), ALL.len(), "{}", out.stderr);
    assert_eq!(
        p.read("results/p/report/report.txt"),
        "a 0.1 7\nb 0.1 7\nc 0.1 7\nd 0.5 7\n"
    );
    p.write("p.yaml", PAPER);
    let back = p.pipe(&["run", "p.yaml"]);
    back.ok();
    assert!(back.ran().is_empty(), "{}", back.stderr);
    // The results directory shows the restored result.
    assert_eq!(
        p.read("results/p/report/report.txt"),
        "a 0.1 5\nb 0.1 5\nc 0.1 5\nd 0.5 5\n"
    );
}

#[test]
fn force_reruns_the_named_stages() {
    let p = paper();
    p.pipe(&["run", "p.yaml"]).ok();
    let out = p.pipe(&[
        "run",
        "p.yaml",
        "--force",
        "train[a]",
        "--force",
        "evaluate[c]",
    ]);
    out.ok();
    // train[a] gives the same bytes, so evaluate[a] stays cached.
    assert_eq!(out.ran(), names(&["train[a]", "evaluate[c]"]));
    let bad = p.pipe(&["run", "p.yaml", "--force", "trian[a]"]);
    bad.expect_code(2);
    assert!(
        bad.stderr.contains("`trian[a]` matches no stage"),
        "{}",
        bad.stderr
    );
}

#[test]
fn targets_run_only_what_they_need() {
    let p = paper();
    let out = p.pipe(&["run", "p.yaml", "evaluate[b]", "train[c*"]);
    out.ok();
    assert_eq!(
        out.ran(),
        names(&["data", "train[b]", "train[c]", "evaluate[b]"])
    );
    let rest = p.pipe(&["run", "p.yaml"]);
    assert_eq!(
        rest.ran(),
        names(&[
            "train[a]",
            "train[d,0.5]",
            "evaluate[a]",
            "evaluate[c]",
            "evaluate[d]",
            "report"
        ])
    );
}

const FAILING: &str = r#"version: 1
stages:
  ok1:
    kind: cmd
    params:
      run: echo 1 > $PIPE_OUT/o
  bad:
    kind: cmd
    params:
      run: echo "about to fail"; test -e fixed && echo fixed > $PIPE_OUT/o
  after_bad:
    kind: cmd
    inputs:
      x: bad
    params:
      run: cp $PIPE_INPUT_X/o $PIPE_OUT/o
  ok2:
    kind: cmd
    inputs:
      x: ok1
    params:
      run: sleep 0.3; cp $PIPE_INPUT_X/o $PIPE_OUT/o
"#;

#[test]
fn a_failure_is_reported_with_its_log_and_never_cached() {
    let p = Project::new();
    p.write("f.yaml", FAILING);
    let out = p.pipe(&["run", "f.yaml", "--keep-going"]);
    out.expect_code(1);
    assert_eq!(out.failed(), names(&["bad"]));
    assert!(
        out.stderr
            .contains("stage `bad` failed: command exited with status 1"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("| about to fail"),
        "log tail missing:\n{}",
        out.stderr
    );
    assert!(out.stderr.contains("the full log is `"), "{}", out.stderr);
    // --keep-going: the independent branch ran, the dependent did not.
    assert_eq!(out.ran(), names(&["ok1", "ok2"]));
    assert!(out.stderr.contains("not run 1"), "{}", out.stderr);
    // Not cached: it runs (and fails) again.
    let again = p.pipe(&["run", "f.yaml"]);
    again.expect_code(1);
    assert_eq!(again.failed(), names(&["bad"]));
    p.write("fixed", "");
    let fixed = p.pipe(&["run", "f.yaml"]);
    fixed.ok();
    assert_eq!(fixed.ran(), names(&["bad", "after_bad"]));
}

#[test]
fn without_keep_going_nothing_new_starts_after_a_failure() {
    let p = Project::new();
    p.write(
        "f.yaml",
        r#"version: 1
stages:
  bad:
    kind: cmd
    params:
      run: exit 3
  later:
    kind: cmd
    inputs:
      x: bad2
    params:
      run: echo 1 > $PIPE_OUT/o
  bad2:
    kind: cmd
    params:
      run: sleep 0.5; echo 1 > $PIPE_OUT/o
"#,
    );
    let out = p.pipe(&["run", "f.yaml", "--jobs", "2"]);
    out.expect_code(1);
    // `bad2` was already running and finished; `later` never started.
    assert_eq!(out.failed(), names(&["bad"]));
    assert_eq!(out.ran(), names(&["bad2"]));
    assert!(
        out.stderr.contains("command exited with status 3"),
        "{}",
        out.stderr
    );
}

#[test]
fn declared_outs_must_exist() {
    let p = Project::new();
    p.write(
        "o.yaml",
        "version: 1\nstages:\n  s:\n    kind: cmd\n    params:\n      run: echo 1 > $PIPE_OUT/a\n      outs: [a, b]\n",
    );
    let out = p.pipe(&["run", "o.yaml"]);
    out.expect_code(1);
    assert!(
        out.stderr.contains("did not create `b` in `$PIPE_OUT`"),
        "{}",
        out.stderr
    );
}

#[test]
fn deps_files_enter_the_key_by_content() {
    let p = Project::new();
    p.write("script.sh", "echo one\n");
    p.write(
        "d.yaml",
        "version: 1\nstages:\n  s:\n    kind: cmd\n    params:\n      run: sh script.sh > $PIPE_OUT/o\n      deps: [script.sh]\n",
    );
    p.pipe(&["run", "d.yaml"]).ok();
    assert_eq!(p.pipe(&["run", "d.yaml"]).ran(), Vec::<String>::new());
    p.write("script.sh", "echo two\n");
    let out = p.pipe(&["run", "d.yaml"]);
    assert_eq!(out.ran(), names(&["s"]));
    assert_eq!(p.read("results/d/s/o"), "two\n");
    let status = p.pipe(&["status", "d.yaml"]);
    status.ok();
    p.write("script.sh", "echo three\n");
    let status = p.pipe(&["status", "d.yaml"]);
    status.expect_code(1);
    assert!(
        status
            .stdout
            .contains("s: file `script.sh` changed (param `deps`)"),
        "{}",
        status.stdout
    );
    std::fs::remove_file(p.join("script.sh")).unwrap();
    let missing = p.pipe(&["run", "d.yaml"]);
    missing.expect_code(2);
    assert!(missing.stderr.contains("script.sh"), "{}", missing.stderr);
    assert!(
        missing.stderr.contains("does not exist"),
        "{}",
        missing.stderr
    );
}

#[test]
fn commands_get_their_environment_and_results_are_linked() {
    let p = Project::new();
    p.write(
        "e.yaml",
        r#"version: 1
stages:
  up:
    kind: cmd
    params:
      run: mkdir $PIPE_OUT/sub && echo a > $PIPE_OUT/sub/x && echo b > $PIPE_OUT/y
  env:
    kind: cmd
    inputs:
      the-input: [up, up]
    params:
      run: |
        echo "stage=$PIPE_STAGE cuda=[$CUDA_VISIBLE_DEVICES] pwd=$(pwd)" > $PIPE_OUT/env.txt
        for d in $PIPE_INPUT_THE_INPUT; do cat $d/sub/x $d/y; done >> $PIPE_OUT/env.txt
        test -d "$PIPE_WORK"
"#,
    );
    p.pipe(&["run", "e.yaml"]).ok();
    let pwd = p.path().canonicalize().unwrap();
    assert_eq!(
        p.read("results/e/env/env.txt"),
        format!("stage=env cuda=[] pwd={}\na\nb\na\nb\n", pwd.display())
    );
    assert_eq!(p.read("results/e/up/sub/x"), "a\n");
    // Results are links to read-only cached files.
    let meta = std::fs::metadata(p.join("results/e/up/y")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o222,
        0
    );
    // A result that changes replaces the link; files it no longer has go.
    p.write(
        "e.yaml",
        &p.read("e.yaml")
            .replace(" && echo b > $PIPE_OUT/y", " && echo c > $PIPE_OUT/z"),
    );
    let out = p.pipe(&["run", "e.yaml", "up", "--results-dir", "out"]);
    out.ok();
    assert_eq!(p.read("out/up/z"), "c\n");
    assert!(!p.join("out/up/y").exists());
    let out = p.pipe(&["run", "e.yaml", "up"]);
    out.ok();
    assert!(!p.join("results/e/up/y").exists(), "stale result file kept");
}

#[test]
fn the_work_directory_survives_a_failed_attempt() {
    let p = Project::new();
    p.write(
        "w.yaml",
        r#"version: 1
stages:
  resumable:
    kind: cmd
    params:
      run: |
        if [ -e "$PIPE_WORK/checkpoint" ]; then echo resumed > $PIPE_OUT/o; exit 0; fi
        echo half > "$PIPE_WORK/checkpoint"
        exit 1
"#,
    );
    p.pipe(&["run", "w.yaml"]).expect_code(1);
    p.pipe(&["run", "w.yaml"]).ok();
    assert_eq!(p.read("results/w/resumable/o"), "resumed\n");
    let work = std::fs::read_dir(p.join("cache/work")).unwrap().count();
    assert_eq!(work, 0, "work directory not removed after success");
}

/// Issue 11, item 5: results of a stage removed from the file leave
/// results/ (the cached objects stay until `pipe gc`).
#[test]
fn results_of_a_removed_stage_are_removed() {
    let p = paper();
    p.pipe(&["run", "p.yaml"]).ok();
    assert!(p.join("results/p/report/report.txt").is_file());
    let without_report = PAPER.split("  report:").next().unwrap().to_string();
    p.write("p.yaml", &without_report);
    let out = p.pipe(&["run", "p.yaml"]);
    out.ok();
    assert!(!p.join("results/p/report").exists(), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("removed results/p/report: no stage of the file has that name any more"),
        "{}",
        out.stderr
    );
    assert!(p.join("results/p/data/data.txt").is_file());
}

/// Issue 11, item 5: "did you mean" for a mistyped subcommand, pipeline
/// file and target.
#[test]
fn typos_get_a_did_you_mean() {
    let p = paper();
    p.write("pipelines/quick.yaml", PAPER);
    let sub = p.pipe(&["rnu", "p.yaml"]);
    sub.expect_code(2);
    assert!(sub.stderr.contains("'run'"), "{}", sub.stderr);
    let file = p.pipe(&["status", "quik.yaml"]);
    file.expect_code(2);
    assert!(
        file.stderr.contains("did you mean `pipelines/quick.yaml`?"),
        "{}",
        file.stderr
    );
    let target = p.pipe(&["run", "-n", "p.yaml", "trian"]);
    target.expect_code(2);
    assert!(
        target.stderr.contains("did you mean `train`?"),
        "{}",
        target.stderr
    );
}

/// Issue 11, item 5: `pipe run --help` keeps its examples one per line.
#[test]
fn run_help_keeps_its_examples_on_their_lines() {
    let p = Project::new();
    let out = p.pipe(&["run", "--help"]);
    out.ok();
    assert!(
        out.stdout.contains(
            "Examples:\n  pipe run pipelines/quick.yaml\n  pipe run pipelines/paper.yaml 'train[resnet50,*]' --gpus 0,1\n"
        ),
        "{}",
        out.stdout
    );
}

/// Issue 11, item 5: `pipe completions SHELL` prints a completion script.
#[test]
fn completions_are_printed_for_each_shell() {
    let p = Project::new();
    for (shell, marker) in [
        ("bash", "_pipe()"),
        ("zsh", "#compdef pipe"),
        ("fish", "complete -c pipe"),
    ] {
        let out = p.pipe(&["completions", shell]);
        out.ok();
        assert!(out.stdout.contains(marker), "{shell}: {}", out.stdout);
        assert!(out.stdout.contains("status"), "{shell}");
    }
}

/// Issue 11, item 5: colour is decided per stream: `pipe status > file`
/// with a terminal on stderr writes no ANSI codes into the file. `script`
/// gives the command a terminal.
#[test]
fn status_into_a_file_has_no_colour_on_a_terminal() {
    let p = paper();
    p.pipe(&["run", "p.yaml"]).ok();
    let pipe = env!("CARGO_BIN_EXE_pipe");
    // Runs a shell line under `script`, which gives it a terminal.
    let on_a_terminal = |line: &str| {
        let out = std::process::Command::new("script")
            .args(["-qec", line, "/dev/null"])
            .current_dir(p.path())
            .env_remove("NO_COLOR")
            .env("TERM", "xterm")
            .output()
            .expect("script runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    on_a_terminal(&format!("{pipe} status p.yaml > status.txt"));
    let text = p.read("status.txt");
    assert!(text.contains("up to date  report"), "{text}");
    assert!(!text.contains('\x1b'), "ANSI codes in a file: {text:?}");
    // On the terminal itself, status is coloured.
    let tty = on_a_terminal(&format!("{pipe} status p.yaml"));
    assert!(tty.contains("\x1b[32mup to date"), "{tty:?}");
}

#[test]
fn a_panicking_committer_is_a_bug_and_caches_nothing() {
    let p = paper();
    let out = p.pipe_env(&["run", "p.yaml"], &[("PIPE_TEST_PANIC", "commit")]);
    out.expect_code(101);
    assert!(
        out.stderr.contains("committer panicked") && out.stderr.contains("bug"),
        "{}",
        out.stderr
    );
    // Nothing was stored: every stage runs again.
    let again = p.pipe(&["run", "p.yaml"]);
    again.ok();
    assert_eq!(again.ran(), names(ALL));
}
