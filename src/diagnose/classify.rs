//! Turning [`Facts`] into checks: one verdict, finding and fix each.
//!
//! Pure functions of the facts, so every branch is testable with made-up
//! facts (SELinux, AppArmor and hidepid are absent on the machines the
//! integration tests run on).

use nix::errno::Errno;

use super::probe::{Facts, Tried};
use crate::error::strerror;
use crate::sys::mount::ProcRefusal;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing in the way.
    Ok,
    /// Worth knowing; nothing fails because of it.
    Note,
    /// nestwrap works around it (bwrap would fail); the fix removes the need.
    Fallback,
    /// Sandboxes that need this fail here.
    Blocked,
    /// Could not be determined.
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Note => "note",
            Verdict::Fallback => "fallback",
            Verdict::Blocked => "blocked",
            Verdict::Unknown => "unknown",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub id: &'static str,
    pub verdict: Verdict,
    pub finding: String,
    pub fix: Option<String>,
}

fn check(id: &'static str, verdict: Verdict, finding: impl Into<String>) -> Check {
    Check { id, verdict, finding: finding.into(), fix: None }
}

impl Check {
    fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
}

const UNMASK_FIX: &str = "start the container with an unmasked /proc (podman: --security-opt \
                          unmask=ALL; docker: --security-opt systempaths=unconfined; Kubernetes: \
                          procMount: Unmasked with hostUsers: false)";
const SECCOMP_NS_FIX: &str = "let the container's seccomp profile allow clone/unshare with \
                              CLONE_NEWUSER (docker/podman: --security-opt seccomp=unconfined, or a \
                              custom profile)";
/// The fix wherever AppArmor keeps user namespaces from us: the profile the
/// nestwrap package installs (debian/apparmor/nestwrap), which grants
/// `userns,` to /usr/bin/nestwrap (and so to the nestwrap-bwrap package's
/// /usr/bin/bwrap symlink), or the sysctl.
pub const APPARMOR_USERNS_FIX: &str = "load nestwrap's AppArmor profile /etc/apparmor.d/nestwrap \
                                       (installed by the nestwrap package: apparmor_parser -r \
                                       /etc/apparmor.d/nestwrap; it grants `userns,` to \
                                       /usr/bin/nestwrap, a copy elsewhere needs the same rule in a \
                                       profile for its own path), or sysctl \
                                       kernel.apparmor_restrict_unprivileged_userns=0";

/// Every environment check, in report order.
pub fn environment(f: &Facts) -> Vec<Check> {
    let mut v = vec![setuid(f)];
    v.push(userns(f));
    v.push(debian_sysctl(f.unprivileged_userns_clone, f.euid == 0));
    v.push(ubuntu_sysctl(f.apparmor_restrict, &f.userns));
    v.push(nesting(f));
    v.push(seccomp_mode(f.status.seccomp, f.status.seccomp_filters));
    v.push(no_new_privs(f.status.no_new_privs));
    v.push(capabilities(f));
    v.push(apparmor(f.apparmor_enabled, f.apparmor_label.as_deref(), f.apparmor_restrict));
    v.push(selinux(f.selinux_enforcing, f.lsm_current.as_deref()));
    v.push(proc_masks(f));
    v.push(fresh_procfs(f));
    v.push(subset_pid(f));
    v.push(hidepid(f.proc_mount().map(|m| m.super_opts.as_str())));
    v.push(proc_sys(f.proc_sys_read_only()));
    v.extend(features(f));
    v.push(openat2(f.openat2_userspace));
    v.push(landlock(f));
    v
}

/// How sandbox destinations are resolved inside the new root.
fn openat2(userspace: bool) -> Check {
    if userspace {
        check(
            "openat2",
            Verdict::Fallback,
            "openat2 is refused (a kernel before 5.6 or a seccomp profile); destinations \
             resolve with nestwrap's userspace in-root resolver, as strict as RESOLVE_IN_ROOT",
        )
    } else {
        check("openat2", Verdict::Ok, "RESOLVE_IN_ROOT: destinations resolve in the kernel")
    }
}

