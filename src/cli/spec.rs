//! The static option table: one entry per option bwrap 0.13.1 accepts, in the
//! order of bwrap's `usage()`. It drives `--help` (see `doc::usage`), the man
//! page and the shell completions, and it holds the exact "takes N arguments"
//! texts that `parse` prints when values are missing.
//!
//! The parser (`cli::parse`) looks every option up here: the entry's category
//! picks the parser's family function, which has one match arm per entry, and
//! its metavariables give the number of values taken and the "takes N
//! arguments" text. A unit test drives the parser with every entry so that
//! the two cannot drift apart.

/// The man page's grouping of options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// "General options".
    General,
    /// "Options related to kernel namespaces".
    Namespaces,
    /// "Options about environment setup".
    Environment,
    /// "Options for monitoring the sandbox from the outside".
    Monitoring,
    /// "Filesystem related options".
    Filesystem,
    /// "Lockdown options".
    Lockdown,
    /// nestwrap's own options (man page section EXTENSIONS).
    Extensions,
}

impl Category {
    /// All categories, in man page order.
    pub const ALL: &'static [Category] = &[
        Category::General,
        Category::Namespaces,
        Category::Environment,
        Category::Monitoring,
        Category::Filesystem,
        Category::Lockdown,
        Category::Extensions,
    ];

    /// The man page sub-heading.
    pub fn title(self) -> &'static str {
        match self {
            Category::General => "General options",
            Category::Namespaces => "Options related to kernel namespaces",
            Category::Environment => "Options about environment setup",
            Category::Monitoring => "Options for monitoring the sandbox from the outside",
            Category::Filesystem => "Filesystem related options",
            Category::Lockdown => "Lockdown options",
            Category::Extensions => "nestwrap extensions",
        }
    }
}

/// What kind of value a metavariable stands for (a hint for completions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// Any path (file or directory).
    Path,
    /// A directory.
    Dir,
    /// A file descriptor number.
    Fd,
    /// An octal mode such as `0755`.
    Octal,
    /// A capability name (`CAP_NET_ADMIN`) or `ALL`.
    Cap,
    /// A decimal (or, for `--size`, C-style) number.
    Int,
    /// Free text.
    String,
    /// An SELinux label.
    Label,
    /// An environment variable name.
    Var,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
}

/// One command-line option.
#[derive(Debug, Clone, Copy)]
pub struct OptSpec {
    /// The option as typed, with its leading `--`.
    pub name: &'static str,
    /// Metavariables as shown by `--help`; the arity is their number.
    pub metavars: &'static [&'static str],
    /// One completion hint per metavariable.
    pub value_kinds: &'static [ValueKind],
    /// bwrap's `--help` text. Only `--overlay` has two lines (joined by `\n`).
    pub help: &'static str,
    pub category: Category,
    /// The error printed when values are missing (empty for flags).
    pub missing: &'static str,
    /// Longer description for the man page.
    pub description: &'static str,
    /// For an op that takes only DEST: the op it makes. The parser needs
    /// no arm of its own for such an option.
    pub dest_op: Option<fn(OsString) -> SetupOp>,
}

impl OptSpec {
    /// Number of values the option takes.
    pub fn arity(&self) -> usize {
        self.metavars.len()
    }

    /// The help text on a single line (for completions).
    pub fn help_one_line(&self) -> String {
        self.help.split('\n').map(str::trim).collect::<Vec<_>>().join(" ")
    }
}

/// Look an option up by its name (with the leading `--`).
pub fn find(name: &str) -> Option<&'static OptSpec> {
    OPTIONS.iter().find(|o| o.name == name)
}

use std::ffi::OsString;

use crate::config::SetupOp;

use Category as C;
use ValueKind as K;

#[allow(clippy::too_many_arguments)]
const fn opt(
    name: &'static str,
    metavars: &'static [&'static str],
    value_kinds: &'static [ValueKind],
    category: Category,
    help: &'static str,
    missing: &'static str,
    description: &'static str,
) -> OptSpec {
    OptSpec { name, metavars, value_kinds, help, category, missing, description, dest_op: None }
}

