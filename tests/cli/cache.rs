//! `pipe cache verify` and `pipe gc` on a real cache.

use std::os::unix::fs::PermissionsExt;

use crate::common::project::{names, Project};

const TWO: &str = r#"version: 1
params:
  n: 3
stages:
  a:
    kind: cmd
    params:
      run: seq 1 ${params.n} > $PIPE_OUT/o
  b:
    kind: cmd
    inputs:
      x: a
    params:
      run: wc -l < $PIPE_INPUT_X/o > $PIPE_OUT/count
"#;

fn objects(p: &Project) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(p.join("cache/objects"))
        .unwrap()
        .flatten()
    {
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            out.push(f.path());
        }
    }
    out
}

#[test]
fn verify_drops_a_corrupt_object_and_the_result_using_it() {
    let p = Project::new();
    p.write("t.yaml", TWO);
    p.pipe(&["run", "t.yaml"]).ok();
    let clean = p.pipe(&["cache", "verify"]);
    clean.ok();
    assert!(
        clean.stdout.contains("checked 2 objects"),
        "{}",
        clean.stdout
    );
    assert!(
        clean
            .stdout
            .contains("and 2 results: 0 corrupt objects deleted, 0 results dropped"),
        "{}",
        clean.stdout
    );
    // Corrupt the count file of `b`.
    let count = objects(&p)
        .into_iter()
        .find(|o| std::fs::read_to_string(o).unwrap().trim() == "3")
        .expect("b's object");
    std::fs::set_permissions(&count, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&count, "garbage").unwrap();
    let out = p.pipe(&["cache", "verify"]);
    out.ok();
    assert!(
        out.stdout
            .contains("1 corrupt object deleted, 1 result dropped"),
        "{}",
        out.stdout
    );
    let rerun = p.pipe(&["run", "t.yaml"]);
    rerun.ok();
    assert_eq!(rerun.ran(), names(&["b"]));
    assert_eq!(p.read("results/t/b/count").trim(), "3");
}

#[test]
fn gc_keeps_current_results_and_drops_old_ones() {
    let p = Project::new();
    p.write("t.yaml", TWO);
    p.pipe(&["run", "t.yaml", "--set", "n=5"]).ok();
    p.pipe(&["run", "t.yaml"]).ok();
    assert_eq!(std::fs::read_dir(p.join("cache/keys")).unwrap().count(), 4);
    let dry = p.pipe(&["gc", "t.yaml", "--dry-run"]);
    dry.ok();
    assert!(
        dry.stdout
            .starts_with("would delete 2 results and 2 objects"),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains(" would be freed;"), "{}", dry.stdout);
    assert!(!dry.stdout.contains("B freed"), "{}", dry.stdout);
    assert_eq!(std::fs::read_dir(p.join("cache/keys")).unwrap().count(), 4);
    let gc = p.pipe(&["gc", "t.yaml"]);
    gc.ok();
    assert!(
        gc.stdout.starts_with("deleted 2 results and 2 objects"),
        "{}",
        gc.stdout
    );
    assert!(
        gc.stdout.contains("kept 2 results and 2 objects"),
        "{}",
        gc.stdout
    );
    p.pipe(&["status", "t.yaml"]).ok();
    let old = p.pipe(&["run", "t.yaml", "--set", "n=5"]);
    assert_eq!(old.ran(), names(&["a", "b"]));
}

/// Every file under `dir` with its inode and mtime: a rewrite shows.
fn snapshot(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            }
            out.push((e.path(), m.ino(), m.mtime(), m.mtime_nsec()));
        }
    }
    out.sort();
    out
}

/// Issue 11, item 6: a no-op run writes nothing into the cache (the run
/// state was rewritten with the same content every time).
#[test]
fn a_no_op_run_writes_nothing() {
    let p = Project::new();
    p.write("t.yaml", TWO);
    p.pipe(&["run", "t.yaml"]).ok();
    let before = snapshot(&p.join("cache"));
    let again = p.pipe(&["run", "t.yaml"]);
    again.ok();
    assert_eq!(again.cached(), names(&["a", "b"]));
    assert_eq!(snapshot(&p.join("cache")), before);
}

/// Issue 11, item 6: a cache mounted read-only (a team's shared cache)
/// serves an all-cached run; its lock file does not block it. Needs a
/// mount namespace (`unshare -m`, as root) to mount it read-only.
#[test]
fn a_read_only_cache_serves_hits() {
    let p = Project::new();
    p.write("t.yaml", TWO);
    p.pipe(&["run", "t.yaml"]).ok();
    std::fs::remove_dir_all(p.join("results")).unwrap();
    let probe = std::process::Command::new("unshare")
        .args(["-m", "true"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipped: `unshare -m` is not available here");
        return;
    }
    let pipe = env!("CARGO_BIN_EXE_pipe");
    let script = format!(
        "mount --bind cache cache && mount -o remount,bind,ro cache && \
         ! touch cache/probe 2>/dev/null && exec {pipe} run t.yaml"
    );
    let out = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .current_dir(p.path())
        .env("NO_COLOR", "1")
        .env_remove("PIPE_CACHE_DIR")
        .output()
        .unwrap();
    let out = crate::common::project::Out::from(out);
    out.ok();
    assert_eq!(out.cached(), names(&["a", "b"]), "{}", out.stderr);
    assert_eq!(p.read("results/t/b/count").trim(), "3");
}
