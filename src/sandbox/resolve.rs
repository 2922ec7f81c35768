//! Destinations resolved inside the new root, never through it.
//!
//! During setup `/` is the setup tmpfs and `/oldroot` the host, so an
//! absolute symlink planted in a bound directory (`/app/evil -> /oldroot/
//! home/victim`) would make plain path operations create or mount things on
//! the host (CVE-2026-87766, fixed in bwrap 0.12 with
//! `openat2(RESOLVE_IN_ROOT)`). Every destination is therefore looked up
//! from an `O_PATH` fd of `/newroot` with `RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS`: symlinks, absolute ones included, resolve as
//! they would inside the finished sandbox. Parents are opened `O_PATH`, so
//! 0711 parents work (bwrap 0.13.1's fix). Mounts target the resolved
//! object through its `/proc/self/fd/N` magic link, so nothing can swap the
//! path between lookup and mount.
//!
//! Kernels without `openat2` (before 5.6, or a seccomp policy refusing it)
//! get the same resolution in userspace (`sys::inroot`, chosen inside
//! `sys::openat2`): never plain path lookups through `/newroot`, where
//! bwrap 0.13.1 stops. Called from the child.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::{fstat, Mode, SFlag};

use crate::sys;

/// Where `/proc` of the host sits during setup (after the first pivot).
const PROC_FD_DIR: &str = "/oldroot/proc/self/fd/";

/// The new root, for lookups that cannot leave it.
pub struct NewRoot {
    /// `/newroot`, reopened after a mount on the root itself (`--ro-bind /
    /// /`, or a destination that resolves to it): lookups from the older
    /// fd would see the directory underneath. Mounts anywhere else are
    /// crossed by lookups from this fd as they are.
    dir: std::cell::RefCell<OwnedFd>,
}

/// A resolved mount target: the path to hand to mount(2) (a magic link to
/// the resolved object) and the fd that keeps that link valid.
pub struct Target {
    _fd: Option<OwnedFd>,
    pub path: OsString,
}

/// A destination looked up (or created) in the new root and kept open, so
/// the op that follows mounts on it without a second lookup.
pub struct Dest {
    pub fd: OwnedFd,
    /// Whether this is the new root itself: known from the path alone when
    /// no symlink was on the way, otherwise asked of the kernel on demand.
    root: Option<bool>,
    /// Found without following any symlink (`RESOLVE_NO_SYMLINKS`).
    direct: bool,
}

impl Dest {
    /// Something just made below the root (so not the root itself).
    pub(super) fn made(fd: OwnedFd) -> Dest {
        Dest { fd, root: Some(false), direct: false }
    }

    /// `/oldroot/proc/self/fd/N`: the path that names exactly this object.
    pub fn magic_path(&self) -> OsString {
        OsString::from(format!("{PROC_FD_DIR}{}", self.fd.as_raw_fd()))
    }

    pub fn into_target(self) -> Target {
        let path = self.magic_path();
        Target { _fd: Some(self.fd), path }
    }
}

/// A name that is a real directory entry (not `.` or `..`).
fn plain(name: &OsStr) -> bool {
    !name.is_empty() && name != "." && name != ".."
}

/// The leaf's parent that `mkdir_parents` just made, with the leaf's name,
/// when the leaf can be made straight in it.
fn fresh_leaf(fresh: Option<OwnedFd>, rel: &OsStr) -> Option<(OwnedFd, &OsStr)> {
    let (_, name) = split(rel);
    fresh.filter(|_| !rel.as_bytes().ends_with(b"/") && plain(name)).map(|dir| (dir, name))
}

/// The directory `name` in `dir` (made by us just now), never through a
/// symlink.
fn open_subdir(dir: &OwnedFd, name: &OsStr) -> Result<OwnedFd, Errno> {
    nix::fcntl::openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Create (`O_CREAT | flags`, write-only) the file `name` in `dir`, never
/// through a symlink.
fn create_in(dir: &OwnedFd, name: &OsStr, flags: OFlag, mode: u32) -> Result<OwnedFd, Errno> {
    let flags = flags | OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOCTTY | OFlag::O_NOFOLLOW;
    nix::fcntl::openat(dir, name, flags | OFlag::O_CLOEXEC, Mode::from_bits_truncate(mode))
}

/// Whether `rel` names the root when no symlink is involved: `""`, `"."`,
/// `"a/.."` (RESOLVE_IN_ROOT keeps `..` at the root).
fn lexically_root(rel: &OsStr) -> bool {
    let mut depth = 0usize;
    for c in rel.as_bytes().split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => depth = depth.saturating_sub(1),
            _ => depth += 1,
        }
    }
    depth == 0
}

