//! Gathering facts for `--diagnose`: files read from `/proc` and `/sys`, and
//! features tried in throwaway children.
//!
//! Every child is a fork-style `clone` of this (single-threaded) process,
//! usually with a new user namespace so that its mounts live in a private
//! mount namespace that dies with it. It reports what it found as
//! `key=value` lines over a pipe and leaves with `_exit`. The only writes a
//! child makes are its own `/proc/self/{setgroups,uid_map,gid_map}` (inside
//! its new user namespace) and what it creates on a tmpfs it mounted in its
//! own mount namespace. Nothing outlives the child.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitStatus};

use crate::sys;
use crate::sys::mount::{parse_mountinfo, ProcRefusal};

/// The outcome of one thing tried in a child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tried {
    /// It worked.
    Works,
    /// A step failed with an errno (`step` names the syscall or stage).
    Fails { step: String, errno: Errno },
    /// Not attempted, with the reason.
    Skipped(String),
}

impl Tried {
    pub fn works(&self) -> bool {
        matches!(self, Tried::Works)
    }

    pub fn errno(&self) -> Option<Errno> {
        match self {
            Tried::Fails { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    fn fails(step: &str, errno: Errno) -> Self {
        Tried::Fails { step: step.to_owned(), errno }
    }

    /// `ok` | `fail STEP ERRNO` | `skip REASON`: one line's value.
    fn encode(&self) -> String {
        match self {
            Tried::Works => "ok".into(),
            Tried::Fails { step, errno } => format!("fail {step} {}", *errno as i32),
            Tried::Skipped(r) => format!("skip {r}"),
        }
    }

    fn decode(s: &str) -> Tried {
        if s == "ok" {
            return Tried::Works;
        }
        if let Some(rest) = s.strip_prefix("fail ") {
            if let Some((step, n)) = rest.rsplit_once(' ') {
                if let Ok(n) = n.parse() {
                    return Tried::Fails { step: step.into(), errno: Errno::from_raw(n) };
                }
            }
        }
        Tried::Skipped(s.strip_prefix("skip ").unwrap_or(s).to_owned())
    }

    /// A short human description: `works`, `fails: mount: Operation not permitted`.
    pub fn describe(&self) -> String {
        match self {
            Tried::Works => "works".into(),
            Tried::Fails { step, errno } => {
                format!("fails: {step}: {}", crate::error::strerror(*errno))
            }
            Tried::Skipped(r) => format!("not tried: {r}"),
        }
    }
}

/// What went wrong with a throwaway child as a whole.
fn child_failure(step: &str, errno: Errno) -> Tried {
    Tried::fails(step, errno)
}

/// `Seccomp:`, `NoNewPrivs:` and the capability sets from `/proc/self/status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    pub seccomp: Option<u32>,
    pub seccomp_filters: Option<u32>,
    pub no_new_privs: Option<bool>,
    pub cap_eff: Option<u64>,
    pub cap_bnd: Option<u64>,
}

impl Status {
    pub fn parse(text: &str) -> Status {
        let mut s = Status::default();
        for line in text.lines() {
            let Some((k, v)) = line.split_once(':') else { continue };
            let v = v.trim();
            match k {
                "Seccomp" => s.seccomp = v.parse().ok(),
                "Seccomp_filters" => s.seccomp_filters = v.parse().ok(),
                "NoNewPrivs" => s.no_new_privs = v.parse::<u32>().ok().map(|n| n != 0),
                "CapEff" => s.cap_eff = u64::from_str_radix(v, 16).ok(),
                "CapBnd" => s.cap_bnd = u64::from_str_radix(v, 16).ok(),
                _ => {}
            }
        }
        s
    }
}

/// One line of mountinfo with the fields the report needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub mount_point: String,
    pub fstype: String,
    pub read_only: bool,
    /// Super-block options (`rw,hidepid=invisible`).
    pub super_opts: String,
}

/// Parse mountinfo with `sys::mount::parse_mountinfo`, plus each line's
/// super-block options (which it does not keep).
pub fn parse_mounts(text: &[u8]) -> Option<Vec<Mount>> {
    let parsed = parse_mountinfo(text)?;
    let lines = text.split(|&c| c == b'\n').filter(|l| !l.is_empty());
    let mut out = Vec::with_capacity(parsed.len());
    for (m, line) in parsed.into_iter().zip(lines) {
        let line = String::from_utf8_lossy(line);
        let super_opts = line
            .split_once(" - ")
            .and_then(|(_, rest)| rest.split(' ').nth(2))
            .unwrap_or("")
            .to_owned();
        out.push(Mount {
            mount_point: m.mount_point.to_string_lossy().into_owned(),
            fstype: m.fstype.to_string_lossy().into_owned(),
            read_only: m.flags.contains(MsFlags::MS_RDONLY),
            super_opts,
        });
    }
    Some(out)
}

/// The fresh-procfs probe (new user + mount + pid namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcProbe {
    /// `mount("proc", "/proc", "proc", nosuid|noexec|nodev)`.
    pub fresh: Tried,
    /// The fs-context log's verdict when `fresh` failed.
    pub reason: Option<ProcRefusal>,
    /// The same with `subset=pid`.
    pub subset_pid: Tried,
}

