//! The validated, typed result of parsing bwrap's command line.
//!
//! This module owns no behaviour: it is the contract between `cli` (which
//! builds a [`Config`] from argv, purely) and `sandbox` (which carries it out).
//! Paths and environment values stay `OsString` end to end; numbers, modes and
//! capability names are already parsed. Filesystem operations live in one
//! ordered `Vec<SetupOp>`, exactly in command-line order.

use std::ffi::OsString;

/// A file descriptor number given on the command line. It is only a number
/// here; `sys::fd::FdTable::claim` turns it into an owned descriptor at run time.
pub type FdNum = i32;

/// How a bind mount treats devices and writes (`--bind`, `--ro-bind`, `--dev-bind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindKind {
    /// `--bind`: `nosuid,nodev` on every submount.
    ReadWrite,
    /// `--ro-bind`: `nosuid,nodev,ro` on every submount.
    ReadOnly,
    /// `--dev-bind`: `nosuid` only, device nodes usable.
    Devices,
}

/// Which overlay op closes an `--overlay-src` run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverlayKind {
    /// `--overlay RWSRC WORKDIR DEST`
    ReadWrite { rwsrc: OsString, workdir: OsString },
    /// `--tmp-overlay DEST`: upper and work dirs on the invisible setup tmpfs.
    Tmp,
    /// `--ro-overlay DEST`: lowerdir only.
    ReadOnly,
}

/// One filesystem (or hostname) operation, applied in command-line order.
///
/// Names follow bubblewrap's `SetupOpType` so the code can be read next to
/// `bubblewrap.c`. `dest` is always as typed by the user (relative to the new
/// root whether or not it starts with `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupOp {
    /// `--bind`, `--ro-bind`, `--dev-bind` and their `-try` forms.
    Bind { src: OsString, dest: OsString, kind: BindKind, allow_notexist: bool },
    /// `--bind-fd FD DEST` / `--ro-bind-fd FD DEST`.
    BindFd { fd: FdNum, dest: OsString, readonly: bool },
    /// `--remount-ro DEST`.
    RemountRo { dest: OsString },
    /// `--overlay-src ...` followed by `--overlay`, `--tmp-overlay` or `--ro-overlay`.
    /// `srcs` are in command-line order: the first is the bottom layer.
    Overlay { srcs: Vec<OsString>, kind: OverlayKind, dest: OsString },
    /// `--proc DEST`.
    Proc { dest: OsString },
    /// `--dev DEST`.
    Dev { dest: OsString },
    /// `--tmpfs DEST` with optional `--perms` / `--size`.
    Tmpfs { dest: OsString, perms: Option<u32>, size: Option<u64> },
    /// `--mqueue DEST`.
    Mqueue { dest: OsString },
    /// `--dir DEST` with optional `--perms`.
    Dir { dest: OsString, perms: Option<u32> },
    /// `--file FD DEST` with optional `--perms` (default 0666).
    File { fd: FdNum, dest: OsString, perms: Option<u32> },
    /// `--bind-data FD DEST` / `--ro-bind-data FD DEST` with optional `--perms` (default 0600).
    BindData { fd: FdNum, dest: OsString, perms: Option<u32>, readonly: bool },
    /// `--symlink TARGET DEST`.
    Symlink { target: OsString, dest: OsString },
    /// `--chmod OCTAL PATH`.
    Chmod { mode: u32, path: OsString },
}

/// What an op needs at its destination before it acts (bwrap 0.13.1's
/// destination step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestNeed {
    /// A directory if the source is one, else a non-directory (binds).
    LikeSource,
    /// A non-directory, made empty if missing.
    File,
    /// A directory, made if missing; `mounts` ops refuse a symlink there
    /// with "Can't mount on symlink destination".
    Dir { mounts: bool },
    /// Whatever is there; only the parents are made (`--remount-ro`).
    Existing,
    /// Only the parents: the op makes the leaf itself (`--file`, `--symlink`).
    Parents,
    /// Nothing is made (`--chmod` acts on what exists).
    Nothing,
}

