//! `pipe doctor`.

use pipe_engine::{Error, Result};

use super::Config;

pub fn doctor(_config: &Config) -> Result<u8> {
    Err(Error::internal("`pipe doctor` is being built"))
}
