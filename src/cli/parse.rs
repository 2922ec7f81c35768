//! The lexopt loop: bwrap's `parse_args_recurse`, option by option.
//!
//! Rules (see ARCHITECTURE.md §7.4):
//! * an option is looked up in the table (`spec::OPTIONS`; not there: "Unknown
//!   option"), and its table category picks one family function (`namespaces`,
//!   `environment`, `filesystem`, ...), which has one match arm per option, in
//!   the order of bwrap's `usage()`;
//! * all of an option's values are taken first by `take` (the count and the
//!   "takes N arguments" text come from the table), then its checks run in
//!   bwrap's order;
//! * every single-valued option goes through `set_once`: a repeat warns
//!   `Only the last --NAME option will take effect` (NAME from the table)
//!   before the new value is checked;
//! * filesystem ops go into `Config::ops` in command-line order;
//! * `--perms`, `--size` and `--overlay-src` are pending state checked after
//!   every option, exactly where bwrap checks them;
//! * parsing stops at `--` or at the first argument not starting with `-`;
//!   inside `--args` data the rest of the data is then ignored.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use lexopt::{Arg, Parser};

use super::spec::{self, Category, OptSpec, CAP_NAMES};
use super::validate;
use crate::config::{BindKind, CapOp, Config, EnvOp, FdNum, OverlayKind, ProcFallback, SetupOp};
use crate::error::CliError;
use crate::limits::{self, ArgsCounter, MAX_ARGS_DATA_BYTES, SECCOMP_READ_MAX};
use crate::report::Reporter;
use crate::sys::fd::read_fd_bounded_and_close;

/// bwrap's cap on argv items plus `--args` items.
pub const MAX_ARGS: usize = 9000;

/// `SIZE_MAX >> 1`: bwrap's limit for `--size`.
pub const MAX_TMPFS_BYTES: u64 = u64::MAX >> 1;

/// The message for `--diagnose` anywhere but first (main answers it first).
pub const DIAGNOSE_NOT_FIRST: &str = "--diagnose must be the first argument";

const OVERLAY_SRC_UNUSED: &str = "--overlay-src must be followed by another --overlay-src or one \
                                  of --overlay, --tmp-overlay, or --ro-overlay";

/// What the command line asks nestwrap to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// `--help`: usage on stdout, exit 0.
    Help,
    /// `--version`: `bubblewrap 0.13.1` on stdout, exit 0.
    Version,
    /// Run COMMAND in a sandbox.
    Run(Box<Config>),
}

/// Parse argv (without `argv[0]`) the way bwrap does.
pub fn parse_args(args: Vec<OsString>, reporter: &mut Reporter) -> Result<Parsed, CliError> {
    parse_with(args, reporter, None)
}

/// SELinux counts as enabled when selinuxfs is mounted (libselinux looks at
/// the same filesystem).
fn selinux_enabled() -> bool {
    crate::sys::path_exists("/sys/fs/selinux/enforce")
}

/// [`parse_args`] with the SELinux state given (for tests).
#[cfg(test)]
pub(crate) fn parse_args_with(
    args: Vec<OsString>,
    reporter: &mut Reporter,
    selinux: bool,
) -> Result<Parsed, CliError> {
    parse_with(args, reporter, Some(selinux))
}

/// The parser; `selinux: None` asks the system, only if a label option
/// needs to know.
fn parse_with(
    args: Vec<OsString>,
    reporter: &mut Reporter,
    selinux: Option<bool>,
) -> Result<Parsed, CliError> {
    if args.is_empty() {
        return Err(CliError::Usage);
    }
    if args.len() > MAX_ARGS {
        return Err(too_many_args());
    }
    let mut state = State {
        cfg: Config::default(),
        perms: None,
        size: None,
        overlay_srcs: Vec::new(),
        total_args: args.len(),
        args_bytes: 0,
        reporter,
        selinux,
    };
    let mut parser = Parser::from_args(args);
    let command = match state.parse_level(&mut parser, false)? {
        Stop::Help => return Ok(Parsed::Help),
        Stop::Version => return Ok(Parsed::Version),
        Stop::Command(command) => command,
        Stop::End => Vec::new(),
    };
    if !state.overlay_srcs.is_empty() {
        return Err(CliError::msg(OVERLAY_SRC_UNUSED));
    }
    let mut cfg = state.cfg;
    if command.is_empty() {
        // bwrap prints the usage only after its first post-parse checks.
        validate::check_before_userns(&cfg)?;
        return Err(CliError::Usage);
    }
    cfg.command = command;
    Ok(Parsed::Run(Box::new(cfg)))
}

/// Why one level of parsing ended.
enum Stop {
    Help,
    Version,
    /// `--` or a first non-option at the top level: COMMAND and its arguments
    /// (empty after a final `--`).
    Command(Vec<OsString>),
    /// Out of arguments, or end of processing of `--args` data.
    End,
}

struct State<'r> {
    cfg: Config,
    /// `--perms` waiting for the op that creates a file.
    perms: Option<u32>,
    /// `--size` waiting for `--tmpfs`.
    size: Option<u64>,
    /// `--overlay-src` values waiting for an overlay op.
    overlay_srcs: Vec<OsString>,
    /// argv items plus every `--args` item read so far.
    total_args: usize,
    /// Bytes of all `--args` data read so far.
    args_bytes: usize,
    reporter: &'r mut Reporter,
    /// SELinux is enabled; None until a label option asks.
    selinux: Option<bool>,
}

fn unknown(raw: &OsStr) -> CliError {
    CliError::Msg(format!("Unknown option {}", crate::report::show(raw)))
}

/// bwrap 0.13.1 refuses an empty path argument, once the option's other
/// arguments have passed their own checks.
fn no_empty<S: AsRef<OsStr>>(name: &str, paths: &[S]) -> Result<(), CliError> {
    if paths.iter().any(|p| p.as_ref().is_empty()) {
        return Err(CliError::Msg(format!("{name} does not take an empty path argument")));
    }
    Ok(())
}

fn too_many_args() -> CliError {
    CliError::Msg(format!("Exceeded maximum number of arguments {MAX_ARGS}"))
}

/// A table entry that its family function does not handle: the table and
/// the parser drifted apart (`every_table_entry_is_accepted` fails). Refused
/// as bwrap refuses any name it does not know.
fn unhandled(opt: &OptSpec) -> CliError {
    unknown(OsStr::new(opt.name))
}

/// All the values of `opt`, whatever they look like, taken before any of
/// them is checked (bwrap's order). The table owns the count: `N` must be
/// `opt.arity()`, and a missing value gives the table's "takes N arguments".
fn take<const N: usize>(p: &mut Parser, opt: &OptSpec) -> Result<[OsString; N], CliError> {
    debug_assert_eq!(N, opt.arity(), "{}: arity differs from the option table", opt.name);
    let mut values = std::array::from_fn(|_| OsString::new());
    for v in &mut values {
        *v = p.value().map_err(|_| CliError::msg(opt.missing))?;
    }
    Ok(values)
}

/// [`take`] for options whose values are all paths, none of them empty.
fn paths<const N: usize>(p: &mut Parser, opt: &OptSpec) -> Result<[OsString; N], CliError> {
    let values = take(p, opt)?;
    no_empty(opt.name, &values)?;
    Ok(values)
}

/// The one path of `--proc`, `--dev`, `--tmpfs` and the like.
fn one_path(p: &mut Parser, opt: &OptSpec) -> Result<OsString, CliError> {
    let [path] = paths(p, opt)?;
    Ok(path)
}

/// `FD DEST` (`--bind-fd`, `--file`, `--bind-data`, ...): the fd is checked
/// before the path.
fn fd_and_dest(p: &mut Parser, opt: &OptSpec) -> Result<(FdNum, OsString), CliError> {
    let [fd, dest] = take(p, opt)?;
    let fd = parse_fd(&fd)?;
    no_empty(opt.name, &[&dest])?;
    Ok((fd, dest))
}

/// The one rule for single-valued options (`--chdir`, `--uid`, `--userns`,
/// the monitoring fds, ...): a repeat first warns `Only the last --chdir
/// option will take effect`, then `value` checks and converts (so its error
/// follows the warning, as in bwrap), then the new value replaces the old.
fn set_once<T>(
    slot: &mut Option<T>,
    opt: &OptSpec,
    reporter: &mut Reporter,
    value: impl FnOnce() -> Result<T, CliError>,
) -> Result<(), CliError> {
    if slot.is_some() {
        reporter.warn(&format!("Only the last {} option will take effect", opt.name));
    }
    *slot = Some(value()?);
    Ok(())
}

/// `--uid` / `--gid`: `Invalid uid: x` names the option without its dashes.
fn id_value(opt: &OptSpec, v: &OsStr) -> Result<u32, CliError> {
    parse_id(v).ok_or_else(|| {
        let what = opt.name.trim_start_matches('-');
        CliError::Msg(format!("Invalid {what}: {}", crate::report::show(v)))
    })
}

/// `--perms` / `--chmod`: an octal mode.
fn mode_value(opt: &OptSpec, v: &OsStr) -> Result<u32, CliError> {
    parse_mode(v)
        .ok_or_else(|| CliError::Msg(format!("{} takes an octal argument <= 07777", opt.name)))
}

