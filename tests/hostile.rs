//! Hostile environments: what nestwrap must do where bwrap dies (issue 6,
//! DECISIONS "Extensions", "Container fallbacks", "Nesting depth").
//!
//! Every rig is checked against bubblewrap 0.13.1 (the reference) as a control: where a test
//! says "bwrap fails here", the rig really reproduces the container obstacle,
//! so a passing nestwrap test means something. The rigs live in
//! `util::hostile`; namespace code never runs in this process.

use crate::util::hostile::*;
use crate::util::*;

/// Debian 12's bwrap, the control where the point is "it fails in a container".
const DEBIAN_BWRAP: &str = "/usr/bin/bwrap";
const PROC_FAIL: &str = "bwrap: Can't mount proc on /proc: Operation not permitted";
const ENOSPC_MSG: &str = "bwrap: Creating new namespace failed: nesting depth or \
                          /proc/sys/user/max_*_namespaces exceeded (ENOSPC)";

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// The reference bubblewrap 0.13.1 is the control (scripts/bwrap-reference.sh).
fn require_bwrap() -> bool {
    require_reference("hostile controls").is_some()
}

/// The reference bwrap's path (after [`require_bwrap`]).
fn bwrap() -> &'static std::path::Path {
    reference_bwrap().expect("checked by require_bwrap")
}

/// Debian 12's bwrap 0.8.0 (podman control); it must be installed.
fn require_debian_bwrap() -> bool {
    if std::path::Path::new(DEBIAN_BWRAP).exists() {
        return true;
    }
    if must_work() {
        panic!("NESTWRAP_MUST_WORK=1 but {DEBIAN_BWRAP} is missing (apt-get install bubblewrap)");
    }
    eprintln!("SKIP: {DEBIAN_BWRAP} missing");
    false
}

/// The common "container" case: everything unshared, fresh /proc and /dev.
/// Root needs `--unshare-user` to be affected by the masks at all (without a
/// user namespace the kernel's "too revealing" rule does not apply).
fn seed_args(as_: As) -> Vec<String> {
    let mut v = s(&["--ro-bind", "/", "/", "--unshare-all"]);
    if as_ == As::Root {
        v.push("--unshare-user".into());
    }
    v.extend(s(&["--proc", "/proc", "--dev", "/dev"]));
    v
}

/// /proc entries whose masks the fallback must keep, as the probe sees them.
const PROC_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/timer_list",
    "/proc/sched_debug",
    "/proc/sys",
    "/proc/irq",
    "/proc/bus",
    "/proc/self",
];
/// The entries the rig covers with /dev/null (where they exist).
const DEV_NULL_MASKS: &[&str] =
    &["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"];

#[track_caller]
fn assert_one_warning(o: &Outcome, prefix: &str) {
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected exactly one warning line\n{o}");
    let l = lines[0];
    assert!(l.starts_with(prefix), "warning must start with {prefix:?}\n{o}");
    let low = l.to_lowercase();
    // Names the tier (a bind of the parent's /proc) and its cost (the sandbox
    // sees the container's pid namespace).
    assert!(low.contains("proc"), "warning does not mention proc\n{o}");
    assert!(low.contains("bind"), "warning does not name the parent-bind tier\n{o}");
    // Any wording will do ("pid namespace", "pid numbers"), as long as it says
    // that pids are the container's.
    assert!(low.contains("pid"), "warning does not state the cost (container's pids)\n{o}");
}

#[track_caller]
fn assert_ro(o: &Outcome, path: &str) {
    let fact = o.fact(&format!("mount.{path}"));
    let opts = fact.split(' ').nth(1).unwrap_or("");
    assert!(opts.split(',').any(|x| x == "ro"), "{path} is not read-only: {fact}\n{o}");
}

/// The masks the rig put on /proc are still there inside the sandbox.
#[track_caller]
fn assert_masks_kept(o: &Outcome) {
    let acpi = o.fact("mount./proc/acpi");
    assert!(acpi.starts_with("tmpfs "), "/proc/acpi is not the mask tmpfs: {acpi}\n{o}");
    assert_ro(o, "/proc/acpi");
    // The rig covers those of these that exist here (no kcore on some kernels).
    for f in DEV_NULL_MASKS.iter().filter(|f| std::path::Path::new(f).exists()) {
        let st = o.fact(&format!("stat.{f}"));
        assert!(st.starts_with("char ") && st.ends_with("rdev=1:3"), "{f} unmasked: {st}\n{o}");
    }
    for d in ["/proc/sys", "/proc/irq", "/proc/bus"] {
        assert_ro(o, d);
    }
    // /proc/self is usable, and names the outer pid: the parent's procfs
    // really is what the sandbox got (the cost the warning states).
    let me = o.fact("readlink./proc/self");
    assert!(me.parse::<u32>().is_ok(), "/proc/self unusable: {me}\n{o}");
    assert_ne!(me, o.fact("pid"), "/proc/self should be the outer pid\n{o}");
    assert_ne!(o.fact("NoNewPrivs"), "?", "/proc/self/status unreadable\n{o}");
}

// ---- the rig itself -----------------------------------------------------------

