//! Buffers whose size comes from a file or a parameter are allocated
//! fallibly: a size the machine cannot hold fails the stage with a message
//! instead of aborting the whole `pipe` (Rust aborts on allocation failure,
//! which would kill every other running stage).

use pipe_engine::{Error, Result};

/// `len` zero bytes for `what`, or a stage error.
pub fn zeroed(len: usize, what: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    buf.try_reserve_exact(len).map_err(|_| {
        Error::failed(format!(
            "cannot allocate {len} bytes for {what}: more memory than this machine can give"
        ))
        .with_hint(
            "make the data smaller (fewer or smaller images), or run on a machine with more memory",
        )
    })?;
    buf.resize(len, 0);
    Ok(buf)
}

/// `a * b`, or a stage error naming `what` when it overflows.
pub fn product(a: usize, b: usize, what: &str) -> Result<usize> {
    a.checked_mul(b)
        .ok_or_else(|| Error::failed(format!("{what} is too large to address")))
}
