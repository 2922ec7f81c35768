//! The lexopt loop. (Stub; replaced by the parser work.)
use std::ffi::OsString;

use super::Parsed;
use crate::error::CliError;
use crate::report::Reporter;

pub fn parse_args(_args: Vec<OsString>, _reporter: &mut Reporter) -> Result<Parsed, CliError> {
    Err(CliError::Usage)
}