impl State<'_> {
    fn parse_level(&mut self, parser: &mut Parser, in_file: bool) -> Result<Stop, CliError> {
        loop {
            let raw = match parser.try_raw_args().as_ref().and_then(|r| r.peek()) {
                Some(raw) => raw.to_owned(),
                None => return Ok(Stop::End),
            };
            let bytes = raw.as_bytes();
            if bytes == b"--" || !bytes.starts_with(b"-") {
                if in_file {
                    return Ok(Stop::End);
                }
                let mut rest: Vec<OsString> =
                    parser.raw_args().map(|r| r.collect()).unwrap_or_default();
                if bytes == b"--" {
                    rest.remove(0);
                }
                return Ok(Stop::Command(rest));
            }
            if !bytes.starts_with(b"--") {
                // A lone `-` or a short option: bwrap has none.
                return Err(unknown(&raw));
            }
            let name = match parser.next() {
                Ok(Some(Arg::Long(name))) => format!("--{name}"),
                _ => return Err(unknown(&raw)),
            };
            if name == "--debug-opt" {
                // bwrap 0.13.1's hidden testing hook, only as `--debug-opt=VALUE`.
                match parser.optional_value() {
                    Some(v) => self.debug_opt(&v)?,
                    None => return Err(unknown(&raw)),
                }
                continue;
            }
            if parser.optional_value().is_some() {
                // `--opt=value`: bwrap only knows `--opt value`.
                return Err(unknown(&raw));
            }
            if let Some(stop) = self.option(&name, &raw, parser, in_file)? {
                return Ok(stop);
            }
            self.check_pending(&name)?;
        }
    }

    /// After every option but a modifier, nothing may be left pending.
    fn check_pending(&self, name: &str) -> Result<(), CliError> {
        let modifier = name == "--perms" || name == "--size";
        if !modifier && self.perms.is_some() {
            return Err(CliError::msg("--perms must be followed by an option that creates a file"));
        }
        if !modifier && self.size.is_some() {
            return Err(CliError::msg("--size must be followed by --tmpfs"));
        }
        if name != "--overlay-src" && !self.overlay_srcs.is_empty() {
            return Err(CliError::msg(OVERLAY_SRC_UNUSED));
        }
        Ok(())
    }

    fn debug_opt(&mut self, value: &OsStr) -> Result<(), CliError> {
        match value.as_bytes() {
            b"force-openat-fallback" => self.cfg.debug_force_openat_fallback = true,
            b"force-mount-setattr-fallback" => self.cfg.debug_force_setattr_fallback = true,
            _ => {
                return Err(CliError::Msg(format!(
                    "Unknown --debug-opt value: {}",
                    crate::report::show(value)
                )))
            }
        }
        Ok(())
    }

    fn check_label(&mut self) -> Result<(), CliError> {
        if *self.selinux.get_or_insert_with(selinux_enabled) {
            Ok(())
        } else {
            Err(CliError::msg("labeling not supported on this system"))
        }
    }

    /// A single-valued option with no check beyond its own value: take the
    /// value, then [`set_once`] into the `Config` field that `slot` picks.
    fn last_wins<T>(
        &mut self,
        opt: &OptSpec,
        p: &mut Parser,
        slot: fn(&mut Config) -> &mut Option<T>,
        convert: impl FnOnce(OsString) -> Result<T, CliError>,
    ) -> Result<(), CliError> {
        let [v] = take(p, opt)?;
        set_once(slot(&mut self.cfg), opt, self.reporter, || convert(v))
    }

    /// Handle one option: the table knows it or it is unknown; its category
    /// picks the family function that reads it. `Some` ends parsing
    /// (`--help`, `--version`, also from `--args` data).
    fn option(
        &mut self,
        name: &str,
        raw: &OsStr,
        p: &mut Parser,
        in_file: bool,
    ) -> Result<Option<Stop>, CliError> {
        let Some(opt) = spec::find(name) else {
            return Err(unknown(raw));
        };
        match opt.category {
            Category::General => return self.general(opt, p, in_file),
            Category::Namespaces => self.namespaces(opt, p)?,
            Category::Environment => self.environment(opt, p)?,
            Category::Monitoring => self.monitoring(opt, p)?,
            Category::Filesystem => self.filesystem(opt, p)?,
            Category::Lockdown => self.lockdown(opt, p)?,
            Category::Extensions => self.extensions(opt, p)?,
        }
        Ok(None)
    }

    fn general(
        &mut self,
        opt: &OptSpec,
        p: &mut Parser,
        in_file: bool,
    ) -> Result<Option<Stop>, CliError> {
        match opt.name {
            "--help" => return Ok(Some(Stop::Help)),
            "--version" => return Ok(Some(Stop::Version)),
            "--args" => return self.args(opt, p, in_file),
            "--argv0" => {
                let [v] = take(p, opt)?;
                if self.cfg.argv0.is_some() {
                    return Err(CliError::msg("--argv0 used multiple times"));
                }
                self.cfg.argv0 = Some(v);
            }
            "--level-prefix" => {
                self.cfg.level_prefix = true;
                self.reporter.level_prefix = true;
            }
            "--not-a-security-boundary" => self.cfg.not_a_security_boundary = true,
            _ => return Err(unhandled(opt)),
        }
        Ok(None)
    }

    /// `--args FD`: read the data, count its items, parse them in place.
    fn args(
        &mut self,
        opt: &OptSpec,
        p: &mut Parser,
        in_file: bool,
    ) -> Result<Option<Stop>, CliError> {
        if in_file {
            return Err(CliError::msg("--args not supported in arguments file"));
        }
        let [fd] = take(p, opt)?;
        let fd = parse_fd(&fd)?;
        // Bounded, unlike bwrap (DESIGN.md): stop reading once the
        // items (bwrap's count) or the bytes pass their caps.
        let budget = MAX_ARGS_DATA_BYTES - self.args_bytes;
        let before = self.total_args;
        let mut counter = ArgsCounter::default();
        let data =
            read_fd_bounded_and_close(fd, budget + 1, |d| before + counter.items(d) > MAX_ARGS)
                .map_err(|errno| CliError::Errno { msg: "Can't read --args data".into(), errno })?;
        if before + counter.items(&data) > MAX_ARGS {
            return Err(too_many_args());
        }
        if data.len() > budget {
            return Err(CliError::Msg(limits::args_data_too_long()));
        }
        self.args_bytes += data.len();
        let items = split_args_data(&data);
        for _ in &items {
            self.total_args += 1;
            if self.total_args > MAX_ARGS {
                return Err(too_many_args());
            }
        }
        let mut inner = Parser::from_args(items);
        match self.parse_level(&mut inner, true)? {
            Stop::Help => Ok(Some(Stop::Help)),
            Stop::Version => Ok(Some(Stop::Version)),
            Stop::Command(_) | Stop::End => Ok(None),
        }
    }

    fn namespaces(&mut self, opt: &OptSpec, p: &mut Parser) -> Result<(), CliError> {
        let u = &mut self.cfg.unshare;
        match opt.name {
            "--unshare-all" => {
                u.user_try = true;
                u.ipc = true;
                u.pid = true;
                u.uts = true;
                u.cgroup_try = true;
                u.net = true;
            }
            "--share-net" => u.net = false,
            "--unshare-user" => u.user = true,
            "--unshare-user-try" => u.user_try = true,
            "--unshare-ipc" => u.ipc = true,
            "--unshare-pid" => u.pid = true,
            "--unshare-net" => u.net = true,
            "--unshare-uts" => u.uts = true,
            "--unshare-cgroup" => u.cgroup = true,
            "--unshare-cgroup-try" => u.cgroup_try = true,
            "--userns" => self.last_wins(opt, p, |c| &mut c.userns_fd, parse_fd)?,
            "--userns2" => self.last_wins(opt, p, |c| &mut c.userns2_fd, parse_fd)?,
            "--disable-userns" => self.cfg.disable_userns = true,
            "--assert-userns-disabled" => self.cfg.assert_userns_disabled = true,
            "--pidns" => self.last_wins(opt, p, |c| &mut c.pidns_fd, parse_fd)?,
            "--uid" => self.last_wins(opt, p, |c| &mut c.uid, |v| id_value(opt, &v))?,
            "--gid" => self.last_wins(opt, p, |c| &mut c.gid, |v| id_value(opt, &v))?,
            "--hostname" => self.last_wins(opt, p, |c| &mut c.hostname, Ok)?,
            _ => return Err(unhandled(opt)),
        }
        Ok(())
    }

    fn environment(&mut self, opt: &OptSpec, p: &mut Parser) -> Result<(), CliError> {
        match opt.name {
            "--chdir" => {
                // The empty-path check comes after the warning, as in bwrap.
                let path = |v: OsString| no_empty(opt.name, &[&v]).map(|()| v);
                self.last_wins(opt, p, |c| &mut c.chdir, path)?
            }
            "--clearenv" => self.cfg.env_ops.push(EnvOp::Clear),
            "--setenv" => {
                let [var, value] = take(p, opt)?;
                if !valid_env_name(&var) {
                    return Err(CliError::msg("setenv failed"));
                }
                self.cfg.env_ops.push(EnvOp::Set { var, value });
            }
            "--unsetenv" => {
                let [var] = take(p, opt)?;
                if !valid_env_name(&var) {
                    return Err(CliError::msg("unsetenv failed"));
                }
                self.cfg.env_ops.push(EnvOp::Unset { var });
            }
            _ => return Err(unhandled(opt)),
        }
        Ok(())
    }

    fn monitoring(&mut self, opt: &OptSpec, p: &mut Parser) -> Result<(), CliError> {
        match opt.name {
            "--lock-file" => {
                let [path] = paths(p, opt)?;
                self.cfg.lock_files.push(path);
            }
            "--sync-fd" => {
                // Repeatable since 0.13.1: no "only the last" warning.
                let [fd] = take(p, opt)?;
                self.cfg.sync_fds.push(parse_fd(&fd)?);
            }
            "--block-fd" => self.last_wins(opt, p, |c| &mut c.block_fd, parse_fd)?,
            "--userns-block-fd" => self.last_wins(opt, p, |c| &mut c.userns_block_fd, parse_fd)?,
            "--info-fd" => self.last_wins(opt, p, |c| &mut c.info_fd, parse_fd)?,
            "--json-status-fd" => self.last_wins(opt, p, |c| &mut c.json_status_fd, parse_fd)?,
            _ => return Err(unhandled(opt)),
        }
        Ok(())
    }

    /// Filesystem options: every op goes into `Config::ops` in command-line
    /// order; `--perms`, `--size` and `--overlay-src` only leave state
    /// pending for the op that follows.
    fn filesystem(&mut self, opt: &OptSpec, p: &mut Parser) -> Result<(), CliError> {
        if let Some(make) = opt.dest_op {
            // An op of DEST alone: the table says which.
            let op = make(one_path(p, opt)?);
            self.cfg.ops.push(op);
            return Ok(());
        }
        let name = opt.name;
        let op = match name {
            "--perms" | "--size" => return self.modifier(opt, p),
            "--overlay-src" => return self.overlay_src(opt, p),
            "--overlay" | "--tmp-overlay" | "--ro-overlay" => self.overlay(opt, p)?,
            "--bind" | "--bind-try" | "--dev-bind" | "--dev-bind-try" | "--ro-bind"
            | "--ro-bind-try" => {
                let [src, dest] = paths(p, opt)?;
                let kind = match name {
                    "--bind" | "--bind-try" => BindKind::ReadWrite,
                    "--dev-bind" | "--dev-bind-try" => BindKind::Devices,
                    _ => BindKind::ReadOnly,
                };
                SetupOp::Bind { src, dest, kind, allow_notexist: name.ends_with("-try") }
            }
            "--bind-fd" | "--ro-bind-fd" => {
                let (fd, dest) = fd_and_dest(p, opt)?;
                SetupOp::BindFd { fd, dest, readonly: name == "--ro-bind-fd" }
            }
            "--tmpfs" => {
                let dest = one_path(p, opt)?;
                SetupOp::Tmpfs { dest, perms: self.perms.take(), size: self.size.take() }
            }
            "--dir" => SetupOp::Dir { dest: one_path(p, opt)?, perms: self.perms.take() },
            "--file" => {
                let (fd, dest) = fd_and_dest(p, opt)?;
                SetupOp::File { fd, dest, perms: self.perms.take() }
            }
            "--bind-data" | "--ro-bind-data" => {
                let (fd, dest) = fd_and_dest(p, opt)?;
                let readonly = name == "--ro-bind-data";
                SetupOp::BindData { fd, dest, perms: self.perms.take(), readonly }
            }
            "--symlink" => {
                let [target, dest] = paths(p, opt)?;
                SetupOp::Symlink { target, dest }
            }
            "--chmod" => {
                let [mode, path] = take(p, opt)?;
                let mode = mode_value(opt, &mode)?;
                no_empty(name, &[&path])?;
                SetupOp::Chmod { mode, path }
            }
            _ => return Err(unhandled(opt)),
        };
        self.cfg.ops.push(op);
        Ok(())
    }

    /// `--perms` and `--size`: pending until the op that uses them.
    fn modifier(&mut self, opt: &OptSpec, p: &mut Parser) -> Result<(), CliError> {
        let [v] = take(p, opt)?;
        let twice = || CliError::Msg(format!("{} given twice for the same action", opt.name));
        match opt.name {
            "--perms" => {
                if self.perms.is_some() {
                    return Err(twice());
                }
                self.perms = Some(mode_value(opt, &v)?);
            }
            "--size" => {
                if self.size.is_some() {
                    return Err(twice());
                }
                let size = parse_size(&v)
                    .ok_or_else(|| CliError::msg("--size takes a non-zero number of bytes"))?;
                if size > MAX_TMPFS_BYTES {
                    return Err(CliError::Msg(format!(
                        "--size (for tmpfs) is limited to {MAX_TMPFS_BYTES}"
                    )));
                }
                self.size = Some(size);
            }
            _ => return Err(unhandled(opt)),
        }
        Ok(())
    }

    /// `--overlay-src SRC`: one more layer for the next overlay op.
    fn overlay_src(&mut self, opt: &OptSpec, p: &mut Parser) -> Result<(), CliError> {
        let Ok([src]) = take(p, opt) else {
            // bwrap counts the source anyway and only notices at the end.
            self.check_pending(opt.name)?;
            return Err(CliError::msg(OVERLAY_SRC_UNUSED));
        };
        no_empty(opt.name, &[&src])?;
        self.overlay_srcs.push(src);
        Ok(())
    }

    /// `--overlay`, `--tmp-overlay`, `--ro-overlay`: values first, then the
    /// layer count, then empty paths; the pending layers go into the op.
    fn overlay(&mut self, opt: &OptSpec, p: &mut Parser) -> Result<SetupOp, CliError> {
        let (kind, dest) = match opt.name {
            "--overlay" => {
                let [rwsrc, workdir, dest] = take(p, opt)?;
                self.check_layers(opt, 1)?;
                no_empty(opt.name, &[&rwsrc, &workdir, &dest])?;
                (OverlayKind::ReadWrite { rwsrc, workdir }, dest)
            }
            "--tmp-overlay" | "--ro-overlay" => {
                let [dest] = take(p, opt)?;
                let (kind, min) = match opt.name {
                    "--tmp-overlay" => (OverlayKind::Tmp, 1),
                    _ => (OverlayKind::ReadOnly, 2),
                };
                self.check_layers(opt, min)?;
                no_empty(opt.name, &[&dest])?;
                (kind, dest)
            }
            _ => return Err(unhandled(opt)),
        };
        let srcs = std::mem::take(&mut self.overlay_srcs);
        Ok(SetupOp::Overlay { srcs, kind, dest })
    }

    /// `--overlay requires at least one --overlay-src` and the like.
    fn check_layers(&self, opt: &OptSpec, min: usize) -> Result<(), CliError> {
        if self.overlay_srcs.len() >= min {
            return Ok(());
        }
        let count = if min == 1 { "one" } else { "two" };
        Err(CliError::Msg(format!("{} requires at least {count} --overlay-src", opt.name)))
    }

    fn lockdown(&mut self, opt: &OptSpec, p: &mut Parser) -> Result<(), CliError> {
        match opt.name {
            "--exec-label" => {
                self.last_wins(opt, p, |c| &mut c.exec_label, Ok)?;
                self.check_label()?;
            }
            "--file-label" => {
                self.last_wins(opt, p, |c| &mut c.file_label, Ok)?;
                self.check_label()?;
            }
            "--seccomp" => {
                let [v] = take(p, opt)?;
                if !self.cfg.add_seccomp.is_empty() {
                    return Err(CliError::msg(
                        "--seccomp cannot be combined with --add-seccomp-fd",
                    ));
                }
                set_once(&mut self.cfg.seccomp_fd, opt, self.reporter, || parse_fd(&v))?;
            }
            "--add-seccomp-fd" => self.add_seccomp_fd(opt, p)?,
            "--new-session" => self.cfg.new_session = true,
            "--die-with-parent" => self.cfg.die_with_parent = true,
            "--as-pid-1" => self.cfg.as_pid_1 = true,
            "--cap-add" | "--cap-drop" => {
                let [v] = take(p, opt)?;
                let cap = parse_cap(&v).ok_or_else(|| {
                    CliError::Msg(format!("unknown cap: {}", crate::report::show(&v)))
                })?;
                let op = if opt.name == "--cap-add" { CapOp::Add(cap) } else { CapOp::Drop(cap) };
                self.cfg.caps.push(op);
            }
            _ => return Err(unhandled(opt)),
        }
        Ok(())
    }

    /// `--add-seccomp-fd FD`: read the program now, as bwrap does.
    fn add_seccomp_fd(&mut self, opt: &OptSpec, p: &mut Parser) -> Result<(), CliError> {
        let [v] = take(p, opt)?;
        let cfg = &mut self.cfg;
        if cfg.seccomp_fd.is_some() {
            return Err(CliError::msg("--add-seccomp-fd cannot be combined with --seccomp"));
        }
        let fd = parse_fd(&v)?;
        // Never more than one instruction past the kernel's limit: a
        // longer program would be truncated to 16 bits of length.
        let data = read_fd_bounded_and_close(fd, SECCOMP_READ_MAX, |_| false)
            .map_err(|errno| CliError::Errno { msg: "Can't read seccomp data".into(), errno })?;
        limits::check_seccomp_program(&data).map_err(CliError::Msg)?;
        cfg.add_seccomp.push(data);
        // The kernel's limit on the chain, checked before anything
        // runs (the child checks again with --disable-userns's lock).
        limits::check_seccomp_stack(cfg.add_seccomp.iter().map(|p| p.len() / 8))
            .map_err(CliError::Msg)
    }

    /// nestwrap's own options.
    fn extensions(&mut self, opt: &OptSpec, p: &mut Parser) -> Result<(), CliError> {
        match opt.name {
            "--proc-fallback" => {
                let [v] = take(p, opt)?;
                // The word is checked before the repeat warning.
                let Some(mode) = ProcFallback::from_name(&v) else {
                    return Err(CliError::msg(format!(
                        "--proc-fallback takes auto, quiet or never, not {}",
                        crate::report::show(&v)
                    )));
                };
                set_once(&mut self.cfg.proc_fallback, opt, self.reporter, || Ok(mode))?;
            }
            "--forward-signals" => self.cfg.forward_signals = true,
            "--scope-abstract-unix-sockets" => self.cfg.scope_abstract_unix_sockets = true,
            "--scope-signals" => self.cfg.scope_signals = true,
            // main_entry answers `--diagnose` as argv[1]; anywhere else
            // (after other options, in --args data, in BWRAP-ARGS) it is
            // an error rather than a silent mode switch.
            "--diagnose" => return Err(CliError::msg(DIAGNOSE_NOT_FIRST)),
            _ => return Err(unhandled(opt)),
        }
        Ok(())
    }
}

