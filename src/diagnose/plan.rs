//! Given a bwrap command line, which fallbacks nestwrap would use for it
//! here: the parsed and validated `Config` combined with the probe results.

use std::ffi::OsString;

use nix::errno::Errno;

use super::classify::{Check, Verdict};
use super::probe::{Facts, Tried};
use crate::cli::{self, HostFacts, Parsed};
use crate::config::{Config, ProcFallback, SetupOp};
use crate::error::CliError;
use crate::fallback::{self, Fallback, Fallbacks, ProcRefused, ProcTier};
use crate::report::Reporter;

/// The verdicts for one command line, and the fallbacks as they would be
/// recorded on `--json-status-fd`'s `command-pid` line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub checks: Vec<Check>,
    pub fallbacks: Fallbacks,
}

fn line(id: &'static str, verdict: Verdict, finding: impl Into<String>) -> Check {
    Check { id, verdict, finding: finding.into(), fix: None }
}

/// [`plan_os`] with a UTF-8 `NESTWRAP_PROC_FALLBACK` value (for tests).
#[cfg(test)]
pub fn plan(
    args: Vec<OsString>,
    facts: &Facts,
    host: &HostFacts,
    env_fallback: Option<&str>,
) -> Plan {
    plan_os(args, facts, host, env_fallback.map(std::ffi::OsStr::new))
}

/// Parse and validate `args` as nestwrap would, then predict.
/// `env_fallback` is `NESTWRAP_PROC_FALLBACK`'s value, judged by the same
/// parser the real run uses, so a value the run refuses is refused here.
pub fn plan_os(
    args: Vec<OsString>,
    facts: &Facts,
    host: &HostFacts,
    env_fallback: Option<&std::ffi::OsStr>,
) -> Plan {
    let mut rep = Reporter::capture();
    let mut parsed = cli::parse(args.clone(), &mut rep);
    if parsed == Err(CliError::Usage) {
        // COMMAND is optional here: judge the options alone. (An `--args`
        // FD in them has been read and closed by the first attempt.)
        let mut with_command = args;
        with_command.push("true".into());
        parsed = cli::parse(with_command, &mut Reporter::capture());
    }
    let mut cfg = match parsed {
        Ok(Parsed::Run(cfg)) => *cfg,
        Ok(Parsed::Help) | Ok(Parsed::Version) => {
            return Plan {
                checks: vec![line("command", Verdict::Ok, "prints help or version; no sandbox")],
                fallbacks: Fallbacks::default(),
            }
        }
        Err(e) => return refused(e),
    };
    if cfg.command.is_empty() {
        // COMMAND is optional here: judge the options.
        cfg.command.push("true".into());
    }
    let (implicit_userns, mut cfg) = match cli::validate(cfg, host) {
        Ok(valid) => (valid.implicit_userns(), valid.into_config()),
        Err(e) => return refused(e),
    };
    if cfg.proc_fallback.is_none() {
        // As the real run (app::main_entry): the option wins over the
        // variable, and a bad value stops it with this message.
        cfg.proc_fallback = match env_fallback.map(ProcFallback::from_env_value) {
            None => Some(ProcFallback::Auto),
            Some(Ok(mode)) => Some(mode),
            Some(Err(msg)) => return refused(CliError::msg(msg)),
        };
    }
    predict(&cfg, implicit_userns, facts)
}

fn refused(e: CliError) -> Plan {
    let msg = match e {
        CliError::Usage => "usage (no COMMAND)".to_owned(),
        e => format!("bwrap: {e}"),
    };
    Plan {
        checks: vec![line(
            "command",
            Verdict::Blocked,
            format!("nestwrap refuses this command line: {msg}"),
        )],
        fallbacks: Fallbacks::default(),
    }
}

