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
//! fall back to bwrap 0.11's path-based behaviour. Called from the child.

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
    /// `/newroot`, reopened after each op: an op may mount on top of the
    /// root itself (`--ro-bind / /`), and lookups from an older fd would
    /// see the directory underneath.
    dir: std::cell::RefCell<OwnedFd>,
    /// `openat2` works here; otherwise plain paths under `/newroot`.
    in_root: bool,
}

/// A resolved mount target: the path to hand to mount(2) (a magic link to
/// the resolved object) and the fd that keeps that link valid.
pub struct Target {
    _fd: Option<OwnedFd>,
    pub path: OsString,
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
    /// Open `/newroot` (after the first pivot) and check `openat2` works.
    pub fn open() -> Result<NewRoot, Errno> {
        let dir = Self::open_dir()?;
        let probe = sys::openat2(&dir, c".", libc::O_PATH, 0, sys::RESOLVE_IN_ROOT_NO_MAGIC);
        Ok(NewRoot { in_root: probe.is_ok(), dir: std::cell::RefCell::new(dir) })
    }

    fn open_dir() -> Result<OwnedFd, Errno> {
        open("/newroot", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
    }

    /// Pick up whatever is now mounted on `/newroot` itself.
    pub fn refresh(&self) -> Result<(), Errno> {
        *self.dir.borrow_mut() = Self::open_dir()?;
        Ok(())
    }

    /// The path the fallback (and bwrap's messages) use: `/newroot/REL`.
    pub fn path(rel: &OsStr) -> OsString {
        let mut p = b"/newroot/".to_vec();
        p.extend_from_slice(rel.as_bytes());
        OsString::from_vec(p)
    }

    /// Open `rel` inside the new root.
    fn at(&self, rel: &OsStr, flags: libc::c_int, mode: u32) -> Result<OwnedFd, Errno> {
        if self.in_root {
            sys::openat2(
                &self.dir.borrow(),
                &cpath(rel),
                flags,
                mode,
                sys::RESOLVE_IN_ROOT_NO_MAGIC,
            )
        } else {
            let f = OFlag::from_bits_truncate(flags) | OFlag::O_CLOEXEC;
            open(Self::path(rel).as_os_str(), f, Mode::from_bits_truncate(mode))
        }
    }

    fn dir_at(&self, rel: &OsStr) -> Result<OwnedFd, Errno> {
        self.at(rel, libc::O_PATH | libc::O_DIRECTORY, 0)
    }

    /// The mount target for `rel` (which must exist).
    pub fn target(&self, rel: &OsStr) -> Result<Target, Errno> {
        if !self.in_root {
            return Ok(Target { _fd: None, path: Self::path(rel) });
        }
        let fd = self.at(rel, libc::O_PATH, 0)?;
        let path = OsString::from(format!("{PROC_FD_DIR}{}", fd.as_raw_fd()));
        Ok(Target { _fd: Some(fd), path })
    }

    /// A mount target under an already resolved target (`--dev`'s nodes,
    /// `--proc`'s covers): inside a mount nestwrap just made, by name.
    pub fn sub(target: &Target, name: &str) -> OsString {
        let mut p = target.path.as_bytes().to_vec();
        p.push(b'/');
        p.extend_from_slice(name.as_bytes());
        OsString::from_vec(p)
    }

    /// mkdir in the parent `dir` (an O_PATH fd), accepting EEXIST.
    fn mkdir_in(dir: &OwnedFd, name: &OsStr, mode: u32) -> Result<(), Errno> {
        match nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(mode)) {
            Ok(()) | Err(Errno::EEXIST) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// bwrap's `mkdir_with_parents(dest, mode, false)`: create the missing
    /// parents of `rel`; existing ones must be directories.
    pub fn mkdir_parents(&self, rel: &OsStr, mode: u32) -> Result<(), Errno> {
        /// The directory the next component is created in.
        enum Parent {
            Root,
            Dir(OwnedFd),
            /// Exists but does not resolve (a dangling symlink): bwrap
            /// accepts its EEXIST and moves on; the next component then
            /// fails with ENOENT.
            Dangling,
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
            let prefix = OsStr::from_bytes(&b[..end]);
            parent = match self.dir_at(prefix) {
                Ok(fd) => Parent::Dir(fd),
                Err(Errno::ENOENT) => {
                    match &parent {
                        Parent::Root => Self::mkdir_in(&self.dir.borrow(), name, mode)?,
                        Parent::Dir(fd) => Self::mkdir_in(fd, name, mode)?,
                        Parent::Dangling => return Err(Errno::ENOENT),
                    }
                    match self.dir_at(prefix) {
                        Ok(fd) => Parent::Dir(fd),
                        Err(Errno::ENOENT) => Parent::Dangling,
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            };
        }
        Ok(())
    }

    /// bwrap's `ensure_dir`: an existing directory is fine, a non-directory
    /// is ENOTDIR, otherwise mkdir (EEXIST, e.g. a dangling symlink, counts
    /// as done and the op that follows fails on the path, as in bwrap).
    pub fn ensure_dir(&self, rel: &OsStr, mode: u32) -> Result<(), Errno> {
        match self.dir_at(rel) {
            Ok(_) => Ok(()),
            Err(Errno::ENOENT) => {
                let (parent, name) = split(rel);
                if name.is_empty() {
                    return Err(Errno::ENOENT);
                }
                Self::mkdir_in(&self.dir_at(parent)?, name, mode)
            }
            Err(e) => Err(e),
        }
    }

    /// bwrap's `ensure_file`: any existing non-directory will do as a mount
    /// point; otherwise create an empty file (a dangling symlink's target
    /// is created, inside the new root).
    pub fn ensure_file(&self, rel: &OsStr, mode: u32) -> Result<(), Errno> {
        if let Ok(fd) = self.at(rel, libc::O_PATH, 0) {
            if !is_dir(&fd) {
                return Ok(());
            }
        }
        match self.create_file(rel, mode) {
            Ok(_) | Err(Errno::EEXIST) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `creat()` inside the new root.
    pub fn create_file(&self, rel: &OsStr, mode: u32) -> Result<OwnedFd, Errno> {
        self.at(rel, libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC | libc::O_NOCTTY, mode)
    }

    /// `symlink(target, rel)`; on EEXIST, the existing link's target.
    pub fn symlink(
        &self,
        target: &OsStr,
        rel: &OsStr,
    ) -> Result<(), (Errno, Option<Result<OsString, Errno>>)> {
        let (parent, name) = split(rel);
        let dir = self.dir_at(parent).map_err(|e| (e, None))?;
        match nix::unistd::symlinkat(target, &dir, name) {
            Ok(()) => Ok(()),
            Err(Errno::EEXIST) => Err((Errno::EEXIST, Some(nix::fcntl::readlinkat(&dir, name)))),
            Err(e) => Err((e, None)),
        }
    }

    /// `chmod(rel, mode)`, following symlinks inside the new root.
    pub fn chmod(&self, proc_fd: &OwnedFd, rel: &OsStr, mode: u32) -> Result<(), Errno> {
        let mode = Mode::from_bits_truncate(mode);
        if !self.in_root {
            return nix::sys::stat::fchmodat(
                nix::fcntl::AT_FDCWD,
                Self::path(rel).as_os_str(),
                mode,
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            );
        }
        let fd = self.at(rel, libc::O_PATH, 0)?;
        nix::sys::stat::fchmodat(
            proc_fd,
            format!("self/fd/{}", fd.as_raw_fd()).as_str(),
            mode,
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
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
