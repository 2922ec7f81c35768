//! Issue 18: `--scope-abstract-unix-sockets` and `--scope-signals` (Landlock
//! scopes, ABI 6) keep a sandbox that shares the network or the pid namespace
//! away from the host's abstract unix sockets and processes.
//!
//! The processes "outside" are started by the test as the same uid as the
//! sandbox's caller (root, or the test user through `setpriv`), in the test
//! machine's network namespace, which a sandbox without `--unshare-net`
//! shares. Every refusal has a control: the same run without the option
//! reaches them.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::util::hostile::*;
use crate::util::*;

const PYTHON: &str = "/usr/bin/python3";

/// Listens on the abstract stream socket `@NAME` and binds the abstract
/// datagram socket `@NAME.dgram`; with a second argument PATH, also a stream
/// socket at PATH and a TCP listener on 127.0.0.1. Prints `ready PORT`.
const LISTENER_PY: &str = r#"
import socket, sys, time
name = sys.argv[1]
a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); a.bind("\0" + name); a.listen(64)
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d.bind("\0" + name + ".dgram")
port = 0
if len(sys.argv) > 2:
    p = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); p.bind(sys.argv[2]); p.listen(64)
    t = socket.socket(); t.bind(("127.0.0.1", 0)); t.listen(64); port = t.getsockname()[1]
print("ready", port, flush=True)
time.sleep(300)
"#;

