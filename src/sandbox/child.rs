//! The sandbox child: everything between `clone` and `execvp`.
//!
//! Invariants (see ARCHITECTURE.md §7.6):
//! * The process is single-threaded; allocation is therefore safe here.
//! * `child_main` never returns: it ends in `execvp` or `sys::exit_now`.
//!   Errors are reported as one `bwrap: ...` line and `_exit(1)`; nothing
//!   unwinds into the parent's frames (panic = abort).
//! * The order mirrors bwrap's `main`: wait for the monitor → uid/gid maps →
//!   `/` slave → setup tmpfs → first pivot → ops → detach old root → second
//!   pivot → drop caps → chdir/env → session → Landlock scopes → reaper
//!   fork → seccomp → exec.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::stat::Mode;
use nix::unistd::{getgid, getuid};

use super::init;
use super::net;
use super::prepare::Plan;
use super::setup::warn;
use super::setup::{self, Ctx};
use super::status;
use crate::config::SetupOp;
use crate::error::{setup_errno, setup_msg, Detail, SetupError, Step};
use crate::fallback::{self, Fallback, Fallbacks};
use crate::report::{format_line, write_stderr, Level};
use crate::sys;

/// Fds the child inherits from the monitor's preparation.
pub struct ChildFds {
    /// Read end of the "go" pipe: the monitor writes one byte when ready
    /// (with `Plan::monitor_gate`), or holds it unwritten until it exits
    /// (`--die-with-parent` alone). None when neither applies.
    pub go_read: Option<OwnedFd>,
    /// `--pidns`: where the final process reports its pid to the monitor.
    pub pid_socket: Option<OwnedFd>,
    /// Write end of the reaper → monitor exit-status pipe.
    pub status_write: Option<OwnedFd>,
    /// COMMAND's process → monitor credentials socket (`--json-status-fd`):
    /// "about to exec" or an error.
    pub setup_finished: Option<OwnedFd>,
}

/// Run the child. Never returns.
pub fn child_main(plan: &Plan, mut fds: ChildFds) -> ! {
    // Kept here, not in `run`, so that it is still open to report an error.
    let report = fds.setup_finished.take();
    let err = match run(plan, fds, report.as_ref()) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    if let Some(sock) = &report {
        let _ = sys::fd::write_all(sock, &status::error_message(&err));
    }
    let prefix = plan.config.level_prefix;
    let mut out = format_line(prefix, Level::Error, &err.to_string());
    if let Some(hint) = err.hint() {
        out.push_str(&format_line(prefix, Level::Warning, hint));
    }
    write_stderr(out.as_bytes());
    sys::exit_now(1)
}

enum Never {}

fn mount_err(step: Step, msg: &str, e: Errno) -> SetupError {
    SetupError::new(step, msg, Detail::Mount(e))
}

