//! The program's entry: `--version`, `--diagnose` dispatch, the setuid
//! refusal, usage, parse → validate → preflight → environment → spawn.
//! It sits above `sandbox` and `diagnose`, so neither calls the other back
//! (DESIGN.md, "Shape").

use std::ffi::OsString;

use crate::cli::{self, HostFacts, Parsed};
use crate::config::{EnvOp, ProcFallback};
use crate::error::{setup_msg, CliError, Error, SetupError, Step};
use crate::report::Reporter;
use crate::{sandbox, sys};

/// The whole program: returns the exit status.
pub fn main_entry() -> i32 {
    sandbox::note_parent_at_start();
    // Callers that ignore SIGCHLD would break waiting (bwrap 0.11.1 resets it).
    sys::reset_signal_default(libc::SIGCHLD);
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = if args.is_empty() { OsString::from("bwrap") } else { args.remove(0) };
    let argv0_str = argv0.to_string_lossy().into_owned();

    // `bwrap --version` alone is answered before anything else.
    if args.len() == 1 && args[0] == "--version" {
        println!("{}", crate::BWRAP_VERSION);
        return 0;
    }

    // `--diagnose` (first argument only): report, before anything changes
    // this process (no_new_privs), and before the setuid refusal, which the
    // report explains.
    if args.first().is_some_and(|a| a == "--diagnose") {
        return crate::diagnose::main(args.split_off(1));
    }

    let mut reporter = Reporter::stderr();
    if sys::is_secure_exec() {
        reporter.error("setuid use of bubblewrap is not supported");
        return 1;
    }
    if let Err(e) = nix::sys::prctl::set_no_new_privs() {
        reporter
            .error(&format!("prctl(PR_SET_NO_NEW_PRIVS) failed: {}", crate::error::strerror(e)));
        return 1;
    }

    match run(args, &argv0_str, &mut reporter) {
        Ok(code) => code,
        Err(Error::Cli(CliError::Usage)) => {
            eprint!("{}", crate::doc::usage(&argv0_str));
            1
        }
        Err(e) => {
            reporter.error(&e.to_string());
            if let Error::Setup(setup) = &e {
                if let Some(hint) = setup.hint() {
                    reporter.warn(hint);
                }
            }
            1
        }
    }
}

fn run(args: Vec<OsString>, argv0: &str, reporter: &mut Reporter) -> Result<i32, Error> {
    let config = match cli::parse(args, reporter)? {
        Parsed::Help => {
            print!("{}", crate::doc::usage(argv0));
            return Ok(0);
        }
        Parsed::Version => {
            println!("{}", crate::BWRAP_VERSION);
            return Ok(0);
        }
        Parsed::Run(config) => *config,
    };
    let facts = HostFacts::probe_for(&config);
    let config = cli::validate(config, &facts)?;
    sandbox::preflight(&config)?;
    // Read before --clearenv/--unsetenv can remove it.
    let proc_fallback = match config.proc_fallback {
        Some(mode) => mode,
        None => proc_fallback_from_env()?.unwrap_or_default(),
    };
    apply_env_ops(&config.env_ops);
    Ok(sandbox::spawn(config, proc_fallback)?)
}

/// `NESTWRAP_PROC_FALLBACK=auto|quiet|never` (the option wins over it).
fn proc_fallback_from_env() -> Result<Option<ProcFallback>, SetupError> {
    let Some(value) = std::env::var_os("NESTWRAP_PROC_FALLBACK") else { return Ok(None) };
    ProcFallback::from_env_value(&value).map(Some).map_err(|m| setup_msg(Step::Env, m))
}

/// `--setenv`/`--unsetenv`/`--clearenv`, applied to our own environment in
/// order (bwrap does it while parsing); COMMAND's PATH lookup and the
/// `$HOME` fallback then see the result.
fn apply_env_ops(ops: &[EnvOp]) {
    // The parser already refused empty names and names with '=' (bwrap's
    // "setenv failed"), the only ones std::env would reject.
    for op in ops {
        match op {
            EnvOp::Set { var, value } => std::env::set_var(var, value),
            EnvOp::Unset { var } => std::env::remove_var(var),
            EnvOp::Clear => {
                for (k, _) in std::env::vars_os() {
                    std::env::remove_var(k);
                }
            }
        }
    }
}
