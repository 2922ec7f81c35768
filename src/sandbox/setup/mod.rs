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
mod ctx;
mod data;
mod dest;
mod dev;
mod fs;
mod overlay;
mod proc;

use std::ffi::OsStr;

use nix::errno::Errno;
use nix::sys::stat::{stat, SFlag};

use crate::config::{SetupOp, SourceSpec};
use crate::error::{setup_errno, SetupError, Step};
use crate::report::show;

use ctx::{oldroot_path, At, HostPath, Seq};
pub use ctx::{warn, Ctx, Source};

/// One op of the plan with its source resolved: what the setup executes.
#[derive(Debug)]
pub struct Planned<'a> {
    pub op: &'a SetupOp,
    pub source: Source,
}

/// Resolve every op's source on the host, as the user, before the pivot
/// (bwrap's `resolve_symlinks_in_ops`): the plan the setup then executes.
pub fn resolve_sources(ops: &[SetupOp]) -> Result<Vec<Planned<'_>>, SetupError> {
    let resolve = |src: &OsStr| {
        std::fs::canonicalize(src).map(|p| p.into_os_string()).map_err(|e| {
            setup_errno(
                Step::FindSource,
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
            Err(setup_errno(Step::StatSource, format!("Can't get type of source {}", show(p)), e)
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