/// The child's steps, in bwrap's order: each is its own function below.
fn run(plan: &Plan, mut fds: ChildFds, report: Option<&OwnedFd>) -> Result<Never, SetupError> {
    let config = &plan.config;
    // The monitor cloned us non-dumpable (see sandbox::dumpable); our own
    // /proc/self files must be ours to write the uid/gid maps.
    super::dumpable::set(true)?;
    if config.die_with_parent {
        set_pdeathsig()?;
    }
    enter_pidns(plan, fds.pid_socket.take())?;
    // The monitor owns the reporting fds.
    for fd in [config.info_fd, config.json_status_fd].into_iter().flatten() {
        plan.user_fds.close(fd);
    }
    wait_for_monitor(plan, fds.go_read.take())?;
    switch_to_sandbox_ids(plan)?;
    if config.unshare.net {
        net::loopback_setup()?;
    }
    // With --userns-block-fd the caller writes the maps (newuidmap).
    if plan.new_userns && config.userns_block_fd.is_none() {
        write_uid_gid_map(plan)?;
    }

    let old_umask = sys::umask(0);
    // Resolve bind sources on the host, as the user, before the pivot.
    let ops = setup::resolve_sources(&config.ops)?;
    let mut setup_root = Some(enter_setup_root()?);
    let root = super::resolve::NewRoot::open(config.debug_force_openat_fallback)
        .map_err(|e| setup_errno(Step::Newroot, "Can't open /newroot", e))?;
    let ctx = Ctx {
        proc_fd: &plan.proc_fd,
        root: &root,
        proc_fallback: plan.proc_fallback,
        proc_tier: std::cell::Cell::new(None),
        own_pidns: plan.new_pidns || config.pidns_fd.is_some(),
        host_tty: plan.host_tty.as_deref(),
        level_prefix: config.level_prefix,
        not_a_security_boundary: config.not_a_security_boundary,
        force_setattr_fallback: config.debug_force_setattr_fallback,
        file_label: config.file_label.as_deref(),
        user_fds: &plan.user_fds,
    };
    // `ops` stays until exec, as the sources always did: freeing it here
    // would add a munmap(2) for long bind lists.
    setup::setup_newroot(&ctx, &ops)?;
    if let Some(name) = &config.hostname {
        sys::sethostname(name.as_bytes()).map_err(|e| {
            setup_errno(
                Step::Sethostname,
                format!("Can't set hostname to {}", crate::report::show(name)),
                e,
            )
        })?;
    }
    close_op_fds(plan);

    // Fallbacks used (and Landlock scopes entered), reported on the
    // monitor's `command-pid` JSON line.
    let mut fallbacks = Fallbacks::default();
    if plan.implicit_userns {
        fallbacks.push(Fallback::UsernsImplicit);
    }
    let chroot_locked = leave_setup_root(plan, &mut setup_root, &mut fallbacks)?;
    if let Some(fd) = config.userns2_fd {
        sys::setns(fd, libc::CLONE_NEWUSER)
            .map_err(|e| setup_errno(Step::Userns2, "Setting userns2 failed", e))?;
    }
    // Whether a filter was there before ours (the kernel counts it too).
    let filtered_before =
        (config.seccomp_fd.is_some() || !config.add_seccomp.is_empty()) && sys::seccomp_filtered();
    let own_userns = lock_user_namespaces(plan)?;
    if ctx.proc_tier.get().is_some() {
        isolate_from_outside(plan, own_userns.is_some(), chroot_locked, &mut fallbacks)?;
    }
    let userns_lock = match own_userns {
        Some(OwnUserns::DisableUserns { seccomp: true }) => Some(Fallback::UsernsLockSeccomp),
        _ => None,
    };

    drop_privs(plan)?;
    wait_block_fd(plan);
    let seccomp_programs = seccomp_programs(plan)?;
    check_seccomp_chain(&seccomp_programs, filtered_before, userns_lock.is_some())?;
    sys::umask(old_umask);
    enter_command_state(plan)?;
    // Landlock scopes, before the reaper is forked so that it shares
    // COMMAND's domain (COMMAND may signal its parent), and before any of
    // the caller's seccomp programs, which therefore cannot refuse it.
    if let Some(record) = super::scope::apply(config)? {
        fallbacks.push(record);
    }
    fork_reaper(plan, fds.status_write.take(), report, &seccomp_programs)?;

    if let Some(tier) = ctx.proc_tier.get() {
        fallbacks.push(Fallback::Proc(tier));
    }
    if let Some(lock) = userns_lock {
        fallbacks.push(lock);
    }
    if sys::openat2_emulated() {
        // Destinations were resolved by the userspace in-root resolver.
        fallbacks.push(Fallback::Openat2Userspace);
    }
    exec_command(plan, &seccomp_programs, report, &fallbacks.encode())
}

fn set_pdeathsig() -> Result<(), SetupError> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| setup_errno(Step::Prctl, "prctl", e))
}

/// `--pidns`: enter it (and optionally a new pid namespace below it),
/// forking so that the final process is inside, and tell the monitor that
/// process's pid (the kernel translates it for the receiver).
fn enter_pidns(plan: &Plan, pid_socket: Option<OwnedFd>) -> Result<(), SetupError> {
    let config = &plan.config;
    let Some(fd) = config.pidns_fd else {
        return Ok(());
    };
    sys::setns(fd, libc::CLONE_NEWPID)
        .map_err(|e| setup_errno(Step::Pidns, "Setting pidns failed", e))?;
    fork_intermediate_child()?;
    if config.unshare.pid {
        sys::unshare(libc::CLONE_NEWPID)
            .map_err(|e| setup_errno(Step::Pidns, "unshare pid ns", e))?;
        fork_intermediate_child()?;
    }
    if let Some(sock) = &pid_socket {
        let _ = sys::fd::write_all(sock, &[0u8]);
    }
    Ok(())
}

/// Wait for the monitor. EOF means it died before releasing us: with
/// --die-with-parent that closes the PDEATHSIG race; without, there is
/// nobody to report to either. Without a gate, --die-with-parent only
/// checks that the monitor is still there now that PDEATHSIG is set.
fn wait_for_monitor(plan: &Plan, go: Option<OwnedFd>) -> Result<(), SetupError> {
    let Some(go) = go else {
        return Ok(());
    };
    if plan.monitor_gate {
        let mut b = [0u8; 1];
        match sys::fd::read_retry(&go, &mut b) {
            Ok(1) => {}
            // EOF: the monitor died; nobody is left to tell.
            Ok(_) => sys::exit_now(1),
            Err(e) => return Err(setup_errno(Step::Monitor, "Can't read from the monitor", e)),
        }
    } else if sys::fd::peer_gone(&go) {
        sys::exit_now(1);
    }
    Ok(())
}

