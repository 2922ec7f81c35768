//! Orchestration: preflight → prepare → clone → monitor / child (the
//! program's entry, parse and validate are `app.rs`'s).
//! The only module that knows the process tree.

pub mod child;
pub mod dumpable;
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

use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::cli::Validated;
use crate::config::{Config, ProcFallback};
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

fn pipe() -> Result<(OwnedFd, OwnedFd), SetupError> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| setup_errno(Step::Pipe, "pipe2()", e))
}

fn socketpair() -> Result<(OwnedFd, OwnedFd), SetupError> {
    sys::cred_socketpair().map_err(|e| setup_errno(Step::Socketpair, "socketpair()", e))
}

/// Prepare, clone, and run the monitor (parent) and the child.
/// `proc_fallback` is `--proc-fallback`, else `NESTWRAP_PROC_FALLBACK`.
pub fn spawn(config: Validated, proc_fallback: ProcFallback) -> Result<i32, SetupError> {
    if sys::check_single_threaded().is_err() {
        return Err(setup_msg(Step::Threads, "internal error: more than one thread before clone"));
    }
    let plan = prepare::prepare(config, proc_fallback)?;
    let original_ppid = parent_at_start();
    let go = go_pipe(&plan)?;
    let status = status_pipe(&plan)?;
    block_signals(&plan.config)?;
    reap_inherited_zombies();
    let setup = command_socket(&plan.config)?;
    join_userns(&plan.config)?;
    let pid = pidns_socket(&plan.config)?;
    let channels = Channels::pair(go, status, setup, pid);
    // The monitor is never dumpable while COMMAND runs (see `dumpable`).
    // Without a monitor gate the child may exec before the monitor runs at
    // all, so this is set before the clone (the child makes itself dumpable
    // again first thing, for its own uid_map). With a gate the monitor must
    // first read the child's namespaces, which needs the child dumpable from
    // the start; it turns itself non-dumpable before it releases the child
    // (monitor::run).
    if !plan.monitor_gate {
        dumpable::set(false)?;
    }
    match sys::clone_fork(plan.clone_flags).map_err(|e| clone_error(e, plan.new_userns))? {
        None => child::child_main(&plan, channels.child_side()),
        Some(cloned) => monitor_or_kill(plan, cloned, channels, original_ppid),
    }
}

/// The parent recorded by `note_parent_at_start`, or ours now.
fn parent_at_start() -> Pid {
    match PARENT_AT_START.load(std::sync::atomic::Ordering::Relaxed) {
        0 => nix::unistd::getppid(),
        p => Pid::from_raw(p),
    }
}

/// The child waits for the monitor only when the monitor has something to
/// do first (bwrap always waits): report the pid on --info-fd or
/// --json-status-fd while the namespaces still exist, or wait for
/// --userns-block-fd. With --die-with-parent the pipe stays, unwritten, so
/// the child can tell whether the monitor died before PDEATHSIG was set (it
/// sees POLLHUP).
fn go_pipe(plan: &prepare::Plan) -> Result<Option<(OwnedFd, OwnedFd)>, SetupError> {
    (plan.monitor_gate || plan.config.die_with_parent).then(pipe).transpose()
}

/// The reaper → monitor exit-status pipe (non-blocking read end), when
/// there is a reaper.
fn status_pipe(plan: &prepare::Plan) -> Result<Option<(OwnedFd, OwnedFd)>, SetupError> {
    if !plan.needs_reaper {
        return Ok(None);
    }
    let (r, w) = pipe()?;
    nix::fcntl::fcntl(&r, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
        .map_err(|e| setup_errno(Step::Pipe, "pipe2()", e))?;
    Ok(Some((r, w)))
}

/// Block SIGCHLD so the monitor can use a signalfd, and with
/// --forward-signals the signals it forwards, which it takes through the
/// same signalfd (the child unblocks everything before exec).
fn block_signals(config: &Config) -> Result<(), SetupError> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    if config.forward_signals {
        for sig in monitor::FORWARDED {
            mask.add(sig);
        }
    }
    mask.thread_block().map_err(|e| setup_errno(Step::Sigprocmask, "sigprocmask", e))
}

/// Reap zombies inherited from whoever exec'd us: the monitor's wait loop
/// must see only its own children.
fn reap_inherited_zombies() {
    while let Ok(s) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        if s == WaitStatus::StillAlive {
            break;
        }
    }
}

/// The COMMAND → monitor credentials socket, for --json-status-fd (the
/// command-pid line) and --forward-signals (COMMAND's pid).
fn command_socket(config: &Config) -> Result<Option<(OwnedFd, OwnedFd)>, SetupError> {
    let wanted = config.json_status_fd.is_some() || config.forward_signals;
    wanted.then(socketpair).transpose()
}

