//! The one way commands write to stdout and stderr.
//!
//! Rust ignores SIGPIPE, so a closed pipe (`pipe kinds | head`) turns every
//! write into an `EPIPE` error, which `print!` turns into a panic (exit
//! 101). Here, as in ripgrep, a closed stdout ends `pipe` quietly with exit
//! 0: the reader has all it wanted. Another write error (a full disk under
//! `> file`) is an environment error. A closed stderr is ignored, so the
//! command keeps its exit code.

use std::io::{ErrorKind, Write};

use pipe_engine::{Error, Result};

/// Writes `text` to stdout and flushes it.
pub fn out(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(Error::io("<stdout>", "write", e)),
    }
}

/// Writes `text` to stderr; a failure is ignored (there is nowhere left to
/// report it).
pub fn err(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
