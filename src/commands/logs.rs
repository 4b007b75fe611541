//! `pipe logs FILE STAGE [-f]`: print a stage's log from the cache; with
//! `-f`, follow it while the stage runs (in this or another `pipe`) and
//! stop when it ends. The log is the one of the stage's current key, so
//! `--set` selects the run it belongs to, as with `pipe run`.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use pipe_engine::{Error, Result};

use super::Config;
use crate::cli::LogsArgs;

/// How often `-f` looks for new lines.
const POLL: Duration = Duration::from_millis(100);

pub fn logs(config: &Config, args: LogsArgs) -> Result<u8> {
    let registry = crate::registry::registry();
    let file = &args.pipeline.file;
    let pipeline = pipe_engine::load(file, &registry, &args.pipeline.set)?;
    let cache = pipe_engine::cache::Cache::existing(&config.cache_dir(Some(file)))?;
    let statuses =
        pipe_engine::status::status(&pipeline, &cache, std::slice::from_ref(&args.stage), &[])?;
    let Some(status) = statuses.iter().find(|s| s.name == args.stage) else {
        return Err(
            Error::failed(format!("`{}` names no single stage", args.stage))
                .with_hint("give a stage's full name, as `pipe status` lists them"),
        );
    };
    let Some(key) = status.key else {
        return Err(no_log(&args.stage, " yet: an upstream stage has not run"));
    };
    let log = cache.log_path(&key);
    let lock = cache.key_lock_path(&key);
    let mut out = std::io::stdout().lock();
    let mut offset = 0;
    loop {
        let running = args.follow && is_running(&lock)?;
        offset = copy_from(&log, offset, &mut out)?;
        if !running {
            break;
        }
        std::thread::sleep(POLL);
    }
    if offset == 0 && !log.exists() {
        let why = if status.up_to_date() {
            ": it ran and printed nothing"
        } else {
            " yet: it has not run with this configuration"
        };
        return Err(no_log(&args.stage, why));
    }
    Ok(0)
}

fn no_log(stage: &str, why: &str) -> Error {
    Error::failed(format!("`{stage}` has no log{why}")).with_hint(
        "`pipe run FILE STAGE` runs it; `pipe logs FILE STAGE -f` follows it while it runs",
    )
}

/// Whether a `pipe` holds the stage's key lock, i.e. computes it now.
/// Creates nothing: no lock file means nobody ever ran it here.
fn is_running(lock: &Path) -> Result<bool> {
    if !lock.exists() {
        return Ok(false);
    }
    Ok(pipe_engine::lock::try_exclusive(lock)?.is_none())
}

/// Writes what `log` holds past `offset`; returns the new end.
fn copy_from(log: &Path, offset: u64, out: &mut impl Write) -> Result<u64> {
    let mut file = match std::fs::File::open(log) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(log, "read", e)),
    };
    // A rerun truncates the log: start over.
    let len = file
        .metadata()
        .map_err(|e| Error::io(log, "read", e))?
        .len();
    let offset = if len < offset { 0 } else { offset };
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| Error::io(log, "read", e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| Error::io(log, "read", e))?;
    let _ = out.write_all(&bytes);
    let _ = out.flush();
    Ok(offset + bytes.len() as u64)
}
