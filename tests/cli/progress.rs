//! Progress where a run's stderr is a pipe (`| tee`, nohup, CI): a stage's
//! lines arrive as it prints them, named after the stage, and its log in
//! the cache grows as it runs so that `pipe logs -f` follows it. On a
//! terminal (through `script`), a no-op run prints one summary line.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::project::Project;

/// `slow` prints, then waits for the test to create `go` (10 s at most),
/// then prints again: its first line can only be seen early if it streams.
const WAITS: &str = r#"version: 1
stages:
  slow:
    kind: cmd
    params:
      run: 'echo first; for i in $(seq 200); do [ -f go ] && break; sleep 0.05; done; echo second; echo x > "$PIPE_OUT/x"'
  other:
    kind: cmd
    params:
      run: 'echo y > "$PIPE_OUT/y"'
"#;

fn project() -> Project {
    let p = Project::new();
    p.write("p.yaml", WAITS);
    p
}

fn still_running(child: &mut Child) -> bool {
    child.try_wait().expect("try_wait").is_none()
}

#[test]
fn a_cmd_stage_streams_its_output_named_while_it_runs() {
    let p = project();
    let mut run = p
        .command(&["run", "p.yaml"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(run.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    loop {
        let line = lines.next().expect("a line before the end").unwrap();
        seen.push(line.clone());
        if line == "slow first" {
            break;
        }
    }
    assert!(still_running(&mut run), "came only at the end: {seen:?}");
    p.write("go", "");
    seen.extend(lines.map(Result::unwrap));
    assert!(run.wait().unwrap().success(), "{seen:?}");
    assert!(seen.iter().any(|l| l == "slow second"), "{seen:?}");
    assert!(seen.iter().any(|l| l.starts_with("ran slow ")), "{seen:?}");
    assert!(
        seen.iter().all(|l| !l.ends_with(' ')),
        "padded lines: {seen:?}"
    );
}

#[test]
fn pipe_logs_follows_a_running_stage_and_stops_when_it_ends() {
    let p = project();
    let none = p.pipe(&["logs", "p.yaml", "slow"]);
    assert_ne!(none.code, 0);
    assert!(
        none.stderr.contains("`slow` has no log yet"),
        "{}",
        none.stderr
    );
    let mut run = p
        .command(&["run", "p.yaml"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The log exists while the stage runs.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = p.pipe(&["logs", "p.yaml", "slow"]);
        if out.code == 0 {
            assert_eq!(out.stdout, "first\n");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no log while running: {}",
            out.stderr
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut follow = p
        .command(&["logs", "p.yaml", "slow", "-f"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "first");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        still_running(&mut follow),
        "-f stopped while the stage runs"
    );
    p.write("go", "");
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(rest, vec!["second".to_string()]);
    assert!(follow.wait().unwrap().success());
    assert!(run.wait().unwrap().success());
    // Finished: printed whole, without -f too.
    assert_eq!(
        p.pipe(&["logs", "p.yaml", "slow"]).stdout,
        "first\nsecond\n"
    );
    let quiet = p.pipe(&["logs", "p.yaml", "other"]);
    assert!(
        quiet
            .stderr
            .contains("`other` has no log: it ran and printed nothing"),
        "{}",
        quiet.stderr
    );
}

/// `pipe run p.yaml` with stderr on a terminal (through `script`): what
/// the terminal received, without carriage returns.
fn on_terminal(p: &Project) -> String {
    terminal(p, "run p.yaml", &[]).replace('\r', "")
}

/// `pipe ARGS` (read by the shell) with `env` and stderr on a terminal
/// (through `script`): what the terminal received; it must succeed.
pub(crate) fn terminal(p: &Project, args: &str, env: &[(&str, &str)]) -> String {
    let pipe = env!("CARGO_BIN_EXE_pipe");
    let out = std::process::Command::new("script")
        .args(["-qec", &format!("{pipe} {args}"), "/dev/null"])
        .current_dir(p.path())
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .env_remove("PIPE_CACHE_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("`script` (util-linux) runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    text
}

#[test]
fn on_a_terminal_lines_name_their_stage_and_are_not_padded() {
    let p = project();
    p.write("go", "");
    let text = on_terminal(&p);
    assert!(text.contains("slow first\n"), "{text}");
    assert!(text.contains("slow second\n"), "{text}");
    // Our lines end at their text (bars, drawn between them, are padded).
    for line in text.lines() {
        for word in ["ran ", "slow first", "slow second"] {
            if let Some(at) = line.rfind(word) {
                assert!(!line[at..].ends_with(' '), "padded: {line:?}");
            }
        }
    }
}

#[test]
fn a_no_op_run_on_a_terminal_prints_one_summary_line() {
    let p = project();
    p.write("go", "");
    p.pipe(&["run", "p.yaml"]).ok();
    let text = on_terminal(&p);
    assert!(text.contains("2 stages cached\n"), "{text}");
    assert!(!text.contains("cached slow"), "{text}");
}
