//! Turn a validated [`Config`] into a [`Plan`]: everything the child and the
//! monitor need, computed in the parent before `clone` (ids, uid/gid map
//! text, capability sets, clone flags, exec argv as `CString`s).

use std::ffi::{CString, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{getgid, getuid};

use crate::cli::Validated;
use crate::config::{CapOp, Config, ProcFallback, SetupOp};
use crate::error::{setup_errno, SetupError, Step};
use crate::sys;
use crate::sys::fd::FdTable;

/// What the child and monitor carry out.
#[derive(Debug)]
pub struct Plan {
    pub config: Config,
    pub real_uid: u32,
    pub real_gid: u32,
    pub sandbox_uid: u32,
    pub sandbox_gid: u32,
    /// The real uid is 0 (root keeps its capabilities unless asked).
    pub is_root: bool,
    /// A new user namespace is created by `clone`.
    pub new_userns: bool,
    /// A new pid namespace is created (`--unshare-pid` without `--pidns`).
    pub new_pidns: bool,
    pub clone_flags: libc::c_int,
    /// The capability set COMMAND should end with.
    pub requested_caps: u64,
    /// `--cap-add` / `--cap-drop` were used.
    pub cap_ops_used: bool,
    pub last_cap: u32,
    /// The caller's cwd, tried inside the sandbox when there is no `--chdir`.
    pub old_cwd: Option<OsString>,
    /// `ttyname(1)` when stdout is a terminal (for `/dev/console`).
    pub host_tty: Option<OsString>,
    /// `/proc` opened `O_PATH` before any namespace work (bwrap's `proc_fd`).
    pub proc_fd: OwnedFd,
    /// The program to look up in PATH (COMMAND as given).
    pub exec_path: CString,
    /// argv for COMMAND (`argv[0]` replaced by `--argv0`).
    pub exec_argv: Vec<CString>,
    /// A reaper process is needed (pid namespace, lock files or sync fds).
    pub needs_reaper: bool,
    /// The child must wait until the monitor releases it (`--info-fd`,
    /// `--json-status-fd`, `--userns-block-fd`, `--userns2`).
    pub monitor_gate: bool,
    /// `--proc-fallback`, else `NESTWRAP_PROC_FALLBACK`, else auto.
    pub proc_fallback: ProcFallback,
    /// The user namespace is the container-root fallback
    /// ([`crate::cli::Validated::implicit_userns`]).
    pub implicit_userns: bool,
    /// The caller's fds that nestwrap consumes, claimed before any of ours.
    pub user_fds: FdTable,
}

/// The fd numbers nestwrap consumes (reads, writes, or closes in COMMAND).
/// `--userns`, `--userns2`, `--pidns` are only used by number and stay
/// open for COMMAND, as in bwrap.
fn consumed_fds(config: &Config) -> Vec<i32> {
    let mut fds: Vec<i32> = config.ops.iter().filter_map(SetupOp::consumed_fd).collect();
    fds.extend(config.sync_fds.iter().copied());
    fds.extend(
        [
            config.info_fd,
            config.json_status_fd,
            config.block_fd,
            config.seccomp_fd,
            config.userns_block_fd,
        ]
        .into_iter()
        .flatten(),
    );
    fds
}

impl Plan {
    /// Root without `--cap-add`/`--cap-drop` keeps its capabilities and
    /// bwrap does not even call capset (systemd-nspawn's seccomp policy
    /// denies it).
    pub fn keeps_caller_caps(&self) -> bool {
        self.is_root && !self.cap_ops_used
    }
}

/// All capability bits this kernel knows.
pub fn all_caps(last_cap: u32) -> u64 {
    if last_cap >= 63 {
        u64::MAX
    } else {
        (1u64 << (last_cap + 1)) - 1
    }
}

/// Apply `--cap-add` / `--cap-drop` in order to the starting set (bwrap:
/// root starts from its effective set, everyone else from nothing).
pub fn requested_caps(start: u64, ops: &[CapOp], last_cap: u32) -> u64 {
    let all = all_caps(last_cap);
    ops.iter().fold(start, |caps, op| match *op {
        CapOp::Add(None) => all,
        CapOp::Add(Some(c)) => caps | (1u64 << c),
        CapOp::Drop(None) => 0,
        CapOp::Drop(Some(c)) => caps & !(1u64 << c),
    })
}

fn cstring(s: &std::ffi::OsStr) -> CString {
    CString::new(s.as_bytes()).unwrap_or_default()
}

/// Build the plan from a validated command line (implicit `--unshare-user`
/// resolved) and the `/proc` fallback mode in force.
pub fn prepare(config: Validated, proc_fallback: ProcFallback) -> Result<Plan, SetupError> {
    let implicit_userns = config.implicit_userns();
    let config = config.into_config();
    // First, before we open anything that could reuse their numbers.
    let user_fds = FdTable::claim(consumed_fds(&config));
    let real_uid = getuid().as_raw();
    let real_gid = getgid().as_raw();
    let is_root = real_uid == 0;
    let last_cap = sys::caps::last_cap();
    let start = if is_root {
        sys::caps::capget()
            .map_err(|e| setup_errno(Step::Capget, "capget (for uid == 0) failed", e))?
            .effective
    } else {
        0
    };
    let requested = requested_caps(start, &config.caps, last_cap);

    let u = config.unshare;
    let new_userns = u.user;
    let new_pidns = u.pid && config.pidns_fd.is_none();
    let mut flags = libc::CLONE_NEWNS;
    if new_userns {
        flags |= libc::CLONE_NEWUSER;
    }
    if new_pidns {
        flags |= libc::CLONE_NEWPID;
    }
    if u.net {
        flags |= libc::CLONE_NEWNET;
    }
    if u.ipc {
        flags |= libc::CLONE_NEWIPC;
    }
    if u.uts {
        flags |= libc::CLONE_NEWUTS;
    }
    if u.cgroup {
        flags |= libc::CLONE_NEWCGROUP;
    }

    let proc_fd =
        open("/proc", OFlag::O_PATH | OFlag::O_CLOEXEC | OFlag::O_DIRECTORY, Mode::empty())
            .map_err(|e| setup_errno(Step::OpenProc, "Can't open /proc", e))?;

    let exec_path = cstring(&config.command[0]);
    let mut exec_argv: Vec<CString> = config.command.iter().map(|a| cstring(a)).collect();
    if let Some(argv0) = &config.argv0 {
        exec_argv[0] = cstring(argv0);
    }
    let needs_reaper =
        !config.as_pid_1 && (u.pid || !config.lock_files.is_empty() || !config.sync_fds.is_empty());

    Ok(Plan {
        real_uid,
        real_gid,
        sandbox_uid: config.uid.unwrap_or(real_uid),
        sandbox_gid: config.gid.unwrap_or(real_gid),
        is_root,
        new_userns,
        new_pidns,
        clone_flags: flags,
        requested_caps: requested,
        cap_ops_used: !config.caps.is_empty(),
        last_cap,
        old_cwd: current_dir_name(),
        host_tty: sys::stdout_tty_name(),
        proc_fd,
        exec_path,
        exec_argv,
        needs_reaper,
        monitor_gate: config.info_fd.is_some()
            || config.json_status_fd.is_some()
            || config.userns_block_fd.is_some()
            // The monitor joins --userns2 too; if that fails, its one error
            // line is the whole story and the child must not go on.
            || config.userns2_fd.is_some(),
        proc_fallback,
        implicit_userns,
        user_fds,
        config,
    })
}

/// glibc's `get_current_dir_name`: `$PWD` if it names the current directory,
/// else `getcwd()`.
fn current_dir_name() -> Option<OsString> {
    use std::os::unix::fs::MetadataExt;
    let cwd = std::env::current_dir().ok().map(OsString::from);
    if let Some(pwd) = std::env::var_os("PWD") {
        if let (Ok(a), Ok(b)) = (std::fs::metadata(&pwd), std::fs::metadata(".")) {
            if a.dev() == b.dev() && a.ino() == b.ino() {
                return Some(pwd);
            }
        }
    }
    cwd
}

/// Where the setup tmpfs may go, in order: bwrap's `/tmp`, then other
/// directories that exist in minimal container images and nested sandboxes
/// without `/tmp`. Any directory will do: the first pivot takes the tmpfs
/// off it again, and `/oldroot` then shows what it covered.
pub const BASE_PATHS: [&str; 6] = ["/tmp", "/var/tmp", "/run", "/mnt", "/dev", "/proc"];

/// The directory the setup tmpfs would go on: the first of
/// `BASE_PATHS` that is a directory (for `--diagnose`).
pub fn setup_base() -> Option<&'static str> {
    BASE_PATHS.into_iter().find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_dir()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_ops_apply_in_order() {
        let last = 40;
        assert_eq!(requested_caps(0, &[], last), 0);
        assert_eq!(requested_caps(0, &[CapOp::Add(Some(12))], last), 1 << 12);
        assert_eq!(
            requested_caps(0, &[CapOp::Add(None), CapOp::Drop(Some(0))], last),
            all_caps(40) & !1
        );
        assert_eq!(requested_caps(0, &[CapOp::Add(Some(3)), CapOp::Drop(None)], last), 0);
        assert_eq!(
            requested_caps(all_caps(40), &[CapOp::Drop(Some(21))], last),
            all_caps(40) & !(1 << 21)
        );
        assert_eq!(all_caps(40), (1u64 << 41) - 1);
    }
}
