//! Renders `--help` (and later the man page and completions) from `cli::spec`.

use crate::cli::spec::{Category, OptSpec, OPTIONS};

/// Column where bwrap's help texts start.
const HELP_COLUMN: usize = 33;

/// The text printed by `--help` (stdout) and, without COMMAND, on stderr:
/// bwrap's usage text, byte for byte, followed by one line about nestwrap.
pub fn usage(argv0: &str) -> String {
    let mut out = format!("usage: {argv0} [OPTIONS...] [--] COMMAND [ARGS...]\n\n");
    let is_ext = |o: &&OptSpec| o.category == Category::Extensions;
    for opt in OPTIONS.iter().filter(|o| !is_ext(o)) {
        push_help_line(&mut out, opt);
    }
    out.push_str("\nnestwrap extensions:\n");
    for opt in OPTIONS.iter().filter(is_ext) {
        push_help_line(&mut out, opt);
    }
    out.push_str(&format!(
        "\nnestwrap {}: bwrap-compatible; see nestwrap(1)\n",
        crate::NESTWRAP_VERSION
    ));
    out
}

/// One option in bwrap's two-column layout.
fn push_help_line(out: &mut String, opt: &OptSpec) {
    let mut head = String::from(opt.name);
    for m in opt.metavars {
        head.push(' ');
        head.push_str(m);
    }
    let mut lines = opt.help.split('\n');
    let first = lines.next().unwrap_or("");
    // "    " + head padded to 28 + at least one space.
    out.push_str(&format!("    {head:<width$} {first}\n", width = HELP_COLUMN - 5));
    for line in lines {
        out.push_str(&format!("{:HELP_COLUMN$}{line}\n", ""));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bwrap 0.11.x's usage text (its `usage()`), the behaviour `--help` must
    /// reproduce; nestwrap adds the 0.12 option and one final line.
    const BWRAP_0_11_USAGE: &str = r#"usage: ARGV0 [OPTIONS...] [--] COMMAND [ARGS...]

    --help                       Print this help
    --version                    Print version
    --args FD                    Parse NUL-separated args from FD
    --argv0 VALUE                Set argv[0] to the value VALUE before running the program
    --level-prefix               Prepend e.g. <3> to diagnostic messages
    --unshare-all                Unshare every namespace we support by default
    --share-net                  Retain the network namespace (can only combine with --unshare-all)
    --unshare-user               Create new user namespace (may be automatically implied if not setuid)
    --unshare-user-try           Create new user namespace if possible else continue by skipping it
    --unshare-ipc                Create new ipc namespace
    --unshare-pid                Create new pid namespace
    --unshare-net                Create new network namespace
    --unshare-uts                Create new uts namespace
    --unshare-cgroup             Create new cgroup namespace
    --unshare-cgroup-try         Create new cgroup namespace if possible else continue by skipping it
    --userns FD                  Use this user namespace (cannot combine with --unshare-user)
    --userns2 FD                 After setup switch to this user namespace, only useful with --userns
    --disable-userns             Disable further use of user namespaces inside sandbox
    --assert-userns-disabled     Fail unless further use of user namespace inside sandbox is disabled
    --pidns FD                   Use this pid namespace (as parent namespace if using --unshare-pid)
    --uid UID                    Custom uid in the sandbox (requires --unshare-user or --userns)
    --gid GID                    Custom gid in the sandbox (requires --unshare-user or --userns)
    --hostname NAME              Custom hostname in the sandbox (requires --unshare-uts)
    --chdir DIR                  Change directory to DIR
    --clearenv                   Unset all environment variables
    --setenv VAR VALUE           Set an environment variable
    --unsetenv VAR               Unset an environment variable
    --lock-file DEST             Take a lock on DEST while sandbox is running
    --sync-fd FD                 Keep this fd open while sandbox is running
    --bind SRC DEST              Bind mount the host path SRC on DEST
    --bind-try SRC DEST          Equal to --bind but ignores non-existent SRC
    --dev-bind SRC DEST          Bind mount the host path SRC on DEST, allowing device access
    --dev-bind-try SRC DEST      Equal to --dev-bind but ignores non-existent SRC
    --ro-bind SRC DEST           Bind mount the host path SRC readonly on DEST
    --ro-bind-try SRC DEST       Equal to --ro-bind but ignores non-existent SRC
    --bind-fd FD DEST            Bind open directory or path fd on DEST
    --ro-bind-fd FD DEST         Bind open directory or path fd read-only on DEST
    --remount-ro DEST            Remount DEST as readonly; does not recursively remount
    --overlay-src SRC            Read files from SRC in the following overlay
    --overlay RWSRC WORKDIR DEST Mount overlayfs on DEST, with RWSRC as the host path for writes and
                                 WORKDIR an empty directory on the same filesystem as RWSRC
    --tmp-overlay DEST           Mount overlayfs on DEST, with writes going to an invisible tmpfs
    --ro-overlay DEST            Mount overlayfs read-only on DEST
    --exec-label LABEL           Exec label for the sandbox
    --file-label LABEL           File label for temporary sandbox content
    --proc DEST                  Mount new procfs on DEST
    --dev DEST                   Mount new dev on DEST
    --tmpfs DEST                 Mount new tmpfs on DEST
    --mqueue DEST                Mount new mqueue on DEST
    --dir DEST                   Create dir at DEST
    --file FD DEST               Copy from FD to destination DEST
    --bind-data FD DEST          Copy from FD to file which is bind-mounted on DEST
    --ro-bind-data FD DEST       Copy from FD to file which is readonly bind-mounted on DEST
    --symlink SRC DEST           Create symlink at DEST with target SRC
    --seccomp FD                 Load and use seccomp rules from FD (not repeatable)
    --add-seccomp-fd FD          Load and use seccomp rules from FD (repeatable)
    --block-fd FD                Block on FD until some data to read is available
    --userns-block-fd FD         Block on FD until the user namespace is ready
    --info-fd FD                 Write information about the running container to FD
    --json-status-fd FD          Write container status to FD as multiple JSON documents
    --new-session                Create a new terminal session
    --die-with-parent            Kills with SIGKILL child process (COMMAND) when bwrap or bwrap's parent dies.
    --as-pid-1                   Do not install a reaper process with PID=1
    --cap-add CAP                Add cap CAP when running as privileged user
    --cap-drop CAP               Drop cap CAP when running as privileged user
    --perms OCTAL                Set permissions of next argument (--bind-data, --file, etc.)
    --size BYTES                 Set size of next argument (only for --tmpfs)
    --chmod OCTAL PATH           Change permissions of PATH (must already exist)
"#;

    #[test]
    fn usage_is_bwraps_plus_nestwrap_additions() {
        let ours = usage("ARGV0");
        let nsab =
            "    --not-a-security-boundary    Allow some sandbox setup steps to fail, with a \
                    warning, if they would only make the sandbox weaker\n";
        let mut last = String::from("\nnestwrap extensions:\n");
        for opt in OPTIONS.iter().filter(|o| o.category == Category::Extensions) {
            push_help_line(&mut last, opt);
        }
        last.push_str(&format!(
            "\nnestwrap {}: bwrap-compatible; see nestwrap(1)\n",
            crate::NESTWRAP_VERSION
        ));
        assert!(ours.contains(nsab));
        assert!(ours.ends_with(&last));
        let stripped = ours.replace(nsab, "");
        assert_eq!(stripped.strip_suffix(&last), Some(BWRAP_0_11_USAGE));
    }

    #[test]
    fn usage_first_line_uses_argv0_as_given() {
        assert!(usage("/usr/bin/bwrap").starts_with(
            "usage: /usr/bin/bwrap [OPTIONS...] [--] COMMAND [ARGS...]\n\n    --help "
        ));
    }

    #[test]
    fn every_option_in_usage_in_table_order() {
        let text = usage("x");
        let mut pos = 0;
        for opt in OPTIONS {
            let needle = format!("\n    {} ", opt.name);
            let at = text[pos..].find(&needle).unwrap_or_else(|| panic!("{} missing", opt.name));
            pos += at + 1;
        }
        // Help texts start at column 33 (one space after a 28-column head at least).
        for line in text.lines().filter(|l| l.starts_with("    --")) {
            assert_eq!(line.as_bytes()[32], b' ', "{line}");
            assert_ne!(line.as_bytes()[33], b' ', "{line}");
        }
    }
}