fn is_dir(fd: &OwnedFd) -> bool {
    fstat(fd)
        .is_ok_and(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
}

/// `dest` without leading slashes: the path relative to the new root.
pub fn relative(dest: &OsStr) -> &OsStr {
    let b = dest.as_bytes();
    OsStr::from_bytes(&b[b.iter().position(|&c| c != b'/').unwrap_or(b.len())..])
}

/// Split `rel` into its parent (relative) and last component.
fn split(rel: &OsStr) -> (&OsStr, &OsStr) {
    let b = rel.as_bytes();
    let b = b.strip_suffix(b"/").unwrap_or(b);
    match memchr::memrchr(b'/', b) {
        Some(i) => (OsStr::from_bytes(&b[..i]), OsStr::from_bytes(&b[i + 1..])),
        None => (OsStr::new(""), OsStr::from_bytes(b)),
    }
}

fn cpath(p: &OsStr) -> CString {
    let bytes = if p.is_empty() { b"." as &[u8] } else { p.as_bytes() };
    CString::new(bytes).unwrap_or_default()
}

impl NewRoot {
    /// Open `/newroot` (after the first pivot). Whether `openat2` works is
    /// learnt from the first lookup; `no_openat2` (`--debug-opt=force-
    /// openat-fallback`) takes the path for kernels without it.
    pub fn open(no_openat2: bool) -> Result<NewRoot, Errno> {
        let dir = Self::open_dir()?;
        if no_openat2 {
            sys::force_openat2_emulation();
        }
        Ok(NewRoot { dir: std::cell::RefCell::new(dir) })
    }

    /// `openat2` from the root (the kernel's, or its userspace emulation
    /// where the kernel has none or a seccomp profile refuses it).
    fn openat2(
        &self,
        rel: &OsStr,
        flags: libc::c_int,
        mode: u32,
        resolve: u64,
    ) -> Result<OwnedFd, Errno> {
        sys::openat2(&self.dir.borrow(), &cpath(rel), flags, mode, resolve)
    }

    fn open_dir() -> Result<OwnedFd, Errno> {
        open("/newroot", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
    }

    /// Look `rel` up (`O_PATH` plus `flags`). Tried first without
    /// following any symlink, so that whether it is the root is known
    /// without asking; a symlink on the way means one more lookup.
    pub fn lookup(&self, rel: &OsStr, flags: libc::c_int) -> Result<Dest, Errno> {
        let flags = flags | libc::O_PATH;
        let direct = sys::RESOLVE_IN_ROOT_NO_MAGIC | sys::RESOLVE_NO_SYMLINKS;
        match self.openat2(rel, flags, 0, direct) {
            Ok(fd) => {
                return Ok(Dest { fd, root: Some(lexically_root(rel)), direct: true });
            }
            Err(Errno::ELOOP) => {}
            Err(e) => return Err(e),
        }
        Ok(Dest { fd: self.at(rel, flags, 0)?, root: None, direct: false })
    }

    /// Whether `dest` is the new root itself (a mount there replaces the
    /// root every later lookup starts from).
    pub fn is_root(&self, dest: &Dest) -> bool {
        dest.root.unwrap_or_else(|| match (fstat(&dest.fd), fstat(&*self.dir.borrow())) {
            (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
            _ => false,
        })
    }

    /// An existing destination of the wanted kind (directory or not).
    /// `Err(true)` when it does not exist (ENOENT), `Err(false)` otherwise.
    pub fn existing(&self, rel: &OsStr, want_dir: bool) -> Result<Dest, bool> {
        match self.lookup(rel, if want_dir { libc::O_DIRECTORY } else { 0 }) {
            Ok(d) if want_dir || !is_dir(&d.fd) => Ok(d),
            Ok(_) => Err(false),
            Err(e) => Err(e == Errno::ENOENT),
        }
    }

    /// Set mount flags on what is now mounted on `dest` by its name in the
    /// root directory, without a second lookup. Only for a destination
    /// that is one plain name, found without symlinks; None otherwise (the
    /// caller looks it up again).
    pub fn setattr_by_name(
        &self,
        dest: &Dest,
        rel: &OsStr,
        attr: u64,
        recursive: bool,
    ) -> Option<Result<(), Errno>> {
        let b = rel.as_bytes();
        if !dest.direct || !plain(rel) || b.contains(&b'/') {
            return None;
        }
        let name = CString::new(b).ok()?;
        let dir = self.dir.borrow();
        Some(sys::mount::mount_setattr_at(std::os::fd::AsFd::as_fd(&*dir), &name, attr, recursive))
    }

    /// Pick up whatever is now mounted on `/newroot` itself.
    pub fn refresh(&self) -> Result<(), Errno> {
        *self.dir.borrow_mut() = Self::open_dir()?;
        Ok(())
    }

    /// The path bwrap's messages use: `/newroot/REL`.
    pub fn path(rel: &OsStr) -> OsString {
        let mut p = b"/newroot/".to_vec();
        p.extend_from_slice(rel.as_bytes());
        OsString::from_vec(p)
    }

    /// Open `rel` inside the new root.
    fn at(&self, rel: &OsStr, flags: libc::c_int, mode: u32) -> Result<OwnedFd, Errno> {
        self.openat2(rel, flags, mode, sys::RESOLVE_IN_ROOT_NO_MAGIC)
    }

    fn dir_at(&self, rel: &OsStr) -> Result<OwnedFd, Errno> {
        self.at(rel, libc::O_PATH | libc::O_DIRECTORY, 0)
    }

    /// The mount target for `rel` (which must exist).
    pub fn target(&self, rel: &OsStr) -> Result<Target, Errno> {
        let fd = self.at(rel, libc::O_PATH, 0)?;
        let path = OsString::from(format!("{PROC_FD_DIR}{}", fd.as_raw_fd()));
        Ok(Target { _fd: Some(fd), path })
    }

    /// mkdir in the parent `dir` (an O_PATH fd), accepting EEXIST.
    fn mkdir_in(dir: &OwnedFd, name: &OsStr, mode: u32) -> Result<(), Errno> {
        match nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(mode)) {
            Ok(()) | Err(Errno::EEXIST) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// bwrap's `mkdir_with_parents(dest, mode, false)`: create the missing
    /// parents of `rel`; existing ones must be directories. Returns the
    /// leaf's parent directory when this created it: the leaf is then
    /// known not to exist and the caller can make it there directly.
    pub fn mkdir_parents(&self, rel: &OsStr, mode: u32) -> Result<Option<OwnedFd>, Errno> {
        /// The directory the next component is created in.
        enum Parent {
            Root,
            Dir(OwnedFd),
            /// Made by this walk: everything below is new too.
            Fresh(OwnedFd),
        }
        let b = rel.as_bytes();
        let mut start = 0;
        let mut parent = Parent::Root;
        while let Some(off) = memchr::memchr(b'/', &b[start..]) {
            let end = start + off;
            let name = OsStr::from_bytes(&b[start..end]);
            start = end + 1;
            if name.is_empty() {
                continue;
            }
            if let Parent::Fresh(dir) = &parent {
                // Inside a directory we just made nothing else exists (and
                // `.`/`..` resolve like the root-relative walk would).
                if plain(name) {
                    Self::mkdir_in(dir, name, mode)?;
                    parent = Parent::Fresh(open_subdir(dir, name)?);
                    continue;
                }
            }
            let prefix = OsStr::from_bytes(&b[..end]);
            parent = match self.dir_at(prefix) {
                Ok(fd) => Parent::Dir(fd),
                Err(Errno::ENOENT) => {
                    match &parent {
                        Parent::Root => Self::mkdir_in(&self.dir.borrow(), name, mode)?,
                        Parent::Dir(fd) | Parent::Fresh(fd) => Self::mkdir_in(fd, name, mode)?,
                    }
                    // A dangling symlink there: mkdir says EEXIST and the
                    // open fails, which ends the walk (bwrap 0.13.1).
                    Parent::Fresh(self.dir_at(prefix)?)
                }
                Err(e) => return Err(e),
            };
        }
        // With a trailing slash the last directory made is the leaf itself
        // (bwrap's walk makes it too), not its parent.
        Ok(match parent {
            Parent::Fresh(fd) if !b.ends_with(b"/") => Some(fd),
            _ => None,
        })
    }

    /// Run `f` on the directory `parent` (relative; `""` is the root).
    fn in_dir<T>(
        &self,
        parent: &OsStr,
        f: impl FnOnce(&OwnedFd) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        if parent.is_empty() {
            f(&self.dir.borrow())
        } else {
            f(&self.dir_at(parent)?)
        }
    }

    /// bwrap's `ensure_dir`: an existing directory is fine, a non-directory
    /// is ENOTDIR, otherwise mkdir (EEXIST, e.g. a dangling symlink, counts
    /// as done and the op that follows fails on the path, as in bwrap).
    /// Returns the directory, opened, when it resolves. `missing`: the
    /// caller already found that `rel` does not exist.
    pub fn ensure_dir(
        &self,
        rel: &OsStr,
        mode: u32,
        missing: bool,
        fresh: Option<OwnedFd>,
    ) -> Result<Option<Dest>, Errno> {
        if let Some((dir, name)) = fresh_leaf(fresh, rel) {
            // The parent was just made: the directory goes straight in.
            Self::mkdir_in(&dir, name, mode)?;
            let fd = open_subdir(&dir, name)?;
            return Ok(Some(Dest::made(fd)));
        }
        if !missing {
            match self.lookup(rel, libc::O_DIRECTORY) {
                Ok(d) => return Ok(Some(d)),
                Err(Errno::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
        let (parent, name) = split(rel);
        if name.is_empty() {
            return Err(Errno::ENOENT);
        }
        self.in_dir(parent, |dir| Self::mkdir_in(dir, name, mode))?;
        Ok(self.lookup(rel, libc::O_DIRECTORY).ok())
    }

    /// bwrap's `ensure_file`: any existing non-directory will do as a mount
    /// point; otherwise create an empty file (a dangling symlink's target
    /// is created, inside the new root). Returns it, opened, when it
    /// resolves. `missing`: the caller already found that `rel` does not
    /// exist.
    pub fn ensure_file(
        &self,
        rel: &OsStr,
        mode: u32,
        missing: bool,
        fresh: Option<OwnedFd>,
    ) -> Result<Option<Dest>, Errno> {
        if let Some((dir, name)) = fresh_leaf(fresh, rel) {
            // The parent was just made: the file goes straight in.
            let fd = create_in(&dir, name, OFlag::O_EXCL, mode)?;
            return Ok(Some(Dest::made(fd)));
        }
        if !missing {
            if let Ok(d) = self.existing(rel, false) {
                return Ok(Some(d));
            }
        }
        match self.create_file(rel, mode) {
            Ok(fd) => Ok(Some(Dest::made(fd))),
            Err(Errno::EEXIST) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `creat()` inside the new root, or straight in `fresh`, the leaf's
    /// parent that mkdir_parents just made.
    pub fn create_file_in(
        &self,
        fresh: Option<OwnedFd>,
        rel: &OsStr,
        mode: u32,
    ) -> Result<OwnedFd, Errno> {
        match fresh_leaf(fresh, rel) {
            Some((dir, name)) => create_in(&dir, name, OFlag::O_TRUNC, mode),
            None => self.create_file(rel, mode),
        }
    }

    /// `creat()` inside the new root, never through a symlink at the end
    /// (bwrap 0.13.1: `--file` onto a symlink is ELOOP).
    pub fn create_file(&self, rel: &OsStr, mode: u32) -> Result<OwnedFd, Errno> {
        let flags =
            libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC | libc::O_NOCTTY | libc::O_NOFOLLOW;
        self.at(rel, flags, mode)
    }

    /// `symlink(target, rel)`; on EEXIST, the existing link's target.
    pub fn symlink(
        &self,
        target: &OsStr,
        rel: &OsStr,
        fresh: Option<OwnedFd>,
    ) -> Result<(), (Errno, Option<Result<OsString, Errno>>)> {
        let (parent, name) = split(rel);
        let make = |dir: &OwnedFd| match nix::unistd::symlinkat(target, dir, name) {
            Ok(()) => Ok(()),
            Err(Errno::EEXIST) => Err((Errno::EEXIST, Some(nix::fcntl::readlinkat(dir, name)))),
            Err(e) => Err((e, None)),
        };
        if let Some((dir, _)) = fresh_leaf(fresh, rel) {
            make(&dir)
        } else if parent.is_empty() {
            make(&self.dir.borrow())
        } else {
            make(&self.dir_at(parent).map_err(|e| (e, None))?)
        }
    }

    /// `lstat(rel)` inside the new root.
    pub fn lstat(&self, rel: &OsStr) -> Result<nix::sys::stat::FileStat, Errno> {
        fstat(&self.at(rel, libc::O_PATH | libc::O_NOFOLLOW, 0)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_relatives() {
        assert_eq!(relative(OsStr::new("//usr/bin")), "usr/bin");
        assert_eq!(relative(OsStr::new("/")), "");
        assert_eq!(split(OsStr::new("a/b/c")), (OsStr::new("a/b"), OsStr::new("c")));
        assert_eq!(split(OsStr::new("c")), (OsStr::new(""), OsStr::new("c")));
        assert_eq!(split(OsStr::new("a/b/")), (OsStr::new("a"), OsStr::new("b")));
        assert_eq!(NewRoot::path(OsStr::new("dev")), "/newroot/dev");
    }
}
