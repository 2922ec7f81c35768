//! Bind mounts: `--bind`, `--ro-bind`, `--dev-bind` (and `-try`),
//! `--bind-fd`, `--ro-bind-fd`, `--remount-ro`, and the flag step every
//! bind (also `--proc`'s, `--dev`'s and `--bind-data`'s) ends with:
//! `nosuid`, `nodev`, `ro` on the mount and each submount, failing closed.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::Mode;

use super::ctx::{after_mount, read_proc, resolve_target, warn, At, Ctx, HostPath};
use crate::config::BindKind;
use crate::error::{setup_errno, Detail, SetupError, Step};
use crate::report::show;
use crate::sandbox::resolve::{relative, Dest, NewRoot};
use crate::sys;
use crate::sys::mount::{cstr, mount_setattr, parse_mountinfo};

/// `--bind` and its kinds: bind the source on the destination with `flags`.
pub(super) fn bind(
    ctx: &Ctx<'_>,
    host: Option<&HostPath<'_>>,
    at: At<'_>,
    flags: BindFlags,
) -> Result<(), SetupError> {
    let (src, shown) = host.map_or((OsStr::new(""), OsStr::new("")), |h| (&*h.old, h.shown));
    bind_mount(ctx, Some(src), at.rel, flags, at.target)
        .map_err(|f| bind_error(shown, at.typed, f))?;
    Ok(())
}

/// `--bind-fd` / `--ro-bind-fd`: a bind of what the fd names, then a check
/// that the mount is the fd's inode.
pub(super) fn bind_fd(
    ctx: &Ctx<'_>,
    host: Option<&HostPath<'_>>,
    at: At<'_>,
    fd: i32,
    readonly: bool,
) -> Result<(), SetupError> {
    let kind = if readonly { BindKind::ReadOnly } else { BindKind::ReadWrite };
    let rel = at.rel;
    bind(ctx, host, at, BindFlags::of(kind))?;
    check_bind_fd(ctx, fd, rel)
}

/// `--remount-ro`: the flags step alone, not recursive, on what is there.
pub(super) fn remount_ro(ctx: &Ctx<'_>, at: At<'_>) -> Result<(), SetupError> {
    let flags = BindFlags { readonly: true, devices: false, recursive: false };
    bind_mount(ctx, None, at.rel, flags, at.target).map_err(|f| {
        SetupError::new(
            Step::RemountRo,
            format!("Can't remount readonly on {}", show(at.typed)),
            Detail::Stage(f.stage, f.errno),
        )
        .with_path(at.typed.to_owned())
    })?;
    Ok(())
}

/// How a bind treats flags.
#[derive(Clone, Copy)]
pub(super) struct BindFlags {
    pub readonly: bool,
    pub devices: bool,
    pub recursive: bool,
}

impl BindFlags {
    pub fn of(kind: BindKind) -> Self {
        BindFlags {
            readonly: kind == BindKind::ReadOnly,
            devices: kind == BindKind::Devices,
            recursive: true,
        }
    }

    fn attr(self) -> u64 {
        use sys::mount::{ATTR_NODEV, ATTR_NOSUID, ATTR_RDONLY};
        ATTR_NOSUID
            | if self.devices { 0 } else { ATTR_NODEV }
            | if self.readonly { ATTR_RDONLY } else { 0 }
    }

    fn ms(self) -> MsFlags {
        let mut f = MsFlags::MS_NOSUID;
        if !self.devices {
            f |= MsFlags::MS_NODEV;
        }
        if self.readonly {
            f |= MsFlags::MS_RDONLY;
        }
        f
    }
}

/// A failed bind: bwrap's two-level `Can't bind mount A on B: <stage>: <err>`.
pub(super) struct BindFailure {
    pub stage: String,
    pub errno: Option<Errno>,
}

pub(super) fn stage(stage: impl Into<String>, errno: Option<Errno>) -> BindFailure {
    BindFailure { stage: stage.into(), errno }
}