/// The Landlock ABI and whether `--scope-abstract-unix-sockets` and
/// `--scope-signals` can be had. A note, not a block: only those two
/// nestwrap extensions need it.
pub fn landlock(f: &Facts) -> Check {
    const BOTH: &str = "--scope-abstract-unix-sockets and --scope-signals";
    let abi = match f.landlock_abi {
        Ok(n) => format!("Landlock ABI {n}"),
        Err(_) => "no Landlock".to_owned(),
    };
    if let Some(why) = crate::sandbox::scope::unavailable(f.landlock_abi) {
        let fix = match f.landlock_abi {
            Err(Errno::EOPNOTSUPP) => "add landlock to the kernel's lsm= boot parameter",
            Err(Errno::ENOSYS) | Ok(_) => "a kernel with Landlock ABI 6 (Linux 6.12 or later)",
            Err(_) => "let the seccomp profile allow the landlock_* syscalls",
        };
        return check(
            "landlock",
            Verdict::Note,
            format!("{abi}: {BOTH} are unavailable (they need ABI 6): {why}"),
        )
        .fix(fix);
    }
    match &f.landlock_scopes {
        Tried::Works => check(
            "landlock",
            Verdict::Ok,
            format!("{abi}: scopes abstract-unix-sockets and signals available ({BOTH})"),
        ),
        Tried::Skipped(r) => check("landlock", Verdict::Unknown, format!("{abi}; not tried: {r}")),
        t => check(
            "landlock",
            Verdict::Note,
            format!("{abi}, but entering a scoped domain {}: {BOTH} fail", t.describe()),
        ),
    }
}

fn setuid(f: &Facts) -> Check {
    if f.secure_exec {
        check(
            "setuid",
            Verdict::Blocked,
            "this nestwrap was exec'd setuid, setgid or with file capabilities: it refuses to run \
             (\"setuid use of bubblewrap is not supported\"); probes skipped",
        )
        .fix("remove the setuid bit or file capabilities (chmod u-s, setcap -r): nestwrap needs none")
    } else {
        check("setuid", Verdict::Ok, "not setuid (no AT_SECURE)")
    }
}

fn userns(f: &Facts) -> Check {
    let max = match f.max_user_namespaces {
        Some(n) => format!(" (user.max_user_namespaces={n})"),
        None => String::new(),
    };
    // Root holding CAP_SYS_ADMIN needs no user namespace unless asked.
    let severity = if f.euid == 0 && f.has_sys_admin() { Verdict::Note } else { Verdict::Blocked };
    match &f.userns {
        Tried::Works => {
            check("userns", Verdict::Ok, format!("a new user namespace maps our ids{max}"))
        }
        Tried::Skipped(r) => check("userns", Verdict::Unknown, format!("not tried: {r}")),
        Tried::Fails { step, errno } if step == "clone" => {
            let (cause, fix) = match *errno {
                Errno::EPERM | Errno::EACCES if f.unprivileged_userns_clone == Some(0) => (
                    "Debian's kernel.unprivileged_userns_clone is 0".to_owned(),
                    "sysctl kernel.unprivileged_userns_clone=1".to_owned(),
                ),
                Errno::EPERM if !f.euid_mapped => (
                    format!(
                        "our uid {} is not mapped in this user namespace, and the kernel refuses \
                         nested user namespaces to unmapped users",
                        f.euid
                    ),
                    "map the caller's uid in the enclosing user namespace (unshare \
                     --map-current-user, or the container engine's uid mapping)"
                        .to_owned(),
                ),
                Errno::EPERM if f.status.seccomp == Some(2) => (
                    "most likely this process's seccomp filter (a container profile)".to_owned(),
                    SECCOMP_NS_FIX.to_owned(),
                ),
                Errno::EPERM => (
                    "refused (chroot, an LSM, or a seccomp filter)".to_owned(),
                    "run `nestwrap --diagnose` outside the container to compare; check the \
                     confinement lines below"
                        .to_owned(),
                ),
                Errno::ENOSPC => (
                    format!("limit reached{max} or nesting depth exhausted"),
                    "raise user.max_user_namespaces or nest fewer levels".to_owned(),
                ),
                Errno::EINVAL => (
                    "this kernel has no user namespaces".to_owned(),
                    "a kernel with CONFIG_USER_NS".to_owned(),
                ),
                _ => ("refused".to_owned(), "see the lines below".to_owned()),
            };
            check(
                "userns",
                severity,
                format!("clone(CLONE_NEWUSER): {}: {cause}", strerror(*errno)),
            )
            .fix(fix)
        }
        Tried::Fails { step, errno } => {
            let mut c = check(
                "userns",
                severity,
                format!(
                    "created, but writing its {step} fails: {} (no capabilities inside it)",
                    strerror(*errno)
                ),
            );
            if f.apparmor_restrict == Some(1) || f.apparmor_label.is_some() {
                c = c.fix(APPARMOR_USERNS_FIX);
            }
            c
        }
    }
}

