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

use super::dumpable;
use super::init::exit_code;
use super::prepare::Plan;
use super::status;
use crate::error::{setup_errno, SetupError, Step};
use crate::sys;

/// The monitor's side of the channels created before clone.
pub struct MonitorFds {
    /// The child's release (see `ChildFds::go_read`).
    pub go_write: Option<OwnedFd>,
    pub status_read: Option<OwnedFd>,
    /// Receiving end of the COMMAND → monitor socket (`--json-status-fd`):
    /// one message just before exec, a second one if exec failed.
    pub setup_finished: Option<OwnedFd>,
}

/// Release the child and wait. Returns nestwrap's exit status.
/// `*done` is set once the sandbox has ended (nothing left to kill).
pub fn run(
    plan: Plan,
    child: Pid,
    fds: MonitorFds,
    original_ppid: Pid,
    done: &mut bool,
) -> Result<i32, SetupError> {
    let config = &plan.config;
    // Read the namespace ids while we still may (bwrap does it first).
    let ids = if config.info_fd.is_some() || config.json_status_fd.is_some() {
        status::namespace_ids(&plan, child)
    } else {
        Vec::new()
    };
    drop_privileges(&plan)?;
    if config.die_with_parent {
        die_with_parent(original_ppid)?;
    }
    write_info(&plan, child, &ids)?;
    let json = start_json_status(&plan, child, &ids)?;
    wait_userns_block(&plan);
    let go_held = release(&plan, fds.go_write, json.as_ref())?;

    // Keep only what the loop needs; the caller's fds went to the child.
    let keep: Vec<i32> =
        [fds.status_read.as_ref(), json.as_ref(), fds.setup_finished.as_ref(), go_held.as_ref()]
            .into_iter()
            .flatten()
            .map(|f| f.as_raw_fd())
            .collect();
    let forward = config.forward_signals;
    // The plan's fds (the caller's, /proc) go with everything else in one
    // or two close_range calls instead of one close each.
    std::mem::forget(plan);
    let _ = sys::close_all_except(&keep);

    let mut reporter = StatusReporter::new(json, fds.setup_finished);
    let code = match wait_for_exit(child, fds.status_read.as_ref(), &mut reporter, forward) {
        Ok(code) => code,
        Err(err) => {
            // We can no longer follow the sandbox: say so on the status fd
            // too (the caller's kill of the child follows in `spawn`).
            if let Some(json) = &reporter.json {
                let line = reporter.error.take().unwrap_or_else(|| monitor_error_line(&err));
                let _ = status::write_all(json, &line);
            }
            return Err(err);
        }
    };
    *done = true;
    // As bwrap's dump_info: a status line that cannot be written is an error.
    reporter.finish(code).map_err(|e| setup_errno(Step::JsonStatusFd, "Write to info_fd", e))?;
    Ok(code)
}

/// Never dumpable from here on (see `dumpable`; the child waits for our
/// release when there is a gate, so it cannot exec before this), and no
/// capabilities: the monitor needs none.
fn drop_privileges(plan: &Plan) -> Result<(), SetupError> {
    dumpable::set(false)?;
    match sys::caps::capset(sys::caps::CapSets::default()) {
        Ok(()) => Ok(()),
        Err(Errno::EPERM) if plan.is_root => Ok(()),
        Err(e) => Err(setup_errno(Step::Caps, "capset failed", e)),
    }
}

/// --die-with-parent: SIGKILL when our parent dies, and close the race with
/// a parent that died before PDEATHSIG was set.
fn die_with_parent(original_ppid: Pid) -> Result<(), SetupError> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| setup_errno(Step::Prctl, "prctl", e))?;
    if nix::unistd::getppid() != original_ppid {
        let _ = nix::sys::signal::kill(nix::unistd::getpid(), Signal::SIGKILL);
    }
    Ok(())
}

