//! The destination step every op goes through before it acts: find the
//! destination inside the new root or make it (and its missing parents),
//! as bwrap 0.13.1 does, refusing a symlink or a destination of the wrong
//! type.

use std::cell::Cell;
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use nix::sys::stat::SFlag;

use super::ctx::{At, Ctx};
use crate::config::{DestNeed, SetupOp};
use crate::error::{setup_errno, setup_msg, SetupError, Step};
use crate::report::show;
use crate::sandbox::resolve::{relative, Dest};

/// Find or make `op`'s destination as it needs it (`src_is_dir`: a bind's
/// source is a directory).
pub(super) fn prepare<'a>(
    ctx: &Ctx<'_>,
    op: &'a SetupOp,
    src_is_dir: bool,
) -> Result<At<'a>, SetupError> {
    let typed = op.dest();
    // bwrap 0.13.1 takes the last component without trailing slashes
    // (`--file 3 /a/b/f/` makes the file `f` in `/a/b`).
    let rel = trim_trailing_slashes(relative(typed));
    let fresh: Cell<Option<OwnedFd>> = Cell::new(None);
    let mkdir_parents = || -> Result<(), SetupError> {
        let mode = parent_mode(op.perms());
        fresh.set(ctx.root.mkdir_parents(rel, mode).map_err(|e| {
            setup_errno(Step::MkdirParents, format!("Can't mkdir parents for {}", show(typed)), e)
                .with_path(typed.clone())
        })?);
        Ok(())
    };
    // What the op needs there: a directory, a non-directory, or just
    // something that exists (with the mode a missing directory gets, and
    // whether the op mounts on it). A symlink as the last component is
    // refused, never followed; symlinks on the way resolve inside the root.
    let want = match op.dest_need() {
        DestNeed::LikeSource if src_is_dir => Some((Want::Dir, true, 0o755)),
        DestNeed::LikeSource | DestNeed::File => Some((Want::File, true, 0o755)),
        DestNeed::Dir { mounts: true } => Some((Want::Dir, true, 0o755)),
        DestNeed::Dir { mounts: false } => Some((Want::Dir, false, op.perms())),
        DestNeed::Existing => Some((Want::Existing, true, 0o755)),
        DestNeed::Parents => {
            mkdir_parents()?;
            None
        }
        DestNeed::Nothing => None,
    };
    let target = match want {
        Some((want, mounts, mode)) => prepare_dest(ctx, rel, typed, want, mounts, mode, || {
            mkdir_parents()?;
            Ok(fresh.take())
        })?,
        None => None,
    };
    Ok(At { typed, rel, target, fresh: fresh.take() })
}

/// Mode of the missing parents of an op's destination (bwrap's rule): 0755,
/// without group access if the op's mode grants the group nothing, and
/// without other access if it grants others nothing.
pub(super) fn parent_mode(perms: u32) -> u32 {
    let mut mode = 0o755;
    if perms & 0o070 == 0 {
        mode &= !0o050;
    }
    if perms & 0o007 == 0 {
        mode &= !0o005;
    }
    mode
}

/// `rel` without trailing slashes (`""` stays the root).
pub(super) fn trim_trailing_slashes(rel: &OsStr) -> &OsStr {
    let b = rel.as_bytes();
    let n = b.iter().rposition(|&c| c != b'/').map_or(0, |i| i + 1);
    OsStr::from_bytes(&b[..n])
}

/// What an op needs at its destination.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    /// A directory (made if missing).
    Dir,
    /// Anything but a directory (an empty file is made if missing).
    File,
    /// Whatever is there (`--remount-ro`); nothing is made.
    Existing,
}