/// Control: bwrap 0.13.1 fails in both root-built rigs exactly as in containers.
#[test]
fn rigs_break_bwrap_080() {
    if !require_bwrap() {
        return;
    }
    for as_ in [As::User, As::Root] {
        if !require_rig(as_) {
            continue;
        }
        let o = in_rig(Rig::Masked, as_).reference(bwrap()).args(seed_args(as_)).arg("true").run();
        o.fails_with(PROC_FAIL);
        let o = in_rig(Rig::RoProcSys, as_)
            .reference(bwrap())
            .args(["--ro-bind", "/", "/", "--unshare-user", "--disable-userns", "true"])
            .run();
        o.fails_with(
            "bwrap: cannot open /proc/sys/user/max_user_namespaces: Read-only file system",
        );
    }
}

// ---- masked /proc: the procfs fallback --------------------------------------

fn masked_falls_back(as_: As) {
    if !require_rig(as_) {
        return;
    }
    let o = in_rig(Rig::Masked, as_).args(seed_args(as_)).probe(PROC_PATHS).run();
    o.ok();
    assert_one_warning(&o, "bwrap: ");
    assert_masks_kept(&o);
    if std::path::Path::new("/proc/sysrq-trigger").exists() && as_ == As::Root {
        assert_ro(&o, "/proc/sysrq-trigger");
    }
}

#[test]
fn masked_proc_falls_back_user() {
    if nestwrap_only("masked-proc-fallback") {
        return;
    }
    masked_falls_back(As::User);
}

#[test]
fn masked_proc_falls_back_root_unshare_user() {
    if nestwrap_only("masked-proc-fallback") {
        return;
    }
    masked_falls_back(As::Root);
}

#[test]
fn masked_proc_warning_level_prefix() {
    if nestwrap_only("masked-proc-fallback") {
        return;
    }
    if !require_rig(As::User) {
        return;
    }
    let o = in_rig(Rig::Masked, As::User)
        .arg("--level-prefix")
        .args(seed_args(As::User))
        .arg("true")
        .run();
    o.ok();
    assert_one_warning(&o, "<4>bwrap: ");
}

#[track_caller]
fn assert_quiet(o: &Outcome) {
    o.ok();
    assert_eq!(o.stderr, "", "quiet must print nothing\n{o}");
    let json = String::from_utf8_lossy(&o.fds[&3]).into_owned();
    let line = command_pid_line(&json).unwrap_or_default();
    assert!(line.contains("\"proc\":\"parent-bind\""), "quiet keeps the record: {json}\n{o}");
}

#[test]
fn masked_proc_quiet_option() {
    if nestwrap_only("masked-proc-fallback") {
        return;
    }
    if !require_rig(As::User) {
        return;
    }
    let o = in_rig(Rig::Masked, As::User)
        .args(["--proc-fallback", "quiet", "--json-status-fd", "3"])
        .args(seed_args(As::User))
        .arg("true")
        .read_fd(3)
        .run();
    assert_quiet(&o);
}

#[test]
fn masked_proc_quiet_env() {
    if nestwrap_only("masked-proc-fallback") {
        return;
    }
    if !require_rig(As::User) {
        return;
    }
    let o = in_rig(Rig::Masked, As::User)
        .env("NESTWRAP_PROC_FALLBACK", "quiet")
        .args(["--json-status-fd", "3"])
        .args(seed_args(As::User))
        .arg("true")
        .read_fd(3)
        .run();
    assert_quiet(&o);
}

#[test]
fn masked_proc_never_option_is_bwraps_failure() {
    if nestwrap_only("masked-proc-fallback") {
        return;
    }
    if !require_rig(As::User) {
        return;
    }
    let o = in_rig(Rig::Masked, As::User)
        .args(["--proc-fallback", "never"])
        .args(seed_args(As::User))
        .arg("true")
        .run();
    o.fails_with(PROC_FAIL);
}

#[test]
fn masked_proc_never_env_is_bwraps_failure() {
    if !require_rig(As::User) {
        return;
    }
    let o = in_rig(Rig::Masked, As::User)
        .env("NESTWRAP_PROC_FALLBACK", "never")
        .args(seed_args(As::User))
        .arg("true")
        .run();
    o.fails_with(PROC_FAIL);
}

/// The option wins over the environment variable, both ways.
#[test]
fn masked_proc_option_wins_over_env() {
    if nestwrap_only("masked-proc-fallback") {
        return;
    }
    if !require_rig(As::User) {
        return;
    }
    let o = in_rig(Rig::Masked, As::User)
        .env("NESTWRAP_PROC_FALLBACK", "never")
        .args(["--proc-fallback", "auto"])
        .args(seed_args(As::User))
        .arg("true")
        .run();
    o.ok();
    assert_one_warning(&o, "bwrap: ");
    let o = in_rig(Rig::Masked, As::User)
        .env("NESTWRAP_PROC_FALLBACK", "quiet")
        .args(["--proc-fallback", "never"])
        .args(seed_args(As::User))
        .arg("true")
        .run();
    o.fails_with(PROC_FAIL);
}

#[test]
fn masked_proc_json_records_tier() {
    if nestwrap_only("masked-proc-fallback") {
        return;
    }
    for as_ in [As::User, As::Root] {
        if !require_rig(as_) {
            continue;
        }
        let o = in_rig(Rig::Masked, as_)
            .args(["--json-status-fd", "3"])
            .args(seed_args(as_))
            .arg("true")
            .read_fd(3)
            .run();
        o.ok();
        let json = String::from_utf8_lossy(&o.fds[&3]).into_owned();
        let line = command_pid_line(&json)
            .unwrap_or_else(|| panic!("no command-pid line in {json:?}\n{o}"));
        assert!(line.contains("\"proc\":\"parent-bind\""), "command-pid line: {line}\n{o}");
    }
}