/// switch_to_user_with_privs: a new user namespace gave us a full bounding
/// set again; limit it to what COMMAND may end with. A joined user
/// namespace may allow other ids: switch to the target.
fn switch_to_sandbox_ids(plan: &Plan) -> Result<(), SetupError> {
    let config = &plan.config;
    if plan.new_userns || config.userns_fd.is_some() {
        drop_bounding_set(plan.requested_caps, plan.last_cap)?;
    }
    if config.userns_fd.is_none() {
        return Ok(());
    }
    if plan.sandbox_uid != plan.real_uid {
        nix::unistd::setuid(nix::unistd::Uid::from_raw(plan.sandbox_uid)).map_err(|e| {
            setup_errno(Step::Setuid, format!("unable to switch to uid {}", plan.sandbox_uid), e)
        })?;
    }
    if plan.sandbox_gid != plan.real_gid {
        nix::unistd::setgid(nix::unistd::Gid::from_raw(plan.sandbox_gid)).map_err(|e| {
            setup_errno(Step::Setgid, format!("unable to switch to gid {}", plan.sandbox_gid), e)
        })?;
    }
    Ok(())
}

/// Where the setup stands once the setup tmpfs is the root.
struct SetupRoot {
    /// The setup tmpfs's directory on the host (`/tmp`, ...).
    base: &'static str,
    /// The host root, opened before the pivot for its fallback. On the
    /// usual path it stays open until exec closes it (O_CLOEXEC): closing it
    /// earlier would cost a close(2) that bwrap's start-up does not pay.
    real_root: OwnedFd,
    /// pivot_root was refused, and why: the locked-chroot fallback.
    pivot_refused: Option<Errno>,
}

/// Make `/` a slave, mount the setup tmpfs with `newroot` and `oldroot`
/// in it, and pivot into it (or, where pivot_root is refused, reach the
/// same layout with a recursive bind of `/` on `oldroot` and a chroot).
fn enter_setup_root() -> Result<SetupRoot, SetupError> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_SILENT | MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| mount_err(Step::MakeSlave, "Failed to make / slave", e))?;
    let base = mount_setup_tmpfs()?;
    nix::unistd::chdir(base).map_err(|e| setup_errno(Step::Chdir, "chdir base_path", e))?;
    nix::unistd::mkdir("newroot", Mode::from_bits_truncate(0o755))
        .map_err(|e| setup_errno(Step::MkdirNewroot, "Creating newroot failed", e))?;
    mount(
        Some("newroot"),
        "newroot",
        None::<&str>,
        MsFlags::MS_SILENT | MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| mount_err(Step::BindNewroot, "setting up newroot bind", e))?;
    nix::unistd::mkdir("oldroot", Mode::from_bits_truncate(0o755))
        .map_err(|e| setup_errno(Step::MkdirOldroot, "Creating oldroot failed", e))?;
    // The host root, for the pivot_root fallback (it must be named after
    // we chroot into the setup tmpfs).
    let real_root =
        nix::fcntl::open("/", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| setup_errno(Step::PivotRoot, "can't open /", e))?;
    let pivot_refused = match nix::unistd::pivot_root(base, "oldroot") {
        Ok(()) => None,
        // A container seccomp profile refusing pivot_root, or a root
        // filesystem it cannot leave (initramfs).
        Err(e @ (Errno::EPERM | Errno::EINVAL)) => {
            chroot_instead_of_pivot(base, e)?;
            Some(e)
        }
        Err(e) => return Err(setup_errno(Step::PivotRoot, "pivot_root", e)),
    };
    nix::unistd::chdir("/").map_err(|e| setup_errno(Step::Chdir, "chdir / (base path)", e))?;
    Ok(SetupRoot { base, real_root, pivot_refused })
}

/// The pivot_root fallback: a recursive bind of / on oldroot and a chroot
/// into the setup tmpfs. `why` is pivot_root's error, reported if this
/// fails too.
fn chroot_instead_of_pivot(base: &str, why: Errno) -> Result<(), SetupError> {
    mount(
        Some("/"),
        "oldroot",
        None::<&str>,
        MsFlags::MS_SILENT | MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|_| setup_errno(Step::PivotRoot, "pivot_root", why))?;
    // The copy of / holds a copy of the setup tmpfs over the base
    // directory: detach it, so the host's own files there (sources under
    // /tmp) show under /oldroot as they do after a pivot.
    let covered = format!("oldroot{base}");
    umount2(covered.as_str(), MntFlags::MNT_DETACH)
        .map_err(|_| setup_errno(Step::PivotRoot, "pivot_root", why))?;
    nix::unistd::chroot(".").map_err(|_| setup_errno(Step::PivotRoot, "pivot_root", why))
}

