//! `setup_newroot`: apply the filesystem operations, in command-line order,
//! from the old root (`/oldroot/...`) into the new root (`/newroot/...`).
//!
//! Called from the child only, after the first `pivot_root`, with the setup
//! tmpfs as `/` and the cwd at `/`. Messages are bwrap's, naming the op's
//! destination as the user typed it (or the internal `/newroot/...` path
//! where bwrap names that).

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{stat, Mode, SFlag};

use std::cell::Cell;

use crate::config::{BindKind, OverlayKind, ProcFallback, SetupOp};
use crate::error::{setup_errno, setup_msg, Detail, SetupError};
use crate::fallback::{self, ProcTier};
use crate::report::{format_line, show, write_stderr, Level};
use crate::sys;
use crate::sys::mount::{cstr, is_at_or_below, mount_setattr, parse_mountinfo};

use super::resolve::{relative, Dest, NewRoot, Target};

/// The mode an op gives what it creates, as bwrap's `op->perms`: `--perms`,
/// else the op's default. Ops that create no file of their own keep bwrap's
/// zero-initialised value, which is why their missing parents come out 0700.
pub fn default_perms(op: &SetupOp, perms: Option<u32>) -> u32 {
    match op {
        SetupOp::Tmpfs { .. } | SetupOp::Dir { .. } => perms.unwrap_or(0o755),
        SetupOp::File { .. } => perms.unwrap_or(0o666),
        SetupOp::BindData { .. } => perms.unwrap_or(0o600),
        _ => 0,
    }
}

/// Mode of the missing parents of an op's destination (bwrap's rule): 0755,
/// without group access if the op's mode grants the group nothing, and
/// without other access if it grants others nothing.
pub fn parent_mode(perms: u32) -> u32 {
    let mut mode = 0o755;
    if perms & 0o070 == 0 {
        mode &= !0o050;
    }
    if perms & 0o007 == 0 {
        mode &= !0o005;
    }
    mode
}

