//! Running a stage kind in a worker process.
//!
//! Some kinds need a heavy library: loading libtorch alone costs `pipe`
//! most of a second at every start, `pipe --help` and `pipe check`
//! included. So `pipe` does not link it. Such a kind's [`Declaration`] is
//! registered with an [`OutOfProcess`] ([`Kind::in_worker`]), which starts
//! a worker program that lives beside the `pipe` executable. The worker
//! ([`serve`]) rebuilds the [`Context`] from a [`WireJob`], runs the real kind
//! and reports back one JSON [`Event`] per line on its stdout: progress,
//! log lines, then the outcome.
//!
//! Closing the worker's stdin cancels it: `pipe` does so on Ctrl-C, and the
//! system does so when `pipe` dies. A worker that crashes fails its stage
//! with what it printed on stderr; the rest of the run goes on.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{panic_message, Error, Result};
use crate::hash::ContentHash;
use crate::kind::param::Params;
use crate::kind::progress::{Progress, Update};
use crate::kind::value::Value;
#[cfg(doc)]
use crate::kind::Kind;
use crate::kind::{Artifact, Context, Declaration, History, Registry, WorkDirs};

/// Names a worker program to use instead of the one beside `pipe`.
pub const WORKER_ENV: &str = "PIPE_WORKER";

/// How a kind runs in a worker program: `pipe <declaration> -> program serve`.
#[derive(Clone, Copy)]
pub struct OutOfProcess {
    /// The worker's file name, looked for beside the running executable.
    program: &'static str,
    /// Why the program may be missing and how to get it.
    hint: &'static str,
    /// Environment defaults for the worker; a variable already set wins.
    env: &'static [(&'static str, &'static str)],
}

impl OutOfProcess {
    pub const fn new(program: &'static str, hint: &'static str) -> OutOfProcess {
        OutOfProcess {
            program,
            hint,
            env: &[],
        }
    }

    /// Sets environment defaults for the worker (read by its libraries as
    /// they load, so only the parent can set them); a variable already set
    /// in `pipe`'s environment wins.
    pub const fn with_env(mut self, env: &'static [(&'static str, &'static str)]) -> OutOfProcess {
        self.env = env;
        self
    }

    /// Where the program is: `$PIPE_WORKER`, else beside the running
    /// executable.
    pub fn path(&self) -> Result<PathBuf> {
        worker_path(self.program)
    }

    /// `$PIPE_WORKER`, else `program` beside the running executable.
    fn program(&self, declaration: &Declaration) -> Result<PathBuf> {
        let path = self.path()?;
        if path.is_file() {
            return Ok(path);
        }
        let (message, hint) = if std::env::var_os(WORKER_ENV).is_some() {
            (
                format!(
                    "`{WORKER_ENV}` names {}, which is not a file",
                    path.display()
                ),
                format!(
                    "unset `{WORKER_ENV}` to use the `{}` beside pipe",
                    self.program
                ),
            )
        } else {
            (
                format!(
                    "the `{}` kind runs in the worker program `{}`, which is not at {}",
                    declaration.name,
                    self.program,
                    path.display()
                ),
                self.hint.to_string(),
            )
        };
        Err(Error::Environment {
            message,
            hint: Some(hint),
        })
    }
}

/// Where the worker `program` is: `$PIPE_WORKER`, else beside the running
/// executable (whether it is there or not).
pub fn worker_path(program: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(WORKER_ENV) {
        return Ok(PathBuf::from(path));
    }
    let exe =
        std::env::current_exe().map_err(|e| Error::io("the running executable", "resolve", e))?;
    Ok(exe.with_file_name(program))
}

impl OutOfProcess {
    /// Runs the kind `declaration` in the worker: starts it, hands it the
    /// job and relays its events to `ctx`.
    pub fn run(&self, declaration: &Declaration, ctx: &Context) -> Result<()> {
        let program = self.program(declaration)?;
        let mut command = Command::new(&program);
        for (name, value) in self.env {
            if std::env::var_os(name).is_none() {
                command.env(name, value);
            }
        }
        run_job(command, &WireJob::new(declaration, ctx), ctx)
    }
}