/// Debian's `kernel.unprivileged_userns_clone`.
pub fn debian_sysctl(value: Option<u64>, root: bool) -> Check {
    let id = "unprivileged_userns_clone";
    match value {
        None => check(
            id,
            Verdict::Ok,
            "kernel.unprivileged_userns_clone absent (not a Debian-patched kernel)",
        ),
        Some(0) if root => {
            check(id, Verdict::Note, "kernel.unprivileged_userns_clone=0 (root is not affected)")
        }
        Some(0) => check(
            id,
            Verdict::Blocked,
            "kernel.unprivileged_userns_clone=0: unprivileged user namespaces are disabled",
        )
        .fix("sysctl kernel.unprivileged_userns_clone=1"),
        Some(n) => check(id, Verdict::Ok, format!("kernel.unprivileged_userns_clone={n}")),
    }
}

/// Ubuntu's `kernel.apparmor_restrict_unprivileged_userns` (23.10+).
pub fn ubuntu_sysctl(value: Option<u64>, userns: &Tried) -> Check {
    let id = "apparmor_restrict_unprivileged_userns";
    match value {
        None => check(id, Verdict::Ok, "kernel.apparmor_restrict_unprivileged_userns absent"),
        Some(0) => check(id, Verdict::Ok, "kernel.apparmor_restrict_unprivileged_userns=0"),
        Some(n) if userns.works() => check(
            id,
            Verdict::Note,
            format!(
                "kernel.apparmor_restrict_unprivileged_userns={n}, but user namespaces work for \
                 this binary (a profile grants `userns`, or the caller is privileged)"
            ),
        ),
        Some(n) => check(
            id,
            Verdict::Blocked,
            format!(
                "kernel.apparmor_restrict_unprivileged_userns={n}: user namespaces of unconfined \
                 programs get no capabilities (bwrap: \"setting up uid map: Permission denied\")"
            ),
        )
        .fix(APPARMOR_USERNS_FIX),
    }
}

/// The kernel's nesting limits: 32 pid namespace levels below the initial
/// one (MAX_PID_NS_LEVEL) and 32 user namespace levels.
const PID_LEVELS: u32 = 32;

fn nesting(f: &Facts) -> Check {
    let Some(d) = f.depth else {
        return check("nesting", Verdict::Unknown, "not measured (the probe child failed)");
    };
    let stop = |e: Option<Errno>| e.map(|e| format!(" ({})", e.desc())).unwrap_or_default();
    if d.user_left == 0 && d.pid_left == 0 {
        return check(
            "nesting",
            Verdict::Unknown,
            format!(
                "not measurable: no user or pid namespace can be created here{}",
                stop(d.user_stop)
            ),
        );
    }
    let levels = if d.user_left == 0 { d.pid_left } else { d.user_left.min(d.pid_left) };
    let depth = PID_LEVELS.saturating_sub(d.pid_left);
    let finding = format!(
        "{levels} more sandbox level(s) possible: {} nested user and {} nested pid namespaces \
         can still be created (current pid namespace depth {depth})",
        d.user_left, d.pid_left
    );
    match levels {
        0 => check("nesting", Verdict::Blocked, finding + "; the next sandbox fails with ENOSPC")
            .fix(
            "start the sandbox from a shallower level (each nested container or sandbox uses one)",
        ),
        1 => check(
            "nesting",
            Verdict::Note,
            finding + "; --disable-userns and the pivot_root fallback need a second user namespace",
        ),
        _ => check("nesting", Verdict::Ok, finding),
    }
}