/// A name no other test (or test process) uses.
fn unique(what: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("nestwrap-test-{what}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A process outside every sandbox, run as the uid `as_` stands for, killed
/// on drop. `start` returns once it printed its first line.
struct Outside {
    child: Child,
    first_line: String,
}

impl Outside {
    fn start(as_: As, argv: &[&str]) -> Outside {
        let id = ident(as_);
        let mut c = if as_ == As::User && is_root() {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={}", id.uid))
                .arg(format!("--regid={}", id.gid))
                .arg("--clear-groups")
                .arg("--")
                .args(argv);
            c
        } else {
            let mut c = Command::new(argv[0]);
            c.args(&argv[1..]);
            c
        };
        c.env_clear().env("PATH", PATH).current_dir("/");
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = c.spawn().unwrap_or_else(|e| panic!("spawn {argv:?}: {e}"));
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first_line).unwrap();
        assert!(first_line.starts_with("ready"), "{argv:?} did not start: {first_line:?}");
        Outside { child, first_line }
    }

    /// A `sleep` (the pid is the sleep's: `sh` execs it).
    fn sleeper(as_: As) -> Outside {
        Outside::start(as_, &["sh", "-c", "echo ready; exec sleep 300"])
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Whether it ended (by any cause) within `limit`.
    fn ends_within(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        loop {
            if self.child.try_wait().unwrap().is_some() {
                return true;
            }
            if start.elapsed() > limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn scope_arg(scoped: bool, opt: &'static str) -> Vec<&'static str> {
    if scoped {
        vec![opt]
    } else {
        vec![]
    }
}

fn json_line(o: &Outcome) -> String {
    let json = String::from_utf8_lossy(&o.fds[&3]).into_owned();
    command_pid_line(&json).unwrap_or_else(|| panic!("no command-pid line in {json:?}\n{o}"))
}

// ---- abstract unix sockets -----------------------------------------------------

/// An abstract listener outside (stream and datagram) is unreachable with the
/// option (the kernel's EPERM for connect and sendto) and reachable without;
/// sockets made inside stay reachable inside, whichever process is the
/// sandbox's last (COMMAND alone, the pid-1 reaper's child, `--as-pid-1`).
#[test]
fn abstract_sockets_outside_are_out_of_reach() {
    if nestwrap_only("extension --scope-abstract-unix-sockets, --scope-signals") {
        return;
    }
    both(|as_| {
        let name = unique("abstract");
        let _listener = Outside::start(as_, &[PYTHON, "-c", LISTENER_PY, &name]);
        let shapes: [&[&str]; 3] = [&[], &["--unshare-pid"], &["--unshare-pid", "--as-pid-1"]];
        for scoped in [false, true] {
            for shape in shapes {
                let inside = unique("inside");
                let o = Sandbox::new(as_)
                    .args(["--ro-bind", "/", "/", "--dev", "/dev", "--json-status-fd", "3"])
                    .args(shape)
                    .args(scope_arg(scoped, "--scope-abstract-unix-sockets"))
                    .read_fd(3)
                    .probe(["--connect-abstract", &name])
                    .args(["--sendto-abstract", &format!("{name}.dgram")])
                    .args(["--abstract-inside", &inside])
                    .run();
                o.ok();
                let want = if scoped { "EPERM" } else { "ok" };
                assert_eq!(o.fact(&format!("connect.@{name}")), want, "{shape:?}\n{o}");
                assert_eq!(o.fact(&format!("sendto.@{name}.dgram")), want, "{shape:?}\n{o}");
                assert_eq!(o.fact(&format!("inside.@{inside}")), "ok", "{shape:?}\n{o}");
                let line = json_line(&o);
                assert_eq!(
                    line.contains(r#""landlock-scopes":["abstract-unix-sockets"]"#),
                    scoped,
                    "{line}\n{o}"
                );
            }
        }
    });
}

// ---- signals ---------------------------------------------------------------------

/// Without `--unshare-pid` the pid of a process outside (same uid) is visible
/// and, without the option, killable; with `--scope-signals` kill(2) gets
/// EPERM and the process lives on.
#[test]
fn signals_to_visible_outside_process_refused() {
    if nestwrap_only("extension --scope-abstract-unix-sockets, --scope-signals") {
        return;
    }
    both(|as_| {
        for scoped in [false, true] {
            let mut target = Outside::sleeper(as_);
            let pid = target.pid();
            let comm = format!("/proc/{pid}/comm");
            let o = Sandbox::new(as_)
                .args(["--ro-bind", "/", "/", "--json-status-fd", "3"])
                .args(scope_arg(scoped, "--scope-signals"))
                .read_fd(3)
                .probe(["--kill", &pid, "15", &comm])
                .run();
            o.ok();
            assert_eq!(o.fact(&format!("content.{comm}")), "sleep\\n", "pid visible\n{o}");
            if scoped {
                assert_eq!(o.fact(&format!("kill.{pid}")), "EPERM", "{o}");
                assert!(!target.ends_within(Duration::from_millis(300)), "target died\n{o}");
                assert!(json_line(&o).contains(r#""landlock-scopes":["signals"]"#), "{o}");
            } else {
                assert_eq!(o.fact(&format!("kill.{pid}")), "ok", "control\n{o}");
                assert!(target.ends_within(Duration::from_secs(10)), "control: target lives\n{o}");
            }
        }
    });
}

/// Run in a new session (so that the harness's process group is never hit):
/// a `sleep` outside, the shell and nestwrap ignoring SIGTERM; in the
/// sandbox, read the sleep's /proc/PID/comm (before anything can kill it),
/// then the probe tries kill(PID) and kill(0) (its process group, which
/// without --new-session is the caller's). Prints `target=143` when the
/// sleep died of SIGTERM, `target=137` when it lived until SIGKILL.
const PGRP_SH: &str = r#"nw=$1 probe=$2; shift 2
sleep 300 & t=$!
trap '' TERM
"$nw" "$@" sh -c 'echo "comm=$(cat /proc/$1/comm)"; exec "$2" --kill "$1" 15 --kill 0 15' \
    sh "$t" "$probe"
echo nestwrap=$?
sleep 0.3
kill -KILL "$t" 2>/dev/null
wait "$t"; echo target=$?
"#;

/// Under the parent-/proc fallback (masked /proc) with `--unshare-pid`, the
/// outside process shows in /proc but kill(PID) names the sandbox's own pid
/// namespace (ESRCH); kill(0, ...) still reaches the caller's process group
/// across the pid namespace, and only `--scope-signals` stops it there.
#[test]
fn signals_across_pid_namespace_under_parent_proc_fallback() {
    if nestwrap_only("extension --scope-abstract-unix-sockets, --scope-signals") {
        return;
    }
    for as_ in [As::User, As::Root] {
        if !require_rig(as_) {
            continue;
        }
        for scoped in [false, true] {
            let mut args = vec!["--ro-bind", "/", "/", "--unshare-all"];
            if as_ == As::Root {
                args.push("--unshare-user"); // so the masks apply to root too
            }
            args.extend(["--proc", "/proc", "--dev", "/dev"]);
            args.extend(scope_arg(scoped, "--scope-signals"));
            let o = in_rig(Rig::Masked, as_)
                .program("setsid")
                .args(["-w", "sh", "-c", PGRP_SH, "sh"])
                .arg(binary())
                .arg(probe())
                .args(&args)
                .run();
            assert_eq!(o.status, 0, "{o}");
            assert!(o.stderr.contains("parent-bind"), "not the parent-/proc fallback\n{o}");
            let facts = o.facts();
            assert_eq!(o.fact("comm"), "sleep", "pid not visible\n{o}");
            let by_pid = facts.iter().find(|(k, _)| k.starts_with("kill.") && *k != "kill.0");
            assert_eq!(by_pid.map(|(_, v)| v.as_str()), Some("ESRCH"), "{o}");
            assert_eq!(o.fact("nestwrap"), "0", "{o}");
            // kill(0) succeeds either way: the probe itself is in the group.
            assert_eq!(o.fact("kill.0"), "ok", "{o}");
            let want = if scoped { "137" } else { "143" };
            assert_eq!(o.fact("target"), want, "scoped={scoped}\n{o}");
        }
    }
}

/// Inside, signals still work: COMMAND to its own child, COMMAND to its
/// pid-1 reaper (kill -0 1), under --as-pid-1 to itself; the parent outside
/// (the monitor, without a pid namespace) is refused, and reachable without
/// the option.
#[test]
fn signals_inside_still_work() {
    if nestwrap_only("extension --scope-abstract-unix-sockets, --scope-signals") {
        return;
    }
    both(|as_| {
        let base = ["--ro-bind", "/", "/", "--dev", "/dev"];
        let kids = "sleep 30 & kill $!; wait $!; echo child=$?; kill -0 1; echo pid1=$?";
        for shape in [&["--unshare-pid"][..], &["--unshare-pid", "--as-pid-1"]] {
            let o = Sandbox::new(as_)
                .args(base)
                .args(shape)
                .args(["--scope-signals", "sh", "-c", kids])
                .run();
            o.ok();
            assert_eq!(o.stdout, "child=143\npid1=0\n", "{shape:?}\n{o}");
        }
        for scoped in [false, true] {
            let o = Sandbox::new(as_)
                .args(base)
                .args(scope_arg(scoped, "--scope-signals"))
                .args([
                    "sh",
                    "-c",
                    "sleep 30 & kill $!; wait $!; echo child=$?; kill -0 $PPID; echo parent=$?",
                ])
                .run();
            let parent = if scoped { 1 } else { 0 };
            assert_eq!(o.stdout, format!("child=143\nparent={parent}\n"), "{o}");
        }
    });
}

// ---- unavailable, and a caller's seccomp ---------------------------------------

/// No Landlock (ENOSYS) or Landlock disabled (EOPNOTSUPP): one bwrap: line
/// naming the requirement, COMMAND never runs. Without the options the
/// same filter is harmless (control).
#[test]
fn unavailable_landlock_fails_before_command() {
    if nestwrap_only("extension --scope-abstract-unix-sockets, --scope-signals") {
        return;
    }
    let cases = [
        (Seccomp::LandlockEnosys, "landlock_create_ruleset: Function not implemented"),
        (
            Seccomp::LandlockEopnotsupp,
            "Landlock is disabled on this system (it must be in the lsm= boot parameter): \
             Operation not supported",
        ),
    ];
    for as_ in [As::User, As::Root] {
        if !require_seccomp(as_) {
            continue;
        }
        for (filter, why) in cases {
            let run = |opts: &[&str]| {
                under_seccomp(filter, as_)
                    .args(["--ro-bind", "/", "/"])
                    .args(opts)
                    .args(["sh", "-c", "echo ran"])
                    .run()
            };
            let o = run(&["--scope-signals"]);
            o.fails_with(&format!(
                "bwrap: --scope-signals: needs Landlock ABI 6 or later (Linux 6.12): {why}"
            ));
            assert_eq!(o.stdout, "", "COMMAND ran\n{o}");
            let o = run(&["--scope-abstract-unix-sockets"]);
            o.fails_with(&format!(
                "bwrap: --scope-abstract-unix-sockets: needs Landlock ABI 6 or later (Linux 6.12): {why}"
            ));
            let o = run(&["--scope-signals", "--scope-abstract-unix-sockets"]);
            o.fails_with(&format!(
                "bwrap: --scope-abstract-unix-sockets and --scope-signals: need Landlock ABI 6 or \
                 later (Linux 6.12): {why}"
            ));
            assert_eq!(o.stdout, "", "COMMAND ran\n{o}");
            let o = run(&[]);
            o.ok();
            assert_eq!(o.stdout, "ran\n", "{o}");
        }
    }
}

/// The caller's own --seccomp / --add-seccomp-fd filters are installed after
/// the scopes: one that refuses every landlock_* syscall cannot get in the way
/// (and is still in force for COMMAND).
#[test]
fn caller_seccomp_refusing_landlock_does_not_get_in_the_way() {
    if nestwrap_only("extension --scope-abstract-unix-sockets, --scope-signals") {
        return;
    }
    both(|as_| {
        if !require_seccomp(as_) {
            return;
        }
        let bpf = seccomp_bpf(Seccomp::LandlockEnosys);
        let target = Outside::sleeper(as_);
        let pid = target.pid();
        for opt in ["--seccomp", "--add-seccomp-fd"] {
            let o = Sandbox::new(as_)
                .args(["--ro-bind", "/", "/", "--json-status-fd", "3", opt, "4"])
                .args(["--scope-signals", "--scope-abstract-unix-sockets"])
                .read_fd(3)
                .data_fd(4, &bpf)
                .probe(["--kill", &pid, "15"])
                .run();
            o.ok();
            assert_eq!(o.fact(&format!("kill.{pid}")), "EPERM", "{opt}\n{o}");
            assert!(
                json_line(&o).contains(r#""landlock-scopes":["abstract-unix-sockets","signals"]"#),
                "{opt}\n{o}"
            );
        }
    });
}

// ---- a real-world command line ---------------------------------------------------

/// A Flatpak-like launch with the network (`--share-net`) and an X11-style
/// abstract socket `@/tmp/.X11-unix/X<n>` opened by a listener outside: with
/// `--scope-abstract-unix-sockets` the app cannot reach it, while everything
/// else works: the X11 socket file bound in as Flatpak does, TCP to the
/// host's loopback (the shared network), abstract sockets of its own, /proc,
/// /dev. The control without the option reaches the abstract socket.
#[test]
fn flatpak_like_share_net_cannot_reach_x11_abstract_socket() {
    if nestwrap_only("extension --scope-abstract-unix-sockets, --scope-signals") {
        return;
    }
    const APP_PY: &str = r#"
import errno, os, socket, sys
name, port = sys.argv[1], int(sys.argv[2])
def attempt(key, f):
    try:
        f(); print(key + "=ok")
    except OSError as e:
        print(key + "=" + errno.errorcode.get(e.errno, str(e.errno)))
def unix(addr):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(addr); s.close()
attempt("x11.abstract", lambda: unix("\0" + name))
attempt("x11.path", lambda: unix("/tmp/.X11-unix/" + os.path.basename(name)))
attempt("tcp", lambda: socket.create_connection(("127.0.0.1", port)).close())
own = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); own.bind("\0" + name + "-own"); own.listen(1)
attempt("own.abstract", lambda: unix("\0" + name + "-own"))
print("proc=" + str(os.path.exists("/proc/self/status")))
with open("/dev/null", "w") as n: n.write("x")
print("tmp=" + str(os.access("/tmp", os.W_OK)))
"#;
    both(|as_| {
        let t = TestDir::new();
        let x11_dir = t.mkdir("X11-unix");
        let display = format!("X{}", unique("display").replace('-', ""));
        let name = format!("/tmp/.X11-unix/{display}");
        let sock_path = format!("{x11_dir}/{display}");
        let listener = Outside::start(as_, &[PYTHON, "-c", LISTENER_PY, &name, &sock_path]);
        let port = listener.first_line.split_whitespace().nth(1).unwrap().to_string();
        for scoped in [false, true] {
            let mut args: Vec<&str> = vec![
                "--ro-bind",
                "/usr",
                "/usr",
                "--symlink",
                "usr/lib",
                "/lib",
                "--symlink",
                "usr/lib64",
                "/lib64",
                "--symlink",
                "usr/bin",
                "/bin",
                "--symlink",
                "usr/sbin",
                "/sbin",
                "--proc",
                "/proc",
                "--dev",
                "/dev",
                "--tmpfs",
                "/tmp",
                "--bind",
                &x11_dir,
                "/tmp/.X11-unix",
                "--unshare-all",
                "--share-net",
                "--die-with-parent",
                "--json-status-fd",
                "3",
            ];
            args.extend(scope_arg(scoped, "--scope-abstract-unix-sockets"));
            let o = Sandbox::new(as_)
                .args(&args)
                .read_fd(3)
                .args([PYTHON, "-c", APP_PY, &name, &port])
                .run();
            o.ok();
            let want = if scoped { "EPERM" } else { "ok" };
            assert_eq!(o.fact("x11.abstract"), want, "scoped={scoped}\n{o}");
            for key in ["x11.path", "tcp", "own.abstract"] {
                assert_eq!(o.fact(key), "ok", "{key} scoped={scoped}\n{o}");
            }
            assert_eq!(o.fact("proc"), "True", "{o}");
            assert_eq!(o.fact("tmp"), "True", "{o}");
            if scoped {
                assert!(json_line(&o).contains(r#""landlock-scopes":["abstract-unix-sockets"]"#));
            }
        }
    });
}

/// Landlock allows 16 nested domains: sandboxes nested inside each other,
/// each asking for a scope, run 16 deep; the 17th fails before COMMAND with
/// one line that names the limit.
#[test]
fn nested_scoped_sandboxes_stop_at_landlock_limit() {
    if nestwrap_only("extension --scope-abstract-unix-sockets, --scope-signals") {
        return;
    }
    both(|as_| {
        let args = ["--ro-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "--dev", "/dev"];
        let args: Vec<&str> = args.into_iter().chain(["--scope-signals"]).collect();
        let n = nest_depth(as_, binary(), &args, 20);
        assert_eq!(n.depth, 16, "{}", n.outcome);
        assert_eq!(
            n.outcome.stderr,
            "bwrap: --scope-signals: landlock_restrict_self (16 nested Landlock domains at \
             most): Argument list too long\n",
            "{}",
            n.outcome
        );
    });
}
