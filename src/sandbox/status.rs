//! `--info-fd` and `--json-status-fd` output, byte for byte as bwrap writes
//! it, plus nestwrap's extra `command-pid` line (DECISIONS.md: extra JSON).

use std::os::fd::OwnedFd;

use nix::unistd::Pid;

use super::prepare::Plan;
use crate::fallback::Fallbacks;
use crate::json::json_escape;
use crate::sys;

/// The namespaces bwrap reports, in bwrap's fixed order, with whether this
/// sandbox created each and the `PIDFD_GET_*_NAMESPACE` ioctl number.
fn wanted(plan: &Plan) -> [(&'static str, bool, u8); 6] {
    let u = plan.config.unshare;
    [
        ("cgroup", u.cgroup, 1),
        ("ipc", u.ipc, 2),
        ("mnt", true, 3),
        ("net", u.net, 4),
        ("pid", u.pid, 5),
        ("uts", u.uts, 10),
    ]
}

/// Inode numbers of the child's namespaces. Uses a pidfd (never a pid
/// lookup in /proc, which may show another pid namespace's processes);
/// falls back to `/proc/<pid>/ns/*` on kernels without the ioctls.
pub fn namespace_ids(plan: &Plan, child: Pid) -> Vec<(&'static str, u64)> {
    let pidfd = sys::pidfd_open(child).ok();
    let mut out = Vec::new();
    for (name, used, nr) in wanted(plan) {
        if !used {
            continue;
        }
        let via_pidfd = pidfd
            .as_ref()
            .and_then(|p| sys::pidfd_namespace(p, nr).ok())
            .and_then(|ns| nix::sys::stat::fstat(&ns).ok())
            .map(|st| st.st_ino);
        let ino = via_pidfd.or_else(|| {
            nix::sys::stat::fstatat(
                &plan.proc_fd,
                format!("{}/ns/{}", child.as_raw(), name).as_str(),
                nix::fcntl::AtFlags::empty(),
            )
            .ok()
            .map(|st| st.st_ino)
        });
        if let Some(ino) = ino {
            out.push((name, ino));
        }
    }
    out
}

/// The `--info-fd` document.
pub fn info_json(child: Pid, ids: &[(&str, u64)]) -> String {
    let mut s = format!("{{\n    \"child-pid\": {}", child.as_raw());
    for (name, ino) in ids {
        s.push_str(&format!(",\n    \"{name}-namespace\": {ino}"));
    }
    s.push_str("\n}\n");
    s
}

/// The first `--json-status-fd` line.
pub fn status_first_line(child: Pid, ids: &[(&str, u64)]) -> String {
    let mut s = format!("{{ \"child-pid\": {}", child.as_raw());
    for (name, ino) in ids {
        s.push_str(&format!(", \"{name}-namespace\": {ino}"));
    }
    s.push_str(" }\n");
    s
}

/// nestwrap's extra line, written just before COMMAND is executed, with
/// the fallbacks the sandbox needed (`"proc": "parent-bind"`, ...) and the
/// Landlock scopes it entered (a list).
pub fn command_pid_line(pid: i32, fallbacks: &Fallbacks) -> String {
    let mut s = format!("{{ \"command-pid\": {pid}");
    for member in fallbacks.json_members() {
        s.push_str(", ");
        s.push_str(&member);
    }
    s.push_str(" }\n");
    s
}

/// Message kinds on the COMMAND → monitor socket.
pub const MSG_EXEC: u8 = b'X';
pub const MSG_ERROR: u8 = b'E';

/// "About to exec", with the fallbacks used ([`Fallbacks::encode`]).
pub fn exec_message(fallbacks: &[u8]) -> Vec<u8> {
    let mut m = vec![MSG_EXEC];
    m.extend_from_slice(fallbacks);
    m
}

/// A setup (or exec) failure: step, path, errno, message, NUL-separated.
pub fn error_message(err: &crate::error::SetupError) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let mut m = vec![MSG_ERROR];
    m.extend_from_slice(err.step.as_str().as_bytes());
    m.push(0);
    if let Some(p) = &err.path {
        m.extend_from_slice(p.as_bytes());
    }
    m.push(0);
    if let Some(e) = err.errno() {
        m.extend_from_slice((e as i32).to_string().as_bytes());
    }
    m.push(0);
    m.extend_from_slice(err.to_string().as_bytes());
    m.truncate(1000);
    m
}