/// A bind source resolved on the host before the pivot.
#[derive(Debug, Clone)]
pub enum Source {
    /// `realpath()` of SRC.
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

/// How a bind treats flags.
#[derive(Clone, Copy)]
struct BindFlags {
    readonly: bool,
    devices: bool,
    recursive: bool,
}

impl BindFlags {
    fn of(kind: BindKind) -> Self {
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
struct BindFailure {
    stage: String,
    errno: Option<Errno>,
}

fn stage(stage: impl Into<String>, errno: Option<Errno>) -> BindFailure {
    BindFailure { stage: stage.into(), errno }
}

/// Recursive (or not) bind of `src` onto `dest` (already opened, or looked
/// up here), then `nosuid`, `nodev` (unless devices) and `ro` (if
/// read-only) on the mount and every submount. Fails closed: if any mount
/// cannot get the flags, the op fails. Returns whether the bind landed on
/// the new root itself.
fn bind_mount(
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

/// An op's destination: the one its `ensure_*` step opened, or a fresh
/// lookup; and whether it is the new root itself.
fn resolve_target(ctx: &Ctx<'_>, dest: Option<Dest>, rel: &OsStr) -> Result<(Dest, bool), Errno> {
    let dest = match dest {
        Some(d) => d,
        None => ctx.root.lookup(rel, 0)?,
    };
    let root = ctx.root.is_root(&dest);
    Ok((dest, root))
}

/// [`resolve_target`] as a path to mount on.
fn mount_target(ctx: &Ctx<'_>, dest: Option<Dest>, rel: &OsStr) -> Result<(Target, bool), Errno> {
    resolve_target(ctx, dest, rel).map(|(dest, root)| (dest.into_target(), root))
}

/// Mount a filesystem on an op's destination with `mount_fs` (given the
/// path to mount on), then pick up the new root if the mount landed there.
/// Errors of the lookup and the mount go through `err`. Returns whether it
/// landed on the root.
fn mount_on(
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
fn after_mount(ctx: &Ctx<'_>, on_root: bool) -> Result<(), Errno> {
    if on_root {
        ctx.root.refresh()?;
    }
    Ok(())
}

/// Give the mount at `dest` (and with `recursive`, every mount below it)
/// the bind's flags.
/// `shown` names the destination in a failure (bwrap 0.13.1:
/// `mount_setattr() failed at "/newroot/DEST"`).
fn apply_flags(
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

/// Read a file under the saved `/proc` fd.
pub fn read_proc(ctx: &Ctx<'_>, name: &str) -> Result<Vec<u8>, Errno> {
    let fd =
        nix::fcntl::openat(ctx.proc_fd, name, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())?;
    sys::fd::read_to_end(&fd)
}

fn bind_error(src: &OsStr, dest: &OsStr, f: BindFailure) -> SetupError {
    SetupError::new(
        "bind-mount",
        format!("Can't bind mount {} on {}", show(src), show(dest)),
        Detail::Stage(f.stage, f.errno),
    )
    .with_path(dest.to_owned())
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

fn mount_errno(step: &'static str, msg: String, e: Errno) -> SetupError {
    SetupError::new(step, msg, Detail::Mount(e))
}

fn octal(mode: u32) -> String {
    if mode == 0 {
        "0".into()
    } else {
        format!("0{mode:o}")
    }
}

fn mount_tmpfs(ctx: &Ctx<'_>, dest: &OsStr, perms: u32, size: Option<u64>) -> Result<(), Errno> {
    let mut opts = format!("mode={}", octal(perms));
    if let Some(size) = size {
        opts.push_str(&format!(",size={size}"));
    }
    let opts = super::label::mount_option(&opts, ctx.file_label);
    mount(
        Some("tmpfs"),
        dest,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(opts.as_str()),
    )
}

/// Apply every op in order. `sources[i]` is the resolved source of `ops[i]`
/// (for bind-like ops).
pub fn setup_newroot(
    ctx: &Ctx<'_>,
    ops: &[SetupOp],
    sources: &[Option<Source>],
) -> Result<(), SetupError> {
    let mut bind_data_seq = 0u32;
    let mut tmp_overlays = 0u32;
    for (op, source) in ops.iter().zip(sources) {
        // Resolve the source's type first, as bwrap does.
        let mut src_is_dir = false;
        let mut src_path: Option<OsString> = None;
        // The source as bwrap 0.13.1 names it in messages: its real path on the host.
        let mut src_shown: &OsStr = OsStr::new("");
        if let Some(source) = source {
            match source {
                Source::Missing => continue,
                Source::Overlay { .. } => {}
                Source::Path(p) => {
                    let old = oldroot_path(p);
                    match stat(old.as_os_str()) {
                        Ok(st) => {
                            src_is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
                                == SFlag::S_IFDIR
                        }
                        Err(Errno::ENOENT)
                            if matches!(op, SetupOp::Bind { allow_notexist: true, .. }) =>
                        {
                            continue
                        }
                        Err(e) => {
                            return Err(setup_errno(
                                "stat-source",
                                format!("Can't get type of source {}", show(p)),
                                e,
                            )
                            .with_path(p.clone()))
                        }
                    }
                    src_path = Some(old);
                    src_shown = p;
                }
            }
        }

        let (dest_typed, perms, create_parents) = match op {
            SetupOp::Bind { dest, .. } | SetupOp::BindFd { dest, .. } => (dest, None, true),
            // bwrap creates parents here too; only --chmod is NO_CREATE_DEST.
            SetupOp::RemountRo { dest } => (dest, None, true),
            SetupOp::Overlay { dest, .. } => (dest, None, true),
            SetupOp::Proc { dest } | SetupOp::Dev { dest } | SetupOp::Mqueue { dest } => {
                (dest, None, true)
            }
            SetupOp::Tmpfs { dest, perms, .. } | SetupOp::Dir { dest, perms } => {
                (dest, *perms, true)
            }
            SetupOp::File { dest, perms, .. } | SetupOp::BindData { dest, perms, .. } => {
                (dest, *perms, true)
            }
            SetupOp::Symlink { dest, .. } => (dest, None, true),
            SetupOp::Chmod { path, .. } => (path, None, false),
        };
        // bwrap 0.13.1 takes the last component without trailing slashes
        // (`--file 3 /a/b/f/` makes the file `f` in `/a/b`).
        let rel = trim_trailing_slashes(relative(dest_typed));
        // What the op needs at its destination (bwrap 0.13.1's destination
        // check): a directory, a non-directory, or just something that
        // exists. A symlink as the last component is refused, never
        // followed; symlinks on the way resolve inside the new root.
        let want = match op {
            SetupOp::Bind { .. } | SetupOp::BindFd { .. } if src_is_dir => Some(Want::Dir),
            SetupOp::Bind { .. } | SetupOp::BindFd { .. } | SetupOp::BindData { .. } => {
                Some(Want::File)
            }
            SetupOp::Overlay { .. }
            | SetupOp::Proc { .. }
            | SetupOp::Dev { .. }
            | SetupOp::Tmpfs { .. }
            | SetupOp::Mqueue { .. }
            | SetupOp::Dir { .. } => Some(Want::Dir),
            SetupOp::RemountRo { .. } => Some(Want::Existing),
            _ => None,
        };
        // The leaf's parent when mkdir_parents just made it (the leaf can
        // then be made there without looking anything up).
        let fresh: Cell<Option<OwnedFd>> = Cell::new(None);
        let mkdir_parents = || -> Result<(), SetupError> {
            let parent_mode = parent_mode(default_perms(op, perms));
            fresh.set(ctx.root.mkdir_parents(rel, parent_mode).map_err(|e| {
                setup_errno(
                    "mkdir-parents",
                    format!("Can't mkdir parents for {}", show(dest_typed)),
                    e,
                )
                .with_path(dest_typed.clone())
            })?);
            Ok(())
        };
        let target = match want {
            Some(want) => {
                let mode = match op {
                    SetupOp::Dir { .. } => perms.unwrap_or(0o755),
                    _ => 0o755,
                };
                let mounts = !matches!(op, SetupOp::Dir { .. });
                prepare_dest(ctx, rel, dest_typed, want, mounts, mode, || {
                    mkdir_parents()?;
                    Ok(fresh.take())
                })?
            }
            None => {
                if create_parents {
                    mkdir_parents()?;
                }
                None
            }
        };

        match op {
            SetupOp::Bind { .. } | SetupOp::BindFd { .. } => {
                let kind = match op {
                    SetupOp::Bind { kind, .. } => *kind,
                    SetupOp::BindFd { readonly: true, .. } => BindKind::ReadOnly,
                    _ => BindKind::ReadWrite,
                };
                let src = src_path.as_deref().unwrap_or_default();
                bind_mount(ctx, Some(src), rel, BindFlags::of(kind), target)
                    .map_err(|f| bind_error(src_shown, dest_typed, f))?;
                if let SetupOp::BindFd { fd, .. } = op {
                    check_bind_fd(ctx, *fd, rel)?;
                }
            }
            SetupOp::RemountRo { .. } => {
                let flags = BindFlags { readonly: true, devices: false, recursive: false };
                bind_mount(ctx, None, rel, flags, target).map_err(|f| {
                    SetupError::new(
                        "remount-ro",
                        format!("Can't remount readonly on {}", show(dest_typed)),
                        Detail::Stage(f.stage, f.errno),
                    )
                    .with_path(dest_typed.clone())
                })?;
            }
            SetupOp::Overlay { .. } => {
                let pre = target;
                let Some(Source::Overlay { lower, upper }) = source else {
                    return Err(setup_msg(
                        "overlay",
                        "internal error: overlay sources not resolved",
                    ));
                };
                // bwrap 0.13.1 hands overlayfs its layers as open fds
                // (`/proc/self/fd/N`), so the sandbox's mountinfo never
                // names host paths.
                let layer = |p: &OsStr, what: &str| {
                    open(
                        oldroot_path(p).as_os_str(),
                        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(|e| {
                        setup_errno("overlay", format!("Can't open overlay {what} {}", show(p)), e)
                    })
                };
                let fd_path =
                    |fd: &OwnedFd| OsString::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
                let mut keep: Vec<OwnedFd> = Vec::new();
                let upper = match upper {
                    Some((rw, work)) => {
                        let (u, w) = (layer(rw, "source")?, layer(work, "workdir")?);
                        let paths = (fd_path(&u), fd_path(&w));
                        keep.extend([u, w]);
                        Some(paths)
                    }
                    None if matches!(op, SetupOp::Overlay { kind: OverlayKind::Tmp, .. }) => {
                        let n = tmp_overlays;
                        tmp_overlays += 1;
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
                    let msg = format!(
                        "Can't make overlay mount on (null) with options {}",
                        show(&options)
                    );
                    if e == Errno::ELOOP {
                        setup_msg("overlay", format!("{msg}: Overlay directories may not overlap"))
                    } else {
                        mount_errno("overlay", msg, e)
                    }
                    .with_path(dest_typed.clone())
                };
                mount_on(ctx, pre, rel, overlay_err, |path| {
                    mount(
                        Some("overlay"),
                        path,
                        Some("overlay"),
                        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                        Some(options.as_os_str()),
                    )
                })?;
                drop(keep);
            }
            SetupOp::Proc { .. } => {
                let pre = target;
                mount_proc(ctx, dest_typed, rel, pre)?;
            }
            SetupOp::Dev { .. } => {
                let pre = target;
                mount_dev(ctx, dest_typed, rel, pre)?;
            }
            SetupOp::Tmpfs { size, .. } => {
                let pre = target;
                let tmpfs_err = |e| {
                    mount_errno(
                        "mount-tmpfs",
                        format!("Can't mount tmpfs on {}", show(dest_typed)),
                        e,
                    )
                    .with_path(dest_typed.clone())
                };
                mount_on(ctx, pre, rel, tmpfs_err, |path| {
                    mount_tmpfs(ctx, path, perms.unwrap_or(0o755), *size)
                })?;
            }
            SetupOp::Mqueue { .. } => {
                let pre = target;
                let mqueue_err = |e| {
                    mount_errno(
                        "mount-mqueue",
                        format!("Can't mount mqueue on {}", show(dest_typed)),
                        e,
                    )
                    .with_path(dest_typed.clone())
                };
                mount_on(ctx, pre, rel, mqueue_err, |path| {
                    mount(Some("mqueue"), path, Some("mqueue"), MsFlags::empty(), None::<&str>)
                })?;
            }
            SetupOp::Dir { .. } => {}
            SetupOp::Chmod { mode, .. } => {
                // bwrap 0.13.1: open PATH without following a symlink at
                // the end (`Can't open PATH`), then chmod what was opened
                // (a symlink itself cannot be: EOPNOTSUPP).
                // PATH as given: `FILE/` is ENOTDIR, as in bwrap.
                let found =
                    ctx.root.lookup(relative(dest_typed), libc::O_NOFOLLOW).map_err(|e| {
                        setup_errno("chmod", format!("Can't open {}", show(dest_typed)), e)
                            .with_path(dest_typed.clone())
                    })?;
                let magic = format!("self/fd/{}", found.fd.as_raw_fd());
                nix::sys::stat::fchmodat(
                    ctx.proc_fd,
                    magic.as_str(),
                    Mode::from_bits_truncate(*mode),
                    nix::sys::stat::FchmodatFlags::FollowSymlink,
                )
                .map_err(|e| {
                    setup_errno(
                        "chmod",
                        format!("Can't chmod {} {}", octal(*mode), show(dest_typed)),
                        e,
                    )
                    .with_path(dest_typed.clone())
                })?;
            }
            SetupOp::File { fd, .. } => {
                let out = ctx
                    .root
                    .create_file_in(fresh.take(), rel, perms.unwrap_or(0o666))
                    .map_err(|e| {
                        setup_errno(
                            "create-file",
                            format!("Can't create file {}", show(dest_typed)),
                            e,
                        )
                        .with_path(dest_typed.clone())
                    })?;
                let write_err = |e| {
                    setup_errno(
                        "write-file",
                        format!("Can't write data to file {}", show(dest_typed)),
                        e,
                    )
                    .with_path(dest_typed.clone())
                };
                let input = ctx.user_fds.take(*fd).map_err(write_err)?;
                copy_fd(&input, &out).map_err(write_err)?;
            }
            SetupOp::BindData { fd, readonly, .. } => {
                bind_data_seq += 1;
                bind_data(
                    ctx,
                    *fd,
                    *readonly,
                    perms.unwrap_or(0o600),
                    dest_typed,
                    bind_data_seq,
                    target,
                )?;
            }
            SetupOp::Symlink { target, .. } => {
                make_symlink(ctx, target, dest_typed, rel, fresh.take())?
            }
        }
    }
    Ok(())
}

/// `rel` without trailing slashes (`""` stays the root).
fn trim_trailing_slashes(rel: &OsStr) -> &OsStr {
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
        setup_msg("destination", format!("{m} {}", show(dest_typed))).with_path(dest_typed)
    };
    let create_err = |e| {
        setup_errno("create-file", format!("Can't create file {}", show(dest_typed)), e)
            .with_path(dest_typed)
    };
    let check = |found: Dest| -> Result<Option<Dest>, SetupError> {
        let st = nix::sys::stat::fstat(&found.fd).map_err(|e| {
            setup_errno("destination", format!("Can't get type of dest {}", show(dest_typed)), e)
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

fn newroot_err(e: Errno) -> SetupError {
    setup_errno("newroot", "Can't open /newroot", e)
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
        Err(e) => Err(setup_errno("overlay", "Creating proc failed", e)),
    }
}

/// Upper and work dirs of the Nth `--tmp-overlay`, on the setup tmpfs that
/// disappears with the second pivot, so writes vanish with the sandbox.
fn make_tmp_overlay_dirs(n: u32) -> Result<(OsString, OsString), SetupError> {
    let upper = format!("/tmp-overlay-upper-{n}");
    let work = format!("/tmp-overlay-work-{n}");
    nix::unistd::mkdir(upper.as_str(), Mode::from_bits_truncate(0o755))
        .map_err(|e| setup_errno("tmp-overlay", "Creating --tmp-overlay upperdir failed", e))?;
    nix::unistd::mkdir(work.as_str(), Mode::from_bits_truncate(0o755))
        .map_err(|e| setup_errno("tmp-overlay", "Creating --tmp-overlay workdir failed", e))?;
    Ok((upper.into(), work.into()))
}

/// `--bind-fd`: after mounting, the fd and the mount must be the same inode,
/// or someone swapped the path between resolving and mounting.
fn check_bind_fd(ctx: &Ctx<'_>, fd: i32, rel: &OsStr) -> Result<(), SetupError> {
    let owned = ctx
        .user_fds
        .take(fd)
        .map_err(|e| setup_errno("bind-fd", format!("Can't stat fd {fd}"), e))?;
    let fd_st = nix::sys::stat::fstat(&owned)
        .map_err(|e| setup_errno("bind-fd", format!("Can't stat fd {fd}"), e))?;
    let dest = NewRoot::path(rel);
    let mount_st = ctx
        .root
        .lstat(rel)
        .map_err(|e| setup_errno("bind-fd", format!("Can't stat mount at {}", show(&dest)), e))?;
    if fd_st.st_ino != mount_st.st_ino || fd_st.st_dev != mount_st.st_dev {
        // bwrap prints whatever errno was left over; on its usual path that
        // is EINVAL, and a fixed value keeps the message reproducible.
        return Err(setup_errno("bind-fd", "Race condition binding dirfd", Errno::EINVAL));
    }
    Ok(())
}

fn bind_data(
    ctx: &Ctx<'_>,
    fd: i32,
    readonly: bool,
    perms: u32,
    dest_typed: &OsStr,
    seq: u32,
    target: Option<Dest>,
) -> Result<(), SetupError> {
    let rel = trim_trailing_slashes(relative(dest_typed));
    let path = tempfile_name(seq);
    // Created with its final mode (the umask is 0 during setup), where
    // bwrap creates it 0600 and then fchmods: one syscall less.
    let tmp = open(
        path.as_str(),
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(perms),
    )
    .map_err(|e| {
        setup_errno("bind-data", format!("Can't create tmpfile for {}", show(dest_typed)), e)
    })?;
    let write_err = |e| {
        setup_errno("write-file", format!("Can't write data to file {}", show(dest_typed)), e)
            .with_path(dest_typed.to_owned())
    };
    let input = ctx.user_fds.take(fd).map_err(write_err)?;
    copy_fd(&input, &tmp).map_err(write_err)?;
    drop(input);
    drop(tmp);
    let flags = BindFlags { readonly, devices: false, recursive: true };
    bind_mount(ctx, Some(OsStr::new(&path)), rel, flags, target)
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
                "symlink",
                format!("{}: existing destination is {}", msg(), show(existing.as_os_str())),
            )),
            Err(Errno::EINVAL) => Err(setup_msg(
                "symlink",
                format!("{}: destination exists and is not a symlink", msg()),
            )),
            Err(e) => Err(setup_errno(
                "symlink",
                format!("{}: destination exists, and cannot read symlink target", msg()),
                e,
            )),
        },
        Err((e, _)) => Err(setup_errno("symlink", msg(), e).with_path(dest_typed.to_owned())),
    }
}

fn mount_proc(
    ctx: &Ctx<'_>,
    dest_typed: &OsStr,
    rel: &OsStr,
    pre: Option<Dest>,
) -> Result<(), SetupError> {
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
    let proc = ctx
        .root
        .lookup(proc_rel, libc::O_DIRECTORY)
        .map_err(|e| setup_errno("proc-cover", format!("Can't access {}", show(dest_typed)), e))?;
    for sub in ["sys", "sysrq-trigger", "irq", "bus"] {
        let path = NewRoot::path(&rel_join(rel, sub));
        let access_err = |e| setup_errno("proc-cover", format!("Can't access {}", show(&path)), e);
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

/// `rel/name`, for paths below a destination.
fn rel_join(rel: &OsStr, name: &str) -> OsString {
    let mut p = rel.as_bytes().to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name.as_bytes());
    OsString::from_vec(p)
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
        mount_errno("mount-proc", format!("Can't mount proc on {}", show(dest)), e)
            .with_path(dest.to_owned())
    })?;
    let refused = |e: Errno| {
        mount_errno("mount-proc", format!("Can't mount proc on {}", show(dest)), e)
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

fn join(dir: &OsStr, name: &str) -> OsString {
    let mut p = dir.as_bytes().to_vec();
    p.push(b'/');
    p.extend_from_slice(name.as_bytes());
    OsString::from_vec(p)
}

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

fn mount_dev(
    ctx: &Ctx<'_>,
    dest_typed: &OsStr,
    rel: &OsStr,
    pre: Option<Dest>,
) -> Result<(), SetupError> {
    let typed = show(dest_typed);
    let dest = NewRoot::path(rel);
    let tmpfs_err =
        |e| mount_errno("mount-dev", format!("Can't mount tmpfs on {}", show(dest_typed)), e);
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
            setup_errno("mount-dev", format!("Can't create file {typed}/{node}"), e)
        })?;
        bind_node(&node_src, &at(node), &join(&dest, node))?;
    }
    for (i, node) in ["stdin", "stdout", "stderr"].iter().enumerate() {
        let target = format!("/proc/self/fd/{i}");
        nix::unistd::symlinkat(target.as_str(), &dev.fd, *node).map_err(|e| {
            setup_errno("mount-dev", format!("Can't create symlink {typed}/{node}"), e)
        })?;
    }
    for (name, target) in [("fd", "/proc/self/fd"), ("core", "/proc/kcore")] {
        nix::unistd::symlinkat(target, &dev.fd, name).map_err(|e| {
            setup_errno("mount-dev", format!("Can't create symlink {typed}/{name}"), e)
        })?;
    }
    let dir_mode = Mode::from_bits_truncate(0o755);
    nix::sys::stat::mkdirat(&dev.fd, "shm", dir_mode)
        .map_err(|e| setup_errno("mount-dev", format!("Can't create {typed}/shm"), e))?;
    nix::sys::stat::mkdirat(&dev.fd, "pts", dir_mode)
        .map_err(|e| setup_errno("mount-dev", format!("Can't create {typed}/pts"), e))?;
    mount(
        Some("devpts"),
        at("pts").as_os_str(),
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=620"),
    )
    .map_err(|e| mount_errno("mount-devpts", format!("Can't mount devpts on {typed}/pts"), e))?;
    nix::unistd::symlinkat("pts/ptmx", &dev.fd, "ptmx")
        .map_err(|e| setup_errno("mount-dev", format!("Can't make symlink at {typed}/ptmx"), e))?;
    if let Some(tty) = ctx.host_tty.filter(|t| !t.is_empty()) {
        let src = oldroot_path(tty);
        make_node_file(&dev, "console")
            .map_err(|e| setup_errno("mount-dev", format!("creating {typed}/console"), e))?;
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

/// Print a warning line from the child (used for non-fatal steps).
pub fn warn(level_prefix: bool, msg: &str) {
    write_stderr(format_line(level_prefix, Level::Warning, msg).as_bytes());
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

    #[test]
    fn parent_modes_like_bwrap() {
        // The table from bwrap's tests: --perms P --dir /a/b/c.
        for (p, want) in
            [(0o750, 0o750), (0o710, 0o750), (0o700, 0o700), (0o604, 0o705), (0o000, 0o700)]
        {
            assert_eq!(parent_mode(p), want, "{p:o}");
        }
        let dir = SetupOp::Dir { dest: "/a".into(), perms: None };
        assert_eq!(parent_mode(default_perms(&dir, None)), 0o755);
        let bind = SetupOp::Bind {
            src: "/x".into(),
            dest: "/a/b".into(),
            kind: BindKind::ReadOnly,
            allow_notexist: false,
        };
        assert_eq!(parent_mode(default_perms(&bind, None)), 0o700, "bwrap's zero perms");
        let data = SetupOp::BindData { fd: 3, dest: "/a".into(), perms: None, readonly: true };
        assert_eq!(parent_mode(default_perms(&data, None)), 0o700);
        let file = SetupOp::File { fd: 3, dest: "/a".into(), perms: None };
        assert_eq!(parent_mode(default_perms(&file, None)), 0o755);
    }

    #[test]
    fn octal_like_printf() {
        assert_eq!(octal(0o755), "0755");
        assert_eq!(octal(0), "0");
        assert_eq!(octal(0o1777), "01777");
    }
}