/// `--args` data: NUL-terminated items; a final item without NUL counts too.
fn split_args_data(data: &[u8]) -> Vec<OsString> {
    let mut items: Vec<OsString> =
        data.split(|&b| b == 0).map(|s| OsStr::from_bytes(s).to_owned()).collect();
    if data.is_empty() || data.last() == Some(&0) {
        items.pop();
    }
    items
}

/// glibc's `setenv`/`unsetenv` refuse an empty name or one containing `=`.
fn valid_env_name(var: &OsStr) -> bool {
    !var.is_empty() && !var.as_bytes().contains(&b'=')
}

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C's `strtol`/`strtoul` on a whole string: optional leading white space and
/// sign, digits in `radix`, and nothing after them. Returns the sign and the
/// magnitude, saturated at `u64::MAX` (`None` if no digits or trailing garbage).
fn c_strto_whole(s: &[u8], radix: u32) -> Option<(bool, u64, bool)> {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let (mag, used, overflow) = digits(&s[i..], radix);
    if used == 0 || i + used != s.len() {
        return None;
    }
    Some((neg, mag, overflow))
}

/// Leading digits of `s` in `radix`: (value saturated at u64::MAX, count, overflowed).
fn digits(s: &[u8], radix: u32) -> (u64, usize, bool) {
    let mut val: u64 = 0;
    let mut overflow = false;
    let mut n = 0;
    for &b in s {
        let Some(d) = char::from(b).to_digit(radix) else { break };
        match val.checked_mul(u64::from(radix)).and_then(|v| v.checked_add(u64::from(d))) {
            Some(v) => val = v,
            None => overflow = true,
        }
        n += 1;
    }
    if overflow {
        val = u64::MAX;
    }
    (val, n, overflow)
}

