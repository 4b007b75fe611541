//! The generic `cmd` kind: a shell command with declared `deps` and `outs`.
//!
//! It makes the engine testable and useful without any machine learning: a
//! `cmd` stage runs `sh -c <run>` in the pipeline file's directory with its
//! output directory, inputs and GPUs passed through environment variables.
//! The files listed in `deps` enter the cache key by content (the runner
//! hashes every `Path` parameter), so editing a script reruns its stage.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::kind::param::{Lit, ParamSpec, ParamType, Params};
use crate::kind::{Context, Declaration, InputSpec, Kind};

pub mod supervise;

/// `kind: cmd`.
pub const KIND: Kind = Kind::in_process(
    Declaration {
        name: "cmd",
        summary: "Runs a shell command that writes files into `$PIPE_OUT`.",
        params: PARAMS,
        inputs: INPUTS,
        any_inputs: true,
        check,
        ..Declaration::BASE
    },
    Cmd::run,
);

/// A `cmd` stage's settings, from its params.
struct CmdSpec {
    /// The shell command.
    run: String,
    /// The files it must create in `$PIPE_OUT`.
    outs: Vec<String>,
}

impl CmdSpec {
    fn from_params(p: &Params) -> Result<CmdSpec> {
        Ok(CmdSpec {
            run: p.string("run")?,
            outs: p.strings("outs")?,
        })
    }
}

const PARAMS: &[ParamSpec] = &[
    ParamSpec::required(
        "run",
        ParamType::Str,
        "The shell command, run with `sh -c` in the pipeline file's directory. It writes its \
         outputs into `$PIPE_OUT`; `$PIPE_INPUT_<SLOT>` names the output directories of the \
         stages given in input slot `<slot>` (upper-cased, space-separated when several).",
    ),
    ParamSpec::optional(
        "deps",
        ParamType::List(&ParamType::Path),
        Lit::EmptyList,
        "Project files or directories the command reads; their contents enter the cache key.",
    ),
    ParamSpec::optional(
        "outs",
        ParamType::List(&ParamType::Str),
        Lit::EmptyList,
        "Files the command must create in `$PIPE_OUT`; the stage fails if one is missing.",
    ),
];

const INPUTS: &[InputSpec] = &[InputSpec {
    name: "<any>",
    doc: "Any input name; each names one or more stages whose output directories the command \
          reads through `$PIPE_INPUT_<NAME>`.",
    required: false,
    many: true,
}];

fn check(params: &Params) -> Vec<(String, String)> {
    let outs = CmdSpec::from_params(params)
        .map(|s| s.outs)
        .unwrap_or_default();
    outs.iter()
        .filter_map(|out| out_path_problem(out))
        .map(|problem| ("outs".to_string(), problem))
        .collect()
}

/// The `cmd` kind's code.
struct Cmd;

impl Cmd {
    fn run(ctx: &Context) -> Result<()> {
        let spec = CmdSpec::from_params(ctx.params)?;
        let script = spec.run.as_str();
        let cwd = ctx.pipeline_file.parent().unwrap_or(Path::new("."));
        // Its own process group, so that Ctrl-C or a failure can stop the
        // whole command tree (`a | b`, `sleep` in a script) and nothing else,
        // led by a supervisor that stops the group when this pipe dies.
        let mut command = supervise::command(ctx.work, "sh", &["-c", script]);
        command
            .current_dir(cwd)
            .stdin(Stdio::null())
            .env("PIPE_OUT", ctx.out)
            .env("PIPE_WORK", ctx.work)
            .env("PIPE_STAGE", ctx.stage)
            .env("CUDA_VISIBLE_DEVICES", visible_devices(ctx.gpus));
        for (slot, dirs) in input_dirs(ctx)? {
            command.env(format!("PIPE_INPUT_{}", env_name(&slot)), dirs);
        }
        let (reader, writer) =
            std::io::pipe().map_err(|e| Error::io(cwd, "create a pipe for", e))?;
        let writer2 = writer
            .try_clone()
            .map_err(|e| Error::io(cwd, "create a pipe for", e))?;
        command.stdout(writer).stderr(writer2);
        let mut child = command
            .spawn()
            .map_err(|e| Error::environment(format!("cannot start `sh`: {e}")))?;
        // Drop our copies of the pipe's write end, or the reader never sees EOF.
        drop(command);
        let progress = ctx.progress;
        let pid = child.id();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let (status, cancelled) = std::thread::scope(|scope| {
            scope.spawn(|| {
                for line in BufReader::new(reader).lines() {
                    match line {
                        Ok(line) => progress.log(line),
                        Err(_) => break,
                    }
                }
            });
            // Watches for Ctrl-C while this thread blocks in wait(); wakes
            // at once when the command ends.
            let watcher = scope.spawn(move || loop {
                match done_rx.recv_timeout(Duration::from_millis(50)) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        if ctx.cancel.load(Ordering::Relaxed) {
                            kill_group(pid);
                            return true;
                        }
                    }
                    _ => return false,
                }
            });
            let status = child.wait();
            let _ = done_tx.send(());
            (status, watcher.join().unwrap_or(false))
        });
        let status =
            status.map_err(|e| Error::environment(format!("cannot wait for `sh`: {e}")))?;
        if cancelled {
            return Err(Error::Cancelled);
        }
        if !status.success() {
            let how = match status.code() {
                Some(code) => format!("command exited with status {code}"),
                None => "command was killed by a signal".to_string(),
            };
            return Err(Error::failed(how));
        }
        let missing: Vec<String> = spec
            .outs
            .iter()
            .filter(|name| !ctx.out.join(name).exists())
            .map(|name| format!("`{name}`"))
            .collect();
        if !missing.is_empty() {
            return Err(Error::failed(format!(
                "command succeeded but did not create {} in `$PIPE_OUT`",
                missing.join(", ")
            ))
            .with_hint("write declared outputs to \"$PIPE_OUT/<name>\""));
        }
        Ok(())
    }
}

