//! SELinux labels for `--exec-label` and `--file-label`, through the
//! kernel's own interfaces (selinuxfs and `/proc/thread-self/attr`), without
//! libselinux. The parser already refused labels where SELinux is not
//! enabled (`labeling not supported on this system`), as bwrap does.
//!
//! Exercised for real only on an SELinux-enabled machine (Fedora, RHEL);
//! these Debian VMs have no SELinux, so tests cover the pure parts.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::fcntl::{open, openat, OFlag};
use nix::sys::stat::Mode;

use crate::error::{setup_errno, SetupError, Step};

/// libselinux's `security_check_context`: the kernel validates a context
/// written to selinuxfs's `context` node.
pub fn check(label: &OsStr) -> Result<(), SetupError> {
    let invalid =
        |e| setup_errno(Step::Label, format!("invalid label {}", crate::report::show(label)), e);
    let fd = open("/sys/fs/selinux/context", OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(invalid)?;
    write_nul_terminated(&fd, label).map_err(invalid)
}

/// `setfscreatecon`: label files this thread creates from now on.
pub fn set_file_create(proc_fd: &OwnedFd, label: &OsStr) -> Result<(), SetupError> {
    write_attr(proc_fd, "thread-self/attr/fscreate", label)
        .map_err(|e| setup_errno(Step::Label, "--file-label setup failed", e))
}

/// `setexeccon`: the label COMMAND gets at `execve`.
pub fn set_exec(proc_fd: &OwnedFd, label: &OsStr, command: &OsStr) -> Result<(), SetupError> {
    write_attr(proc_fd, "thread-self/attr/exec", label).map_err(|e| {
        setup_errno(Step::Label, format!("label_exec {}", crate::report::show(command)), e)
    })
}

/// bwrap's `label_mount`: tmpfs mounts get `context="LABEL"`.
pub fn mount_option(options: &str, label: Option<&OsStr>) -> String {
    match label {
        Some(l) => format!("{options},context=\"{}\"", l.to_string_lossy()),
        None => options.to_owned(),
    }
}

fn write_attr(proc_fd: &OwnedFd, name: &str, label: &OsStr) -> Result<(), Errno> {
    let fd = openat(proc_fd, name, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty())?;
    write_nul_terminated(&fd, label)
}

fn write_nul_terminated(fd: &OwnedFd, label: &OsStr) -> Result<(), Errno> {
    let mut data = label.as_bytes().to_vec();
    data.push(0);
    nix::unistd::write(fd, &data).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_context_option() {
        assert_eq!(mount_option("mode=0755", None), "mode=0755");
        assert_eq!(
            mount_option(
                "mode=0755,size=4096",
                Some(OsStr::new("system_u:object_r:container_file_t:s0"))
            ),
            "mode=0755,size=4096,context=\"system_u:object_r:container_file_t:s0\""
        );
    }
}
