//! Orchestration: parse → validate → prepare → clone → monitor / child.
use crate::cli::{self, Parsed};
use crate::error::CliError;
use crate::report::Reporter;

pub fn main_entry() -> i32 {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let argv0 = if args.is_empty() { "bwrap".into() } else { args.remove(0) };
    let mut reporter = Reporter::stderr();
    match cli::parse(args, &mut reporter) {
        Ok(Parsed::Help) => {
            print!("{}", crate::doc::usage(&argv0.to_string_lossy()));
            0
        }
        Ok(Parsed::Version) => {
            println!("{}", crate::BWRAP_VERSION);
            0
        }
        Ok(Parsed::Run(_)) => 1,
        Err(CliError::Usage) => {
            eprint!("{}", crate::doc::usage(&argv0.to_string_lossy()));
            1
        }
        Err(e) => {
            reporter.error(&e.to_string());
            1
        }
    }
}
