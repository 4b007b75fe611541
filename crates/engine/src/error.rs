//! The one error type of `pipe`, with an exit code per kind of blame.
//!
//! Variants carry data, not preformatted text; the `pipe` binary renders
//! them in one place. Stage kinds return this type too.

use std::fmt;
use std::path::PathBuf;

use crate::diagnostic::Diagnostic;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug)]
pub enum Error {
    /// The pipeline file or command line is wrong (every problem found).
    Invalid(Vec<Diagnostic>),
    /// A file a stage reads is not what it should be (truncated, foreign
    /// format, wrong checksum).
    BadData {
        path: PathBuf,
        message: String,
        hint: Option<String>,
    },
    /// Reading or writing a file failed.
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    /// Another process holds a lock we need and we were told not to wait.
    Locked { path: PathBuf, holder: String },
    /// A download could not be completed.
    Network {
        url: String,
        message: String,
        hint: Option<String>,
    },
    /// A stage failed for a reason of its own (a command's exit status, a
    /// numeric problem in training, ...).
    Stage {
        stage: String,
        message: String,
        hint: Option<String>,
    },
    /// A stage kind's own failure before it knows its stage name; the runner
    /// wraps it into [`Error::Stage`].
    Failed {
        message: String,
        hint: Option<String>,
    },
    /// One or more stages failed (with `--keep-going`, all of them).
    StagesFailed(Vec<Error>),
    /// The environment lacks something (CUDA, a tool, a device).
    Environment {
        message: String,
        hint: Option<String>,
    },
    /// The user pressed Ctrl-C.
    Cancelled,
    /// A broken invariant: a bug in pipe.
    Internal(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            action,
            source,
        }
    }

    pub fn failed(message: impl Into<String>) -> Error {
        Error::Failed {
            message: message.into(),
            hint: None,
        }
    }

    pub fn bad_data(path: impl Into<PathBuf>, message: impl Into<String>) -> Error {
        Error::BadData {
            path: path.into(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn environment(message: impl Into<String>) -> Error {
        Error::Environment {
            message: message.into(),
            hint: None,
        }
    }

    pub fn internal(message: impl Into<String>) -> Error {
        Error::Internal(message.into())
    }

    /// Adds or replaces the hint of variants that carry one.
    pub fn with_hint(mut self, h: impl Into<String>) -> Error {
        let h = Some(h.into());
        match &mut self {
            Error::BadData { hint, .. }
            | Error::Network { hint, .. }
            | Error::Stage { hint, .. }
            | Error::Failed { hint, .. }
            | Error::Environment { hint, .. } => *hint = h,
            _ => {}
        }
        self
    }

    /// The process exit code: 1 a stage failed, 2 bad input, 3 environment,
    /// 101 a bug in pipe, 130 interrupted.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Stage { .. } | Error::Failed { .. } | Error::StagesFailed(_) => 1,
            Error::Invalid(_) | Error::BadData { .. } => 2,
            Error::Io { .. }
            | Error::Locked { .. }
            | Error::Network { .. }
            | Error::Environment { .. } => 3,
            Error::Cancelled => 130,
            Error::Internal(_) => 101,
        }
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::BadData { hint, .. }
            | Error::Network { hint, .. }
            | Error::Stage { hint, .. }
            | Error::Failed { hint, .. }
            | Error::Environment { hint, .. } => hint.as_deref(),
            Error::Locked { .. } => {
                Some("wait for the other `pipe` to finish, or use another `--cache-dir`")
            }
            Error::Internal(_) => {
                Some("this is a bug in pipe; please report it with the command you ran")
            }
            _ => None,
        }
    }
}

/// One line (or, for `Invalid`, a summary line); the binary adds hints and
/// renders diagnostics with their source lines.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(d) => {
                let n = d.len();
                write!(f, "{n} problem{} found", if n == 1 { "" } else { "s" })
            }
            Error::BadData { path, message, .. } => write!(f, "`{}`: {message}", path.display()),
            Error::Io {
                path,
                action,
                source,
            } => write!(f, "cannot {action} `{}`: {source}", path.display()),
            Error::Locked { path, holder } => {
                write!(f, "`{}` is locked by {holder}", path.display())
            }
            Error::Network { url, message, .. } => {
                write!(f, "download of `{url}` failed: {message}")
            }
            Error::Stage { stage, message, .. } => write!(f, "stage `{stage}` failed: {message}"),
            Error::Failed { message, .. } => f.write_str(message),
            Error::StagesFailed(errors) => {
                let n = errors.len();
                write!(f, "{n} stage{} failed", if n == 1 { "" } else { "s" })
            }
            Error::Environment { message, .. } => f.write_str(message),
            Error::Cancelled => f.write_str("interrupted"),
            Error::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The message of a caught panic (`panic!` with a string or a format).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_default()
}