/// Everything a worker needs to rebuild a stage's [`Context`].
#[derive(Debug, Serialize, Deserialize)]
pub struct WireJob {
    pub kind: String,
    pub stage: String,
    pub params: serde_json::Value,
    pub inputs: BTreeMap<String, Vec<Artifact>>,
    pub out: PathBuf,
    pub work: PathBuf,
    pub gpus: Vec<usize>,
    pub pipeline_file: PathBuf,
    pub pipeline_hash: ContentHash,
    /// The answers of [`History::variants`] for each parameter the kind
    /// declares in [`Declaration::history`].
    pub history: BTreeMap<String, Vec<(serde_json::Value, Artifact)>>,
}

impl WireJob {
    pub fn new(declaration: &Declaration, ctx: &Context) -> WireJob {
        WireJob {
            kind: declaration.name.to_string(),
            stage: ctx.stage.to_string(),
            params: ctx
                .params
                .0
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
            inputs: ctx
                .inputs
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            out: ctx.out.to_path_buf(),
            work: ctx.work.to_path_buf(),
            gpus: ctx.gpus.to_vec(),
            pipeline_file: ctx.pipeline_file.to_path_buf(),
            pipeline_hash: ctx.pipeline_hash,
            history: declaration
                .history
                .iter()
                .map(|&param| {
                    let variants = ctx
                        .history
                        .variants(param)
                        .iter()
                        .map(|(v, a)| (v.to_json(), a.clone()))
                        .collect();
                    (param.to_string(), variants)
                })
                .collect(),
        }
    }
}

/// One line of a worker's stdout.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Total {
        total: u64,
        bytes: bool,
    },
    Position {
        pos: u64,
    },
    Inc {
        n: u64,
    },
    Message {
        text: String,
    },
    Log {
        line: String,
    },
    Measure {
        name: String,
        value: f64,
    },
    /// The kind succeeded; the last line.
    Done,
    /// The kind failed; the last line.
    Failed {
        error: WireError,
    },
}

impl Event {
    /// Applies a progress event to `progress` (as the stage's own
    /// `Progress` showed it where it ran); the outcome for the last line.
    pub fn apply(self, progress: &Progress) -> Option<Result<()>> {
        match self {
            Event::Total { total, bytes } => progress.set_total(total, bytes),
            Event::Position { pos } => progress.set_position(pos),
            Event::Inc { n } => progress.inc(n),
            Event::Message { text } => progress.message(text),
            Event::Log { line } => progress.log(line),
            Event::Measure { name, value } => progress.measure(&name, value),
            Event::Done => return Some(Ok(())),
            Event::Failed { error } => return Some(Err(error.into_error())),
        }
        None
    }

    pub fn from_update(update: Update) -> Event {
        match update {
            Update::Total { total, bytes } => Event::Total { total, bytes },
            Update::Position(pos) => Event::Position { pos },
            Update::Inc(n) => Event::Inc { n },
            Update::Message(text) => Event::Message {
                text: text.to_string(),
            },
            Update::Log(line) => Event::Log {
                line: line.to_string(),
            },
            Update::Measure(name, value) => Event::Measure {
                name: name.to_string(),
                value,
            },
        }
    }
}

/// An [`Error`] on the wire: the variants a kind returns, with their data.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireError {
    Failed {
        message: String,
        hint: Option<String>,
    },
    BadData {
        path: PathBuf,
        message: String,
        hint: Option<String>,
    },
    Network {
        url: String,
        message: String,
        hint: Option<String>,
    },
    Environment {
        message: String,
        hint: Option<String>,
    },
    Io {
        path: PathBuf,
        action: String,
        message: String,
        /// `std::io::ErrorKind`'s Debug name.
        io_kind: String,
    },
    Cancelled,
    Internal {
        message: String,
    },
}

/// The actions of [`Error::Io`] that survive the trip (it holds a `&'static str`).
const IO_ACTIONS: &[&str] = &[
    "read", "write", "create", "open", "remove", "sync", "lock", "resolve", "replace", "rename",
    "copy",
];

impl WireError {
    fn from(error: &Error) -> WireError {
        match error {
            Error::Failed { message, hint } => WireError::Failed {
                message: message.clone(),
                hint: hint.clone(),
            },
            Error::BadData {
                path,
                message,
                hint,
            } => WireError::BadData {
                path: path.clone(),
                message: message.clone(),
                hint: hint.clone(),
            },
            Error::Network { url, message, hint } => WireError::Network {
                url: url.clone(),
                message: message.clone(),
                hint: hint.clone(),
            },
            Error::Environment { message, hint } => WireError::Environment {
                message: message.clone(),
                hint: hint.clone(),
            },
            Error::Io {
                path,
                action,
                source,
            } => WireError::Io {
                path: path.clone(),
                action: action.to_string(),
                message: source.to_string(),
                io_kind: format!("{:?}", source.kind()),
            },
            Error::Cancelled => WireError::Cancelled,
            Error::Internal(message) => WireError::Internal {
                message: message.clone(),
            },
            other => WireError::Failed {
                message: other.to_string(),
                hint: other.hint().map(str::to_string),
            },
        }
    }