/// What an op takes from the host, resolved in the child before the pivot
/// (bwrap's `resolve_symlinks_in_ops`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceSpec<'a> {
    /// The op has no source on the host.
    None,
    /// A path; `may_be_missing` for the `-try` forms.
    Path { src: &'a OsString, may_be_missing: bool },
    /// An fd the caller passed (`--bind-fd`), resolved through `/proc/self/fd`.
    Fd(FdNum),
    /// An overlay's layers (bottom first) and, for `--overlay`, RWSRC and WORKDIR.
    Overlay { lower: &'a [OsString], upper: Option<(&'a OsString, &'a OsString)> },
}

/// Each op describes itself once, here: the rest of the code asks these
/// instead of matching on the op type. Every match is exhaustive (no
/// catch-all arm), so a new op cannot be forgotten in any of them.
impl SetupOp {
    /// The destination as typed (`--chmod`'s PATH).
    pub fn dest(&self) -> &OsString {
        match self {
            SetupOp::Bind { dest, .. }
            | SetupOp::BindFd { dest, .. }
            | SetupOp::RemountRo { dest }
            | SetupOp::Overlay { dest, .. }
            | SetupOp::Proc { dest }
            | SetupOp::Dev { dest }
            | SetupOp::Tmpfs { dest, .. }
            | SetupOp::Mqueue { dest }
            | SetupOp::Dir { dest, .. }
            | SetupOp::File { dest, .. }
            | SetupOp::BindData { dest, .. }
            | SetupOp::Symlink { dest, .. } => dest,
            SetupOp::Chmod { path, .. } => path,
        }
    }

    /// The mode of what the op creates, as bwrap's `op->perms`: `--perms`,
    /// else the op's default. Ops that create no file of their own keep
    /// bwrap's zero-initialised value, which is why their missing parents
    /// come out 0700.
    pub fn perms(&self) -> u32 {
        match self {
            SetupOp::Tmpfs { perms, .. } | SetupOp::Dir { perms, .. } => perms.unwrap_or(0o755),
            SetupOp::File { perms, .. } => perms.unwrap_or(0o666),
            SetupOp::BindData { perms, .. } => perms.unwrap_or(0o600),
            SetupOp::Bind { .. }
            | SetupOp::BindFd { .. }
            | SetupOp::RemountRo { .. }
            | SetupOp::Overlay { .. }
            | SetupOp::Proc { .. }
            | SetupOp::Dev { .. }
            | SetupOp::Mqueue { .. }
            | SetupOp::Symlink { .. }
            | SetupOp::Chmod { .. } => 0,
        }
    }

    /// What the op needs at its destination.
    pub fn dest_need(&self) -> DestNeed {
        match self {
            SetupOp::Bind { .. } | SetupOp::BindFd { .. } => DestNeed::LikeSource,
            SetupOp::BindData { .. } => DestNeed::File,
            SetupOp::Overlay { .. }
            | SetupOp::Proc { .. }
            | SetupOp::Dev { .. }
            | SetupOp::Tmpfs { .. }
            | SetupOp::Mqueue { .. } => DestNeed::Dir { mounts: true },
            SetupOp::Dir { .. } => DestNeed::Dir { mounts: false },
            SetupOp::RemountRo { .. } => DestNeed::Existing,
            SetupOp::File { .. } | SetupOp::Symlink { .. } => DestNeed::Parents,
            SetupOp::Chmod { .. } => DestNeed::Nothing,
        }
    }

    /// The caller's fd the op reads (and nestwrap closes before COMMAND).
    pub fn consumed_fd(&self) -> Option<FdNum> {
        match self {
            SetupOp::File { fd, .. }
            | SetupOp::BindData { fd, .. }
            | SetupOp::BindFd { fd, .. } => Some(*fd),
            SetupOp::Bind { .. }
            | SetupOp::RemountRo { .. }
            | SetupOp::Overlay { .. }
            | SetupOp::Proc { .. }
            | SetupOp::Dev { .. }
            | SetupOp::Tmpfs { .. }
            | SetupOp::Mqueue { .. }
            | SetupOp::Dir { .. }
            | SetupOp::Symlink { .. }
            | SetupOp::Chmod { .. } => None,
        }
    }

    /// What the op takes from the host.
    pub fn source(&self) -> SourceSpec<'_> {
        match self {
            SetupOp::Bind { src, allow_notexist, .. } => {
                SourceSpec::Path { src, may_be_missing: *allow_notexist }
            }
            SetupOp::BindFd { fd, .. } => SourceSpec::Fd(*fd),
            SetupOp::Overlay { srcs, kind, .. } => SourceSpec::Overlay {
                lower: srcs,
                upper: match kind {
                    OverlayKind::ReadWrite { rwsrc, workdir } => Some((rwsrc, workdir)),
                    OverlayKind::Tmp | OverlayKind::ReadOnly => None,
                },
            },
            SetupOp::RemountRo { .. }
            | SetupOp::Proc { .. }
            | SetupOp::Dev { .. }
            | SetupOp::Tmpfs { .. }
            | SetupOp::Mqueue { .. }
            | SetupOp::Dir { .. }
            | SetupOp::File { .. }
            | SetupOp::BindData { .. }
            | SetupOp::Symlink { .. }
            | SetupOp::Chmod { .. } => SourceSpec::None,
        }
    }
}

