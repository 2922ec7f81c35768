//! [`Step`]: which setup step failed. It is what `--json-status-fd` prints
//! as `"step"` and what [`SetupError::hint`](super::SetupError::hint) keys
//! on, so the error's wording (bwrap's, free to follow bwrap) can change
//! without losing either.
//!
//! `as_str()` is a wire format: the strings below are exactly the ones
//! nestwrap printed before `Step` existed, and the test at the end of this
//! file pins the whole set. Renaming one is a visible change for callers.

macro_rules! steps {
    ($($(#[doc = $doc:literal])* $variant:ident => $text:literal,)*) => {
        /// A setup step that can fail (see the module comment). Each variant
        /// names the step and the family of bwrap messages it fails with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Step {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Step {
            /// Every step, in declaration order.
            pub const ALL: &'static [Step] = &[$(Step::$variant,)*];

            /// The `"step"` string on `--json-status-fd` (kebab-case).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Step::$variant => $text,)*
                }
            }
        }
    };
}

steps! {
    // Before clone, in the parent.
    /// The process must be single-threaded before clone (`internal error: more than one thread before clone`).
    Threads => "threads",
    /// `NESTWRAP_PROC_FALLBACK` holds a value other than auto|quiet|never.
    Env => "env",
    /// Opening `/proc` for the plan or the file label (`Can't open /proc`).
    OpenProc => "open-proc",
    /// `capget` for a root caller (`capget (for uid == 0) failed`).
    Capget => "capget",
    /// SELinux `--exec-label`/`--file-label` (`invalid label ..`, `--file-label setup failed`, `label_exec ..`).
    Label => "label",
    /// Landlock scopes the kernel lacks or refuses (`--scope-..: ..`).
    Landlock => "landlock",
    /// `pipe2()` between the processes.
    Pipe => "pipe",
    /// `socketpair()` for the COMMAND → monitor channel.
    Socketpair => "socketpair",
    /// Blocking or unblocking signals (`sigprocmask`).
    Sigprocmask => "sigprocmask",
    /// `prctl` calls (PDEATHSIG, dumpable, ...: `prctl`, `can't set dumpable`).
    Prctl => "prctl",
    /// Joining `--userns` (`Joining specified user namespace failed`).
    Userns => "userns",
    /// Cloning the namespaces (`Creating new namespace failed..`), except the case below.
    Clone => "clone",
    /// clone EPERM for an unprivileged caller (`No permissions to create a new namespace..`):
    /// bwrap words it without an errno, so its own variant carries it for `hint()`.
    /// Serialises to `"clone"` like [`Step::Clone`]: the wire format keeps bwrap's one step.
    CloneNoPermission => "clone",
    /// Entering `--pidns` or the pid namespace below it (`Setting pidns failed`, `unshare pid ns`, ...).
    Pidns => "pidns",
    /// Entering `--userns2` (`Setting userns2 failed`).
    Userns2 => "userns2",

    // The monitor (parent after clone).
    /// Writing `--info-fd` (`Write to info_fd`).
    InfoFd => "info-fd",
    /// Writing `--json-status-fd` (bwrap words it `Write to info_fd` too).
    JsonStatusFd => "json-status-fd",
    /// Talking to the other side of the monitor (`Can't read from the monitor`, `Can't release the sandbox`).
    Monitor => "monitor",
    /// `signalfd` for the monitor's loop (`Can't create signalfd`).
    Signalfd => "signalfd",
    /// `poll` in the monitor's loop.
    Poll => "poll",
    /// Reading the monitor's eventfd or signalfd (`read eventfd`, `read signalfd`).
    Read => "read",
    /// `waitpid` in the monitor or the init process (`waitpid`, `init wait()`).
    Wait => "wait",

    // The child: user namespace, ids.
    /// Writing `uid_map` (`setting up uid map`).
    UidMap => "uid-map",
    /// Writing `setgroups` (`error writing to setgroups`).
    Setgroups => "setgroups",
    /// Writing `gid_map` (`setting up gid map`).
    GidMap => "gid-map",
    /// Entering the extra user namespace of `--disable-userns` or `--dev`-style ids (`unshare user ns`).
    UnshareUser => "unshare-user",
    /// `--disable-userns` (`sysctl user.max_user_namespaces = 1`, `cannot open /proc/sys/user/max_user_namespaces..`).
    DisableUserns => "disable-userns",
    /// `--assert-userns-disabled` (`creation of new user namespaces was not disabled as requested`).
    AssertUsernsDisabled => "assert-userns-disabled",
    /// The user + mount namespace that keeps COMMAND off a fallback /proc (`unshare user ns`).
    ProcIsolation => "proc-isolation",
    /// Switching to `--uid` (`unable to switch to uid N`).
    Setuid => "setuid",
    /// Switching to `--gid` (`unable to switch to gid N`).
    Setgid => "setgid",
    /// Capabilities (`capset failed`, `Adding ambient capability ..`, `Dropping capability ..`).
    Caps => "caps",

    // The child: the setup root and the pivots.
    /// Making `/` a slave mount (`Failed to make / slave`).
    MakeSlave => "make-slave",
    /// The setup tmpfs (`Failed to mount tmpfs`).
    MountBase => "mount-base",
    /// `chdir` (`chdir base_path`, `chdir / (base path)`, `Can't chdir to DIR`).
    Chdir => "chdir",
    /// `mkdir newroot` (`Creating newroot failed`).
    MkdirNewroot => "mkdir-newroot",
    /// Bind-mounting newroot onto itself (`setting up newroot bind`).
    BindNewroot => "bind-newroot",
    /// `mkdir oldroot` (`Creating oldroot failed`).
    MkdirOldroot => "mkdir-oldroot",
    /// The first pivot into the setup tmpfs (`pivot_root`, `can't open /`).
    PivotRoot => "pivot-root",
    /// Opening `/newroot` (`Can't open /newroot`).
    Newroot => "newroot",
    /// `--hostname` (`Can't set hostname to ..`).
    Sethostname => "sethostname",
    /// Making the old root rprivate (`Failed to make old root rprivate`).
    OldrootPrivate => "oldroot-private",
    /// Unmounting the old root (`unmount old root`).
    UmountOldroot => "umount-oldroot",
    /// The pivot_root fallback's move + chroot + lock (`Can't move /newroot over /`, ...).
    LockedChroot => "locked-chroot",
    /// The second pivot onto /newroot (`pivot_root(/newroot)`, `umount old root`, ...).
    Pivot => "pivot",

    // The child: filesystem operations, in command-line order.
    /// A source path that does not exist (`Can't find source path ..`).
    FindSource => "find-source",
    /// `stat` of a bind source (`Can't get type of source ..`).
    StatSource => "stat-source",
    /// Looking up or checking a destination (`Can't mount on symlink destination ..`, `Can't get type of dest ..`).
    Destination => "destination",
    /// Making a destination's parents (`Can't mkdir parents for ..`).
    MkdirParents => "mkdir-parents",
    /// Creating a destination file (`Can't create file ..`).
    CreateFile => "create-file",
    /// A bind mount (`Can't bind mount SRC on DEST: <stage>`).
    BindMount => "bind-mount",
    /// `--bind-fd`/`--ro-bind-fd` checks (`Can't stat fd N`, `Race condition binding dirfd`).
    BindFd => "bind-fd",
    /// Remounting read-only (`Can't remount readonly on ..`).
    RemountRo => "remount-ro",
    /// `--overlay` and friends (`Can't open overlay ..`, `Can't make overlay mount on ..`, ...).
    Overlay => "overlay",
    /// `--tmp-overlay`'s upper and work directories (`Creating --tmp-overlay upperdir failed`).
    TmpOverlay => "tmp-overlay",
    /// `--tmpfs` (`Can't mount tmpfs on ..`).
    MountTmpfs => "mount-tmpfs",
    /// `--mqueue` (`Can't mount mqueue on ..`).
    MountMqueue => "mount-mqueue",
    /// `--proc` (`Can't mount proc on ..`), including its fallbacks.
    MountProc => "mount-proc",
    /// Covering /proc's writable entries (`Can't access ..`).
    ProcCover => "proc-cover",
    /// `--dev`: its tmpfs and nodes (`Can't mount tmpfs on ..`, `Can't create file DEV/null`, ...).
    MountDev => "mount-dev",
    /// `--dev`'s devpts (`Can't mount devpts on DEV/pts`).
    MountDevpts => "mount-devpts",
    /// `--chmod` (`Can't chmod MODE ..`, `Can't open ..`).
    Chmod => "chmod",
    /// `--bind-data`/`--ro-bind-data`'s tmpfile (`Can't create tmpfile for ..`).
    BindData => "bind-data",
    /// Writing `--file`/`--bind-data` contents (`Can't write data to file ..`).
    WriteFile => "write-file",
    /// `--symlink` (`Can't make symlink at ..`, `..: destination exists and is not a symlink`).
    Symlink => "symlink",

    // The child: after the filesystem, up to exec.
    /// Setting up `lo` for `--unshare-net` (`loopback: Failed RTM_NEWADDR`, ...).
    Loopback => "loopback",
    /// `--lock-file` (`Unable to open lock file ..`, `Unable to lock file ..`).
    LockFile => "lock-file",
    /// `--seccomp`/`--add-seccomp-fd` and the userns lock filter (`Can't read seccomp data`, `prctl(PR_SET_SECCOMP)`).
    Seccomp => "seccomp",
    /// `--new-session` (`setsid`).
    Setsid => "setsid",
    /// Forking the init or COMMAND process (`Can't fork`, `Can't fork for pid 1`).
    Fork => "fork",
    /// `execvp COMMAND`.
    Exec => "exec",
}