impl OptSpec {
    /// The entry of an op that takes only DEST, with the op it makes.
    const fn makes(self, op: fn(OsString) -> SetupOp) -> OptSpec {
        OptSpec { dest_op: Some(op), ..self }
    }
}

/// Every option, in bwrap's `usage()` order.
#[rustfmt::skip]
pub const OPTIONS: &[OptSpec] = &[
    opt("--help", &[], &[], C::General, "Print this help", "",
        "Print a summary of the options on standard output and exit with status 0."),
    opt("--version", &[], &[], C::General, "Print version", "",
        "Print the bubblewrap version this program is compatible with and exit with status 0."),
    opt("--args", &["FD"], &[K::Fd], C::General, "Parse NUL-separated args from FD",
        "--args takes an argument",
        "Read FD to its end and parse its contents, a list of NUL-terminated arguments, as if \
         they had been given at this point of the command line; then close FD. The data may \
         not contain --args itself, and parsing of the data stops at its first argument that \
         is not an option, so COMMAND cannot come from it. Reading stops with an error once \
         the arguments pass 9000 (command line included) or all --args data passes 64 MiB \
         (bwrap reads an endless FD forever)."),
    opt("--argv0", &["VALUE"], &[K::String], C::General,
        "Set argv[0] to the value VALUE before running the program",
        "--argv0 takes one argument",
        "Run COMMAND with VALUE as its argv[0]. The program is still found through COMMAND. \
         May be given only once."),
    opt("--level-prefix", &[], &[], C::General, "Prepend e.g. <3> to diagnostic messages", "",
        "Start every diagnostic printed after this option with its syslog level in angle \
         brackets: <3> for errors and <4> for warnings."),
    opt("--unshare-all", &[], &[], C::Namespaces,
        "Unshare every namespace we support by default", "",
        "Same as --unshare-user-try --unshare-ipc --unshare-pid --unshare-net --unshare-uts \
         --unshare-cgroup-try."),
    opt("--share-net", &[], &[], C::Namespaces,
        "Retain the network namespace (can only combine with --unshare-all)", "",
        "Keep the caller's network namespace. It cancels an earlier --unshare-all or \
         --unshare-net, so it must come after them."),
    opt("--unshare-user", &[], &[], C::Namespaces,
        "Create new user namespace (may be automatically implied if not root)", "",
        "Create a new user namespace. It is implied when the caller is not root and no \
         --userns is given."),
    opt("--unshare-user-try", &[], &[], C::Namespaces,
        "Create new user namespace if possible else continue by skipping it", "",
        "Create a new user namespace if the kernel allows it, otherwise continue without one."),
    opt("--unshare-ipc", &[], &[], C::Namespaces, "Create new ipc namespace", "",
        "Create a new IPC namespace."),
    opt("--unshare-pid", &[], &[], C::Namespaces, "Create new pid namespace", "",
        "Create a new PID namespace. Unless --as-pid-1 is given, a small reaper process \
         runs as PID 1 and COMMAND gets PID 2."),
    opt("--unshare-net", &[], &[], C::Namespaces, "Create new network namespace", "",
        "Create a new network namespace with only a loopback interface, which is brought up."),
    opt("--unshare-uts", &[], &[], C::Namespaces, "Create new uts namespace", "",
        "Create a new UTS namespace (host name and domain name)."),
    opt("--unshare-cgroup", &[], &[], C::Namespaces, "Create new cgroup namespace", "",
        "Create a new cgroup namespace; fail if the kernel does not support them."),
    opt("--unshare-cgroup-try", &[], &[], C::Namespaces,
        "Create new cgroup namespace if possible else continue by skipping it", "",
        "Create a new cgroup namespace if the kernel supports them, otherwise continue \
         without one."),
    opt("--userns", &["FD"], &[K::Fd], C::Namespaces,
        "Use this user namespace (cannot combine with --unshare-user)",
        "--userns takes an argument",
        "Join the existing user namespace open on FD instead of creating one. Cannot be \
         combined with --unshare-user or --unshare-user-try."),
    opt("--userns2", &["FD"], &[K::Fd], C::Namespaces,
        "After setup switch to this user namespace, only useful with --userns",
        "--userns2 takes an argument",
        "After the sandbox is set up, switch to the user namespace open on FD, typically a \
         child of the one given with --userns."),
    opt("--disable-userns", &[], &[], C::Namespaces,
        "Disable further use of user namespaces inside sandbox", "",
        "Prevent processes in the sandbox from creating further user namespaces. Requires an \
         explicit --unshare-user."),
    opt("--assert-userns-disabled", &[], &[], C::Namespaces,
        "Fail unless further use of user namespace inside sandbox is disabled", "",
        "Check, once the sandbox is set up, that creating a user namespace fails, and abort \
         otherwise."),
    opt("--pidns", &["FD"], &[K::Fd], C::Namespaces,
        "Use this pid namespace (as parent namespace if using --unshare-pid)",
        "--pidns takes an argument",
        "Run the sandbox in the existing PID namespace open on FD, or, with --unshare-pid, \
         in a new PID namespace created inside it."),
    opt("--uid", &["UID"], &[K::Int], C::Namespaces,
        "Custom uid in the sandbox (requires --unshare-user or --userns)",
        "--uid takes an argument",
        "Use UID as the user id inside the sandbox. Requires a user namespace."),
    opt("--gid", &["GID"], &[K::Int], C::Namespaces,
        "Custom gid in the sandbox (requires --unshare-user or --userns)",
        "--gid takes an argument",
        "Use GID as the group id inside the sandbox. Requires a user namespace."),
    opt("--hostname", &["NAME"], &[K::String], C::Namespaces,
        "Custom hostname in the sandbox (requires --unshare-uts)",
        "--hostname takes an argument",
        "Set the host name inside the sandbox to NAME. Requires --unshare-uts."),
    opt("--chdir", &["DIR"], &[K::Dir], C::Environment, "Change directory to DIR",
        "--chdir takes one argument",
        "Change to DIR inside the sandbox before running COMMAND. Without it, the caller's \
         working directory is used if it exists in the sandbox, else $HOME, else /."),
    opt("--clearenv", &[], &[], C::Environment, "Unset all environment variables", "",
        "Remove every environment variable; later --setenv options still apply and PWD is \
         set anyway."),
    opt("--setenv", &["VAR", "VALUE"], &[K::Var, K::String], C::Environment,
        "Set an environment variable", "--setenv takes two arguments",
        "Set the environment variable VAR to VALUE for COMMAND."),
    opt("--unsetenv", &["VAR"], &[K::Var], C::Environment, "Unset an environment variable",
        "--unsetenv takes an argument",
        "Remove the environment variable VAR for COMMAND."),
    opt("--lock-file", &["DEST"], &[K::Path], C::Monitoring,
        "Take a lock on DEST while sandbox is running", "--lock-file takes an argument",
        "Take a read lock on DEST (a path inside the sandbox) for as long as the sandbox \
         runs, so that outside processes can tell whether it is still in use. May be \
         repeated."),
    opt("--sync-fd", &["FD"], &[K::Fd], C::Monitoring,
        "Keep this fd open while sandbox is running", "--sync-fd takes an argument",
        "Keep FD open for as long as the sandbox runs, so that an outside process sees it \
         closed when the sandbox is gone. May be repeated."),
    opt("--bind", &["SRC", "DEST"], &[K::Path, K::Path], C::Filesystem,
        "Bind mount the host path SRC on DEST", "--bind takes two arguments",
        "Bind mount the host path SRC on DEST, recursively, with nosuid and nodev added."),
    opt("--bind-try", &["SRC", "DEST"], &[K::Path, K::Path], C::Filesystem,
        "Equal to --bind but ignores non-existent SRC", "--bind-try takes two arguments",
        "Like --bind, but do nothing if SRC does not exist."),
    opt("--dev-bind", &["SRC", "DEST"], &[K::Path, K::Path], C::Filesystem,
        "Bind mount the host path SRC on DEST, allowing device access", "--dev-bind takes two arguments",
        "Like --bind, but device nodes under DEST stay usable (only nosuid is added)."),
    opt("--dev-bind-try", &["SRC", "DEST"], &[K::Path, K::Path], C::Filesystem,
        "Equal to --dev-bind but ignores non-existent SRC", "--dev-bind-try takes two arguments",
        "Like --dev-bind, but do nothing if SRC does not exist."),
    opt("--ro-bind", &["SRC", "DEST"], &[K::Path, K::Path], C::Filesystem,
        "Bind mount the host path SRC readonly on DEST", "--ro-bind takes two arguments",
        "Like --bind, but every mount under DEST is also made read-only."),
    opt("--ro-bind-try", &["SRC", "DEST"], &[K::Path, K::Path], C::Filesystem,
        "Equal to --ro-bind but ignores non-existent SRC", "--ro-bind-try takes two arguments",
        "Like --ro-bind, but do nothing if SRC does not exist."),
    opt("--bind-fd", &["FD", "DEST"], &[K::Fd, K::Path], C::Filesystem,
        "Bind open directory or path fd on DEST", "--bind-fd takes two arguments",
        "Bind mount the file or directory open on FD (an O_PATH descriptor is enough) on \
         DEST, then close FD."),
    opt("--ro-bind-fd", &["FD", "DEST"], &[K::Fd, K::Path], C::Filesystem,
        "Bind open directory or path fd read-only on DEST", "--bind-fd takes two arguments",
        "Like --bind-fd, but read-only."),
    opt("--remount-ro", &["DEST"], &[K::Path], C::Filesystem,
        "Remount DEST as readonly; does not recursively remount",
        "--remount-ro takes one argument",
        "Make the mount at DEST read-only (and nosuid, nodev). Mounts below it are not \
         changed.").makes(|dest| SetupOp::RemountRo { dest }),
    opt("--overlay-src", &["SRC"], &[K::Dir], C::Filesystem,
        "Read files from SRC in the following overlay",
        "--overlay-src must be followed by another --overlay-src or one of --overlay, --tmp-overlay, or --ro-overlay",
        "Add the host directory SRC as a lower layer of the overlay created by the next \
         --overlay, --tmp-overlay or --ro-overlay; the first one given is the bottom layer."),
    opt("--overlay", &["RWSRC", "WORKDIR", "DEST"], &[K::Dir, K::Dir, K::Dir], C::Filesystem,
        "Mount overlayfs on DEST, with RWSRC as the host path for writes and\nWORKDIR an empty directory on the same filesystem as RWSRC",
        "--overlay takes three arguments",
        "Mount an overlay filesystem on DEST made of the preceding --overlay-src layers, with \
         writes going to the host directory RWSRC. WORKDIR must be an empty directory on the \
         same filesystem as RWSRC."),
    opt("--tmp-overlay", &["DEST"], &[K::Dir], C::Filesystem,
        "Mount overlayfs on DEST, with writes going to an invisible tmpfs",
        "--tmp-overlay takes an argument",
        "Mount an overlay filesystem on DEST made of the preceding --overlay-src layers; \
         writes go to a tmpfs that disappears with the sandbox."),
    opt("--ro-overlay", &["DEST"], &[K::Dir], C::Filesystem,
        "Mount overlayfs read-only on DEST", "--ro-overlay takes an argument",
        "Mount a read-only overlay filesystem on DEST made of the preceding --overlay-src \
         layers (at least two)."),
    opt("--exec-label", &["LABEL"], &[K::Label], C::Lockdown, "Exec label for the sandbox",
        "--exec-label takes an argument",
        "Run COMMAND with the SELinux label LABEL. Fails when SELinux is not enabled."),
    opt("--file-label", &["LABEL"], &[K::Label], C::Lockdown,
        "File label for temporary sandbox content", "--file-label takes an argument",
        "Give files created for the sandbox (tmpfs mounts and the like) the SELinux label \
         LABEL. Fails when SELinux is not enabled."),
    opt("--proc", &["DEST"], &[K::Dir], C::Filesystem, "Mount new procfs on DEST",
        "--proc takes an argument",
        "Mount procfs on DEST: a new instance when the sandbox has its own PID namespace, \
         otherwise the caller's /proc.").makes(|dest| SetupOp::Proc { dest }),
    opt("--dev", &["DEST"], &[K::Dir], C::Filesystem, "Mount new dev on DEST",
        "--dev takes an argument",
        "Mount a new, minimal /dev on DEST: a tmpfs with null, zero, full, random, urandom \
         and tty, the usual symbolic links, a shm directory and a private devpts instance.")
        .makes(|dest| SetupOp::Dev { dest }),
    opt("--tmpfs", &["DEST"], &[K::Dir], C::Filesystem, "Mount new tmpfs on DEST",
        "--tmpfs takes an argument",
        "Mount an empty tmpfs on DEST, with mode 0755 unless --perms is given and the size \
         given by --size if any."),
    opt("--mqueue", &["DEST"], &[K::Dir], C::Filesystem, "Mount new mqueue on DEST",
        "--mqueue takes an argument", "Mount a POSIX message queue filesystem on DEST.")
        .makes(|dest| SetupOp::Mqueue { dest }),
    opt("--dir", &["DEST"], &[K::Dir], C::Filesystem, "Create dir at DEST",
        "--dir takes an argument",
        "Create the directory DEST, with mode 0755 unless --perms is given. An existing \
         directory is left unchanged."),
    opt("--file", &["FD", "DEST"], &[K::Fd, K::Path], C::Filesystem,
        "Copy from FD to destination DEST", "--file takes two arguments",
        "Create the file DEST, with mode 0666 unless --perms is given, fill it with the data \
         read from FD, then close FD."),
    opt("--bind-data", &["FD", "DEST"], &[K::Fd, K::Path], C::Filesystem,
        "Copy from FD to file which is bind-mounted on DEST", "--bind-data takes two arguments",
        "Copy the data read from FD into a hidden file, with mode 0600 unless --perms is \
         given, and bind mount it on DEST; then close FD."),
    opt("--ro-bind-data", &["FD", "DEST"], &[K::Fd, K::Path], C::Filesystem,
        "Copy from FD to file which is readonly bind-mounted on DEST",
        "--ro-bind-data takes two arguments", "Like --bind-data, but read-only."),
    opt("--symlink", &["SRC", "DEST"], &[K::String, K::Path], C::Filesystem,
        "Create symlink at DEST with target SRC", "--symlink takes two arguments",
        "Create a symbolic link DEST pointing to SRC. An existing symbolic link with the same \
         target is accepted."),
    opt("--seccomp", &["FD"], &[K::Fd], C::Lockdown,
        "Load and use seccomp rules from FD (not repeatable)", "--seccomp takes an argument",
        "Install the seccomp program (an array of struct sock_filter) read from FD just \
         before running COMMAND. Cannot be combined with --add-seccomp-fd. A program of more \
         than 4096 instructions (the kernel's limit) is refused, never truncated, and so is \
         one that would take the filters in force past the kernel's total of 32768; both \
         before COMMAND starts."),
    opt("--add-seccomp-fd", &["FD"], &[K::Fd], C::Lockdown,
        "Load and use seccomp rules from FD (repeatable)", "--add-seccomp-fd takes an argument",
        "Read a seccomp program from FD at once and install it just before running COMMAND. \
         May be repeated; programs are installed in order. Cannot be combined with --seccomp. \
         Each program is limited to 4096 instructions, and all filters together (those \
         already in force included) to the kernel's limit of 32768 instructions as the \
         kernel counts them; longer ones are refused before COMMAND starts."),
    opt("--block-fd", &["FD"], &[K::Fd], C::Monitoring,
        "Block on FD until some data to read is available", "--block-fd takes an argument",
        "Once the sandbox is set up, wait until FD is readable (data or end of file) before \
         running COMMAND."),
    opt("--userns-block-fd", &["FD"], &[K::Fd], C::Monitoring,
        "Block on FD until the user namespace is ready", "--userns-block-fd takes an argument",
        "Do not write the uid and gid maps; instead wait until FD is readable, so that the \
         caller can write them (for example with newuidmap). Requires --unshare-user and \
         --info-fd."),
    opt("--info-fd", &["FD"], &[K::Fd], C::Monitoring,
        "Write information about the running container to FD", "--info-fd takes an argument",
        "Write a JSON object with the sandbox's child-pid and namespace ids to FD, then \
         close it."),
    opt("--json-status-fd", &["FD"], &[K::Fd], C::Monitoring,
        "Write container status to FD as multiple JSON documents",
        "--json-status-fd takes an argument",
        "Write JSON objects, one per line, to FD: the child-pid and namespace ids when the \
         sandbox starts, and the exit-code when COMMAND has exited."),
    opt("--new-session", &[], &[], C::Lockdown, "Create a new terminal session", "",
        "Run COMMAND in a new session, without a controlling terminal, so that it cannot \
         inject input into the caller's terminal."),
    opt("--die-with-parent", &[], &[], C::Lockdown,
        "Kills with SIGKILL child process (COMMAND) when bwrap or bwrap's parent dies.", "",
        "Kill COMMAND with SIGKILL when the process that started the sandbox dies."),
    opt("--as-pid-1", &[], &[], C::Lockdown, "Do not install a reaper process with PID=1", "",
        "Run COMMAND as PID 1 of the new PID namespace instead of starting a reaper. \
         Requires --unshare-pid."),
    opt("--cap-add", &["CAP"], &[K::Cap], C::Lockdown,
        "Add cap CAP when running as privileged user", "--cap-add takes an argument",
        "Give COMMAND the capability CAP (for example CAP_NET_ADMIN, case-insensitive), or \
         every capability with ALL."),
    opt("--cap-drop", &["CAP"], &[K::Cap], C::Lockdown,
        "Drop cap CAP when running as privileged user", "--cap-drop takes an argument",
        "Remove the capability CAP, or every capability with ALL, from the set COMMAND \
         gets."),
    opt("--perms", &["OCTAL"], &[K::Octal], C::Filesystem,
        "Set permissions of next argument (--bind-data, --file, etc.)",
        "--perms takes an argument",
        "Use the octal mode OCTAL for the next --tmpfs, --dir, --file, --bind-data or \
         --ro-bind-data, which must follow (possibly after --size)."),
    opt("--size", &["BYTES"], &[K::Int], C::Filesystem,
        "Set size of next argument (only for --tmpfs)", "--size takes an argument",
        "Limit the next --tmpfs, which must follow (possibly after --perms), to BYTES bytes."),
    opt("--chmod", &["OCTAL", "PATH"], &[K::Octal, K::Path], C::Filesystem,
        "Change permissions of PATH (must already exist)", "--chmod takes two arguments",
        "Set the mode of PATH, which must already exist in the sandbox, to OCTAL."),
    opt("--not-a-security-boundary", &[], &[], C::General,
        "Do not fail hard when some sandbox setup steps fail;\nuse only when the sandbox is not a security boundary",
        "",
        "Declare that the sandbox is used for convenience rather than as a security \
         boundary: setup steps whose failure would only make the sandbox weaker (such as \
         remounting a submount with extra restrictions) print a warning instead of \
         aborting."),
    // nestwrap's own options: names no bwrap release uses.
    opt("--proc-fallback", &["MODE"], &[K::Choice(&["auto", "quiet", "never"])], C::Extensions,
        "When a new procfs is refused (masked /proc): auto, quiet or never",
        "--proc-fallback takes one argument",
        "Choose what --proc does when the kernel refuses a new procfs because the parent's \
         /proc is masked (\"mount too revealing\", as in containers): auto (the default) falls \
         back to a subset=pid procfs or a recursive bind of the parent's /proc and prints one \
         warning; quiet does the same without the warning; never fails exactly as bwrap does. \
         Overrides the NESTWRAP_PROC_FALLBACK environment variable."),
    opt("--forward-signals", &[], &[], C::Extensions,
        "Forward SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to COMMAND", "",
        "Pass SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 received by nestwrap on to \
         COMMAND, every time they arrive, and still exit with COMMAND's status. Without it, \
         as with bwrap, these signals end nestwrap and leave the sandbox running."),
    opt("--scope-abstract-unix-sockets", &[], &[], C::Extensions,
        "Block connecting to abstract unix sockets made outside the sandbox (Landlock)", "",
        "Put COMMAND (and the pid-1 reaper) in a Landlock domain scoped to abstract unix \
         sockets: connect(2) and sendto(2) reach only abstract sockets created inside the \
         sandbox; those of the host's network namespace (an X11 server's abstract \
         /tmp/.X11-unix/X0, D-Bus, IBus) fail with EPERM. Meant for sandboxes that keep the \
         network (--share-net). Sockets with a path are not affected. Needs Landlock ABI 6 \
         (Linux 6.12); where it is missing or disabled nestwrap fails before COMMAND runs."),
    opt("--scope-signals", &[], &[], C::Extensions,
        "Block signalling processes outside the sandbox (Landlock)", "",
        "Put COMMAND (and the pid-1 reaper) in a Landlock domain scoped to signals: COMMAND and \
         its children can signal each other, but kill(2) and friends fail with EPERM for every \
         process outside the sandbox, also without --unshare-pid (where their pids are \
         visible) and for kill(0, ...) on the caller's process group without --new-session. \
         Needs Landlock ABI 6 (Linux 6.12); where it is missing or disabled nestwrap fails \
         before COMMAND runs."),
    opt("--diagnose", &[], &[], C::Extensions,
        "Explain what blocks or weakens a sandbox here, then exit (nestwrap only)", "",
        "Must be the first argument: nestwrap --diagnose [--json] [-- BWRAP-ARGS...]. Probe \
         this environment without side effects (user namespaces and nesting depth left, own \
         seccomp, capabilities, AppArmor and SELinux confinement, /proc masks, hidepid, \
         read-only /proc/sys, and which of mount, pid and network namespaces, pivot_root, \
         overlayfs, devpts and seccomp work, each tried in a throwaway child) and print one \
         line per check with a verdict and a fix, or JSON with --json. Given BWRAP-ARGS, also \
         say which fallbacks nestwrap would use for that command line. Exits 0 once the \
         report is printed, whatever it found. Anywhere but first, --diagnose is an error."),
];

