//! Given a bwrap command line, which fallbacks nestwrap would use for it
//! here: the parsed and validated `Config` combined with the probe results.

use std::ffi::OsString;

use nix::errno::Errno;

use super::classify::{Check, Verdict};
use super::probe::{Facts, Tried};
use crate::cli::{self, HostFacts, Parsed};
use crate::config::{Config, ProcFallback, SetupOp};
use crate::error::CliError;
use crate::report::Reporter;
use crate::sys::mount::ProcRefusal;

/// The verdicts for one command line, and the fallbacks as they would be
/// recorded on `--json-status-fd`'s `command-pid` line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub checks: Vec<Check>,
    pub fallbacks: Vec<(&'static str, &'static str)>,
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
                fallbacks: vec![],
            }
        }
        Err(e) => return refused(e),
    };
    let explicit_user = cfg.unshare.user;
    if cfg.command.is_empty() {
        // COMMAND is optional here: judge the options.
        cfg.command.push("true".into());
    }
    let mut cfg = match cli::validate(cfg, host) {
        Ok(valid) => valid.into_config(),
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
    predict(&cfg, explicit_user, facts, host)
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
        fallbacks: vec![],
    }
}

/// The prediction proper (pure: testable with made-up facts).
pub fn predict(cfg: &Config, explicit_user: bool, f: &Facts, host: &HostFacts) -> Plan {
    let mut p = Plan::default();
    let userns = cfg.unshare.user || cfg.userns_fd.is_some();
    let new_pidns = cfg.unshare.pid || cfg.pidns_fd.is_some();

    if host.is_root && !host.has_sys_admin && !explicit_user && cfg.userns_fd.is_none() {
        p.checks.push(line(
            "userns",
            Verdict::Fallback,
            "implicit (container root without CAP_SYS_ADMIN; bwrap fails with \
             \"Creating new namespace failed: Operation not permitted\")",
        ));
        p.fallbacks.push(("userns", "implicit"));
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

    let mut extra_userns = 0;
    if cfg.disable_userns && cfg.unshare.user && cfg.userns_block_fd.is_none() {
        extra_userns += 1;
        if f.proc_sys_read_only() {
            if f.seccomp.works() {
                p.checks.push(line(
                    "userns-lock",
                    Verdict::Fallback,
                    "seccomp (/proc/sys is read-only; bwrap fails: \"cannot open \
                     /proc/sys/user/max_user_namespaces: Read-only file system\")",
                ));
                p.fallbacks.push(("userns-lock", "seccomp"));
            } else {
                p.checks.push(line(
                    "userns-lock",
                    Verdict::Blocked,
                    format!("/proc/sys is read-only and the seccomp lock {}", f.seccomp.describe()),
                ));
            }
        } else {
            p.checks.push(line("userns-lock", Verdict::Ok, "sysctl user.max_user_namespaces=1"));
        }
    }

    match &f.pivot_root {
        Tried::Fails { errno: Errno::EPERM | Errno::EINVAL, step } if step == "pivot_root" => {
            extra_userns += 1;
            if f.userns.works() {
                p.checks.push(line(
                    "pivot-root",
                    Verdict::Fallback,
                    "locked-chroot (pivot_root is refused; bwrap fails: \"pivot_root: \
                     Operation not permitted\")",
                ));
                p.fallbacks.push(("pivot-root", "locked-chroot"));
            } else {
                p.checks.push(line(
                    "pivot-root",
                    Verdict::Blocked,
                    "refused, and no user namespace to lock a chroot in: the sandbox fails",
                ));
            }
        }
        t @ Tried::Fails { step, .. } if step != "clone" => {
            p.checks.push(line("pivot-root", Verdict::Blocked, t.describe()))
        }
        _ => {}
    }

    if cfg.unshare.net && !f.net.works() {
        p.checks.push(line(
            "net",
            Verdict::Blocked,
            format!("loopback setup {}", f.net.describe()),
        ));
    }
    if cfg.ops.iter().any(|op| matches!(op, SetupOp::Dev { .. })) && !f.devpts.works() {
        p.checks.push(line("dev", Verdict::Blocked, format!("devpts {}", f.devpts.describe())));
    }
    if cfg.ops.iter().any(|op| matches!(op, SetupOp::Overlay { .. })) && !f.overlay.works() {
        p.checks.push(line(
            "overlay",
            Verdict::Blocked,
            format!("overlayfs with userxattr {}", f.overlay.describe()),
        ));
    }
    if (cfg.seccomp_fd.is_some() || !cfg.add_seccomp.is_empty()) && !f.seccomp.works() {
        p.checks.push(line(
            "seccomp",
            Verdict::Blocked,
            format!("installing a filter {}", f.seccomp.describe()),
        ));
    }

    if let Some(d) = f.depth {
        let need_user = if userns { 1 + extra_userns } else { 0 };
        let need_pid = u32::from(new_pidns);
        // Only a real limit (ENOSPC) counts; EPERM is reported as userns.
        let short = |left: u32, need: u32, stop: Option<Errno>| {
            need > 0 && left < need && stop == Some(Errno::ENOSPC)
        };
        if short(d.user_left, need_user, d.user_stop) || short(d.pid_left, need_pid, d.pid_stop) {
            p.checks.push(line(
                "nesting",
                Verdict::Blocked,
                format!(
                    "needs {need_user} user and {need_pid} pid namespace level(s), {} and \
                     {} left: fails with \"Creating new namespace failed: nesting depth or \
                     /proc/sys/user/max_*_namespaces exceeded (ENOSPC)\"",
                    d.user_left, d.pid_left
                ),
            ));
        }
    }

    let scopes = crate::sandbox::scope::requested(cfg);
    if scopes != 0 {
        let names = crate::sandbox::scope::names(scopes).join(", ");
        let unavailable = crate::sandbox::scope::unavailable(f.landlock_abi);
        p.checks.push(match (unavailable, &f.landlock_scopes) {
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
            (None, _) => line(
                "landlock-scopes",
                Verdict::Ok,
                format!("{names} (Landlock ABI {})", f.landlock_abi.unwrap_or(0)),
            ),
        });
    }

    if p.checks.iter().all(|c| c.verdict == Verdict::Ok) {
        p.checks.push(line("command", Verdict::Ok, "no fallback needed; nothing in the way"));
    }
    p
}

fn proc_line(
    cfg: &Config,
    userns: bool,
    new_pidns: bool,
    f: &Facts,
    fallbacks: &mut Vec<(&'static str, &'static str)>,
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
    let masked = p.reason == Some(ProcRefusal::TooRevealing)
        || (p.reason == Some(ProcRefusal::Unknown) && !f.proc_masks().is_empty());
    match &p.fresh {
        Tried::Works => line("proc", Verdict::Ok, "fresh procfs"),
        Tried::Fails { errno: Errno::EPERM, .. } if masked => {
            if cfg.proc_fallback == Some(ProcFallback::Never) {
                return line(
                    "proc",
                    Verdict::Blocked,
                    "fails as bwrap does (--proc-fallback never): \"Can't mount proc on \
                     /proc: Operation not permitted\"",
                );
            }
            if p.subset_pid.works() {
                fallbacks.push(("proc", "subset-pid"));
                line(
                    "proc",
                    Verdict::Fallback,
                    "subset-pid (a subset=pid procfs: only process directories)",
                )
            } else {
                fallbacks.push(("proc", "parent-bind"));
                line(
                    "proc",
                    Verdict::Fallback,
                    "parent-bind (the sandbox sees the container's pids)",
                )
            }
        }
        t => line(
            "proc",
            Verdict::Blocked,
            format!(
                "fails, not because of masks (no fallback): \"Can't mount proc on \
                 /proc: {}\"",
                t.errno().map(crate::error::strerror).unwrap_or("?")
            ),
        ),
    }
}
