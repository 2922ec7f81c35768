//! Mount helpers: `mount_setattr(2)` and mountinfo parsing for the fallback.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use nix::errno::Errno;
use nix::mount::MsFlags;

pub const ATTR_RDONLY: u64 = 0x0000_0001;
pub const ATTR_NOSUID: u64 = 0x0000_0002;
pub const ATTR_NODEV: u64 = 0x0000_0004;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `mount_setattr(AT_FDCWD, path, [AT_RECURSIVE], {attr_set})`.
pub fn mount_setattr(path: &CStr, attr_set: u64, recursive: bool) -> Result<(), Errno> {
    setattr(libc::AT_FDCWD, path, attr_set, if recursive { libc::AT_RECURSIVE } else { 0 })
}

/// `mount_setattr(dir, name, AT_SYMLINK_NOFOLLOW [| AT_RECURSIVE],
/// {attr_set})`: the mount on top of `name` in `dir`, never through a
/// symlink.
pub fn mount_setattr_at(
    dir: std::os::fd::BorrowedFd<'_>,
    name: &CStr,
    attr_set: u64,
    recursive: bool,
) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    let flags = libc::AT_SYMLINK_NOFOLLOW | if recursive { libc::AT_RECURSIVE } else { 0 };
    setattr(dir.as_raw_fd(), name, attr_set, flags)
}

fn setattr(
    dirfd: libc::c_int,
    path: &CStr,
    attr_set: u64,
    flags: libc::c_int,
) -> Result<(), Errno> {
    let attr = MountAttr { attr_set, attr_clr: 0, propagation: 0, userns_fd: 0 };
    // SAFETY: path is a valid C string and attr a valid mount_attr whose size
    // we pass; both outlive the call. dirfd is AT_FDCWD or an fd the caller
    // holds open for the duration of the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            flags as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r != 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// One line of `/proc/self/mountinfo`, as far as we need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    pub id: u32,
    pub parent_id: u32,
    /// Mount point, unescaped.
    pub mount_point: OsString,
    /// Per-mount flags as `MsFlags` (ro, nosuid, nodev, noexec, atime bits).
    pub flags: MsFlags,
    pub fstype: OsString,
}

/// Undo mountinfo's octal escapes (`\040` for space, etc.).
fn unescape(field: &[u8]) -> OsString {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\' && i + 3 < field.len() {
            let oct = &field[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = (oct[0] - b'0') as u32 * 64
                    + (oct[1] - b'0') as u32 * 8
                    + (oct[2] - b'0') as u32;
                out.push(v as u8);
                i += 4;
                continue;
            }
        }
        out.push(field[i]);
        i += 1;
    }
    OsString::from_vec(out)
}

fn opts_to_flags(opts: &[u8]) -> MsFlags {
    let mut flags = MsFlags::empty();
    for opt in opts.split(|&c| c == b',') {
        flags |= match opt {
            b"ro" => MsFlags::MS_RDONLY,
            b"nosuid" => MsFlags::MS_NOSUID,
            b"nodev" => MsFlags::MS_NODEV,
            b"noexec" => MsFlags::MS_NOEXEC,
            b"noatime" => MsFlags::MS_NOATIME,
            b"nodiratime" => MsFlags::MS_NODIRATIME,
            b"relatime" => MsFlags::MS_RELATIME,
            b"strictatime" => MsFlags::MS_STRICTATIME,
            b"nosymfollow" => MsFlags::from_bits_truncate(libc::MS_NOSYMFOLLOW),
            _ => MsFlags::empty(),
        };
    }
    flags
}

/// Parse mountinfo text; `None` if a line does not parse (bwrap:
/// `Can't parse mountinfo line`).
pub fn parse_mountinfo(text: &[u8]) -> Option<Vec<MountInfo>> {
    let mut out = Vec::new();
    for line in text.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
        let fields: Vec<&[u8]> = line.split(|&c| c == b' ').collect();
        let sep = fields.iter().position(|f| *f == b"-")?;
        if fields.len() < 6 || sep + 1 >= fields.len() {
            return None;
        }
        let num = |f: &[u8]| std::str::from_utf8(f).ok().and_then(|s| s.parse().ok());
        out.push(MountInfo {
            id: num(fields[0])?,
            parent_id: num(fields[1])?,
            mount_point: unescape(fields[4]),
            flags: opts_to_flags(fields[5]),
            fstype: OsStr::from_bytes(fields[sep + 1]).to_owned(),
        });
    }
    Some(out)
}