/// Recursive (or not) bind of `src` onto `dest` (already opened, or looked
/// up here), then `nosuid`, `nodev` (unless devices) and `ro` (if
/// read-only) on the mount and every submount. Fails closed: if any mount
/// cannot get the flags, the op fails. Returns whether the bind landed on
/// the new root itself.
pub(super) fn bind_mount(
    ctx: &Ctx<'_>,
    src: Option<&OsStr>,
    rel: &OsStr,
    flags: BindFlags,
    dest: Option<Dest>,
) -> Result<bool, BindFailure> {
    let mut on_root = false;
    // Where the destination is, as the kernel names it (`x/..` is `/tmp`):
    // after the mount, the name to look the new mount up by.
    let mut canonical: Option<OsString> = None;
    if let Some(src) = src {
        let mut ms = MsFlags::MS_SILENT | MsFlags::MS_BIND;
        if flags.recursive {
            ms |= MsFlags::MS_REC;
        }
        let (dest, root) = resolve_target(ctx, dest, rel)
            .map_err(|e| stage("Unable to mount source on destination", Some(e)))?;
        on_root = root;
        canonical = canonical_rel(ctx, &dest);
        let path = dest.magic_path();
        mount(Some(src), path.as_os_str(), None::<&OsStr>, ms, None::<&OsStr>)
            .map_err(|e| stage("Unable to mount source on destination", Some(e)))?;
        after_mount(ctx, on_root).map_err(|e| stage("realpath(destination)", Some(e)))?;
        // A plain name in the root: set the flags through it directly (an
        // error falls through to the general path, which reports it).
        if !on_root
            && ctx.root.setattr_by_name(&dest, rel, flags.attr(), flags.recursive) == Some(Ok(()))
        {
            return Ok(false);
        }
    }
    // Look the destination up again: the mount now sits on top of it (on
    // the root itself, it is the root now).
    let rel = if on_root { OsStr::new("") } else { canonical.as_deref().unwrap_or(rel) };
    let target = ctx.root.target(rel).map_err(|e| stage("realpath(destination)", Some(e)))?;
    apply_flags(ctx, target.path.as_os_str(), &NewRoot::path(rel), flags)?;
    Ok(on_root)
}

/// `dest`'s path relative to the new root, from the kernel's name for it
/// (`/newroot/...`), when it has a plain one.
fn canonical_rel(ctx: &Ctx<'_>, dest: &Dest) -> Option<OsString> {
    let link = format!("self/fd/{}", dest.fd.as_raw_fd());
    let name = nix::fcntl::readlinkat(ctx.proc_fd, link.as_str()).ok()?;
    let rest = name.as_bytes().strip_prefix(b"/newroot")?;
    if !(rest.is_empty() || rest.starts_with(b"/")) || rest.ends_with(b" (deleted)") {
        return None;
    }
    Some(OsStr::from_bytes(rest).to_owned()).map(|r| relative(&r).to_owned())
}

/// Give the mount at `dest` (and with `recursive`, every mount below it)
/// the bind's flags.
/// `shown` names the destination in a failure (bwrap 0.13.1:
/// `mount_setattr() failed at "/newroot/DEST"`).
pub(super) fn apply_flags(
    ctx: &Ctx<'_>,
    dest: &OsStr,
    shown: &OsStr,
    flags: BindFlags,
) -> Result<(), BindFailure> {
    if ctx.force_setattr_fallback {
        return remount_tree(ctx, dest, flags);
    }
    match mount_setattr(&cstr(dest), flags.attr(), flags.recursive) {
        Ok(()) => Ok(()),
        // Kernels before 5.12, or a container seccomp profile that refuses
        // the new mount API: remount each mount the classic way.
        Err(Errno::ENOSYS) | Err(Errno::EPERM) => remount_tree(ctx, dest, flags),
        // --not-a-security-boundary: let submounts that refuse the flags
        // through with a warning (the top mount must still get them).
        Err(_) if ctx.not_a_security_boundary && flags.recursive => remount_tree(ctx, dest, flags),
        Err(e) => Err(stage(format!("mount_setattr() failed at \"{}\"", show(shown)), Some(e))),
    }
}