/// Why `name` cannot be a file in `$PIPE_OUT`, if it cannot: an absolute
/// path, or one that leaves the directory through `..`, would make pipe
/// check (and store) something outside the stage's output.
pub fn out_path_problem(name: &str) -> Option<String> {
    let path = Path::new(name);
    if path.is_absolute() {
        return Some(format!(
            "output `{name}` is an absolute path; outputs are files in `$PIPE_OUT`"
        ));
    }
    let mut depth = 0usize;
    for part in path.components() {
        match part {
            std::path::Component::ParentDir if depth == 0 => {
                return Some(format!("output `{name}` leaves `$PIPE_OUT` through `..`"));
            }
            std::path::Component::ParentDir => depth -= 1,
            std::path::Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    (depth == 0).then(|| format!("output `{name}` names `$PIPE_OUT` itself, not a file in it"))
}

/// SIGTERM to the command's process group, SIGKILL if it lingers. The
/// group outlives its leader, so it is signalled by id, not through `Child`.
fn kill_group(pid: u32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    // SAFETY: plain syscalls on a process group this process created.
    unsafe { libc::kill(-pid, libc::SIGTERM) };
    let deadline = Instant::now() + supervise::GRACE;
    // kill(pgid, 0) fails with ESRCH once no process of the group is left.
    while Instant::now() < deadline && unsafe { libc::kill(-pid, 0) } == 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe { libc::kill(-pid, libc::SIGKILL) };
}

/// `CUDA_VISIBLE_DEVICES` for the handed device ordinals. Ordinals are
/// relative to what pipe itself sees, so when pipe runs under
/// `CUDA_VISIBLE_DEVICES=2,3` ordinal 0 is device `2`. No GPUs handed gives
/// the empty string: a CPU stage must not grab a GPU another stage holds.
pub fn visible_devices(gpus: &[usize]) -> String {
    let outer: Option<Vec<String>> = std::env::var("CUDA_VISIBLE_DEVICES").ok().map(|v| {
        v.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    });
    gpus.iter()
        .map(|&i| match &outer {
            Some(list) => list.get(i).cloned().unwrap_or_else(|| i.to_string()),
            None => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `data` -> `DATA`, `raw-data` -> `RAW_DATA`.
fn env_name(slot: &str) -> String {
    slot.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Each input slot's upstream output directories, space-separated. The
/// engine keeps one directory of hard links per cached output and shares it
/// between stages, because commands expect directories while the cache
/// stores files by content.
fn input_dirs(ctx: &Context) -> Result<Vec<(String, String)>> {
    ctx.inputs
        .iter()
        .map(|(slot, artifacts)| {
            let dirs = artifacts
                .iter()
                .map(|a| ctx.input_dir(a).map(|d| d.display().to_string()))
                .collect::<Result<Vec<_>>>()?;
            Ok((slot.clone(), dirs.join(" ")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_stay_in_pipe_out() {
        assert_eq!(out_path_problem("model.pt"), None);
        assert_eq!(out_path_problem("a/../b.txt"), None);
        assert_eq!(out_path_problem("./sub/c"), None);
        for bad in ["/etc/passwd", "../x", "a/../../x", ".", "a/..", ""] {
            assert!(out_path_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn env_names_are_shell_safe() {
        assert_eq!(env_name("data"), "DATA");
        assert_eq!(env_name("raw-data.v2"), "RAW_DATA_V2");
    }
}
