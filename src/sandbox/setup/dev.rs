//! `--dev DEST`: a minimal `/dev`, as bwrap makes it.

use std::ffi::{OsStr, OsString};

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{Mode, SFlag};

use super::bind::{apply_flags, bind_error, stage, BindFlags};
use super::ctx::{join, mount_errno, mount_on, oldroot_path, At, Ctx};
use super::fs::mount_tmpfs;
use crate::error::{setup_errno, SetupError, Step};
use crate::report::show;
use crate::sandbox::resolve::{Dest, NewRoot};

/// An empty file to bind a device node on, in the `/dev` tmpfs just made.
fn make_node_file(dev: &Dest, name: &str) -> Result<(), Errno> {
    nix::sys::stat::mknodat(&dev.fd, name, SFlag::S_IFREG, Mode::from_bits_truncate(0o444), 0)
}

/// Bind a host device node onto its file in the `/dev` tmpfs (the flags
/// come once for all of them, at the end of `--dev`).
fn bind_node(src: &OsStr, at: &OsStr, dest: &OsStr) -> Result<(), SetupError> {
    mount(
        Some(src),
        at,
        None::<&OsStr>,
        MsFlags::MS_SILENT | MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&OsStr>,
    )
    .map_err(|e| bind_error(src, dest, stage("Unable to mount source on destination", Some(e))))
}

/// `--dev DEST`: a tmpfs with bwrap's device nodes (bound from the host),
/// `stdin`/`stdout`/`stderr`/`fd`/`core` links, `shm`, a new devpts
/// instance and `ptmx`, and `console` when stdout is a terminal.
pub(super) fn mount_dev(ctx: &Ctx<'_>, at: At<'_>) -> Result<(), SetupError> {
    let (dest_typed, rel, pre) = (at.typed, at.rel, at.target);
    let typed = show(dest_typed);
    let dest = NewRoot::path(rel);
    let tmpfs_err =
        |e| mount_errno(Step::MountDev, format!("Can't mount tmpfs on {}", show(dest_typed)), e);
    let on_root = mount_on(ctx, pre, rel, tmpfs_err, |path| mount_tmpfs(ctx, path, 0o755, None))?;
    // From here on everything is inside the tmpfs we just mounted, where
    // nothing but what we make exists: plain names under its fd.
    let dev = ctx
        .root
        .lookup(if on_root { OsStr::new("") } else { rel }, libc::O_DIRECTORY)
        .map_err(tmpfs_err)?;
    let dev_path = dev.magic_path();
    let at = |name: &str| join(&dev_path, name);
    for node in ["null", "zero", "full", "random", "urandom", "tty"] {
        let node_src = OsString::from(format!("/oldroot/dev/{node}"));
        make_node_file(&dev, node).map_err(|e| {
            setup_errno(Step::MountDev, format!("Can't create file {typed}/{node}"), e)
        })?;
        bind_node(&node_src, &at(node), &join(&dest, node))?;
    }
    for (i, node) in ["stdin", "stdout", "stderr"].iter().enumerate() {
        let target = format!("/proc/self/fd/{i}");
        nix::unistd::symlinkat(target.as_str(), &dev.fd, *node).map_err(|e| {
            setup_errno(Step::MountDev, format!("Can't create symlink {typed}/{node}"), e)
        })?;
    }
    for (name, target) in [("fd", "/proc/self/fd"), ("core", "/proc/kcore")] {
        nix::unistd::symlinkat(target, &dev.fd, name).map_err(|e| {
            setup_errno(Step::MountDev, format!("Can't create symlink {typed}/{name}"), e)
        })?;
    }
    let dir_mode = Mode::from_bits_truncate(0o755);
    nix::sys::stat::mkdirat(&dev.fd, "shm", dir_mode)
        .map_err(|e| setup_errno(Step::MountDev, format!("Can't create {typed}/shm"), e))?;
    nix::sys::stat::mkdirat(&dev.fd, "pts", dir_mode)
        .map_err(|e| setup_errno(Step::MountDev, format!("Can't create {typed}/pts"), e))?;
    mount(
        Some("devpts"),
        at("pts").as_os_str(),
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=620"),
    )
    .map_err(|e| mount_errno(Step::MountDevpts, format!("Can't mount devpts on {typed}/pts"), e))?;
    nix::unistd::symlinkat("pts/ptmx", &dev.fd, "ptmx").map_err(|e| {
        setup_errno(Step::MountDev, format!("Can't make symlink at {typed}/ptmx"), e)
    })?;
    if let Some(tty) = ctx.host_tty.filter(|t| !t.is_empty()) {
        let src = oldroot_path(tty);
        make_node_file(&dev, "console")
            .map_err(|e| setup_errno(Step::MountDev, format!("creating {typed}/console"), e))?;
        bind_node(&src, &at("console"), &join(&dest, "console"))?;
    }
    // nosuid on every node bound above, in one call instead of one per
    // node (the tmpfs and devpts have it already; nodev stays off the
    // nodes, as bwrap's BIND_DEVICES leaves it).
    let flags = BindFlags { readonly: false, devices: true, recursive: true };
    apply_flags(ctx, &dev_path, &dest, flags)
        .map_err(|f| bind_error(OsStr::new("/oldroot/dev"), &dest, f))?;
    Ok(())
}
