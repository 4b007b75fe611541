//! Nothing a user owns is lost, and nothing wrong is served from the cache:
//! outputs that are links or special files, corrupt objects, edited
//! manifests, results/ under concurrent runs.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::common::project::{names, Out, Project};

/// `b` turns `a`'s lines into one word, so corrupt bytes show in its result.
const AB: &str = r#"version: 1
stages:
  a:
    kind: cmd
    params:
      run: seq 1 3 > $PIPE_OUT/o
  b:
    kind: cmd
    inputs:
      x: a
    params:
      run: tr -d '\n' < $PIPE_INPUT_X/o > $PIPE_OUT/o
"#;

fn one_stage(run: &str) -> String {
    format!("version: 1\nstages:\n  s:\n    kind: cmd\n    params:\n      run: {run}\n")
}

/// The object holding `a`'s output, `1\n2\n3\n`.
fn object_of_a(p: &Project) -> PathBuf {
    let mut found = None;
    for shard in std::fs::read_dir(p.join("cache/objects"))
        .unwrap()
        .flatten()
    {
        for f in std::fs::read_dir(shard.path()).unwrap().flatten() {
            if std::fs::read(f.path()).unwrap() == b"1\n2\n3\n" {
                found = Some(f.path());
            }
        }
    }
    found.expect("a's object")
}