/// The `error` line written instead of `exit-code` when setup failed.
pub fn error_line(payload: &[u8]) -> String {
    let mut parts = payload.split(|&c| c == 0);
    let mut field = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (step, path, errno, message) = (field(), field(), field(), field());
    let quoted = |s: &str| format!("\"{}\"", json_escape(s));
    let path = if path.is_empty() { "null".to_owned() } else { quoted(&path) };
    let errno = if errno.is_empty() { "null".to_owned() } else { errno };
    format!(
        "{{ \"error\": {{ \"step\": {}, \"path\": {path}, \"errno\": {errno}, \"message\": {} }} }}\n",
        quoted(&step),
        quoted(&message)
    )
}

/// The last line, only when COMMAND was executed.
pub fn exit_code_line(code: i32) -> String {
    format!("{{ \"exit-code\": {code} }}\n")
}

/// Write all of `text` to a raw caller fd.
pub fn write_all(fd: &OwnedFd, text: &str) -> Result<(), nix::errno::Errno> {
    crate::sys::fd::write_all(fd, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_bwrap() {
        let ids = [("mnt", 4026532179u64), ("pid", 4026532180)];
        assert_eq!(
            status_first_line(Pid::from_raw(8324), &ids),
            "{ \"child-pid\": 8324, \"mnt-namespace\": 4026532179, \"pid-namespace\": 4026532180 }\n"
        );
        assert_eq!(
            info_json(Pid::from_raw(8389), &ids[..1]),
            "{\n    \"child-pid\": 8389,\n    \"mnt-namespace\": 4026532179\n}\n"
        );
        assert_eq!(exit_code_line(3), "{ \"exit-code\": 3 }\n");
        assert_eq!(command_pid_line(77, &Fallbacks::default()), "{ \"command-pid\": 77 }\n");
        let fb = Fallbacks::decode(b"proc=parent-bind\nuserns-lock=seccomp\n");
        assert_eq!(
            command_pid_line(5, &fb),
            "{ \"command-pid\": 5, \"proc\": \"parent-bind\", \"userns-lock\": \"seccomp\" }\n"
        );
        let fb =
            Fallbacks::decode(b"proc=parent-bind\nlandlock-scopes=abstract-unix-sockets,signals\n");
        assert_eq!(
            command_pid_line(6, &fb),
            "{ \"command-pid\": 6, \"proc\": \"parent-bind\", \"landlock-scopes\": [\"abstract-unix-sockets\", \"signals\"] }\n"
        );
        assert_eq!(json_escape("a\"b\\c\n"), "a\\\"b\\\\c\\u000a");
        let err = crate::error::setup_errno(
            crate::error::Step::MountProc,
            "Can't mount proc on /newroot/proc",
            nix::errno::Errno::EPERM,
        )
        .with_path(std::ffi::OsString::from("/proc"));
        let msg = error_message(&err);
        assert_eq!(msg[0], MSG_ERROR);
        assert_eq!(
            error_line(&msg[1..]),
            "{ \"error\": { \"step\": \"mount-proc\", \"path\": \"/proc\", \"errno\": 1, \"message\": \"Can't mount proc on /newroot/proc: Operation not permitted\" } }\n"
        );
        let bad: std::ffi::OsString =
            std::os::unix::ffi::OsStringExt::from_vec(b"/a\xffb".to_vec());
        let err = crate::error::setup_msg(crate::error::Step::MkdirParents, "x").with_path(bad);
        assert!(error_line(&error_message(&err)[1..])
            .contains("\"path\": \"/a\\uFFFDb\", \"errno\": null"));
    }
}