/// `Seccomp:` of /proc/self/status.
pub fn seccomp_mode(mode: Option<u32>, filters: Option<u32>) -> Check {
    match mode {
        Some(0) => check("seccomp-mode", Verdict::Ok, "no seccomp filter on this process"),
        Some(2) => check(
            "seccomp-mode",
            Verdict::Note,
            format!(
                "confined by {} seccomp filter(s) (mode 2, as container runtimes install); what \
                 they refuse shows in the feature lines",
                filters.map(|n| n.to_string()).unwrap_or_else(|| "some".into())
            ),
        ),
        Some(1) => {
            check("seccomp-mode", Verdict::Blocked, "strict seccomp mode: almost nothing works")
        }
        _ => check("seccomp-mode", Verdict::Unknown, "no Seccomp line in /proc/self/status"),
    }
}

pub fn no_new_privs(nnp: Option<bool>) -> Check {
    match nnp {
        Some(true) => check(
            "no_new_privs",
            Verdict::Ok,
            "set already (nestwrap sets it anyway; setuid programs inside gain nothing)",
        ),
        Some(false) => {
            check("no_new_privs", Verdict::Ok, "not set (nestwrap sets it for the sandbox)")
        }
        None => check("no_new_privs", Verdict::Unknown, "no NoNewPrivs line in /proc/self/status"),
    }
}

/// Names of the capabilities in a mask, or `none`/`all N`.
pub fn cap_names(mask: u64) -> String {
    let names: Vec<&str> = (0..64)
        .filter(|b| mask & (1u64 << b) != 0)
        .map(|b| crate::cli::spec::CAP_NAMES.get(b as usize).copied().unwrap_or("?"))
        .collect();
    match names.len() {
        0 => "none".into(),
        n if n >= 20 => format!("{n} capabilities"),
        _ => names
            .iter()
            .map(|n| n.trim_start_matches("CAP_").to_lowercase())
            .collect::<Vec<_>>()
            .join(","),
    }
}

fn capabilities(f: &Facts) -> Check {
    let eff = f.status.cap_eff.unwrap_or(0);
    let bnd = f.status.cap_bnd.unwrap_or(0);
    let admin_bnd = bnd & (1 << 21) != 0;
    let sets = format!(
        "effective: {}; bounding: {}{}",
        cap_names(eff),
        cap_names(bnd),
        if admin_bnd { "" } else { " (no CAP_SYS_ADMIN)" }
    );
    if f.euid == 0 && !f.has_sys_admin() {
        check(
            "capabilities",
            Verdict::Fallback,
            format!(
                "container root without CAP_SYS_ADMIN: nestwrap creates a user namespace \
                 implicitly (bwrap fails: \"Creating new namespace failed: Operation not \
                 permitted\"); {sets}"
            ),
        )
    } else if f.euid == 0 {
        check("capabilities", Verdict::Ok, format!("root with CAP_SYS_ADMIN; {sets}"))
    } else if eff != 0 {
        check(
            "capabilities",
            Verdict::Note,
            format!(
                "not root but holding capabilities (e.g. podman --userns=keep-id): accepted by \
                 nestwrap (bwrap refuses); {sets}"
            ),
        )
    } else {
        check("capabilities", Verdict::Ok, format!("unprivileged; {sets}"))
    }
}