/// --info-fd: the child's pid and namespaces, then the fd is closed.
fn write_info(plan: &Plan, child: Pid, ids: &[(&str, u64)]) -> Result<(), SetupError> {
    let Some(fd) = plan.config.info_fd else { return Ok(()) };
    let out =
        plan.user_fds.take(fd).map_err(|e| setup_errno(Step::InfoFd, "Write to info_fd", e))?;
    status::write_all(&out, &status::info_json(child, ids))
        .map_err(|e| setup_errno(Step::InfoFd, "Write to info_fd", e))
}

/// --json-status-fd: its first line; the fd stays open for the lines that
/// follow.
fn start_json_status(
    plan: &Plan,
    child: Pid,
    ids: &[(&str, u64)],
) -> Result<Option<OwnedFd>, SetupError> {
    let Some(fd) = plan.config.json_status_fd else { return Ok(None) };
    let out = plan
        .user_fds
        .take(fd)
        .map_err(|e| setup_errno(Step::JsonStatusFd, "Write to info_fd", e))?;
    status::write_all(&out, &status::status_first_line(child, ids))
        .map_err(|e| setup_errno(Step::JsonStatusFd, "Write to info_fd", e))?;
    Ok(Some(out))
}

/// --userns-block-fd: wait until the caller writes to it or closes it.
fn wait_userns_block(plan: &Plan) {
    if let Some(fd) = plan.config.userns_block_fd {
        if let Ok(owned) = plan.user_fds.take(fd) {
            let mut b = [0u8; 1];
            while let Err(Errno::EINTR) = nix::unistd::read(&owned, &mut b) {}
        }
    }
}

/// Release a gated child; otherwise keep the pipe open (unwritten) for as
/// long as the monitor lives, so the child's liveness check holds. Returns
/// the pipe to hold.
fn release(
    plan: &Plan,
    go_write: Option<OwnedFd>,
    json: Option<&OwnedFd>,
) -> Result<Option<OwnedFd>, SetupError> {
    let go = match go_write {
        Some(go) if plan.monitor_gate => go,
        other => return Ok(other),
    };
    // A child never released would wait for ever, and so would we.
    // EPIPE: the child is already gone (and said why); its status follows
    // in the wait loop.
    match write_no_sigpipe(&go, &[1u8]) {
        Ok(()) | Err(Errno::EPIPE) => Ok(None),
        Err(e) => {
            let err = setup_errno(Step::Monitor, "Can't release the sandbox", e);
            if let Some(json) = json {
                let _ = status::write_all(json, &monitor_error_line(&err));
            }
            Err(err)
        }
    }
}

/// Write to a pipe whose reader may be gone (a child that died before we
/// released it): EPIPE, not a silent death by SIGPIPE.
fn write_no_sigpipe(fd: &OwnedFd, buf: &[u8]) -> Result<(), Errno> {
    let mut pipe = SigSet::empty();
    pipe.add(Signal::SIGPIPE);
    let old = pipe.thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_BLOCK)?;
    let r = sys::fd::write_all(fd, buf);
    if r == Err(Errno::EPIPE) && !old.contains(Signal::SIGPIPE) {
        // Take the SIGPIPE the write queued before unblocking.
        let _ = pipe.wait();
    }
    let _ = old.thread_set_mask();
    r
}

/// The `{ "error": ... }` line for the monitor's own failure.
fn monitor_error_line(err: &SetupError) -> String {
    let msg = status::error_message(err);
    status::error_line(msg.get(1..).unwrap_or_default())
}

/// Signals `--forward-signals` passes on to COMMAND (DECISIONS.md).
pub const FORWARDED: [Signal; 6] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Follows COMMAND's start (for `--json-status-fd` and `--forward-signals`).
struct StatusReporter {
    /// COMMAND's process, once it said it is about to exec.
    command: Option<OwnedFd>,
    /// Signals that arrived before COMMAND's pid was known.
    pending_signals: Vec<libc::c_int>,
    json: Option<OwnedFd>,
    setup: Option<OwnedFd>,
    /// COMMAND's process said it was about to exec.
    exec_started: bool,
    /// The `error` line to write instead of `exit-code`, if setup failed.
    error: Option<String>,
}

impl StatusReporter {
    fn new(json: Option<OwnedFd>, setup: Option<OwnedFd>) -> StatusReporter {
        StatusReporter {
            json,
            setup,
            exec_started: false,
            error: None,
            command: None,
            pending_signals: Vec::new(),
        }
    }

