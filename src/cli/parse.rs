//! The lexopt loop: bwrap's `parse_args_recurse`, option by option.
//!
//! Rules (see ARCHITECTURE.md §7.4):
//! * one match arm per option, in the order of bwrap's `usage()`;
//! * all of an option's values are taken first (missing ones give bwrap's
//!   "takes N arguments" text from `spec`), then its checks run in bwrap's order;
//! * filesystem ops go into `Config::ops` in command-line order;
//! * `--perms`, `--size` and `--overlay-src` are pending state checked after
//!   every option, exactly where bwrap checks them;
//! * parsing stops at `--` or at the first argument not starting with `-`;
//!   inside `--args` data the rest of the data is then ignored.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use lexopt::{Arg, Parser};

use super::spec::{self, CAP_NAMES};
use super::{validate, Parsed};
use crate::config::{BindKind, CapOp, Config, EnvOp, FdNum, OverlayKind, SetupOp};
use crate::error::CliError;
use crate::report::Reporter;
use crate::sys::fd::read_fd_to_end_and_close;

/// bwrap's cap on argv items plus `--args` items.
pub const MAX_ARGS: usize = 9000;

/// `SIZE_MAX >> 1`: bwrap's limit for `--size`.
pub const MAX_TMPFS_BYTES: u64 = u64::MAX >> 1;

const OVERLAY_SRC_UNUSED: &str = "--overlay-src must be followed by another --overlay-src or one \
                                  of --overlay, --tmp-overlay, or --ro-overlay";

/// Parse argv (without `argv[0]`) the way bwrap does.
pub fn parse_args(args: Vec<OsString>, reporter: &mut Reporter) -> Result<Parsed, CliError> {
    parse_args_with(args, reporter, selinux_enabled())
}

/// SELinux counts as enabled when selinuxfs is mounted (libselinux looks at
/// the same filesystem).
fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// [`parse_args`] with the SELinux state given (for tests).
pub(crate) fn parse_args_with(
    args: Vec<OsString>,
    reporter: &mut Reporter,
    selinux: bool,
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
    reporter: &'r mut Reporter,
    selinux: bool,
}

fn unknown(raw: &OsStr) -> CliError {
    CliError::Msg(format!("Unknown option {}", raw.to_string_lossy()))
}

fn too_many_args() -> CliError {
    CliError::Msg(format!("Exceeded maximum number of arguments {MAX_ARGS}"))
}

