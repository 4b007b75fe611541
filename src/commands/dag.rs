//! `pipe dag`.

use pipe_engine::{Error, Result};

use super::Config;
use crate::cli::DagArgs;

pub fn dag(_config: &Config, _args: DagArgs) -> Result<u8> {
    Err(Error::internal("`pipe dag` is being built"))
}
