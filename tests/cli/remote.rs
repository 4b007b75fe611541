//! The shared remote cache against a real S3-protocol server (moto, one
//! per test): two clones with separate local caches and one bucket.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::moto::{Key, Moto};
use crate::common::project::{names, Out, Project};

/// Random bytes, so that a clone can only have A's results by fetching
/// them: a rerun makes different ones.
const PIPELINE: &str = r#"version: 1
stages:
  gen:
    kind: cmd
    params:
      run: head -c 300000 /dev/urandom > $PIPE_OUT/data.bin; mkdir $PIPE_OUT/sub; head -c 16 /dev/urandom | od -An -tx1 > $PIPE_OUT/sub/id
  count:
    kind: cmd
    inputs: {x: gen}
    params:
      run: cat $PIPE_INPUT_X/sub/id > $PIPE_OUT/count; wc -c < $PIPE_INPUT_X/data.bin >> $PIPE_OUT/count
"#;

fn clone(text: &str) -> Project {
    let p = Project::new();
    p.write("p.yaml", text);
    p
}

fn pipe(p: &Project, moto: &Moto, key: Option<&Key>, args: &[&str]) -> Out {
    let env = moto.env(key);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    p.pipe_env(args, &env)
}

fn records(moto: &Moto) -> Vec<(String, u64)> {
    moto.list("team/keys/")
}

/// `pipe cache verify` finds nothing corrupt and drops no result.
fn assert_cache_sound(p: &Project) {
    let verify = p.pipe(&["cache", "verify"]);
    let clean = ": 0 corrupt objects deleted, 0 results";
    assert!(verify.ok().stdout.contains(clean), "{}", verify.stdout);
}

/// Every record on the remote names only objects that are there, with
/// their size.
fn assert_no_record_without_its_objects(moto: &Moto) {
    let objects = moto.list("team/objects/");
    for (record, _) in records(moto) {
        let json: serde_json::Value = serde_json::from_slice(&moto.get(&record)).unwrap();
        for (name, entry) in json["manifest"]["files"].as_object().unwrap() {
            let hash = entry["hash"].as_str().unwrap();
            let key = format!("team/objects/{}/{hash}", &hash[..2]);
            let size = entry["size"].as_u64().unwrap();
            assert!(
                objects.contains(&(key.clone(), size)),
                "{record} names `{name}` ({key}), which is not on the remote"
            );
        }
    }
}

#[test]
fn b_fetches_everything_a_pushed_and_runs_nothing() {
    let moto = Moto::start();
    let a = clone(PIPELINE);
    a.pipe(&["run", "p.yaml"]).ok();
    let push = pipe(&a, &moto, None, &["push", "p.yaml"]);
    push.ok();
    assert!(
        push.stderr.contains("push: 2 stages (3 objects"),
        "{}",
        push.stderr
    );
    // Nothing new: one LIST of the records, nothing moved.
    let again = pipe(&a, &moto, None, &["push", "p.yaml"]);
    assert!(
        again
            .ok()
            .stderr
            .contains("push: 0 stages (0 objects, 0 B)"),
        "{}",
        again.stderr
    );

    let b = clone(PIPELINE);
    let run = pipe(&b, &moto, None, &["run", "--remote", "p.yaml"]);
    run.ok();
    assert_eq!(run.ran(), Vec::<String>::new(), "{}", run.stderr);
    assert_eq!(run.cached(), names(&["count", "gen"]));
    for file in ["gen/data.bin", "gen/sub/id", "count/count"] {
        let rel = format!("results/p/{file}");
        assert_eq!(
            std::fs::read(a.join(&rel)).unwrap(),
            std::fs::read(b.join(&rel)).unwrap(),
            "{file}"
        );
    }
    b.pipe(&["status", "p.yaml"]).ok();
    // The records say where the results were made.
    let ls = pipe(&b, &moto, None, &["remote", "ls", "p.yaml"]);
    assert!(
        ls.ok().stdout.contains("on remote  gen  (pipe "),
        "{}",
        ls.stdout
    );
}