/// C's base 0 for `strtoul` on `b`, which starts with a digit: `0x`/`0X`
/// before a hex digit is hexadecimal (the prefix skipped), a leading `0`
/// octal, anything else decimal.
fn base0_radix(b: &[u8]) -> (u32, &[u8]) {
    if (b.starts_with(b"0x") || b.starts_with(b"0X")) && b.get(2).is_some_and(u8::is_ascii_hexdigit)
    {
        (16, &b[2..])
    } else if b.first() == Some(&b'0') {
        (8, b)
    } else {
        (10, b)
    }
}

/// bwrap's `int x = strtol(s, &end, 10)` followed by "not empty, no garbage,
/// not negative". The `long` result is converted to `int` as C does (wrapping).
fn parse_c_int(s: &OsStr) -> Option<i32> {
    let (neg, mag, _) = c_strto_whole(s.as_bytes(), 10)?;
    let long: i64 = if neg {
        if mag > 1 << 63 {
            i64::MIN
        } else {
            0i64.wrapping_sub(mag as i64)
        }
    } else {
        i64::try_from(mag).unwrap_or(i64::MAX)
    };
    let int = long as i32;
    (int >= 0).then_some(int)
}

/// An fd argument: `Invalid fd: %s` unless a non-negative decimal `int`.
fn parse_fd(s: impl AsRef<OsStr>) -> Result<FdNum, CliError> {
    let s = s.as_ref();
    parse_c_int(s).ok_or_else(|| CliError::Msg(format!("Invalid fd: {}", crate::report::show(s))))
}

/// A `--uid` / `--gid` value (same rules as an fd).
fn parse_id(s: &OsStr) -> Option<u32> {
    parse_c_int(s).map(|v| v as u32)
}

/// `strtoul(s, &end, 8)` on the whole string, at most 07777.
fn parse_mode(s: &OsStr) -> Option<u32> {
    let (neg, mag, overflow) = c_strto_whole(s.as_bytes(), 8)?;
    let v = if overflow {
        u64::MAX
    } else if neg {
        mag.wrapping_neg()
    } else {
        mag
    };
    (v <= 0o7777).then_some(v as u32)
}

/// `--size`: `strtoull(s, &end, 0)`, first character a digit, no garbage,
/// no overflow, non-zero.
fn parse_size(s: &OsStr) -> Option<u64> {
    let b = s.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let (radix, body) = base0_radix(b);
    let (v, used, overflow) = digits(body, radix);
    if overflow || used != body.len() || v == 0 {
        return None;
    }
    Some(v)
}

/// libcap's `cap_from_name` as bwrap uses it, plus bwrap's `ALL`:
/// `Some(None)` = ALL, `Some(Some(n))` = capability n.
///
/// libcap accepts a number (C `strtoul` base 0 on the leading digits) below 64,
/// or a name matched case-insensitively on the leading letters and
/// underscores, ignoring whatever follows (`CAP_NET_ADMIN123` is accepted).
fn parse_cap(s: &OsStr) -> Option<Option<u8>> {
    let b = s.as_bytes();
    if b.eq_ignore_ascii_case(b"ALL") {
        return Some(None);
    }
    if b.first().is_some_and(u8::is_ascii_digit) {
        let (radix, body) = base0_radix(b);
        let (v, _, _) = digits(body, radix);
        return (v < 64).then_some(Some(v as u8));
    }
    let len = b.iter().take_while(|c| c.is_ascii_alphabetic() || **c == b'_').count();
    let word = &b[..len];
    CAP_NAMES.iter().position(|n| n.as_bytes().eq_ignore_ascii_case(word)).map(|i| Some(i as u8))
}

#[cfg(test)]
mod tests {
    use std::os::fd::IntoRawFd;

    use super::*;
    use crate::cli::spec::{ValueKind, OPTIONS};
    use crate::config::Unshare;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn run(args: &[&str]) -> (Result<Parsed, CliError>, Vec<String>) {
        let mut rep = Reporter::capture();
        let r = parse_args_with(os(args), &mut rep, false);
        (r, rep.captured().to_vec())
    }

