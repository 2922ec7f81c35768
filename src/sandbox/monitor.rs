//! The monitor: the original process, outside the sandbox. It releases the
//! child, then waits for COMMAND's exit status (from the reaper, or from the
//! cloned child itself) and returns it. It holds no capabilities and no
//! fds other than its own once the child runs.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

use super::init::exit_code;
use super::prepare::Plan;
use crate::error::{setup_errno, SetupError};
use crate::sys;

/// The monitor's side of the channels created before clone.
pub struct MonitorFds {
    pub go_write: OwnedFd,
    pub status_read: Option<OwnedFd>,
    pub setup_finished_read: Option<OwnedFd>,
}

/// Release the child and wait. Returns nestwrap's exit status.
pub fn run(plan: Plan, child: Pid, fds: MonitorFds, original_ppid: Pid) -> Result<i32, SetupError> {
    let config = &plan.config;
    // The monitor needs no privileges.
    match sys::caps::capset(sys::caps::CapSets::default()) {
        Ok(()) => {}
        Err(Errno::EPERM) if plan.is_root => {}
        Err(e) => return Err(setup_errno("caps", "capset failed", e)),
    }
    nix::sys::prctl::set_dumpable(true).map_err(|e| setup_errno("prctl", "can't set dumpable", e))?;
    if config.die_with_parent {
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| setup_errno("prctl", "prctl", e))?;
        // Close the race with a parent that died before PDEATHSIG was set.
        if nix::unistd::getppid() != original_ppid {
            let _ = nix::sys::signal::kill(nix::unistd::getpid(), Signal::SIGKILL);
        }
    }

    let _ = nix::unistd::write(&fds.go_write, &[1u8]);
    drop(fds.go_write);

    // Keep only what the loop needs; the caller's fds went to the child.
    let status_raw = fds.status_read.as_ref().map(|f| f.as_raw_fd());
    let keep: Vec<i32> = status_raw.into_iter().collect();
    let proc_fd = plan.proc_fd;
    drop(proc_fd);
    drop(fds.setup_finished_read);
    let _ = sys::close_all_except(&keep);

    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| setup_errno("signalfd", "Can't create signalfd", e))?;

    loop {
        {
            let mut pfds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
            if let Some(s) = &fds.status_read {
                pfds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut pfds, PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(setup_errno("poll", "poll", e)),
            }
        }
        // The reaper's report first: when COMMAND dies the reaper often
        // dies too, and its own status must not win.
        if let Some(s) = &fds.status_read {
            let mut buf = [0u8; 4];
            match nix::unistd::read(s, &mut buf) {
                Ok(4) => return Ok(i32::from_ne_bytes(buf)),
                Ok(_) | Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
                Err(e) => return Err(setup_errno("read", "read eventfd", e)),
            }
        }
        match sfd.read_signal() {
            Ok(_) | Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
            Err(e) => return Err(setup_errno("read", "read signalfd", e)),
        }
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(nix::sys::wait::WaitStatus::StillAlive) | Err(_) => break,
                Ok(status) if status.pid() == Some(child) => {
                    // A report may have raced with the child's death.
                    if let Some(s) = &fds.status_read {
                        let mut buf = [0u8; 4];
                        if let Ok(4) = nix::unistd::read(s, &mut buf) {
                            return Ok(i32::from_ne_bytes(buf));
                        }
                    }
                    return Ok(exit_code(status));
                }
                Ok(_) => {}
            }
        }
    }
}
