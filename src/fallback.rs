//! nestwrap's fallbacks as one typed fact: what the sandbox setup decides,
//! what the child sends the monitor, what `--json-status-fd`'s `command-pid`
//! line reports and what `--diagnose` predicts are the same [`Fallbacks`].
//!
//! The procfs fallback order (fresh procfs, then [`ProcTier::SubsetPid`],
//! then [`ProcTier::ParentBind`]) and the rule that allows it (EPERM, the
//! refusal is the kernel's "mount too revealing", `--proc-fallback` is not
//! `never`) exist only here, in [`proc_fallback`]: the real run calls it
//! with a closure that mounts, `--diagnose` with one that reads the probe's
//! results.
//!
//! This module sits below `sandbox` and `diagnose` and uses neither.

use nix::errno::Errno;

use crate::config::ProcFallback;
use crate::sys::landlock::{SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL};
use crate::sys::mount::ProcRefusal;

/// What `--proc` falls back to when a fresh procfs is refused because the
/// parent's `/proc` is masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcTier {
    /// A fresh procfs with `subset=pid` (kernels that relax the rule for it).
    SubsetPid,
    /// A recursive bind of the parent's procfs, which keeps its masks.
    ParentBind,
}

impl ProcTier {
    /// The tiers in the order they are tried, after the fresh procfs.
    pub const ORDER: [ProcTier; 2] = [ProcTier::SubsetPid, ProcTier::ParentBind];

    /// The name recorded on the `command-pid` line and in warnings.
    pub fn name(self) -> &'static str {
        match self {
            ProcTier::SubsetPid => "subset-pid",
            ProcTier::ParentBind => "parent-bind",
        }
    }

    fn from_name(name: &str) -> Option<ProcTier> {
        ProcTier::ORDER.into_iter().find(|t| t.name() == name)
    }

    /// What the tier costs, in the words of the run's warning line.
    pub fn cost(self) -> &'static str {
        match self {
            ProcTier::SubsetPid => {
                "the sandbox's /proc has only process directories (no /proc/sys, /proc/meminfo, ...)"
            }
            ProcTier::ParentBind => {
                "the sandbox sees the container's processes and pid numbers in /proc, with the \
                 container's masks"
            }
        }
    }

    /// The same, short, as `--diagnose` says it after the name.
    pub fn cost_short(self) -> &'static str {
        match self {
            ProcTier::SubsetPid => "a subset=pid procfs: only process directories",
            ProcTier::ParentBind => "the sandbox sees the container's pids",
        }
    }
}

/// Why a refused fresh procfs gets no fallback tier: the refusal stands,
/// reported exactly as bwrap reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcRefused {
    /// Not EPERM, or EPERM for another reason than masks (a seccomp filter,
    /// an LSM).
    NotMasks,
    /// `--proc-fallback never` (checked before asking whether the refusal
    /// is about masks, which costs syscalls).
    Never,
    /// Every tier failed too.
    NoTier,
}

/// Where COMMAND needs one more user + mount namespace behind a `/proc`
/// fallback, which shows processes outside the sandbox (recorded as
/// `"proc-isolation": "userns"`). Across a user namespace boundary the
/// kernel refuses ptrace and every ptrace-mode `/proc` access, so COMMAND
/// must share a user namespace with none of them. It shares one when
/// nestwrap made none (a caller whose namespace holds CAP_SYS_ADMIN,
/// `--userns`), unless the locked-chroot fallback made one, or when
/// `--userns2` was the last one entered and nestwrap made none below it
/// (`own_userns`: `--disable-userns`'s lock, or `--dev`'s second layer).
/// The run and `--diagnose` both ask this.
pub fn proc_isolation_needed(
    new_userns: bool,
    chroot_locked: bool,
    userns2: bool,
    own_userns: bool,
) -> bool {
    !(own_userns || (!userns2 && (new_userns || chroot_locked)))
}

/// Whether the kernel's refusal of a fresh procfs is its "mount too
/// revealing" rule: the fs-context log says so, or, where the new mount API
/// cannot tell ([`ProcRefusal::Unknown`]), `has_masks` finds mounts on or
/// below the parent's `/proc` (the masks that trigger the rule).
pub fn proc_masked(reason: ProcRefusal, has_masks: impl FnOnce() -> bool) -> bool {
    match reason {
        ProcRefusal::TooRevealing => true,
        ProcRefusal::Other => false,
        ProcRefusal::Unknown => has_masks(),
    }
}

