//! Cross-option rules. (Stub; replaced by the parser work.)
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
}

pub fn validate(_config: &mut Config, _host: &HostFacts) -> Result<(), CliError> {
    Ok(())
}
