//! Unit tests of the classifiers and of the command-line prediction, on
//! made-up facts. SELinux, AppArmor and hidepid are absent on the machines
//! the integration tests run on; each test names the environment that
//! would exercise its branch for real.

use std::ffi::OsString;

use nix::errno::Errno;

use super::classify::{self, Verdict};
use super::plan::{plan, predict};
use super::probe::{id_mapped, parse_mounts, Depth, Facts, Mount, ProcProbe, Status, Tried};
use super::*;
use crate::cli::HostFacts;
use crate::fallback::Fallbacks;
use crate::sys::mount::ProcRefusal;

fn mount(point: &str, fstype: &str, ro: bool, opts: &str) -> Mount {
    Mount {
        mount_point: point.into(),
        fstype: fstype.into(),
        read_only: ro,
        super_opts: opts.into(),
    }
}

/// An unprivileged caller on a plain host where everything works.
fn plain() -> Facts {
    Facts {
        uid: 1001,
        euid: 1001,
        gid: 1001,
        kernel: "6.18".into(),
        secure_exec: false,
        init_userns: true,
        euid_mapped: true,
        max_user_namespaces: Some(1000),
        unprivileged_userns_clone: None,
        apparmor_restrict: None,
        status: Status {
            seccomp: Some(0),
            seccomp_filters: Some(0),
            no_new_privs: Some(false),
            cap_eff: Some(0),
            cap_bnd: Some((1 << 41) - 1),
        },
        apparmor_enabled: false,
        apparmor_label: None,
        selinux_enforcing: None,
        lsm_current: None,
        mounts: vec![mount("/", "ext4", false, "rw"), mount("/proc", "proc", false, "rw")],
        has_tmp: true,
        userns: Tried::Works,
        depth: Some(Depth {
            user_left: 33,
            user_stop: Some(Errno::ENOSPC),
            pid_left: 32,
            pid_stop: Some(Errno::ENOSPC),
        }),
        mount_ns: Tried::Works,
        proc: Ok(ProcProbe { fresh: Tried::Works, reason: None, subset_pid: Tried::Works }),
        net: Tried::Works,
        pivot_root: Tried::Works,
        overlay: Tried::Works,
        devpts: Tried::Works,
        seccomp: Tried::Works,
        landlock_abi: Ok(7),
        landlock_scopes: Tried::Works,
        openat2_userspace: false,
    }
}

/// Docker/podman-style: masks, read-only /proc/sys, seccomp filter.
fn container() -> Facts {
    let mut f = plain();
    f.init_userns = false;
    f.status.seccomp = Some(2);
    f.status.seccomp_filters = Some(1);
    f.mounts = vec![
        mount("/", "overlay", false, "rw"),
        mount("/proc", "proc", false, "rw"),
        mount("/proc/acpi", "tmpfs", true, "ro"),
        mount("/proc/kcore", "tmpfs", false, "rw"),
        mount("/proc/sys", "proc", true, "rw"),
        mount("/proc/sys/fs/binfmt_misc", "autofs", false, "rw"),
    ];
    f.proc = Ok(ProcProbe {
        fresh: Tried::Fails { step: "mount proc".into(), errno: Errno::EPERM },
        reason: Some(ProcRefusal::TooRevealing),
        subset_pid: Tried::Fails { step: "mount proc subset=pid".into(), errno: Errno::EPERM },
    });
    f
}

fn by_id(f: &Facts, id: &str) -> classify::Check {
    classify::environment(f).into_iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no {id}"))
}

fn user_host() -> HostFacts {
    HostFacts {
        is_root: false,
        userns_available: true,
        cgroupns_supported: true,
        real_uid: 1001,
        real_gid: 1001,
        has_sys_admin: false,
    }
}

fn args(a: &[&str]) -> Vec<OsString> {
    a.iter().map(OsString::from).collect()
}

fn fallbacks(f: &Facts, host: &HostFacts, a: &[&str], env: Option<&str>) -> Fallbacks {
    plan(args(a), f, host, env).fallbacks
}

const SANDBOX: &[&str] = &["--ro-bind", "/", "/", "--unshare-all", "--proc", "/proc", "true"];

#[test]
fn plain_host_is_all_ok() {
    for c in classify::environment(&plain()) {
        assert_eq!(c.verdict, Verdict::Ok, "{c:?}");
    }
    let p = plan(args(SANDBOX), &plain(), &user_host(), None);
    assert!(p.fallbacks.is_empty());
    assert_eq!(p.checks.last().unwrap().id, "command");
}

