//! Ops that write the caller's data into the sandbox: `--file` (a new
//! file) and `--bind-data` / `--ro-bind-data` (a bound file).

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;

use super::bind::{bind_error, bind_mount, BindFlags};
use super::ctx::{At, Ctx, Seq};
use crate::error::{setup_errno, SetupError, Step};
use crate::report::show;

/// `--file FD DEST`: a new file with the fd's data.
pub(super) fn file(ctx: &Ctx<'_>, at: At<'_>, fd: i32, perms: u32) -> Result<(), SetupError> {
    let dest_typed = at.typed;
    let out = ctx.root.create_file_in(at.fresh, at.rel, perms).map_err(|e| {
        setup_errno(Step::CreateFile, format!("Can't create file {}", show(dest_typed)), e)
            .with_path(dest_typed.to_owned())
    })?;
    let write_err = |e| {
        setup_errno(Step::WriteFile, format!("Can't write data to file {}", show(dest_typed)), e)
            .with_path(dest_typed.to_owned())
    };
    let input = ctx.user_fds.take(fd).map_err(write_err)?;
    copy_fd(&input, &out).map_err(write_err)
}

/// Copy `from` (read to EOF, blocking) into `to`.
fn copy_fd(from: &OwnedFd, to: &OwnedFd) -> Result<(), Errno> {
    let mut buf = vec![0u8; 65536];
    loop {
        let n = match nix::unistd::read(from, &mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        };
        let mut done = 0;
        while done < n {
            match nix::unistd::write(to.as_fd(), &buf[done..n]) {
                Ok(w) => done += w,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// `--bind-data` / `--ro-bind-data`: the data goes to a file on the setup
/// tmpfs, which is bound on the destination.
pub(super) fn bind_data(
    ctx: &Ctx<'_>,
    at: At<'_>,
    fd: i32,
    readonly: bool,
    perms: u32,
    seq: &mut Seq,
) -> Result<(), SetupError> {
    let dest_typed = at.typed;
    seq.bind_data += 1;
    let path = tempfile_name(seq.bind_data);
    // Created with its final mode (the umask is 0 during setup), where
    // bwrap creates it 0600 and then fchmods: one syscall less.
    let tmp = open(
        path.as_str(),
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(perms),
    )
    .map_err(|e| {
        setup_errno(Step::BindData, format!("Can't create tmpfile for {}", show(dest_typed)), e)
    })?;
    let write_err = |e| {
        setup_errno(Step::WriteFile, format!("Can't write data to file {}", show(dest_typed)), e)
            .with_path(dest_typed.to_owned())
    };
    let input = ctx.user_fds.take(fd).map_err(write_err)?;
    copy_fd(&input, &tmp).map_err(write_err)?;
    drop(input);
    drop(tmp);
    let flags = BindFlags { readonly, devices: false, recursive: true };
    bind_mount(ctx, Some(OsStr::new(&path)), at.rel, flags, at.target)
        .map_err(|f| bind_error(OsStr::new("tmpfile"), dest_typed, f))?;
    // The data stays reachable only through the bind; the name on the
    // setup tmpfs goes away (and the tmpfs itself is detached later).
    let _ = nix::unistd::unlink(path.as_str());
    Ok(())
}

/// `/bindfileXXXXXX` on the setup tmpfs, unique within this setup.
fn tempfile_name(seq: u32) -> String {
    format!("/bindfile{:06}", seq)
}