/// Join --userns before clone: the sandbox lives in that user namespace.
fn join_userns(config: &Config) -> Result<(), SetupError> {
    let Some(fd) = config.userns_fd else { return Ok(()) };
    sys::setns(fd, libc::CLONE_NEWUSER).map_err(|e| match e {
        Errno::EINVAL => setup_msg(
            Step::Userns,
            "Joining the specified user namespace failed, it might not be a descendant of the current user namespace.",
        ),
        e => setup_errno(Step::Userns, "Joining specified user namespace failed", e),
    })
}

/// --pidns: intermediate processes come and go; become their subreaper and
/// learn the final pid over a credentials socket.
fn pidns_socket(config: &Config) -> Result<Option<(OwnedFd, OwnedFd)>, SetupError> {
    if config.pidns_fd.is_none() {
        return Ok(None);
    }
    nix::sys::prctl::set_child_subreaper(true).map_err(|e| setup_errno(Step::Prctl, "prctl", e))?;
    socketpair().map(Some)
}

/// Both ends of every channel made before clone; each process keeps its
/// side after it.
struct Channels {
    child: child::ChildFds,
    monitor: monitor::MonitorFds,
    /// `--pidns`: where the monitor learns the final pid.
    pid_read: Option<OwnedFd>,
}

type Pair = Option<(OwnedFd, OwnedFd)>;

impl Channels {
    /// Each pair is (read end, write end); the socket pairs are symmetric.
    fn pair(go: Pair, status: Pair, setup: Pair, pid: Pair) -> Channels {
        let (go_read, go_write) = go.unzip();
        let (status_read, status_write) = status.unzip();
        let (setup_read, setup_write) = setup.unzip();
        let (pid_read, pid_write) = pid.unzip();
        Channels {
            child: child::ChildFds {
                go_read,
                pid_socket: pid_write,
                status_write,
                setup_finished: setup_write,
            },
            monitor: monitor::MonitorFds { go_write, status_read, setup_finished: setup_read },
            pid_read,
        }
    }

    /// In the child: only the go pipe's write end is closed (the child
    /// watches for its hangup); the monitor's other ends are close-on-exec
    /// and the reaper closes everything it does not use.
    fn child_side(self) -> child::ChildFds {
        let Channels { child, monitor, pid_read } = self;
        drop(monitor.go_write);
        std::mem::forget((monitor.status_read, monitor.setup_finished, pid_read));
        child
    }
}

/// Run the monitor; if it fails after clone, nobody would follow the
/// sandbox any more, so it must not outlive us (bwrap's monitor just dies;
/// ours leaves nothing behind).
fn monitor_or_kill(
    plan: prepare::Plan,
    cloned: Pid,
    channels: Channels,
    original_ppid: Pid,
) -> Result<i32, SetupError> {
    let mut reaped = false;
    let result = run_monitor(plan, cloned, channels, original_ppid, &mut reaped);
    if result.is_err() && !reaped {
        let _ = nix::sys::signal::kill(cloned, Signal::SIGKILL);
        while let Err(Errno::EINTR) = waitpid(cloned, None) {}
    }
    result
}

/// The monitor's steps before `monitor::run`: close the child's ends, learn
/// the final pid (--pidns), join --userns2.
fn run_monitor(
    plan: prepare::Plan,
    cloned: Pid,
    channels: Channels,
    original_ppid: Pid,
    reaped: &mut bool,
) -> Result<i32, SetupError> {
    let Channels { child, monitor: fds, pid_read } = channels;
    drop(child.go_read);
    drop(child.status_write);
    drop(child.setup_finished);
    drop(child.pid_socket);
    let pid = match pid_read {
        Some(sock) => match final_pid(&sock, cloned, reaped)? {
            Some(pid) => pid,
            None => return Ok(1),
        },
        None => cloned,
    };
    if let Some(fd) = plan.config.userns2_fd {
        sys::setns(fd, libc::CLONE_NEWUSER)
            .map_err(|e| setup_errno(Step::Userns2, "Setting userns2 failed", e))?;
    }
    monitor::run(plan, pid, fds, original_ppid, reaped)
}

/// --pidns: the final process's pid, as the child reports it. None when the
/// child failed before reporting and said why (exit status 1): that one line
/// is the whole story (bwrap adds a second, "Unexpected short read from pid
/// socket").
fn final_pid(sock: &OwnedFd, cloned: Pid, reaped: &mut bool) -> Result<Option<Pid>, SetupError> {
    // EOF or no credentials: the child failed.
    if let Ok(Some(sys::CredMessage { pid: Some(p), .. })) = sys::recv_with_pid_blocking(sock) {
        return Ok(Some(Pid::from_raw(p)));
    }
    let status = waitpid(cloned, None);
    *reaped = status.is_ok();
    if let Ok(WaitStatus::Exited(_, 1)) = status {
        return Ok(None);
    }
    Err(setup_msg(Step::Pidns, "Unexpected short read from pid socket"))
}