/// Levels of nesting left, measured by creating namespaces until the kernel
/// refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Depth {
    /// Nested user namespaces that could still be created (and the errno
    /// that stopped the next one).
    pub user_left: u32,
    pub user_stop: Option<Errno>,
    /// Nested pid namespaces that could still be created.
    pub pid_left: u32,
    pub pid_stop: Option<Errno>,
}

/// Everything `--diagnose` learned about this environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub kernel: String,
    /// `AT_SECURE`: exec'd setuid, setgid or with file capabilities.
    pub secure_exec: bool,
    /// `/proc/self/uid_map` is the initial namespace's identity map.
    pub init_userns: bool,
    /// Our euid is mapped in our user namespace (an unmapped caller, shown
    /// as the overflow uid, cannot create nested user namespaces).
    pub euid_mapped: bool,
    pub max_user_namespaces: Option<u64>,
    /// Debian's `kernel.unprivileged_userns_clone` (absent upstream).
    pub unprivileged_userns_clone: Option<u64>,
    /// Ubuntu's `kernel.apparmor_restrict_unprivileged_userns`.
    pub apparmor_restrict: Option<u64>,
    pub status: Status,
    /// `/sys/module/apparmor/parameters/enabled` is `Y`.
    pub apparmor_enabled: bool,
    /// `/proc/self/attr/apparmor/current` (stacked LSMs, Linux 5.1+).
    pub apparmor_label: Option<String>,
    /// `/sys/fs/selinux` is mounted; `Some(enforcing)` then.
    pub selinux_enforcing: Option<bool>,
    /// `/proc/self/attr/current` (the "major" LSM's label).
    pub lsm_current: Option<String>,
    pub mounts: Vec<Mount>,
    /// A directory for the setup tmpfs exists (`/tmp` or a fallback; the
    /// mount probes use it too).
    pub has_tmp: bool,
    // Features tried in throwaway children.
    /// `clone(CLONE_NEWUSER)`, then writing the child's own id maps.
    pub userns: Tried,
    pub depth: Option<Depth>,
    pub mount_ns: Tried,
    pub proc: Result<ProcProbe, Tried>,
    pub net: Tried,
    pub pivot_root: Tried,
    pub overlay: Tried,
    pub devpts: Tried,
    pub seccomp: Tried,
    /// `landlock_create_ruleset(NULL, 0, VERSION)`: the Landlock ABI, or
    /// why there is none (ENOSYS, EOPNOTSUPP).
    pub landlock_abi: Result<u32, Errno>,
    /// Entering a domain with both scopes (ABI 6) in a throwaway child.
    pub landlock_scopes: Tried,
    /// `openat2` with `RESOLVE_IN_ROOT` is refused here (a kernel before
    /// 5.6, or a seccomp profile): the sandbox resolves destinations with
    /// the userspace in-root resolver (`"openat2": "userspace"`).
    pub openat2_userspace: bool,
}

fn read_trim(path: &str) -> Option<String> {
    std::fs::read(path).ok().map(|b| String::from_utf8_lossy(&b).trim().to_owned())
}

