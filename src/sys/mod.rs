//! The only module allowed to use `unsafe`.
//!
//! Thin wrappers over the syscalls nix does not cover (raw fork-style clone,
//! `_exit`, capabilities, `mount_setattr`, seccomp, `close_range`). Each
//! returns `Result<_, Errno>`; callers add the step and path to any error.
//! Every `unsafe` block states why it is sound.

pub mod caps;
pub mod fd;
pub mod inroot;
pub mod landlock;
pub mod mount;

use std::ffi::CStr;

use nix::errno::Errno;
use nix::unistd::Pid;

/// Set by [`check_single_threaded`] once it has seen one thread; read by
/// [`clone_fork`]. A forked child inherits it, and is single-threaded too.
static SINGLE_THREADED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Check that this process has one thread (`/proc/self/task`) and, if so,
/// allow [`clone_fork`] from now on. `Err(n)` gives the count seen. Where
/// the count cannot be read (a masked `/proc`), it is taken as one, as the
/// callers always did: nestwrap itself starts no thread (DESIGN.md, unsafe
/// inventory), so the check guards against a future change, not a caller.
pub fn check_single_threaded() -> Result<(), usize> {
    if let Some(n) = thread_count().filter(|&n| n != 1) {
        return Err(n);
    }
    SINGLE_THREADED.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// `clone(2)` with a NULL stack: fork semantics plus namespace flags, as
/// bwrap's `raw_clone`. Returns `Ok(None)` in the child.
///
/// The child gets a copy of only the calling thread and then runs ordinary
/// Rust (including allocation), which is only sound without other threads.
/// So this refuses (`EDEADLK`, "would deadlock") unless
/// [`check_single_threaded`] has passed in this process (or in the parent
/// it was forked from): the function checks its own invariant instead of
/// trusting its caller, without a syscall of its own.
pub fn clone_fork(flags: libc::c_int) -> Result<Option<Pid>, Errno> {
    if !SINGLE_THREADED.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(Errno::EDEADLK);
    }
    let flags = (flags | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: with a NULL stack the kernel gives the child a copy-on-write
    // copy of our stack, exactly like fork(2); no Rust invariant depends on
    // the thread id. The process is single-threaded (checked above, see
    // the function docs), so no lock can be held by a thread that does not exist in the
    // child. x86_64/aarch64 argument order: flags, stack, ptid, ctid, tls.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as libc::pid_t))),
    }
}

/// `fork(2)` for the pid-1 reaper. Same soundness argument as [`clone_fork`].
pub fn fork() -> Result<Option<Pid>, Errno> {
    clone_fork(0)
}

/// `_exit(2)`: leave now, without running atexit handlers or flushing
/// stdio buffers inherited from the parent.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}