/// Detach the old root so nothing of the host stays reachable, and make
/// the new root `/`. Returns whether that took the locked-chroot fallback.
fn leave_setup_root(
    plan: &Plan,
    setup_root: &mut Option<SetupRoot>,
    fallbacks: &mut Fallbacks,
) -> Result<bool, SetupError> {
    mount(
        Some("oldroot"),
        "oldroot",
        None::<&str>,
        MsFlags::MS_SILENT | MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| mount_err(Step::OldrootPrivate, "Failed to make old root rprivate", e))?;
    let Some(why) = setup_root.as_ref().and_then(|r| r.pivot_refused) else {
        // The second pivot's lazy unmount of the setup tmpfs takes the old
        // root with it: one unmount (one RCU grace period) instead of two.
        second_pivot()?;
        return Ok(false);
    };
    // The host root is closed once the chroot is locked.
    let Some(SetupRoot { base, real_root, .. }) = setup_root.take() else {
        return Ok(false);
    };
    umount2("oldroot", MntFlags::MNT_DETACH)
        .map_err(|e| setup_errno(Step::UmountOldroot, "unmount old root", e))?;
    move_root_and_lock(plan, &real_root, base)?;
    warn(
        plan.config.level_prefix,
        &format!(
            "pivot_root: {}; using a chroot locked in a new user and mount namespace instead \
             (nestwrap fallback)",
            crate::error::strerror(why)
        ),
    );
    fallbacks.push(Fallback::PivotRootLockedChroot);
    Ok(true)
}

/// The /proc fallbacks show processes outside the sandbox (parent-bind
/// always; subset-pid when the pid namespace is shared), where bwrap would
/// have refused to run. COMMAND must not share a user namespace with any of
/// them: across a user namespace boundary the kernel (commoncap) refuses
/// ptrace and every ptrace-mode /proc access (root, cwd, mem, environ, fd,
/// map_files). COMMAND shares one when nestwrap made none (a caller whose
/// namespace holds CAP_SYS_ADMIN, --userns) or when --userns2 was the last
/// one entered; then one more user + mount namespace goes below it
/// ([`fallback::proc_isolation_needed`], which `--diagnose` asks too).
fn isolate_from_outside(
    plan: &Plan,
    own_userns: bool,
    chroot_locked: bool,
    fallbacks: &mut Fallbacks,
) -> Result<(), SetupError> {
    let userns2 = plan.config.userns2_fd.is_some();
    if fallback::proc_isolation_needed(plan.new_userns, chroot_locked, userns2, own_userns) {
        enter_own_userns(plan, libc::CLONE_NEWUSER | libc::CLONE_NEWNS, Step::ProcIsolation)?;
        fallbacks.push(Fallback::ProcIsolationUserns);
    }
    Ok(())
}

/// `--block-fd`: any data or EOF unblocks.
fn wait_block_fd(plan: &Plan) {
    if let Some(fd) = plan.config.block_fd {
        let mut b = [0u8; 1];
        if let Ok(owned) = plan.user_fds.take(fd) {
            while let Err(Errno::EINTR) = nix::unistd::read(&owned, &mut b) {}
        }
    }
}

/// The seccomp programs to install: `--seccomp`'s, read where bwrap reads
/// it but never more than one instruction past the kernel's limit
/// (DESIGN.md: bounded reads), then the `--add-seccomp-fd` ones.
fn seccomp_programs(plan: &Plan) -> Result<Vec<Vec<u8>>, SetupError> {
    let config = &plan.config;
    let mut programs: Vec<Vec<u8>> = Vec::new();
    if let Some(fd) = config.seccomp_fd {
        let data = plan
            .user_fds
            .take(fd)
            .and_then(|f| sys::fd::read_bounded(&f, crate::limits::SECCOMP_READ_MAX, |_| false))
            .map_err(|e| setup_errno(Step::Seccomp, "Can't read seccomp data", e))?;
        crate::limits::check_seccomp_program(&data).map_err(|m| setup_msg(Step::Seccomp, m))?;
        programs.push(data);
    }
    programs.extend(config.add_seccomp.iter().cloned());
    Ok(programs)
}

/// COMMAND's cwd (and `PWD`), session and exec label.
fn enter_command_state(plan: &Plan) -> Result<(), SetupError> {
    let config = &plan.config;
    let new_cwd = choose_cwd(plan)?;
    std::env::set_var("PWD", &new_cwd);
    if config.new_session {
        nix::unistd::setsid().map_err(|e| setup_errno(Step::Setsid, "setsid", e))?;
    }
    if let Some(label) = &config.exec_label {
        super::label::set_exec(&plan.proc_fd, label, &config.command[0])?;
    }
    Ok(())
}