#[cfg(test)]
mod tests {
    use super::Step;

    /// Every `"step"` string nestwrap printed on `--json-status-fd` before
    /// `Step` existed. A renamed, added or dropped step fails here: update
    /// the list only as a deliberate change of the wire format.
    const WIRE: &[&str] = &[
        "assert-userns-disabled",
        "bind-data",
        "bind-fd",
        "bind-mount",
        "bind-newroot",
        "capget",
        "caps",
        "chdir",
        "chmod",
        "clone",
        "create-file",
        "destination",
        "disable-userns",
        "env",
        "exec",
        "find-source",
        "fork",
        "gid-map",
        "info-fd",
        "json-status-fd",
        "label",
        "landlock",
        "lock-file",
        "locked-chroot",
        "loopback",
        "make-slave",
        "mkdir-newroot",
        "mkdir-oldroot",
        "mkdir-parents",
        "monitor",
        "mount-base",
        "mount-dev",
        "mount-devpts",
        "mount-mqueue",
        "mount-proc",
        "mount-tmpfs",
        "newroot",
        "oldroot-private",
        "open-proc",
        "overlay",
        "pidns",
        "pipe",
        "pivot",
        "pivot-root",
        "poll",
        "prctl",
        "proc-cover",
        "proc-isolation",
        "read",
        "remount-ro",
        "seccomp",
        "setgid",
        "setgroups",
        "sethostname",
        "setsid",
        "setuid",
        "signalfd",
        "sigprocmask",
        "socketpair",
        "stat-source",
        "symlink",
        "threads",
        "tmp-overlay",
        "uid-map",
        "umount-oldroot",
        "unshare-user",
        "userns",
        "userns2",
        "wait",
        "write-file",
    ];