/// Whether this process was exec'd with elevated privilege (setuid, setgid
/// or file capabilities): the kernel sets `AT_SECURE` then.
pub fn is_secure_exec() -> bool {
    // SAFETY: getauxval only reads the auxiliary vector.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// `close_range(first, ~0, 0)`: close every fd from `first` up.
pub fn close_from(first: u32) -> Result<(), Errno> {
    close_range(first, u32::MAX)
}

/// Close every fd >= 3 except those in `keep` (sorted or not).
pub fn close_all_except(keep: &[i32]) -> Result<(), Errno> {
    let mut keep: Vec<i32> = keep.iter().copied().filter(|&fd| fd > 2).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut next = 3;
    for &fd in &keep {
        if fd > next {
            close_range(next as u32, (fd - 1) as u32)?;
        }
        next = fd + 1;
    }
    close_from(next as u32)
}

fn close_range(first: u32, last: u32) -> Result<(), Errno> {
    // SAFETY: closing descriptors cannot violate memory safety; callers
    // only close ranges in which no OwnedFd is still used.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
    if r == 0 {
        return Ok(());
    }
    match Errno::last() {
        // Kernels before 5.9, or a seccomp profile that refuses it.
        Errno::ENOSYS | Errno::EPERM => close_listed(first, last),
        e => Err(e),
    }
}

/// `close_range`'s fallback: close the fds in `first..=last` that
/// `/proc/self/fd` lists (bwrap's fdwalk).
fn close_listed(first: u32, last: u32) -> Result<(), Errno> {
    use nix::fcntl::OFlag;
    use std::os::fd::AsRawFd;
    let mut dir = nix::dir::Dir::open(
        "/proc/self/fd",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    let own = dir.as_raw_fd();
    let fds: Vec<i32> = dir
        .iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().ok()?.parse::<i32>().ok())
        .filter(|&fd| fd != own && u32::try_from(fd).is_ok_and(|f| (first..=last).contains(&f)))
        .collect();
    drop(dir);
    for fd in fds {
        // SAFETY: as for close_range above: the caller asked for every fd
        // in the range to be closed and uses none of them any more.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

/// Whether this process already runs under a seccomp filter
/// (`PR_GET_SECCOMP` says 2; an error, from a filter refusing the call,
/// counts as yes).
pub fn seccomp_filtered() -> bool {
    // SAFETY: PR_GET_SECCOMP takes no pointer and only reports the mode.
    let r = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    r != 0
}

/// Install a classic-BPF seccomp program (`PR_SET_SECCOMP`).
pub fn seccomp_set_filter(program: &[u8]) -> Result<(), Errno> {
    // Copy into a properly aligned buffer of sock_filter structs.
    let n = program.len() / 8;
    let mut filters: Vec<libc::sock_filter> = Vec::with_capacity(n);
    for chunk in program.chunks_exact(8) {
        filters.push(libc::sock_filter {
            code: u16::from_ne_bytes([chunk[0], chunk[1]]),
            jt: chunk[2],
            jf: chunk[3],
            k: u32::from_ne_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]),
        });
    }
    // `len` is 16 bits: a longer program must never reach the kernel
    // truncated (callers refuse anything over BPF_MAXINSNS long before).
    let len = u16::try_from(n).map_err(|_| Errno::E2BIG)?;
    let prog = libc::sock_fprog { len, filter: filters.as_mut_ptr() };
    // SAFETY: `prog` points at `n` valid sock_filter structs that outlive the
    // call; the kernel copies the program.
    let r = unsafe {
        libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog as *const _, 0, 0)
    };
    if r != 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// `umask(2)`.
pub fn umask(mask: u32) -> u32 {
    // SAFETY: umask cannot fail and touches no memory.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

/// `sethostname(2)` with raw bytes.
pub fn sethostname(name: &[u8]) -> Result<(), Errno> {
    // SAFETY: the pointer and length describe `name`, which is borrowed for
    // the duration of the call.
    let r = unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) };
    if r != 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// `unshare(2)` with raw flags.
pub fn unshare(flags: libc::c_int) -> Result<(), Errno> {
    // SAFETY: unshare only changes this process's namespace membership.
    let r = unsafe { libc::unshare(flags) };
    if r != 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// `setns(2)` on a raw fd number given by the caller.
pub fn setns(fd: i32, nstype: libc::c_int) -> Result<(), Errno> {
    // SAFETY: setns only reads the descriptor; a bad fd gives EBADF.
    let r = unsafe { libc::setns(fd, nstype) };
    if r != 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// `ttyname(3)` of fd 1, if it is a terminal.
pub fn stdout_tty_name() -> Option<std::ffi::OsString> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: isatty only queries the descriptor.
    if unsafe { libc::isatty(1) } != 1 {
        return None;
    }
    let mut buf = [0 as libc::c_char; 4096];
    // SAFETY: buf is writable for its whole length, which we pass.
    let r = unsafe { libc::ttyname_r(1, buf.as_mut_ptr(), buf.len()) };
    if r != 0 {
        return None;
    }
    // SAFETY: on success ttyname_r wrote a NUL-terminated string into buf.
    let name = unsafe { CStr::from_ptr(buf.as_ptr()) };
    Some(std::ffi::OsStr::from_bytes(name.to_bytes()).to_owned())
}

/// The number of threads in this process: procfs gives
/// `/proc/self/task` a link count of 2 + threads (one statx).
pub fn thread_count() -> Option<usize> {
    let nlink = nix::sys::stat::stat("/proc/self/task").ok()?.st_nlink;
    usize::try_from(nlink).ok()?.checked_sub(2)
}

/// `Path::exists` in one syscall (std's first failing `statx` also probes
/// whether `statx` exists, which costs a second one).
pub fn path_exists(path: &str) -> bool {
    nix::sys::stat::stat(path).is_ok()
}

/// The start of a small file (up to 64 bytes): open, one read, close.
pub fn read_small(path: &str) -> Option<Vec<u8>> {
    let fd = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()?;
    let mut buf = vec![0u8; 64];
    let n = loop {
        match nix::unistd::read(&fd, &mut buf) {
            Err(Errno::EINTR) => continue,
            r => break r.ok()?,
        }
    };
    buf.truncate(n);
    Some(buf)
}

/// Reset a signal's disposition to the default (bwrap resets SIGCHLD).
pub fn reset_signal_default(sig: libc::c_int) {
    // SAFETY: SIG_DFL installs no handler code.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
    }
}

/// `pidfd_open(2)`.
pub fn pidfd_open(pid: Pid) -> Result<std::os::fd::OwnedFd, Errno> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes plain integers and returns a new descriptor.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0u32) };
    if r < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just created this descriptor for us alone.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(r as i32) })
}

