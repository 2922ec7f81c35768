//! `--proc DEST`, with nestwrap's fallbacks for a masked parent `/proc`.

use std::ffi::OsStr;
use std::os::fd::AsFd;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};

use super::bind::{apply_flags, bind_error, bind_mount, stage, BindFlags};
use super::ctx::{
    after_mount, join, mount_errno, mount_target, newroot_err, read_proc, rel_join, warn,
};
use super::ctx::{At, Ctx};
use crate::config::ProcFallback;
use crate::error::{setup_errno, SetupError, Step};
use crate::fallback::{self, ProcTier};
use crate::report::show;
use crate::sandbox::resolve::{Dest, NewRoot};
use crate::sys;
use crate::sys::mount::{is_at_or_below, parse_mountinfo};

/// `--proc DEST`: a fresh procfs in the sandbox's pid namespace (with the
/// container fallbacks), else a bind of the parent's; then bwrap's
/// read-only covers.
pub(super) fn mount_proc(ctx: &Ctx<'_>, at: At<'_>) -> Result<(), SetupError> {
    let (dest_typed, rel, pre) = (at.typed, at.rel, at.target);
    let dest = NewRoot::path(rel);
    let on_root = if ctx.own_pidns {
        mount_fresh_proc(ctx, dest_typed, rel, pre)?
    } else {
        let src = OsStr::new("oldroot/proc");
        let flags = BindFlags { readonly: false, devices: false, recursive: true };
        bind_mount(ctx, Some(src), rel, flags, pre).map_err(|f| bind_error(src, &dest, f))?
    };
    // bwrap covers a few writable legacy entries read-only. They are
    // looked up inside the procfs just mounted, where none is a symlink.
    let proc_rel = if on_root { OsStr::new("") } else { rel };
    let proc = ctx.root.lookup(proc_rel, libc::O_DIRECTORY).map_err(|e| {
        setup_errno(Step::ProcCover, format!("Can't access {}", show(dest_typed)), e)
    })?;
    for sub in ["sys", "sysrq-trigger", "irq", "bus"] {
        let path = NewRoot::path(&rel_join(rel, sub));
        let access_err =
            |e| setup_errno(Step::ProcCover, format!("Can't access {}", show(&path)), e);
        // Effective credentials (AT_EACCESS): with a non-zero sandbox uid,
        // plain access() would drop our capabilities and miss entries the
        // setup could write.
        let access =
            |flags| nix::unistd::faccessat(&proc.fd, sub, nix::unistd::AccessFlags::W_OK, flags);
        let effective = nix::fcntl::AtFlags::AT_EACCESS | nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW;
        let writable = match access(effective) {
            // faccessat2 (Linux 5.8) missing, or refused by an older
            // container profile: bwrap's own check, access() with the real
            // ids (plain faccessat).
            Err(Errno::ENOSYS) | Err(Errno::EPERM) => sys::faccessat_real_ids(
                proc.fd.as_fd(),
                &std::ffi::CString::new(sub).unwrap_or_default(),
                libc::W_OK,
            ),
            r => r,
        };
        match writable {
            Ok(()) => {}
            Err(Errno::EACCES) | Err(Errno::ENOENT) | Err(Errno::EROFS) => continue,
            Err(e) => return Err(access_err(e)),
        }
        let at = join(&proc.magic_path(), sub);
        let flags = BindFlags { readonly: true, devices: false, recursive: true };
        mount(
            Some(at.as_os_str()),
            at.as_os_str(),
            None::<&OsStr>,
            MsFlags::MS_SILENT | MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&OsStr>,
        )
        .map_err(|e| {
            bind_error(&path, &path, stage("Unable to mount source on destination", Some(e)))
        })?;
        apply_flags(ctx, &at, &path, flags).map_err(|f| bind_error(&path, &path, f))?;
    }
    Ok(())
}

fn proc_mount(dest: &OsStr, data: Option<&str>) -> Result<(), Errno> {
    mount(
        Some("proc"),
        dest,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV,
        data,
    )
}

/// A fresh procfs for the sandbox's pid namespace, with nestwrap's fallback
/// tiers when the kernel refuses it because the parent's /proc is masked
/// ("mount too revealing"): a `subset=pid` procfs (kernels that relax the
/// rule for it), then a recursive bind of the parent's procfs, which keeps
/// every mask the container runtime put there. Any other refusal is
/// reported exactly as bwrap reports it.
/// Returns whether the procfs went on the new root itself.
fn mount_fresh_proc(
    ctx: &Ctx<'_>,
    dest: &OsStr,
    rel: &OsStr,
    pre: Option<Dest>,
) -> Result<bool, SetupError> {
    let (target, on_root) = mount_target(ctx, pre, rel).map_err(|e| {
        mount_errno(Step::MountProc, format!("Can't mount proc on {}", show(dest)), e)
            .with_path(dest.to_owned())
    })?;
    let refused = |e: Errno| {
        mount_errno(Step::MountProc, format!("Can't mount proc on {}", show(dest)), e)
            .with_path(dest.to_owned())
    };
    let err = match proc_mount(&target.path, None) {
        Ok(()) => {
            after_mount(ctx, on_root).map_err(newroot_err)?;
            return Ok(on_root);
        }
        Err(e) => e,
    };
    // The order and the rule are crate::fallback's (shared with --diagnose).
    let tier = fallback::proc_fallback(
        err,
        ctx.proc_fallback,
        || proc_is_masked(ctx),
        |tier| match tier {
            ProcTier::SubsetPid => proc_mount(&target.path, Some("subset=pid")).is_ok(),
            ProcTier::ParentBind => {
                let src = OsStr::new("oldroot/proc");
                // A plain MS_BIND of a procfs with locked submounts is EINVAL;
                // the recursive bind carries the masks along.
                let flags = BindFlags { readonly: false, devices: false, recursive: true };
                ctx.root
                    .lookup(rel, 0)
                    .is_ok_and(|pre| bind_mount(ctx, Some(src), rel, flags, Some(pre)).is_ok())
            }
        },
    )
    .map_err(|_| refused(err))?;
    if tier == ProcTier::SubsetPid {
        after_mount(ctx, on_root).map_err(newroot_err)?;
    }
    ctx.proc_tier.set(Some(tier));
    if ctx.proc_fallback == ProcFallback::Auto {
        warn(
            ctx.level_prefix,
            &format!(
                "Can't mount a new proc on {}: the kernel refuses it because the parent /proc is masked \
                 (\"Mount too revealing\"); using the {} fallback instead: {} \
                 (--proc-fallback never fails instead)",
                show(dest),
                tier.name(),
                tier.cost()
            ),
        );
    }
    Ok(on_root)
}

/// Whether the refusal of a fresh procfs is the kernel's "mount too
/// revealing" rule. Asks the kernel itself through the fs-context log; where
/// the new mount API is unavailable, falls back to looking for mounts on
/// top of, or below, the parent's /proc (the masks that trigger the rule).
fn proc_is_masked(ctx: &Ctx<'_>) -> bool {
    fallback::proc_masked(sys::mount::probe_proc_refusal(false), || {
        read_proc(ctx, "self/mountinfo").ok().and_then(|t| parse_mountinfo(&t)).is_some_and(
            |mounts| {
                mounts.iter().any(|m| {
                    is_at_or_below(&m.mount_point, OsStr::new("/oldroot/proc"))
                        && m.mount_point != "/oldroot/proc"
                })
            },
        )
    })
}
