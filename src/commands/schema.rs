//! `pipe schema`.

use pipe_engine::{Error, Result};

pub fn schema() -> Result<u8> {
    Err(Error::internal("`pipe schema` is being built"))
}