/// AppArmor confinement from `/proc/self/attr/apparmor/current`
/// (`unconfined`, `docker-default (enforce)`, ...). Real exercise: Ubuntu
/// 23.10+ (the userns restriction) or Docker on Ubuntu/Debian with AppArmor
/// enabled (`docker-default`).
pub fn apparmor(enabled: bool, label: Option<&str>, restrict: Option<u64>) -> Check {
    let id = "apparmor";
    let label = label.map(str::trim).filter(|l| !l.is_empty());
    let Some(label) = label else {
        return if enabled {
            check(id, Verdict::Ok, "AppArmor enabled, no label for this process")
        } else {
            check(id, Verdict::Ok, "AppArmor not active")
        };
    };
    let (profile, mode) = match label.rsplit_once(" (") {
        Some((p, m)) => (p, m.trim_end_matches(')')),
        None => (label, ""),
    };
    if profile == "unconfined" {
        return match restrict {
            Some(n) if n != 0 => check(
                id,
                Verdict::Note,
                "unconfined, but kernel.apparmor_restrict_unprivileged_userns is set: new user \
                 namespaces of unconfined programs are moved to a profile without capabilities",
            )
            .fix(APPARMOR_USERNS_FIX),
            _ => check(id, Verdict::Ok, "unconfined"),
        };
    }
    if mode == "complain" {
        return check(id, Verdict::Ok, format!("profile {profile} in complain mode (logs only)"));
    }
    if profile == "unprivileged_userns" {
        return check(
            id,
            Verdict::Blocked,
            "inside Ubuntu's unprivileged_userns profile: user namespaces have no capabilities, \
             mounts and uid maps fail",
        )
        .fix(APPARMOR_USERNS_FIX);
    }
    let container = profile == "docker-default" || profile.starts_with("containers-default");
    let mut c = check(
        id,
        Verdict::Blocked,
        format!(
            "confined by AppArmor profile {profile} ({}): {}",
            if mode.is_empty() { "enforce" } else { mode },
            if container {
                "the container runtime's default profile denies mount(2), so every sandbox \
                 mount fails"
            } else {
                "namespaces and mounts fail unless the profile allows `userns,` and mount rules"
            }
        ),
    );
    c = if container {
        c.fix("run the container with --security-opt apparmor=unconfined (or a profile allowing mount and userns)")
    } else {
        c.fix(format!(
            "add `userns,` and mount rules to profile {profile}, or run nestwrap unconfined"
        ))
    };
    c
}

/// SELinux confinement from `/proc/self/attr/current` while selinuxfs is
/// mounted. Real exercise: Fedora/RHEL with podman (`container_t`).
pub fn selinux(enforcing: Option<bool>, label: Option<&str>) -> Check {
    let id = "selinux";
    let Some(enforcing) = enforcing else {
        return check(id, Verdict::Ok, "SELinux not active");
    };
    let label = label.map(str::trim).filter(|l| !l.is_empty()).unwrap_or("?");
    let ty = label.split(':').nth(2).unwrap_or("");
    if !enforcing {
        return check(id, Verdict::Ok, format!("permissive (logs only), label {label}"));
    }
    match ty {
        "container_t" | "container_init_t" => check(
            id,
            Verdict::Blocked,
            format!(
                "enforcing, confined as {ty} ({label}): the policy denies mounting proc, tmpfs \
                 and other filesystems inside the container"
            ),
        )
        .fix(
            "run the outer container with --security-opt label=disable, or as \
             label=type:container_engine_t (made for engines inside containers)",
        ),
        "unconfined_t" | "spc_t" | "container_engine_t" | "kernel_t" | "initrc_t" => {
            check(id, Verdict::Ok, format!("enforcing, label {label} (not restricted for sandboxes)"))
        }
        _ => check(
            id,
            Verdict::Note,
            format!("enforcing, label {label}: if mounts fail with EACCES, the policy for {ty} is the cause"),
        )
        .fix("check `ausearch -m avc` for denials"),
    }
}

