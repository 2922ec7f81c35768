//! Command-line tests against the real binary: help, version, usage and
//! parse errors. No namespaces are needed (nothing here reaches COMMAND).

use std::process::{Command, Output};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_nestwrap")
}

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("run nestwrap")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_goes_to_stdout() {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let first = stdout.lines().next().unwrap();
    assert_eq!(first, format!("usage: {} [OPTIONS...] [--] COMMAND [ARGS...]", bin()));
    assert!(stdout
        .contains("\n    --bind SRC DEST              Bind mount the host path SRC on DEST\n"));
    assert!(out.stderr.is_empty());
}

#[test]
fn help_uses_argv0_as_invoked() {
    let dir = std::path::Path::new(bin()).parent().unwrap();
    let out = Command::new("./nestwrap").arg("--help").current_dir(dir).output().unwrap();
    assert!(text(&out.stdout).starts_with("usage: ./nestwrap [OPTIONS...]"));
}

#[test]
fn version() {
    let out = run(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "bubblewrap 0.13.1\n");
    assert!(out.stderr.is_empty());
    // Wherever it appears, once the options before it were fine.
    let out = run(&["--bind", "/", "/", "--version", "--foo"]);
    assert_eq!((out.status.code(), text(&out.stdout)), (Some(0), "bubblewrap 0.13.1\n".into()));
}

#[test]
fn no_args_prints_usage_on_stderr() {
    for args in [&[][..], &["--ro-bind", "/", "/"], &["--unshare-all", "--"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.starts_with(&format!("usage: {} [OPTIONS...]", bin())), "{args:?}");
        assert!(!stderr.contains("bwrap: "), "{args:?}");
    }
}

#[test]
fn earlier_error_beats_version() {
    let out = run(&["--foo", "--version"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(text(&out.stderr), "bwrap: Unknown option --foo\n");
}

/// Malformed command lines: exactly one `bwrap: ` error line (after any
/// warnings), exit 1, nothing on stdout.
#[test]
fn malformed_command_lines() {
    let cases: &[(&[&str], &str)] = &[
        (&["--foo"], "Unknown option --foo"),
        (&["-x", "true"], "Unknown option -x"),
        (&["-"], "Unknown option -"),
        (&["-abc"], "Unknown option -abc"),
        (&["--bind=/a", "/b", "true"], "Unknown option --bind=/a"),
        (&["--help=1"], "Unknown option --help=1"),
        (&["--bind", "/a"], "--bind takes two arguments"),
        (&["--ro-bind-try"], "--ro-bind-try takes two arguments"),
        (&["--dev-bind", "/"], "--dev-bind takes two arguments"),
        (&["--ro-bind-fd", "3"], "--bind-fd takes two arguments"),
        (&["--tmpfs"], "--tmpfs takes an argument"),
        (&["--chdir"], "--chdir takes one argument"),
        (&["--remount-ro"], "--remount-ro takes one argument"),
        (&["--argv0"], "--argv0 takes one argument"),
        (&["--setenv", "A"], "--setenv takes two arguments"),
        (&["--overlay", "a", "b"], "--overlay takes three arguments"),
        (&["--chmod", "0755"], "--chmod takes two arguments"),
        (&["--args"], "--args takes an argument"),
        (&["--sync-fd", "abc", "true"], "Invalid fd: abc"),
        (&["--info-fd", "-1", "true"], "Invalid fd: -1"),
        (&["--uid", "x", "true"], "Invalid uid: x"),
        (&["--gid", "1.5", "true"], "Invalid gid: 1.5"),
        (&["--perms", "0800", "--dir", "/d", "true"], "--perms takes an octal argument <= 07777"),
        (&["--chmod", "10000", "/x", "true"], "--chmod takes an octal argument <= 07777"),
        (&["--perms", "0700", "--bind", "/", "/", "true"], "--perms must be followed by an option that creates a file"),
        (&["--size", "1", "--dir", "/d", "true"], "--size must be followed by --tmpfs"),
        (&["--size", "0", "--tmpfs", "/t", "true"], "--size takes a non-zero number of bytes"),
        (&["--size", "9223372036854775808", "--tmpfs", "/t"], "--size (for tmpfs) is limited to 9223372036854775807"),
        (&["--perms", "1", "--perms", "2"], "--perms given twice for the same action"),
        (&["--overlay-src", "/a", "true"], "--overlay-src must be followed by another --overlay-src or one of --overlay, --tmp-overlay, or --ro-overlay"),
        (&["--tmp-overlay", "/a", "true"], "--tmp-overlay requires at least one --overlay-src"),
        (&["--cap-add", "CAP_FOO", "true"], "unknown cap: CAP_FOO"),
        (&["--argv0", "a", "--argv0", "b", "true"], "--argv0 used multiple times"),
        (&["--exec-label", "x", "true"], "labeling not supported on this system"),
        (&["--setenv", "A=B", "1", "true"], "setenv failed"),
        (&["--args", "99999", "true"], "Can't read --args data: Bad file descriptor"),
        (&["--add-seccomp-fd", "99999", "true"], "Can't read seccomp data: Bad file descriptor"),
        (&["--seccomp", "3", "--add-seccomp-fd", "3"], "--add-seccomp-fd cannot be combined with --seccomp"),
        (&["--userns-block-fd", "3"], "--userns-block-fd requires --unshare-user"),
        (&["--userns", "3", "--unshare-user"], "--userns is not compatible with --unshare-user"),
        (&["--chdir", "/a", "--chdir", "/b", "--uid", "x"], "Invalid uid: x"),
    ];
    assert!(cases.len() >= 30);
    for (args, msg) in cases {
        if args.contains(&"--exec-label")
            && std::path::Path::new("/sys/fs/selinux/enforce").exists()
        {
            continue; // SELinux enabled: labels are accepted (not on these VMs).
        }
        let out = run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let stderr = text(&out.stderr);
        let errors: Vec<&str> =
            stderr.lines().filter(|l| !l.starts_with("bwrap: Only the last ")).collect();
        assert_eq!(errors, [format!("bwrap: {msg}")], "{args:?}: {stderr}");
    }
}

#[test]
fn warnings_come_before_the_error() {
    let out = run(&["--chdir", "/a", "--chdir", "/b", "--uid", "x"]);
    assert_eq!(
        text(&out.stderr),
        "bwrap: Only the last --chdir option will take effect\nbwrap: Invalid uid: x\n"
    );
}

#[test]
fn level_prefix() {
    let out = run(&["--level-prefix", "--foo"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "<3>bwrap: Unknown option --foo\n");
    let out = run(&["--chdir", "a", "--level-prefix", "--chdir", "b", "--tmpfs"]);
    assert_eq!(
        text(&out.stderr),
        "<4>bwrap: Only the last --chdir option will take effect\n<3>bwrap: --tmpfs takes an argument\n"
    );
    // Only from where it appears.
    let out = run(&["--foo", "--level-prefix"]);
    assert_eq!(text(&out.stderr), "bwrap: Unknown option --foo\n");
}

#[test]
fn args_fd_from_stdin() {
    let path = std::env::temp_dir().join(format!("nestwrap-cli-args-{}", std::process::id()));
    std::fs::write(&path, b"--chdir\0/x\0--bogus\0").unwrap();
    let file = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let out = Command::new(bin()).args(["--args", "0", "true"]).stdin(file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "bwrap: Unknown option --bogus\n");
}