#[test]
fn masked_proc_falls_back_to_parent_bind() {
    let f = container();
    let c = by_id(&f, "fresh-procfs");
    assert_eq!(c.verdict, Verdict::Fallback);
    assert_eq!(
        c.finding,
        "refused (\"Mount too revealing\"), masks at /proc/acpi /proc/kcore /proc/sys; fallback: \
         parent procfs bind (the sandbox sees the container's pids)"
    );
    assert!(c.fix.unwrap().contains("unmask=ALL"));
    assert_eq!(by_id(&f, "proc-masks").verdict, Verdict::Note);
    assert_eq!(fallbacks(&f, &user_host(), SANDBOX, None), [("proc", "parent-bind")]);
    // Without a new pid namespace bwrap binds the parent's /proc anyway.
    let p = plan(args(&["--ro-bind", "/", "/", "--proc", "/proc", "true"]), &f, &user_host(), None);
    assert!(p.fallbacks.is_empty());
    assert!(p.checks[0].finding.contains("no new pid namespace"));
}

#[test]
fn subset_pid_tier_when_the_kernel_allows_it() {
    // Kernels with the "subset=pid: relax check of mount visibility" series.
    let mut f = container();
    if let Ok(p) = &mut f.proc {
        p.subset_pid = Tried::Works;
    }
    assert!(by_id(&f, "fresh-procfs")
        .finding
        .ends_with("fallback: subset=pid procfs (only process directories)"));
    assert_eq!(fallbacks(&f, &user_host(), SANDBOX, None), [("proc", "subset-pid")]);
}

#[test]
fn proc_fallback_never_predicts_bwraps_failure() {
    let f = container();
    for (a, env) in [(&["--proc-fallback", "never"][..], None), (&[][..], Some("never"))] {
        let all: Vec<&str> = a.iter().chain(SANDBOX).copied().collect();
        let p = plan(args(&all), &f, &user_host(), env);
        assert!(p.fallbacks.is_empty());
        let c = p.checks.iter().find(|c| c.id == "proc").unwrap();
        assert_eq!(c.verdict, Verdict::Blocked);
        assert!(c.finding.contains("Can't mount proc on /proc: Operation not permitted"));
    }
}

#[test]
fn other_proc_refusal_has_no_fallback() {
    let mut f = plain();
    f.proc = Ok(ProcProbe {
        fresh: Tried::Fails { step: "mount proc".into(), errno: Errno::EPERM },
        reason: Some(ProcRefusal::Other),
        subset_pid: Tried::Fails { step: "mount proc subset=pid".into(), errno: Errno::EPERM },
    });
    assert_eq!(by_id(&f, "fresh-procfs").verdict, Verdict::Blocked);
    let p = plan(args(SANDBOX), &f, &user_host(), None);
    assert!(p.fallbacks.is_empty());
    assert_eq!(p.checks.iter().find(|c| c.id == "proc").unwrap().verdict, Verdict::Blocked);
}