fn mask_list(f: &Facts) -> String {
    f.proc_masks().iter().map(|m| m.mount_point.as_str()).collect::<Vec<_>>().join(" ")
}

fn proc_masks(f: &Facts) -> Check {
    let masks = f.proc_masks();
    if masks.is_empty() {
        return check("proc-masks", Verdict::Ok, "nothing mounted over /proc entries");
    }
    check(
        "proc-masks",
        Verdict::Note,
        format!("{} mount(s) over /proc entries (container masks): {}", masks.len(), mask_list(f)),
    )
}

/// What `--proc` in a new user + pid namespace gets.
pub fn fresh_procfs(f: &Facts) -> Check {
    let id = "fresh-procfs";
    let p = match &f.proc {
        Ok(p) => p,
        Err(t) => {
            return check(
                id,
                Verdict::Unknown,
                format!("not tried: a new user + mount + pid namespace {}", t.describe()),
            )
        }
    };
    match (&p.fresh, p.reason) {
        (Tried::Works, _) => check(id, Verdict::Ok, "a new procfs mounts in a new user + pid namespace"),
        (Tried::Fails { errno: Errno::EPERM, .. }, reason)
            if reason.is_some_and(|r| {
                crate::fallback::proc_masked(r, || !f.proc_masks().is_empty())
            }) =>
        {
            let how = if reason == Some(ProcRefusal::TooRevealing) {
                "\"Mount too revealing\""
            } else {
                "masked, judged from mountinfo"
            };
            let tier = if p.subset_pid.works() {
                "subset=pid procfs (only process directories)"
            } else {
                "parent procfs bind (the sandbox sees the container's pids)"
            };
            check(
                id,
                Verdict::Fallback,
                format!("refused ({how}), masks at {}; fallback: {tier}", mask_list(f)),
            )
            .fix(UNMASK_FIX)
        }
        (Tried::Fails { errno, .. }, _) => check(
            id,
            Verdict::Blocked,
            format!(
                "refused ({}), not because of masks (a seccomp filter or an LSM): --proc with a \
                 new pid namespace fails as in bwrap",
                strerror(*errno)
            ),
        )
        .fix("use --bind /proc /proc, or no --unshare-pid, instead of --proc; or allow mount in the container's policy"),
        (Tried::Skipped(r), _) => check(id, Verdict::Unknown, format!("not tried: {r}")),
    }
}

fn subset_pid(f: &Facts) -> Check {
    let id = "subset-pid";
    let Ok(p) = &f.proc else {
        return check(id, Verdict::Unknown, "not tried");
    };
    match (&p.subset_pid, p.fresh.works()) {
        (Tried::Works, true) => check(id, Verdict::Ok, "a subset=pid procfs mounts too"),
        (Tried::Works, false) => check(
            id,
            Verdict::Ok,
            "a subset=pid procfs is allowed although a full one is not: nestwrap's first fallback tier",
        ),
        (t @ Tried::Fails { .. }, _) => check(
            id,
            Verdict::Note,
            format!(
                "subset=pid procfs {}: this kernel lacks the subset=pid relaxation, so the \
                 fallback binds the parent's /proc",
                t.describe()
            ),
        ),
        (Tried::Skipped(r), _) => check(id, Verdict::Unknown, format!("not tried: {r}")),
    }
}

