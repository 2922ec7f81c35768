//! File descriptors given by number on the command line.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// Take ownership of a caller-supplied fd number after checking it is open.
pub fn claim_fd(fd: RawFd) -> Result<OwnedFd, Errno> {
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

/// Read a caller-supplied fd to EOF (retrying EINTR) and close it, as bwrap's
/// `load_file_data` + `close`.
pub fn read_fd_to_end_and_close(fd: RawFd) -> Result<Vec<u8>, Errno> {
    let owned = claim_fd(fd)?;
    read_to_end(&owned)
}

/// Read everything from `fd` until EOF.
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

/// Whether `fd` is open (F_GETFD succeeds).
pub fn is_open(fd: RawFd) -> bool {
    fd >= 0 && fcntl_getfd(fd).is_ok()
}

fn fcntl_getfd(fd: RawFd) -> Result<i32, Errno> {
    // SAFETY: as in `claim_fd`: F_GETFD only queries the descriptor table.
    let r = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}