/// Unmasked host: a fresh procfs works, so no fallback, no warning, no record.
#[test]
fn unmasked_host_needs_no_fallback() {
    both(|as_| {
        let o = Sandbox::new(as_)
            .args(["--json-status-fd", "3"])
            .args(seed_args(as_))
            .probe(["/proc/self"])
            .read_fd(3)
            .run();
        o.ok();
        assert_eq!(o.stderr, "", "{o}");
        assert_eq!(o.fact("readlink./proc/self"), o.fact("pid"), "fresh procfs expected\n{o}");
        let json = String::from_utf8_lossy(&o.fds[&3]).into_owned();
        assert!(!json.contains("parent-bind"), "fallback recorded on a normal host: {json}");
    });
}

/// An EPERM from the proc mount that is NOT the kernel's "mount too
/// revealing" (here: a seccomp filter refusing mounts with proc's flags and the
/// new mount API) must not trigger the fallback: bwrap's exact failure.
#[test]
fn proc_eperm_of_another_cause_does_not_fall_back() {
    for as_ in [As::User, As::Root] {
        if !require_seccomp(as_) {
            continue;
        }
        let args = s(&["--ro-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "true"]);
        // Control: the filter only hits the proc mount.
        let o = under_seccomp(Seccomp::ProcMountEperm, as_)
            .args(["--ro-bind", "/", "/", "--unshare-all", "--dev", "/dev", "true"])
            .run();
        o.ok();
        if require_bwrap() {
            let o =
                under_seccomp(Seccomp::ProcMountEperm, as_).reference(bwrap()).args(&args).run();
            o.fails_with(PROC_FAIL);
        }
        let o = under_seccomp(Seccomp::ProcMountEperm, as_).args(&args).run();
        o.fails_with(PROC_FAIL);
    }
}

/// The seed's own case (issue 6): one tmpfs on /proc/acpi, then the
/// reporter's command line, with Debian's merged-/usr symlinks.
#[test]
fn seed_case_ps_afx() {
    if nestwrap_only("masked-proc-fallback") {
        return;
    }
    if !require_rig(As::User) {
        return;
    }
    let mut args = s(&["--ro-bind", "/usr", "/usr"]);
    for l in ["lib64", "lib", "bin"] {
        args.extend(s(&["--symlink", &format!("usr/{l}"), &format!("/{l}")]));
    }
    args.extend(s(&["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--unshare-all"]));
    args.extend(s(&["--new-session", "--cap-add", "all", "--uid", "0", "ps", "afx"]));
    if require_bwrap() {
        let o = in_rig(Rig::Seed, As::User).reference(bwrap()).args(&args).run();
        o.fails_with(PROC_FAIL);
    }
    let o = in_rig(Rig::Seed, As::User).args(&args).run();
    o.ok();
    assert!(o.stdout.contains("ps afx"), "ps did not list itself\n{o}");
    assert_one_warning(&o, "bwrap: ");
}

/// Flatpak-like (xdg-desktop-portal-validate-icon's bwrap line, replayed) in
/// the masked rig, empty environment.
fn flatpak_like_args(icon: &str) -> Vec<String> {
    let mut v = s(&[
        "--unshare-ipc",
        "--unshare-net",
        "--unshare-pid",
        "--die-with-parent",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/var/tmp",
        "--tmpfs",
        "/run",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--ro-bind",
        "/usr",
        "/usr",
        "--ro-bind-try",
        "/etc/ld.so.cache",
        "/etc/ld.so.cache",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--symlink",
        "usr/sbin",
        "/sbin",
        "--setenv",
        "GIO_USE_VFS",
        "local",
        "--unsetenv",
        "TMPDIR",
    ]);
    v.extend(s(&["--ro-bind", icon, "/tmp/icon.png"]));
    v
}

#[test]
fn masked_flatpak_like_user() {
    if nestwrap_only("masked-proc-fallback") {
        return;
    }
    if !require_rig(As::User) {
        return;
    }
    let t = TestDir::new();
    let icon = t.write("icon.png", "not really a png");
    let bin_dir = bin_dir().to_str().unwrap();
    let o = in_rig(Rig::Masked, As::User)
        .args(flatpak_like_args(&icon))
        .args(["--ro-bind", bin_dir, bin_dir])
        .probe(["/tmp/icon.png", "/proc/acpi", "/proc/kcore", "/proc/self"])
        .run();
    o.ok();
    assert_eq!(o.fact("content./tmp/icon.png"), "not really a png", "{o}");
    assert!(o.fact("mount./proc/acpi").starts_with("tmpfs "), "{o}");
}

// ---- read-only /proc/sys: --disable-userns by seccomp ------------------------

/// Every way of making a user namespace fails: EPERM, clone3 ENOSYS (so libc
/// falls back to clone), the i386 entry too; x32 never succeeds.
#[track_caller]
fn assert_userns_locked_by_seccomp(o: &Outcome) {
    for k in ["unshare", "clone", "unshare_i386"] {
        assert_eq!(o.fact(&format!("userns.{k}")), "EPERM", "userns.{k}\n{o}");
    }
    assert_eq!(o.fact("userns.clone3"), "ENOSYS", "{o}");
    assert_ne!(o.fact("userns.unshare_x32"), "ok", "{o}");
}

fn disable_userns_args() -> Vec<String> {
    s(&["--ro-bind", "/", "/", "--unshare-user", "--disable-userns", "--assert-userns-disabled"])
}

#[test]
fn ro_proc_sys_disable_userns_by_seccomp() {
    if nestwrap_only("ro-proc-sys-seccomp-userns-lock") {
        return;
    }
    for as_ in [As::User, As::Root] {
        if !require_rig(as_) {
            continue;
        }
        let probe = probe().to_str().unwrap().to_string();
        let script = format!("{probe} --userns-syscalls; unshare --user true; echo unshare.rc=$?");
        let o = in_rig(Rig::RoProcSys, as_)
            .args(["--json-status-fd", "3"])
            .args(disable_userns_args())
            .args(["sh", "-c", &script])
            .read_fd(3)
            .run();
        o.ok();
        assert_userns_locked_by_seccomp(&o);
        assert_eq!(o.fact("unshare.rc"), "1", "{o}");
        assert!(
            o.stderr.contains("unshare: unshare failed: Operation not permitted"),
            "nested unshare -U must fail with EPERM\n{o}"
        );
        let json = String::from_utf8_lossy(&o.fds[&3]).into_owned();
        let line = command_pid_line(&json).unwrap_or_default();
        assert!(line.contains("\"userns-lock\":\"seccomp\""), "json: {json}\n{o}");
    }
}

/// The lock stacks with the caller's own `--seccomp` filter: both act.
#[test]
fn ro_proc_sys_disable_userns_stacks_with_caller_seccomp() {
    if nestwrap_only("ro-proc-sys-seccomp-userns-lock") {
        return;
    }
    if !require_rig(As::User) || !require_seccomp(As::User) {
        return;
    }
    let bpf = seccomp_bpf(Seccomp::MkdirEnotty);
    let probe = probe().to_str().unwrap().to_string();
    let script = format!("mkdir /tmp/x; {probe} --userns-syscalls");
    let o = in_rig(Rig::RoProcSys, As::User)
        .args(disable_userns_args())
        .args(["--tmpfs", "/tmp", "--seccomp", "4", "sh", "-c", &script])
        .data_fd(4, &bpf)
        .run();
    o.ok();
    assert!(
        o.stderr.contains("Inappropriate ioctl for device"),
        "the caller's filter (mkdir → ENOTTY) is not active\n{o}"
    );
    for k in ["unshare", "clone"] {
        assert_eq!(o.fact(&format!("userns.{k}")), "EPERM", "userns.{k}\n{o}");
    }
    assert_eq!(o.fact("userns.clone3"), "ENOSYS", "{o}");
}

/// Normal host: bwrap's semantics (max_user_namespaces=1 in an intermediate
/// user namespace): nested user namespaces fail with ENOSPC, no seccomp lock.
#[test]
fn disable_userns_on_normal_host() {
    both(|as_| {
        let o = Sandbox::new(as_)
            .args(["--json-status-fd", "3"])
            .args(disable_userns_args())
            .probe(["--userns-syscalls"])
            .read_fd(3)
            .run();
        o.ok();
        for k in ["unshare", "clone", "clone3", "unshare_i386"] {
            assert_eq!(o.fact(&format!("userns.{k}")), "ENOSPC", "userns.{k}\n{o}");
        }
        let json = String::from_utf8_lossy(&o.fds[&3]).into_owned();
        assert!(!json.contains("\"seccomp\""), "seccomp lock on a normal host: {json}");
    });
}

/// Masked rig (which also makes /proc/sys read-only), Zuul's whole command
/// line including `--unshare-user --disable-userns`.
#[test]
fn masked_zuul_like_user() {
    if nestwrap_only("masked-proc-fallback") {
        return;
    }
    if !require_rig(As::User) {
        return;
    }
    let t = TestDir::new();
    let work = t.mkdir("work");
    let home = t.mkdir("home");
    let id = ident(As::User);
    let mut args = zuul_like_args(&work, &home, id.uid, id.gid, true);
    let bin_dir = bin_dir().to_str().unwrap();
    args.extend(s(&["--ro-bind", bin_dir, bin_dir]));
    let passwd = format!("zuul:x:{}:{}::{home}:/bin/sh\n", id.uid, id.gid);
    let o = in_rig(Rig::Masked, As::User)
        .args(args)
        .data_fd(3, passwd.as_bytes())
        .data_fd(4, b"nogroup:x:65534:[]\n")
        .probe(["--userns-syscalls", "/etc/passwd", "/proc/acpi"])
        .run();
    o.ok();
    assert_eq!(o.fact("uid"), id.uid.to_string(), "{o}");
    assert_eq!(o.fact("content./etc/passwd"), passwd.replace('\n', "\\n"), "{o}");
    assert_eq!(o.fact("cwd"), work, "{o}");
    assert_userns_locked_by_seccomp(&o);
}

/// Zuul's bwrap command line (containers-and-clients.md §1(a)), paths that
/// exist on this machine only; fds 3 and 4 carry passwd and group.
fn zuul_like_args(work: &str, home: &str, uid: u32, gid: u32, disable: bool) -> Vec<String> {
    let mut v = s(&["--tmpfs", "/tmp", "--dir", "/var", "--dir", "/var/tmp"]);
    v.extend(s(&["--dir", &format!("/run/user/{uid}")]));
    for p in ["/usr", "/lib", "/bin", "/sbin"] {
        v.extend(s(&["--ro-bind", p, p]));
    }
    for p in ["/etc/ld.so.cache", "/etc/resolv.conf", "/etc/hosts", "/etc/localtime"] {
        if std::path::Path::new(p).exists() {
            v.extend(s(&["--ro-bind", p, p]));
        }
    }
    v.extend(s(&["--bind", work, work, "--tmpfs", &format!("{work}/tmp")]));
    v.extend(s(&["--bind", home, home, "--proc", "/proc", "--dev", "/dev", "--chdir", work]));
    v.extend(s(&["--unshare-all", "--die-with-parent"]));
    v.extend(s(&["--uid", &uid.to_string(), "--gid", &gid.to_string()]));
    v.extend(s(&["--file", "3", "/etc/passwd", "--file", "4", "/etc/group"]));
    if disable {
        v.extend(s(&["--unshare-user", "--disable-userns"]));
    }
    for p in ["/lib64", "/etc/nsswitch.conf", "/etc/alternatives", "/etc/ssl/certs"] {
        if std::path::Path::new(p).exists() {
            v.extend(s(&["--ro-bind", p, p]));
        }
    }
    v
}

// ---- pivot_root refused by seccomp ---------------------------------------------

fn minimal_root_args() -> Vec<String> {
    let bin_dir = bin_dir().to_str().unwrap();
    let mut v = s(&["--ro-bind", "/usr", "/usr"]);
    for l in ["lib", "lib64", "bin", "sbin"] {
        v.extend(s(&["--symlink", &format!("usr/{l}"), &format!("/{l}")]));
    }
    v.extend(s(&["--ro-bind", bin_dir, bin_dir, "--tmpfs", "/tmp", "--unshare-all"]));
    v.extend(s(&["--proc", "/proc", "--dev", "/dev"]));
    v
}

/// A Docker-style filter refusing pivot_root: the sandbox still starts
/// (DECISIONS: move the new root over / and chroot, plus one more user+mount
/// namespace), and the host root stays out of reach even for a COMMAND with
/// every capability in its namespace (lazy unmount of /, chroot escape).
#[test]
fn pivot_root_refused_still_sandboxes() {
    if nestwrap_only("container-fallbacks") {
        return;
    }
    for as_ in [As::User, As::Root] {
        if !require_seccomp(as_) {
            continue;
        }
        if require_bwrap() {
            let o = under_seccomp(Seccomp::NoPivot, as_)
                .reference(bwrap())
                .args(minimal_root_args())
                .arg("true")
                .run();
            o.fails_with("bwrap: pivot_root: Operation not permitted");
        }
        let t = TestDir::new();
        let marker = t.write("host-only-marker", "host");
        let escape = escape_py();
        for under in [false, true] {
            let sb = if under {
                under_seccomp(Seccomp::NoPivot, as_)
            } else {
                Sandbox::new(as_) // control: the normal pivot_root path
            };
            let o = sb
                .args(minimal_root_args())
                .args(["--cap-add", "ALL", "/usr/bin/python3"])
                .arg(&escape)
                .arg(&marker)
                .run();
            o.ok();
            if under {
                let lines: Vec<&str> = o.stderr.lines().collect();
                assert!(
                    lines.len() == 1
                        && lines[0].starts_with("bwrap: ")
                        && lines[0].contains("pivot_root"),
                    "expected one warning line naming the pivot_root fallback\n{o}"
                );
            } else {
                assert_eq!(o.stderr, "", "{o}");
            }
            assert_eq!(o.fact("escape.after_umount"), "False", "seccomp={under}\n{o}");
            assert_ne!(o.fact("escape.chroot"), "True", "chroot escape, seccomp={under}\n{o}");
            let o = if under { under_seccomp(Seccomp::NoPivot, as_) } else { Sandbox::new(as_) }
                .args(minimal_root_args())
                .probe([marker.as_str(), "/etc", "/root", "/proc/self"])
                .run();
            o.ok();
            for p in [marker.as_str(), "/etc", "/root"] {
                assert_eq!(o.fact(&format!("stat.{p}")), "ENOENT", "{p} seccomp={under}\n{o}");
            }
        }
    }
}

// ---- an old kernel, or a profile refusing the new mount API -------------------------

/// What an old kernel (5.4: no openat2, mount_setattr, fs-context calls,
/// close_range, faccessat2, pidfd_open) or an old container profile (EPERM
/// for syscalls it does not know) leaves: every fallback at once. Binds
/// still carry ro/nosuid/nodev onto every submount (mountinfo once per
/// bind), /dev nodes stay usable, destinations are made as usual, and the
/// monitor and reaper still let go of the caller's fds (COMMAND sees EOF on
/// a pipe once it closes the write end itself).
#[test]
fn old_kernel_fallbacks() {
    if nestwrap_only("old-kernel-fallbacks (no openat2)") {
        return;
    }
    for as_ in [As::User, As::Root] {
        if !require_seccomp(as_) {
            continue;
        }
        for filter in [None, Some(Seccomp::OldKernel), Some(Seccomp::NewApiEperm)] {
            let sb = match filter {
                Some(f) => under_seccomp(f, as_),
                None => Sandbox::new(as_),
            };
            let t = TestDir::new();
            let rw = t.mkdir("rw");
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2");
            let o = sb
                .args(["--ro-bind", "/", "/", "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev"])
                .args(["--unshare-all", "--dir", "/tmp/a/b/c", "--ro-bind-data", "3", "/tmp/d/e"])
                .args(["--symlink", "x", "/tmp/s/t", "--bind", &rw, "/tmp/rw"])
                .args(["--remount-ro", "/tmp/rw", "--file", "4", "/tmp/f"])
                .data_fd(3, b"data\n")
                .data_fd(4, b"file\n")
                .fd(7, r)
                .fd(8, w)
                .args(["sh", "-c"])
                .arg(
                    "exec 8>&-; timeout 5 cat <&7; echo cat=$?; cat /tmp/d/e /tmp/f; \
                     readlink /tmp/s/t; test -d /tmp/a/b/c && echo dir; head -c 2 /dev/zero | od -An -tx1; \
                     grep -E '^([^ ]+ ){4}(/|/sys|/proc|/dev/null|/dev/pts|/tmp/rw|/tmp/d/e) ' \
                     /proc/self/mountinfo | cut -d' ' -f5,6",
                )
                .run();
            o.ok();
            let want_head = "cat=0\ndata\nfile\nx\ndir\n 00 00\n";
            assert!(o.stdout.starts_with(want_head), "{filter:?}\n{o}");
            let mounts: Vec<(&str, Vec<&str>)> = o.stdout[want_head.len()..]
                .lines()
                .filter_map(|l| l.split_once(' '))
                .map(|(p, opts)| (p, opts.split(',').collect()))
                .collect();
            let has = |p: &str, opt: &str| mounts.iter().any(|(m, o)| *m == p && o.contains(&opt));
            for p in ["/", "/sys", "/tmp/rw", "/tmp/d/e"] {
                for opt in ["ro", "nosuid", "nodev"] {
                    assert!(has(p, opt), "{p} lacks {opt} ({filter:?})\n{o}");
                }
            }
            assert!(has("/dev/null", "nosuid") && !has("/dev/null", "nodev"), "{filter:?}\n{o}");
            assert!(has("/proc", "nosuid") && has("/dev/pts", "noexec"), "{filter:?}\n{o}");
        }
    }
}

/// With pivot_root refused, sources under the directory the setup tmpfs
/// sits on (`/tmp`) are still the host's: the fallback's copy of `/` must
/// not show the setup tmpfs there.
#[test]
fn pivot_root_refused_sources_under_tmp() {
    if nestwrap_only("container-fallbacks") {
        return;
    }
    let dir = format!("/tmp/nestwrap-hostile-{}", std::process::id());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(format!("{dir}/marker"), "host-tmp\n").unwrap();
    for p in [dir.as_str(), &format!("{dir}/marker")] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    for as_ in [As::User, As::Root] {
        if !require_seccomp(as_) {
            continue;
        }
        let o = under_seccomp(Seccomp::NoPivot, as_)
            .args(minimal_root_args())
            .args(["--ro-bind", &dir, "/x", "--ro-bind", "/tmp", "/hosttmp"])
            .args(["sh", "-c", "cat /x/marker; ls /hosttmp | grep -cx -e newroot -e oldroot"])
            .run();
        assert_eq!(o.stdout, "host-tmp\n0\n", "{o}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A root without /tmp (a nested sandbox, a minimal container image): the
/// setup tmpfs goes on another directory that exists (bwrap fails with
/// `Failed to mount tmpfs: No such file or directory`), and what it covered
/// is still the host's.
#[test]
fn no_tmp_in_the_root() {
    if nestwrap_only("container-fallbacks") {
        return;
    }
    both(|as_| {
        let bin = bin_dir().to_str().unwrap();
        let nw = binary().to_str().unwrap();
        let mut inner = s(&["--ro-bind", "/usr", "/usr", "--ro-bind", "/dev", "/hostdev"]);
        for l in ["lib", "lib64", "bin"] {
            inner.extend(s(&["--symlink", &format!("usr/{l}"), &format!("/{l}")]));
        }
        let o = Sandbox::new(as_)
            .args(["--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib"])
            .args(["--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin"])
            .args(["--ro-bind", bin, bin, "--proc", "/proc", "--dev", "/dev", "--unshare-all"])
            .arg(nw)
            .args(inner)
            .args(["sh", "-c", "test -c /hostdev/null && test -L /hostdev/stdin && echo inner-ok"])
            .run();
        o.ok();
        assert_eq!(o.stdout, "inner-ok\n", "{o}");
        assert_eq!(o.stderr, "", "{o}");
    });
}

// ---- nesting depth ---------------------------------------------------------------

const NEST_ARGS: &[&str] = &["--ro-bind", "/", "/", "--unshare-all", "--proc", "/proc"];

fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or("")
}

/// Unprivileged, from the initial namespaces: `--unshare-all --proc /proc
/// --dev /dev` nests as deep as bwrap 0.8.0 nests without `--dev` (32, while
/// bwrap reaches only 16 with `--dev`), and the next level fails with bwrap's
/// ENOSPC message.
#[test]
fn nesting_depth_user() {
    if nestwrap_only("dev-single-userns (nesting depth)") {
        return;
    }
    if !require(As::User) {
        return;
    }
    let with_dev: Vec<&str> = NEST_ARGS.iter().copied().chain(["--dev", "/dev"]).collect();
    if require_bwrap() {
        let b = nest_depth(As::User, bwrap(), NEST_ARGS, 40);
        assert_eq!(b.depth, 32, "bwrap 0.13.1 without --dev\n{}", b.outcome);
        let b = nest_depth(As::User, bwrap(), &with_dev, 40);
        assert_eq!(b.depth, 16, "bwrap 0.13.1 with --dev\n{}", b.outcome);
    }
    let n = nest_depth(As::User, binary(), &with_dev, 32);
    n.outcome.ok();
    assert_eq!(n.depth, 32, "{}", n.outcome);
    let n = nest_depth(As::User, binary(), &with_dev, 33);
    assert_eq!(n.depth, 32, "{}", n.outcome);
    assert_eq!(n.outcome.status, 1, "{}", n.outcome);
    assert_eq!(last_line(&n.outcome.stderr), ENOSPC_MSG, "{}", n.outcome);
}

/// Root: from level 2 on, the parent's /proc carries the parent sandbox's
/// read-only covers (sys, irq, bus...), which the inner user namespace sees as
/// locked: a fresh procfs is "too revealing" (bwrap 0.8.0 stops at level 1).
/// With the fallback nestwrap must still reach 32 levels.
#[test]
fn nesting_depth_root() {
    if nestwrap_only("dev-single-userns (nesting depth)") {
        return;
    }
    if !require(As::Root) {
        return;
    }
    let with_dev: Vec<&str> = NEST_ARGS.iter().copied().chain(["--dev", "/dev"]).collect();
    if require_bwrap() {
        let b = nest_depth(As::Root, bwrap(), NEST_ARGS, 40);
        assert_eq!(b.depth, 1, "bwrap 0.13.1 as root\n{}", b.outcome);
        assert_eq!(last_line(&b.outcome.stderr), PROC_FAIL, "{}", b.outcome);
    }
    let n = nest_depth(As::Root, binary(), &with_dev, 33);
    assert_eq!(n.depth, 32, "{}", n.outcome);
    assert_eq!(n.outcome.status, 1, "{}", n.outcome);
    assert_eq!(last_line(&n.outcome.stderr), ENOSPC_MSG, "{}", n.outcome);
}

// ---- real rootless podman -----------------------------------------------------

/// The nestwrap cases issue 6 lists for a container, as a script of
/// [`case_line`]s. `bw` is the binary's path inside the container.
fn container_cases(bw: &str, zuul: bool) -> String {
    let all = "--ro-bind / / --unshare-all --proc /proc --dev /dev";
    let mut sc = String::new();
    sc += &case_line("plain", &format!("{bw} --ro-bind / / true"));
    sc += &case_line("pid-proc", &format!("{bw} --ro-bind / / --unshare-pid --proc /proc true"));
    sc += &case_line("all", &format!("{bw} {all} true"));
    sc += &case_line("nested", &format!("{bw} {all} {bw} {all} true"));
    if zuul {
        // Zuul's command line (paths inside the full-userspace container).
        let me = "$(id -u)";
        sc += "mkdir -p /tmp/w /tmp/h; printf 'zuul:x:%s:%s::/tmp/h:/bin/sh\\n' \
               $(id -u) $(id -g) >/tmp/pw; printf 'nogroup:x:65534:[]\\n' >/tmp/gr\n";
        let z = format!(
            "{bw} --tmpfs /tmp --dir /var --dir /var/tmp --dir /run/user/{me} \
             --ro-bind /usr /usr --ro-bind /lib /lib --ro-bind /bin /bin --ro-bind /sbin /sbin \
             --ro-bind /etc/ld.so.cache /etc/ld.so.cache --ro-bind /etc/hosts /etc/hosts \
             --bind /tmp/w /tmp/w --tmpfs /tmp/w/tmp --bind /tmp/h /tmp/h \
             --proc /proc --dev /dev --chdir /tmp/w --unshare-all --die-with-parent \
             --uid {me} --gid $(id -g) --file 3 /etc/passwd --file 4 /etc/group \
             --unshare-user --disable-userns --ro-bind /lib64 /lib64 \
             --ro-bind /etc/nsswitch.conf /etc/nsswitch.conf --ro-bind /nw /nw \
             /nw/probe --userns-syscalls /etc/passwd 3</tmp/pw 4</tmp/gr"
        );
        sc += &case_line("zuul", &z);
    }
    sc
}

#[track_caller]
fn assert_cases_ok(o: &Outcome, names: &[&str]) {
    let cases = parse_cases(&o.stdout);
    let bad: Vec<String> = names
        .iter()
        .filter(|n| cases.get(**n).map(|c| c.0) != Some(0))
        .map(|n| match cases.get(*n) {
            Some((rc, out)) => format!("{n}: rc={rc}\n{out}"),
            None => format!("{n}: did not run"),
        })
        .collect();
    assert!(bad.is_empty(), "failing container cases:\n{}\n\n{o}", bad.join("\n"));
}

fn podman_busybox(user: Option<&str>) {
    if !require_podman() {
        return;
    }
    let bw = format!("/nw/{}", binary().file_name().unwrap().to_str().unwrap());
    let o = podman_run(Rootfs::Busybox, user, &[], &container_cases(&bw, false));
    assert_cases_ok(&o, &["plain", "pid-proc", "all", "nested"]);
}

#[test]
fn podman_busybox_container_root() {
    if nestwrap_only("container-fallbacks") {
        return;
    }
    podman_busybox(None);
}

#[test]
fn podman_busybox_user_1000() {
    if nestwrap_only("container-fallbacks") {
        return;
    }
    podman_busybox(Some("1000:1000"));
}

fn podman_full(user: Option<&str>) {
    if !require_podman() {
        return;
    }
    let bw = format!("/nw/{}", binary().file_name().unwrap().to_str().unwrap());
    let mut script = container_cases(&bw, true);
    // Flatpak-like launcher: empty environment.
    script += "printf 'icon' >/tmp/icon.png\n";
    let fl = flatpak_like_args("/tmp/icon.png").join(" ");
    script += &case_line(
        "flatpak",
        &format!("env -i {bw} {fl} --ro-bind /nw /nw /nw/probe /tmp/icon.png /proc/acpi"),
    );
    let o = podman_run(Rootfs::Full, user, &[], &script);
    assert_cases_ok(&o, &["plain", "pid-proc", "all", "nested", "zuul", "flatpak"]);
    let cases = parse_cases(&o.stdout);
    let z = parse_facts(&cases["zuul"].1);
    for k in ["unshare", "clone"] {
        assert_eq!(z.get(&format!("userns.{k}")).map(String::as_str), Some("EPERM"), "{o}");
    }
    assert_eq!(z.get("userns.clone3").map(String::as_str), Some("ENOSYS"), "{o}");
    assert!(z.get("content./etc/passwd").is_some_and(|p| p.starts_with("zuul:x:")), "{o}");
    let f = parse_facts(&cases["flatpak"].1);
    assert_eq!(f.get("content./tmp/icon.png").map(String::as_str), Some("icon"), "{o}");
    assert!(f.get("mount./proc/acpi").is_some_and(|m| m.starts_with("tmpfs ")), "{o}");
}

#[test]
fn podman_full_userspace_container_root() {
    if nestwrap_only("container-fallbacks") {
        return;
    }
    podman_full(None);
}

#[test]
fn podman_full_userspace_user_1000() {
    if nestwrap_only("container-fallbacks") {
        return;
    }
    podman_full(Some("1000:1000"));
}

/// Control: in the same containers bwrap 0.8.0 passes exactly 1 of the 10
/// cases of issue 6 (the plain run as uid 1000).
#[test]
fn podman_bwrap_080_control() {
    if !require_podman() || !require_debian_bwrap() {
        return;
    }
    let mut passed = Vec::new();
    for user in [None, Some("1000:1000")] {
        let o = podman_run(Rootfs::Full, user, &[], &container_cases(DEBIAN_BWRAP, true));
        let cases = parse_cases(&o.stdout);
        assert_eq!(cases.len(), 5, "{o}");
        for (name, (rc, _)) in cases {
            if rc == 0 {
                passed.push(format!("{name}@{}", user.unwrap_or("root")));
            }
        }
    }
    assert_eq!(passed, ["plain@1000:1000"], "bwrap 0.8.0 passed: {passed:?}");
}

// ---- container root without CAP_SYS_ADMIN (rootless podman's default) -------

/// A user namespace's root with CAP_SYS_ADMIN dropped from every set: what
/// rootless podman gives a container's root.
const CONTAINER_ROOT: &[&str] =
    &["unshare", "-Ur", "setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin", "--"];

/// The implicit user namespace is a fallback only where bwrap 0.13.1 fails:
/// no user namespace asked for. `--unshare-all` (`--unshare-user-try`) gets
/// one from bwrap too. The run records `"userns": "implicit"` exactly where
/// `--diagnose` predicts it, from the same decision.
#[test]
fn container_root_implicit_userns_recorded_where_predicted() {
    if nestwrap_only("container-fallbacks") {
        return;
    }
    let plain: &[&str] = &["--ro-bind", "/", "/"];
    let all: &[&str] = &["--ro-bind", "/", "/", "--unshare-all"];
    both(|as_| {
        for (args, fallback) in [(plain, true), (all, false)] {
            let o = Sandbox::new(as_)
                .wrap(CONTAINER_ROOT)
                .arg("--json-status-fd")
                .arg("3")
                .args(args)
                .arg("true")
                .read_fd(3)
                .run();
            o.ok();
            let json = String::from_utf8_lossy(&o.fds[&3]).into_owned();
            let line = json
                .lines()
                .find(|l| l.starts_with("{ \"command-pid\": "))
                .unwrap_or_else(|| panic!("no command-pid line in {json:?}\n{o}"));
            assert_eq!(line.contains("\"userns\": \"implicit\""), fallback, "{line}\n{o}");

            let d = Sandbox::new(as_)
                .wrap(CONTAINER_ROOT)
                .arg("--diagnose")
                .arg("--")
                .args(args)
                .arg("true")
                .run();
            assert_eq!(d.status, 0, "{d}");
            let predicted = d.stdout.lines().any(|l| {
                l.split_whitespace().collect::<Vec<_>>()[..]
                    .starts_with(&["fallback", "userns:", "implicit"])
            });
            assert_eq!(predicted, fallback, "{d}");

            if let Some(bwrap) = reference_bwrap() {
                let r = Sandbox::new(as_)
                    .wrap(CONTAINER_ROOT)
                    .program(bwrap)
                    .args(args)
                    .arg("true")
                    .run();
                if fallback {
                    r.fails_with("bwrap: Creating new namespace failed: Operation not permitted");
                } else {
                    r.ok();
                }
            }
        }
    });
}