/// Whether `path` is `root` or below it (component-wise).
pub fn is_at_or_below(path: &OsStr, root: &OsStr) -> bool {
    let (p, r) = (path.as_bytes(), root.as_bytes());
    let r = if r.len() > 1 { r.strip_suffix(b"/").unwrap_or(r) } else { r };
    if r == b"/" {
        return true;
    }
    p == r || (p.starts_with(r) && p.get(r.len()) == Some(&b'/'))
}

/// `mount(NULL, path, NULL, MS_REMOUNT|MS_BIND|flags, NULL)`.
pub fn remount_bind(path: &CStr, flags: MsFlags) -> Result<(), Errno> {
    nix::mount::mount(
        None::<&CStr>,
        path,
        None::<&CStr>,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_SILENT | flags,
        None::<&CStr>,
    )
}

/// A `CString` from an `OsStr` (paths never contain NUL: they come from argv
/// or NUL-separated `--args` data).
pub fn cstr(p: &OsStr) -> CString {
    CString::new(p.as_bytes()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_lines() {
        let text = b"22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n\
                     30 22 0:30 / /proc/a\\040b ro,nosuid - tmpfs none ro\n";
        let m = parse_mountinfo(text).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].mount_point, "/proc");
        assert!(m[0].flags.contains(MsFlags::MS_NOEXEC | MsFlags::MS_RELATIME));
        assert_eq!(m[1].mount_point, "/proc/a b");
        assert_eq!(m[1].parent_id, 22);
        assert!(m[1].flags.contains(MsFlags::MS_RDONLY));
        assert_eq!(m[1].fstype, "tmpfs");
        assert!(parse_mountinfo(b"garbage line\n").is_none());
    }

    #[test]
    fn below() {
        assert!(is_at_or_below(OsStr::new("/newroot/usr"), OsStr::new("/newroot/usr")));
        assert!(is_at_or_below(OsStr::new("/newroot/usr/lib"), OsStr::new("/newroot/usr/")));
        assert!(!is_at_or_below(OsStr::new("/newroot/usrx"), OsStr::new("/newroot/usr")));
        assert!(is_at_or_below(OsStr::new("/x"), OsStr::new("/")));
    }
}

/// Why a fresh procfs mount was refused, as far as the kernel tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcRefusal {
    /// The fs-context log said `VFS: Mount too revealing`.
    TooRevealing,
    /// The new mount API answered, but with another reason (or none).
    Other,
    /// The new mount API is unavailable here (ENOSYS, or refused by a
    /// seccomp policy): the caller must decide from mountinfo.
    Unknown,
}

/// Try to create a procfs with the new mount API (`fsopen` → `fsconfig`
/// CREATE → `fsmount`) and, if the kernel refuses, read the fs-context log
/// to learn why. Nothing is attached anywhere: a successful `fsmount`
/// returns a detached mount that is dropped at once.
pub fn probe_proc_refusal(subset_pid: bool) -> ProcRefusal {
    use std::os::fd::{FromRawFd, OwnedFd};
    // SAFETY: fsopen takes a C string literal and flags; it returns a new fd.
    let fs = unsafe {
        libc::syscall(libc::SYS_fsopen, c"proc".as_ptr(), 1u32 /* FSOPEN_CLOEXEC */)
    };
    if fs < 0 {
        return ProcRefusal::Unknown;
    }
    // SAFETY: the kernel just created this descriptor for us alone.
    let fs = unsafe { OwnedFd::from_raw_fd(fs as i32) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fs);
    if subset_pid {
        // SAFETY: FSCONFIG_SET_STRING (1) with valid C strings.
        let r = unsafe {
            libc::syscall(libc::SYS_fsconfig, raw, 1u32, c"subset".as_ptr(), c"pid".as_ptr(), 0)
        };
        if r < 0 {
            return ProcRefusal::Other;
        }
    }
    // SAFETY: FSCONFIG_CMD_CREATE (6) takes no key or value.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            raw,
            6u32,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    if r == 0 {
        // SAFETY: fsmount(fd, FSMOUNT_CLOEXEC, 0) on our fs-context fd.
        let m = unsafe { libc::syscall(libc::SYS_fsmount, raw, 1u32, 0u32) };
        if m >= 0 {
            // SAFETY: a new detached mount fd that nothing else owns.
            drop(unsafe { OwnedFd::from_raw_fd(m as i32) });
            return ProcRefusal::Other;
        }
    }
    // Drain the log: lines like "e VFS: Mount too revealing".
    let mut buf = [0u8; 512];
    loop {
        match nix::unistd::read(&fs, &mut buf) {
            Ok(n) if n > 0 => {
                if memchr::memmem::find(&buf[..n], b"Mount too revealing").is_some() {
                    return ProcRefusal::TooRevealing;
                }
            }
            Err(Errno::EINTR) => {}
            _ => return ProcRefusal::Other,
        }
    }
}
