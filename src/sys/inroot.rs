//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` in userspace, for
//! where the kernel has no `openat2` (before 5.6, e.g. RHEL 8's 4.18) or a
//! seccomp profile refuses it (ENOSYS, EPERM). bwrap 0.13.1 stops there;
//! plain path lookups through the setup root would follow a planted
//! `/app/x -> /oldroot/...` onto the host, so nestwrap resolves the path
//! itself, as strictly as the kernel would:
//!
//! - one component at a time, each opened `O_PATH | O_NOFOLLOW` relative to
//!   the directory reached so far (never a path string through `/`);
//! - a symlink is read (`readlinkat` on the link's own `O_PATH` fd) and its
//!   text resolved against the root: absolute targets restart at the root
//!   fd, relative ones continue from the link's directory;
//! - `..` at the root stays at the root; elsewhere it reopens the parent and
//!   checks its (st_dev, st_ino) against the directory it came from (a
//!   rename racing the walk gives EAGAIN, as the kernel's `..` check does);
//! - any symlink on a procfs mount is refused with ELOOP: every magic link
//!   (`/proc/*/root`, `cwd`, `exe`, `fd/*`, `map_files/*`, `ns/*`) lives
//!   there (stricter than `RESOLVE_NO_MAGICLINKS`, which still follows
//!   plain procfs links such as `/proc/self`);
//! - at most 40 symlinks (ELOOP), as the kernel;
//! - the open flags keep their meaning for the last component (`O_NOFOLLOW`,
//!   `O_CREAT`, `O_EXCL`, `O_DIRECTORY`, a trailing slash), and
//!   `RESOLVE_NO_SYMLINKS` refuses every symlink with ELOOP.
//!
//! Files and directories are then made relative to the fds this returns
//! (mkdirat, symlinkat, mknodat in the resolved parent), exactly as after
//! the kernel's openat2. No `unsafe` here: only nix's safe wrappers.

use std::collections::VecDeque;
use std::ffi::CStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, OFlag};
use nix::sys::stat::{fstat, Mode, SFlag};

/// The kernel's limit on symlinks followed in one lookup (MAXSYMLINKS).
pub const MAX_SYMLINKS: u32 = 40;

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// (st_dev, st_ino): which directory an fd is.
type Id = (libc::dev_t, libc::ino_t);

fn id_of(st: &nix::sys::stat::FileStat) -> Id {
    (st.st_dev, st.st_ino)
}

fn is_symlink(st: &nix::sys::stat::FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK
}

/// Whether `fd` (a symlink or the directory holding one) is on procfs,
/// where the magic links live.
fn on_procfs(fd: &OwnedFd) -> Result<bool, Errno> {
    Ok(nix::sys::statfs::fstatfs(fd)?.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
}

/// One lookup in progress.
struct Walk<'a> {
    root: &'a OwnedFd,
    /// The directory reached so far (a dup of the root at the start).
    cur: OwnedFd,
    cur_id: Id,
    /// The ids of the directories above `cur`, from the root down: empty
    /// when `cur` is the root.
    above: Vec<Id>,
    /// Components still to resolve, next first.
    todo: VecDeque<Vec<u8>>,
    links: u32,
    no_symlinks: bool,
}

/// Split `path` into components; a trailing slash becomes a final `.` (the
/// last name must then be a directory, and a symlink there is followed).
fn components(path: &[u8]) -> VecDeque<Vec<u8>> {
    let mut v: VecDeque<Vec<u8>> =
        path.split(|&b| b == b'/').filter(|c| !c.is_empty()).map(<[u8]>::to_vec).collect();
    if path.ends_with(b"/") && !v.is_empty() {
        v.push_back(b".".to_vec());
    }
    v
}