/// The one definition of the procfs fallback: called once a fresh procfs
/// was refused with `refusal`. Falls back only on EPERM, only when `mode`
/// is not `never`, and only when `masked()` says the refusal is about
/// masks (asked last: the real run's answer costs syscalls); then tries the
/// tiers in [`ProcTier::ORDER`] with `try_tier` (the real run mounts,
/// `--diagnose` looks at its probe) and returns the first that works.
pub fn proc_fallback(
    refusal: Errno,
    mode: ProcFallback,
    masked: impl FnOnce() -> bool,
    mut try_tier: impl FnMut(ProcTier) -> bool,
) -> Result<ProcTier, ProcRefused> {
    if refusal != Errno::EPERM {
        return Err(ProcRefused::NotMasks);
    }
    if mode == ProcFallback::Never {
        return Err(ProcRefused::Never);
    }
    if !masked() {
        return Err(ProcRefused::NotMasks);
    }
    ProcTier::ORDER.into_iter().find(|&t| try_tier(t)).ok_or(ProcRefused::NoTier)
}

/// The Landlock scope bits and their record names, in record order.
const SCOPE_NAMES: [(u64, &str); 2] =
    [(SCOPE_ABSTRACT_UNIX_SOCKET, "abstract-unix-sockets"), (SCOPE_SIGNAL, "signals")];

/// The record names of Landlock scope bits (`abstract-unix-sockets`,
/// `signals`).
pub fn scope_names(bits: u64) -> Vec<&'static str> {
    SCOPE_NAMES.iter().filter(|(b, _)| bits & b != 0).map(|&(_, n)| n).collect()
}

/// One fallback the sandbox used (or, from `--diagnose`, would use), or the
/// Landlock scopes it entered: one variant per key of the `command-pid`
/// line, with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// `"userns": "implicit"`: container root without CAP_SYS_ADMIN gets a
    /// user namespace (predicted by `--diagnose`; the run does not record
    /// it).
    UsernsImplicit,
    /// `"pivot-root": "locked-chroot"`.
    PivotRootLockedChroot,
    /// `"proc-isolation": "userns"`: one more user namespace keeps COMMAND
    /// away from the outside processes a proc tier shows.
    ProcIsolationUserns,
    /// `"landlock-scopes": [...]` (a list; scope bits): a protection in
    /// force rather than a fallback.
    LandlockScopes(u64),
    /// `"proc": "<tier>"`.
    Proc(ProcTier),
    /// `"userns-lock": "seccomp"`: `--disable-userns` locked by seccomp.
    UsernsLockSeccomp,
    /// `"openat2": "userspace"`: the in-root resolver stood in for openat2.
    Openat2Userspace,
}

/// A fallback's value: one name, or a list (Landlock scopes).
enum Value {
    One(&'static str),
    List(Vec<&'static str>),
}

impl Fallback {
    /// The key on the `command-pid` line (and on the wire).
    pub fn key(self) -> &'static str {
        match self {
            Fallback::UsernsImplicit => "userns",
            Fallback::PivotRootLockedChroot => "pivot-root",
            Fallback::ProcIsolationUserns => "proc-isolation",
            Fallback::LandlockScopes(_) => "landlock-scopes",
            Fallback::Proc(_) => "proc",
            Fallback::UsernsLockSeccomp => "userns-lock",
            Fallback::Openat2Userspace => "openat2",
        }
    }

    fn value(self) -> Value {
        Value::One(match self {
            Fallback::UsernsImplicit => "implicit",
            Fallback::PivotRootLockedChroot => "locked-chroot",
            Fallback::ProcIsolationUserns => "userns",
            Fallback::LandlockScopes(bits) => return Value::List(scope_names(bits)),
            Fallback::Proc(tier) => tier.name(),
            Fallback::UsernsLockSeccomp => "seccomp",
            Fallback::Openat2Userspace => "userspace",
        })
    }

    /// The value as one string: a list joined with `,` (the wire form).
    fn value_text(self) -> String {
        match self.value() {
            Value::One(v) => v.to_owned(),
            Value::List(items) => items.join(","),
        }
    }

    /// Back from the wire form; `None` for anything [`Fallback::value_text`]
    /// does not produce.
    fn from_pair(key: &str, value: &str) -> Option<Fallback> {
        if key == "landlock-scopes" {
            let mut bits = 0;
            for name in value.split(',').filter(|n| !n.is_empty()) {
                bits |= SCOPE_NAMES.iter().find(|&&(_, n)| n == name)?.0;
            }
            return Some(Fallback::LandlockScopes(bits));
        }
        if key == "proc" {
            return ProcTier::from_name(value).map(Fallback::Proc);
        }
        [
            Fallback::UsernsImplicit,
            Fallback::PivotRootLockedChroot,
            Fallback::ProcIsolationUserns,
            Fallback::UsernsLockSeccomp,
            Fallback::Openat2Userspace,
        ]
        .into_iter()
        .find(|f| f.key() == key && f.value_text() == value)
    }

    /// `"key": "value"`, or `"key": ["a", "b"]` for a list. Keys and values
    /// are fixed ASCII names that need no escaping.
    fn json_member(self) -> String {
        match self.value() {
            Value::One(v) => format!("\"{}\": \"{v}\"", self.key()),
            Value::List(items) => {
                let items: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
                format!("\"{}\": [{}]", self.key(), items.join(", "))
            }
        }
    }
}

/// The fallbacks of one sandbox, in the order they were decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fallbacks(Vec<Fallback>);

impl Fallbacks {
    pub fn push(&mut self, f: Fallback) {
        self.0.push(f);
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Fallback> + '_ {
        self.0.iter().copied()
    }