/// The mount_setattr fallback: read mountinfo once, remount the mount at
/// `dest` and every mount below it with its existing flags plus ours.
fn remount_tree(ctx: &Ctx<'_>, dest: &OsStr, flags: BindFlags) -> Result<(), BindFailure> {
    // The kernel's name for the destination, as mountinfo spells it, and
    // the mount on top there (fdinfo's mnt_id, Linux 3.15).
    let dest_fd = open(dest, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| stage(format!("open(\"{}\", O_PATH)", show(dest)), Some(e)))?;
    let canonical =
        nix::fcntl::readlinkat(ctx.proc_fd, format!("self/fd/{}", dest_fd.as_raw_fd()).as_str())
            .map_err(|e| {
                stage(format!("readlink(/proc/self/fd/N) for \"{}\"", show(dest)), Some(e))
            })?;
    let top_id = read_proc(ctx, &format!("self/fdinfo/{}", dest_fd.as_raw_fd()))
        .ok()
        .and_then(|t| mnt_id_of_fdinfo(&t));
    drop(dest_fd);
    let text = read_proc(ctx, "self/mountinfo")
        .map_err(|e| stage("Can't open /proc/self/mountinfo", Some(e)))?;
    let mounts = parse_mountinfo(&text).ok_or_else(|| stage("Can't parse mountinfo line", None))?;
    let top = match top_id {
        Some(id) => mounts.iter().find(|m| m.id == id && m.mount_point == canonical),
        // No fdinfo: the newest mount at that path.
        None => mounts.iter().rev().find(|m| m.mount_point == canonical),
    };
    let Some(top) = top else {
        return Err(stage(format!("Unable to find \"{}\" in mount table", show(&canonical)), None));
    };
    // The destination's mount and, recursively, the mounts below it in the
    // mount tree: not mounts that merely sit under the same path in a tree
    // the destination now covers (the host's /dev/shm under a new /dev).
    let mut tree = std::collections::HashSet::from([top.id]);
    let mut grew = flags.recursive;
    while grew {
        let before = tree.len();
        for m in &mounts {
            if tree.contains(&m.parent_id) && m.id != m.parent_id {
                tree.insert(m.id);
            }
        }
        grew = tree.len() > before;
    }
    let wanted = flags.ms();
    let setup_root =
        open("/", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| stage("open(\"/\", O_PATH)", Some(e)))?;
    for m in mounts.iter().filter(|m| tree.contains(&m.id)) {
        let is_top = m.id == top.id;
        let new = m.flags | wanted;
        if let Err(e) = remount_mount_point(&setup_root, &m.mount_point, new) {
            if is_top {
                return Err(stage(
                    format!(
                        "Unable to remount destination \"{}\" with correct flags",
                        show(&m.mount_point)
                    ),
                    Some(e),
                ));
            }
            if e == Errno::EACCES {
                continue;
            }
            if ctx.not_a_security_boundary {
                warn(
                    ctx.level_prefix,
                    &format!(
                        "Unable to apply mount flags: remount \"{}\": {} (ignored: --not-a-security-boundary)",
                        show(&m.mount_point),
                        crate::error::strerror(e)
                    ),
                );
                continue;
            }
            return Err(stage(
                format!("Unable to apply mount flags: remount \"{}\"", show(&m.mount_point)),
                Some(e),
            ));
        }
    }
    Ok(())
}

/// Remount the mount on top of `mount_point` (a path from mountinfo) with
/// `flags`. Looked up without following any symlink (mountinfo names
/// mounts by their canonical path) and inside the setup root, with openat2
/// or its userspace emulation: a directory swapped for a symlink after
/// mountinfo was read cannot send the remount elsewhere (a plain path
/// would). The remount then targets the object through its fd.
fn remount_mount_point(root: &OwnedFd, mount_point: &OsStr, flags: MsFlags) -> Result<(), Errno> {
    let rel = relative(mount_point);
    let rel = if rel.is_empty() { OsStr::new(".") } else { rel };
    let resolve = sys::RESOLVE_IN_ROOT_NO_MAGIC | sys::RESOLVE_NO_SYMLINKS;
    let fd = sys::openat2(root, &cstr(rel), libc::O_PATH | libc::O_NOFOLLOW, 0, resolve)?;
    let dest = Dest::made(fd);
    sys::mount::remount_bind(&cstr(&dest.magic_path()), flags)
}

/// `mnt_id:` from `/proc/self/fdinfo/N`.
fn mnt_id_of_fdinfo(text: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(text).ok()?;
    text.lines().find_map(|l| l.strip_prefix("mnt_id:")?.trim().parse().ok())
}

pub(super) fn bind_error(src: &OsStr, dest: &OsStr, f: BindFailure) -> SetupError {
    SetupError::new(
        Step::BindMount,
        format!("Can't bind mount {} on {}", show(src), show(dest)),
        Detail::Stage(f.stage, f.errno),
    )
    .with_path(dest.to_owned())
}

/// `--bind-fd`: after mounting, the fd and the mount must be the same inode,
/// or someone swapped the path between resolving and mounting.
fn check_bind_fd(ctx: &Ctx<'_>, fd: i32, rel: &OsStr) -> Result<(), SetupError> {
    let owned = ctx
        .user_fds
        .take(fd)
        .map_err(|e| setup_errno(Step::BindFd, format!("Can't stat fd {fd}"), e))?;
    let fd_st = nix::sys::stat::fstat(&owned)
        .map_err(|e| setup_errno(Step::BindFd, format!("Can't stat fd {fd}"), e))?;
    let dest = NewRoot::path(rel);
    let mount_st = ctx.root.lstat(rel).map_err(|e| {
        setup_errno(Step::BindFd, format!("Can't stat mount at {}", show(&dest)), e)
    })?;
    if fd_st.st_ino != mount_st.st_ino || fd_st.st_dev != mount_st.st_dev {
        // bwrap prints whatever errno was left over; on its usual path that
        // is EINVAL, and a fixed value keeps the message reproducible.
        return Err(setup_errno(Step::BindFd, "Race condition binding dirfd", Errno::EINVAL));
    }
    Ok(())
}
