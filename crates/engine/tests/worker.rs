//! The parent's side of running a kind in a worker process, against small
//! shell workers that speak (or break) the protocol: events are relayed,
//! errors keep their kind and data, a crash fails the stage with the
//! worker's last words, and cancelling closes the worker's stdin.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pipe_engine::kind::{NoHistory, WorkDirs};
use pipe_engine::worker::{run_job, WireJob};
use pipe_engine::{ContentHash, Context, Declaration, Error, Params, Progress, Value};

static DECLARATION: Declaration = Declaration {
    name: "fake",
    summary: "A kind for these tests.",
    history: &["epochs"],
    ..Declaration::BASE
};

/// Runs `script` as the worker (`sh -c script sh serve`) for a stage with
/// one parameter, returning the outcome and the stage's log.
fn run_script(script: &str, cancel: &AtomicBool) -> (pipe_engine::Result<()>, Vec<String>) {
    let params = Params(BTreeMap::from([("lr".to_string(), Value::Float(0.5))]));
    let inputs = BTreeMap::new();
    let progress = Progress::hidden();
    let ctx = Context {
        stage: "fake[a]",
        params: &params,
        inputs: &inputs,
        out: Path::new("/tmp/out"),
        work: Path::new("/tmp/work"),
        gpus: &[1],
        progress: &progress,
        history: &NoHistory,
        input_dirs: &WorkDirs,
        cancel,
        pipeline_file: Path::new("p.yaml"),
        pipeline_hash: ContentHash::of(b"p"),
    };
    let mut command = Command::new("sh");
    command.args(["-c", script, "sh"]);
    let outcome = run_job(command, &WireJob::new(&DECLARATION, &ctx), &ctx);
    (outcome, progress.lines())
}

#[test]
fn relays_events_and_succeeds_on_done() {
    let script = r#"
        read job
        # The job names the stage, its params and its GPUs.
        case "$job" in *'"stage":"fake[a]"'*'"lr":0.5'*) ;; *) exit 9 ;; esac
        case "$job" in *'"gpus":[1]'*) ;; *) exit 9 ;; esac
        echo '{"event":"total","total":4,"bytes":false}'
        echo '{"event":"inc","n":2}'
        echo '{"event":"log","line":"epoch 1 done"}'
        echo 'a library printing to stdout'
        echo 'a warning on stderr' >&2
        echo '{"event":"done"}'
    "#;
    let (outcome, log) = run_script(script, &AtomicBool::new(false));
    outcome.unwrap();
    assert!(log.contains(&"epoch 1 done".to_string()), "{log:?}");
    assert!(log.contains(&"a library printing to stdout".to_string()));
    assert!(log.contains(&"a warning on stderr".to_string()));
}

#[test]
fn a_reported_error_keeps_its_kind_and_data() {
    let script = r#"
        read job
        echo '{"event":"failed","error":{"kind":"bad_data","path":"/d/train.bin","message":"truncated","hint":"download again"}}'
        exit 1
    "#;
    let (outcome, _) = run_script(script, &AtomicBool::new(false));
    let e = outcome.unwrap_err();
    assert_eq!(e.exit_code(), 2);
    match e {
        Error::BadData { path, hint, .. } => {
            assert_eq!(path, Path::new("/d/train.bin"));
            assert_eq!(hint.as_deref(), Some("download again"));
        }
        other => panic!("{other:?}"),
    }
    let script = r#"read job; echo '{"event":"failed","error":{"kind":"io","path":"/x","action":"write","message":"disk full","io_kind":"StorageFull"}}'"#;
    let e = run_script(script, &AtomicBool::new(false)).0.unwrap_err();
    assert_eq!(e.exit_code(), 3);
    assert!(
        matches!(
            e,
            Error::Io {
                action: "write",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn a_crash_fails_the_stage_with_the_last_words() {
    let script = r#"
        read job
        echo '{"event":"log","line":"loading"}'
        echo 'terminate called after throwing c10::Error' >&2
        kill -SEGV $$
    "#;
    let (outcome, _) = run_script(script, &AtomicBool::new(false));
    let e = outcome.unwrap_err();
    let text = e.to_string();
    assert!(text.contains("killed by signal 11 (SIGSEGV)"), "{text}");
    assert!(text.contains("terminate called after throwing"), "{text}");
    assert!(text.contains("without a result"), "{text}");
    assert!(e.hint().is_some());
}

#[test]
fn success_without_a_result_is_a_failure() {
    let (outcome, _) = run_script("read job; exit 0", &AtomicBool::new(false));
    assert!(matches!(outcome, Err(Error::Failed { .. })), "{outcome:?}");
}

#[test]
fn cancelling_closes_the_worker_stdin() {
    // The worker waits for the end of its stdin, then stops without a result.
    let script =
        r#"read job; cat >/dev/null; echo '{"event":"failed","error":{"kind":"cancelled"}}'"#;
    let cancel = AtomicBool::new(false);
    let outcome = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            cancel.store(true, Ordering::Relaxed);
        });
        run_script(script, &cancel).0
    });
    assert!(matches!(outcome, Err(Error::Cancelled)), "{outcome:?}");
    // And a worker killed by the Ctrl-C that reached it too is a cancel.
    let cancel = AtomicBool::new(true);
    let (outcome, _) = run_script("read job; kill -INT $$", &cancel);
    assert!(matches!(outcome, Err(Error::Cancelled)), "{outcome:?}");
}

/// A kind whose code panics, as a tch op does on a bad shape.
static PANICKING: Declaration = Declaration {
    name: "fake",
    summary: "A kind that panics.",
    ..Declaration::BASE
};

/// Not a test: this test binary acting as the worker program (`serve`) when
/// `worker_panics_are_bugs_not_crashes` starts it with `PIPE_TEST_SERVE`.
#[test]
fn serve_a_panicking_kind() {
    if std::env::var_os("PIPE_TEST_SERVE").is_none() {
        return;
    }
    static CANCEL: AtomicBool = AtomicBool::new(false);
    let mut registry = pipe_engine::Registry::new();
    registry.add(pipe_engine::Kind::in_process(PANICKING, |_| {
        panic!("shape mismatch: [2, 3] vs [3, 2]")
    }));
    // End the harness's `test ... ` line, so that events start a line.
    println!();
    let ok = pipe_engine::worker::serve(&registry, &CANCEL);
    std::process::exit(if ok { 0 } else { 1 });
}

#[test]
fn worker_panics_are_bugs_not_crashes() {
    let params = Params(BTreeMap::new());
    let inputs = BTreeMap::new();
    let progress = Progress::hidden();
    let cancel = AtomicBool::new(false);
    let ctx = Context {
        stage: "fake",
        params: &params,
        inputs: &inputs,
        out: Path::new("/tmp/out"),
        work: Path::new("/tmp/work"),
        gpus: &[],
        progress: &progress,
        history: &NoHistory,
        input_dirs: &WorkDirs,
        cancel: &cancel,
        pipeline_file: Path::new("p.yaml"),
        pipeline_hash: ContentHash::of(b"p"),
    };
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "serve_a_panicking_kind",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PIPE_TEST_SERVE", "1");
    let outcome = run_job(command, &WireJob::new(&PANICKING, &ctx), &ctx);
    let Err(Error::Internal(message)) = outcome else {
        panic!(
            "a panic must be an internal error (a bug), got {outcome:?}; log: {:?}",
            progress.lines()
        );
    };
    assert!(
        message.contains("kind `fake` panicked") && message.contains("shape mismatch"),
        "{message}"
    );
    assert!(!message.contains("crash"), "{message}");
}
