//! `pipe cache`.

use pipe_engine::{Error, Result};

use super::Config;
use crate::cli::{CacheCommand, GcArgs};

pub fn cache(_config: &Config, _cmd: CacheCommand) -> Result<u8> {
    Err(Error::internal("`pipe cache` is being built"))
}

pub fn gc(_config: &Config, _args: GcArgs) -> Result<u8> {
    Err(Error::internal("`pipe gc` is being built"))
}