#[test]
fn pull_fills_the_cache_and_a_plain_run_then_runs_nothing() {
    let moto = Moto::start();
    let a = clone(PIPELINE);
    a.pipe(&["run", "p.yaml"]).ok();
    pipe(&a, &moto, None, &["push", "p.yaml", "gen"]).ok();
    let b = clone(PIPELINE);
    // Only `gen` is there: `count` is not on the remote.
    let pull = pipe(&b, &moto, None, &["pull", "p.yaml", "--jobs", "2"]);
    assert!(
        pull.ok().stderr.contains("pull: 1 stage (2 objects"),
        "{}",
        pull.stderr
    );
    assert!(
        pull.stderr.contains("1 not on the remote"),
        "{}",
        pull.stderr
    );
    let run = b.pipe(&["run", "p.yaml"]);
    assert_eq!(run.ok().ran(), names(&["count"]));
    assert_eq!(
        a.read("results/p/gen/sub/id"),
        b.read("results/p/gen/sub/id")
    );
}

#[test]
fn a_corrupt_remote_object_is_reported_never_used_and_the_stage_reruns() {
    let moto = Moto::start();
    let a = clone(PIPELINE);
    a.pipe(&["run", "p.yaml"]).ok();
    pipe(&a, &moto, None, &["push", "p.yaml"]).ok();
    // gen's data.bin, truncated on the remote.
    let (key, size) = moto
        .list("team/objects/")
        .into_iter()
        .find(|(_, size)| *size == 300_000)
        .unwrap();
    let bytes = moto.get(&key);
    moto.put(&key, &bytes[..bytes.len() / 2]);
    assert_eq!(moto.list(&key)[0].1, size / 2);

    let b = clone(PIPELINE);
    let run = pipe(&b, &moto, None, &["run", "--remote", "p.yaml"]);
    run.ok();
    assert!(
        run.stderr
            .contains("the remote's result of `gen` is not used")
            && run.stderr.contains("is corrupt"),
        "{}",
        run.stderr
    );
    assert_eq!(run.ran(), names(&["count", "gen"]));
    assert_ne!(
        std::fs::read(a.join("results/p/gen/data.bin")).unwrap(),
        std::fs::read(b.join("results/p/gen/data.bin")).unwrap()
    );
    // Nothing of the bad download stayed, and the store is sound.
    let leftovers: Vec<_> = std::fs::read_dir(b.join("cache/objects"))
        .unwrap()
        .flat_map(|shard| std::fs::read_dir(shard.unwrap().path()).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".tmp."))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new());
    assert_cache_sound(&b);
}

/// Twelve stages of 2 MB each (and a small file).
const TWELVE: &str = r#"version: 1
stages:
  big:
    kind: cmd
    matrix: {i: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]}
    params:
      run: head -c 2000000 /dev/urandom > $PIPE_OUT/blob; echo ${matrix.i} > $PIPE_OUT/i
"#;