/// The prediction proper (pure: testable with made-up facts): one check
/// per feature the command line needs, in this order.
/// `implicit_userns` is validate's decision ([`cli::Validated::implicit_userns`]).
pub fn predict(cfg: &Config, implicit_userns: bool, f: &Facts) -> Plan {
    let mut p = Plan::default();
    let userns = cfg.unshare.user || cfg.userns_fd.is_some();
    let new_pidns = cfg.unshare.pid || cfg.pidns_fd.is_some();

    if implicit_userns {
        p.checks.push(implicit_userns_line(&mut p.fallbacks));
    }
    if cfg.unshare.user && !f.userns.works() {
        p.checks.push(line(
            "userns",
            Verdict::Blocked,
            format!("a new user namespace is needed but {}", f.userns.describe()),
        ));
    }
    if cfg.ops.iter().any(|op| matches!(op, SetupOp::Proc { .. })) {
        p.checks.push(proc_line(cfg, userns, new_pidns, f, &mut p.fallbacks));
    }
    if let Some(check) = userns_lock(cfg, f, &mut p.fallbacks) {
        p.checks.push(check);
    }
    if let Some(check) = pivot_root(f, &mut p.fallbacks) {
        p.checks.push(check);
    }
    p.checks.extend(features(cfg, f, &mut p.fallbacks));
    if let Some(check) = nesting(cfg, f, userns, new_pidns) {
        p.checks.push(check);
    }
    if let Some(check) = landlock_scopes(cfg, f, &mut p.fallbacks) {
        p.checks.push(check);
    }

    if p.checks.iter().all(|c| c.verdict == Verdict::Ok) {
        p.checks.push(line("command", Verdict::Ok, "no fallback needed; nothing in the way"));
    }
    p
}

/// Container root without CAP_SYS_ADMIN: nestwrap creates a user namespace
/// where bwrap fails.
fn implicit_userns_line(fallbacks: &mut Fallbacks) -> Check {
    fallbacks.push(Fallback::UsernsImplicit);
    line(
        "userns",
        Verdict::Fallback,
        "implicit (container root without CAP_SYS_ADMIN; bwrap fails with \
         \"Creating new namespace failed: Operation not permitted\")",
    )
}

/// `--disable-userns` enters one more user namespace and locks it (the
/// run's `lock_user_namespaces`, without `--userns-block-fd`).
fn locks_userns(cfg: &Config) -> bool {
    cfg.disable_userns && cfg.unshare.user && cfg.userns_block_fd.is_none()
}

/// How `--disable-userns` will lock: the sysctl, or the seccomp filter when
/// `/proc/sys` is read-only.
fn userns_lock(cfg: &Config, f: &Facts, fallbacks: &mut Fallbacks) -> Option<Check> {
    if !locks_userns(cfg) {
        return None;
    }
    if !f.proc_sys_read_only() {
        return Some(line("userns-lock", Verdict::Ok, "sysctl user.max_user_namespaces=1"));
    }
    if !f.seccomp.works() {
        return Some(line(
            "userns-lock",
            Verdict::Blocked,
            format!("/proc/sys is read-only and the seccomp lock {}", f.seccomp.describe()),
        ));
    }
    fallbacks.push(Fallback::UsernsLockSeccomp);
    Some(line(
        "userns-lock",
        Verdict::Fallback,
        "seccomp (/proc/sys is read-only; bwrap fails: \"cannot open \
         /proc/sys/user/max_user_namespaces: Read-only file system\")",
    ))
}

/// `pivot_root` itself is refused (EPERM, EINVAL): the run's locked-chroot
/// fallback, which enters one more user namespace.
fn pivot_root_refused(f: &Facts) -> bool {
    matches!(&f.pivot_root,
        Tried::Fails { errno: Errno::EPERM | Errno::EINVAL, step } if step == "pivot_root")
}

