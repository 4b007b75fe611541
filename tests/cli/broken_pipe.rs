//! Every command that writes to stdout, run with a stdout whose reader is
//! gone (`pipe kinds | head` once `head` has exited): `pipe` ends quietly
//! with exit 0 instead of panicking with exit 101.

use std::process::{Command, Stdio};

use crate::common::project::Project;

const PIPELINE: &str = r#"version: 1
stages:
  a:
    kind: cmd
    params: {run: "echo a > $PIPE_OUT/a.txt"}
"#;

/// The write end of a pipe whose read end is closed: the stdin of a
/// `true` that has exited.
fn widowed_pipe() -> Stdio {
    let mut reader = Command::new("true")
        .stdin(Stdio::piped())
        .spawn()
        .expect("true runs");
    let writer = reader.stdin.take().expect("piped stdin");
    reader.wait().expect("true exits");
    Stdio::from(writer)
}

/// Runs `pipe args` with stdout a pipe whose read end is already closed.
fn closed_stdout(p: &Project, args: &[&str]) {
    let out = p
        .command(args)
        .stdout(widowed_pipe())
        .stderr(Stdio::piped())
        .output()
        .expect("pipe runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "`pipe {}` panicked:\n{stderr}",
        args.join(" ")
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "`pipe {}`:\n{stderr}",
        args.join(" ")
    );
}

#[test]
fn every_command_that_prints_ends_quietly_when_its_reader_is_gone() {
    let p = Project::new();
    p.write("p.yaml", PIPELINE);
    p.pipe(&["run", "p.yaml"]).ok();
    for args in [
        &["kinds"][..],
        &["kinds", "--format", "json"],
        &["kinds", "--format", "markdown"],
        &["schema"],
        &["dag", "p.yaml"],
        &["dag", "p.yaml", "--format", "dot"],
        &["status", "p.yaml"],
        &["status", "p.yaml", "--format", "json"],
        &["check", "p.yaml"],
        &["check", "p.yaml", "--format", "json"],
        &["check", "p.yaml", "--format", "github"],
        &["run", "p.yaml", "--dry-run"],
        &["cache", "verify"],
        &["gc", "p.yaml", "--dry-run"],
        &["gc", "p.yaml"],
    ] {
        closed_stdout(&p, args);
    }
}

/// A closed stderr loses the messages but keeps the exit code.
#[test]
fn a_closed_stderr_keeps_the_exit_code_of_a_failure() {
    let p = Project::new();
    p.write("bad.yaml", "version: 1\nstages:\n  a: {kind: trian}\n");
    let out = p
        .command(&["check", "bad.yaml"])
        .stderr(widowed_pipe())
        .output()
        .expect("pipe runs");
    assert_eq!(out.status.code(), Some(2));
}