/// Fork the reaper when one is needed (it becomes COMMAND's parent and
/// never returns here); COMMAND's process goes on. Without a reaper,
/// --die-with-parent is set on COMMAND's process directly.
fn fork_reaper(
    plan: &Plan,
    status_write: Option<OwnedFd>,
    report: Option<&OwnedFd>,
    seccomp_programs: &[Vec<u8>],
) -> Result<(), SetupError> {
    let config = &plan.config;
    if !plan.needs_reaper {
        if config.die_with_parent {
            set_pdeathsig()?;
        }
        return Ok(());
    }
    // With --lock-file the reaper takes the locks (without capabilities,
    // as bwrap's does) before COMMAND may go on: a failure then stops the
    // sandbox before COMMAND runs instead of racing it.
    let lock_gate = if config.lock_files.is_empty() {
        None
    } else {
        Some(
            nix::unistd::pipe2(OFlag::O_CLOEXEC)
                .map_err(|e| setup_errno(Step::Pipe, "pipe2()", e))?,
        )
    };
    let my_pid = nix::unistd::getpid();
    match sys::fork().map_err(|e| setup_errno(Step::Fork, "Can't fork for pid 1", e))? {
        Some(initial) => {
            let release = lock_gate.map(|(_, w)| w);
            // The reaper's own setup failures reach --json-status-fd too.
            let report = report.and_then(|r| r.try_clone().ok());
            let code = init::run(plan, initial, status_write, release, seccomp_programs, report);
            sys::exit_now(code)
        }
        None => {
            if let Some((r, w)) = lock_gate {
                drop(w);
                let mut b = [0u8; 1];
                // EOF: the reaper could not take a lock and said so.
                if !matches!(sys::fd::read_retry(&r, &mut b), Ok(1)) {
                    sys::exit_now(1);
                }
            }
            // COMMAND: its parent is the reaper.
            if config.die_with_parent {
                set_pdeathsig()?;
                if !plan.new_pidns && nix::unistd::getppid() != my_pid {
                    sys::exit_now(1);
                }
            }
        }
    }
    Ok(())
}

/// Why COMMAND runs in a user namespace nestwrap made below the one the
/// sandbox was set up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwnUserns {
    /// `--disable-userns`; `seccomp` when the lock is a seccomp filter
    /// because `/proc/sys` is read-only.
    DisableUserns { seccomp: bool },
    /// bwrap's second namespace for `--dev` (see [`needs_second_userns`]).
    DevIds,
}

/// bwrap maps uid and gid 0 in its first user namespace when `--dev` needs
/// devpts, and then runs COMMAND in a second one mapping the sandbox ids
/// onto them: that namespace does not own the sandbox's mounts (nor its
/// other namespaces), so no capability COMMAND holds can change them.
/// nestwrap maps the sandbox ids directly, which needs no second namespace
/// for a COMMAND without capabilities (it keeps `--dev` sandboxes nesting
/// 32 deep); a COMMAND that ends with capabilities gets bwrap's layout
/// (0 in the first namespace, the sandbox ids in a second one) wherever
/// bwrap uses it, so it is never stronger than under bwrap.
fn needs_second_userns(plan: &Plan) -> bool {
    let config = &plan.config;
    plan.new_userns
        && config.userns_block_fd.is_none()
        && plan.requested_caps != 0
        && (plan.sandbox_uid != 0 || plan.sandbox_gid != 0)
        && config.ops.iter().any(|op| matches!(op, SetupOp::Dev { .. }))
}

/// The kernel refuses a filter chain longer than `MAX_INSNS_PER_PATH`, counted
/// in the eBPF it translates each program to, which only the kernel knows
/// exactly, and counting filters inherited from the caller. When the chain
/// might not fit (`limits::stack_surely_fits`), attach it once in a
/// throwaway child first, so that a refusal is one error line here, before
/// the reaper and COMMAND each attach it for real (and COMMAND never starts).
fn check_seccomp_chain(
    programs: &[Vec<u8>],
    filtered_before: bool,
    locked: bool,
) -> Result<(), SetupError> {
    if programs.is_empty() {
        return Ok(());
    }
    let lock_len = if locked { super::userns_lock::filter().map_or(0, |f| f.len() / 8) } else { 0 };
    let lens = std::iter::once(lock_len).filter(|&n| n > 0);
    let lens = lens.chain(programs.iter().map(|p| p.len() / 8));
    if crate::limits::stack_surely_fits(lens, filtered_before) {
        return Ok(());
    }
    match sys::fork().map_err(|e| setup_errno(Step::Fork, "Can't fork", e))? {
        None => {
            for program in programs {
                if let Err(e) = sys::seccomp_set_filter(program) {
                    sys::exit_now(e as i32);
                }
            }
            sys::exit_now(0)
        }
        Some(pid) => loop {
            match nix::sys::wait::waitpid(pid, None) {
                Err(Errno::EINTR) => continue,
                Ok(nix::sys::wait::WaitStatus::Exited(_, code)) if code != 0 => {
                    return Err(super::userns_lock::seccomp_failure(Errno::from_raw(code)));
                }
                // Attached, or killed by one of the filters it attached (the
                // real attach then meets the same filter, as under bwrap).
                _ => return Ok(()),
            }
        },
    }
}