/// libcap's capability names, indexed by number (`CAP_CHECKPOINT_RESTORE` = 40).
pub const CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for o in OPTIONS {
            assert!(seen.insert(o.name), "duplicate {}", o.name);
            assert!(o.name.starts_with("--") && o.name.len() > 2, "{}", o.name);
            assert!(!o.name.contains('='), "{}", o.name);
        }
    }

    #[test]
    fn every_entry_is_complete() {
        for o in OPTIONS {
            assert!(!o.help.is_empty(), "{} has no help", o.name);
            assert!(!o.description.is_empty(), "{} has no description", o.name);
            assert_eq!(o.metavars.len(), o.value_kinds.len(), "{}", o.name);
            assert_eq!(o.arity() == 0, o.missing.is_empty(), "{}", o.name);
            assert!(o.arity() <= 3, "{}", o.name);
            for m in o.metavars {
                assert!(m.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
            }
        }
    }

    #[test]
    fn missing_value_phrases() {
        for o in OPTIONS.iter().filter(|o| o.arity() > 0) {
            if o.name != "--overlay-src" {
                assert!(o.missing.starts_with("--"), "{}", o.name);
                assert!(o.missing.contains(" takes "), "{}", o.name);
            }
        }
        assert_eq!(find("--ro-bind-fd").unwrap().missing, "--bind-fd takes two arguments");
    }

    #[test]
    fn categories_are_all_used() {
        for c in Category::ALL {
            assert!(OPTIONS.iter().any(|o| o.category == *c), "{c:?}");
        }
    }
}
