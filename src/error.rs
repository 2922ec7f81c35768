//! Error types. Their `Display` is exactly the text after `bwrap: `.
//!
//! * [`CliError`]: usage errors; the message is all of it.
//! * [`SetupError`]: kernel work that failed; it names the step (bwrap's
//!   wording, e.g. `Can't mount proc on /newroot/proc`), optionally the path,
//!   and the errno, rendered like C's `strerror`.
//!
//! Exit status for any of them is 1, as bwrap.

use std::ffi::OsString;
use std::fmt;

use nix::errno::Errno;

/// A command-line error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// No COMMAND: print usage on stderr, exit 1 (no `bwrap:` line).
    #[error("usage")]
    Usage,
    /// A plain message (`Unknown option --foo`).
    #[error("{0}")]
    Msg(String),
    /// A message followed by `: strerror(errno)` (`Can't read --args data: Bad file descriptor`).
    #[error("{msg}: {}", errno.desc())]
    Errno { msg: String, errno: Errno },
}

impl CliError {
    pub fn msg(s: impl Into<String>) -> Self {
        CliError::Msg(s.into())
    }
}

/// What follows the step text in a setup error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// Nothing (bwrap's `die()`).
    None,
    /// `: strerror(errno)` (bwrap's `die_with_error()`).
    Errno(Errno),
    /// A mount(2) failure: like `Errno`, but ENOSPC gets bwrap's mount-max hint.
    Mount(Errno),
    /// `: <stage>[: strerror]` as in bwrap's bind-mount errors.
    Stage(String, Option<Errno>),
}

/// A failed setup step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError {
    /// Short machine-readable step name for `--json-status-fd` (`"mount-proc"`).
    pub step: &'static str,
    /// The path the step acted on, when there is one.
    pub path: Option<OsString>,
    /// bwrap's message text, already formatted with the path.
    pub message: String,
    pub detail: Detail,
}

impl SetupError {
    pub fn new(step: &'static str, message: impl Into<String>, detail: Detail) -> Self {
        SetupError { step, path: None, message: message.into(), detail }
    }

    pub fn with_path(mut self, path: impl Into<OsString>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// A second, warning-level line pointing at the likely cause, for the
    /// failures whose errno alone says little (DECISIONS.md: hints).
    pub fn hint(&self) -> Option<&'static str> {
        let errno = self.errno()?;
        match (self.step, errno) {
            ("uid-map" | "gid-map" | "setgroups", Errno::EPERM | Errno::EACCES) => Some(
                "Hint: an AppArmor policy may restrict unprivileged user namespaces \
                 (Ubuntu 23.10+: sysctl kernel.apparmor_restrict_unprivileged_userns=0, or a profile \
                 allowing userns for this binary); /proc mounted with hidepid has the same effect",
            ),
            ("loopback", Errno::EPERM | Errno::EACCES) => Some(
                "Hint: an AppArmor policy may restrict unprivileged user namespaces \
                 (Ubuntu 23.10+: sysctl kernel.apparmor_restrict_unprivileged_userns=0, or a profile \
                 allowing userns for this binary)",
            ),
            _ => None,
        }
    }

    /// The errno behind this error, if any.
    pub fn errno(&self) -> Option<Errno> {
        match &self.detail {
            Detail::None => None,
            Detail::Errno(e) | Detail::Mount(e) => Some(*e),
            Detail::Stage(_, e) => *e,
        }
    }
}

/// bwrap's `mount_strerror`: ENOSPC on mount gets a hint about mount-max.
pub fn mount_strerror(errno: Errno) -> &'static str {
    match errno {
        Errno::ENOSPC => {
            "Limit exceeded (ENOSPC). (Hint: Check that /proc/sys/fs/mount-max is sufficient, typically 100000)"
        }
        e => e.desc(),
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match &self.detail {
            Detail::None => Ok(()),
            Detail::Errno(e) => write!(f, ": {}", e.desc()),
            Detail::Mount(e) => write!(f, ": {}", mount_strerror(*e)),
            Detail::Stage(stage, None) => write!(f, ": {stage}"),
            Detail::Stage(stage, Some(e)) => write!(f, ": {stage}: {}", mount_strerror(*e)),
        }
    }
}

impl std::error::Error for SetupError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matches_bwrap() {
        let e = SetupError::new(
            "mount-proc",
            "Can't mount proc on /newroot/proc",
            Detail::Mount(Errno::EPERM),
        );
        assert_eq!(e.to_string(), "Can't mount proc on /newroot/proc: Operation not permitted");
        let e = SetupError::new(
            "mount-tmpfs",
            "Can't mount tmpfs on /newroot/x",
            Detail::Mount(Errno::ENOSPC),
        );
        assert_eq!(
            e.to_string(),
            "Can't mount tmpfs on /newroot/x: Limit exceeded (ENOSPC). (Hint: Check that /proc/sys/fs/mount-max is sufficient, typically 100000)"
        );
        let e = SetupError::new(
            "bind-mount",
            "Can't bind mount /oldroot/usr/bin on /newroot/bin",
            Detail::Stage("Unable to mount source on destination".into(), Some(Errno::ENOENT)),
        );
        assert_eq!(
            e.to_string(),
            "Can't bind mount /oldroot/usr/bin on /newroot/bin: Unable to mount source on destination: No such file or directory"
        );
    }

    #[test]
    fn apparmor_hints_where_decided() {
        assert!(setup_errno("uid-map", "setting up uid map", Errno::EACCES).hint().is_some());
        assert!(setup_errno("loopback", "loopback: Failed RTM_NEWADDR", Errno::EPERM)
            .hint()
            .is_some());
        assert!(setup_errno("uid-map", "setting up uid map", Errno::EINVAL).hint().is_none());
        assert!(setup_errno("mount-proc", "x", Errno::EPERM).hint().is_none());
    }
}

/// Any failure of nestwrap itself.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Cli(#[from] CliError),
    #[error(transparent)]
    Setup(#[from] SetupError),
}

/// Shorthand for `SetupError::new(step, msg, Detail::Errno(errno))`.
pub fn setup_errno(step: &'static str, msg: impl Into<String>, errno: Errno) -> SetupError {
    SetupError::new(step, msg, Detail::Errno(errno))
}

/// Shorthand for a plain message without errno.
pub fn setup_msg(step: &'static str, msg: impl Into<String>) -> SetupError {
    SetupError::new(step, msg, Detail::None)
}