/// `--disable-userns`: cap `user.max_user_namespaces` at 1 inside our user
/// namespace and enter a second one, so the sandbox can neither create user
/// namespaces nor raise the limit again. Where `/proc/sys` is read-only (as
/// in containers) a seccomp filter does the same job instead. Otherwise,
/// bwrap's second user namespace for `--dev` ([`needs_second_userns`]).
/// Then, for `--disable-userns` and `--assert-userns-disabled`, check that
/// no user namespace can be made. Returns why a namespace was entered, if
/// one was.
fn lock_user_namespaces(plan: &Plan) -> Result<Option<OwnUserns>, SetupError> {
    let config = &plan.config;
    let mut own = None;
    if plan.new_userns && config.userns_block_fd.is_none() && config.disable_userns {
        let sysctl = openat(
            &plan.proc_fd,
            "sys/user/max_user_namespaces",
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        );
        let use_seccomp = match sysctl {
            Ok(fd) => {
                sys::fd::write_all(&fd, b"1").map_err(|e| {
                    setup_errno(Step::DisableUserns, "sysctl user.max_user_namespaces = 1", e)
                })?;
                false
            }
            Err(Errno::EROFS) | Err(Errno::EACCES) | Err(Errno::EPERM) => true,
            Err(e) => {
                return Err(setup_errno(
                    Step::DisableUserns,
                    "cannot open /proc/sys/user/max_user_namespaces",
                    e,
                ))
            }
        };
        enter_own_userns(plan, libc::CLONE_NEWUSER, Step::UnshareUser)?;
        if use_seccomp {
            let filter = super::userns_lock::filter().ok_or_else(|| {
                setup_msg(
                    Step::DisableUserns,
                    "cannot open /proc/sys/user/max_user_namespaces: Read-only file system \
                     (and no seccomp filter is known for this architecture)",
                )
            })?;
            super::userns_lock::apply_seccomp(&filter)?;
        }
        own = Some(OwnUserns::DisableUserns { seccomp: use_seccomp });
    } else if needs_second_userns(plan) {
        enter_own_userns(plan, libc::CLONE_NEWUSER, Step::UnshareUser)?;
        own = Some(OwnUserns::DevIds);
    }
    // Verify that no new user namespace can be made any more.
    if (config.disable_userns || config.assert_userns_disabled)
        && sys::unshare(libc::CLONE_NEWUSER).is_ok()
    {
        return Err(setup_msg(
            Step::AssertUsernsDisabled,
            "creation of new user namespaces was not disabled as requested",
        ));
    }
    Ok(own)
}

/// Enter a new user namespace (plus whatever else `flags` names) below the
/// current one, limit its bounding set to what COMMAND may end with, and
/// map our current ids 1:1 (the sandbox ids, or what a joined `--userns`
/// maps us to): our own ids in the parent namespace, so no privilege is
/// needed there and COMMAND sees the same ids as without the layer.
/// setgroups is denied first where the parent namespace still allows it.
fn enter_own_userns(plan: &Plan, flags: libc::c_int, step: Step) -> Result<(), SetupError> {
    // Read before: in the new namespace our ids are unmapped until written.
    let ids = (getuid().as_raw(), getgid().as_raw());
    sys::unshare(flags).map_err(|e| setup_errno(step, "unshare user ns", e))?;
    map_own_userns(plan, ids)
}

/// The second half of [`enter_own_userns`], for a namespace just entered
/// by a process whose ids in the parent namespace were `(uid, gid)`. Where
/// the first namespace mapped uid and gid 0 as bwrap's does for `--dev`
/// ([`needs_second_userns`]), the sandbox ids map onto them, as in bwrap.
fn map_own_userns(plan: &Plan, (uid, gid): (u32, u32)) -> Result<(), SetupError> {
    drop_bounding_set(plan.requested_caps, plan.last_cap)?;
    let (in_uid, in_gid) =
        if needs_second_userns(plan) { (plan.sandbox_uid, plan.sandbox_gid) } else { (uid, gid) };
    let write = |name: &str, text: &str| write_proc_file(plan, name, text);
    write("self/uid_map", &format!("{in_uid} {uid} 1\n"))
        .map_err(|e| setup_errno(Step::UidMap, "setting up uid map", e))?;
    match write("self/setgroups", "deny\n") {
        Ok(()) | Err(Errno::ENOENT) | Err(Errno::EPERM) => {}
        Err(e) => return Err(setup_errno(Step::Setgroups, "error writing to setgroups", e)),
    }
    write("self/gid_map", &format!("{in_gid} {gid} 1\n"))
        .map_err(|e| setup_errno(Step::GidMap, "setting up gid map", e))?;
    Ok(())
}

/// Mount the setup tmpfs on the first base directory that exists; bwrap's
/// error (for `/tmp`) when none does, or when the mount itself is refused.
fn mount_setup_tmpfs() -> Result<&'static str, SetupError> {
    let mut first_err = None;
    for base in super::prepare::BASE_PATHS {
        match mount(
            Some("tmpfs"),
            base,
            Some("tmpfs"),
            MsFlags::MS_NODEV | MsFlags::MS_NOSUID,
            None::<&str>,
        ) {
            Ok(()) => return Ok(base),
            Err(e @ (Errno::ENOENT | Errno::ENOTDIR)) => {
                first_err.get_or_insert(e);
            }
            Err(e) => return Err(mount_err(Step::MountBase, "Failed to mount tmpfs", e)),
        }
    }
    Err(mount_err(Step::MountBase, "Failed to mount tmpfs", first_err.unwrap_or(Errno::ENOENT)))
}