/// Take the next value of option `name`, whatever it looks like.
fn value(parser: &mut Parser, name: &str) -> Result<OsString, CliError> {
    parser.value().map_err(|_| {
        let msg = spec::find(name).map_or("", |o| o.missing);
        CliError::msg(msg)
    })
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

    fn warn_only_last(&mut self, already: bool, name: &str) {
        if already {
            self.reporter.warn(&format!("Only the last {name} option will take effect"));
        }
    }

    fn push(&mut self, op: SetupOp) {
        self.cfg.ops.push(op);
    }

    fn check_label(&self) -> Result<(), CliError> {
        if self.selinux {
            Ok(())
        } else {
            Err(CliError::msg("labeling not supported on this system"))
        }
    }

    /// Handle one option; `Some` ends parsing (`--help`, `--version`).
    fn option(
        &mut self,
        name: &str,
        raw: &OsStr,
        p: &mut Parser,
        in_file: bool,
    ) -> Result<Option<Stop>, CliError> {
        let cfg = &mut self.cfg;
        match name {
            "--help" => return Ok(Some(Stop::Help)),
            "--version" => return Ok(Some(Stop::Version)),
            "--args" => {
                if in_file {
                    return Err(CliError::msg("--args not supported in arguments file"));
                }
                let fd = parse_fd(&value(p, name)?)?;
                let data = read_fd_to_end_and_close(fd).map_err(|errno| CliError::Errno {
                    msg: "Can't read --args data".into(),
                    errno,
                })?;
                let items = split_args_data(&data);
                for _ in &items {
                    self.total_args += 1;
                    if self.total_args > MAX_ARGS {
                        return Err(too_many_args());
                    }
                }
                let mut inner = Parser::from_args(items);
                match self.parse_level(&mut inner, true)? {
                    Stop::Help => return Ok(Some(Stop::Help)),
                    Stop::Version => return Ok(Some(Stop::Version)),
                    Stop::Command(_) | Stop::End => {}
                }
            }
            "--argv0" => {
                let v = value(p, name)?;
                if cfg.argv0.is_some() {
                    return Err(CliError::msg("--argv0 used multiple times"));
                }
                cfg.argv0 = Some(v);
            }
            "--level-prefix" => {
                cfg.level_prefix = true;
                self.reporter.level_prefix = true;
            }
            "--not-a-security-boundary" => cfg.not_a_security_boundary = true,
            "--unshare-all" => {
                let u = &mut cfg.unshare;
                u.user_try = true;
                u.ipc = true;
                u.pid = true;
                u.uts = true;
                u.cgroup_try = true;
                u.net = true;
            }
            "--share-net" => cfg.unshare.net = false,
            "--unshare-user" => cfg.unshare.user = true,
            "--unshare-user-try" => cfg.unshare.user_try = true,
            "--unshare-ipc" => cfg.unshare.ipc = true,
            "--unshare-pid" => cfg.unshare.pid = true,
            "--unshare-net" => cfg.unshare.net = true,
            "--unshare-uts" => cfg.unshare.uts = true,
            "--unshare-cgroup" => cfg.unshare.cgroup = true,
            "--unshare-cgroup-try" => cfg.unshare.cgroup_try = true,
            "--userns" | "--userns2" | "--pidns" => {
                let v = value(p, name)?;
                let slot = match name {
                    "--userns" => &mut self.cfg.userns_fd,
                    "--userns2" => &mut self.cfg.userns2_fd,
                    _ => &mut self.cfg.pidns_fd,
                };
                let already = slot.is_some();
                self.warn_only_last(already, name);
                let fd = parse_fd(&v)?;
                match name {
                    "--userns" => self.cfg.userns_fd = Some(fd),
                    "--userns2" => self.cfg.userns2_fd = Some(fd),
                    _ => self.cfg.pidns_fd = Some(fd),
                }
            }
            "--disable-userns" => cfg.disable_userns = true,
            "--assert-userns-disabled" => cfg.assert_userns_disabled = true,
            "--uid" | "--gid" => {
                let v = value(p, name)?;
                let already = if name == "--uid" { cfg.uid.is_some() } else { cfg.gid.is_some() };
                self.warn_only_last(already, name);
                let what = if name == "--uid" { "uid" } else { "gid" };
                let id = parse_id(&v).ok_or_else(|| {
                    CliError::Msg(format!("Invalid {what}: {}", v.to_string_lossy()))
                })?;
                if name == "--uid" {
                    self.cfg.uid = Some(id);
                } else {
                    self.cfg.gid = Some(id);
                }
            }
            "--hostname" => {
                let v = value(p, name)?;
                let already = cfg.hostname.is_some();
                self.warn_only_last(already, name);
                self.cfg.hostname = Some(v);
            }
            "--chdir" => {
                let v = value(p, name)?;
                let already = cfg.chdir.is_some();
                self.warn_only_last(already, name);
                self.cfg.chdir = Some(v);
            }
            "--clearenv" => cfg.env_ops.push(EnvOp::Clear),
            "--setenv" => {
                let var = value(p, name)?;
                let val = value(p, name)?;
                if !valid_env_name(&var) {
                    return Err(CliError::msg("setenv failed"));
                }
                cfg.env_ops.push(EnvOp::Set { var, value: val });
            }
            "--unsetenv" => {
                let var = value(p, name)?;
                if !valid_env_name(&var) {
                    return Err(CliError::msg("unsetenv failed"));
                }
                cfg.env_ops.push(EnvOp::Unset { var });
            }
            "--lock-file" => {
                let v = value(p, name)?;
                cfg.lock_files.push(v);
            }
            "--sync-fd" => {
                // Repeatable since 0.13.1: no "only the last" warning.
                let fd = parse_fd(&value(p, name)?)?;
                cfg.sync_fds.push(fd);
            }
            "--bind" | "--bind-try" | "--dev-bind" | "--dev-bind-try" | "--ro-bind"
            | "--ro-bind-try" => {
                let src = value(p, name)?;
                let dest = value(p, name)?;
                let kind = match name {
                    "--bind" | "--bind-try" => BindKind::ReadWrite,
                    "--dev-bind" | "--dev-bind-try" => BindKind::Devices,
                    _ => BindKind::ReadOnly,
                };
                let allow_notexist = name.ends_with("-try");
                self.push(SetupOp::Bind { src, dest, kind, allow_notexist });
            }
            "--bind-fd" | "--ro-bind-fd" => {
                let fd = value(p, name)?;
                let dest = value(p, name)?;
                let fd = parse_fd(&fd)?;
                self.push(SetupOp::BindFd { fd, dest, readonly: name == "--ro-bind-fd" });
            }
            "--remount-ro" => {
                let dest = value(p, name)?;
                self.push(SetupOp::RemountRo { dest });
            }
            "--overlay-src" => match p.value() {
                Ok(src) => self.overlay_srcs.push(src),
                Err(_) => {
                    // bwrap counts the source anyway and only notices at the end.
                    self.check_pending(name)?;
                    return Err(CliError::msg(OVERLAY_SRC_UNUSED));
                }
            },
            "--overlay" => {
                let rwsrc = value(p, name)?;
                let workdir = value(p, name)?;
                let dest = value(p, name)?;
                if self.overlay_srcs.is_empty() {
                    return Err(CliError::msg("--overlay requires at least one --overlay-src"));
                }
                let srcs = std::mem::take(&mut self.overlay_srcs);
                self.push(SetupOp::Overlay {
                    srcs,
                    kind: OverlayKind::ReadWrite { rwsrc, workdir },
                    dest,
                });
            }
            "--tmp-overlay" => {
                let dest = value(p, name)?;
                if self.overlay_srcs.is_empty() {
                    return Err(CliError::msg("--tmp-overlay requires at least one --overlay-src"));
                }
                let srcs = std::mem::take(&mut self.overlay_srcs);
                self.push(SetupOp::Overlay { srcs, kind: OverlayKind::Tmp, dest });
            }
            "--ro-overlay" => {
                let dest = value(p, name)?;
                if self.overlay_srcs.len() < 2 {
                    return Err(CliError::msg("--ro-overlay requires at least two --overlay-src"));
                }
                let srcs = std::mem::take(&mut self.overlay_srcs);
                self.push(SetupOp::Overlay { srcs, kind: OverlayKind::ReadOnly, dest });
            }
            "--exec-label" | "--file-label" => {
                let v = value(p, name)?;
                let already = if name == "--exec-label" {
                    cfg.exec_label.is_some()
                } else {
                    cfg.file_label.is_some()
                };
                self.warn_only_last(already, name);
                if name == "--exec-label" {
                    self.cfg.exec_label = Some(v);
                } else {
                    self.cfg.file_label = Some(v);
                }
                self.check_label()?;
            }
            "--proc" => {
                let dest = value(p, name)?;
                self.push(SetupOp::Proc { dest });
            }
            "--dev" => {
                let dest = value(p, name)?;
                self.push(SetupOp::Dev { dest });
            }
            "--tmpfs" => {
                let dest = value(p, name)?;
                let perms = self.perms.take();
                let size = self.size.take();
                self.push(SetupOp::Tmpfs { dest, perms, size });
            }
            "--mqueue" => {
                let dest = value(p, name)?;
                self.push(SetupOp::Mqueue { dest });
            }
            "--dir" => {
                let dest = value(p, name)?;
                let perms = self.perms.take();
                self.push(SetupOp::Dir { dest, perms });
            }
            "--file" | "--bind-data" | "--ro-bind-data" => {
                let fd = value(p, name)?;
                let dest = value(p, name)?;
                let fd = parse_fd(&fd)?;
                let perms = self.perms.take();
                self.push(match name {
                    "--file" => SetupOp::File { fd, dest, perms },
                    _ => SetupOp::BindData { fd, dest, perms, readonly: name == "--ro-bind-data" },
                });
            }
            "--symlink" => {
                let target = value(p, name)?;
                let dest = value(p, name)?;
                self.push(SetupOp::Symlink { target, dest });
            }
            "--seccomp" => {
                let v = value(p, name)?;
                if !cfg.add_seccomp.is_empty() {
                    return Err(CliError::msg(
                        "--seccomp cannot be combined with --add-seccomp-fd",
                    ));
                }
                let already = cfg.seccomp_fd.is_some();
                self.warn_only_last(already, name);
                self.cfg.seccomp_fd = Some(parse_fd(&v)?);
            }
            "--add-seccomp-fd" => {
                let v = value(p, name)?;
                if cfg.seccomp_fd.is_some() {
                    return Err(CliError::msg(
                        "--add-seccomp-fd cannot be combined with --seccomp",
                    ));
                }
                let fd = parse_fd(&v)?;
                let data = read_fd_to_end_and_close(fd).map_err(|errno| CliError::Errno {
                    msg: "Can't read seccomp data".into(),
                    errno,
                })?;
                if data.len() % 8 != 0 {
                    return Err(CliError::msg("Invalid seccomp data, must be multiple of 8"));
                }
                cfg.add_seccomp.push(data);
            }
            "--block-fd" | "--userns-block-fd" | "--info-fd" | "--json-status-fd" => {
                let v = value(p, name)?;
                let already = match name {
                    "--block-fd" => cfg.block_fd.is_some(),
                    "--userns-block-fd" => cfg.userns_block_fd.is_some(),
                    "--info-fd" => cfg.info_fd.is_some(),
                    _ => cfg.json_status_fd.is_some(),
                };
                self.warn_only_last(already, name);
                let fd = Some(parse_fd(&v)?);
                match name {
                    "--block-fd" => self.cfg.block_fd = fd,
                    "--userns-block-fd" => self.cfg.userns_block_fd = fd,
                    "--info-fd" => self.cfg.info_fd = fd,
                    _ => self.cfg.json_status_fd = fd,
                }
            }
            "--new-session" => cfg.new_session = true,
            "--die-with-parent" => cfg.die_with_parent = true,
            "--as-pid-1" => cfg.as_pid_1 = true,
            "--cap-add" | "--cap-drop" => {
                let v = value(p, name)?;
                let cap = parse_cap(&v).ok_or_else(|| {
                    CliError::Msg(format!("unknown cap: {}", v.to_string_lossy()))
                })?;
                cfg.caps.push(if name == "--cap-add" { CapOp::Add(cap) } else { CapOp::Drop(cap) });
            }
            "--perms" => {
                let v = value(p, name)?;
                if self.perms.is_some() {
                    return Err(CliError::msg("--perms given twice for the same action"));
                }
                let mode = parse_mode(&v)
                    .ok_or_else(|| CliError::msg("--perms takes an octal argument <= 07777"))?;
                self.perms = Some(mode);
            }
            "--size" => {
                let v = value(p, name)?;
                if self.size.is_some() {
                    return Err(CliError::msg("--size given twice for the same action"));
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
            "--chmod" => {
                let mode = value(p, name)?;
                let path = value(p, name)?;
                let mode = parse_mode(&mode)
                    .ok_or_else(|| CliError::msg("--chmod takes an octal argument <= 07777"))?;
                self.push(SetupOp::Chmod { mode, path });
            }
            _ => return Err(unknown(raw)),
        }
        Ok(None)
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
fn parse_fd(s: &OsStr) -> Result<FdNum, CliError> {
    parse_c_int(s).ok_or_else(|| CliError::Msg(format!("Invalid fd: {}", s.to_string_lossy())))
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
    let (radix, body) = if (b.starts_with(b"0x") || b.starts_with(b"0X"))
        && b.get(2).is_some_and(u8::is_ascii_hexdigit)
    {
        (16, &b[2..])
    } else if b[0] == b'0' {
        (8, b)
    } else {
        (10, b)
    };
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
        let (radix, body) = if (b.starts_with(b"0x") || b.starts_with(b"0X"))
            && b.get(2).is_some_and(u8::is_ascii_hexdigit)
        {
            (16, &b[2..])
        } else if b[0] == b'0' {
            (8, b)
        } else {
            (10, b)
        };
        let (v, _, _) = digits(body, radix);
        return (v < 64).then_some(Some(v as u8));
    }
    let len = b.iter().take_while(|c| c.is_ascii_alphabetic() || **c == b'_').count();
    let word = &b[..len];
    CAP_NAMES.iter().position(|n| n.as_bytes().eq_ignore_ascii_case(word)).map(|i| Some(i as u8))
}