/// `ioctl(pidfd, PIDFD_GET_*_NAMESPACE)`: a namespace fd of that process
/// (Linux 6.11+). `nr` is the ioctl number's low byte (1 cgroup, 2 ipc,
/// 3 mnt, 4 net, 5 pid, 9 user, 10 uts).
pub fn pidfd_namespace(
    pidfd: &std::os::fd::OwnedFd,
    nr: u8,
) -> Result<std::os::fd::OwnedFd, Errno> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let request = (0xFFu64 << 8) | u64::from(nr);
    // SAFETY: this ioctl takes no argument and returns a new descriptor.
    let r = unsafe { libc::ioctl(pidfd.as_raw_fd(), request as _, 0) };
    if r < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just created this descriptor for us alone.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(r) })
}

/// One message from a `SO_PASSCRED` socket: the sender's pid as our pid
/// namespace sees it (if the kernel attached credentials) and the payload.
pub struct CredMessage {
    pub pid: Option<i32>,
    pub payload: Vec<u8>,
}

/// Receive one message on a `SO_PASSCRED` unix socket: `Ok(None)` at EOF,
/// `Err(EAGAIN)` when nothing is queued.
pub fn recv_with_pid(sock: &std::os::fd::OwnedFd) -> Result<Option<CredMessage>, Errno> {
    recv_cred(sock, true)
}

/// Like [`recv_with_pid`], waiting for a message.
pub fn recv_with_pid_blocking(sock: &std::os::fd::OwnedFd) -> Result<Option<CredMessage>, Errno> {
    loop {
        match recv_cred(sock, false) {
            Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

fn recv_cred(sock: &std::os::fd::OwnedFd, dontwait: bool) -> Result<Option<CredMessage>, Errno> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixCredentials};
    use std::io::IoSliceMut;
    use std::os::fd::AsRawFd;
    let mut buf = [0u8; 1024];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!(UnixCredentials);
    let flags = if dontwait { MsgFlags::MSG_DONTWAIT } else { MsgFlags::empty() };
    let msg = recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut cmsg), flags)?;
    if msg.bytes == 0 {
        return Ok(None);
    }
    let bytes = msg.bytes;
    let mut pid = None;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmCredentials(cred) = c {
            pid = Some(cred.pid());
        }
    }
    Ok(Some(CredMessage { pid, payload: buf[..bytes].to_vec() }))
}

/// A `SOCK_SEQPACKET` pair whose first end receives sender credentials.
pub fn cred_socketpair() -> Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd), Errno> {
    use nix::sys::socket::{setsockopt, socketpair, sockopt, AddressFamily, SockFlag, SockType};
    let (a, b) =
        socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)?;
    setsockopt(&a, sockopt::PassCred, &true)?;
    Ok((a, b))
}

/// `pidfd_send_signal(2)`: signal the process behind a pidfd (no pid reuse race).
pub fn pidfd_send_signal(pidfd: &std::os::fd::OwnedFd, sig: libc::c_int) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    // SAFETY: integers and a NULL siginfo; the kernel validates the fd.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// `RESOLVE_NO_MAGICLINKS | RESOLVE_IN_ROOT` for [`openat2`].
pub const RESOLVE_IN_ROOT_NO_MAGIC: u64 = 0x02 | 0x10;
/// `RESOLVE_NO_SYMLINKS` for [`openat2`] (ELOOP at any symlink).
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;

