//! `pipe run`.

use pipe_engine::{Error, Result};

use super::Config;
use crate::cli::RunArgs;

pub fn run(_config: &Config, _args: RunArgs) -> Result<u8> {
    Err(Error::internal("`pipe run` is being built"))
}
