//! `--scope-abstract-unix-sockets` and `--scope-signals`: Landlock scopes
//! (Linux 6.12, ABI 6) that keep COMMAND away from the host's abstract unix
//! sockets and processes, which a sandbox sharing the network namespace (or
//! the pid namespace) can otherwise reach.
//!
//! * Checked before anything is set up ([`check_available`]): a kernel
//!   without Landlock (ENOSYS), with Landlock disabled (EOPNOTSUPP) or with an
//!   ABI before 6 fails with one `bwrap:` line. The caller asked for the
//!   protection, so it is never dropped silently.
//! * Applied in the sandbox's last process before the pid-1 reaper is forked
//!   ([`apply`]), so the reaper and COMMAND share one domain (COMMAND can
//!   still signal its reaper parent), after the user-namespace lock and
//!   before the caller's seccomp programs (which cannot get in the way).
//! * Recorded on `--json-status-fd`'s `command-pid` line as
//!   `"landlock-scopes": ["abstract-unix-sockets", "signals"]`.

use crate::config::Config;
use crate::error::{setup_errno, setup_msg, SetupError, Step};
use crate::fallback::Fallback;
use crate::sys::landlock::{self, SCOPES_ABI, SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL};

/// The scope bits the command line asks for.
pub fn requested(config: &Config) -> u64 {
    let mut bits = 0;
    if config.scope_abstract_unix_sockets {
        bits |= SCOPE_ABSTRACT_UNIX_SOCKET;
    }
    if config.scope_signals {
        bits |= SCOPE_SIGNAL;
    }
    bits
}

/// The options behind `bits`, for messages: `--scope-signals`, or both
/// joined with "and".
fn options(bits: u64) -> String {
    let mut v = Vec::new();
    if bits & SCOPE_ABSTRACT_UNIX_SOCKET != 0 {
        v.push("--scope-abstract-unix-sockets");
    }
    if bits & SCOPE_SIGNAL != 0 {
        v.push("--scope-signals");
    }
    v.join(" and ")
}

/// The record names (`abstract-unix-sockets`, `signals`).
pub fn names(bits: u64) -> Vec<&'static str> {
    crate::fallback::scope_names(bits)
}

/// What stands in the way of the scopes, given the ABI query's answer;
/// `None` when they are available. Shared with `--diagnose`.
pub fn unavailable(abi: Result<u32, nix::errno::Errno>) -> Option<String> {
    use nix::errno::Errno;
    match abi {
        Ok(n) if n >= SCOPES_ABI => None,
        Ok(n) => Some(format!("this kernel has Landlock ABI {n}")),
        Err(Errno::EOPNOTSUPP) => Some(format!(
            "Landlock is disabled on this system (it must be in the lsm= boot parameter): {}",
            crate::error::strerror(Errno::EOPNOTSUPP)
        )),
        Err(e) => Some(format!("landlock_create_ruleset: {}", crate::error::strerror(e))),
    }
}

/// The requirement, in the words of the error line.
fn requirement(bits: u64) -> String {
    let verb = if bits.count_ones() > 1 { "need" } else { "needs" };
    format!("{}: {verb} Landlock ABI {SCOPES_ABI} or later (Linux 6.12)", options(bits))
}

/// Fail early, before any namespace is made, when the requested scopes
/// cannot be had here.
pub fn check_available(config: &Config) -> Result<(), SetupError> {
    let bits = requested(config);
    if bits == 0 {
        return Ok(());
    }
    match unavailable(landlock::abi_version()) {
        None => Ok(()),
        Some(why) => Err(setup_msg(Step::Landlock, format!("{}: {why}", requirement(bits)))),
    }
}

/// Enter the domain (in the process that becomes the reaper, or COMMAND
/// when there is none). Returns the record for the monitor.
pub fn apply(config: &Config) -> Result<Option<Fallback>, SetupError> {
    let bits = requested(config);
    if bits == 0 {
        return Ok(None);
    }
    landlock::restrict_self_scoped(bits).map_err(|(call, e)| {
        // E2BIG: the kernel allows 16 nested domains (nested sandboxes
        // that each ask for scopes).
        let what = match e {
            nix::errno::Errno::E2BIG => format!("{call} (16 nested Landlock domains at most)"),
            _ => call.to_owned(),
        };
        setup_errno(Step::Landlock, format!("{}: {what}", options(bits)), e)
    })?;
    Ok(Some(Fallback::LandlockScopes(bits)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;

    #[test]
    fn messages_name_the_requirement() {
        let cfg = Config { scope_signals: true, ..Config::default() };
        assert_eq!(requested(&cfg), SCOPE_SIGNAL);
        assert_eq!(
            requirement(requested(&cfg)),
            "--scope-signals: needs Landlock ABI 6 or later (Linux 6.12)"
        );
        let both = SCOPE_SIGNAL | SCOPE_ABSTRACT_UNIX_SOCKET;
        assert_eq!(options(both), "--scope-abstract-unix-sockets and --scope-signals");
        assert!(requirement(both)
            .ends_with("and --scope-signals: need Landlock ABI 6 or later (Linux 6.12)"));
        assert_eq!(names(both), ["abstract-unix-sockets", "signals"]);
        assert_eq!(unavailable(Ok(6)), None);
        assert_eq!(unavailable(Ok(7)), None);
        assert_eq!(unavailable(Ok(5)).unwrap(), "this kernel has Landlock ABI 5");
        assert_eq!(
            unavailable(Err(Errno::ENOSYS)).unwrap(),
            "landlock_create_ruleset: Function not implemented"
        );
        assert!(unavailable(Err(Errno::EOPNOTSUPP)).unwrap().ends_with("Operation not supported"));
    }
}