/// Second pivot: make /newroot the root and detach the setup tmpfs.
fn second_pivot() -> Result<(), SetupError> {
    let oldroot = nix::fcntl::open(
        "/",
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| setup_errno(Step::Pivot, "can't open /", e))?;
    nix::unistd::chdir("/newroot").map_err(|e| setup_errno(Step::Pivot, "chdir /newroot", e))?;
    nix::unistd::pivot_root(".", ".")
        .map_err(|e| setup_errno(Step::Pivot, "pivot_root(/newroot)", e))?;
    nix::unistd::fchdir(&oldroot).map_err(|e| setup_errno(Step::Pivot, "fchdir to oldroot", e))?;
    umount2(".", MntFlags::MNT_DETACH)
        .map_err(|e| setup_errno(Step::Pivot, "umount old root", e))?;
    nix::unistd::chdir("/").map_err(|e| setup_errno(Step::Pivot, "chdir /", e))?;
    Ok(())
}

/// The pivot_root fallback's second step: move the new root over the mount
/// namespace's root, chroot into it, detach the setup tmpfs, and enter one
/// more user + mount namespace. In that namespace every mount inherited from
/// ours is locked, so even a COMMAND with CAP_SYS_ADMIN in its namespace
/// cannot unmount the new root to uncover the host's; and `..` from the top
/// of the moved mount leads back into it. If the extra layer cannot be made,
/// fail rather than start a weaker sandbox.
fn move_root_and_lock(plan: &Plan, real_root: &OwnedFd, base: &str) -> Result<(), SetupError> {
    let step = |msg: &str, e: Errno| setup_errno(Step::LockedChroot, msg.to_owned(), e);
    let newroot = nix::fcntl::open(
        "/newroot",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| step("can't open /newroot", e))?;
    nix::unistd::fchdir(real_root).map_err(|e| step("fchdir to the host root", e))?;
    // The setup tmpfs, relative to the host root.
    let base = base.trim_start_matches('/');
    let newroot_path = format!("{base}/newroot");
    mount(Some(newroot_path.as_str()), ".", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .map_err(|e| step("Can't move /newroot over /", e))?;
    umount2(base, MntFlags::MNT_DETACH).map_err(|e| step("unmount the setup tmpfs", e))?;
    nix::unistd::fchdir(&newroot).map_err(|e| step("fchdir /newroot", e))?;
    nix::unistd::chroot(".").map_err(|e| step("chroot into /newroot", e))?;
    nix::unistd::chdir("/").map_err(|e| step("chdir /", e))?;
    let ids = (getuid().as_raw(), getgid().as_raw());
    match sys::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) {
        Ok(()) => {}
        Err(e) => {
            return Err(step(
                "pivot_root is refused here and the fallback could not lock the sandbox's mounts in a new \
                 user namespace",
                e,
            ))
        }
    }
    map_own_userns(plan, ids)
}

/// Fork; the parent exits at once and the child carries on (used to land
/// inside a pid namespace entered with setns/unshare).
fn fork_intermediate_child() -> Result<(), SetupError> {
    match sys::fork().map_err(|e| setup_errno(Step::Pidns, "Can't fork for --pidns", e))? {
        Some(_) => sys::exit_now(0),
        None => Ok(()),
    }
}

/// The last steps in the COMMAND process, then `execvp`.
fn exec_command(
    plan: &Plan,
    seccomp: &[Vec<u8>],
    report: Option<&OwnedFd>,
    fallbacks: &[u8],
) -> Result<Never, SetupError> {
    let config = &plan.config;
    if !config.as_pid_1 {
        for &fd in &config.sync_fds {
            plan.user_fds.close(fd);
        }
    }
    SigSet::all().thread_unblock().map_err(|e| setup_errno(Step::Sigprocmask, "sigprocmask", e))?;

    // Ambient capabilities carry the requested set across exec.
    if plan.requested_caps != 0 && !plan.keeps_caller_caps() {
        for cap in 0..=plan.last_cap {
            if plan.requested_caps & (1u64 << cap) != 0 {
                match sys::caps::ambient_raise(cap) {
                    Ok(()) | Err(Errno::EINVAL) | Err(Errno::EPERM) => {}
                    Err(e) => {
                        return Err(setup_errno(
                            Step::Caps,
                            format!("Adding ambient capability {cap}"),
                            e,
                        ))
                    }
                }
            }
        }
    }

    // Seccomp last, so filters need not allow anything above.
    for program in seccomp {
        super::userns_lock::apply_seccomp(program)?;
    }

    // Tell the monitor COMMAND is about to run (and which fallbacks the
    // sandbox needed); a failed exec follows up with an error message.
    if let Some(fd) = report {
        let _ = sys::fd::write_all(fd, &status::exec_message(fallbacks));
    }
    let err = nix::unistd::execvp(&plan.exec_path, &plan.exec_argv).unwrap_err();
    Err(setup_errno(
        Step::Exec,
        format!(
            "execvp {}",
            crate::report::show(std::ffi::OsStr::from_bytes(plan.exec_path.as_bytes()))
        ),
        err,
    )
    .with_path(config.command[0].clone()))
}

