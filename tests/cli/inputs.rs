//! How `cmd` stages see their inputs: one directory per upstream result,
//! made once and shared by the stages and runs that read it (issue 9), yet
//! always holding exactly that result's files.

use crate::common::project::{names, Project};

/// `b` and `c` read `a`; each logs the directory it was given. `c` also
/// reads `b`, so it runs after `b`, whose command writes into its input.
fn pipeline(tag: &str) -> String {
    format!(
        r#"version: 1
stages:
  a:
    kind: cmd
    params:
      run: echo a > $PIPE_OUT/o
  b:
    kind: cmd
    inputs:
      x: a
    params:
      run: echo "b {tag} $PIPE_INPUT_X" >> dirs.log; touch $PIPE_INPUT_X/junk; cat $PIPE_INPUT_X/o > $PIPE_OUT/o
  c:
    kind: cmd
    inputs:
      x: a
      y: b
    params:
      run: echo "c {tag} $PIPE_INPUT_X" >> dirs.log; ls $PIPE_INPUT_X > $PIPE_OUT/o
"#
    )
}

/// A project where the pipeline ran once (tag 1).
fn run_once() -> Project {
    let p = Project::new();
    p.write("p.yaml", &pipeline("1"));
    p.pipe(&["run", "p.yaml"]).ok();
    p
}

/// Reruns with `b` edited, which reruns `stages`.
fn rerun_edited(p: &Project, stages: &[&str]) {
    p.write("p.yaml", &pipeline("2"));
    let rerun = p.pipe(&["run", "p.yaml"]);
    rerun.ok();
    assert_eq!(rerun.ran(), names(stages));
}

/// The directories logged, by stage and tag.
fn dirs(p: &Project) -> Vec<(String, String)> {
    p.read("dirs.log")
        .lines()
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let who = format!("{} {}", parts.next().unwrap(), parts.next().unwrap());
            (who, parts.next().unwrap().to_string())
        })
        .collect()
}

#[test]
fn stages_and_reruns_share_one_directory_per_result() {
    let p = run_once();
    // An edit of `b` alone reruns `b` and `c`, which read `a` again.
    rerun_edited(&p, &["b", "c"]);
    let seen = dirs(&p);
    assert_eq!(seen.len(), 4, "{seen:?}");
    let first = &seen[0].1;
    assert!(
        seen.iter().all(|(_, d)| d == first),
        "every stage and run reads `a` from one directory: {seen:?}"
    );
    assert!(
        first.starts_with(&p.join("cache/inputs").display().to_string()),
        "{first}"
    );
}

#[test]
fn a_command_writing_into_its_input_does_not_change_what_others_read() {
    let p = run_once();
    // `b` left `junk` in the directory of `a`; `c` saw only `a`'s file.
    assert_eq!(p.read("results/p/c/o"), "o\n");
    assert_eq!(p.read("results/p/b/o"), "a\n");
}

#[test]
fn gc_removes_the_directories_and_a_later_run_makes_them_again() {
    let p = run_once();
    assert!(p.join("cache/inputs").exists());
    p.pipe(&["gc", "p.yaml"]).ok();
    assert!(!p.join("cache/inputs").exists());
    rerun_edited(&p, &["b", "c"]);
    assert_eq!(p.read("results/p/c/o"), "o\n");
}

/// Writes `text` over `a`'s object in place, through the directory made
/// for `a` (which links it).
fn corrupt_a(p: &Project, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    let seen = dirs(p);
    let object = std::path::Path::new(&seen[0].1).join("o");
    std::fs::set_permissions(&object, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&object, text).unwrap();
}

#[test]
fn an_object_made_again_is_read_anew_not_through_an_old_link() {
    let p = run_once();
    // `cache verify` deletes the corrupt object, but the directory made
    // for `a` still links the corrupt bytes.
    corrupt_a(&p, "garbage\n");
    p.pipe(&["cache", "verify"]).ok();
    rerun_edited(&p, &["a", "b", "c"]);
    assert_eq!(p.read("results/p/b/o"), "a\n");
}

/// A directory is trusted on its seal (one `stat`) only until a corrupt
/// object is dropped: here the corruption is found by the next run's hit
/// check, not by `cache verify`, and the producer's object is made again
/// under the same name while the sealed directory still links the old one.
#[test]
fn a_corrupt_object_found_by_a_run_is_not_read_through_a_sealed_directory() {
    let p = run_once();
    // Same size: only the seal tells.
    corrupt_a(&p, "z\n");
    rerun_edited(&p, &["a", "b", "c"]);
    assert_eq!(p.read("results/p/b/o"), "a\n");
    assert_eq!(p.read("results/p/c/o"), "o\n");
}
