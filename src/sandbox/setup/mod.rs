//! `setup_newroot`: apply the filesystem operations, in command-line order,
//! from the old root (`/oldroot/...`) into the new root (`/newroot/...`).
//!
//! Called from the child only, after the first `pivot_root`, with the setup
//! tmpfs as `/` and the cwd at `/`. Each op goes through the same three
//! steps: its source is looked at on the host ([`host_path`]), its
//! destination is found or made ([`dest::prepare`]), and then [`apply`],
//! the one dispatch on the op type, hands it to its family's file:
//! [`bind`] (`--bind`, `--bind-fd`, `--remount-ro`), [`overlay`], [`proc`],
//! [`dev`], [`data`] (`--file`, `--bind-data`) and [`fs`] (`--tmpfs`,
//! `--mqueue`, `--dir`, `--symlink`, `--chmod`). Messages are bwrap's,
//! naming the op's destination as the user typed it (or the internal
//! `/newroot/...` path where bwrap names that).

mod bind;
mod data;
mod dest;
mod dev;
mod fs;
mod overlay;
mod proc;

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{stat, Mode, SFlag};

use std::cell::Cell;

use crate::config::{ProcFallback, SetupOp, SourceSpec};
use crate::error::{setup_errno, Detail, SetupError};
use crate::report::{format_line, show, write_stderr, Level};
use crate::sys;

use super::resolve::{Dest, NewRoot, Target};

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

