//! Error types. Their `Display` is exactly the text after `bwrap: `.
//!
//! * [`CliError`]: usage errors; the message is all of it.
//! * [`SetupError`]: kernel work that failed; it names the step (bwrap's
//!   wording, e.g. `Can't mount proc on /proc`), optionally the path,
//!   and the errno, rendered like C's `strerror`.
//!
//! Exit status for any of them is 1, as bwrap.

use std::ffi::OsString;
use std::fmt;
use std::sync::OnceLock;

use nix::errno::Errno;
mod step;
pub use step::Step;

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
    #[error("{msg}: {}", strerror(*errno))]
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
    /// The step that failed; `step.as_str()` is the `"step"` on
    /// `--json-status-fd` (`"mount-proc"`).
    pub step: Step,
    /// The path the step acted on, when there is one.
    pub path: Option<OsString>,
    /// bwrap's message text, already formatted with the path.
    pub message: String,
    pub detail: Detail,
}

impl SetupError {
    pub fn new(step: Step, message: impl Into<String>, detail: Detail) -> Self {
        SetupError { step, path: None, message: message.into(), detail }
    }

    pub fn with_path(mut self, path: impl Into<OsString>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// A second, warning-level line pointing at the likely cause, for the
    /// failures whose errno alone says little (DECISIONS.md: hints), and at
    /// `nestwrap --diagnose`, which names the policy. The error line itself
    /// stays bwrap's. Failures that must look exactly like bwrap's (a proc
    /// mount under `--proc-fallback never`, ENOSPC) get no hint.
    pub fn hint(&self) -> Option<&'static str> {
        // Keyed on the step and errno only, never on the message: bwrap's
        // wording can change without losing a hint.
        if self.step == Step::CloneNoPermission {
            return Some(
                "Hint: besides the sysctl, a container's seccomp profile or an LSM (AppArmor, \
                 SELinux) can refuse new namespaces; `nestwrap --diagnose` shows which applies here",
            );
        }
        let errno = self.errno()?;
        match (self.step, errno) {
            (Step::UidMap | Step::GidMap | Step::Setgroups, Errno::EPERM | Errno::EACCES) => Some(
                "Hint: an AppArmor policy may restrict unprivileged user namespaces \
                 (Ubuntu 23.10+: load the nestwrap package's profile /etc/apparmor.d/nestwrap, or \
                 sysctl kernel.apparmor_restrict_unprivileged_userns=0); /proc mounted with hidepid has the same effect; \
                 `nestwrap --diagnose` shows which applies here",
            ),
            (Step::Loopback, Errno::EPERM | Errno::EACCES) => Some(
                "Hint: an AppArmor policy may restrict unprivileged user namespaces \
                 (Ubuntu 23.10+: load the nestwrap package's profile /etc/apparmor.d/nestwrap, or \
                 sysctl kernel.apparmor_restrict_unprivileged_userns=0); `nestwrap --diagnose` shows which applies here",
            ),
            (Step::Clone, Errno::EPERM) => Some(
                "Hint: a container's seccomp profile or an LSM may refuse new namespaces; \
                 `nestwrap --diagnose` shows which applies here",
            ),
            (Step::MountBase, Errno::EACCES | Errno::EPERM) => Some(
                "Hint: SELinux confinement (podman's container_t) or an AppArmor profile refuses \
                 this tmpfs mount; run the container with --security-opt label=type:spc_t \
                 (or apparmor=unconfined); `nestwrap --diagnose` shows which applies here",
            ),
            (Step::MakeSlave, Errno::EACCES | Errno::EPERM) => Some(
                "Hint: Docker's default AppArmor profile refuses mount propagation changes; run the \
                 container with --security-opt apparmor=unconfined; `nestwrap --diagnose` shows \
                 which applies here",
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

/// C's `strerror(errno)` as the C library words it (`Bad file descriptor`).
///
/// nix's `Errno::desc()` has its own, older table (`Bad file number` for
/// EBADF), so the text comes from the standard library, which asks libc.
pub fn strerror(errno: Errno) -> &'static str {
    static TEXTS: OnceLock<Vec<&'static str>> = OnceLock::new();
    const KNOWN: i32 = 134;
    let texts = TEXTS.get_or_init(|| {
        (0..KNOWN)
            .map(|n| {
                let text = std::io::Error::from_raw_os_error(n).to_string();
                let text = match text.rfind(" (os error ") {
                    Some(i) => text[..i].to_owned(),
                    None => text,
                };
                &*Box::leak(text.into_boxed_str())
            })
            .collect()
    });
    usize::try_from(errno as i32)
        .ok()
        .and_then(|i| texts.get(i))
        .copied()
        .unwrap_or_else(|| errno.desc())
}

/// bwrap's `mount_strerror`: ENOSPC on mount gets a hint about mount-max.
pub fn mount_strerror(errno: Errno) -> &'static str {
    match errno {
        Errno::ENOSPC => {
            "Limit exceeded (ENOSPC). (Hint: Check that /proc/sys/fs/mount-max is sufficient, typically 100000)"
        }
        e => strerror(e),
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match &self.detail {
            Detail::None => Ok(()),
            Detail::Errno(e) => write!(f, ": {}", strerror(*e)),
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
    fn strerror_matches_c_library() {
        assert_eq!(strerror(Errno::EBADF), "Bad file descriptor");
        assert_eq!(strerror(Errno::ENOENT), "No such file or directory");
        assert_eq!(strerror(Errno::EPERM), "Operation not permitted");
        let e = CliError::Errno { msg: "Can't read --args data".into(), errno: Errno::EBADF };
        assert_eq!(e.to_string(), "Can't read --args data: Bad file descriptor");
        assert_eq!(
            setup_errno(Step::MkdirParents, "Can't mkdir /a", Errno::EROFS).to_string(),
            "Can't mkdir /a: Read-only file system"
        );
    }

    #[test]
    fn display_matches_bwrap() {
        let e = SetupError::new(
            Step::MountProc,
            "Can't mount proc on /proc",
            Detail::Mount(Errno::EPERM),
        );
        assert_eq!(e.to_string(), "Can't mount proc on /proc: Operation not permitted");
        let e = SetupError::new(
            Step::MountTmpfs,
            "Can't mount tmpfs on /x",
            Detail::Mount(Errno::ENOSPC),
        );
        assert_eq!(
            e.to_string(),
            "Can't mount tmpfs on /x: Limit exceeded (ENOSPC). (Hint: Check that /proc/sys/fs/mount-max is sufficient, typically 100000)"
        );
        let e = SetupError::new(
            Step::BindMount,
            "Can't bind mount /usr/bin on /bin",
            Detail::Stage("Unable to mount source on destination".into(), Some(Errno::ENOENT)),
        );
        assert_eq!(
            e.to_string(),
            "Can't bind mount /usr/bin on /bin: Unable to mount source on destination: No such file or directory"
        );
    }

    #[test]
    fn apparmor_hints_where_decided() {
        let uid_map = setup_errno(Step::UidMap, "setting up uid map", Errno::EACCES).hint();
        assert!(uid_map.is_some_and(|h| h.contains("/etc/apparmor.d/nestwrap")), "{uid_map:?}");
        assert!(setup_errno(Step::Loopback, "loopback: Failed RTM_NEWADDR", Errno::EPERM)
            .hint()
            .is_some());
        assert!(setup_errno(Step::UidMap, "setting up uid map", Errno::EINVAL).hint().is_none());
        assert!(setup_errno(Step::MountProc, "x", Errno::EPERM).hint().is_none());
        let selinux =
            SetupError::new(Step::MountBase, "Failed to mount tmpfs", Detail::Mount(Errno::EACCES));
        assert!(selinux.hint().is_some_and(|h| h.contains("label=type:spc_t")));
        let apparmor = SetupError::new(
            Step::MakeSlave,
            "Failed to make / slave",
            Detail::Mount(Errno::EACCES),
        );
        assert!(apparmor.hint().is_some_and(|h| h.contains("apparmor=unconfined")));
    }

    #[test]
    fn hints_point_at_diagnose() {
        let userns = setup_msg(
            Step::CloneNoPermission,
            "No permissions to create a new namespace, likely because the kernel does not allow non-privileged user namespaces. On e.g. debian this can be enabled with 'sysctl kernel.unprivileged_userns_clone=1'.",
        );
        for e in [
            userns,
            setup_errno(Step::Clone, "Creating new namespace failed", Errno::EPERM),
            setup_errno(Step::UidMap, "setting up uid map", Errno::EPERM),
            setup_errno(Step::Loopback, "loopback: Failed RTM_NEWADDR", Errno::EPERM),
        ] {
            let hint = e.hint().unwrap_or_else(|| panic!("no hint for {e}"));
            assert!(hint.starts_with("Hint: "), "{hint}");
            assert!(hint.contains("nestwrap --diagnose"), "{hint}");
        }
        // bwrap's exact failures stay alone (DECISIONS: never = bwrap's
        // failure exactly; ENOSPC hints as bwrap).
        let enospc = setup_msg(
            Step::Clone,
            "Creating new namespace failed: nesting depth or /proc/sys/user/max_*_namespaces exceeded (ENOSPC)",
        );
        assert!(enospc.hint().is_none());
        let proc = SetupError::new(
            Step::MountProc,
            "Can't mount proc on /proc",
            Detail::Mount(Errno::EPERM),
        );
        assert!(proc.hint().is_none());
    }

    /// `hint()` before `Step`: keyed on the wire string, and on the message
    /// for the unprivileged clone. Kept here to prove the typed one fires
    /// for exactly the same (step, errno) pairs.
    fn hint_before_step(step: &str, message: &str, errno: Option<Errno>) -> Option<&'static str> {
        if step == "clone" && message.starts_with("No permissions to create a new namespace") {
            return Some("clone-no-permission");
        }
        match (step, errno?) {
            ("uid-map" | "gid-map" | "setgroups", Errno::EPERM | Errno::EACCES) => Some("userns"),
            ("loopback", Errno::EPERM | Errno::EACCES) => Some("loopback"),
            ("clone", Errno::EPERM) => Some("clone"),
            ("mount-base", Errno::EACCES | Errno::EPERM) => Some("mount-base"),
            ("make-slave", Errno::EACCES | Errno::EPERM) => Some("make-slave"),
            _ => None,
        }
    }

    #[test]
    fn hints_fire_for_the_same_steps_and_errnos_as_before() {
        // The message each step's errors carry; only the unprivileged clone
        // was told apart by it.
        let message = |step: Step| match step {
            Step::CloneNoPermission => {
                "No permissions to create a new namespace, likely because \
                                       the kernel does not allow non-privileged user namespaces."
            }
            Step::Clone => "Creating new namespace failed",
            _ => "some bwrap message",
        };
        let errnos = [
            None,
            Some(Errno::EPERM),
            Some(Errno::EACCES),
            Some(Errno::EINVAL),
            Some(Errno::ENOSPC),
            Some(Errno::ENOENT),
            Some(Errno::EROFS),
        ];
        let mut fired = 0;
        for &step in Step::ALL {
            for errno in errnos {
                let details = match errno {
                    None => vec![Detail::None, Detail::Stage("stage".into(), None)],
                    Some(e) => {
                        vec![
                            Detail::Errno(e),
                            Detail::Mount(e),
                            Detail::Stage("stage".into(), Some(e)),
                        ]
                    }
                };
                for detail in details {
                    let e = SetupError::new(step, message(step), detail);
                    let before = hint_before_step(step.as_str(), &e.message, errno);
                    assert_eq!(e.hint().is_some(), before.is_some(), "{step:?} {errno:?}: {e}");
                    fired += usize::from(before.is_some());
                }
            }
        }
        // CloneNoPermission (all 20 step/detail cases), uid-map, gid-map,
        // setgroups, loopback, mount-base, make-slave (EPERM, EACCES; 3
        // details each), clone (EPERM; 3 details).
        assert_eq!(fired, 20 + 6 * 2 * 3 + 3);
    }

    #[test]
    fn unprivileged_clone_hint_does_not_depend_on_the_wording() {
        let reworded = setup_msg(Step::CloneNoPermission, "some other wording");
        assert!(reworded.hint().is_some_and(|h| h.contains("besides the sysctl")));
        assert_eq!(reworded.step.as_str(), "clone");
        // The other clone failures without errno (EINVAL, ENOSPC) get none.
        assert!(setup_msg(Step::Clone, "No permissions to create a new namespace")
            .hint()
            .is_none());
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
pub fn setup_errno(step: Step, msg: impl Into<String>, errno: Errno) -> SetupError {
    SetupError::new(step, msg, Detail::Errno(errno))
}

/// Shorthand for a plain message without errno.
pub fn setup_msg(step: Step, msg: impl Into<String>) -> SetupError {
    SetupError::new(step, msg, Detail::None)
}
