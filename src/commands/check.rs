//! `pipe check`.

use pipe_engine::{Error, Result};

use super::Config;
use crate::cli::CheckArgs;

pub fn check(_config: &Config, _args: CheckArgs) -> Result<u8> {
    Err(Error::internal("`pipe check` is being built"))
}