/// bwrap 0.13.1's destination step for the ops that mount on, or make, a
/// file or directory: look the last component up without following it;
/// refuse a symlink there (`Can't mount on symlink destination DEST`, or
/// for `--dir` `Destination is not a directory DEST`) and a destination
/// of the wrong type; if it is missing, make the parents
/// (`make_parents`, which returns the leaf's parent when it made it) and
/// then the leaf (`Can't create file DEST: ...`, whatever the kind).
/// Returns the destination, opened, when it is known.
fn prepare_dest(
    ctx: &Ctx<'_>,
    rel: &OsStr,
    dest_typed: &OsStr,
    want: Want,
    mounts: bool,
    mode: u32,
    make_parents: impl FnOnce() -> Result<Option<OwnedFd>, SetupError>,
) -> Result<Option<Dest>, SetupError> {
    let msg = |m: &str| {
        setup_msg(Step::Destination, format!("{m} {}", show(dest_typed))).with_path(dest_typed)
    };
    let create_err = |e| {
        setup_errno(Step::CreateFile, format!("Can't create file {}", show(dest_typed)), e)
            .with_path(dest_typed)
    };
    let check = |found: Dest| -> Result<Option<Dest>, SetupError> {
        let st = nix::sys::stat::fstat(&found.fd).map_err(|e| {
            setup_errno(
                Step::Destination,
                format!("Can't get type of dest {}", show(dest_typed)),
                e,
            )
            .with_path(dest_typed)
        })?;
        let fmt = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        if fmt == SFlag::S_IFLNK {
            return Err(if mounts {
                msg("Can't mount on symlink destination")
            } else {
                msg("Destination is not a directory")
            });
        }
        let is_dir = fmt == SFlag::S_IFDIR;
        match want {
            Want::Dir if !is_dir => Err(msg("Destination is not a directory")),
            Want::File if is_dir => Err(msg("Destination is not a file")),
            _ => Ok(Some(found)),
        }
    };
    if let Ok(found) = ctx.root.lookup(rel, libc::O_NOFOLLOW) {
        return check(found);
    }
    let fresh = make_parents()?;
    // bwrap looks the destination up once its parents exist: a leaf such
    // as `x/..` exists now (a leaf made in a fresh parent cannot).
    let last = rel.as_bytes().rsplit(|&c| c == b'/').next().unwrap_or_default();
    if fresh.is_none() || last == b"." || last == b".." {
        if let Ok(found) = ctx.root.lookup(rel, libc::O_NOFOLLOW) {
            return check(found);
        }
    }
    match want {
        Want::Dir => ctx.root.ensure_dir(rel, mode, true, fresh).map_err(create_err),
        Want::File => ctx.root.ensure_file(rel, 0o444, true, fresh).map_err(create_err),
        // Parents made (as bwrap makes them), the leaf still missing:
        // bwrap's open of it fails.
        Want::Existing => match ctx.root.lookup(rel, libc::O_NOFOLLOW) {
            Ok(d) => Ok(Some(d)),
            Err(e) => Err(create_err(e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BindKind;

    #[test]
    fn parent_modes_like_bwrap() {
        // The table from bwrap's tests: --perms P --dir /a/b/c.
        for (p, want) in
            [(0o750, 0o750), (0o710, 0o750), (0o700, 0o700), (0o604, 0o705), (0o000, 0o700)]
        {
            assert_eq!(parent_mode(p), want, "{p:o}");
        }
        let dir = SetupOp::Dir { dest: "/a".into(), perms: None };
        assert_eq!(parent_mode(dir.perms()), 0o755);
        let bind = SetupOp::Bind {
            src: "/x".into(),
            dest: "/a/b".into(),
            kind: BindKind::ReadOnly,
            allow_notexist: false,
        };
        assert_eq!(parent_mode(bind.perms()), 0o700, "bwrap's zero perms");
        let data = SetupOp::BindData { fd: 3, dest: "/a".into(), perms: None, readonly: true };
        assert_eq!(parent_mode(data.perms()), 0o700);
        let file = SetupOp::File { fd: 3, dest: "/a".into(), perms: None };
        assert_eq!(parent_mode(file.perms()), 0o755);
    }
}