/// Waits until the server has answered a request whose log line holds
/// `what`, then kills `child` (SIGKILL).
fn kill_after(moto: &Moto, what: &str, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !moto.log_text().contains(what) {
        assert!(
            Instant::now() < deadline,
            "no `{what}`: {}",
            moto.log_text()
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "it ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_push_killed_midway_leaves_no_record_without_its_objects_and_the_next_completes() {
    let moto = Moto::start();
    // Twelve stages of 2 MB each (and a small file), pushed one object at
    // a time.
    let text = TWELVE;
    let a = clone(text);
    a.pipe(&["run", "p.yaml"]).ok();
    let mut cmd = a.command(&["push", "p.yaml", "--jobs", "1"]);
    cmd.envs(moto.env(None)).stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    // Killed as soon as the server has answered the first object's PUT.
    kill_after(&moto, "\"PUT /cache/team/objects/", &mut child);
    let uploaded = moto.list("team/objects/").len();
    assert!((1..24).contains(&uploaded), "{uploaded} objects up");
    assert_eq!(
        records(&moto),
        vec![],
        "a record went up before its objects"
    );
    assert_no_record_without_its_objects(&moto);

    let next = pipe(&a, &moto, None, &["push", "p.yaml"]);
    next.ok();
    assert!(
        next.stderr
            .contains(&format!("push: 12 stages ({} objects", 24 - uploaded))
            && next.stderr.contains(&format!("{uploaded} object")),
        "{}",
        next.stderr
    );
    assert_eq!(records(&moto).len(), 12);
    assert_no_record_without_its_objects(&moto);
    let b = clone(text);
    assert_eq!(
        pipe(&b, &moto, None, &["run", "--remote", "p.yaml"])
            .ok()
            .ran(),
        Vec::<String>::new()
    );
}

#[test]
fn concurrent_pushes_of_one_stage_all_succeed_and_the_first_record_stays() {
    let moto = Moto::start();
    let a = clone(PIPELINE);
    a.pipe(&["run", "p.yaml"]).ok();
    let spawn = || {
        let mut cmd = a.command(&["push", "p.yaml"]);
        cmd.envs(moto.env(None));
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let pushes: Vec<_> = (0..4).map(|_| spawn()).collect();
    for child in pushes {
        Out::from(child.wait_with_output().unwrap()).ok();
    }
    assert_eq!(records(&moto).len(), 2);
    assert_no_record_without_its_objects(&moto);
    let record =
        |rec: &str| -> serde_json::Value { serde_json::from_slice(&moto.get(rec)).unwrap() };
    let gen_record = records(&moto)
        .into_iter()
        .map(|(k, _)| k)
        .find(|k| record(k)["manifest"]["stage"] == "gen")
        .unwrap();
    let before = moto.get(&gen_record);

    // Another clone made another result for the same key (the command is
    // not deterministic): its push succeeds and the first record stays.
    let c = clone(PIPELINE);
    c.pipe(&["run", "p.yaml", "gen"]).ok();
    let push = pipe(&c, &moto, None, &["push", "p.yaml", "gen"]);
    assert!(
        push.ok().stderr.contains("already there: 1 stage"),
        "{}",
        push.stderr
    );
    assert_eq!(moto.get(&gen_record), before);
    let b = clone(PIPELINE);
    pipe(&b, &moto, None, &["run", "--remote", "p.yaml"]).ok();
    assert_eq!(
        a.read("results/p/gen/sub/id"),
        b.read("results/p/gen/sub/id")
    );
}

#[test]
fn wrong_credentials_fail_loudly_never_as_misses() {
    let mut moto = Moto::start();
    moto.enforce_auth();
    let a = clone(PIPELINE);
    let wrong = Key {
        id: "AKIAWRONGWRONGWRONG0".into(),
        secret: "wrong".into(),
    };
    let run = pipe(&a, &moto, Some(&wrong), &["run", "--remote", "p.yaml"]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("refused") && run.stderr.contains("InvalidAccessKeyId"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hint: the key `AKIAWRONGWRONGWRONG0` (from AWS_ACCESS_KEY_ID)"),
        "{}",
        run.stderr
    );
    assert_eq!(run.ran(), Vec::<String>::new(), "it ran instead of failing");
    let check = pipe(&a, &moto, Some(&wrong), &["remote", "check"]);
    check.expect_code(3);
    assert!(
        check.stdout.contains("read: no") && check.stdout.contains("write: no"),
        "{}",
        check.stdout
    );
    a.pipe(&["run", "p.yaml"]).ok();
    pipe(&a, &moto, Some(&wrong), &["push", "p.yaml"]).expect_code(3);
    // No credentials at all: said before anything is sent.
    let mut cmd = a.command(&["pull", "p.yaml"]);
    cmd.envs(moto.env(None))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env("HOME", a.path());
    let none = Out::from(cmd.output().unwrap());
    none.expect_code(3);
    assert!(
        none.stderr.contains("no credentials for the remote"),
        "{}",
        none.stderr
    );
}

#[test]
fn run_remote_with_a_read_only_credential_fetches_runs_the_rest_and_caches_locally() {
    let mut moto = Moto::start();
    // CI wrote `gen` while the server was open.
    let ci = clone(PIPELINE);
    ci.pipe(&["run", "p.yaml", "gen"]).ok();
    pipe(&ci, &moto, None, &["push", "p.yaml"]).ok();
    let (_writer, reader) = moto.enforce_auth();

    let dev = clone(PIPELINE);
    let check = pipe(&dev, &moto, Some(&reader), &["remote", "check"]);
    check.ok();
    assert!(
        check.stdout.contains("read: yes") && check.stdout.contains("write: no"),
        "{}",
        check.stdout
    );
    assert!(check.stderr.contains("AccessDenied"), "{}", check.stderr);
    let run = pipe(&dev, &moto, Some(&reader), &["run", "--remote", "p.yaml"]);
    assert_eq!(run.ok().ran(), names(&["count"]));
    assert_eq!(
        ci.read("results/p/gen/sub/id"),
        dev.read("results/p/gen/sub/id")
    );
    // Writing is asked for: refused loudly, and what ran stays cached here.
    dev.write("p.yaml", &PIPELINE.replace("wc -c", "wc -c -l"));
    let push = pipe(
        &dev,
        &moto,
        Some(&reader),
        &["run", "--remote", "--push", "p.yaml"],
    );
    push.expect_code(3);
    assert_eq!(push.ran(), names(&["count"]));
    assert!(
        push.stderr.contains("AccessDenied") || push.stderr.contains("refused"),
        "{}",
        push.stderr
    );
    assert!(push.stderr.contains("cached locally"), "{}", push.stderr);
    assert_eq!(
        dev.pipe(&["run", "p.yaml"]).ok().ran(),
        Vec::<String>::new()
    );
    let _ = Command::new("true").status();
}

#[test]
fn the_files_remote_section_names_the_remote_and_is_checked_with_its_place() {
    let moto = Moto::start();
    let text = format!("remote:\n  url: s3://cache/team\n{PIPELINE}");
    let a = clone(&text);
    a.pipe(&["run", "p.yaml"]).ok();
    let env: Vec<(String, String)> = moto
        .env(None)
        .into_iter()
        .filter(|(k, _)| k != "PIPE_REMOTE")
        .collect();
    let mut cmd = a.command(&["push", "p.yaml"]);
    cmd.envs(env).env_remove("PIPE_REMOTE");
    let push = Out::from(cmd.output().unwrap());
    assert!(
        push.ok().stderr.contains("push: 2 stages"),
        "{}",
        push.stderr
    );
    assert_eq!(records(&moto).len(), 2);

    for (remote, place, message) in [
        (
            "remote: s3://cache",
            "p.yaml:1:9",
            "`remote` must be a mapping, found",
        ),
        (
            "remote:\n  url: cache/team",
            "p.yaml:2:8",
            "`remote.url` must be an `s3://bucket/prefix` URL, found `cache/team`",
        ),
        (
            "remote:\n  ur: s3://cache",
            "p.yaml:2:3",
            "unknown key `ur` in `remote`",
        ),
    ] {
        let p = clone(&format!("{remote}\n{PIPELINE}"));
        let check = p.pipe(&["check", "p.yaml"]);
        check.expect_code(2);
        assert!(
            check.stderr.contains(place) && check.stderr.contains(message),
            "{remote}:\n{}",
            check.stderr
        );
    }
}

#[test]
fn with_key_includes_environment_a_result_serves_only_its_own_environment() {
    let moto = Moto::start();
    let run_with = |p: &Project, libtorch: &str, args: &[&str]| {
        let mut env = moto.env(None);
        env.push(("PIPE_LIBTORCH_VERSION".into(), libtorch.into()));
        env.push(("PIPE_CUDA_VERSION".into(), "12.8".into()));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        p.pipe_env(args, &env)
    };
    // The default: results serve every environment.
    let a = clone(PIPELINE);
    run_with(&a, "2.11.0", &["run", "--remote", "--push", "p.yaml"]).ok();
    let b = clone(PIPELINE);
    let fetched = run_with(&b, "2.10.0", &["run", "--remote", "p.yaml"]);
    assert_eq!(fetched.ok().ran(), Vec::<String>::new());
    assert!(
        fetched.stderr.contains("made with pipe ")
            && fetched.stderr.contains("libtorch 2.11.0, CUDA 12.8"),
        "{}",
        fetched.stderr
    );

    let strict = format!("remote:\n  key_includes_environment: true\n{PIPELINE}");
    let clones: Vec<Project> = (0..3).map(|_| clone(&strict)).collect();
    // (clone, libtorch, arguments, stages that run)
    let cases: [(usize, &str, &[&str], &[&str]); 3] = [
        (
            0,
            "2.11.0",
            &["run", "--remote", "--push", "p.yaml"],
            &["count", "gen"],
        ),
        (
            1,
            "2.10.0",
            &["run", "--remote", "p.yaml"],
            &["count", "gen"],
        ),
        (2, "2.11.0", &["run", "--remote", "p.yaml"], &[]),
    ];
    for (i, libtorch, args, ran) in cases {
        let out = run_with(&clones[i], libtorch, args);
        assert_eq!(out.ok().ran(), names(ran), "clone {i}, libtorch {libtorch}");
    }
    let (a, same) = (&clones[0], &clones[2]);
    assert_eq!(
        a.read("results/p/gen/sub/id"),
        same.read("results/p/gen/sub/id")
    );
}

/// The issue's case: clone A runs pipelines/quick.yaml (libtorch on the
/// CPU, a few minutes) and pushes; clone B's `pipe run --remote` executes
/// no stage and its results are byte-identical.
#[cfg(feature = "torch")]
#[test]
fn quick_yaml_in_two_clones_b_runs_no_stage() {
    let moto = Moto::start();
    let quick =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines/quick.yaml"))
            .unwrap();
    let a = clone(&quick);
    let first = pipe(&a, &moto, None, &["run", "--remote", "--push", "p.yaml"]);
    assert!(!first.ok().ran().is_empty());
    let b = clone(&quick);
    let run = pipe(&b, &moto, None, &["run", "--remote", "p.yaml"]);
    assert_eq!(run.ok().ran(), Vec::<String>::new(), "{}", run.stderr);
    let mut files = Vec::new();
    collect(&a.join("results/p"), &mut files);
    assert!(files.len() > 40, "{} result files", files.len());
    for file in files {
        let rel = file.strip_prefix(a.join("results/p")).unwrap();
        let other = b.join("results/p").join(rel);
        assert_eq!(
            std::fs::read(&file).unwrap(),
            std::fs::read(&other).unwrap(),
            "{}",
            rel.display()
        );
    }
}

#[cfg(feature = "torch")]
fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Files of 64 MiB or more go up in parts; the object appears whole.
#[test]
fn a_large_output_goes_up_in_parts_and_comes_back_whole() {
    let moto = Moto::start();
    let text = "version: 1\nstages:\n  big:\n    kind: cmd\n    params:\n      run: head -c 70000000 /dev/urandom > $PIPE_OUT/model.bin\n";
    let a = clone(text);
    a.pipe(&["run", "p.yaml"]).ok();
    pipe(&a, &moto, None, &["push", "p.yaml"]).ok();
    assert!(moto.log_text().contains("uploadId="), "no multipart upload");
    assert!(moto.list("team/objects/").contains(&(
        format!("team/objects/{}", {
            let json: serde_json::Value =
                serde_json::from_slice(&moto.get(&records(&moto)[0].0)).unwrap();
            let hash = json["manifest"]["files"]["model.bin"]["hash"]
                .as_str()
                .unwrap()
                .to_string();
            format!("{}/{hash}", &hash[..2])
        }),
        70_000_000
    )));
    let b = clone(text);
    assert_eq!(
        pipe(&b, &moto, None, &["run", "--remote", "p.yaml"])
            .ok()
            .ran(),
        Vec::<String>::new()
    );
    assert!(
        std::fs::read(a.join("results/p/big/model.bin")).unwrap()
            == std::fs::read(b.join("results/p/big/model.bin")).unwrap()
    );
}

#[test]
fn a_pull_killed_midway_leaves_no_manifest_without_its_objects_and_the_next_completes() {
    let moto = Moto::start();
    let a = clone(TWELVE);
    a.pipe(&["run", "p.yaml"]).ok();
    pipe(&a, &moto, None, &["push", "p.yaml"]).ok();
    let b = clone(TWELVE);
    let mut cmd = b.command(&["pull", "p.yaml", "--jobs", "1"]);
    cmd.envs(moto.env(None)).stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    kill_after(&moto, "\"GET /cache/team/objects/", &mut child);
    // Whatever arrived is sound: every manifest's objects are there and
    // intact, nothing half-written carries an object's name.
    assert_cache_sound(&b);
    let status = b.pipe(&["status", "p.yaml"]);
    assert_eq!(
        status.code, 1,
        "the killed pull fetched everything: {}",
        status.stdout
    );
    let next = pipe(&b, &moto, None, &["pull", "p.yaml"]);
    assert!(
        next.ok().stderr.contains("pull: 12 stages"),
        "{}",
        next.stderr
    );
    b.pipe(&["status", "p.yaml"]).ok();
    assert_eq!(b.pipe(&["run", "p.yaml"]).ok().ran(), Vec::<String>::new());
}

/// A missing bucket answers 404 as a missing record does: it must not read
/// as "not cached there".
#[test]
fn a_missing_bucket_is_an_error_not_a_miss() {
    let moto = Moto::start();
    let a = clone(PIPELINE);
    let elsewhere = |args: &[&str]| {
        let mut cmd = a.command(args);
        cmd.envs(moto.env(None))
            .env("PIPE_REMOTE", "s3://no-such-bucket/team");
        Out::from(cmd.output().unwrap())
    };
    let run = elsewhere(&["run", "--remote", "p.yaml"]);
    run.expect_code(3);
    assert!(
        run.stderr
            .contains("the bucket `no-such-bucket` does not exist"),
        "{}",
        run.stderr
    );
    assert_eq!(run.ran(), Vec::<String>::new());
    let check = elsewhere(&["remote", "check"]);
    check.expect_code(3);
    assert!(check.stdout.contains("read: no"), "{}", check.stdout);
}