fn pivot_root(f: &Facts, fallbacks: &mut Fallbacks) -> Option<Check> {
    if pivot_root_refused(f) {
        if !f.userns.works() {
            return Some(line(
                "pivot-root",
                Verdict::Blocked,
                "refused, and no user namespace to lock a chroot in: the sandbox fails",
            ));
        }
        fallbacks.push(Fallback::PivotRootLockedChroot);
        return Some(line(
            "pivot-root",
            Verdict::Fallback,
            "locked-chroot (pivot_root is refused; bwrap fails: \"pivot_root: \
             Operation not permitted\")",
        ));
    }
    match &f.pivot_root {
        t @ Tried::Fails { step, .. } if step != "clone" => {
            Some(line("pivot-root", Verdict::Blocked, t.describe()))
        }
        _ => None,
    }
}

/// The features some options need, where the probe found them failing:
/// loopback, devpts, overlayfs, seccomp.
fn features(cfg: &Config, f: &Facts, fallbacks: &mut Fallbacks) -> Vec<Check> {
    let has_op = |want: fn(&SetupOp) -> bool| cfg.ops.iter().any(want);
    let mut checks = Vec::new();
    if f.openat2_userspace || cfg.debug_force_openat_fallback {
        fallbacks.push(Fallback::Openat2Userspace);
        checks.push(line(
            "openat2",
            Verdict::Fallback,
            "userspace (openat2 is refused here: destinations resolve with nestwrap's \
             in-root resolver, as strict as RESOLVE_IN_ROOT)",
        ));
    }
    if cfg.unshare.net && !f.net.works() {
        checks.push(line("net", Verdict::Blocked, format!("loopback setup {}", f.net.describe())));
    }
    if has_op(|op| matches!(op, SetupOp::Dev { .. })) && !f.devpts.works() {
        checks.push(line("dev", Verdict::Blocked, format!("devpts {}", f.devpts.describe())));
    }
    if has_op(|op| matches!(op, SetupOp::Overlay { .. })) && !f.overlay.works() {
        checks.push(line(
            "overlay",
            Verdict::Blocked,
            format!("overlayfs with userxattr {}", f.overlay.describe()),
        ));
    }
    if (cfg.seccomp_fd.is_some() || !cfg.add_seccomp.is_empty()) && !f.seccomp.works() {
        checks.push(line(
            "seccomp",
            Verdict::Blocked,
            format!("installing a filter {}", f.seccomp.describe()),
        ));
    }
    checks
}

/// Whether the namespace levels the sandbox spends are left (only a real
/// limit, ENOSPC, counts; EPERM is reported as userns).
fn nesting(cfg: &Config, f: &Facts, userns: bool, new_pidns: bool) -> Option<Check> {
    let d = f.depth?;
    // The --disable-userns lock and the locked chroot each add one.
    let extra_userns = u32::from(locks_userns(cfg)) + u32::from(pivot_root_refused(f));
    let need_user = if userns { 1 + extra_userns } else { 0 };
    let need_pid = u32::from(new_pidns);
    let short = |left: u32, need: u32, stop: Option<Errno>| {
        need > 0 && left < need && stop == Some(Errno::ENOSPC)
    };
    if !short(d.user_left, need_user, d.user_stop) && !short(d.pid_left, need_pid, d.pid_stop) {
        return None;
    }
    Some(line(
        "nesting",
        Verdict::Blocked,
        format!(
            "needs {need_user} user and {need_pid} pid namespace level(s), {} and \
             {} left: fails with \"Creating new namespace failed: nesting depth or \
             /proc/sys/user/max_*_namespaces exceeded (ENOSPC)\"",
            d.user_left, d.pid_left
        ),
    ))
}

