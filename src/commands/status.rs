//! `pipe status`.

use pipe_engine::{Error, Result};

use super::Config;
use crate::cli::StatusArgs;

pub fn status(_config: &Config, _args: StatusArgs) -> Result<u8> {
    Err(Error::internal("`pipe status` is being built"))
}
