//! The pid-1 reaper (bwrap's `do_init`): reaps zombies in the sandbox,
//! holds `--lock-file` locks and `--sync-fd` fds for the sandbox's lifetime,
//! and tells the monitor COMMAND's exit status as soon as COMMAND exits.
//! Runs in the child after setup; never returns into the caller's frames.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{fcntl, open, FcntlArg, OFlag};
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::sys::wait::{wait, WaitStatus};
use nix::unistd::Pid;

use super::prepare::Plan;
use super::userns_lock::apply_seccomp;
use crate::error::{setup_errno, SetupError, Step};
use crate::report::{format_line, write_stderr, Level};
use crate::sys;

/// bwrap's `propagate_exit_status`.
pub fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => 255,
    }
}

/// Take the `--lock-file` read locks (paths inside the sandbox), held by
/// the reaper for the sandbox's lifetime (fcntl locks belong to the process
/// that takes them).
fn take_locks(plan: &Plan) -> Result<Vec<OwnedFd>, SetupError> {
    let config = &plan.config;
    let mut locks = Vec::new();
    for path in &config.lock_files {
        let show = crate::report::show(path);
        let fd = open(path.as_os_str(), OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| {
                setup_errno(Step::LockFile, format!("Unable to open lock file {show}"), e)
            })?;
        let lock = libc::flock {
            l_type: libc::F_RDLCK as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: 0,
            l_len: 0,
            l_pid: 0,
        };
        loop {
            match fcntl(&fd, FcntlArg::F_SETLK(&lock)) {
                Ok(_) => break,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    return Err(setup_errno(
                        Step::LockFile,
                        format!("Unable to lock file {show}"),
                        e,
                    ))
                }
            }
        }
        locks.push(fd);
    }

    Ok(locks)
}

/// Run the reaper; returns the exit status for `_exit`.
pub fn run(
    plan: &Plan,
    initial: Pid,
    status_write: Option<OwnedFd>,
    lock_release: Option<OwnedFd>,
    seccomp: &[Vec<u8>],
    report: Option<OwnedFd>,
) -> i32 {
    let mut report = report;
    match reap(plan, initial, status_write, lock_release, seccomp, &mut report) {
        Ok(code) => code,
        Err(e) => {
            if let Some(sock) = &report {
                let _ = sys::fd::write_all(sock, &super::status::error_message(&e));
            }
            write_stderr(
                format_line(plan.config.level_prefix, Level::Error, &e.to_string()).as_bytes(),
            );
            1
        }
    }
}

fn reap(
    plan: &Plan,
    initial: Pid,
    status_write: Option<OwnedFd>,
    lock_release: Option<OwnedFd>,
    seccomp: &[Vec<u8>],
    report: &mut Option<OwnedFd>,
) -> Result<i32, SetupError> {
    let config = &plan.config;
    // The reaper needs no capabilities at all.
    let none = sys::caps::CapSets::default();
    match sys::caps::capset(none) {
        Ok(()) => {}
        Err(Errno::EPERM) if plan.is_root => {}
        Err(e) => return Err(setup_errno(Step::Caps, "capset failed", e)),
    }

    let mut keep: Vec<i32> = config.sync_fds.clone();
    keep.extend(status_write.iter().chain(&lock_release).chain(&*report).map(|fd| fd.as_raw_fd()));
    let _ = sys::close_all_except(&keep);

    // COMMAND waits for this: take the locks, then let it go on. On
    // failure COMMAND never runs (it sees EOF and leaves quietly).
    let locks = match take_locks(plan) {
        Ok(locks) => locks,
        Err(e) => {
            let _ = nix::sys::signal::kill(initial, Signal::SIGKILL);
            return Err(e);
        }
    };
    if let Some(fd) = lock_release {
        let _ = sys::fd::write_all(&fd, &[1u8]);
    }

    if config.die_with_parent {
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
            .map_err(|e| setup_errno(Step::Prctl, "prctl", e))?;
    }
    for program in seccomp {
        apply_seccomp(program)?;
    }

    let mut initial_status = 1;
    let mut initial_done = false;
    loop {
        match wait() {
            Ok(status) => {
                if status.pid() == Some(initial) {
                    initial_status = exit_code(status);
                    initial_done = true;
                    if let Some(fd) = &status_write {
                        let _ = sys::fd::write_all(fd, &initial_status.to_ne_bytes());
                    }
                }
            }
            Err(Errno::EINTR) => continue,
            // Nothing left to reap. Before COMMAND's status was seen that
            // cannot happen (COMMAND is our child); if it does, say so
            // rather than exit 1 without a word (bwrap's do_init does).
            Err(Errno::ECHILD) if initial_done => break,
            // COMMAND's status is out: our exit ends the namespace's
            // stragglers anyway, and a second verdict would contradict it.
            Err(_) if initial_done => break,
            Err(e) => return Err(setup_errno(Step::Wait, "init wait()", e)),
        }
    }
    drop(locks);
    Ok(initial_status)
}
