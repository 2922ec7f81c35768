//! What every op family shares: the context the ops run in, where an op
//! acts ([`At`]), its source, and the mount helpers they all use. The
//! bottom floor of `setup/`: it knows no op family.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use std::cell::Cell;

use crate::config::ProcFallback;
use crate::error::{setup_errno, Detail, SetupError, Step};
use crate::fallback::ProcTier;
use crate::report::{format_line, write_stderr, Level};
use crate::sandbox::resolve::{Dest, NewRoot, Target};
use crate::sys;

/// An op's source, resolved on the host before the pivot.
#[derive(Debug, Clone)]
pub enum Source {
    /// The op takes nothing from the host.
    None,
    /// `realpath()` of SRC (or of `--bind-fd`'s `/proc/self/fd/FD`).
    Path(OsString),
    /// An overlay's resolved layers: `--overlay-src` paths in command-line
    /// order (bottom first), then RWSRC and WORKDIR for `--overlay`.
    Overlay { lower: Vec<OsString>, upper: Option<(OsString, OsString)> },
    /// A `-try` source that does not exist: skip the op.
    Missing,
}

/// `/oldroot` + an absolute host path (bwrap's `get_oldroot_path`).
pub fn oldroot_path(src: &OsStr) -> OsString {
    let rel =
        src.as_bytes().iter().position(|&c| c != b'/').map_or(&[][..], |i| &src.as_bytes()[i..]);
    let mut p = b"/oldroot/".to_vec();
    p.extend_from_slice(rel);
    OsString::from_vec(p)
}

/// The context the ops run in.
pub struct Ctx<'a> {
    pub proc_fd: &'a OwnedFd,
    /// The new root, for destination lookups that cannot leave it.
    pub root: &'a NewRoot,
    /// What to do when a fresh procfs is refused (`--proc-fallback`).
    pub proc_fallback: ProcFallback,
    /// The fallback tier `--proc` ended up using, for `--json-status-fd`.
    pub proc_tier: Cell<Option<ProcTier>>,
    /// A fresh procfs is possible (new pid namespace or `--pidns`).
    pub own_pidns: bool,
    pub host_tty: Option<&'a OsStr>,
    pub level_prefix: bool,
    pub not_a_security_boundary: bool,
    /// `--debug-opt=force-mount-setattr-fallback`.
    pub force_setattr_fallback: bool,
    /// `--file-label`: tmpfs mounts get `context="..."`.
    pub file_label: Option<&'a OsStr>,
    /// The caller's fds for `--file`, `--bind-data`, `--bind-fd`.
    pub user_fds: &'a sys::fd::FdTable,
}

/// An op's destination: the one its `ensure_*` step opened, or a fresh
/// lookup; and whether it is the new root itself.
pub fn resolve_target(
    ctx: &Ctx<'_>,
    dest: Option<Dest>,
    rel: &OsStr,
) -> Result<(Dest, bool), Errno> {
    let dest = match dest {
        Some(d) => d,
        None => ctx.root.lookup(rel, 0)?,
    };
    let root = ctx.root.is_root(&dest);
    Ok((dest, root))
}

/// [`resolve_target`] as a path to mount on.
pub fn mount_target(
    ctx: &Ctx<'_>,
    dest: Option<Dest>,
    rel: &OsStr,
) -> Result<(Target, bool), Errno> {
    resolve_target(ctx, dest, rel).map(|(dest, root)| (dest.into_target(), root))
}

/// Mount a filesystem on an op's destination with `mount_fs` (given the
/// path to mount on), then pick up the new root if the mount landed there.
/// Errors of the lookup and the mount go through `err`. Returns whether it
/// landed on the root.
pub fn mount_on(
    ctx: &Ctx<'_>,
    dest: Option<Dest>,
    rel: &OsStr,
    err: impl Fn(Errno) -> SetupError,
    mount_fs: impl FnOnce(&OsStr) -> Result<(), Errno>,
) -> Result<bool, SetupError> {
    let (target, on_root) = mount_target(ctx, dest, rel).map_err(&err)?;
    mount_fs(&target.path).map_err(&err)?;
    drop(target);
    after_mount(ctx, on_root).map_err(newroot_err)?;
    Ok(on_root)
}

/// After a mount on the new root itself, later lookups must start from
/// what is mounted there now.
pub fn after_mount(ctx: &Ctx<'_>, on_root: bool) -> Result<(), Errno> {
    if on_root {
        ctx.root.refresh()?;
    }
    Ok(())
}

/// Read a file under the saved `/proc` fd.
pub fn read_proc(ctx: &Ctx<'_>, name: &str) -> Result<Vec<u8>, Errno> {
    let fd =
        nix::fcntl::openat(ctx.proc_fd, name, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())?;
    sys::fd::read_to_end(&fd)
}

pub fn mount_errno(step: Step, msg: String, e: Errno) -> SetupError {
    SetupError::new(step, msg, Detail::Mount(e))
}

pub fn octal(mode: u32) -> String {
    if mode == 0 {
        "0".into()
    } else {
        format!("0{mode:o}")
    }
}

pub fn newroot_err(e: Errno) -> SetupError {
    setup_errno(Step::Newroot, "Can't open /newroot", e)
}

pub fn join(dir: &OsStr, name: &str) -> OsString {
    let mut p = dir.as_bytes().to_vec();
    p.push(b'/');
    p.extend_from_slice(name.as_bytes());
    OsString::from_vec(p)
}

/// `rel/name`, for paths below a destination.
pub fn rel_join(rel: &OsStr, name: &str) -> OsString {
    let mut p = rel.as_bytes().to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name.as_bytes());
    OsString::from_vec(p)
}

/// Print a warning line from the child (used for non-fatal steps).
pub fn warn(level_prefix: bool, msg: &str) {
    write_stderr(format_line(level_prefix, Level::Warning, msg).as_bytes());
}
/// Where an op acts, as its destination step left it.
pub struct At<'a> {
    /// The destination as the user typed it (for messages).
    pub typed: &'a OsStr,
    /// The destination relative to the new root, without trailing slashes.
    pub rel: &'a OsStr,
    /// The destination, opened, when the destination step found or made it.
    pub target: Option<Dest>,
    /// The leaf's parent, when the destination step just made it (the leaf
    /// can then be made there without looking anything up).
    pub fresh: Option<OwnedFd>,
}

/// A path source as the op sees it after the pivot.
pub struct HostPath<'a> {
    /// `/oldroot/...`: where the setup reaches it.
    pub old: OsString,
    /// Its real path on the host, as bwrap 0.13.1 names it in messages.
    pub shown: &'a OsStr,
    pub is_dir: bool,
}

/// Counters that make names unique within one setup.
#[derive(Default)]
pub struct Seq {
    pub bind_data: u32,
    pub tmp_overlays: u32,
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newroot_paths() {
        assert_eq!(oldroot_path(OsStr::new("/usr/bin")), "/oldroot/usr/bin");
        assert_eq!(oldroot_path(OsStr::new("/")), "/oldroot/");
    }

    #[test]
    fn octal_like_printf() {
        assert_eq!(octal(0o755), "0755");
        assert_eq!(octal(0), "0");
        assert_eq!(octal(0o1777), "01777");
    }
}