fn close_op_fds(plan: &Plan) {
    for fd in plan.config.ops.iter().filter_map(SetupOp::consumed_fd) {
        plan.user_fds.close(fd);
    }
}

/// Write `text` to a file under the saved `/proc` fd (`self/uid_map`, ...).
fn write_proc_file(plan: &Plan, name: &str, text: &str) -> Result<(), Errno> {
    let fd = openat(&plan.proc_fd, name, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty())?;
    // One write(2) per file, as the kernel wants for these; EINTR retried
    // as bwrap's write_to_fd does.
    sys::fd::write_all(&fd, text.as_bytes())
}

/// uid_map, setgroups, gid_map, written by the child itself (unprivileged).
fn write_uid_gid_map(plan: &Plan) -> Result<(), SetupError> {
    let write = |name: &str, text: &str| write_proc_file(plan, name, text);
    // bwrap's first namespace maps 0 for `--dev`; ours does too where a
    // second one follows (see `needs_second_userns`), else the sandbox ids.
    let (ns_uid, ns_gid) =
        if needs_second_userns(plan) { (0, 0) } else { (plan.sandbox_uid, plan.sandbox_gid) };
    let uid_map = format!("{ns_uid} {} 1\n", plan.real_uid);
    let gid_map = format!("{ns_gid} {} 1\n", plan.real_gid);
    write("self/uid_map", &uid_map)
        .map_err(|e| setup_errno(Step::UidMap, "setting up uid map", e))?;
    match write("self/setgroups", "deny\n") {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(setup_errno(Step::Setgroups, "error writing to setgroups", e)),
    }
    write("self/gid_map", &gid_map)
        .map_err(|e| setup_errno(Step::GidMap, "setting up gid map", e))?;
    Ok(())
}

fn drop_bounding_set(keep: u64, last_cap: u32) -> Result<(), SetupError> {
    for cap in 0..=last_cap {
        if keep & (1u64 << cap) == 0 {
            match sys::caps::bounding_drop(cap) {
                Ok(()) | Err(Errno::EINVAL) => {}
                // bwrap ignores EPERM too (old kernels gave it spuriously),
                // relying on no_new_privs. We fail closed when the
                // capability really stayed in the bounding set.
                Err(Errno::EPERM) if sys::caps::bounding_read(cap) == Ok(false) => {}
                Err(e) => {
                    return Err(setup_errno(
                        Step::Caps,
                        format!("Dropping capability {cap} from bounds"),
                        e,
                    ))
                }
            }
        }
    }
    Ok(())
}

/// bwrap's `drop_privs(keep_requested_caps = true)`: root without cap
/// options keeps everything (capset is not even called); everyone else ends
/// with exactly the requested set.
fn drop_privs(plan: &Plan) -> Result<(), SetupError> {
    if !plan.keeps_caller_caps() {
        let caps = plan.requested_caps;
        let sets = sys::caps::CapSets { effective: caps, permitted: caps, inheritable: caps };
        match sys::caps::capset(sets) {
            Ok(()) => {}
            // As bwrap: root may lack some of what it asked for (a bounding
            // set without CAP_SYS_RESOURCE, systemd-nspawn's seccomp policy).
            Err(Errno::EPERM) if plan.is_root => {}
            Err(e) => return Err(setup_errno(Step::Caps, "capset failed", e)),
        }
    }
    super::dumpable::set(true)?;
    Ok(())
}

/// `--chdir`, else the caller's cwd if it exists inside, else `$HOME`, else `/`.
fn choose_cwd(plan: &Plan) -> Result<OsString, SetupError> {
    if let Some(dir) = &plan.config.chdir {
        nix::unistd::chdir(dir.as_os_str()).map_err(|e| {
            setup_errno(Step::Chdir, format!("Can't chdir to {}", crate::report::show(dir)), e)
                .with_path(dir.clone())
        })?;
        return Ok(dir.clone());
    }
    if let Some(cwd) = &plan.old_cwd {
        if nix::unistd::chdir(cwd.as_os_str()).is_ok() {
            return Ok(cwd.clone());
        }
    }
    if let Some(home) = std::env::var_os("HOME") {
        if nix::unistd::chdir(home.as_os_str()).is_ok() {
            return Ok(home);
        }
    }
    Ok(OsStr::new("/").to_owned())
}