    /// Read what COMMAND's process sent; write the command-pid line on the
    /// first message. Returns false once the peer is gone.
    fn pump(&mut self) -> bool {
        loop {
            let Some(sock) = &self.setup else { return false };
            match sys::recv_with_pid(sock) {
                Ok(Some(msg)) => match msg.payload.split_first() {
                    Some((&status::MSG_EXEC, fallbacks)) if !self.exec_started => {
                        self.exec_started = true;
                        self.command = msg.pid.and_then(|p| sys::pidfd_open(Pid::from_raw(p)).ok());
                        for sig in std::mem::take(&mut self.pending_signals) {
                            self.forward(sig);
                        }
                        if let (Some(json), Some(pid)) = (&self.json, msg.pid) {
                            let fallbacks = crate::fallback::Fallbacks::decode(fallbacks);
                            let line = status::command_pid_line(pid, &fallbacks);
                            let _ = status::write_all(json, &line);
                        }
                    }
                    Some((&status::MSG_ERROR, rest)) => self.error = Some(status::error_line(rest)),
                    _ => {}
                },
                Ok(None) => {
                    self.setup = None;
                    return false;
                }
                Err(_) => return true,
            }
        }
    }

    /// Pass a signal on to COMMAND (queued until COMMAND is known).
    fn forward(&mut self, sig: libc::c_int) {
        match &self.command {
            Some(pidfd) => {
                let _ = sys::pidfd_send_signal(pidfd, sig);
            }
            None if !self.exec_started => self.pending_signals.push(sig),
            None => {}
        }
    }

    fn finish(&mut self, code: i32) -> Result<(), Errno> {
        self.pump();
        if let Some(json) = &self.json {
            if let Some(error) = &self.error {
                let _ = status::write_all(json, error);
            } else if self.exec_started {
                status::write_all(json, &status::exit_code_line(code))?;
            }
        }
        Ok(())
    }
}

fn wait_for_exit(
    child: Pid,
    status_read: Option<&OwnedFd>,
    reporter: &mut StatusReporter,
    forward: bool,
) -> Result<i32, SetupError> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    if forward {
        for sig in FORWARDED {
            mask.add(sig);
        }
    }
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| setup_errno(Step::Signalfd, "Can't create signalfd", e))?;

    loop {
        {
            let mut pfds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
            if let Some(s) = status_read {
                pfds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
            }
            if let Some(s) = &reporter.setup {
                pfds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut pfds, PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(setup_errno(Step::Poll, "poll", e)),
            }
        }
        reporter.pump();
        // The reaper's report first: when COMMAND dies the reaper often
        // dies too, and its own status must not win.
        if let Some(s) = status_read {
            let mut buf = [0u8; 4];
            match nix::unistd::read(s, &mut buf) {
                Ok(4) => return Ok(i32::from_ne_bytes(buf)),
                Ok(_) | Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
                Err(e) => return Err(setup_errno(Step::Read, "read eventfd", e)),
            }
        }
        loop {
            match sfd.read_signal() {
                Ok(Some(info)) if info.ssi_signo as i32 != libc::SIGCHLD => {
                    reporter.forward(info.ssi_signo as libc::c_int)
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(Errno::EAGAIN) | Err(Errno::EINTR) => break,
                Err(e) => return Err(setup_errno(Step::Read, "read signalfd", e)),
            }
        }
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(nix::sys::wait::WaitStatus::StillAlive) => break,
                Err(Errno::EINTR) => continue,
                // No children left (--pidns: the intermediate ones are
                // reaped, COMMAND is not ours): its status comes through
                // the reaper's pipe.
                Err(Errno::ECHILD) if status_read.is_some() => break,
                // Breaking out here would wait for a SIGCHLD already taken
                // from the signalfd: for ever.
                Err(e) => return Err(setup_errno(Step::Wait, "waitpid", e)),
                Ok(status) if status.pid() == Some(child) => {
                    // A report may have raced with the child's death.
                    if let Some(s) = status_read {
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