    /// Variants that share a wire string with another, and why it is right.
    const SHARED: &[(Step, Step)] = &[
        // bwrap has one clone step; the unprivileged-EPERM wording only
        // differs so that its hint survives without an errno.
        (Step::CloneNoPermission, Step::Clone),
    ];

    #[test]
    fn wire_strings_are_todays() {
        let mut got: Vec<&str> = Step::ALL.iter().map(|s| s.as_str()).collect();
        got.sort_unstable();
        got.dedup();
        let mut want = WIRE.to_vec();
        want.sort_unstable();
        assert_eq!(got, want);
        assert_eq!(WIRE.len(), want.iter().collect::<std::collections::BTreeSet<_>>().len());
    }

    #[test]
    fn wire_strings_are_kebab_case() {
        for step in Step::ALL {
            let s = step.as_str();
            let ok = !s.is_empty()
                && s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                && !s.starts_with('-')
                && !s.ends_with('-')
                && !s.contains("--");
            assert!(ok, "{step:?} => {s:?}");
        }
    }

    #[test]
    fn wire_strings_are_unique_but_for_documented_pairs() {
        for (i, a) in Step::ALL.iter().enumerate() {
            for b in &Step::ALL[i + 1..] {
                if a.as_str() == b.as_str() {
                    assert!(
                        SHARED.contains(&(*a, *b)) || SHARED.contains(&(*b, *a)),
                        "{a:?} and {b:?} both serialise to {:?}",
                        a.as_str()
                    );
                }
            }
        }
        for (a, b) in SHARED {
            assert_eq!(a.as_str(), b.as_str());
        }
    }

    #[test]
    fn variant_names_follow_the_wire_string() {
        // `mount-proc` is MountProc: the script that converted the call
        // sites (and readers) can go from one to the other.
        for step in Step::ALL {
            if SHARED.iter().any(|(dup, _)| dup == step) {
                continue;
            }
            let camel: String =
                step.as_str().split('-').map(|w| w[..1].to_ascii_uppercase() + &w[1..]).collect();
            assert_eq!(format!("{step:?}"), camel);
        }
    }
}
