//! File descriptors given by number on the command line.

use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// Take ownership of a caller-supplied fd number after checking it is open.
///
/// Private: sound only for a number the command line handed us before
/// nestwrap opened any descriptor of its own, which nothing else in the
/// process owns. Its only ways in are the two that keep that invariant:
/// [`read_fd_bounded_and_close`] (the parser's `--args` and
/// `--add-seccomp-fd` reads, while parsing, before anything is opened) and
/// [`FdTable::claim`] (every other fd op, in one go, right after
/// validation). DESIGN.md, unsafe inventory.
fn claim_fd(fd: RawFd) -> Result<OwnedFd, Errno> {
    if fd < 0 {
        return Err(Errno::EBADF);
    }
    // SAFETY: F_GETFD on an arbitrary integer is harmless; it only reports
    // whether the descriptor exists.
    let r = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if r < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the descriptor is open (checked above) and the command line
    // handed it to us: nothing else in this process owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Read a caller-supplied fd as bwrap's `load_file_data` + `close` do, but
/// bounded: see [`read_bounded`].
pub fn read_fd_bounded_and_close(
    fd: RawFd,
    max: usize,
    enough: impl FnMut(&[u8]) -> bool,
) -> Result<Vec<u8>, Errno> {
    let owned = claim_fd(fd)?;
    read_bounded(&owned, max, enough)
}

/// Read `fd` until EOF (retrying EINTR), but never more than `max` bytes,
/// and stop as soon as `enough(&data)` says the data read so far already
/// breaks a limit; the rest stays unread. The caller tells which limit from
/// the data (`crate::limits`). An endless descriptor thus costs at most
/// `max` bytes of memory and the time to read them.
///
/// Never inlined, like [`read_to_end`]: the 64 KiB buffer would become part
/// of the caller's stack frame, which the stack probe then touches page by
/// page on every call, even where the caller never reads (16 extra page
/// faults per process at start-up, measured).
#[inline(never)]
pub fn read_bounded(
    fd: &OwnedFd,
    max: usize,
    mut enough: impl FnMut(&[u8]) -> bool,
) -> Result<Vec<u8>, Errno> {
    let mut data = Vec::new();
    let mut buf = [0u8; 65536];
    while data.len() < max {
        let want = buf.len().min(max - data.len());
        match nix::unistd::read(fd, &mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => {
                data.extend_from_slice(&buf[..n]);
                if enough(&data) {
                    break;
                }
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(data)
}

/// Read everything from `fd` until EOF. Never inlined: see [`read_bounded`].
#[inline(never)]
pub fn read_to_end(fd: &OwnedFd) -> Result<Vec<u8>, Errno> {
    let mut data = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) => return Ok(data),
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Write all of `buf`, retrying EINTR and short writes (bwrap's
/// `write_to_fd`).
pub fn write_all(fd: impl AsFd, buf: &[u8]) -> Result<(), Errno> {
    let mut buf = buf;
    while !buf.is_empty() {
        match nix::unistd::write(fd.as_fd(), buf) {
            Ok(0) => return Err(Errno::EIO),
            Ok(n) => buf = &buf[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// read(2), retrying EINTR (bwrap's `TEMP_FAILURE_RETRY (read (...))`).
pub fn read_retry(fd: impl AsFd, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        match nix::unistd::read(fd.as_fd(), buf) {
            Err(Errno::EINTR) => {}
            r => return r,
        }
    }
}

/// The fds named on the command line, claimed once, before nestwrap opens
/// any descriptor of its own. Each number can be taken once; a second use
/// (or a number that was not open) gets EBADF, as bwrap's "closed after
/// use" rule gives, and can never reach one of nestwrap's own fds that
/// happens to reuse the number.
#[derive(Debug, Default)]
pub struct FdTable {
    fds: std::cell::RefCell<std::collections::BTreeMap<RawFd, OwnedFd>>,
}

impl FdTable {
    /// Claim every open fd among `numbers` (duplicates once).
    pub fn claim(numbers: impl IntoIterator<Item = RawFd>) -> Self {
        let mut fds = std::collections::BTreeMap::new();
        for n in numbers {
            if fds.contains_key(&n) {
                continue;
            }
            if let Ok(fd) = claim_fd(n) {
                fds.insert(n, fd);
            }
        }
        FdTable { fds: std::cell::RefCell::new(fds) }
    }

    /// Take ownership of fd `n` (EBADF if it was never open or already used).
    pub fn take(&self, n: RawFd) -> Result<OwnedFd, Errno> {
        self.fds.borrow_mut().remove(&n).ok_or(Errno::EBADF)
    }

    /// Close fd `n` if it is still held.
    pub fn close(&self, n: RawFd) {
        drop(self.fds.borrow_mut().remove(&n));
    }
}

/// Whether every write end of the pipe `fd` reads from has been closed
/// (POLLHUP), without waiting.
pub fn peer_gone(fd: &OwnedFd) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    loop {
        match poll(&mut fds, PollTimeout::ZERO) {
            Err(Errno::EINTR) => continue,
            Err(_) => return true,
            Ok(_) => {
                return fds[0].revents().is_some_and(|r| r.contains(PollFlags::POLLHUP));
            }
        }
    }
}