    /// The wire form on the COMMAND → monitor socket: `key=value\n` lines
    /// (a list joined with `,`).
    pub fn encode(&self) -> Vec<u8> {
        self.iter().flat_map(|f| format!("{}={}\n", f.key(), f.value_text()).into_bytes()).collect()
    }

    /// Back from [`Fallbacks::encode`]; lines it does not produce are
    /// dropped (both ends are this binary).
    pub fn decode(payload: &[u8]) -> Fallbacks {
        Fallbacks(
            String::from_utf8_lossy(payload)
                .lines()
                .filter_map(|l| l.split_once('='))
                .filter_map(|(k, v)| Fallback::from_pair(k, v))
                .collect(),
        )
    }

    /// The JSON members, `"proc": "parent-bind"`, ..., in order.
    pub fn json_members(&self) -> impl Iterator<Item = String> + '_ {
        self.iter().map(Fallback::json_member)
    }

    /// As one JSON object, `{"proc": "parent-bind", "userns-lock":
    /// "seccomp"}` (`--diagnose --json`'s `"fallbacks"`).
    pub fn json_object(&self) -> String {
        format!("{{{}}}", self.json_members().collect::<Vec<_>>().join(", "))
    }
}

/// Tests compare with `[("proc", "parent-bind")]`.
#[cfg(test)]
impl<const N: usize> PartialEq<[(&str, &str); N]> for Fallbacks {
    fn eq(&self, other: &[(&str, &str); N]) -> bool {
        self.0.len() == N
            && self.iter().zip(other).all(|(f, (k, v))| f.key() == *k && f.value_text() == *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real run (`setup::mount_fresh_proc`) and `--diagnose`
    /// (`plan::proc_line`) both call [`proc_fallback`]; this is its table:
    /// every refusal errno class, masked or not, every mode, and whether
    /// the subset=pid tier (and the parent bind) works.
    #[test]
    fn proc_fallback_table() {
        use ProcFallback::{Auto, Never, Quiet};
        for errno in [Errno::EPERM, Errno::EACCES, Errno::ENOENT, Errno::EINVAL] {
            for masked in [false, true] {
                for mode in [Auto, Quiet, Never] {
                    for subset in [false, true] {
                        for bind in [false, true] {
                            let mut tried = Vec::new();
                            let mut asked = false;
                            let got = proc_fallback(
                                errno,
                                mode,
                                || {
                                    asked = true;
                                    masked
                                },
                                |t| {
                                    tried.push(t);
                                    match t {
                                        ProcTier::SubsetPid => subset,
                                        ProcTier::ParentBind => bind,
                                    }
                                },
                            );
                            let want = if errno != Errno::EPERM {
                                Err(ProcRefused::NotMasks)
                            } else if mode == Never {
                                Err(ProcRefused::Never)
                            } else if !masked {
                                Err(ProcRefused::NotMasks)
                            } else if subset {
                                Ok(ProcTier::SubsetPid)
                            } else if bind {
                                Ok(ProcTier::ParentBind)
                            } else {
                                Err(ProcRefused::NoTier)
                            };
                            let case = (errno, masked, mode, subset, bind);
                            assert_eq!(got, want, "{case:?}");
                            // The mask question (syscalls in the real run)
                            // is asked only for EPERM and not under never.
                            assert_eq!(asked, errno == Errno::EPERM && mode != Never, "{case:?}");
                            // Tiers are tried only when allowed, in order,
                            // up to the first that works.
                            let want_tried: &[ProcTier] = match want {
                                Ok(ProcTier::SubsetPid) => &[ProcTier::SubsetPid],
                                Ok(ProcTier::ParentBind) | Err(ProcRefused::NoTier) => {
                                    &ProcTier::ORDER
                                }
                                Err(_) => &[],
                            };
                            assert_eq!(tried, want_tried, "{case:?}");
                        }
                    }
                }
            }
        }
    }

    /// The run's warning and `--diagnose`'s finding say what they said.
    #[test]
    fn tier_words() {
        let t: Vec<_> =
            ProcTier::ORDER.iter().map(|t| (t.name(), t.cost(), t.cost_short())).collect();
        assert_eq!(
            t,
            [
                (
                    "subset-pid",
                    "the sandbox's /proc has only process directories (no /proc/sys, /proc/meminfo, ...)",
                    "a subset=pid procfs: only process directories"
                ),
                (
                    "parent-bind",
                    "the sandbox sees the container's processes and pid numbers in /proc, with the container's masks",
                    "the sandbox sees the container's pids"
                )
            ]
        );
    }

    #[test]
    fn masked_rule() {
        assert!(proc_masked(ProcRefusal::TooRevealing, || panic!("not asked")));
        assert!(!proc_masked(ProcRefusal::Other, || panic!("not asked")));
        assert!(proc_masked(ProcRefusal::Unknown, || true));
        assert!(!proc_masked(ProcRefusal::Unknown, || false));
    }

    fn every_fallback() -> Fallbacks {
        let mut f = Fallbacks::default();
        for x in [
            Fallback::UsernsImplicit,
            Fallback::PivotRootLockedChroot,
            Fallback::ProcIsolationUserns,
            Fallback::LandlockScopes(SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL),
            Fallback::LandlockScopes(SCOPE_SIGNAL),
            Fallback::Proc(ProcTier::SubsetPid),
            Fallback::Proc(ProcTier::ParentBind),
            Fallback::UsernsLockSeccomp,
            Fallback::Openat2Userspace,
        ] {
            f.push(x);
        }
        f
    }

    #[test]
    fn wire_form_is_the_old_key_value_lines_and_round_trips() {
        let f = every_fallback();
        let wire = f.encode();
        assert_eq!(
            String::from_utf8(wire.clone()).unwrap(),
            "userns=implicit\npivot-root=locked-chroot\nproc-isolation=userns\n\
             landlock-scopes=abstract-unix-sockets,signals\nlandlock-scopes=signals\n\
             proc=subset-pid\nproc=parent-bind\nuserns-lock=seccomp\nopenat2=userspace\n"
        );
        assert_eq!(Fallbacks::decode(&wire), f);
        assert_eq!(Fallbacks::decode(b""), Fallbacks::default());
        // What the child never sends is dropped.
        assert_eq!(
            Fallbacks::decode(
                b"proc=bogus\nx=y\nnoequals\nlandlock-scopes=signals,x\nproc=parent-bind\n"
            ),
            [("proc", "parent-bind")]
        );
    }

    /// The literal strings the old `status::command_pid_line` and
    /// `diagnose::Report::json` produced from the same pairs.
    #[test]
    fn json_as_before() {
        let mut f = Fallbacks::default();
        assert_eq!(f.json_object(), "{}");
        f.push(Fallback::Proc(ProcTier::ParentBind));
        f.push(Fallback::UsernsLockSeccomp);
        assert_eq!(f.json_object(), "{\"proc\": \"parent-bind\", \"userns-lock\": \"seccomp\"}");
        f.push(Fallback::LandlockScopes(SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL));
        assert_eq!(
            f.json_members().collect::<Vec<_>>(),
            [
                "\"proc\": \"parent-bind\"",
                "\"userns-lock\": \"seccomp\"",
                "\"landlock-scopes\": [\"abstract-unix-sockets\", \"signals\"]"
            ]
        );
        let all: Vec<String> = every_fallback().json_members().collect();
        assert_eq!(
            all.join(", "),
            "\"userns\": \"implicit\", \"pivot-root\": \"locked-chroot\", \
             \"proc-isolation\": \"userns\", \
             \"landlock-scopes\": [\"abstract-unix-sockets\", \"signals\"], \
             \"landlock-scopes\": [\"signals\"], \"proc\": \"subset-pid\", \
             \"proc\": \"parent-bind\", \"userns-lock\": \"seccomp\", \"openat2\": \"userspace\""
        );
    }
}