/// Whether this process resolves with the kernel's `openat2` or with
/// [`inroot::open_in_root`]: 0 not known yet, then one of these.
static OPENAT2: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
const OPENAT2_KERNEL: u8 = 1;
const OPENAT2_EMULATED: u8 = 2;

/// `openat2(2)` with `resolve` flags (which must include
/// `RESOLVE_IN_ROOT`). Where the kernel has no `openat2` (before 5.6) or a
/// seccomp profile refuses it, the first call answers ENOSYS, EPERM, EINVAL
/// or E2BIG: from then on this process resolves in userspace with
/// [`inroot::open_in_root`], which is as strict (never plain path lookups
/// through the root). Decided once per process, by the first call, so a
/// later legitimate error is reported as such. EAGAIN (a rename raced the
/// lookup) and EINTR are retried without limit, as bwrap's `safe_openat`.
pub fn openat2(
    dirfd: &std::os::fd::OwnedFd,
    path: &std::ffi::CStr,
    flags: libc::c_int,
    mode: u32,
    resolve: u64,
) -> Result<std::os::fd::OwnedFd, Errno> {
    use std::sync::atomic::Ordering;
    let state = OPENAT2.load(Ordering::Relaxed);
    if state != OPENAT2_EMULATED {
        let r = openat2_syscall(dirfd, path, flags, mode, resolve);
        if state == 0 {
            let refused = matches!(
                r,
                Err(Errno::ENOSYS) | Err(Errno::EPERM) | Err(Errno::EINVAL) | Err(Errno::E2BIG)
            );
            OPENAT2
                .store(if refused { OPENAT2_EMULATED } else { OPENAT2_KERNEL }, Ordering::Relaxed);
            if !refused {
                return r;
            }
        } else {
            return r;
        }
    }
    loop {
        match inroot::open_in_root(dirfd, path, flags, mode, resolve) {
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

/// Resolve in userspace from now on, whatever the kernel offers
/// (`--debug-opt=force-openat-fallback`, bwrap 0.13.1's testing hook).
pub fn force_openat2_emulation() {
    OPENAT2.store(OPENAT2_EMULATED, std::sync::atomic::Ordering::Relaxed);
}

/// Whether [`openat2`] resolves in userspace in this process (known after
/// its first call).
pub fn openat2_emulated() -> bool {
    OPENAT2.load(std::sync::atomic::Ordering::Relaxed) == OPENAT2_EMULATED
}

/// The `openat2` syscall itself, retrying EAGAIN and EINTR.
fn openat2_syscall(
    dirfd: &std::os::fd::OwnedFd,
    path: &std::ffi::CStr,
    flags: libc::c_int,
    mode: u32,
    resolve: u64,
) -> Result<std::os::fd::OwnedFd, Errno> {
    use std::os::fd::{AsRawFd, FromRawFd};
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let how = OpenHow { flags: (flags | libc::O_CLOEXEC) as u64, mode: u64::from(mode), resolve };
    loop {
        // SAFETY: `path` is a valid C string and `how` a valid open_how whose
        // size we pass; both outlive the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd.as_raw_fd(),
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if r >= 0 {
            // SAFETY: the kernel just created this descriptor for us alone.
            return Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(r as i32) });
        }
        match Errno::last() {
            // bwrap's safe_openat retries both, without limit: the kernel
            // asks for a retry when a rename or mount raced a `..`.
            Errno::EAGAIN | Errno::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// The original `faccessat(2)` syscall (no flags: real ids, as `access()`),
/// for where `faccessat2` is missing or refused; glibc's wrapper would try
/// `faccessat2` first and report its EPERM.
pub fn faccessat_real_ids(
    dir: std::os::fd::BorrowedFd<'_>,
    name: &CStr,
    mode: libc::c_int,
) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    // SAFETY: `name` is a valid C string and `dir` an open fd, both alive
    // for the duration of the call; the syscall only reads them.
    let r = unsafe { libc::syscall(libc::SYS_faccessat, dir.as_raw_fd(), name.as_ptr(), mode) };
    if r == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test harness runs tests on their own threads: the check sees
    /// more than one, and clone_fork refuses before any syscall.
    #[test]
    fn clone_fork_refuses_unless_single_threaded() {
        assert!(matches!(check_single_threaded(), Err(n) if n > 1));
        assert_eq!(clone_fork(0), Err(Errno::EDEADLK));
        assert_eq!(fork(), Err(Errno::EDEADLK));
    }
}
