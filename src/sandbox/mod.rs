//! Orchestration: preflight → prepare → clone → monitor / child (the
//! program's entry, parse and validate are `app.rs`'s).
//! The only module that knows the process tree.

pub mod child;
pub mod init;
pub mod label;
pub mod monitor;
pub mod net;
pub mod prepare;
pub mod resolve;
pub mod scope;
pub mod setup;
pub mod status;
pub mod userns_lock;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};

use crate::config::Config;
use crate::error::{setup_errno, setup_msg, SetupError, Step};
use crate::sys;

/// Our parent when we started, read first thing: --die-with-parent
/// compares it with the parent after PR_SET_PDEATHSIG, and the later it is
/// read, the wider the window in which a caller that dies goes unnoticed.
static PARENT_AT_START: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Record our parent; the program's entry (`app::main_entry`) calls it first.
pub fn note_parent_at_start() {
    PARENT_AT_START.store(nix::unistd::getppid().as_raw(), std::sync::atomic::Ordering::Relaxed);
}

/// The checks bwrap makes before any environment change or setup: SELinux
/// labels, Landlock scopes, and the file-creation label, set here.
pub fn preflight(config: &Config) -> Result<(), SetupError> {
    // SELinux labels are validated up front, as bwrap does while parsing.
    for label in [&config.exec_label, &config.file_label].into_iter().flatten() {
        label::check(label)?;
    }
    // Landlock scopes: fail before any setup when the kernel cannot have them.
    scope::check_available(config)?;
    if let Some(label) = &config.file_label {
        let proc_fd = nix::fcntl::open(
            "/proc",
            OFlag::O_PATH | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| setup_errno(Step::OpenProc, "Can't open /proc", e))?;
        label::set_file_create(&proc_fd, label)?;
    }
    Ok(())
}

/// bwrap's messages for a failed namespace clone.
fn clone_error(e: Errno, userns: bool) -> SetupError {
    if userns && e == Errno::EINVAL {
        return setup_msg(
            Step::Clone,
            "Creating new namespace failed, likely because the kernel does not support user namespaces.  bwrap must be installed setuid on such systems.",
        );
    }
    if userns && e == Errno::EPERM {
        return setup_msg(
            Step::CloneNoPermission,
            "No permissions to create a new namespace, likely because the kernel does not allow non-privileged user namespaces. On e.g. debian this can be enabled with 'sysctl kernel.unprivileged_userns_clone=1'.",
        );
    }
    if e == Errno::ENOSPC {
        return setup_msg(
            Step::Clone,
            "Creating new namespace failed: nesting depth or /proc/sys/user/max_*_namespaces exceeded (ENOSPC)",
        );
    }
    setup_errno(Step::Clone, "Creating new namespace failed", e)
}

fn pipe() -> Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd), SetupError> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| setup_errno(Step::Pipe, "pipe2()", e))
}