#[test]
fn root_without_a_user_namespace_is_not_masked() {
    // Root with CAP_SYS_ADMIN in the initial namespaces, no --unshare-user:
    // the "mount too revealing" rule does not apply.
    let mut f = container();
    f.init_userns = true;
    let root =
        HostFacts { is_root: true, has_sys_admin: true, real_uid: 0, real_gid: 0, ..user_host() };
    let p = plan(
        args(&["--ro-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "true"]),
        &f,
        &root,
        None,
    );
    assert!(p.fallbacks.is_empty(), "{p:?}");
}

#[test]
fn read_only_proc_sys_uses_the_seccomp_lock() {
    let f = container();
    let c = by_id(&f, "proc-sys");
    assert_eq!(c.verdict, Verdict::Fallback);
    let a = ["--unshare-user", "--disable-userns", "--ro-bind", "/", "/", "true"];
    assert_eq!(fallbacks(&f, &user_host(), &a, None), [("userns-lock", "seccomp")]);
    let mut f = f;
    f.seccomp =
        Tried::Fails { step: "seccomp(SECCOMP_SET_MODE_FILTER)".into(), errno: Errno::EINVAL };
    let p = plan(args(&a), &f, &user_host(), None);
    assert!(p.fallbacks.is_empty());
    assert_eq!(p.checks[0].verdict, Verdict::Blocked);
    // Writable /proc/sys: the sysctl, as bwrap.
    assert!(fallbacks(&plain(), &user_host(), &a, None).is_empty());
}

#[test]
fn pivot_root_refused_uses_the_locked_chroot() {
    // Docker's seccomp profile (reference test-environments §2b).
    let mut f = plain();
    f.pivot_root = Tried::Fails { step: "pivot_root".into(), errno: Errno::EPERM };
    assert_eq!(by_id(&f, "pivot-root").verdict, Verdict::Fallback);
    assert_eq!(
        fallbacks(&f, &user_host(), &["--ro-bind", "/", "/", "true"], None),
        [("pivot-root", "locked-chroot")]
    );
    // A clone failure is not a pivot_root refusal.
    f.pivot_root = Tried::Fails { step: "clone".into(), errno: Errno::EPERM };
    assert_eq!(by_id(&f, "pivot-root").verdict, Verdict::Blocked);
    assert!(fallbacks(&f, &user_host(), &["--ro-bind", "/", "/", "true"], None).is_empty());
}

#[test]
fn container_root_without_cap_sys_admin_gets_an_implicit_userns() {
    // Rootless podman, container root.
    let mut f = container();
    f.uid = 0;
    f.euid = 0;
    f.status.cap_eff = Some(0xa80425fb);
    assert_eq!(by_id(&f, "capabilities").verdict, Verdict::Fallback);
    let root =
        HostFacts { is_root: true, has_sys_admin: false, real_uid: 0, real_gid: 0, ..user_host() };
    // Without a user namespace asked for, bwrap 0.13.1 fails ("Creating
    // new namespace failed"): the one nestwrap makes is a fallback.
    let pid: &[&str] = &["--ro-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "true"];
    assert_eq!(fallbacks(&f, &root, pid, None), [("userns", "implicit"), ("proc", "parent-bind")]);
    // --unshare-all includes --unshare-user-try, which gives bwrap 0.13.1 a
    // user namespace too (measured: it runs there), so it is no fallback.
    assert_eq!(fallbacks(&f, &root, SANDBOX, None), [("proc", "parent-bind")]);
    // Asked for explicitly, it is no fallback.
    let a: Vec<&str> = ["--unshare-user"].iter().chain(SANDBOX).copied().collect();
    assert_eq!(fallbacks(&f, &root, &a, None), [("proc", "parent-bind")]);
}

#[test]
fn nesting_exhausted() {
    let mut f = plain();
    f.depth = Some(Depth {
        user_left: 0,
        user_stop: Some(Errno::ENOSPC),
        pid_left: 0,
        pid_stop: Some(Errno::ENOSPC),
    });
    let c = by_id(&f, "nesting");
    assert_eq!(c.verdict, Verdict::Unknown, "{c:?}");
    f.depth = Some(Depth {
        user_left: 1,
        user_stop: Some(Errno::ENOSPC),
        pid_left: 0,
        pid_stop: Some(Errno::ENOSPC),
    });
    assert_eq!(by_id(&f, "nesting").verdict, Verdict::Blocked);
    let p = plan(args(SANDBOX), &f, &user_host(), None);
    let c = p.checks.iter().find(|c| c.id == "nesting").unwrap();
    assert!(c.finding.contains("(ENOSPC)"), "{c:?}");
    f.depth = Some(Depth {
        user_left: 1,
        user_stop: Some(Errno::ENOSPC),
        pid_left: 5,
        pid_stop: Some(Errno::ENOSPC),
    });
    assert_eq!(by_id(&f, "nesting").verdict, Verdict::Note);
    // --disable-userns needs a second user namespace.
    let a = ["--unshare-user", "--disable-userns", "--ro-bind", "/", "/", "true"];
    assert!(plan(args(&a), &f, &user_host(), None).checks.iter().any(|c| c.id == "nesting"));
}

#[test]
fn userns_causes() {
    let mut f = plain();
    f.userns = Tried::Fails { step: "clone".into(), errno: Errno::EPERM };
    f.unprivileged_userns_clone = Some(0);
    let c = by_id(&f, "userns");
    assert_eq!(c.verdict, Verdict::Blocked);
    assert_eq!(c.fix.as_deref(), Some("sysctl kernel.unprivileged_userns_clone=1"));
    assert_eq!(by_id(&f, "unprivileged_userns_clone").verdict, Verdict::Blocked);
    f.unprivileged_userns_clone = None;
    f.status.seccomp = Some(2);
    assert!(by_id(&f, "userns").fix.unwrap().contains("seccomp=unconfined"));
    f.euid_mapped = false;
    assert!(by_id(&f, "userns").finding.contains("not mapped"));
    // Ubuntu 23.10+: userns created, but without capabilities.
    let mut f = plain();
    f.apparmor_restrict = Some(1);
    f.userns = Tried::Fails { step: "uid map".into(), errno: Errno::EPERM };
    let c = by_id(&f, "userns");
    assert_eq!(c.verdict, Verdict::Blocked);
    assert!(c.fix.unwrap().contains("apparmor_restrict_unprivileged_userns=0"));
    assert_eq!(by_id(&f, "apparmor_restrict_unprivileged_userns").verdict, Verdict::Blocked);
    f.userns = Tried::Works;
    assert_eq!(by_id(&f, "apparmor_restrict_unprivileged_userns").verdict, Verdict::Note);
}

/// Real exercise: Ubuntu 24.04 (restriction sysctl, `unprivileged_userns`
/// profile) and Docker on an AppArmor host (`docker-default (enforce)`).
#[test]
fn apparmor_labels() {
    assert_eq!(classify::apparmor(false, None, None).verdict, Verdict::Ok);
    assert_eq!(classify::apparmor(true, Some("unconfined\n"), None).finding, "unconfined");
    let c = classify::apparmor(true, Some("unconfined"), Some(1));
    assert_eq!(c.verdict, Verdict::Note);
    assert!(c.fix.unwrap().contains("`userns,`"));
    let c = classify::apparmor(true, Some("docker-default (enforce)"), None);
    assert_eq!(c.verdict, Verdict::Blocked);
    assert!(c.finding.contains("profile docker-default (enforce)"), "{c:?}");
    assert!(c.fix.unwrap().contains("apparmor=unconfined"));
    let c = classify::apparmor(true, Some("containers-default-0.50.1 (enforce)"), None);
    assert!(c.fix.unwrap().contains("apparmor=unconfined"));
    let c = classify::apparmor(true, Some("unprivileged_userns (enforce)"), Some(1));
    assert_eq!(c.verdict, Verdict::Blocked);
    assert!(c.finding.contains("unprivileged_userns"));
    let c = classify::apparmor(true, Some("/usr/bin/foo (complain)"), None);
    assert_eq!(c.verdict, Verdict::Ok);
    let c = classify::apparmor(true, Some("myprofile (enforce)"), None);
    assert!(c.fix.unwrap().contains("profile myprofile"));
}

/// With Ubuntu's restriction on (kernel.apparmor_restrict_unprivileged_userns=1),
/// every fix line that blames AppArmor names the profile the nestwrap package
/// installs and how to load it. Real exercise: Ubuntu 24.04 without the
/// package's profile loaded (`setting up uid map: Permission denied`).
#[test]
fn apparmor_fix_names_the_packaged_profile() {
    let names_profile = |c: &Check| {
        let fix = c.fix.as_deref().unwrap_or_else(|| panic!("no fix: {c:?}"));
        assert!(fix.contains("/etc/apparmor.d/nestwrap"), "{fix}");
        assert!(fix.contains("apparmor_parser -r /etc/apparmor.d/nestwrap"), "{fix}");
        assert!(fix.contains("`userns,`"), "{fix}");
        assert!(fix.contains("apparmor_restrict_unprivileged_userns=0"), "{fix}");
    };
    let mut f = plain();
    f.apparmor_restrict = Some(1);
    f.userns = Tried::Fails { step: "uid map".into(), errno: Errno::EPERM };
    names_profile(&by_id(&f, "userns"));
    names_profile(&by_id(&f, "apparmor_restrict_unprivileged_userns"));
    names_profile(&classify::apparmor(true, Some("unconfined"), Some(1)));
    names_profile(&classify::apparmor(true, Some("unprivileged_userns (enforce)"), Some(1)));
    // Without the restriction the sysctl check has nothing to fix.
    f.apparmor_restrict = Some(0);
    assert_eq!(by_id(&f, "apparmor_restrict_unprivileged_userns").fix, None);
}

/// Real exercise: Fedora/RHEL with podman (`container_t`, enforcing).
#[test]
fn selinux_labels() {
    assert_eq!(classify::selinux(None, None).finding, "SELinux not active");
    let c = classify::selinux(Some(true), Some("system_u:system_r:container_t:s0:c1,c2"));
    assert_eq!(c.verdict, Verdict::Blocked);
    assert!(c.finding.contains("container_t"));
    assert!(c.fix.unwrap().contains("label=disable"));
    let c = classify::selinux(Some(false), Some("system_u:system_r:container_t:s0"));
    assert_eq!(c.verdict, Verdict::Ok);
    assert!(c.finding.starts_with("permissive"));
    let c = classify::selinux(
        Some(true),
        Some("unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023"),
    );
    assert_eq!(c.verdict, Verdict::Ok);
    let c = classify::selinux(Some(true), Some("system_u:system_r:httpd_t:s0"));
    assert_eq!(c.verdict, Verdict::Note);
    assert!(c.finding.contains("httpd_t"));
}

/// Real exercise: a host with `mount -o remount,hidepid=invisible /proc`.
#[test]
fn hidepid_options() {
    assert_eq!(classify::hidepid(Some("rw")).verdict, Verdict::Ok);
    assert_eq!(classify::hidepid(Some("rw,hidepid=0")).verdict, Verdict::Ok);
    assert_eq!(classify::hidepid(Some("rw,hidepid=off")).verdict, Verdict::Ok);
    for (v, text) in [
        ("2", "invisible in /proc"),
        ("invisible", "invisible in /proc"),
        ("1", "unreadable"),
        ("noaccess", "unreadable"),
        ("ptraceable", "ptrace"),
    ] {
        let c = classify::hidepid(Some(&format!("rw,hidepid={v},gid=10")));
        assert_eq!(c.verdict, Verdict::Note, "{v}");
        assert!(c.finding.contains(text), "{v}: {c:?}");
        assert!(c.finding.starts_with(&format!("hidepid={v}:")), "{c:?}");
    }
    assert!(classify::hidepid(Some("rw,subset=pid")).finding.contains("subset=pid"));
    assert_eq!(classify::hidepid(None).verdict, Verdict::Unknown);
}

#[test]
fn seccomp_and_caps() {
    assert_eq!(classify::seccomp_mode(Some(0), Some(0)).verdict, Verdict::Ok);
    let c = classify::seccomp_mode(Some(2), Some(3));
    assert_eq!(c.verdict, Verdict::Note);
    assert!(c.finding.contains("3 seccomp filter(s)"));
    assert_eq!(classify::seccomp_mode(Some(1), None).verdict, Verdict::Blocked);
    assert_eq!(classify::no_new_privs(Some(true)).verdict, Verdict::Ok);
    assert_eq!(classify::cap_names(0), "none");
    assert_eq!(classify::cap_names((1 << 21) | (1 << 12)), "net_admin,sys_admin");
    assert_eq!(classify::cap_names((1 << 41) - 1), "41 capabilities");
    let mut f = plain();
    f.status.cap_eff = Some(1 << 12);
    assert_eq!(by_id(&f, "capabilities").verdict, Verdict::Note);
    f.secure_exec = true;
    let c = by_id(&f, "setuid");
    assert_eq!(c.verdict, Verdict::Blocked);
    assert!(c.fix.unwrap().contains("chmod u-s"));
}

#[test]
fn status_and_mountinfo_parsing() {
    let s = Status::parse(
        "Name:\tx\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\nCapEff:\t00000000a80425fb\nCapBnd:\t000001ffffffffff\n",
    );
    assert_eq!(s.seccomp, Some(2));
    assert_eq!(s.seccomp_filters, Some(1));
    assert_eq!(s.no_new_privs, Some(true));
    assert_eq!(s.cap_eff, Some(0xa80425fb));
    assert_eq!(s.cap_bnd, Some(0x1ffffffffff));
    let m = parse_mounts(
        b"22 1 0:21 / /proc rw,nosuid - proc proc rw,hidepid=invisible\n\
          30 22 0:30 / /proc/acpi ro,relatime - tmpfs none ro,size=0k\n\
          31 22 0:21 /sys /proc/sys ro,relatime - proc proc rw\n",
    )
    .unwrap();
    assert_eq!(m[0].super_opts, "rw,hidepid=invisible");
    assert!(m[1].read_only);
    let mut f = plain();
    f.mounts = m;
    assert_eq!(f.proc_mount().unwrap().super_opts, "rw,hidepid=invisible");
    assert!(f.proc_sys_read_only());
    assert_eq!(f.proc_masks().len(), 2);
    assert!(!plain().proc_sys_read_only());
    assert!(id_mapped("0 0 4294967295", 1001));
    assert!(id_mapped("         0       1000          1\n1 100000 65536", 0));
    assert!(!id_mapped("0 1000 1", 1001));
    assert!(!id_mapped("", 0));
}

#[test]
fn requests() {
    assert_eq!(parse_request(args(&[])).unwrap(), Request { json: false, bwrap_args: None });
    assert_eq!(
        parse_request(args(&["--json", "--", "--bind", "/", "/"])).unwrap(),
        Request { json: true, bwrap_args: Some(args(&["--bind", "/", "/"])) }
    );
    assert!(!parse_request(args(&["--", "--json"])).unwrap().json);
    assert!(parse_request(args(&["--x"])).unwrap_err().contains("not --x"));
}

#[test]
fn refused_command_lines() {
    let p = plan(args(&["--foo"]), &plain(), &user_host(), None);
    assert_eq!(p.checks[0].verdict, Verdict::Blocked);
    assert_eq!(
        p.checks[0].finding,
        "nestwrap refuses this command line: bwrap: Unknown option --foo"
    );
    let p = plan(args(&["--as-pid-1", "true"]), &plain(), &user_host(), None);
    assert!(p.checks[0].finding.ends_with("Specifying --as-pid-1 requires --unshare-pid"));
    // COMMAND is optional.
    let p = plan(args(&["--unshare-pid"]), &plain(), &user_host(), None);
    assert_eq!(p.checks[0].verdict, Verdict::Ok);
    let _ = predict;
}

#[test]
fn json_and_human_shapes() {
    let r = Report {
        facts: container(),
        checks: classify::environment(&container()),
        bwrap_args: Some(args(SANDBOX)),
        plan: Some(plan(args(SANDBOX), &container(), &user_host(), None)),
    };
    let h = r.human();
    assert!(
        h.contains("\nfallback proc: parent-bind (the sandbox sees the container's pids)\n"),
        "{h}"
    );
    assert!(h.contains("\nfor: bwrap --ro-bind / / --unshare-all --proc /proc true\n"), "{h}");
    assert!(h.ends_with("summary: 0 blocked, 3 fallback, 3 note\n"), "{h}");
    let j = r.json();
    assert!(j.contains("\"fallbacks\": {\"proc\": \"parent-bind\"}"), "{j}");
    assert!(j.contains("\"command\": {"), "{j}");
    assert!(j.contains("\"id\": \"fresh-procfs\", \"verdict\": \"fallback\""), "{j}");
}

/// Landlock: ABI 7 with working scopes (this machine), no Landlock
/// (ENOSYS: a kernel before 5.13, or a seccomp filter), Landlock disabled at
/// boot (EOPNOTSUPP: kernels whose lsm= lacks it), and an ABI before 6
/// (Linux 5.13–6.11). The integration tests exercise ENOSYS and EOPNOTSUPP
/// for real with seccomp (tests/scopes.rs).
#[test]
fn landlock_abi_and_scopes() {
    let f = plain();
    let c = classify::landlock(&f);
    assert_eq!(c.verdict, Verdict::Ok, "{c:?}");
    assert!(c.finding.starts_with("Landlock ABI 7: "), "{c:?}");
    let mut f = plain();
    f.landlock_abi = Err(Errno::ENOSYS);
    f.landlock_scopes = Tried::Skipped("no Landlock ABI 6".into());
    let c = classify::landlock(&f);
    assert_eq!(c.verdict, Verdict::Note, "{c:?}");
    assert!(
        c.finding.starts_with(
            "no Landlock: --scope-abstract-unix-sockets and --scope-signals are unavailable"
        ),
        "{c:?}"
    );
    assert!(c.finding.ends_with("Function not implemented"), "{c:?}");
    f.landlock_abi = Err(Errno::EOPNOTSUPP);
    let c = classify::landlock(&f);
    assert!(c.finding.contains("disabled"), "{c:?}");
    assert!(c.fix.as_deref().unwrap().contains("lsm="), "{c:?}");
    f.landlock_abi = Ok(5);
    let c = classify::landlock(&f);
    assert!(c.finding.starts_with("Landlock ABI 5: "), "{c:?}");
    assert!(c.finding.ends_with("this kernel has Landlock ABI 5"), "{c:?}");
    let mut f = plain();
    f.landlock_scopes = Tried::Fails { step: "landlock_restrict_self".into(), errno: Errno::E2BIG };
    let c = classify::landlock(&f);
    assert_eq!(c.verdict, Verdict::Note, "{c:?}");
    assert!(c.finding.contains("landlock_restrict_self: Argument list too long"), "{c:?}");
}

#[test]
fn landlock_scopes_in_a_command_line() {
    let a = ["--ro-bind", "/", "/", "--scope-signals", "--scope-abstract-unix-sockets", "true"];
    let p = plan(args(&a), &plain(), &user_host(), None);
    let c = p.checks.iter().find(|c| c.id == "landlock-scopes").expect("landlock-scopes check");
    assert_eq!(c.verdict, Verdict::Ok, "{p:?}");
    assert_eq!(c.finding, "abstract-unix-sockets, signals (Landlock ABI 7)");
    // Not a fallback, but recorded beside them on the command-pid line, and
    // `"fallbacks"` holds what the run records there.
    assert_eq!(p.fallbacks, [("landlock-scopes", "abstract-unix-sockets,signals")], "{p:?}");
    let mut f = plain();
    f.landlock_abi = Err(Errno::EOPNOTSUPP);
    let p = plan(args(&a), &f, &user_host(), None);
    let c = p.checks.iter().find(|c| c.id == "landlock-scopes").unwrap();
    assert_eq!(c.verdict, Verdict::Blocked, "{p:?}");
    // Without the options, nothing is said about Landlock.
    let p = plan(args(&["--ro-bind", "/", "/", "true"]), &f, &user_host(), None);
    assert!(p.checks.iter().all(|c| c.id != "landlock-scopes"), "{p:?}");
}

#[test]
fn invalid_env_fallback_is_refused_as_the_run_refuses_it() {
    for env in ["bogus", "NEVER", " auto"] {
        let p = plan(args(SANDBOX), &container(), &user_host(), Some(env));
        assert!(p.fallbacks.is_empty());
        let c = p.checks.iter().find(|c| c.id == "command").unwrap();
        assert_eq!(c.verdict, Verdict::Blocked);
        let want = crate::config::ProcFallback::from_env_value(env.as_ref()).unwrap_err();
        assert!(c.finding.ends_with(&format!("bwrap: {want}")), "{}", c.finding);
    }
    // Empty means auto, as in the run; the option wins over a bad value.
    let auto = plan(args(SANDBOX), &container(), &user_host(), None).fallbacks;
    assert!(!auto.is_empty());
    let p = plan(args(SANDBOX), &container(), &user_host(), Some(""));
    assert_eq!(p.fallbacks, auto);
    let a: Vec<&str> = ["--proc-fallback", "auto"].iter().chain(SANDBOX).copied().collect();
    let p = plan(args(&a), &container(), &user_host(), Some("bogus"));
    assert_eq!(p.fallbacks, auto);
}

/// The prediction takes the tier the run's own rule
/// (`fallback::proc_fallback`, which `setup::mount_fresh_proc` calls) gives
/// for the same refusal, masks, mode and subset=pid answer, and the run's
/// rule is the one written down here: EPERM, masked ("Mount too revealing",
/// or mounts below /proc when the kernel cannot say), not `never`, then
/// subset=pid before the parent bind.
#[test]
fn proc_prediction_is_the_runs_rule_for_every_case() {
    use crate::config::ProcFallback;
    use crate::fallback::{proc_fallback, proc_masked, Fallback, ProcTier};
    let reasons = [ProcRefusal::TooRevealing, ProcRefusal::Other, ProcRefusal::Unknown];
    for errno in [Errno::EPERM, Errno::EACCES, Errno::EINVAL] {
        for reason in reasons {
            for masks in [false, true] {
                for mode in [ProcFallback::Auto, ProcFallback::Quiet, ProcFallback::Never] {
                    for subset in [false, true] {
                        let mut f = container();
                        if !masks {
                            f.mounts.retain(|m| !m.mount_point.starts_with("/proc/"));
                        }
                        let subset_pid = if subset {
                            Tried::Works
                        } else {
                            Tried::Fails { step: "mount proc subset=pid".into(), errno }
                        };
                        f.proc = Ok(ProcProbe {
                            fresh: Tried::Fails { step: "mount proc".into(), errno },
                            reason: Some(reason),
                            subset_pid,
                        });
                        let name = match mode {
                            ProcFallback::Auto => "auto",
                            ProcFallback::Quiet => "quiet",
                            ProcFallback::Never => "never",
                        };
                        let a: Vec<&str> =
                            ["--proc-fallback", name].iter().chain(SANDBOX).copied().collect();
                        let p = plan(args(&a), &f, &user_host(), None);
                        let predicted: Vec<Fallback> = p.fallbacks.iter().collect();
                        // The run: masked() answers as proc_is_masked would,
                        // every tier mount answers as probed (the parent
                        // bind works).
                        let run = proc_fallback(
                            errno,
                            mode,
                            || proc_masked(reason, || masks),
                            |t| t == ProcTier::ParentBind || subset,
                        )
                        .ok();
                        let masked = reason == ProcRefusal::TooRevealing
                            || (reason == ProcRefusal::Unknown && masks);
                        let want = (errno == Errno::EPERM && masked && mode != ProcFallback::Never)
                            .then_some(if subset {
                                ProcTier::SubsetPid
                            } else {
                                ProcTier::ParentBind
                            });
                        let case = (errno, reason, masks, mode, subset);
                        assert_eq!(run, want, "{case:?}");
                        assert_eq!(predicted, Vec::from_iter(want.map(Fallback::Proc)), "{case:?}");
                        let c = p.checks.iter().find(|c| c.id == "proc").unwrap();
                        let verdict =
                            if want.is_some() { Verdict::Fallback } else { Verdict::Blocked };
                        assert_eq!(c.verdict, verdict, "{case:?}: {c:?}");
                        let never = errno == Errno::EPERM && masked && mode == ProcFallback::Never;
                        assert_eq!(c.finding.starts_with("fails as bwrap does"), never, "{case:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn proc_isolation_predicted_where_the_run_adds_it() {
    // Container root that keeps CAP_SYS_ADMIN (seed-style nesting) asks for
    // no user namespace: behind the parent bind, COMMAND would share one
    // with the container's processes, so the run adds one.
    let f = container();
    let root =
        HostFacts { is_root: true, has_sys_admin: true, real_uid: 0, real_gid: 0, ..user_host() };
    let pid: &[&str] = &["--ro-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "true"];
    assert_eq!(
        fallbacks(&f, &root, pid, None),
        [("proc", "parent-bind"), ("proc-isolation", "userns")]
    );
    let p = plan(args(pid), &f, &root, None);
    let c = p.checks.iter().find(|c| c.id == "proc").unwrap();
    assert!(c.finding.contains("one more user namespace"), "{c:?}");
    // With a user namespace of its own, nothing more is needed.
    let own: Vec<&str> = ["--unshare-user"].iter().chain(pid).copied().collect();
    assert_eq!(fallbacks(&f, &root, &own, None), [("proc", "parent-bind")]);
    assert_eq!(fallbacks(&f, &user_host(), pid, None), [("proc", "parent-bind")]);
    // The rule itself is the run's (fallback::proc_isolation_needed).
    assert!(crate::fallback::proc_isolation_needed(false, false, false, false));
    assert!(!crate::fallback::proc_isolation_needed(true, false, false, false));
    assert!(!crate::fallback::proc_isolation_needed(false, true, false, false));
    assert!(crate::fallback::proc_isolation_needed(true, false, true, false));
    assert!(!crate::fallback::proc_isolation_needed(true, false, true, true));
}

#[test]
fn openat2_userspace_predicted_where_the_run_records_it() {
    let plain_args: &[&str] = &["--ro-bind", "/", "/", "true"];
    assert!(fallbacks(&plain(), &user_host(), plain_args, None).is_empty());
    assert_eq!(by_id(&plain(), "openat2").verdict, Verdict::Ok);
    let mut f = plain();
    f.openat2_userspace = true;
    assert_eq!(by_id(&f, "openat2").verdict, Verdict::Fallback);
    assert_eq!(fallbacks(&f, &user_host(), plain_args, None), [("openat2", "userspace")]);
    // bwrap's testing hook forces it on any kernel, in the run and here.
    let forced = ["--debug-opt=force-openat-fallback", "--ro-bind", "/", "/", "true"];
    assert_eq!(fallbacks(&plain(), &user_host(), &forced, None), [("openat2", "userspace")]);
}
