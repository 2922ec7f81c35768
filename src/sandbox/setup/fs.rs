//! Ops on plain filesystem objects: `--tmpfs`, `--mqueue`, `--dir` (made
//! by the destination step alone), `--symlink` and `--chmod`.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::Mode;

use super::ctx::{mount_errno, mount_on, octal, At, Ctx};
use crate::error::{setup_errno, setup_msg, SetupError, Step};
use crate::report::show;
use crate::sandbox::resolve::relative;

/// `--tmpfs DEST` with its `--perms` and `--size`.
pub(super) fn tmpfs(
    ctx: &Ctx<'_>,
    at: At<'_>,
    perms: u32,
    size: Option<u64>,
) -> Result<(), SetupError> {
    let tmpfs_err = |e| {
        mount_errno(Step::MountTmpfs, format!("Can't mount tmpfs on {}", show(at.typed)), e)
            .with_path(at.typed.to_owned())
    };
    mount_on(ctx, at.target, at.rel, tmpfs_err, |path| mount_tmpfs(ctx, path, perms, size))?;
    Ok(())
}

/// `--mqueue DEST`.
pub(super) fn mqueue(ctx: &Ctx<'_>, at: At<'_>) -> Result<(), SetupError> {
    let mqueue_err = |e| {
        mount_errno(Step::MountMqueue, format!("Can't mount mqueue on {}", show(at.typed)), e)
            .with_path(at.typed.to_owned())
    };
    mount_on(ctx, at.target, at.rel, mqueue_err, |path| {
        mount(Some("mqueue"), path, Some("mqueue"), MsFlags::empty(), None::<&str>)
    })?;
    Ok(())
}

/// `--chmod OCTAL PATH`, as bwrap 0.13.1: open PATH without following a
/// symlink at the end (`Can't open PATH`), then chmod what was opened (a
/// symlink itself cannot be: EOPNOTSUPP). PATH as given, not trimmed:
/// `FILE/` is ENOTDIR, as in bwrap.
pub(super) fn chmod(ctx: &Ctx<'_>, at: At<'_>, mode: u32) -> Result<(), SetupError> {
    let dest_typed = at.typed;
    let found = ctx.root.lookup(relative(dest_typed), libc::O_NOFOLLOW).map_err(|e| {
        setup_errno(Step::Chmod, format!("Can't open {}", show(dest_typed)), e)
            .with_path(dest_typed.to_owned())
    })?;
    let magic = format!("self/fd/{}", found.fd.as_raw_fd());
    nix::sys::stat::fchmodat(
        ctx.proc_fd,
        magic.as_str(),
        Mode::from_bits_truncate(mode),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .map_err(|e| {
        setup_errno(Step::Chmod, format!("Can't chmod {} {}", octal(mode), show(dest_typed)), e)
            .with_path(dest_typed.to_owned())
    })
}

/// `--symlink TARGET DEST`.
pub(super) fn symlink(ctx: &Ctx<'_>, target: &OsStr, at: At<'_>) -> Result<(), SetupError> {
    make_symlink(ctx, target, at.typed, at.rel, at.fresh)
}

pub(super) fn mount_tmpfs(
    ctx: &Ctx<'_>,
    dest: &OsStr,
    perms: u32,
    size: Option<u64>,
) -> Result<(), Errno> {
    let mut opts = format!("mode={}", octal(perms));
    if let Some(size) = size {
        opts.push_str(&format!(",size={size}"));
    }
    let opts = crate::sandbox::label::mount_option(&opts, ctx.file_label);
    mount(
        Some("tmpfs"),
        dest,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(opts.as_str()),
    )
}

fn make_symlink(
    ctx: &Ctx<'_>,
    target: &OsStr,
    dest_typed: &OsStr,
    rel: &OsStr,
    fresh: Option<OwnedFd>,
) -> Result<(), SetupError> {
    let msg = || format!("Can't make symlink at {}", show(dest_typed));
    // The root itself is there and is a directory.
    let made = if rel.is_empty() {
        Err((Errno::EEXIST, Some(Err(Errno::EINVAL))))
    } else {
        ctx.root.symlink(target, rel, fresh)
    };
    match made {
        Ok(()) => Ok(()),
        Err((Errno::EEXIST, Some(existing))) => match existing {
            Ok(existing) if existing.as_os_str() == target => Ok(()),
            Ok(existing) => Err(setup_msg(
                Step::Symlink,
                format!("{}: existing destination is {}", msg(), show(existing.as_os_str())),
            )),
            Err(Errno::EINVAL) => Err(setup_msg(
                Step::Symlink,
                format!("{}: destination exists and is not a symlink", msg()),
            )),
            Err(e) => Err(setup_errno(
                Step::Symlink,
                format!("{}: destination exists, and cannot read symlink target", msg()),
                e,
            )),
        },
        Err((e, _)) => Err(setup_errno(Step::Symlink, msg(), e).with_path(dest_typed.to_owned())),
    }
}