/// Prepare, clone, and run the monitor (parent) and the child.
pub fn spawn(config: Config) -> Result<i32, SetupError> {
    if sys::check_single_threaded().is_err() {
        return Err(setup_msg(Step::Threads, "internal error: more than one thread before clone"));
    }
    let plan = prepare::prepare(config)?;
    let original_ppid = match PARENT_AT_START.load(std::sync::atomic::Ordering::Relaxed) {
        0 => nix::unistd::getppid(),
        p => nix::unistd::Pid::from_raw(p),
    };

    // The child waits for the monitor only when the monitor has something
    // to do first (bwrap always waits): report the pid on --info-fd or
    // --json-status-fd while the namespaces still exist, or wait for
    // --userns-block-fd. With --die-with-parent the pipe stays, unwritten,
    // so the child can tell whether the monitor died before PDEATHSIG was
    // set (it sees POLLHUP).
    let (go_read, go_write) =
        (plan.monitor_gate || plan.config.die_with_parent).then(pipe).transpose()?.unzip();
    let (status_read, status_write) = if plan.needs_reaper {
        let (r, w) = pipe()?;
        nix::fcntl::fcntl(&r, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
            .map_err(|e| setup_errno(Step::Pipe, "pipe2()", e))?;
        Some((r, w))
    } else {
        None
    }
    .unzip();

    // Block SIGCHLD so the monitor can use a signalfd; reap inherited zombies.
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    // --forward-signals: the monitor takes these through its signalfd
    // (the child unblocks everything before exec).
    if plan.config.forward_signals {
        for sig in monitor::FORWARDED {
            mask.add(sig);
        }
    }
    mask.thread_block().map_err(|e| setup_errno(Step::Sigprocmask, "sigprocmask", e))?;
    while let Ok(s) = waitpid(nix::unistd::Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        if s == nix::sys::wait::WaitStatus::StillAlive {
            break;
        }
    }

    let wants_command_socket = plan.config.json_status_fd.is_some() || plan.config.forward_signals;
    let socketpair =
        || sys::cred_socketpair().map_err(|e| setup_errno(Step::Socketpair, "socketpair()", e));
    let (setup_read, setup_write) = wants_command_socket.then(socketpair).transpose()?.unzip();
    // Join --userns before clone: the sandbox lives in that user namespace.
    if let Some(fd) = plan.config.userns_fd {
        sys::setns(fd, libc::CLONE_NEWUSER).map_err(|e| match e {
            Errno::EINVAL => setup_msg(
                Step::Userns,
                "Joining the specified user namespace failed, it might not be a descendant of the current user namespace.",
            ),
            e => setup_errno(Step::Userns, "Joining specified user namespace failed", e),
        })?;
    }
    // --pidns: intermediate processes come and go; become their subreaper
    // and learn the final pid over a credentials socket.
    let (pid_read, pid_write) = match plan.config.pidns_fd {
        Some(_) => {
            nix::sys::prctl::set_child_subreaper(true)
                .map_err(|e| setup_errno(Step::Prctl, "prctl", e))?;
            Some(socketpair()?)
        }
        None => None,
    }
    .unzip();
    // The monitor is never dumpable while COMMAND runs: no process of our
    // uid, COMMAND included where a /proc fallback shows us to it, may
    // ptrace it or open its /proc/PID/{mem,root,cwd,environ,fd} (bwrap's
    // monitor is dumpable). Without a monitor gate the child may exec
    // before the monitor runs at all, so this is set before the clone (the
    // child makes itself dumpable again first thing, for its own uid_map).
    // With a gate the monitor must first read the child's namespaces,
    // which needs the child dumpable from the start; it turns itself
    // non-dumpable before it releases the child (monitor::run).
    if !plan.monitor_gate {
        set_dumpable(false)?;
    }
    match sys::clone_fork(plan.clone_flags).map_err(|e| clone_error(e, plan.new_userns))? {
        None => {
            // The monitor's ends: only the go pipe's write end matters (the
            // child watches for its hangup); the rest are close-on-exec and
            // the reaper closes everything it does not use.
            drop(go_write);
            std::mem::forget((status_read, setup_read, pid_read));
            let fds = child::ChildFds {
                go_read,
                pid_socket: pid_write,
                status_write,
                setup_finished: setup_write,
            };
            child::child_main(&plan, fds)
        }
        Some(cloned) => {
            let mut reaped = false;
            let result = run_monitor(
                plan,
                cloned,
                go_read,
                go_write,
                status_read,
                status_write,
                setup_read,
                setup_write,
                pid_read,
                pid_write,
                original_ppid,
                &mut reaped,
            );
            if result.is_err() && !reaped {
                // The monitor failed after clone: nobody would follow the
                // sandbox any more, so it must not outlive us (bwrap's
                // monitor just dies; ours leaves nothing behind).
                let _ = nix::sys::signal::kill(cloned, Signal::SIGKILL);
                while let Err(Errno::EINTR) = waitpid(cloned, None) {}
            }
            result
        }
    }
}

/// `PR_SET_DUMPABLE` with bwrap's message.
fn set_dumpable(on: bool) -> Result<(), SetupError> {
    nix::sys::prctl::set_dumpable(on).map_err(|e| setup_errno(Step::Prctl, "can't set dumpable", e))
}

#[allow(clippy::too_many_arguments)]
fn run_monitor(
    plan: prepare::Plan,
    cloned: nix::unistd::Pid,
    go_read: Option<std::os::fd::OwnedFd>,
    go_write: Option<std::os::fd::OwnedFd>,
    status_read: Option<std::os::fd::OwnedFd>,
    status_write: Option<std::os::fd::OwnedFd>,
    setup_read: Option<std::os::fd::OwnedFd>,
    setup_write: Option<std::os::fd::OwnedFd>,
    pid_read: Option<std::os::fd::OwnedFd>,
    pid_write: Option<std::os::fd::OwnedFd>,
    original_ppid: nix::unistd::Pid,
    reaped: &mut bool,
) -> Result<i32, SetupError> {
    let mut pid = cloned;
    drop(go_read);
    drop(status_write);
    drop(setup_write);
    drop(pid_write);
    if let Some(sock) = pid_read {
        // EOF or no credentials: the child failed and said why.
        match sys::recv_with_pid_blocking(&sock) {
            Ok(Some(sys::CredMessage { pid: Some(p), .. })) => pid = nix::unistd::Pid::from_raw(p),
            // The child failed before reporting; let its own message
            // come first, as in bwrap.
            // The child failed before reporting. If it said why (exit
            // status 1), that one line is the whole story (bwrap adds
            // a second, "Unexpected short read from pid socket").
            _ => {
                let status = waitpid(pid, None);
                *reaped = status.is_ok();
                if let Ok(WaitStatus::Exited(_, 1)) = status {
                    return Ok(1);
                }
                return Err(setup_msg(Step::Pidns, "Unexpected short read from pid socket"));
            }
        }
    }
    if let Some(fd) = plan.config.userns2_fd {
        sys::setns(fd, libc::CLONE_NEWUSER)
            .map_err(|e| setup_errno(Step::Userns2, "Setting userns2 failed", e))?;
    }
    let fds = monitor::MonitorFds { go_write, status_read, setup_finished: setup_read };
    monitor::run(plan, pid, fds, original_ppid, reaped)
}