fn read_num(path: &str) -> Option<u64> {
    read_trim(path).and_then(|s| s.parse().ok())
}

fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The ids a child maps onto themselves in its new user namespace.
#[derive(Clone, Copy)]
struct Ids {
    uid: u32,
    gid: u32,
}

impl Facts {
    /// Read the environment and try every feature. Writes nothing.
    pub fn gather() -> Facts {
        let (mut facts, ids) = Facts::read();
        // A privileged exec is refused by nestwrap: do not exercise the
        // privilege in probes either.
        if facts.secure_exec {
            return facts;
        }
        facts.userns = probe_userns(ids);
        facts.depth = probe_depth(ids);
        facts.mount_ns = probe_mount_ns(ids);
        facts.proc = probe_proc(ids);
        facts.net = probe_net(ids);
        // The mount probes need a directory for their tmpfs (they run
        // anyway, as they always did).
        let has_tmp = facts.has_tmp;
        let tmp_needed = |t: Tried| {
            if has_tmp {
                t
            } else {
                Tried::Skipped("no directory for the setup tmpfs".into())
            }
        };
        facts.pivot_root = tmp_needed(probe_pivot_root(ids));
        facts.overlay = tmp_needed(probe_overlay(ids));
        facts.devpts = tmp_needed(probe_devpts(ids));
        facts.seccomp =
            tried(run_child(0, ids, |_, out| out.push(("result", probe_seccomp().encode()))));
        facts.landlock_scopes = match facts.landlock_abi {
            Ok(n) if n >= sys::landlock::SCOPES_ABI => tried(run_child(0, ids, |_, out| {
                out.push(("result", probe_landlock_scopes().encode()))
            })),
            _ => Tried::Skipped("no Landlock ABI 6".into()),
        };
        facts
    }

