//! bwrap's command line: parse (pure) → validate (needs a few host facts).
//!
//! `parse` turns argv into a [`crate::config::Config`] exactly as bwrap 0.13.1 reads it,
//! with bwrap's error wording. It performs no namespace work; the only I/O it
//! does is what bwrap does while parsing: reading `--args FD` and
//! `--add-seccomp-fd FD` data. `validate` applies the cross-option rules that
//! depend on who is calling (implicit `--unshare-user`, `-try` probing).

pub mod parse;
pub mod spec;
pub mod validate;

use std::ffi::OsString;

use crate::error::CliError;
use crate::report::Reporter;

pub use parse::Parsed;
pub use validate::{validate, HostFacts, Validated};

/// Parse `args` (argv without `argv[0]`). Warnings such as
/// `Only the last --chdir option will take effect` go to `reporter` as they
/// are met, before any later error; `--level-prefix` sets
/// `reporter.level_prefix` from the point where it appears.
pub fn parse(args: Vec<OsString>, reporter: &mut Reporter) -> Result<Parsed, CliError> {
    parse::parse_args(args, reporter)
}