fn path_flags() -> OFlag {
    OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

impl<'a> Walk<'a> {
    fn new(root: &'a OwnedFd, path: &[u8], resolve: u64) -> Result<Walk<'a>, Errno> {
        let (cur, cur_id) = Self::open_root(root)?;
        Ok(Walk {
            root,
            cur,
            cur_id,
            above: Vec::new(),
            todo: components(path),
            links: 0,
            no_symlinks: resolve & RESOLVE_NO_SYMLINKS != 0,
        })
    }

    fn open_root(root: &OwnedFd) -> Result<(OwnedFd, Id), Errno> {
        let fd = openat(root, ".", path_flags() | OFlag::O_DIRECTORY, Mode::empty())?;
        let id = id_of(&fstat(&fd)?);
        Ok((fd, id))
    }

    /// Back at the root (an absolute symlink target).
    fn restart_at_root(&mut self) -> Result<(), Errno> {
        self.above.clear();
        (self.cur, self.cur_id) = Self::open_root(self.root)?;
        Ok(())
    }

    /// `..`: stays at the root; elsewhere the parent, which must be the
    /// directory the walk came down from.
    fn up(&mut self) -> Result<(), Errno> {
        let Some(&want) = self.above.last() else {
            return Ok(());
        };
        let parent = openat(&self.cur, "..", path_flags() | OFlag::O_DIRECTORY, Mode::empty())?;
        let id = id_of(&fstat(&parent)?);
        if id != want {
            // `cur` was moved while we looked: its parent is not ours.
            return Err(Errno::EAGAIN);
        }
        self.above.pop();
        self.cur = parent;
        self.cur_id = id;
        Ok(())
    }

    /// Follow the symlink whose text is `target` (found in `cur`; `link` is
    /// the link's own fd when we have it): refused on procfs, counted, then
    /// its components go in front of what is left.
    fn follow(&mut self, link: Option<&OwnedFd>, target: &[u8]) -> Result<(), Errno> {
        if self.no_symlinks {
            return Err(Errno::ELOOP);
        }
        if on_procfs(link.unwrap_or(&self.cur))? {
            return Err(Errno::ELOOP);
        }
        self.links += 1;
        if self.links > MAX_SYMLINKS {
            return Err(Errno::ELOOP);
        }
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        let mut next = components(target);
        next.extend(self.todo.drain(..));
        self.todo = next;
        if target.starts_with(b"/") {
            self.restart_at_root()?;
        }
        Ok(())
    }

    /// Descend into `name`, an intermediate component (or expand it if it
    /// is a symlink).
    fn step(&mut self, name: &[u8]) -> Result<(), Errno> {
        let fd = openat(&self.cur, name, path_flags(), Mode::empty())?;
        let st = fstat(&fd)?;
        if is_symlink(&st) {
            let target = readlinkat(&fd, "")?;
            return self.follow(Some(&fd), target.as_bytes());
        }
        self.above.push(self.cur_id);
        self.cur = fd;
        self.cur_id = id_of(&st);
        Ok(())
    }

    /// The last component is `.` (or `..`, already applied, or the root):
    /// open the directory reached with the caller's flags.
    fn open_here(&self, flags: OFlag) -> Result<OwnedFd, Errno> {
        if flags.contains(OFlag::O_CREAT | OFlag::O_EXCL) {
            return Err(Errno::EEXIST);
        }
        if flags.contains(OFlag::O_CREAT) {
            return Err(Errno::EISDIR);
        }
        openat(&self.cur, ".", flags | OFlag::O_CLOEXEC, Mode::empty())
    }

    /// Open the last component `name` with the caller's flags. `Ok(None)`:
    /// it was a symlink to follow, whose target is now in `todo`.
    fn open_last(
        &mut self,
        name: &[u8],
        flags: OFlag,
        mode: Mode,
    ) -> Result<Option<OwnedFd>, Errno> {
        let follow =
            !flags.contains(OFlag::O_NOFOLLOW) && !flags.contains(OFlag::O_CREAT | OFlag::O_EXCL);
        let r = openat(&self.cur, name, flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, mode);
        match r {
            Ok(fd) => {
                // Only O_PATH opens a symlink itself under O_NOFOLLOW.
                if follow && flags.contains(OFlag::O_PATH) && is_symlink(&fstat(&fd)?) {
                    let target = readlinkat(&fd, "")?;
                    self.follow(Some(&fd), target.as_bytes())?;
                    return Ok(None);
                }
                Ok(Some(fd))
            }
            Err(Errno::ENOENT) => Err(Errno::ENOENT),
            Err(e) => {
                // ELOOP (or ENOTDIR with O_DIRECTORY, EEXIST with O_EXCL):
                // a symlink there? Read it through its own fd.
                let Ok(link) = openat(&self.cur, name, path_flags(), Mode::empty()) else {
                    return Err(e);
                };
                if !follow || !is_symlink(&fstat(&link)?) {
                    return Err(e);
                }
                let target = readlinkat(&link, "")?;
                self.follow(Some(&link), target.as_bytes())?;
                Ok(None)
            }
        }
    }

    fn run(&mut self, flags: OFlag, mode: Mode) -> Result<OwnedFd, Errno> {
        if self.todo.is_empty() {
            // The path was only slashes: the root itself.
            return self.open_here(flags);
        }
        while let Some(c) = self.todo.pop_front() {
            let last = self.todo.is_empty();
            match c.as_slice() {
                b"." => {}
                b".." => self.up()?,
                name if !last => self.step(name)?,
                name => {
                    if let Some(fd) = self.open_last(name, flags, mode)? {
                        return Ok(fd);
                    }
                    continue;
                }
            }
            if last {
                return self.open_here(flags);
            }
        }
        // A symlink's target ended the walk at a `.`/`..` (handled above)
        // or was only slashes: the directory reached.
        self.open_here(flags)
    }
}

/// `openat2(root, path, {flags, mode, resolve})` for `resolve` made of
/// `RESOLVE_IN_ROOT` (required), `RESOLVE_NO_MAGICLINKS` (always applied)
/// and `RESOLVE_NO_SYMLINKS`; other bits are EINVAL, as for an unknown flag.
/// `root` must be a directory fd (`O_PATH` will do). May return EAGAIN when
/// a rename raced a `..`; the caller retries, as for the kernel's EAGAIN.
pub fn open_in_root(
    root: &OwnedFd,
    path: &CStr,
    flags: libc::c_int,
    mode: u32,
    resolve: u64,
) -> Result<OwnedFd, Errno> {
    let known = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;
    if resolve & !known != 0 || resolve & RESOLVE_IN_ROOT == 0 {
        return Err(Errno::EINVAL);
    }
    let flags = OFlag::from_bits_retain(flags);
    // openat2's own checks: a mode only with O_CREAT (or O_TMPFILE, which
    // no caller uses), never O_CREAT with O_DIRECTORY.
    if mode & !0o7777 != 0
        || (mode != 0 && !flags.contains(OFlag::O_CREAT))
        || flags.contains(OFlag::O_CREAT | OFlag::O_DIRECTORY)
    {
        return Err(Errno::EINVAL);
    }
    let path = path.to_bytes();
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if flags.contains(OFlag::O_CREAT) && path.ends_with(b"/") {
        // The kernel's answer to creating "name/".
        return Err(Errno::EISDIR);
    }
    Walk::new(root, path, resolve)?.run(flags, Mode::from_bits_truncate(mode))
}

#[cfg(test)]
mod tests {
    //! Differential: the emulation against the kernel's openat2 on a tree of
    //! hostile symlinks (plain files and directories only, no namespaces).
    use super::*;
    use std::ffi::CString;
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    struct Tree(PathBuf);
    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// root/ and, beside it, outside/ (what an escape would reach).
    fn tree(tag: &str) -> (Tree, OwnedFd) {
        let base =
            std::env::temp_dir().join(format!("nestwrap-inroot-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        let outside = base.join("outside");
        for d in ["a/b/c", "d"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::create_dir_all(outside.join("secret")).unwrap();
        std::fs::write(outside.join("file"), "host").unwrap();
        std::fs::write(root.join("a/f"), "in").unwrap();
        let o = outside.to_str().unwrap();
        let links: &[(&str, String)] = &[
            ("abs", o.to_string()),
            ("abs_file", format!("{o}/file")),
            ("rel", "../outside".into()),
            ("a/b/rel_up", "../../../../../outside/file".into()),
            ("a/sib", "b/c".into()),
            ("a/to_root", "/".into()),
            ("a/to_a", "/a".into()),
            ("a/dangling", "/d/newfile".into()),
            ("a/dangling_abs_out", format!("{o}/created")),
            ("loop1", "loop2".into()),
            ("loop2", "loop1".into()),
            ("proc_root", "/proc/self/root".into()),
            ("self_proc_root", format!("/proc/self/root{o}")),
            ("dirslash", "a/b/".into()),
        ];
        for (l, t) in links {
            symlink(t, root.join(l)).unwrap();
        }
        let fd = nix::fcntl::open(
            &root,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        (Tree(base), fd)
    }

    /// The (dev, ino) an fd names, or the errno.
    fn what(r: Result<OwnedFd, Errno>) -> Result<Id, Errno> {
        r.map(|fd| id_of(&fstat(&fd).unwrap()))
    }

    fn kernel_has_openat2(root: &OwnedFd) -> bool {
        super::super::openat2_syscall(root, c".", libc::O_PATH, 0, RESOLVE_IN_ROOT).is_ok()
    }

    const PATHS: &[&str] = &[
        "a",
        "a/",
        "a/b/c",
        "a/b/c/",
        "a/f",
        "a/f/",
        "abs",
        "abs/secret",
        "abs_file",
        "rel",
        "rel/secret",
        "a/b/rel_up",
        "a/sib",
        "a/sib/..",
        "a/to_root",
        "a/to_root/a/f",
        "a/to_a/f",
        "..",
        "../..",
        "../../outside",
        "a/../../..",
        "a/b/../../a/f",
        "loop1",
        "proc_root",
        "proc_root/a",
        "self_proc_root",
        "dirslash",
        "dirslash/c",
        "nonexistent",
        "a/nonexistent/x",
        "/a/b",
        "//a//b//",
        ".",
        "./a/./b/.",
        "a/dangling",
    ];

    #[test]
    fn matches_the_kernel_on_lookups() {
        let (_t, root) = tree("lookup");
        if !kernel_has_openat2(&root) {
            eprintln!("SKIP: no openat2 here to compare with");
            return;
        }
        let flag_sets = [
            libc::O_PATH,
            libc::O_PATH | libc::O_NOFOLLOW,
            libc::O_PATH | libc::O_DIRECTORY,
            libc::O_RDONLY,
            libc::O_RDONLY | libc::O_NOFOLLOW,
        ];
        let resolves = [
            RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
            RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS,
        ];
        for p in PATHS {
            let c = CString::new(*p).unwrap();
            for &flags in &flag_sets {
                for &resolve in &resolves {
                    let k = what(super::super::openat2_syscall(&root, &c, flags, 0, resolve));
                    let e = what(open_in_root(&root, &c, flags, 0, resolve));
                    // Stricter on procfs links (ELOOP where the kernel
                    // follows /proc/self); the tree has no /proc, so equal.
                    assert_eq!(e, k, "path {p:?} flags {flags:#o} resolve {resolve:#x}");
                }
            }
        }
    }

    /// O_CREAT (with and without O_EXCL / O_NOFOLLOW) through the same
    /// links: same errno as the kernel, and the same files made, in two
    /// identical trees.
    #[test]
    fn creates_like_the_kernel() {
        let (tk, rk) = tree("create-k");
        let (te, re) = tree("create-e");
        if !kernel_has_openat2(&rk) {
            eprintln!("SKIP: no openat2 here to compare with");
            return;
        }
        let r = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
        let paths = [
            "abs/new",
            "rel/new",
            "a/dangling",
            "a/dangling_abs_out",
            "proc_root/x",
            "abs_file",
            "a/b/rel_up",
            "a/f",
            "a/new",
            "a/to_a/g",
            "a",
            "a/",
            "new/",
            "..",
            "a/sib/h",
        ];
        for p in paths {
            let c = CString::new(p).unwrap();
            for extra in [0, libc::O_EXCL, libc::O_NOFOLLOW] {
                let flags = libc::O_CREAT | libc::O_WRONLY | extra;
                let k = super::super::openat2_syscall(&rk, &c, flags, 0o644, r).map(drop);
                let e = open_in_root(&re, &c, flags, 0o644, r).map(drop);
                assert_eq!(e, k, "path {p:?} flags {flags:#o}");
            }
        }
        let list = |base: &PathBuf| {
            let o = std::process::Command::new("find").arg(".").current_dir(base).output();
            let mut v: Vec<String> =
                String::from_utf8(o.unwrap().stdout).unwrap().lines().map(String::from).collect();
            v.sort();
            v
        };
        assert_eq!(list(&te.0), list(&tk.0));
    }

    #[test]
    fn creates_inside_the_root_only() {
        let (t, root) = tree("create");
        let outside = t.0.join("outside");
        for p in [
            "abs/new",
            "rel/new",
            "a/dangling_abs_out",
            "a/dangling",
            "proc_root/x",
            "abs_file",
            "a/b/rel_up",
        ] {
            let c = CString::new(p).unwrap();
            let flags = libc::O_CREAT | libc::O_WRONLY;
            let _ = open_in_root(&root, &c, flags, 0o644, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
        }
        // Nothing new outside; the host file keeps its content.
        let mut names: Vec<_> =
            std::fs::read_dir(&outside).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["file", "secret"]);
        assert_eq!(std::fs::read_to_string(outside.join("file")).unwrap(), "host");
        // The dangling link's target was made inside the root.
        assert!(t.0.join("root/d/newfile").exists());
    }

    #[test]
    fn refuses_magic_links_and_loops() {
        let (_t, root) = tree("magic");
        let r = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
        assert_eq!(what(open_in_root(&root, c"loop1", libc::O_PATH, 0, r)), Err(Errno::ELOOP));
        // A root that is itself /proc: /proc/self/root is a magic link.
        let proc = nix::fcntl::open(
            "/proc",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        for p in [c"self/root", c"self/cwd/etc", c"self/fd/0", c"thread-self"] {
            assert_eq!(
                what(open_in_root(&proc, p, libc::O_PATH, 0, r)),
                Err(Errno::ELOOP),
                "{p:?}"
            );
        }
        // The link itself, not followed, is fine (as openat2 allows).
        assert!(open_in_root(&proc, c"self", libc::O_PATH | libc::O_NOFOLLOW, 0, r).is_ok());
        assert_eq!(what(open_in_root(&root, c"a", libc::O_PATH, 0, 0x01 | r)), Err(Errno::EINVAL));
    }

    #[test]
    fn at_most_forty_symlinks() {
        let (t, root) = tree("forty");
        let dir = t.0.join("root");
        // chainN -> chainN-1 -> ... -> chain0 -> a
        symlink("a", dir.join("chain0")).unwrap();
        for i in 1..=41 {
            symlink(format!("chain{}", i - 1), dir.join(format!("chain{i}"))).unwrap();
        }
        let r = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
        assert!(open_in_root(&root, c"chain39", libc::O_PATH, 0, r).is_ok());
        assert_eq!(what(open_in_root(&root, c"chain40", libc::O_PATH, 0, r)), Err(Errno::ELOOP));
        if kernel_has_openat2(&root) {
            for p in [c"chain39", c"chain40"] {
                let k = what(super::super::openat2_syscall(&root, p, libc::O_PATH, 0, r));
                assert_eq!(what(open_in_root(&root, p, libc::O_PATH, 0, r)), k, "{p:?}");
            }
        }
    }
}