    fn cfg(args: &[&str]) -> Config {
        match run(args).0 {
            Ok(Parsed::Run(cfg)) => *cfg,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn err(args: &[&str]) -> String {
        match run(args).0 {
            Err(CliError::Usage) => "<usage>".into(),
            Err(e) => e.to_string(),
            Ok(p) => panic!("{args:?} parsed: {p:?}"),
        }
    }

    /// A descriptor holding `data`: a pipe for small data (the write end is
    /// closed), an unlinked temporary file when it would not fit a pipe buffer.
    /// The parser owns (and closes) it.
    fn pipe_with(data: &[u8]) -> String {
        if data.len() > 4096 {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir()
                .join(format!("nestwrap-parse-test-{}-{n}", std::process::id()));
            std::fs::write(&path, data).unwrap();
            let f = std::fs::File::open(&path).unwrap();
            std::fs::remove_file(&path).unwrap();
            return f.into_raw_fd().to_string();
        }
        let (r, w) = nix::unistd::pipe().unwrap();
        assert_eq!(nix::unistd::write(&w, data).unwrap(), data.len());
        drop(w);
        r.into_raw_fd().to_string()
    }

    fn o(s: &str) -> OsString {
        s.into()
    }

    #[test]
    fn flags() {
        let c = cfg(&[
            "--level-prefix",
            "--not-a-security-boundary",
            "--unshare-user",
            "--unshare-ipc",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-uts",
            "--unshare-cgroup",
            "--disable-userns",
            "--assert-userns-disabled",
            "--new-session",
            "--die-with-parent",
            "--as-pid-1",
            "true",
        ]);
        assert!(c.level_prefix && c.not_a_security_boundary && c.disable_userns);
        assert!(c.assert_userns_disabled && c.new_session && c.die_with_parent && c.as_pid_1);
        let u = Unshare {
            user: true,
            ipc: true,
            pid: true,
            net: true,
            uts: true,
            cgroup: true,
            ..Unshare::default()
        };
        assert_eq!(c.unshare, u);
        assert_eq!(c.command, os(&["true"]));
    }

    #[test]
    fn unshare_all_and_share_net() {
        let all = Unshare {
            user_try: true,
            ipc: true,
            pid: true,
            net: true,
            uts: true,
            cgroup_try: true,
            ..Unshare::default()
        };
        assert_eq!(cfg(&["--unshare-all", "true"]).unshare, all);
        assert_eq!(
            cfg(&["--unshare-all", "--share-net", "true"]).unshare,
            Unshare { net: false, ..all }
        );
        // --share-net is a plain reset: before --unshare-all it does nothing.
        assert_eq!(cfg(&["--share-net", "--unshare-all", "true"]).unshare, all);
        let u = cfg(&["--unshare-user-try", "--unshare-cgroup-try", "x"]).unshare;
        assert!(u.user_try && u.cgroup_try && !u.user && !u.cgroup);
    }

    #[test]
    fn valued_options() {
        let c = cfg(&[
            "--argv0",
            "a0",
            "--userns",
            "3",
            "--userns2",
            "4",
            "--pidns",
            "5",
            "--uid",
            "10",
            "--gid",
            "11",
            "--hostname",
            "h",
            "--chdir",
            "/d",
            "--lock-file",
            "/l1",
            "--lock-file",
            "/l2",
            "--sync-fd",
            "6",
            "--sync-fd",
            "7",
            "--block-fd",
            "8",
            "--userns-block-fd",
            "9",
            "--info-fd",
            "10",
            "--json-status-fd",
            "11",
            "--seccomp",
            "12",
            "--cap-add",
            "CAP_NET_ADMIN",
            "--cap-drop",
            "all",
            "--cap-add",
            "cap_sys_admin",
            "--cap-drop",
            "Cap_Chown",
            "cmd",
            "arg",
        ]);
        assert_eq!(c.argv0, Some(o("a0")));
        assert_eq!((c.userns_fd, c.userns2_fd, c.pidns_fd), (Some(3), Some(4), Some(5)));
        assert_eq!((c.uid, c.gid), (Some(10), Some(11)));
        assert_eq!(c.hostname, Some(o("h")));
        assert_eq!(c.chdir, Some(o("/d")));
        assert_eq!(c.lock_files, os(&["/l1", "/l2"]));
        assert_eq!(c.sync_fds, vec![6, 7]);
        assert_eq!(
            (c.block_fd, c.userns_block_fd, c.info_fd, c.json_status_fd, c.seccomp_fd),
            (Some(8), Some(9), Some(10), Some(11), Some(12))
        );
        assert_eq!(
            c.caps,
            vec![
                CapOp::Add(Some(12)),
                CapOp::Drop(None),
                CapOp::Add(Some(21)),
                CapOp::Drop(Some(0))
            ]
        );
        assert_eq!(c.command, os(&["cmd", "arg"]));
        assert!(c.ops.is_empty());
    }

    #[test]
    fn env_ops_in_order() {
        let c = cfg(&[
            "--setenv",
            "A",
            "1",
            "--clearenv",
            "--unsetenv",
            "B",
            "--setenv",
            "C",
            "x=y",
            "t",
        ]);
        assert_eq!(
            c.env_ops,
            vec![
                EnvOp::Set { var: o("A"), value: o("1") },
                EnvOp::Clear,
                EnvOp::Unset { var: o("B") },
                EnvOp::Set { var: o("C"), value: o("x=y") },
            ]
        );
        assert_eq!(err(&["--setenv", "A=B", "x"]), "setenv failed");
        assert_eq!(err(&["--setenv", "", "x"]), "setenv failed");
        assert_eq!(err(&["--unsetenv", "A=B"]), "unsetenv failed");
        assert_eq!(err(&["--unsetenv", ""]), "unsetenv failed");
    }

    #[test]
    fn filesystem_ops() {
        let c = cfg(&[
            "--bind",
            "/a",
            "/b",
            "--bind-try",
            "/c",
            "/d",
            "--dev-bind",
            "/e",
            "/f",
            "--dev-bind-try",
            "/g",
            "/h",
            "--ro-bind",
            "/i",
            "/j",
            "--ro-bind-try",
            "/k",
            "/l",
            "--bind-fd",
            "3",
            "/m",
            "--ro-bind-fd",
            "4",
            "/n",
            "--remount-ro",
            "/o",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--tmpfs",
            "/tmp",
            "--mqueue",
            "/mq",
            "--dir",
            "/dir",
            "--file",
            "5",
            "/file",
            "--bind-data",
            "6",
            "/bd",
            "--ro-bind-data",
            "7",
            "/rbd",
            "--symlink",
            "tgt",
            "/ln",
            "--chmod",
            "0750",
            "/dir",
            "true",
        ]);
        use BindKind::*;
        let bind = |s: &str, d: &str, kind, allow_notexist| SetupOp::Bind {
            src: o(s),
            dest: o(d),
            kind,
            allow_notexist,
        };
        assert_eq!(
            c.ops,
            vec![
                bind("/a", "/b", ReadWrite, false),
                bind("/c", "/d", ReadWrite, true),
                bind("/e", "/f", Devices, false),
                bind("/g", "/h", Devices, true),
                bind("/i", "/j", ReadOnly, false),
                bind("/k", "/l", ReadOnly, true),
                SetupOp::BindFd { fd: 3, dest: o("/m"), readonly: false },
                SetupOp::BindFd { fd: 4, dest: o("/n"), readonly: true },
                SetupOp::RemountRo { dest: o("/o") },
                SetupOp::Proc { dest: o("/proc") },
                SetupOp::Dev { dest: o("/dev") },
                SetupOp::Tmpfs { dest: o("/tmp"), perms: None, size: None },
                SetupOp::Mqueue { dest: o("/mq") },
                SetupOp::Dir { dest: o("/dir"), perms: None },
                SetupOp::File { fd: 5, dest: o("/file"), perms: None },
                SetupOp::BindData { fd: 6, dest: o("/bd"), perms: None, readonly: false },
                SetupOp::BindData { fd: 7, dest: o("/rbd"), perms: None, readonly: true },
                SetupOp::Symlink { target: o("tgt"), dest: o("/ln") },
                SetupOp::Chmod { mode: 0o750, path: o("/dir") },
            ]
        );
    }

    #[test]
    fn order_is_command_line_order() {
        let a = cfg(&["--tmpfs", "/x", "--bind", "/", "/", "true"]).ops;
        let b = cfg(&["--bind", "/", "/", "--tmpfs", "/x", "true"]).ops;
        let tmpfs = SetupOp::Tmpfs { dest: o("/x"), perms: None, size: None };
        let bind = SetupOp::Bind {
            src: o("/"),
            dest: o("/"),
            kind: BindKind::ReadWrite,
            allow_notexist: false,
        };
        assert_eq!(a, vec![tmpfs.clone(), bind.clone()]);
        assert_eq!(b, vec![bind, tmpfs]);
    }

    #[test]
    fn overlays() {
        let c = cfg(&[
            "--overlay-src",
            "/l1",
            "--overlay-src",
            "/l2",
            "--overlay",
            "/rw",
            "/work",
            "/o1",
            "--overlay-src",
            "/l3",
            "--tmp-overlay",
            "/o2",
            "--overlay-src",
            "/a",
            "--overlay-src",
            "/b",
            "--ro-overlay",
            "/o3",
            "true",
        ]);
        assert_eq!(
            c.ops,
            vec![
                SetupOp::Overlay {
                    srcs: os(&["/l1", "/l2"]),
                    kind: OverlayKind::ReadWrite { rwsrc: o("/rw"), workdir: o("/work") },
                    dest: o("/o1"),
                },
                SetupOp::Overlay { srcs: os(&["/l3"]), kind: OverlayKind::Tmp, dest: o("/o2") },
                SetupOp::Overlay {
                    srcs: os(&["/a", "/b"]),
                    kind: OverlayKind::ReadOnly,
                    dest: o("/o3")
                },
            ]
        );
        assert_eq!(
            err(&["--overlay", "/a", "/b", "/c", "t"]),
            "--overlay requires at least one --overlay-src"
        );
        assert_eq!(
            err(&["--tmp-overlay", "/a", "t"]),
            "--tmp-overlay requires at least one --overlay-src"
        );
        assert_eq!(
            err(&["--overlay-src", "/a", "--ro-overlay", "/a", "t"]),
            "--ro-overlay requires at least two --overlay-src"
        );
        // Arity is checked before the sources.
        assert_eq!(err(&["--overlay", "/a", "/b"]), "--overlay takes three arguments");
        assert_eq!(err(&["--ro-overlay"]), "--ro-overlay takes an argument");
        let unused = OVERLAY_SRC_UNUSED;
        assert_eq!(err(&["--overlay-src", "/a", "true"]), unused);
        assert_eq!(err(&["--overlay-src", "/a", "--", "true"]), unused);
        assert_eq!(err(&["--overlay-src", "/a"]), unused);
        assert_eq!(err(&["--overlay-src"]), unused);
        assert_eq!(err(&["--overlay-src", "/a", "--dir", "/d", "true"]), unused);
        assert_eq!(
            err(&["--perms", "0700", "--overlay-src"]),
            "--perms must be followed by an option that creates a file"
        );
    }

    #[test]
    fn perms_and_size_modifiers() {
        let c = cfg(&[
            "--perms",
            "0700",
            "--tmpfs",
            "/a",
            "--size",
            "4096",
            "--perms",
            "01777",
            "--tmpfs",
            "/b",
            "--perms",
            "0750",
            "--size",
            "0x10",
            "--tmpfs",
            "/c",
            "--perms",
            "0711",
            "--dir",
            "/d",
            "--perms",
            "0600",
            "--file",
            "3",
            "/e",
            "--perms",
            "0644",
            "--bind-data",
            "4",
            "/f",
            "--perms",
            "0444",
            "--ro-bind-data",
            "5",
            "/g",
            "--tmpfs",
            "/h",
            "true",
        ]);
        assert_eq!(
            c.ops,
            vec![
                SetupOp::Tmpfs { dest: o("/a"), perms: Some(0o700), size: None },
                SetupOp::Tmpfs { dest: o("/b"), perms: Some(0o1777), size: Some(4096) },
                SetupOp::Tmpfs { dest: o("/c"), perms: Some(0o750), size: Some(16) },
                SetupOp::Dir { dest: o("/d"), perms: Some(0o711) },
                SetupOp::File { fd: 3, dest: o("/e"), perms: Some(0o600) },
                SetupOp::BindData { fd: 4, dest: o("/f"), perms: Some(0o644), readonly: false },
                SetupOp::BindData { fd: 5, dest: o("/g"), perms: Some(0o444), readonly: true },
                SetupOp::Tmpfs { dest: o("/h"), perms: None, size: None },
            ]
        );
        let perms_msg = "--perms must be followed by an option that creates a file";
        let size_msg = "--size must be followed by --tmpfs";
        assert_eq!(err(&["--perms", "0700", "--bind", "/", "/", "t"]), perms_msg);
        assert_eq!(err(&["--perms", "0700", "--mqueue", "/m", "t"]), perms_msg);
        assert_eq!(err(&["--size", "1", "--dir", "/d", "t"]), size_msg);
        assert_eq!(err(&["--perms", "0700", "--size", "1", "--dir", "/d", "t"]), size_msg);
        assert_eq!(
            err(&["--perms", "0700", "--perms", "1"]),
            "--perms given twice for the same action"
        );
        assert_eq!(err(&["--size", "1", "--size", "1"]), "--size given twice for the same action");
        // A pending modifier is dropped silently at COMMAND or `--`, as bwrap.
        assert!(cfg(&["--perms", "0700", "true"]).ops.is_empty());
        assert!(cfg(&["--size", "9", "--", "true"]).ops.is_empty());
    }

    #[test]
    fn perms_values() {
        let ok = |v: &str| {
            let op = cfg(&["--perms", v, "--dir", "/d", "t"]).ops.remove(0);
            let SetupOp::Dir { perms, .. } = op else { panic!("not a --dir: {op:?}") };
            perms
        };
        assert_eq!(ok("0"), Some(0));
        assert_eq!(ok("7777"), Some(0o7777));
        assert_eq!(ok(" 755"), Some(0o755));
        assert_eq!(ok("+755"), Some(0o755));
        assert_eq!(ok("-0"), Some(0));
        let bad = "--perms takes an octal argument <= 07777";
        for v in ["", "8", "0755x", "10000", "-1", " ", "0x1", "99999999999999999999999"] {
            assert_eq!(err(&["--perms", v, "--dir", "/d", "t"]), bad, "{v:?}");
        }
        assert_eq!(
            err(&["--chmod", "17777", "/x", "t"]),
            "--chmod takes an octal argument <= 07777"
        );
        assert_eq!(err(&["--chmod", "abc", "/x", "t"]), "--chmod takes an octal argument <= 07777");
    }

    #[test]
    fn size_values() {
        let ok = |v: &str| {
            let op = cfg(&["--size", v, "--tmpfs", "/d", "t"]).ops.remove(0);
            let SetupOp::Tmpfs { size, .. } = op else { panic!("not a --tmpfs: {op:?}") };
            size
        };
        assert_eq!(ok("1"), Some(1));
        assert_eq!(ok("0x10"), Some(16));
        assert_eq!(ok("0X1f"), Some(31));
        assert_eq!(ok("010"), Some(8));
        assert_eq!(ok("9223372036854775807"), Some(MAX_TMPFS_BYTES));
        let bad = "--size takes a non-zero number of bytes";
        for v in ["0", "", " 1", "+1", "-1", "08", "0x", "1k", "18446744073709551616", "0x0"] {
            assert_eq!(err(&["--size", v, "--tmpfs", "/d", "t"]), bad, "{v:?}");
        }
        assert_eq!(
            err(&["--size", "9223372036854775808", "--tmpfs", "/d", "t"]),
            "--size (for tmpfs) is limited to 9223372036854775807"
        );
    }

    #[test]
    fn fd_and_id_values() {
        assert_eq!(cfg(&["--sync-fd", " 3", "t"]).sync_fds, vec![3]);
        assert_eq!(cfg(&["--sync-fd", "+4", "t"]).sync_fds, vec![4]);
        assert_eq!(cfg(&["--sync-fd", "-0", "t"]).sync_fds, vec![0]);
        // `long` to `int` wraps, as in C.
        assert_eq!(cfg(&["--sync-fd", "4294967299", "t"]).sync_fds, vec![3]);
        for v in ["", "abc", "3x", "-1", "3 ", "+", "4294967295", "99999999999999999999"] {
            assert_eq!(err(&["--info-fd", v, "t"]), format!("Invalid fd: {v}"), "{v:?}");
            assert_eq!(err(&["--uid", v, "t"]), format!("Invalid uid: {v}"), "{v:?}");
            assert_eq!(err(&["--gid", v, "t"]), format!("Invalid gid: {v}"), "{v:?}");
        }
        assert_eq!(cfg(&["--uid", "4294967296", "t"]).uid, Some(0));
        assert_eq!(cfg(&["--gid", "2147483647", "t"]).gid, Some(i32::MAX as u32));
        assert_eq!(err(&["--bind-fd", "x", "/y", "t"]), "Invalid fd: x");
        assert_eq!(err(&["--file", "-2", "/y", "t"]), "Invalid fd: -2");
    }

    #[test]
    fn capabilities() {
        let cap = |v: &str| cfg(&["--cap-add", v, "t"]).caps[0];
        assert_eq!(cap("ALL"), CapOp::Add(None));
        assert_eq!(cap("aLl"), CapOp::Add(None));
        assert_eq!(cap("CAP_CHECKPOINT_RESTORE"), CapOp::Add(Some(40)));
        assert_eq!(cap("cap_bpf"), CapOp::Add(Some(39)));
        // libcap: numbers below 64, C prefixes, trailing garbage ignored.
        assert_eq!(cap("12"), CapOp::Add(Some(12)));
        assert_eq!(cap("0x0c"), CapOp::Add(Some(12)));
        assert_eq!(cap("12abc"), CapOp::Add(Some(12)));
        assert_eq!(cap("63"), CapOp::Add(Some(63)));
        assert_eq!(cap("CAP_NET_ADMIN123"), CapOp::Add(Some(12)));
        for v in ["64", "net_admin", "chown", "", "CAP_NET_ADMINX", " CAP_CHOWN", "CAP_CHOWN_"] {
            assert_eq!(err(&["--cap-drop", v, "t"]), format!("unknown cap: {v}"), "{v:?}");
        }
        for (i, name) in CAP_NAMES.iter().enumerate() {
            assert_eq!(cap(name), CapOp::Add(Some(i as u8)));
            assert_eq!(cap(&name.to_lowercase()), CapOp::Add(Some(i as u8)));
        }
    }

    #[test]
    fn command_stops_parsing() {
        let c = cfg(&["--ro-bind", "/", "/", "ls", "--help", "--bind", "-x"]);
        assert_eq!(c.command, os(&["ls", "--help", "--bind", "-x"]));
        let c = cfg(&["--ro-bind", "/", "/", "--", "--help", "--", "x"]);
        assert_eq!(c.command, os(&["--help", "--", "x"]));
        assert_eq!(cfg(&["--", "-"]).command, os(&["-"]));
        assert_eq!(cfg(&[""]).command, os(&[""]));
        assert_eq!(err(&["--ro-bind", "/", "/"]), "<usage>");
        assert_eq!(err(&["--ro-bind", "/", "/", "--"]), "<usage>");
        assert_eq!(err(&[]), "<usage>");
    }

    #[test]
    fn values_may_look_like_options() {
        let c =
            cfg(&["--setenv", "X", "-y", "--chdir", "--", "--bind", "--help", "--version", "t"]);
        assert_eq!(c.env_ops, vec![EnvOp::Set { var: o("X"), value: o("-y") }]);
        assert_eq!(c.chdir, Some(o("--")));
        assert_eq!(c.ops.len(), 1);
        assert_eq!(c.command, os(&["t"]));
        assert_eq!(cfg(&["--argv0", "-", "t"]).argv0, Some(o("-")));
    }

    #[test]
    fn strictness() {
        assert_eq!(err(&["--bind=/a", "/b", "t"]), "Unknown option --bind=/a");
        assert_eq!(err(&["--help=x"]), "Unknown option --help=x");
        assert_eq!(err(&["--unshare-all=1", "t"]), "Unknown option --unshare-all=1");
        assert_eq!(err(&["--=x"]), "Unknown option --=x");
        assert_eq!(err(&["-x"]), "Unknown option -x");
        assert_eq!(err(&["-abc", "t"]), "Unknown option -abc");
        assert_eq!(err(&["-h"]), "Unknown option -h");
        assert_eq!(err(&["-"]), "Unknown option -");
        assert_eq!(err(&["--foo", "t"]), "Unknown option --foo");
        assert_eq!(err(&["--bin", "/a", "/b", "t"]), "Unknown option --bin");
        assert_eq!(err(&["---bind", "t"]), "Unknown option ---bind");
        assert_eq!(err(&["--BIND", "/", "/", "t"]), "Unknown option --BIND");
    }

    #[test]
    fn every_arity_message() {
        for opt in OPTIONS.iter().filter(|o| o.arity() > 0) {
            for given in 0..opt.arity() {
                let mut args = vec![opt.name];
                args.extend(std::iter::repeat("1").take(given));
                assert_eq!(err(&args), opt.missing, "{args:?}");
            }
        }
        assert_eq!(err(&["--bind-try", "/a"]), "--bind-try takes two arguments");
        assert_eq!(err(&["--ro-bind-fd", "3"]), "--bind-fd takes two arguments");
        assert_eq!(err(&["--chdir"]), "--chdir takes one argument");
        assert_eq!(err(&["--tmpfs"]), "--tmpfs takes an argument");
    }

    #[test]
    fn help_and_version_where_they_appear() {
        assert_eq!(run(&["--help"]).0, Ok(Parsed::Help));
        assert_eq!(run(&["--version"]).0, Ok(Parsed::Version));
        assert_eq!(run(&["--bind", "/", "/", "--version", "--foo"]).0, Ok(Parsed::Version));
        assert_eq!(run(&["--perms", "0700", "--help"]).0, Ok(Parsed::Help));
        assert_eq!(err(&["--foo", "--version"]), "Unknown option --foo");
        assert_eq!(err(&["--uid", "x", "--help"]), "Invalid uid: x");
        // After COMMAND they belong to COMMAND.
        assert_eq!(cfg(&["ls", "--version"]).command, os(&["ls", "--version"]));
    }

    #[test]
    fn warnings() {
        let single = [
            ("--chdir", "/"),
            ("--block-fd", "3"),
            ("--userns-block-fd", "3"),
            ("--info-fd", "3"),
            ("--json-status-fd", "3"),
            ("--seccomp", "3"),
            ("--userns", "3"),
            ("--userns2", "3"),
            ("--pidns", "3"),
            ("--uid", "3"),
            ("--gid", "3"),
            ("--hostname", "h"),
        ];
        for (name, v) in single {
            let (r, lines) = run(&[name, v, name, v, "t"]);
            assert!(matches!(r, Ok(Parsed::Run(_))), "{name}");
            assert_eq!(lines, vec![format!("bwrap: Only the last {name} option will take effect")]);
        }
        let mut rep = Reporter::capture();
        let r =
            parse_args_with(os(&["--exec-label", "a", "--exec-label", "b", "t"]), &mut rep, true);
        assert_eq!(r.map(|p| matches!(p, Parsed::Run(_))), Ok(true));
        assert_eq!(rep.captured(), ["bwrap: Only the last --exec-label option will take effect"]);
        // The warning comes before the value is checked.
        let (r, lines) = run(&["--uid", "5", "--uid", "x"]);
        assert_eq!(r, Err(CliError::msg("Invalid uid: x")));
        assert_eq!(lines, ["bwrap: Only the last --uid option will take effect"]);
        // --sync-fd is repeatable in 0.13.1.
        let (_, lines) = run(&["--sync-fd", "3", "--sync-fd", "4", "t"]);
        assert!(lines.is_empty());
        assert_eq!(err(&["--argv0", "a", "--argv0", "b", "t"]), "--argv0 used multiple times");
    }

    /// The single-valued options `warnings` leaves out: the warning names
    /// the option as the table does, before the new value is checked.
    #[test]
    fn warnings_for_labels_and_proc_fallback() {
        let mut rep = Reporter::capture();
        let r =
            parse_args_with(os(&["--file-label", "a", "--file-label", "b", "t"]), &mut rep, true);
        assert_eq!(r.map(|p| matches!(p, Parsed::Run(_))), Ok(true));
        assert_eq!(rep.captured(), ["bwrap: Only the last --file-label option will take effect"]);
        let (r, lines) = run(&["--proc-fallback", "quiet", "--proc-fallback", "never", "t"]);
        assert_eq!(
            r.map(|p| matches!(p, Parsed::Run(c) if c.proc_fallback == Some(ProcFallback::Never))),
            Ok(true)
        );
        assert_eq!(lines, ["bwrap: Only the last --proc-fallback option will take effect"]);
        // A bad word is refused before the repeat warning.
        let (r, lines) = run(&["--proc-fallback", "auto", "--proc-fallback", "x", "t"]);
        assert_eq!(r, Err(CliError::msg("--proc-fallback takes auto, quiet or never, not x")));
        assert!(lines.is_empty());
        // --seccomp: the combination check comes first, the fd after the warning.
        let (r, lines) = run(&["--seccomp", "3", "--seccomp", "x", "t"]);
        assert_eq!(r, Err(CliError::msg("Invalid fd: x")));
        assert_eq!(lines, ["bwrap: Only the last --seccomp option will take effect"]);
        // --chdir: the empty path is refused after the warning.
        let (r, lines) = run(&["--chdir", "/a", "--chdir", "", "t"]);
        assert_eq!(r, Err(CliError::msg("--chdir does not take an empty path argument")));
        assert_eq!(lines, ["bwrap: Only the last --chdir option will take effect"]);
    }

    /// The parser's own copy of `--overlay-src`'s message is the table's.
    #[test]
    fn overlay_src_unused_is_the_table_text() {
        assert_eq!(spec::find("--overlay-src").map(|o| o.missing), Some(OVERLAY_SRC_UNUSED));
    }

    #[test]
    fn level_prefix_applies_from_where_it_appears() {
        let mut rep = Reporter::capture();
        let r = parse_args_with(
            os(&["--chdir", "a", "--chdir", "b", "--level-prefix", "--chdir", "c", "t"]),
            &mut rep,
            false,
        );
        assert!(rep.level_prefix);
        match r {
            Ok(Parsed::Run(c)) => assert!(c.level_prefix),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            rep.captured(),
            [
                "bwrap: Only the last --chdir option will take effect",
                "<4>bwrap: Only the last --chdir option will take effect"
            ]
        );
    }

    #[test]
    fn labels() {
        assert_eq!(err(&["--exec-label", "x", "t"]), "labeling not supported on this system");
        assert_eq!(err(&["--file-label", "x", "t"]), "labeling not supported on this system");
        assert_eq!(err(&["--file-label"]), "--file-label takes an argument");
        let mut rep = Reporter::capture();
        match parse_args_with(os(&["--exec-label", "e", "--file-label", "f", "t"]), &mut rep, true)
        {
            Ok(Parsed::Run(c)) => {
                assert_eq!((c.exec_label, c.file_label), (Some(o("e")), Some(o("f"))));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn seccomp() {
        let prog = [1u8; 16];
        let c =
            cfg(&["--add-seccomp-fd", &pipe_with(&prog), "--add-seccomp-fd", &pipe_with(&[]), "t"]);
        assert_eq!(c.add_seccomp, vec![prog.to_vec(), vec![]]);
        assert_eq!(
            err(&["--add-seccomp-fd", &pipe_with(&[0; 7]), "t"]),
            "Invalid seccomp data, must be multiple of 8"
        );
        assert_eq!(
            err(&["--add-seccomp-fd", "99999", "t"]),
            "Can't read seccomp data: Bad file descriptor"
        );
        assert_eq!(
            err(&["--add-seccomp-fd", &pipe_with(&prog), "--seccomp", "3", "t"]),
            "--seccomp cannot be combined with --add-seccomp-fd"
        );
        assert_eq!(
            err(&["--seccomp", "3", "--add-seccomp-fd", "3", "t"]),
            "--add-seccomp-fd cannot be combined with --seccomp"
        );
        assert_eq!(err(&["--seccomp", "3", "--seccomp"]), "--seccomp takes an argument");
        assert_eq!(cfg(&["--seccomp", "3", "t"]).seccomp_fd, Some(3));
    }

    #[test]
    fn args_fd() {
        let data = b"--bind\0/a\0/b\0--setenv\0X\0-y\0";
        let fd = pipe_with(data);
        let c = cfg(&["--tmpfs", "/t", "--args", &fd, "--dir", "/d", "t"]);
        assert_eq!(c.ops.len(), 3);
        assert!(matches!(&c.ops[1], SetupOp::Bind { src, .. } if src == "/a"));
        assert_eq!(c.env_ops, vec![EnvOp::Set { var: o("X"), value: o("-y") }]);
        // A final item without NUL counts; the first non-option ends the data.
        let fd = pipe_with(b"--chdir\0/x\0cmd\0--dir\0/ignored\0--foo\0");
        let c = cfg(&["--args", &fd, "--proc", "/proc", "t"]);
        assert_eq!(c.chdir, Some(o("/x")));
        assert_eq!(c.ops, vec![SetupOp::Proc { dest: o("/proc") }]);
        assert_eq!(c.command, os(&["t"]));
        let fd = pipe_with(b"--hostname\0h");
        assert_eq!(cfg(&["--args", &fd, "t"]).hostname, Some(o("h")));
        // `--` inside the data also ends it.
        let fd = pipe_with(b"--\0--foo");
        assert!(cfg(&["--args", &fd, "t"]).ops.is_empty());
        // Empty data, and data that is only a COMMAND: no COMMAND comes from it.
        assert_eq!(err(&["--args", &pipe_with(b"")]), "<usage>");
        assert_eq!(err(&["--args", &pipe_with(b"true\0")]), "<usage>");
        // Values cannot continue into argv.
        assert_eq!(
            err(&["--args", &pipe_with(b"--bind\0/a"), "/b", "t"]),
            "--bind takes two arguments"
        );
        // Errors.
        let nested = pipe_with(b"--args\x003\0");
        assert_eq!(err(&["--args", &nested, "t"]), "--args not supported in arguments file");
        assert_eq!(err(&["--args", "99999", "t"]), "Can't read --args data: Bad file descriptor");
        assert_eq!(err(&["--args", "x", "t"]), "Invalid fd: x");
        assert_eq!(err(&["--args"]), "--args takes an argument");
        assert_eq!(err(&["--args", &pipe_with(b"--foo\0"), "t"]), "Unknown option --foo");
        // --help inside the data takes effect.
        assert_eq!(run(&["--args", &pipe_with(b"--help\0"), "t"]).0, Ok(Parsed::Help));
    }

    #[test]
    fn args_fd_and_modifiers_share_state() {
        // --perms before --args is consumed by an op inside the data.
        let c = cfg(&["--perms", "0700", "--args", &pipe_with(b"--dir\0/d\0"), "t"]);
        assert_eq!(c.ops, vec![SetupOp::Dir { dest: o("/d"), perms: Some(0o700) }]);
        // A modifier left at the end of the data fails after --args.
        assert_eq!(
            err(&["--args", &pipe_with(b"--perms\x000700\0"), "--dir", "/d", "t"]),
            "--perms must be followed by an option that creates a file"
        );
        assert_eq!(
            err(&["--args", &pipe_with(b"--overlay-src\0/a\0"), "--tmp-overlay", "/d", "t"]),
            OVERLAY_SRC_UNUSED
        );
    }

    #[test]
    fn max_args() {
        let msg = "Exceeded maximum number of arguments 9000";
        let mut argv = vec!["--unshare-ipc"; MAX_ARGS - 1];
        argv.push("t");
        assert!(matches!(run(&argv).0, Ok(Parsed::Run(_))));
        argv.insert(0, "--unshare-pid");
        assert_eq!(err(&argv), msg);
        // Even --help is not looked at.
        let mut argv = vec!["--help"; MAX_ARGS + 1];
        assert_eq!(err(&argv), msg);
        argv.truncate(MAX_ARGS);
        assert_eq!(run(&argv).0, Ok(Parsed::Help));

        // argv items and --args items count together: 3 + 8997 = 9000 is fine.
        let data = "--unshare-ipc\0".repeat(MAX_ARGS - 3);
        let c = cfg(&["--args", &pipe_with(data.as_bytes()), "t"]);
        assert!(c.unshare.ipc);
        let data = "--unshare-ipc\0".repeat(MAX_ARGS - 2);
        assert_eq!(err(&["--args", &pipe_with(data.as_bytes()), "t"]), msg);
        // Items are counted before any of them is parsed.
        let mut data = "--foo\0".to_string();
        data.push_str(&"x\0".repeat(MAX_ARGS));
        assert_eq!(err(&["--args", &pipe_with(data.as_bytes()), "t"]), msg);
    }

    /// A descriptor on `/dev/zero`: endless NULs, i.e. endless empty items.
    fn dev_zero() -> String {
        std::fs::File::open("/dev/zero").unwrap().into_raw_fd().to_string()
    }

    #[test]
    fn args_data_is_bounded() {
        let too_many = "Exceeded maximum number of arguments 9000";
        let too_big = "Exceeded maximum size of --args data 67108864 bytes";
        assert_eq!(err(&["--args", &dev_zero(), "t"]), too_many);
        // One endless item without a NUL: the byte cap.
        assert_eq!(
            err(&["--args", &pipe_with(&vec![b'x'; MAX_ARGS_DATA_BYTES + 1]), "t"]),
            too_big
        );
        // Both caps at once: bwrap's count is checked first.
        assert_eq!(err(&["--args", &pipe_with(&vec![0; MAX_ARGS_DATA_BYTES + 1]), "t"]), too_many);
        // Exactly the cap is fine, and the cap covers all --args data together.
        let mut data = b"--setenv\0A\0".to_vec();
        data.resize(MAX_ARGS_DATA_BYTES / 2 - 1, b'v');
        data.push(0);
        let half = || pipe_with(&data);
        let c = cfg(&["--args", &half(), "--args", &half(), "t"]);
        assert_eq!(c.env_ops.len(), 2);
        assert_eq!(
            err(&["--args", &half(), "--args", &half(), "--args", &pipe_with(b"x"), "t"]),
            too_big
        );
    }

    #[test]
    fn seccomp_programs_are_bounded() {
        let insns = |n: usize| {
            let mut p = Vec::new();
            for _ in 0..n {
                p.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0xff, 0x7f]); // ret ALLOW
            }
            p
        };
        let too_long = "Invalid seccomp data, must be at most 4096 instructions";
        let stack = "Invalid seccomp data, the filters together exceed the kernel's limit of \
                     32768 instructions";
        assert_eq!(cfg(&["--add-seccomp-fd", &pipe_with(&insns(4096)), "t"]).add_seccomp.len(), 1);
        assert_eq!(err(&["--add-seccomp-fd", &pipe_with(&insns(4097)), "t"]), too_long);
        // 65537 instructions would be 1 in a 16-bit sock_fprog.len.
        assert_eq!(err(&["--add-seccomp-fd", &pipe_with(&insns(65537)), "t"]), too_long);
        assert_eq!(err(&["--add-seccomp-fd", &dev_zero(), "t"]), too_long);
        // The chain as the kernel counts it: each lower filter costs 4 more.
        // Seven full programs and a last one of `last` instructions (fresh
        // descriptors each time: the parser closes them).
        let chain = |last: usize| {
            let mut argv: Vec<String> = Vec::new();
            for n in [4096, 4096, 4096, 4096, 4096, 4096, 4096, last] {
                argv.extend(["--add-seccomp-fd".into(), pipe_with(&insns(n))]);
            }
            argv.push("t".into());
            argv
        };
        let fits = chain(4096 - 28);
        let fits: Vec<&str> = fits.iter().map(String::as_str).collect();
        assert_eq!(cfg(&fits).add_seccomp.len(), 8);
        let over = chain(4096 - 27);
        let over: Vec<&str> = over.iter().map(String::as_str).collect();
        assert_eq!(err(&over), stack);
    }

    #[test]
    fn no_command_runs_early_checks_first() {
        assert_eq!(err(&["--userns-block-fd", "3"]), "--userns-block-fd requires --unshare-user");
        assert_eq!(
            err(&["--userns", "3", "--unshare-user"]),
            "--userns is not compatible with --unshare-user"
        );
        assert_eq!(err(&["--as-pid-1"]), "<usage>");
        assert_eq!(err(&["--hostname", "x"]), "<usage>");
    }

    #[test]
    fn split_args_data_like_bwrap() {
        assert!(split_args_data(b"").is_empty());
        assert_eq!(split_args_data(b"\0"), os(&[""]));
        assert_eq!(split_args_data(b"a"), os(&["a"]));
        assert_eq!(split_args_data(b"a\0"), os(&["a"]));
        assert_eq!(split_args_data(b"a\0\0"), os(&["a", ""]));
        assert_eq!(split_args_data(b"a\0b"), os(&["a", "b"]));
    }

    /// Drive the parser with every table entry, dummy values and COMMAND:
    /// each must be accepted (catches table and parser drifting apart).
    #[test]
    fn every_table_entry_is_accepted() {
        for opt in OPTIONS {
            let mut args: Vec<String> = Vec::new();
            match opt.name {
                "--overlay" | "--tmp-overlay" | "--ro-overlay" => {
                    args.extend(["--overlay-src", "/a", "--overlay-src", "/b"].map(String::from))
                }
                _ => {}
            }
            args.push(opt.name.into());
            for (i, kind) in opt.value_kinds.iter().enumerate() {
                args.push(match (opt.name, kind) {
                    ("--args", _) => pipe_with(b"--unshare-ipc\0"),
                    ("--add-seccomp-fd", _) => pipe_with(&[0; 8]),
                    (_, ValueKind::Fd) => "3".into(),
                    (_, ValueKind::Octal) => "0755".into(),
                    (_, ValueKind::Cap) => "CAP_CHOWN".into(),
                    (_, ValueKind::Int) => "1".into(),
                    (_, ValueKind::Var) => "VAR".into(),
                    (_, ValueKind::Choice(words)) => words[0].into(),
                    _ => format!("/v{i}"),
                });
            }
            match opt.name {
                "--perms" | "--size" => args.extend(["--tmpfs", "/t"].map(String::from)),
                "--overlay-src" => args.extend(["--tmp-overlay", "/o"].map(String::from)),
                _ => {}
            }
            args.push("true".into());
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut rep = Reporter::capture();
            let r = parse_args_with(os(&argv), &mut rep, true);
            if opt.name == "--diagnose" {
                // Only main_entry's argv[1] check accepts it (see parse arm).
                assert_eq!(r, Err(CliError::msg(DIAGNOSE_NOT_FIRST)), "{argv:?}");
                continue;
            }
            let expected = match opt.name {
                "--help" => Parsed::Help,
                "--version" => Parsed::Version,
                _ => match r {
                    Ok(Parsed::Run(ref c)) => Parsed::Run(c.clone()),
                    ref other => panic!("{argv:?}: {other:?}"),
                },
            };
            assert_eq!(r, Ok(expected), "{argv:?}");
            assert!(rep.captured().is_empty(), "{argv:?}");
        }
    }
}