    fn into_error(self) -> Error {
        match self {
            WireError::Failed { message, hint } => Error::Failed { message, hint },
            WireError::BadData {
                path,
                message,
                hint,
            } => Error::BadData {
                path,
                message,
                hint,
            },
            WireError::Network { url, message, hint } => Error::Network { url, message, hint },
            WireError::Environment { message, hint } => Error::Environment { message, hint },
            WireError::Io {
                path,
                action,
                message,
                io_kind,
            } => {
                let kind = match io_kind.as_str() {
                    "NotFound" => std::io::ErrorKind::NotFound,
                    "PermissionDenied" => std::io::ErrorKind::PermissionDenied,
                    "AlreadyExists" => std::io::ErrorKind::AlreadyExists,
                    "UnexpectedEof" => std::io::ErrorKind::UnexpectedEof,
                    "InvalidData" => std::io::ErrorKind::InvalidData,
                    _ => std::io::ErrorKind::Other,
                };
                let action = IO_ACTIONS
                    .iter()
                    .find(|a| **a == action)
                    .copied()
                    .unwrap_or("access");
                Error::Io {
                    path,
                    action,
                    source: std::io::Error::new(kind, message),
                }
            }
            WireError::Cancelled => Error::Cancelled,
            WireError::Internal { message } => Error::Internal(message),
        }
    }
}

/// How many of the worker's last stderr lines a failure quotes.
const STDERR_TAIL: usize = 12;

/// Runs `job` in `<command> serve` and relays its events to `ctx`.
pub fn run_job(mut command: Command, job: &WireJob, ctx: &Context) -> Result<()> {
    let line = serde_json::to_string(job)
        .map_err(|e| Error::internal(format!("cannot encode the job: {e}")))?;
    let program = PathBuf::from(command.get_program());
    let program = program.as_path();
    let mut child = command
        .arg("serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Environment {
            message: format!("cannot start the worker {}: {e}", program.display()),
            hint: Some("rebuild pipe (`cargo build --release`) so that its worker matches".into()),
        })?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    if let Err(e) = writeln!(stdin, "{line}").and_then(|()| stdin.flush()) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(Error::io(program, "write", e));
    }
    let finished = AtomicBool::new(false);
    let tail = Mutex::new(VecDeque::new());
    let outcome = std::thread::scope(|scope| {
        // Closing stdin is the worker's signal to stop.
        scope.spawn(|| {
            let _stdin = stdin;
            while !finished.load(Ordering::Relaxed) && !ctx.cancel.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        scope.spawn(|| relay_stderr(stderr, ctx.progress, &tail));
        let outcome = relay_events(stdout, ctx.progress);
        finished.store(true, Ordering::Relaxed);
        outcome
    });
    let status = child
        .wait()
        .map_err(|e| Error::io(program, "wait for", e))?;
    match outcome {
        Some(Ok(())) if status.success() => Ok(()),
        Some(Ok(())) => Err(Error::failed(format!(
            "the worker {} reported success but then {}",
            program.display(),
            describe(status)
        ))),
        Some(Err(e)) => Err(e),
        None if ctx.cancel.load(Ordering::Relaxed) => Err(Error::Cancelled),
        None => {
            let tail: Vec<String> = tail.into_inner().unwrap_or_default().into();
            let said = if tail.is_empty() {
                String::new()
            } else {
                format!("; its last words:\n  {}", tail.join("\n  "))
            };
            Err(Error::Failed {
                message: format!(
                    "the worker {} {} without a result{said}",
                    program.display(),
                    describe(status)
                ),
                hint: Some(
                    "a crash in a native library (libtorch, CUDA) ends the worker, not pipe; \
                     run the stage again, and report it if it repeats"
                        .into(),
                ),
            })
        }
    }
}

/// Applies the worker's events to `progress` until its outcome (`None`
/// when the worker stopped without one). Lines that are not events (a
/// library printing to stdout) become log lines.
fn relay_events(stdout: impl Read, progress: &Progress) -> Option<Result<()>> {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        match serde_json::from_str::<Event>(&line) {
            Ok(event) => {
                if let Some(outcome) = event.apply(progress) {
                    return Some(outcome);
                }
            }
            Err(_) if line.trim().is_empty() => {}
            Err(_) => progress.log(line),
        }
    }
    None
}