/// `--setenv`, `--unsetenv`, `--clearenv`, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvOp {
    Set { var: OsString, value: OsString },
    Unset { var: OsString },
    Clear,
}

/// `--cap-add` / `--cap-drop`, in command-line order. `None` means `ALL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapOp {
    Add(Option<u8>),
    Drop(Option<u8>),
}

/// nestwrap extension `--proc-fallback` / `NESTWRAP_PROC_FALLBACK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProcFallback {
    /// Fall back and say so with one warning line (default).
    #[default]
    Auto,
    /// Fall back silently (still recorded in the JSON status).
    Quiet,
    /// Reproduce bwrap's failure exactly.
    Never,
}

impl ProcFallback {
    /// The one parser of the mode names, shared by `--proc-fallback`, the
    /// real run's `NESTWRAP_PROC_FALLBACK` and `--diagnose`'s prediction
    /// (which used to keep a copy that read any bad value as `auto`).
    pub fn from_name(name: &std::ffi::OsStr) -> Option<ProcFallback> {
        match name.to_str()? {
            "auto" => Some(ProcFallback::Auto),
            "quiet" => Some(ProcFallback::Quiet),
            "never" => Some(ProcFallback::Never),
            _ => None,
        }
    }

    /// `NESTWRAP_PROC_FALLBACK`'s value: a mode name, or empty for `auto`.
    /// `Err` is the error message (without `bwrap: `) the run stops with.
    pub fn from_env_value(value: &std::ffi::OsStr) -> Result<ProcFallback, String> {
        if value.is_empty() {
            return Ok(ProcFallback::Auto);
        }
        ProcFallback::from_name(value).ok_or_else(|| {
            format!(
                "Invalid NESTWRAP_PROC_FALLBACK value {:?}: expected auto, quiet or never",
                value.to_string_lossy()
            )
        })
    }
}

/// Namespaces requested on the command line (before the implicit user namespace).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unshare {
    pub user: bool,
    pub user_try: bool,
    pub ipc: bool,
    pub pid: bool,
    pub net: bool,
    pub uts: bool,
    pub cgroup: bool,
    pub cgroup_try: bool,
}

/// Everything the command line asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// `--level-prefix` was given (affects diagnostics printed after it).
    pub level_prefix: bool,
    pub unshare: Unshare,
    pub userns_fd: Option<FdNum>,
    pub userns2_fd: Option<FdNum>,
    pub pidns_fd: Option<FdNum>,
    pub disable_userns: bool,
    pub assert_userns_disabled: bool,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// `--hostname NAME`: bwrap queues it after every filesystem op.
    pub hostname: Option<OsString>,
    pub chdir: Option<OsString>,
    pub env_ops: Vec<EnvOp>,
    pub lock_files: Vec<OsString>,
    pub sync_fds: Vec<FdNum>,
    pub block_fd: Option<FdNum>,
    pub userns_block_fd: Option<FdNum>,
    pub info_fd: Option<FdNum>,
    pub json_status_fd: Option<FdNum>,
    /// `--seccomp FD`: read late, in the child.
    pub seccomp_fd: Option<FdNum>,
    /// `--add-seccomp-fd FD`: read at parse time, in order; each is raw BPF.
    pub add_seccomp: Vec<Vec<u8>>,
    pub exec_label: Option<OsString>,
    pub file_label: Option<OsString>,
    pub new_session: bool,
    pub die_with_parent: bool,
    pub as_pid_1: bool,
    pub caps: Vec<CapOp>,
    pub argv0: Option<OsString>,
    pub not_a_security_boundary: bool,
    /// `--proc-fallback` if given on the command line (the environment
    /// variable is consulted at run time when this is `None`).
    pub proc_fallback: Option<ProcFallback>,
    pub forward_signals: bool,
    /// `--scope-abstract-unix-sockets`: a Landlock scope on COMMAND.
    pub scope_abstract_unix_sockets: bool,
    /// `--scope-signals`: a Landlock scope on COMMAND.
    pub scope_signals: bool,
    /// `--debug-opt=force-openat-fallback` (bwrap 0.13.1's testing hook):
    /// resolve destinations as if `openat2` were missing.
    pub debug_force_openat_fallback: bool,
    /// `--debug-opt=force-mount-setattr-fallback`: apply mount flags by
    /// remounting, as if `mount_setattr` were missing.
    pub debug_force_setattr_fallback: bool,
    /// Filesystem ops in command-line order.
    pub ops: Vec<SetupOp>,
    /// COMMAND and its arguments (never empty in a parsed config).
    pub command: Vec<OsString>,
}