/// One op of the plan with its source resolved: what the setup executes.
#[derive(Debug)]
pub struct Planned<'a> {
    pub op: &'a SetupOp,
    pub source: Source,
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
    pub proc_tier: Cell<Option<&'static str>>,
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
pub(super) fn resolve_target(
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
pub(super) fn mount_target(
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
pub(super) fn mount_on(
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
pub(super) fn after_mount(ctx: &Ctx<'_>, on_root: bool) -> Result<(), Errno> {
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

pub(super) fn mount_errno(step: &'static str, msg: String, e: Errno) -> SetupError {
    SetupError::new(step, msg, Detail::Mount(e))
}

pub(super) fn octal(mode: u32) -> String {
    if mode == 0 {
        "0".into()
    } else {
        format!("0{mode:o}")
    }
}

pub(super) fn newroot_err(e: Errno) -> SetupError {
    setup_errno("newroot", "Can't open /newroot", e)
}

pub(super) fn join(dir: &OsStr, name: &str) -> OsString {
    let mut p = dir.as_bytes().to_vec();
    p.push(b'/');
    p.extend_from_slice(name.as_bytes());
    OsString::from_vec(p)
}

/// `rel/name`, for paths below a destination.
pub(super) fn rel_join(rel: &OsStr, name: &str) -> OsString {
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

/// Resolve every op's source on the host, as the user, before the pivot
/// (bwrap's `resolve_symlinks_in_ops`): the plan the setup then executes.
pub fn resolve_sources(ops: &[SetupOp]) -> Result<Vec<Planned<'_>>, SetupError> {
    let resolve = |src: &OsStr| {
        std::fs::canonicalize(src).map(|p| p.into_os_string()).map_err(|e| {
            setup_errno(
                "find-source",
                format!("Can't find source path {}", show(src)),
                Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            )
            .with_path(src.to_owned())
        })
    };
    let source = |op: &SetupOp| match op.source() {
        SourceSpec::None => Ok(Source::None),
        SourceSpec::Path { src, may_be_missing } => match resolve(src) {
            Ok(p) => Ok(Source::Path(p)),
            Err(e) if may_be_missing && e.errno() == Some(Errno::ENOENT) => Ok(Source::Missing),
            Err(e) => Err(e),
        },
        SourceSpec::Fd(fd) => resolve(OsStr::new(&format!("/proc/self/fd/{fd}"))).map(Source::Path),
        SourceSpec::Overlay { lower, upper } => {
            let lower = lower.iter().map(|s| resolve(s)).collect::<Result<Vec<_>, _>>()?;
            let upper = match upper {
                Some((rw, work)) => Some((resolve(rw)?, resolve(work)?)),
                None => None,
            };
            Ok(Source::Overlay { lower, upper })
        }
    };
    ops.iter().map(|op| Ok(Planned { op, source: source(op)? })).collect()
}

/// Where an op acts, as its destination step left it.
pub(super) struct At<'a> {
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
pub(super) struct HostPath<'a> {
    /// `/oldroot/...`: where the setup reaches it.
    pub old: OsString,
    /// Its real path on the host, as bwrap 0.13.1 names it in messages.
    pub shown: &'a OsStr,
    pub is_dir: bool,
}

/// Counters that make names unique within one setup.
#[derive(Default)]
pub(super) struct Seq {
    pub bind_data: u32,
    pub tmp_overlays: u32,
}

/// Apply every op of the plan in order.
pub fn setup_newroot(ctx: &Ctx<'_>, plan: &[Planned<'_>]) -> Result<(), SetupError> {
    let mut seq = Seq::default();
    for planned in plan {
        // The source's type first, as bwrap does; a `-try` source that is
        // not there skips the op.
        let host = match host_path(planned)? {
            Some(host) => host,
            None => continue,
        };
        let is_dir = host.as_ref().is_some_and(|h| h.is_dir);
        let at = dest::prepare(ctx, planned.op, is_dir)?;
        apply(ctx, planned, host.as_ref(), at, &mut seq)?;
    }
    Ok(())
}

/// The op's path source after the pivot: `Ok(None)` skips the op (a `-try`
/// source that is missing), `Ok(Some(None))` is an op without one.
fn host_path<'a>(planned: &'a Planned<'_>) -> Result<Option<Option<HostPath<'a>>>, SetupError> {
    let p = match &planned.source {
        Source::Missing => return Ok(None),
        Source::None | Source::Overlay { .. } => return Ok(Some(None)),
        Source::Path(p) => p,
    };
    let old = oldroot_path(p);
    match stat(old.as_os_str()) {
        Ok(st) => {
            let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
            Ok(Some(Some(HostPath { old, shown: p, is_dir })))
        }
        Err(Errno::ENOENT)
            if matches!(planned.op.source(), SourceSpec::Path { may_be_missing: true, .. }) =>
        {
            Ok(None)
        }
        Err(e) => {
            Err(setup_errno("stat-source", format!("Can't get type of source {}", show(p)), e)
                .with_path(p.clone()))
        }
    }
}

/// The one dispatch on the op type: each op family's own function.
fn apply(
    ctx: &Ctx<'_>,
    planned: &Planned<'_>,
    host: Option<&HostPath<'_>>,
    at: At<'_>,
    seq: &mut Seq,
) -> Result<(), SetupError> {
    let perms = planned.op.perms();
    match planned.op {
        SetupOp::Bind { kind, .. } => bind::bind(ctx, host, at, bind::BindFlags::of(*kind)),
        SetupOp::BindFd { fd, readonly, .. } => bind::bind_fd(ctx, host, at, *fd, *readonly),
        SetupOp::RemountRo { .. } => bind::remount_ro(ctx, at),
        SetupOp::Overlay { kind, .. } => overlay::mount(ctx, &planned.source, kind, at, seq),
        SetupOp::Proc { .. } => proc::mount_proc(ctx, at),
        SetupOp::Dev { .. } => dev::mount_dev(ctx, at),
        SetupOp::Tmpfs { size, .. } => fs::tmpfs(ctx, at, perms, *size),
        SetupOp::Mqueue { .. } => fs::mqueue(ctx, at),
        // The destination step made the directory.
        SetupOp::Dir { .. } => Ok(()),
        SetupOp::Chmod { mode, .. } => fs::chmod(ctx, at, *mode),
        SetupOp::File { fd, .. } => data::file(ctx, at, *fd, perms),
        SetupOp::BindData { fd, readonly, .. } => {
            data::bind_data(ctx, at, *fd, *readonly, perms, seq)
        }
        SetupOp::Symlink { target, .. } => fs::symlink(ctx, target, at),
    }
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