/// `--scope-*`: the ABI and whether a scoped domain could be entered.
fn landlock_scopes(cfg: &Config, f: &Facts, fallbacks: &mut Fallbacks) -> Option<Check> {
    let scopes = crate::sandbox::scope::requested(cfg);
    if scopes == 0 {
        return None;
    }
    let names = crate::sandbox::scope::names(scopes).join(", ");
    let unavailable = crate::sandbox::scope::unavailable(f.landlock_abi);
    Some(match (unavailable, &f.landlock_scopes) {
        (Some(why), _) => line(
            "landlock-scopes",
            Verdict::Blocked,
            format!("{names}: nestwrap fails before COMMAND runs: {why}"),
        ),
        (None, t @ Tried::Fails { .. }) => line(
            "landlock-scopes",
            Verdict::Blocked,
            format!("{names}: entering the domain {}", t.describe()),
        ),
        (None, _) => {
            // Recorded by the run as a list, like the fallbacks.
            fallbacks.push(Fallback::LandlockScopes(scopes));
            line(
                "landlock-scopes",
                Verdict::Ok,
                format!("{names} (Landlock ABI {})", f.landlock_abi.unwrap_or(0)),
            )
        }
    })
}

/// `--proc`: a fresh procfs, or the tier [`fallback::proc_fallback`] picks
/// (the run's own rule) from the probe's answers.
fn proc_line(
    cfg: &Config,
    userns: bool,
    new_pidns: bool,
    f: &Facts,
    fallbacks: &mut Fallbacks,
) -> Check {
    if !new_pidns {
        return line(
            "proc",
            Verdict::Ok,
            "bind of the parent's /proc (no new pid namespace, as bwrap)",
        );
    }
    // The "mount too revealing" rule applies only in a mount namespace
    // owned by a user namespace other than the initial one.
    if !userns && f.init_userns {
        return line("proc", Verdict::Ok, "fresh procfs (no user namespace: masks do not matter)");
    }
    let p = match &f.proc {
        Ok(p) => p,
        Err(t) => return line("proc", Verdict::Unknown, format!("not tried ({})", t.describe())),
    };
    if p.fresh.works() {
        return line("proc", Verdict::Ok, "fresh procfs");
    }
    let errno = p.fresh.errno();
    let masked = p.reason.is_some_and(|r| fallback::proc_masked(r, || !f.proc_masks().is_empty()));
    let mode = cfg.proc_fallback.unwrap_or_default();
    // The run mounts each tier; here the probe says whether subset=pid
    // mounts, and the parent bind always does.
    let tier = match errno {
        Some(e) => fallback::proc_fallback(
            e,
            mode,
            || masked,
            |tier| match tier {
                ProcTier::SubsetPid => p.subset_pid.works(),
                ProcTier::ParentBind => true,
            },
        ),
        None => Err(ProcRefused::NotMasks),
    };
    match tier {
        Ok(tier) => {
            fallbacks.push(Fallback::Proc(tier));
            let mut finding = format!("{} ({})", tier.name(), tier.cost_short());
            // The run's rule, with what is known here: `--dev`'s second
            // layer (own_userns under --userns2) needs the capability set,
            // which only the run computes.
            let chroot_locked = pivot_root_refused(f) && f.userns.works();
            let userns2 = cfg.userns2_fd.is_some();
            if fallback::proc_isolation_needed(
                cfg.unshare.user,
                chroot_locked,
                userns2,
                locks_userns(cfg),
            ) {
                fallbacks.push(Fallback::ProcIsolationUserns);
                finding.push_str(
                    "; COMMAND gets one more user namespace, shared with no outside process",
                );
            }
            line("proc", Verdict::Fallback, finding)
        }
        Err(ProcRefused::Never) if masked => line(
            "proc",
            Verdict::Blocked,
            "fails as bwrap does (--proc-fallback never): \"Can't mount proc on \
             /proc: Operation not permitted\"",
        ),
        // (NoTier cannot happen here: the parent bind is taken to work.)
        Err(_) => line(
            "proc",
            Verdict::Blocked,
            format!(
                "fails, not because of masks (no fallback): \"Can't mount proc on \
                 /proc: {}\"",
                errno.map(crate::error::strerror).unwrap_or("?")
            ),
        ),
    }
}