    /// What reading files and asking the kernel tell, with every feature
    /// still untried; and the ids the probe children map.
    fn read() -> (Facts, Ids) {
        let uid = nix::unistd::getuid().as_raw();
        let euid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let ids = Ids { uid: euid, gid: nix::unistd::getegid().as_raw() };
        let secure_exec = sys::is_secure_exec();
        let mounts = std::fs::read("/proc/self/mountinfo")
            .ok()
            .and_then(|t| parse_mounts(&t))
            .unwrap_or_default();
        let has_tmp = crate::sandbox::prepare::setup_base().is_some();
        let uid_map = read_trim("/proc/self/uid_map").unwrap_or_default();
        let facts = Facts {
            uid,
            euid,
            gid,
            kernel: kernel_release(),
            secure_exec,
            init_userns: uid_map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"],
            euid_mapped: id_mapped(&uid_map, euid),
            max_user_namespaces: read_num("/proc/sys/user/max_user_namespaces"),
            unprivileged_userns_clone: read_num("/proc/sys/kernel/unprivileged_userns_clone"),
            apparmor_restrict: read_num("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
            status: Status::parse(&read_trim("/proc/self/status").unwrap_or_default()),
            apparmor_enabled: read_trim("/sys/module/apparmor/parameters/enabled")
                .is_some_and(|v| v.starts_with('Y')),
            apparmor_label: read_trim("/proc/self/attr/apparmor/current"),
            selinux_enforcing: read_trim("/sys/fs/selinux/enforce").map(|v| v == "1"),
            lsm_current: read_trim("/proc/self/attr/current")
                .map(|s| s.trim_end_matches('\0').to_owned()),
            mounts,
            has_tmp,
            userns: Tried::Skipped("setuid".into()),
            depth: None,
            mount_ns: Tried::Skipped("setuid".into()),
            proc: Err(Tried::Skipped("setuid".into())),
            net: Tried::Skipped("setuid".into()),
            pivot_root: Tried::Skipped("setuid".into()),
            overlay: Tried::Skipped("setuid".into()),
            devpts: Tried::Skipped("setuid".into()),
            seccomp: Tried::Skipped("setuid".into()),
            // A query without side effects.
            landlock_abi: sys::landlock::abi_version(),
            landlock_scopes: Tried::Skipped("setuid".into()),
            openat2_userspace: probe_openat2(),
        };
        (facts, ids)
    }

    /// Mounts strictly below `/proc` (what a container runtime's masks look
    /// like), in mountinfo order, without kernel-made empty directories such
    /// as `/proc/sys/fs/binfmt_misc`, which the kernel does not count.
    pub fn proc_masks(&self) -> Vec<&Mount> {
        self.mounts
            .iter()
            .filter(|m| {
                m.mount_point.starts_with("/proc/") && m.mount_point != "/proc/sys/fs/binfmt_misc"
            })
            .collect()
    }

    /// The topmost procfs mounted on `/proc`.
    pub fn proc_mount(&self) -> Option<&Mount> {
        self.mounts.iter().rev().find(|m| m.mount_point == "/proc" && m.fstype == "proc")
    }

    /// Whether `/proc/sys/user` sits on a read-only mount.
    pub fn proc_sys_read_only(&self) -> bool {
        self.mounts
            .iter()
            .rev()
            .filter(|m| {
                sys::mount::is_at_or_below(OsStr::new("/proc/sys/user"), OsStr::new(&m.mount_point))
            })
            .max_by_key(|m| m.mount_point.len())
            .is_some_and(|m| m.read_only)
    }

    /// CAP_SYS_ADMIN in the effective set.
    pub fn has_sys_admin(&self) -> bool {
        self.status.cap_eff.is_some_and(|c| c & (1 << 21) != 0)
    }
}

/// Whether `id` falls in one of the ranges of a uid_map/gid_map text.
pub fn id_mapped(map: &str, id: u32) -> bool {
    map.lines().any(|l| {
        let n: Vec<u64> = l.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        n.len() == 3 && n[0] <= u64::from(id) && u64::from(id) < n[0] + n[2]
    })
}

fn tried(r: Result<BTreeMap<String, String>, Tried>) -> Tried {
    match r {
        Ok(m) => {
            m.get("result").map(|v| Tried::decode(v)).unwrap_or(Tried::Skipped("no answer".into()))
        }
        Err(t) => t,
    }
}

type Out = Vec<(&'static str, String)>;

/// Run `body` in a fork-style child created with `flags`; collect its
/// `key=value` lines. `Err` when the child could not be created (the clone
/// errno, step `clone`) or died without answering.
fn run_child(
    flags: libc::c_int,
    ids: Ids,
    body: impl FnOnce(Ids, &mut Out),
) -> Result<BTreeMap<String, String>, Tried> {
    let (r, w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| child_failure("pipe", e))?;
    match sys::clone_fork(flags).map_err(|e| child_failure("clone", e))? {
        None => {
            drop(r);
            let mut out = Out::new();
            body(ids, &mut out);
            let mut text = String::new();
            for (k, v) in out {
                text.push_str(k);
                text.push('=');
                text.push_str(&v);
                text.push('\n');
            }
            let _ = std::fs::File::from(w).write_all(text.as_bytes());
            sys::exit_now(0)
        }
        Some(pid) => {
            drop(w);
            let mut text = String::new();
            let _ = std::fs::File::from(r).read_to_string(&mut text);
            let status = loop {
                match waitpid(pid, None) {
                    Err(Errno::EINTR) => continue,
                    other => break other,
                }
            };
            let map: BTreeMap<String, String> = text
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            if map.is_empty() {
                let why = match status {
                    Ok(WaitStatus::Signaled(_, sig, _)) => format!("probe child killed by {sig}"),
                    Ok(WaitStatus::Exited(_, code)) => format!("probe child exited with {code}"),
                    _ => "probe child vanished".to_owned(),
                };
                return Err(Tried::Skipped(why));
            }
            Ok(map)
        }
    }
}

/// In a new user namespace: deny setgroups and map our own ids onto
/// themselves (what nestwrap's child does for an unprivileged caller).
fn map_ids(ids: Ids) -> Tried {
    let write = |path: &str, text: &str| -> Result<(), Errno> {
        let mut f = std::fs::OpenOptions::new().write(true).open(path).map_err(io_errno)?;
        f.write_all(text.as_bytes()).map_err(io_errno)
    };
    if let Err(e) = write("/proc/self/setgroups", "deny") {
        // Absent on old kernels; anything else is a real refusal.
        if e != Errno::ENOENT {
            return Tried::fails("setgroups", e);
        }
    }
    if let Err(e) = write("/proc/self/uid_map", &format!("{0} {0} 1\n", ids.uid)) {
        return Tried::fails("uid map", e);
    }
    if let Err(e) = write("/proc/self/gid_map", &format!("{0} {0} 1\n", ids.gid)) {
        return Tried::fails("gid map", e);
    }
    Tried::Works
}

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// A new user namespace whose child maps its own ids.
fn probe_userns(ids: Ids) -> Tried {
    tried(run_child(libc::CLONE_NEWUSER, ids, |ids, out| {
        out.push(("result", map_ids(ids).encode()));
    }))
}

/// A new user + mount namespace that can mount a tmpfs.
fn probe_mount_ns(ids: Ids) -> Tried {
    tried(run_child(MNT, ids, |ids, out| {
        out.push(("result", in_private_tmp(ids, |_| Ok(())).encode()));
    }))
}

/// [`proc_child`] in a new user + mount + pid namespace, read back.
fn probe_proc(ids: Ids) -> Result<ProcProbe, Tried> {
    run_child(MNT | libc::CLONE_NEWPID, ids, proc_child).map(|m| ProcProbe {
        fresh: m.get("fresh").map(|v| Tried::decode(v)).unwrap_or(Tried::Skipped("?".into())),
        reason: m.get("reason").map(|r| match r.as_str() {
            "too-revealing" => ProcRefusal::TooRevealing,
            "other" => ProcRefusal::Other,
            _ => ProcRefusal::Unknown,
        }),
        subset_pid: m.get("subset").map(|v| Tried::decode(v)).unwrap_or(Tried::Skipped("?".into())),
    })
}

/// A new network namespace whose loopback comes up as the run sets it up.
fn probe_net(ids: Ids) -> Tried {
    tried(run_child(libc::CLONE_NEWUSER | libc::CLONE_NEWNET, ids, |ids, out| {
        let r = match map_ids(ids) {
            Tried::Works => match crate::sandbox::net::loopback_setup() {
                Ok(()) => Tried::Works,
                Err(e) => Tried::Fails {
                    step: e.message.trim_start_matches("loopback: ").to_owned(),
                    errno: e.errno().unwrap_or(Errno::UnknownErrno),
                },
            },
            other => other,
        };
        out.push(("result", r.encode()));
    }))
}

/// `pivot_root` into a private tmpfs.
fn probe_pivot_root(ids: Ids) -> Tried {
    tried(run_child(MNT, ids, |ids, out| {
        let r = in_private_tmp(ids, |base| {
            nix::unistd::chdir(base).map_err(|e| ("chdir", e))?;
            nix::unistd::pivot_root(".", ".").map_err(|e| ("pivot_root", e))
        });
        out.push(("result", r.encode()));
    }))
}

/// An overlayfs with `userxattr` on a private tmpfs.
fn probe_overlay(ids: Ids) -> Tried {
    tried(run_child(MNT, ids, |ids, out| {
        let r = in_private_tmp(ids, |base| {
            for d in ["lower", "upper", "work", "merged"] {
                nix::unistd::mkdir(format!("{base}/{d}").as_str(), Mode::from_bits_truncate(0o755))
                    .map_err(|e| ("mkdir", e))?;
            }
            let options = format!(
                "upperdir={base}/upper,workdir={base}/work,lowerdir={base}/lower,userxattr"
            );
            mount(
                Some("overlay"),
                format!("{base}/merged").as_str(),
                Some("overlay"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some(options.as_str()),
            )
            .map_err(|e| ("mount overlay", e))
        });
        out.push(("result", r.encode()));
    }))
}

/// A new devpts instance, as `--dev` mounts it.
fn probe_devpts(ids: Ids) -> Tried {
    tried(run_child(MNT, ids, |ids, out| {
        let r = in_private_tmp(ids, |base| {
            let pts = format!("{base}/pts");
            nix::unistd::mkdir(pts.as_str(), Mode::from_bits_truncate(0o755))
                .map_err(|e| ("mkdir", e))?;
            mount(
                Some("devpts"),
                pts.as_str(),
                Some("devpts"),
                MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
                Some("newinstance,ptmxmode=0666,mode=620"),
            )
            .map_err(|e| ("mount devpts", e))
        });
        out.push(("result", r.encode()));
    }))
}

/// The clone flags of the mount probes: a new user + mount namespace.
const MNT: libc::c_int = libc::CLONE_NEWUSER | libc::CLONE_NEWNS;

/// Map ids, make every mount a slave (nothing propagates back), mount a
/// tmpfs where the sandbox would put its setup tmpfs (`/tmp`, or the first
/// fallback directory that exists) in this private mount namespace, then
/// run `f` with that directory.
fn in_private_tmp(ids: Ids, f: impl FnOnce(&str) -> Result<(), (&'static str, Errno)>) -> Tried {
    if let t @ Tried::Fails { .. } = map_ids(ids) {
        return t;
    }
    let r = (|| {
        mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_SLAVE, None::<&str>)
            .map_err(|e| ("make / slave", e))?;
        let base = crate::sandbox::prepare::setup_base()
            .ok_or(("find a base directory", Errno::ENOENT))?;
        mount(
            Some("tmpfs"),
            base,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=0755"),
        )
        .map_err(|e| ("mount tmpfs", e))?;
        f(base)
    })();
    match r {
        Ok(()) => Tried::Works,
        Err((step, e)) => Tried::fails(step, e),
    }
}

/// In a new user + mount + pid namespace: a fresh procfs on `/proc`, the
/// kernel's reason when refused, and the `subset=pid` variant.
fn proc_child(ids: Ids, out: &mut Out) {
    if let t @ Tried::Fails { .. } = map_ids(ids) {
        out.push(("fresh", t.encode()));
        return;
    }
    if let Err(e) =
        mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_SLAVE, None::<&str>)
    {
        out.push(("fresh", Tried::fails("make / slave", e).encode()));
        return;
    }
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    let fresh = mount(Some("proc"), "/proc", Some("proc"), flags, None::<&str>);
    out.push((
        "fresh",
        match fresh {
            Ok(()) => Tried::Works,
            Err(e) => Tried::fails("mount proc", e),
        }
        .encode(),
    ));
    if fresh.is_err() {
        let reason = match sys::mount::probe_proc_refusal(false) {
            ProcRefusal::TooRevealing => "too-revealing",
            ProcRefusal::Other => "other",
            ProcRefusal::Unknown => "unknown",
        };
        out.push(("reason", reason.into()));
    }
    let subset = match mount(Some("proc"), "/proc", Some("proc"), flags, Some("subset=pid")) {
        Ok(()) => Tried::Works,
        Err(e) => Tried::fails("mount proc subset=pid", e),
    };
    out.push(("subset", subset.encode()));
}

/// Install nestwrap's user-namespace lock filter (what `--disable-userns`
/// uses when `/proc/sys` is read-only) and check that it is enforced.
fn probe_seccomp() -> Tried {
    if let Err(e) = nix::sys::prctl::set_no_new_privs() {
        return Tried::fails("prctl(PR_SET_NO_NEW_PRIVS)", e);
    }
    let Some(filter) = crate::sandbox::userns_lock::filter() else {
        return Tried::Skipped("no user-namespace lock filter for this architecture".into());
    };
    if let Err(e) = sys::seccomp_set_filter(&filter) {
        return Tried::fails("seccomp(SECCOMP_SET_MODE_FILTER)", e);
    }
    match sys::unshare(libc::CLONE_NEWUSER) {
        Err(Errno::EPERM) => Tried::Works,
        Err(e) => Tried::fails("filter check: unshare(CLONE_NEWUSER)", e),
        Ok(()) => {
            Tried::fails("filter check: unshare(CLONE_NEWUSER) succeeded", Errno::UnknownErrno)
        }
    }
}

/// Enter a Landlock domain with both scopes (what `--scope-abstract-unix-sockets`
/// and `--scope-signals` do), in a throwaway child.
fn probe_landlock_scopes() -> Tried {
    if let Err(e) = nix::sys::prctl::set_no_new_privs() {
        return Tried::fails("prctl(PR_SET_NO_NEW_PRIVS)", e);
    }
    let both = sys::landlock::SCOPE_ABSTRACT_UNIX_SOCKET | sys::landlock::SCOPE_SIGNAL;
    match sys::landlock::restrict_self_scoped(both) {
        Ok(()) => Tried::Works,
        Err((call, e)) => Tried::fails(call, e),
    }
}

/// Levels of nesting left: in a child, create nested user namespaces (each
/// mapping our ids) until the kernel refuses; then, from the deepest one,
/// a chain of children each in a new pid namespace until that is refused.
fn probe_depth(ids: Ids) -> Option<Depth> {
    let m = run_child(0, ids, |ids, out| {
        let mut user_left = 0u32;
        let stop = loop {
            if let Err(e) = sys::unshare(libc::CLONE_NEWUSER) {
                break e;
            }
            user_left += 1;
            if let Tried::Fails { errno, .. } = map_ids(ids) {
                break errno;
            }
            if user_left > 64 {
                break Errno::UnknownErrno;
            }
        };
        out.push(("user_left", user_left.to_string()));
        out.push(("user_stop", (stop as i32).to_string()));
        let (pid_left, pid_stop) = pid_chain();
        out.push(("pid_left", pid_left.to_string()));
        out.push(("pid_stop", (pid_stop as i32).to_string()));
    })
    .ok()?;
    let num = |k: &str| m.get(k).and_then(|v| v.parse::<i32>().ok());
    let errno = |k: &str| num(k).filter(|&n| n > 0).map(Errno::from_raw);
    Some(Depth {
        user_left: num("user_left")? as u32,
        user_stop: errno("user_stop"),
        pid_left: num("pid_left")? as u32,
        pid_stop: errno("pid_stop"),
    })
}

/// Each level forks a child in a new pid namespace and waits for it; the
/// deepest reports back through a pipe. Returns (levels made, errno).
fn pid_chain() -> (u32, Errno) {
    let Ok((r, w)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) else {
        return (0, Errno::EMFILE);
    };
    let mut level = 0u32;
    loop {
        match sys::clone_fork(libc::CLONE_NEWPID) {
            Ok(None) => {
                level += 1;
                if level > 64 {
                    report_chain(&w, level, Errno::UnknownErrno);
                }
                continue;
            }
            Ok(Some(pid)) => {
                // An intermediate level: wait for the deeper ones, then leave
                // (level 0 is the probe child itself and reads the answer).
                let _ = waitpid(pid, None);
                if level > 0 {
                    sys::exit_now(0);
                }
                break;
            }
            Err(e) => {
                if level == 0 {
                    return (0, e);
                }
                report_chain(&w, level, e);
            }
        }
    }
    drop(w);
    let mut text = String::new();
    let _ = std::fs::File::from(r).read_to_string(&mut text);
    let mut it = text.split_whitespace().filter_map(|n| n.parse::<i32>().ok());
    match (it.next(), it.next()) {
        (Some(l), Some(e)) => (l as u32, Errno::from_raw(e)),
        _ => (0, Errno::UnknownErrno),
    }
}

fn report_chain(w: &OwnedFd, level: u32, e: Errno) -> ! {
    let _ = nix::unistd::write(w, format!("{level} {}\n", e as i32).as_bytes());
    sys::exit_now(0)
}

/// Whether this process's first `openat2(RESOLVE_IN_ROOT)` is refused, so
/// that it resolves in userspace from then on: the run's own decision
/// (`sys::openat2`), taken here on `/`, without side effects.
fn probe_openat2() -> bool {
    use nix::fcntl::OFlag;
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let Ok(root) = nix::fcntl::open("/", flags, Mode::empty()) else { return false };
    let _ = sys::openat2(&root, c".", libc::O_PATH, 0, sys::RESOLVE_IN_ROOT_NO_MAGIC);
    sys::openat2_emulated()
}