/// Overwrites a read-only object in place with bytes of the same size; with
/// `keep_times` its timestamps are put back (bit rot, a careless `cp -p`).
fn corrupt(path: &Path, keep_times: bool) {
    let before = std::fs::metadata(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(path, b"7\n8\n9\n").unwrap();
    if keep_times {
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_times(
            std::fs::FileTimes::new()
                .set_modified(before.modified().unwrap())
                .set_accessed(before.accessed().unwrap()),
        )
        .unwrap();
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).unwrap();
}

fn verify(p: &Project) -> String {
    let out = p.pipe(&["cache", "verify"]);
    out.ok();
    out.stdout.clone()
}

#[test]
fn a_symlink_to_a_directory_in_outputs_is_copied_and_its_target_left_alone() {
    let p = Project::new();
    p.write("data/x", "1\n").write("data/sub/y", "2\n");
    let ino = std::fs::metadata(p.join("data/x")).unwrap().ino();
    p.write(
        "s.yaml",
        &one_stage(r#"ln -s "$PWD/data" "$PIPE_OUT/v" && ln -s "$PWD/data/x" "$PIPE_OUT/f""#),
    );
    p.pipe(&["run", "s.yaml"]).ok();
    // The user's files: still there, same inode, still writable.
    let meta = std::fs::metadata(p.join("data/x")).unwrap();
    assert_eq!(meta.ino(), ino);
    assert_eq!(meta.permissions().mode() & 0o777, 0o644);
    assert_eq!(p.read("data/sub/y"), "2\n");
    // The output holds copies of what the links pointed to.
    assert_eq!(p.read("results/s/s/v/x"), "1\n");
    assert_eq!(p.read("results/s/s/v/sub/y"), "2\n");
    assert_eq!(p.read("results/s/s/f"), "1\n");
    assert_ne!(
        std::fs::metadata(p.join("results/s/s/v/x")).unwrap().ino(),
        ino
    );
    assert!(verify(&p).contains("0 corrupt objects deleted"));
}

#[test]
fn a_symlink_loop_in_outputs_is_a_stage_error() {
    let p = Project::new();
    p.write(
        "s.yaml",
        &one_stage(r#"mkdir $PIPE_OUT/d && ln -s .. $PIPE_OUT/d/up"#),
    );
    let out = p.pipe(&["run", "s.yaml"]);
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("output `d/up` is a symlink to a directory that contains it"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_hard_linked_output_is_copied_not_adopted() {
    let p = Project::new();
    p.write("mine", "v1\n");
    p.write("s.yaml", &one_stage(r#"ln mine "$PIPE_OUT/f""#));
    p.pipe(&["run", "s.yaml"]).ok();
    let mine = std::fs::metadata(p.join("mine")).unwrap();
    assert_eq!(
        mine.permissions().mode() & 0o777,
        0o644,
        "the user's file was made read-only"
    );
    assert_ne!(
        mine.ino(),
        std::fs::metadata(p.join("results/s/s/f")).unwrap().ino()
    );
    // Editing the user's file later changes nothing cached.
    p.write("mine", "v2\n");
    assert_eq!(p.read("results/s/s/f"), "v1\n");
    assert!(verify(&p).contains("0 corrupt objects deleted, 0 results dropped"));
}

#[test]
fn output_names_that_are_not_utf8_are_a_stage_error_not_merged() {
    let p = Project::new();
    p.write(
        "s.yaml",
        &one_stage(
            r#"echo 1 > "$PIPE_OUT/$(printf 'a\377')"; echo 2 > "$PIPE_OUT/$(printf 'a\376')""#,
        ),
    );
    let out = p.pipe(&["run", "s.yaml"]);
    out.expect_code(1);
    assert!(
        out.stderr.contains("has a name that is not valid UTF-8"),
        "{}",
        out.stderr
    );
    assert!(!p.join("results/s/s").exists());
}

#[test]
fn a_fifo_listed_in_outs_is_a_stage_error() {
    let p = Project::new();
    p.write(
        "s.yaml",
        "version: 1\nstages:\n  s:\n    kind: cmd\n    params:\n      run: mkfifo $PIPE_OUT/p\n      outs: [p]\n",
    );
    let out = p.pipe(&["run", "s.yaml"]);
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("output `p` is a FIFO (named pipe), not a regular file"),
        "{}",
        out.stderr
    );
    // Nothing was cached: it fails again.
    p.pipe(&["run", "s.yaml"]).expect_code(1);
}

#[test]
fn a_corrupt_object_is_not_served_and_what_was_computed_from_it_reruns() {
    let p = Project::new();
    p.write("t.yaml", AB);
    p.pipe(&["run", "t.yaml"]).ok();
    corrupt(&object_of_a(&p), false);
    let out = p.pipe(&["run", "t.yaml"]);
    out.ok();
    assert!(
        out.stderr.contains("the cached result of `a` was corrupt"),
        "{}",
        out.stderr
    );
    assert_eq!(out.ran(), names(&["a", "b"]));
    assert_eq!(p.read("results/t/a/o"), "1\n2\n3\n");
    assert_eq!(p.read("results/t/b/o"), "123");
    assert!(verify(&p).contains("0 corrupt objects deleted, 0 results dropped"));
}

#[test]
fn force_of_the_producer_repairs_a_corrupt_object() {
    let p = Project::new();
    p.write("t.yaml", AB);
    p.pipe(&["run", "t.yaml"]).ok();
    let object = object_of_a(&p);
    corrupt(&object, true);
    let out = p.pipe(&["run", "t.yaml", "--force", "a"]);
    out.ok();
    assert_eq!(std::fs::read(&object).unwrap(), b"1\n2\n3\n");
    assert_eq!(p.read("results/t/a/o"), "1\n2\n3\n");
}

#[test]
fn verify_drops_every_result_computed_from_a_dropped_object() {
    let p = Project::new();
    p.write("t.yaml", AB);
    p.pipe(&["run", "t.yaml"]).ok();
    // Corrupt bytes that keep their timestamps are only found by a full
    // rehash; `b` is recomputed from them meanwhile.
    corrupt(&object_of_a(&p), true);
    p.pipe(&["run", "t.yaml", "--force", "b"]).ok();
    assert_eq!(p.read("results/t/b/o"), "789");
    let report = verify(&p);
    assert!(
        report.contains("1 corrupt object deleted, 2 results dropped (1 of them computed from a dropped result;"),
        "{report}"
    );
    let rerun = p.pipe(&["run", "t.yaml"]);
    rerun.ok();
    assert_eq!(rerun.ran(), names(&["a", "b"]));
    assert_eq!(p.read("results/t/b/o"), "123");
}

#[test]
fn a_manifest_naming_a_path_outside_results_is_refused() {
    let p = Project::new();
    p.write("t.yaml", AB);
    p.pipe(&["run", "t.yaml"]).ok();
    // Edit every manifest of `a` (a shared team cache) to escape results/.
    for m in std::fs::read_dir(p.join("cache/keys")).unwrap().flatten() {
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(m.path()).unwrap()).unwrap();
        if json["stage"] != "a" {
            continue;
        }
        let entry = json["files"]["o"].take();
        json["files"] = serde_json::json!({ "../../../escaped": entry });
        std::fs::write(m.path(), serde_json::to_vec(&json).unwrap()).unwrap();
    }
    let out = p.pipe(&["run", "t.yaml"]);
    out.ok();
    assert!(
        !p.join("escaped").exists(),
        "a manifest wrote outside results/"
    );
    assert_eq!(out.ran(), names(&["a"]));
    assert_eq!(p.read("results/t/a/o"), "1\n2\n3\n");
}

#[test]
fn verify_drops_a_manifest_naming_a_path_outside_results() {
    let p = Project::new();
    p.write("s.yaml", &one_stage("echo 1 > $PIPE_OUT/o"));
    p.pipe(&["run", "s.yaml"]).ok();
    for m in std::fs::read_dir(p.join("cache/keys")).unwrap().flatten() {
        let text = std::fs::read_to_string(m.path()).unwrap();
        std::fs::write(m.path(), text.replace("\"o\":", "\"/tmp/escaped\":")).unwrap();
    }
    assert!(verify(&p).contains("1 result dropped"));
}

/// 200 files per result, each holding the configuration's value.
const MANY: &str = r#"version: 1
params:
  v: 1
stages:
  s:
    kind: cmd
    params:
      run: for i in $(seq 1 200); do echo ${params.v} > $PIPE_OUT/f$i; done
"#;

#[test]
fn concurrent_runs_of_two_configurations_never_mix_results() {
    let p = Project::new();
    p.write("m.yaml", MANY);
    // Both runs link into one results directory (`--set` runs otherwise
    // each get their own, `results/m@v=1`): the swap must keep it whole.
    let run = |v: &str| {
        let set = format!("v={v}");
        let args = ["run", "m.yaml", "--set", &set, "--results-dir", "out"];
        p.command(&args)
    };
    Out::from(run("1").output().unwrap()).ok();
    Out::from(run("2").output().unwrap()).ok();
    for round in 0..8 {
        let spawn = |v: &str| {
            run(v)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn("1"), spawn("2"));
        Out::from(a.wait_with_output().unwrap()).ok();
        Out::from(b.wait_with_output().unwrap()).ok();
        let mut values: Vec<String> = (1..=200).map(|i| p.read(&format!("out/s/f{i}"))).collect();
        values.sort();
        values.dedup();
        assert_eq!(values.len(), 1, "round {round}: results/ mixes {values:?}");
    }
}

#[test]
fn waiting_for_a_key_this_run_computes_names_no_other_pipe() {
    let p = Project::new();
    // Same kind and params: the same key, computed by whichever starts first.
    p.write(
        "d.yaml",
        "version: 1\nstages:\n  a:\n    kind: cmd\n    params:\n      run: sleep 0.5; echo > $PIPE_OUT/o\n  b:\n    kind: cmd\n    params:\n      run: sleep 0.5; echo > $PIPE_OUT/o\n",
    );
    let out = p.pipe(&["run", "d.yaml", "--jobs", "2"]);
    out.ok();
    assert!(!out.stderr.contains("another pipe"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("another stage of this run computes the same result"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_log_that_could_not_be_written_is_not_named_in_the_hint() {
    let p = Project::new();
    p.write("f.yaml", &one_stage("echo hi; exit 1"));
    let first = p.pipe(&["run", "f.yaml"]);
    first.expect_code(1);
    assert!(first.stderr.contains("the full log is"), "{}", first.stderr);
    // Where the log goes, something that cannot be written (as a full disk).
    for log in std::fs::read_dir(p.join("cache/logs")).unwrap().flatten() {
        std::fs::remove_file(log.path()).unwrap();
        std::fs::create_dir(log.path()).unwrap();
    }
    let out = p.pipe(&["run", "f.yaml"]);
    out.expect_code(1);
    assert!(!out.stderr.contains("the full log is"), "{}", out.stderr);
    assert!(
        out.stderr.contains("its log could not be written"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_results_temp_dir_left_by_a_dead_pipe_is_removed() {
    let p = Project::new();
    p.write("s.yaml", &one_stage("echo 1 > $PIPE_OUT/o"));
    // Above any pid_max: no such process.
    p.write("results/s/.tmp.4194305.0/o", "half-built\n");
    p.pipe(&["run", "s.yaml"]).ok();
    assert!(!p.join("results/s/.tmp.4194305.0").exists());
    assert_eq!(p.read("results/s/s/o"), "1\n");
}
