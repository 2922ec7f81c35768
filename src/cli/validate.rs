//! Cross-option rules: bwrap's checks in `main()` after `parse_args`, in
//! bwrap's order and wording. Setuid-only checks are left out: nestwrap never
//! runs setuid (DECISIONS.md).
//!
//! After [`validate`], `unshare.user` and `unshare.cgroup` hold the decision
//! and `unshare.user_try` / `unshare.cgroup_try` are cleared.

use std::path::Path;

use crate::config::Config;
use crate::error::CliError;

/// Facts about the caller and the kernel that validation depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFacts {
    /// The real uid is 0.
    pub is_root: bool,
    /// `--unshare-user-try` would succeed.
    pub userns_available: bool,
    /// `/proc/self/ns/cgroup` exists.
    pub cgroupns_supported: bool,
    /// The caller's real uid (`--uid` equal to it needs no user namespace).
    pub real_uid: u32,
    /// The caller's real gid (`--gid` equal to it needs no user namespace).
    pub real_gid: u32,
}

impl HostFacts {
    /// Compute the facts the way bwrap does.
    pub fn probe() -> Self {
        let real_uid = nix::unistd::getuid().as_raw();
        let real_gid = nix::unistd::getgid().as_raw();
        HostFacts {
            is_root: real_uid == 0,
            userns_available: userns_available(),
            cgroupns_supported: Path::new("/proc/self/ns/cgroup").exists(),
            real_uid,
            real_gid,
        }
    }
}

/// bwrap's test for `--unshare-user-try`.
fn userns_available() -> bool {
    if !Path::new("/proc/self/ns/user").exists() {
        return false;
    }
    // RHEL 7's module parameter.
    if let Ok(enable) = std::fs::read("/sys/module/user_namespace/parameters/enable") {
        if enable.first() == Some(&b'N') {
            return false;
        }
    }
    if let Ok(max) = std::fs::read("/proc/sys/user/max_user_namespaces") {
        if max == b"0\n" {
            return false;
        }
    }
    true
}

/// The checks bwrap makes before it implies `--unshare-user`. They also run
/// when there is no COMMAND (bwrap prints its usage only after them).
pub(crate) fn check_before_userns(cfg: &Config) -> Result<(), CliError> {
    let u = &cfg.unshare;
    let fail = |m: &str| Err(CliError::msg(m));
    if cfg.userns_block_fd.is_some() && !u.user {
        return fail("--userns-block-fd requires --unshare-user");
    }
    if cfg.userns_block_fd.is_some() && cfg.info_fd.is_none() {
        return fail("--userns-block-fd requires --info-fd");
    }
    if cfg.userns_fd.is_some() && u.user {
        return fail("--userns not compatible --unshare-user");
    }
    if cfg.userns_fd.is_some() && u.user_try {
        return fail("--userns not compatible --unshare-user-try");
    }
    if cfg.disable_userns && !u.user {
        return fail("--disable-userns requires --unshare-user");
    }
    if cfg.disable_userns && cfg.userns_block_fd.is_some() {
        return fail("--disable-userns is not compatible with  --userns-block-fd");
    }
    Ok(())
}

/// Apply bwrap's post-parse rules to `cfg`, resolving the implicit and `-try`
/// namespaces. `CliError::Usage` if there is no COMMAND (at the point where
/// bwrap notices it).
pub fn validate(cfg: &mut Config, host: &HostFacts) -> Result<(), CliError> {
    check_before_userns(cfg)?;

    // Not setuid and not root: a user namespace is the only way.
    if !host.is_root && cfg.userns_fd.is_none() {
        cfg.unshare.user = true;
    }
    if cfg.unshare.user_try && host.userns_available {
        cfg.unshare.user = true;
    }
    cfg.unshare.user_try = false;

    if cfg.command.is_empty() {
        return Err(CliError::Usage);
    }

    let userns = cfg.unshare.user || cfg.userns_fd.is_some();
    if !userns && cfg.uid.is_some_and(|uid| uid != host.real_uid) {
        return Err(CliError::msg("Specifying --uid requires --unshare-user or --userns"));
    }
    if !userns && cfg.gid.is_some_and(|gid| gid != host.real_gid) {
        return Err(CliError::msg("Specifying --gid requires --unshare-user or --userns"));
    }
    if !cfg.unshare.uts && cfg.hostname.is_some() {
        return Err(CliError::msg("Specifying --hostname requires --unshare-uts"));
    }
    if cfg.as_pid_1 && !cfg.unshare.pid {
        return Err(CliError::msg("Specifying --as-pid-1 requires --unshare-pid"));
    }
    if cfg.as_pid_1 && !cfg.lock_files.is_empty() {
        return Err(CliError::msg("Specifying --as-pid-1 and --lock-file is not permitted"));
    }

    if cfg.unshare.cgroup && !host.cgroupns_supported {
        return Err(CliError::msg(
            "Cannot create new cgroup namespace because the kernel does not support it",
        ));
    }
    if cfg.unshare.cgroup_try {
        cfg.unshare.cgroup = host.cgroupns_supported;
        cfg.unshare.cgroup_try = false;
    }
    Ok(())
}
