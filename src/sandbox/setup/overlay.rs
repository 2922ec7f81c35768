//! `--overlay-src` runs closed by `--overlay`, `--tmp-overlay` or
//! `--ro-overlay`: an overlayfs mounted as bwrap 0.13.1 mounts it.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::MsFlags;
use nix::sys::stat::Mode;

use super::ctx::{mount_errno, mount_on, oldroot_path, At, Ctx, Seq, Source};
use crate::config::OverlayKind;
use crate::error::{setup_errno, setup_msg, SetupError, Step};
use crate::report::show;

/// Mount the overlay of `source`'s layers on the destination.
pub(super) fn mount(
    ctx: &Ctx<'_>,
    source: &Source,
    kind: &OverlayKind,
    at: At<'_>,
    seq: &mut Seq,
) -> Result<(), SetupError> {
    let dest_typed = at.typed;
    let Source::Overlay { lower, upper } = source else {
        return Err(setup_msg(Step::Overlay, "internal error: overlay sources not resolved"));
    };
    // bwrap 0.13.1 hands overlayfs its layers as open fds
    // (`/proc/self/fd/N`), so the sandbox's mountinfo never names host
    // paths.
    let layer = |p: &OsStr, what: &str| {
        open(
            oldroot_path(p).as_os_str(),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            setup_errno(Step::Overlay, format!("Can't open overlay {what} {}", show(p)), e)
        })
    };
    let fd_path = |fd: &OwnedFd| OsString::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    let mut keep: Vec<OwnedFd> = Vec::new();
    let upper = match upper {
        Some((rw, work)) => {
            let (u, w) = (layer(rw, "source")?, layer(work, "workdir")?);
            let paths = (fd_path(&u), fd_path(&w));
            keep.extend([u, w]);
            Some(paths)
        }
        None if *kind == OverlayKind::Tmp => {
            let n = seq.tmp_overlays;
            seq.tmp_overlays += 1;
            Some(make_tmp_overlay_dirs(n)?)
        }
        None => None,
    };
    let mut lower_paths = Vec::with_capacity(lower.len());
    for l in lower {
        let fd = layer(l, "source")?;
        lower_paths.push(fd_path(&fd));
        keep.push(fd);
    }
    proc_link_in_setup_root()?;
    let options = overlay_options(&lower_paths, upper.as_ref());
    let overlay_err = |e| {
        // 0.13.1 prints "(null)" for the destination here.
        let msg = format!("Can't make overlay mount on (null) with options {}", show(&options));
        if e == Errno::ELOOP {
            setup_msg(Step::Overlay, format!("{msg}: Overlay directories may not overlap"))
        } else {
            mount_errno(Step::Overlay, msg, e)
        }
        .with_path(dest_typed.to_owned())
    };
    mount_on(ctx, at.target, at.rel, overlay_err, |path| {
        nix::mount::mount(
            Some("overlay"),
            path,
            Some("overlay"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(options.as_os_str()),
        )
    })?;
    drop(keep);
    Ok(())
}

/// Append `path` to overlayfs mount options, escaping `\\`, `,` and `:`.
fn push_escaped(out: &mut Vec<u8>, path: &OsStr) {
    for &c in path.as_bytes() {
        if matches!(c, b'\\' | b',' | b':') {
            out.push(b'\\');
        }
        out.push(c);
    }
}

/// overlayfs options as bwrap builds them: upper and work dirs (if any),
/// lower dirs from the top layer (last `--overlay-src`) down, `userxattr`.
/// Every path is already final (`/proc/self/fd/N`, or a tmp-overlay dir).
pub fn overlay_options(lower: &[OsString], upper: Option<&(OsString, OsString)>) -> OsString {
    let mut o = Vec::new();
    if let Some((up, work)) = upper {
        o.extend_from_slice(b"upperdir=");
        push_escaped(&mut o, up);
        o.extend_from_slice(b",workdir=");
        push_escaped(&mut o, work);
        o.push(b',');
    }
    o.extend_from_slice(b"lowerdir=");
    for (i, l) in lower.iter().rev().enumerate() {
        if i > 0 {
            o.push(b':');
        }
        push_escaped(&mut o, l);
    }
    o.extend_from_slice(b",userxattr");
    OsString::from_vec(o)
}

/// `/proc` in the setup root, so that the `/proc/self/fd/N` names given to
/// overlayfs resolve (the setup root disappears with the second pivot).
fn proc_link_in_setup_root() -> Result<(), SetupError> {
    match nix::unistd::symlinkat("oldroot/proc", nix::fcntl::AT_FDCWD, "/proc") {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(setup_errno(Step::Overlay, "Creating proc failed", e)),
    }
}

/// Upper and work dirs of the Nth `--tmp-overlay`, on the setup tmpfs that
/// disappears with the second pivot, so writes vanish with the sandbox.
fn make_tmp_overlay_dirs(n: u32) -> Result<(OsString, OsString), SetupError> {
    let upper = format!("/tmp-overlay-upper-{n}");
    let work = format!("/tmp-overlay-work-{n}");
    nix::unistd::mkdir(upper.as_str(), Mode::from_bits_truncate(0o755))
        .map_err(|e| setup_errno(Step::TmpOverlay, "Creating --tmp-overlay upperdir failed", e))?;
    nix::unistd::mkdir(work.as_str(), Mode::from_bits_truncate(0o755))
        .map_err(|e| setup_errno(Step::TmpOverlay, "Creating --tmp-overlay workdir failed", e))?;
    Ok((upper.into(), work.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_options_like_bwrap() {
        let lower = [OsString::from("/lower,1"), OsString::from("/a:b\\c")];
        assert_eq!(
            overlay_options(
                &lower,
                Some(&(OsString::from("/oldroot/up"), OsString::from("/oldroot/work")))
            ),
            "upperdir=/oldroot/up,workdir=/oldroot/work,lowerdir=/a\\:b\\\\c:/lower\\,1,userxattr"
        );
        assert_eq!(overlay_options(&lower[..1], None), "lowerdir=/lower\\,1,userxattr");
    }
}
