//! `pipe kinds`.

use pipe_engine::{Error, Result};

use super::Config;

pub fn kinds(_config: &Config) -> Result<u8> {
    Err(Error::internal("`pipe kinds` is being built"))
}
