//! Cross-option rules: bwrap's checks in `main()` after `parse_args`, in
//! bwrap's order and wording. Setuid-only checks are left out: nestwrap never
//! runs setuid (DECISIONS.md).
//!
//! [`validate`] takes the parsed [`Config`] and returns a new type,
//! [`Validated`], in which `unshare.user` and `unshare.cgroup` hold the
//! decision and `unshare.user_try` / `unshare.cgroup_try` are false.

use crate::config::{Config, Unshare};
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
    /// The caller's real uid (`--uid` equal to it needs no user namespace).
    pub real_uid: u32,
    /// The caller's real gid (`--gid` equal to it needs no user namespace).
    pub real_gid: u32,
    /// CAP_SYS_ADMIN is in the effective set: root can set up mounts and
    /// namespaces without a user namespace of its own.
    pub has_sys_admin: bool,
}

/// Capability number of CAP_SYS_ADMIN.
const CAP_SYS_ADMIN: u32 = 21;

impl HostFacts {
    /// Compute the facts the way bwrap does.
    pub fn probe() -> Self {
        Self::probe_with(true, true)
    }

    /// The facts `cfg` needs, and only those: the user-namespace and
    /// cgroup probes read several files, which a plain launch should not
    /// pay for. Unneeded facts read as false (they are not consulted).
    pub fn probe_for(cfg: &Config) -> Self {
        let u = &cfg.unshare;
        Self::probe_with(u.user_try, u.cgroup || u.cgroup_try)
    }

    fn probe_with(userns: bool, cgroup: bool) -> Self {
        let real_uid = nix::unistd::getuid().as_raw();
        let real_gid = nix::unistd::getgid().as_raw();
        HostFacts {
            is_root: real_uid == 0,
            userns_available: userns && userns_available(),
            cgroupns_supported: cgroup && crate::sys::path_exists("/proc/self/ns/cgroup"),
            real_uid,
            real_gid,
            // Only root's capabilities matter (container root without
            // CAP_SYS_ADMIN gets a user namespace).
            has_sys_admin: real_uid == 0
                && crate::sys::caps::capget()
                    .is_ok_and(|c| c.effective & (1 << CAP_SYS_ADMIN) != 0),
        }
    }
}

/// bwrap's test for `--unshare-user-try`.
fn userns_available() -> bool {
    use crate::sys::{path_exists, read_small};
    if !path_exists("/proc/self/ns/user") {
        return false;
    }
    // RHEL 7's module parameter.
    if read_small("/sys/module/user_namespace/parameters/enable")
        .is_some_and(|enable| enable.first() == Some(&b'N'))
    {
        return false;
    }
    !read_small("/proc/sys/user/max_user_namespaces").is_some_and(|max| max == b"0\n")
}

/// The checks bwrap makes before it implies `--unshare-user`. They also run
/// when there is no COMMAND (bwrap prints its usage only after them).
pub(crate) fn check_before_userns(cfg: &Config) -> Result<(), CliError> {
    let u = &cfg.unshare;
    let fail = |m: &str| Err(CliError::msg(m));
    if cfg.userns_block_fd.is_some() && !u.user {
        return fail("--userns-block-fd requires --unshare-user");
    }
    if cfg.userns_block_fd.is_some() && cfg.info_fd.is_none() {
        return fail("--userns-block-fd requires --info-fd");
    }
    if cfg.userns_fd.is_some() && u.user {
        return fail("--userns is not compatible with --unshare-user");
    }
    if cfg.userns_fd.is_some() && u.user_try {
        return fail("--userns is not compatible with --unshare-user-try");
    }
    if cfg.disable_userns && !u.user {
        return fail("--disable-userns requires --unshare-user");
    }
    if cfg.disable_userns && cfg.userns_block_fd.is_some() {
        return fail("--disable-userns is not compatible with --userns-block-fd");
    }
    Ok(())
}

/// A command line that passed bwrap's cross-option rules, with the
/// implicit and `-try` namespaces decided (`unshare.user` and
/// `unshare.cgroup` hold the decision; `user_try` and `cgroup_try` are
/// false). Only [`validate`] makes one, and the sandbox takes nothing else,
/// so no setup can start from a command line that skipped the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    config: Config,
    implicit_userns: bool,
}

impl Validated {
    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The configuration, to be carried out.
    pub fn into_config(self) -> Config {
        self.config
    }

    /// The user namespace is nestwrap's container fallback: root without
    /// CAP_SYS_ADMIN asked for none, and bwrap fails there ("Creating new
    /// namespace failed"). Recorded as `"userns": "implicit"` by the run
    /// and predicted by `--diagnose`, both from this one decision.
    pub fn implicit_userns(&self) -> bool {
        self.implicit_userns
    }
}

