//! Landlock scopes (Linux 6.12, Landlock ABI 6) for `--scope-abstract-unix-sockets`
//! and `--scope-signals`: raw `landlock_create_ruleset` / `landlock_restrict_self`
//! syscalls (no libc wrappers exist).
//!
//! Only the `scoped` field of the ruleset is used: no filesystem or network
//! access rights are handled, so the domain restricts nothing but what the
//! scopes name (see DESIGN.md, "Landlock scopes").

use std::os::fd::{FromRawFd, OwnedFd};

use nix::errno::Errno;

/// `LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET`: connect/sendto only to abstract
/// unix sockets created inside the domain (or a nested one).
pub const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
/// `LANDLOCK_SCOPE_SIGNAL`: signal only processes inside the domain (or a
/// nested one).
pub const SCOPE_SIGNAL: u64 = 1 << 1;
/// The first ABI that knows both scopes.
pub const SCOPES_ABI: u32 = 6;

/// `LANDLOCK_CREATE_RULESET_VERSION`.
const CREATE_RULESET_VERSION: u32 = 1 << 0;

/// `struct landlock_ruleset_attr` as of ABI 6 (`scoped` added in 6.12,
/// `handled_access_net` in 6.7). The size passed tells the kernel which
/// fields we know.
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// The Landlock ABI version: `landlock_create_ruleset(NULL, 0, VERSION)`.
/// ENOSYS: the kernel has no Landlock (or a seccomp filter says so);
/// EOPNOTSUPP: Landlock is built in but disabled at boot.
pub fn abi_version() -> Result<u32, Errno> {
    // SAFETY: with the VERSION flag the kernel reads no memory (NULL
    // attribute, size 0) and returns an integer; integers only.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as u32)
    }
}

/// A Landlock ruleset that handles only the `scoped` bits given.
fn create_scoped_ruleset(scoped: u64) -> Result<OwnedFd, Errno> {
    let attr = RulesetAttr { handled_access_fs: 0, handled_access_net: 0, scoped };
    // SAFETY: `attr` is a live #[repr(C)] local with the kernel's layout of
    // `struct landlock_ruleset_attr` (three u64), its exact size is passed,
    // and the kernel only reads it during the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            std::mem::size_of::<RulesetAttr>(),
            0u32,
        )
    };
    if r < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this new descriptor (it is
    // O_CLOEXEC) to this call; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

/// Put the calling process (and every process it creates from now on) in a
/// new Landlock domain with the given scopes. The kernel requires
/// no_new_privs or CAP_SYS_ADMIN in the user namespace; nestwrap sets
/// no_new_privs at start, as bwrap does. Returns the syscall that failed.
pub fn restrict_self_scoped(scoped: u64) -> Result<(), (&'static str, Errno)> {
    use std::os::fd::AsRawFd;
    let ruleset = create_scoped_ruleset(scoped).map_err(|e| ("landlock_create_ruleset", e))?;
    // SAFETY: integers only: a borrowed descriptor, open for the call, and
    // no flags.
    let r = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0u32) };
    if r < 0 {
        return Err(("landlock_restrict_self", Errno::last()));
    }
    Ok(())
}