/// Logs what the worker prints on stderr and keeps its last lines.
fn relay_stderr(stderr: impl Read, progress: &Progress, tail: &Mutex<VecDeque<String>>) {
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        progress.log(line.clone());
        if let Ok(mut tail) = tail.lock() {
            if tail.len() == STDERR_TAIL {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    }
}

fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = match signal {
                libc::SIGSEGV => " (SIGSEGV)",
                libc::SIGABRT => " (SIGABRT)",
                libc::SIGKILL => " (SIGKILL: out of memory?)",
                libc::SIGBUS => " (SIGBUS)",
                _ => "",
            };
            return format!("was killed by signal {signal}{name}");
        }
    }
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => "stopped".to_string(),
    }
}

/// The worker's side: reads one [`WireJob`] from stdin, runs it with the kind
/// of that name in `registry`, and writes [`Event`]s to stdout. `cancel` is
/// set when stdin closes (the caller may set it too, on Ctrl-C). Returns
/// whether the kind succeeded.
pub fn serve(registry: &Registry, cancel: &'static AtomicBool) -> bool {
    let stdin = std::io::stdin();
    let mut first = String::new();
    if let Err(e) = stdin.lock().read_line(&mut first) {
        emit(&failed(&Error::io("stdin", "read", e)));
        return false;
    }
    // Anything after the job, or the end of input, means stop.
    std::thread::spawn(move || {
        let mut rest = Vec::new();
        let _ = std::io::stdin().lock().read_to_end(&mut rest);
        cancel.store(true, Ordering::Relaxed);
    });
    let outcome = serde_json::from_str::<WireJob>(&first)
        .map_err(|e| Error::internal(format!("the worker cannot read its job: {e}")))
        .and_then(|job| run_caught(registry, job, cancel));
    match &outcome {
        Ok(()) => emit(&Event::Done),
        Err(e) => emit(&failed(e)),
    }
    outcome.is_ok()
}

fn failed(error: &Error) -> Event {
    Event::Failed {
        error: WireError::from(error),
    }
}

fn emit(event: &Event) {
    if let Ok(line) = serde_json::to_string(event) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// Runs `job`, turning a panic in its kind (tch panics on bad shapes) into an
/// internal error that names the bug, rather than a worker that dies without
/// a word and is reported as a crash in a native library.
pub fn run_caught(registry: &Registry, job: WireJob, cancel: &AtomicBool) -> Result<()> {
    let kind = job.kind.clone();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_locally(registry, job, cancel)
    }))
    .unwrap_or_else(|panic| {
        Err(Error::internal(format!(
            "kind `{kind}` panicked in the worker: {}",
            panic_message(&*panic)
        )))
    })
}

fn run_locally(registry: &Registry, job: WireJob, cancel: &AtomicBool) -> Result<()> {
    let kind = registry
        .get(&job.kind)
        .ok_or_else(|| Error::internal(format!("the worker has no kind `{}`", job.kind)))?;
    let params = match Value::from_json(&job.params) {
        Value::Map(map) => Params(map),
        other => {
            return Err(Error::internal(format!(
                "the job's params are {}, not a map",
                other.type_name()
            )))
        }
    };
    let inputs = job.inputs;
    let history = Recorded(
        job.history
            .into_iter()
            .map(|(param, variants)| {
                let variants = variants
                    .into_iter()
                    .map(|(v, a)| (Value::from_json(&v), a))
                    .collect();
                (param, variants)
            })
            .collect(),
    );
    let progress = Progress::forwarding(|update| emit(&Event::from_update(update)));
    let ctx = Context {
        stage: &job.stage,
        params: &params,
        inputs: &inputs,
        out: &job.out,
        work: &job.work,
        gpus: &job.gpus,
        progress: &progress,
        history: &history,
        input_dirs: &WorkDirs,
        cancel,
        pipeline_file: &job.pipeline_file,
        pipeline_hash: job.pipeline_hash,
    };
    kind.run(&ctx)
}

/// The history a job carried.
struct Recorded(BTreeMap<String, Vec<(Value, Artifact)>>);

impl History for Recorded {
    fn variants(&self, param: &str) -> Vec<(Value, Artifact)> {
        self.0.get(param).cloned().unwrap_or_default()
    }
}