impl std::ops::Deref for Validated {
    type Target = Config;

    fn deref(&self) -> &Config {
        &self.config
    }
}

/// Apply bwrap's post-parse rules to `cfg`, deciding the implicit and
/// `-try` namespaces (pure: the facts come in as `host`). `CliError::Usage`
/// if there is no COMMAND (at the point where bwrap notices it).
pub fn validate(cfg: Config, host: &HostFacts) -> Result<Validated, CliError> {
    check_before_userns(&cfg)?;

    // Not setuid and not root: a user namespace is the only way. nestwrap
    // also creates one for root without CAP_SYS_ADMIN (container root in
    // rootless podman), where bwrap fails with "Creating new namespace
    // failed: Operation not permitted".
    let u = cfg.unshare;
    let user = u.user
        || ((!host.is_root || !host.has_sys_admin) && cfg.userns_fd.is_none())
        || (u.user_try && host.userns_available);
    // Where bwrap would have one too (non-root, or asked for), it is no
    // fallback.
    let implicit_userns = user
        && host.is_root
        && !host.has_sys_admin
        && !u.user
        && !(u.user_try && host.userns_available);

    if cfg.command.is_empty() {
        return Err(CliError::Usage);
    }

    let userns = user || cfg.userns_fd.is_some();
    if !userns && cfg.uid.is_some_and(|uid| uid != host.real_uid) {
        return Err(CliError::msg("Specifying --uid requires --unshare-user or --userns"));
    }
    if !userns && cfg.gid.is_some_and(|gid| gid != host.real_gid) {
        return Err(CliError::msg("Specifying --gid requires --unshare-user or --userns"));
    }
    if !u.uts && cfg.hostname.is_some() {
        return Err(CliError::msg("Specifying --hostname requires --unshare-uts"));
    }
    if cfg.as_pid_1 && !u.pid {
        return Err(CliError::msg("Specifying --as-pid-1 requires --unshare-pid"));
    }
    if cfg.as_pid_1 && !cfg.lock_files.is_empty() {
        return Err(CliError::msg("Specifying --as-pid-1 and --lock-file is not permitted"));
    }

    if u.cgroup && !host.cgroupns_supported {
        return Err(CliError::msg(
            "Cannot create new cgroup namespace because the kernel does not support it",
        ));
    }
    let cgroup = if u.cgroup_try { host.cgroupns_supported } else { u.cgroup };
    let unshare = Unshare { user, user_try: false, cgroup, cgroup_try: false, ..u };
    Ok(Validated { config: Config { unshare, ..cfg }, implicit_userns })
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;
    use crate::cli::{parse, Parsed};
    use crate::report::Reporter;

    const USER: HostFacts = HostFacts {
        is_root: false,
        userns_available: true,
        cgroupns_supported: true,
        real_uid: 1001,
        real_gid: 1001,
        has_sys_admin: false,
    };
    const ROOT: HostFacts =
        HostFacts { is_root: true, real_uid: 0, real_gid: 0, has_sys_admin: true, ..USER };
    /// Root in a rootless container: uid 0 without CAP_SYS_ADMIN.
    const CONTAINER_ROOT: HostFacts = HostFacts { has_sys_admin: false, ..ROOT };

    #[test]
    fn container_root_gets_a_user_namespace() {
        let c = Config { command: vec![OsString::from("true")], ..Config::default() };
        let v = validate(c, &CONTAINER_ROOT).unwrap();
        assert!(v.unshare.user && v.implicit_userns());
        let c = Config { command: vec![OsString::from("true")], ..Config::default() };
        let v = validate(c, &ROOT).unwrap();
        assert!(!v.unshare.user && !v.implicit_userns());
        // Asked for, or a non-root caller's: bwrap has one too, no fallback.
        let c = Config { command: vec![OsString::from("true")], ..Config::default() };
        let asked = Config { unshare: Unshare { user: true, ..Unshare::default() }, ..c.clone() };
        assert!(!validate(asked, &CONTAINER_ROOT).unwrap().implicit_userns());
        let tried =
            Config { unshare: Unshare { user_try: true, ..Unshare::default() }, ..c.clone() };
        assert!(!validate(tried, &CONTAINER_ROOT).unwrap().implicit_userns());
        let v = validate(c, &USER).unwrap();
        assert!(v.unshare.user && !v.implicit_userns());
        let c = Config {
            command: vec![OsString::from("true")],
            userns_fd: Some(3),
            ..Config::default()
        };
        assert!(!validate(c, &CONTAINER_ROOT).unwrap().unshare.user, "--userns wins");
    }

    fn config(args: &[&str]) -> Config {
        let args = args.iter().map(OsString::from).collect();
        match parse(args, &mut Reporter::capture()) {
            Ok(Parsed::Run(c)) => *c,
            other => panic!("{other:?}"),
        }
    }

    fn check(args: &[&str], host: HostFacts) -> Result<Config, String> {
        match validate(config(args), &host) {
            Ok(v) => Ok(v.into_config()),
            Err(CliError::Usage) => Err("<usage>".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn err(args: &[&str], host: HostFacts) -> String {
        check(args, host).expect_err("should fail")
    }

    #[test]
    fn each_message() {
        let cases: &[(&[&str], &str)] = &[
            (&["--userns-block-fd", "3", "t"], "--userns-block-fd requires --unshare-user"),
            (
                &["--unshare-user", "--userns-block-fd", "3", "t"],
                "--userns-block-fd requires --info-fd",
            ),
            (
                &["--userns", "3", "--unshare-user", "t"],
                "--userns is not compatible with --unshare-user",
            ),
            (
                &["--userns", "3", "--unshare-all", "t"],
                "--userns is not compatible with --unshare-user-try",
            ),
            (&["--disable-userns", "t"], "--disable-userns requires --unshare-user"),
            (
                &[
                    "--unshare-user",
                    "--disable-userns",
                    "--info-fd",
                    "4",
                    "--userns-block-fd",
                    "3",
                    "t",
                ],
                "--disable-userns is not compatible with --userns-block-fd",
            ),
            (&["--uid", "5", "t"], "Specifying --uid requires --unshare-user or --userns"),
            (&["--gid", "5", "t"], "Specifying --gid requires --unshare-user or --userns"),
            (&["--hostname", "h", "t"], "Specifying --hostname requires --unshare-uts"),
            (&["--as-pid-1", "t"], "Specifying --as-pid-1 requires --unshare-pid"),
            (
                &["--unshare-pid", "--as-pid-1", "--lock-file", "/l", "t"],
                "Specifying --as-pid-1 and --lock-file is not permitted",
            ),
        ];
        for (args, msg) in cases {
            assert_eq!(err(args, ROOT), *msg, "{args:?}");
        }
        let no_cgroup = HostFacts { cgroupns_supported: false, ..ROOT };
        assert_eq!(
            err(&["--unshare-cgroup", "t"], no_cgroup),
            "Cannot create new cgroup namespace because the kernel does not support it"
        );
    }

    #[test]
    fn order_of_checks() {
        // Each line breaks the rule of its message and every later rule: the
        // first rule in bwrap's order wins.
        let later = [
            "--disable-userns",
            "--uid",
            "5",
            "--gid",
            "6",
            "--hostname",
            "h",
            "--as-pid-1",
            "--lock-file",
            "/l",
            "--unshare-cgroup",
            "t",
        ];
        let cases: &[(&[&str], &str)] = &[
            (
                &["--userns-block-fd", "3", "--userns", "4", "--unshare-user-try"],
                "--userns-block-fd requires --unshare-user",
            ),
            (
                &["--unshare-user", "--userns-block-fd", "3", "--userns", "4"],
                "--userns-block-fd requires --info-fd",
            ),
            (
                &["--unshare-user", "--userns", "4", "--unshare-user-try"],
                "--userns is not compatible with --unshare-user",
            ),
            (
                &["--userns", "4", "--unshare-user-try"],
                "--userns is not compatible with --unshare-user-try",
            ),
            (
                &["--userns-block-fd", "3", "--info-fd", "4", "--userns", "5"],
                "--userns-block-fd requires --unshare-user",
            ),
            (&[], "--disable-userns requires --unshare-user"),
            (
                &["--unshare-user", "--userns-block-fd", "3", "--info-fd", "4"],
                "--disable-userns is not compatible with --userns-block-fd",
            ),
        ];
        let no_cgroup = HostFacts { cgroupns_supported: false, ..ROOT };
        for (first, msg) in cases {
            let args: Vec<&str> = first.iter().chain(later.iter()).copied().collect();
            assert_eq!(err(&args, no_cgroup), *msg, "{args:?}");
        }
        // Then, without --disable-userns, the checks after the implication.
        let mut args = later[1..].to_vec();
        for (msg, fix) in [
            ("Specifying --uid requires --unshare-user or --userns", "--unshare-user-try"),
            ("Specifying --hostname requires --unshare-uts", "--unshare-uts"),
            ("Specifying --as-pid-1 requires --unshare-pid", "--unshare-pid"),
        ] {
            let host = HostFacts { userns_available: true, ..no_cgroup };
            if msg.contains("--uid") {
                let no_userns = HostFacts { userns_available: false, ..no_cgroup };
                assert_eq!(err(&args, no_userns), msg, "{args:?}");
                args.insert(0, "--unshare-user-try");
                assert_eq!(err(&args, no_userns), msg, "{args:?}");
                args.remove(0);
                let no_uid: Vec<&str> = args[2..].to_vec();
                assert_eq!(
                    err(&no_uid, no_userns),
                    "Specifying --gid requires --unshare-user or --userns"
                );
            } else {
                assert_eq!(err(&args, host), msg, "{args:?}");
            }
            args.insert(0, fix);
        }
        assert_eq!(
            err(&args, HostFacts { userns_available: true, ..no_cgroup }),
            "Specifying --as-pid-1 and --lock-file is not permitted"
        );
        let l = args.iter().position(|a| *a == "--lock-file").unwrap();
        args.drain(l..l + 2);
        assert_eq!(
            err(&args, no_cgroup),
            "Cannot create new cgroup namespace because the kernel does not support it"
        );
        assert!(check(&args, ROOT).is_ok());
    }

    #[test]
    fn implicit_user_namespace() {
        assert!(check(&["t"], USER).unwrap().unshare.user);
        assert!(!check(&["t"], ROOT).unwrap().unshare.user);
        // Not with --userns.
        assert!(!check(&["--userns", "3", "t"], USER).unwrap().unshare.user);
        // --uid/--gid are fine for a user (implied userns) and for root with its own ids.
        assert_eq!(check(&["--uid", "0", "--gid", "0", "t"], USER).unwrap().uid, Some(0));
        assert!(check(&["--uid", "0", "--gid", "0", "t"], ROOT).is_ok());
        let root_gid = HostFacts { real_gid: 7, ..ROOT };
        assert!(check(&["--gid", "7", "t"], root_gid).is_ok());
        assert!(check(&["--uid", "5", "--userns", "3", "t"], ROOT).is_ok());
        // The checks before the implication still need an explicit --unshare-user.
        assert_eq!(
            err(&["--disable-userns", "t"], USER),
            "--disable-userns requires --unshare-user"
        );
        assert_eq!(
            err(&["--userns-block-fd", "3", "--info-fd", "4", "t"], USER),
            "--userns-block-fd requires --unshare-user"
        );
    }

    #[test]
    fn try_namespaces() {
        let c = check(&["--unshare-all", "t"], ROOT).unwrap();
        assert!(c.unshare.user && c.unshare.cgroup);
        assert!(!c.unshare.user_try && !c.unshare.cgroup_try);
        let none = HostFacts { userns_available: false, cgroupns_supported: false, ..ROOT };
        let c = check(&["--unshare-all", "t"], none).unwrap();
        assert!(!c.unshare.user && !c.unshare.cgroup);
        assert!(c.unshare.pid && c.unshare.net);
        // A non-root caller gets one anyway.
        let user_none = HostFacts { userns_available: false, ..USER };
        assert!(check(&["--unshare-user-try", "t"], user_none).unwrap().unshare.user);
        // --unshare-user-try satisfies --uid only if the namespace is really used.
        assert_eq!(
            err(&["--unshare-user-try", "--uid", "3", "t"], none),
            "Specifying --uid requires --unshare-user or --userns"
        );
        assert!(check(&["--unshare-user-try", "--uid", "3", "t"], ROOT).is_ok());
    }

    #[test]
    fn usage_comes_after_the_userns_checks() {
        let cfg = Config { unshare: crate::config::Unshare::default(), ..Config::default() };
        assert_eq!(validate(cfg.clone(), &ROOT), Err(CliError::Usage));
        let cfg = Config { disable_userns: true, ..cfg };
        assert_eq!(
            validate(cfg, &ROOT),
            Err(CliError::msg("--disable-userns requires --unshare-user"))
        );
        // ... and before the --hostname check.
        let cfg = Config { hostname: Some("h".into()), ..Config::default() };
        assert_eq!(validate(cfg, &ROOT), Err(CliError::Usage));
    }

    #[test]
    fn probe_is_consistent() {
        let h = HostFacts::probe();
        assert_eq!(h.is_root, h.real_uid == 0);
        assert_eq!(h.real_uid, nix::unistd::getuid().as_raw());
        assert_eq!(h.cgroupns_supported, std::path::Path::new("/proc/self/ns/cgroup").exists());
    }
}