/// `hidepid=` among the super-block options of the `/proc` mount. Real
/// exercise: hardened hosts (`mount -o remount,hidepid=invisible /proc`).
pub fn hidepid(super_opts: Option<&str>) -> Check {
    let id = "hidepid";
    let Some(opts) = super_opts else {
        return check(id, Verdict::Unknown, "no procfs mounted on /proc");
    };
    let value = opts.split(',').find_map(|o| o.strip_prefix("hidepid="));
    let subset = opts.split(',').any(|o| o == "subset=pid");
    let mut c = match value {
        None | Some("0") | Some("off") => {
            check(id, Verdict::Ok, "/proc shows every process (no hidepid)")
        }
        Some(v) => {
            let what = match v {
                "1" | "noaccess" => "other users' /proc/PID directories are listed but unreadable",
                "2" | "invisible" => "other users' processes are invisible in /proc",
                "4" | "ptraceable" => "only processes this one may ptrace are visible in /proc",
                _ => "some processes are hidden in /proc",
            };
            check(
                id,
                Verdict::Note,
                format!(
                    "hidepid={v}: {what}; nestwrap only reads /proc/self, but a sandbox using the \
                     parent procfs bind fallback inherits this view"
                ),
            )
        }
    };
    if subset {
        c.verdict = Verdict::Note;
        c.finding.push_str("; /proc is mounted subset=pid (no /proc/sys and system files)");
    }
    c
}

fn proc_sys(read_only: bool) -> Check {
    if read_only {
        check(
            "proc-sys",
            Verdict::Fallback,
            "/proc/sys is read-only (container default): --disable-userns uses nestwrap's seccomp \
             lock (bwrap fails: \"cannot open /proc/sys/user/max_user_namespaces: Read-only file \
             system\")",
        )
    } else {
        check("proc-sys", Verdict::Ok, "/proc/sys is writable where permitted")
    }
}

fn feature(id: &'static str, t: &Tried, ok: &str, fails: &str) -> Check {
    match t {
        Tried::Works => check(id, Verdict::Ok, ok),
        Tried::Fails { step, errno } if step == "clone" => check(
            id,
            Verdict::Blocked,
            format!(
                "not tried: its namespaces cannot be created (clone: {}; see userns): {fails}",
                strerror(*errno)
            ),
        ),
        Tried::Skipped(r) => check(id, Verdict::Unknown, format!("not tried: {r}")),
        t => check(id, Verdict::Blocked, format!("{}: {fails}", t.describe())),
    }
}

fn features(f: &Facts) -> Vec<Check> {
    let mut v = Vec::new();
    v.push(feature(
        "mount-ns",
        &f.mount_ns,
        "a new user + mount namespace can mount a tmpfs",
        "every sandbox fails",
    ));
    let pid = match &f.proc {
        Ok(_) => Tried::Works,
        Err(t) => t.clone(),
    };
    v.push(feature("pid-ns", &pid, "a new pid namespace can be created", "--unshare-pid fails"));
    let mut net = feature(
        "net-loopback",
        &f.net,
        "a new network namespace gets a working loopback",
        "--unshare-net and --unshare-all fail (bwrap: \"loopback: Failed RTM_NEWADDR\")",
    );
    if net.verdict == Verdict::Blocked
        && (f.apparmor_restrict.is_some_and(|n| n != 0) || f.apparmor_label.is_some())
    {
        net = net.fix(APPARMOR_USERNS_FIX);
    }
    v.push(net);
    v.push(match &f.pivot_root {
        Tried::Fails { errno: e @ (Errno::EPERM | Errno::EINVAL), step }
            if step == "pivot_root" =>
        {
            check(
                "pivot-root",
                Verdict::Fallback,
                format!(
                "pivot_root refused ({}, typically a container seccomp profile); fallback: locked \
                 chroot (one more user + mount namespace)",
                strerror(*e)
            ),
            )
            .fix("allow pivot_root in the container's seccomp profile")
        }
        t => feature("pivot-root", t, "pivot_root works", "every sandbox fails"),
    });
    v.push(feature(
        "overlay",
        &f.overlay,
        "overlayfs with userxattr mounts in a user namespace",
        "--overlay, --tmp-overlay and --ro-overlay fail",
    ));
    v.push(feature("devpts", &f.devpts, "a new devpts instance mounts", "--dev fails"));
    v.push(feature(
        "seccomp",
        &f.seccomp,
        "seccomp filters install and are enforced (--seccomp, --add-seccomp-fd, the --disable-userns lock)",
        "--seccomp, --add-seccomp-fd and the --disable-userns lock fail",
    ));
    v
}
