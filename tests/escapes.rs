//! "Never weaker than bwrap" (issue 15 A and B): attacks from inside the
//! sandbox, tried step by step, against nestwrap and bubblewrap 0.13.1.
//!
//! - A: under the parent-/proc fallback COMMAND sees processes outside the
//!   sandbox. For every one of them it tries `/proc/PID/{root,cwd,mem (rw),
//!   environ,fd/*,map_files}`, ptrace, `kill`, `pidfd_open` +
//!   `pidfd_send_signal` and a signal through a `/proc/PID` directory fd: all
//!   must be refused, while the same probes on a process inside succeed.
//!   Triggers: a caller whose user namespace holds CAP_SYS_ADMIN under locked
//!   masks (seed-style nesting), `--userns FD`, and the plain case (nestwrap's
//!   own user namespace). bwrap 0.13.1 refuses all three command lines.
//! - B: `--dev` plus added capabilities must not let COMMAND undo the mount
//!   policy where bwrap runs COMMAND in a second user namespace. A matrix of
//!   id options x capabilities x attack steps; every step that fails under
//!   0.13.1 must fail under nestwrap, and nestwrap runs COMMAND wherever
//!   0.13.1 does.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::util::hostile::*;
use crate::util::*;

/// Inside the sandbox: walk /proc and try to reach every process.
/// Prints one line per pid: `pid=P where=inside|outside CHECK=RESULT...`,
/// where RESULT is `ok`, an errno name, or `n/a` (a by-number operation whose
/// number names a process inside our pid namespace, so it proves nothing
/// about the outside one), then `control=` for the inside child and `done`.
const PROC_REACH_PY: &str = r#"
import ctypes, errno, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
def nspid(p):
    try:
        for l in open("/proc/%s/status" % p):
            if l.startswith("NSpid:"):
                return l.split()[1:]
    except OSError:
        return None
me = nspid("self")
r, w = os.pipe()
child = os.fork()
if child == 0:
    os.close(r); os.close(w)
    while True:
        time.sleep(1)
os.close(w)
def sysc(nr, *a):
    res = libc.syscall(nr, *a)
    if res < 0:
        raise OSError(ctypes.get_errno(), "")
    return res
def tryit(f):
    try:
        f()
        return "ok"
    except Empty:
        return "empty"
    except OSError as ex:
        return errno.errorcode.get(ex.errno, str(ex.errno))
# An exiting process has no files and no memory left: an empty listing
# reaches nothing, so only a non-empty one counts.
class Empty(OSError):
    def __init__(self):
        OSError.__init__(self, 0, "empty")
def nonempty(entries):
    if not entries:
        raise Empty()
    return entries
def fds(p):
    for n in nonempty(os.listdir("/proc/%d/fd" % p)):
        os.close(os.open("/proc/%d/fd/%s" % (p, n), os.O_PATH))
def pidfd(p):
    fd = sysc(434, p, 0)
    try:
        sysc(424, fd, 0, 0, 0)
    finally:
        os.close(fd)
def procfd_signal(p):
    fd = os.open("/proc/%d" % p, os.O_DIRECTORY | os.O_RDONLY)
    try:
        sysc(424, fd, 0, 0, 0)
    finally:
        os.close(fd)
def checks(p):
    return [
        ("root", lambda: os.listdir("/proc/%d/root/" % p)),
        ("cwd", lambda: os.listdir("/proc/%d/cwd/" % p)),
        ("mem", lambda: os.close(os.open("/proc/%d/mem" % p, os.O_RDWR))),
        ("environ", lambda: open("/proc/%d/environ" % p, "rb").read()),
        ("fd", lambda: fds(p)),
        ("map_files", lambda: nonempty(os.listdir("/proc/%d/map_files" % p))),
        ("procfd_signal", lambda: procfd_signal(p)),
    ]
by_number = [
    ("ptrace", lambda p: sysc(101, 0x4206, p, 0, 0)),  # PTRACE_SEIZE
    ("kill", lambda p: os.kill(p, 0)),
    ("pidfd", pidfd),
]
pids = sorted(int(x) for x in os.listdir("/proc") if x.isdigit())
infos = {p: nspid(p) for p in pids}
inside_numbers = set(int(ns[-1]) for ns in infos.values() if ns and len(ns) == len(me))
for p in pids:
    ns = infos[p]
    if ns is None or p == int(me[0]):
        continue
    res = [(k, tryit(f)) for k, f in checks(p)]
    # Inside means in the sandbox's pid namespace: a /proc/PID directory fd
    # then names a process we can signal (EINVAL for any other namespace;
    # another sandbox's process may have the same NSpid depth and number).
    inside = dict(res)["procfd_signal"] == "ok"
    for k, f in by_number:
        if not inside and p in inside_numbers:
            res.append((k, "n/a"))
        else:
            res.append((k, tryit(lambda: f(p if not inside else int(ns[-1])))))
    # Kernel threads (no memory, no files) and processes that exited while
    # we probed prove nothing either way.
    try:
        status = open("/proc/%d/status" % p).read()
    except OSError:
        continue
    if "\nKthread:\t1" in status or "\nState:\tZ" in status or "\nState:\tX" in status:
        continue
    tag = "control" if inside and int(ns[-1]) == child else ("inside" if inside else "outside")
    print("pid=%d where=%s %s" % (p, tag, " ".join("%s=%s" % kv for kv in res)))
os.kill(child, 9)
print("done")
"#;

const CHECKS: [&str; 10] = [
    "root",
    "cwd",
    "mem",
    "environ",
    "fd",
    "map_files",
    "procfd_signal",
    "ptrace",
    "kill",
    "pidfd",
];

/// Parse the probe's output and check it: every outside process refused
/// everything, the control allowed everything, COMMAND ran to the end.
fn assert_isolated(what: &str, o: &Outcome) {
    assert!(
        o.status == 0 && o.stdout.lines().any(|l| l == "done"),
        "{what}: COMMAND did not run:\n{}",
        o
    );
    assert!(
        o.stderr.contains("parent-bind fallback"),
        "{what}: the parent-/proc fallback was not taken, the test proves nothing:\n{}",
        o
    );
    let mut outside = 0;
    let mut control = 0;
    for line in o.stdout.lines().filter(|l| l.starts_with("pid=")) {
        let fields: BTreeMap<&str, &str> =
            line.split(' ').filter_map(|f| f.split_once('=')).collect();
        match fields["where"] {
            "outside" => {
                outside += 1;
                for c in CHECKS {
                    assert_ne!(
                        fields[c], "ok",
                        "{what}: COMMAND reached a process outside the sandbox ({c}): {line}\n{}",
                        o
                    );
                }
            }
            "control" => {
                control += 1;
                for c in CHECKS {
                    assert_eq!(
                        fields[c], "ok",
                        "{what}: the control inside the sandbox was refused {c}: {line}"
                    );
                }
            }
            _ => {}
        }
    }
    assert!(outside > 0, "{what}: no process outside was visible:\n{}", o);
    assert_eq!(control, 1, "{what}: the control process was not seen:\n{}", o);
}

/// The sandbox the attacker runs in (the issue's command line).
fn attack_args(t: &TestDir, script: &str) -> Vec<String> {
    let hidden = t.mkdir("hidden");
    t.write("hidden/secret", "host-only\n");
    [
        "--json-status-fd",
        "9",
        "--ro-bind",
        "/",
        "/",
        "--tmpfs",
        &hidden,
        "--tmpfs",
        "/tmp",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--unshare-pid",
        "--unshare-net",
        "--cap-drop",
        "ALL",
        "/usr/bin/python3",
        script,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Run `binary` for trigger `trigger` as `as_`: returns the outcome.
fn run_trigger(trigger: &str, as_: As, binary: &std::path::Path, t: &TestDir) -> Outcome {
    let script = t.write("reach.py", PROC_REACH_PY);
    let args = attack_args(t, &script);
    let rig = in_rig(Rig::Masked, as_).env("NW", binary).read_fd(9);
    match trigger {
        // Seed-style nesting: a user namespace with CAP_SYS_ADMIN below the
        // masks, so nestwrap makes no user namespace of its own.
        "container-root" => rig
            .wrap_more(["unshare", "-Urm", "--propagation", "private"])
            .program(binary)
            .args(args)
            .run(),
        // A caller's user namespace, shared with a process outside.
        "userns-fd" => {
            let script = r#"unshare -Ur sleep 60 & p=$!
                i=0; while [ "$(readlink /proc/$p/ns/user)" = "$(readlink /proc/self/ns/user)" ]; do
                    i=$((i+1)); [ $i -gt 500 ] && exit 97; sleep 0.01; done
                "$NW" --userns 5 "$@" 5</proc/$p/ns/user; r=$?; kill $p; exit $r"#;
            rig.program("sh").args(["-c", script, "sh"]).args(args).run()
        }
        // nestwrap's own user namespace (implicit for the test user).
        "own-userns" => rig.program(binary).arg("--unshare-user").args(args).run(),
        _ => unreachable!(),
    }
}

const TRIGGERS: [&str; 3] = ["container-root", "userns-fd", "own-userns"];

#[test]
fn parent_proc_fallback_never_reaches_outside_processes() {
    if nestwrap_only("masked-proc-fallback") {
        return;
    }
    for as_ in [As::Root, As::User] {
        if !require_rig(as_) {
            continue;
        }
        for trigger in TRIGGERS {
            let t = TestDir::new();
            let o = run_trigger(trigger, as_, binary(), &t);
            assert_isolated(&format!("{trigger} as {as_:?}"), &o);
            // The extra namespace is recorded where it was needed.
            let json = String::from_utf8_lossy(&o.fds[&9]).into_owned();
            let line = command_pid_line(&json).unwrap_or_default();
            assert!(line.contains(r#""proc":"parent-bind""#), "{trigger}: {json}");
            assert_eq!(
                line.contains(r#""proc-isolation":"userns""#),
                trigger != "own-userns",
                "{trigger} as {as_:?}: {json}"
            );
            // The reference refuses the same command line: nestwrap keeps it
            // working instead, so isolation is what keeps it no weaker.
            if let Some(reference) = require_reference("parent-/proc fallback comparison") {
                let r = run_trigger(trigger, as_, reference, &t);
                assert!(
                    r.status != 0 && !r.stdout.lines().any(|l| l == "done"),
                    "{trigger} as {as_:?}: bubblewrap 0.13.1 ran COMMAND:\n{}",
                    r
                );
                assert!(
                    r.stderr.contains("Can't mount proc on /proc"),
                    "{trigger} as {as_:?}: bubblewrap 0.13.1 failed otherwise:\n{}",
                    r
                );
            }
        }
    }
}

/// The monitor is not dumpable: a process of the same uid and user namespace
/// without capabilities cannot read its environment (a dumpable process of
/// that uid can: the control).
#[test]
fn monitor_is_not_dumpable() {
    if nestwrap_only("masked-proc-fallback") {
        return;
    }
    both(|as_| {
        let id = ident(as_);
        // The caller as is, or (`capless`) without any capability.
        let as_user = |program: &str, capless: bool| {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={}", id.uid))
                .arg(format!("--regid={}", id.gid))
                .arg("--clear-groups");
            if capless {
                c.args(["--inh-caps=-all", "--bounding-set=-all"]);
            }
            c.arg("--").arg(program).env_clear().env("PATH", PATH).stdin(Stdio::null());
            c
        };
        let mut sandbox = as_user(binary().to_str().unwrap(), false);
        sandbox
            .args(["--ro-bind", "/", "/", "--unshare-pid", "sh", "-c", "echo ready; exec sleep 30"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut monitor = sandbox.spawn().expect("spawn nestwrap");
        let mut line = String::new();
        BufReader::new(monitor.stdout.take().unwrap()).read_line(&mut line).unwrap();
        if line.trim() != "ready" {
            kill_tree(monitor.id() as i32);
            let out = monitor.wait_with_output().unwrap();
            panic!("{as_:?}: the sandbox did not start: {}", String::from_utf8_lossy(&out.stderr));
        }
        // Read only once it runs: before its exec, setpriv's own credential
        // change leaves it non-dumpable.
        let mut control = as_user("sh", true)
            .args(["-c", "echo ready; exec sleep 30"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn control");
        let mut ready = String::new();
        BufReader::new(control.stdout.take().unwrap()).read_line(&mut ready).unwrap();
        let read = |pid: u32| {
            as_user("cat", true)
                .arg(format!("/proc/{pid}/environ"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap()
                .success()
        };
        let (monitor_readable, control_readable) = (read(monitor.id()), read(control.id()));
        // The monitor with its sandbox (killed alone, the pid namespace's
        // init would keep `sleep 30` running after the test).
        kill_tree(monitor.id() as i32);
        let _ = control.kill();
        let _ = monitor.wait();
        let _ = control.wait();
        assert!(control_readable, "{as_:?}: the control (a dumpable process) was not readable");
        assert!(!monitor_readable, "{as_:?}: the monitor's /proc/PID/environ was readable");
    });
}

// ---------------------------------------------------------------------------
// B: mount power with --dev and added capabilities

/// Inside the sandbox: each attack step, one `step=result` line.
const MOUNT_POWER_PY: &str = r#"
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
hidden = sys.argv[1]
def res(r):
    return "ok" if r == 0 else errno.errorcode.get(ctypes.get_errno(), "?")
MS_RDONLY, MS_REMOUNT, MS_BIND, MNT_DETACH = 1, 32, 4096, 2
print("ran=1")
print("umount=" + res(libc.umount2(hidden.encode(), MNT_DETACH)))
print("hidden_visible=%s" % os.path.exists(hidden + "/secret"))
print("remount_rw=" + res(libc.mount(None, b"/tmp/ro", None, MS_REMOUNT | MS_BIND, None)))
try:
    with open("/tmp/ro/f", "w") as f:
        f.write("changed\n")
    print("write=ok")
except OSError as e:
    print("write=" + errno.errorcode.get(e.errno, "?"))
os.makedirs("/tmp/over", exist_ok=True)
print("mount_over=" + res(libc.mount(b"tmpfs", b"/tmp/over", b"tmpfs", 0, None)))
print("umount_root=" + res(libc.umount2(b"/", MNT_DETACH)))
try:
    os.makedirs("/tmp/esc", exist_ok=True)
    os.chroot("/tmp/esc")
    for _ in range(64):
        os.chdir("..")
    os.chroot(".")
    print("chroot_out=%s" % os.path.exists(hidden + "/secret"))
except OSError as e:
    print("chroot_out=" + errno.errorcode.get(e.errno, "?"))
"#;

const STEPS: [&str; 8] = [
    "umount",
    "hidden_visible",
    "remount_rw",
    "write",
    "mount_over",
    "umount_root",
    "chroot_out",
    "host_changed",
];

/// What an attacker achieved in one run: step -> result ("ok"/"True" = the
/// step worked).
fn attack(
    program: &std::path::Path,
    as_: As,
    ids: &[&str],
    caps: &[&str],
) -> (Outcome, BTreeMap<String, String>) {
    let t = TestDir::new();
    let hidden = t.mkdir("hidden");
    t.write("hidden/secret", "host-only\n");
    let rw = t.mkdir("rw");
    let f = t.write("rw/f", "orig\n");
    let script = t.write("power.py", MOUNT_POWER_PY);
    let mut s = Sandbox::new(as_);
    if as_ == As::Root {
        s = s.wrap(["unshare", "-m", "--propagation", "private"]);
    }
    let o = s
        .program(program)
        .args(["--ro-bind", "/", "/", "--tmpfs", &hidden, "--tmpfs", "/tmp"])
        .args(["--ro-bind", &rw, "/tmp/ro", "--unshare-all", "--unshare-user", "--die-with-parent"])
        .args(ids)
        .args(caps)
        .args(["/usr/bin/python3", &script, &hidden])
        .run();
    let mut steps: BTreeMap<String, String> = o
        .stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let changed = std::fs::read_to_string(&f).unwrap() != "orig\n";
    steps.insert("host_changed".into(), if changed { "True" } else { "False" }.into());
    (o, steps)
}

fn worked(v: Option<&String>) -> bool {
    matches!(v.map(String::as_str), Some("ok") | Some("True"))
}

#[test]
fn dev_with_capabilities_never_beats_bwrap() {
    let ids: [(&str, &[&str]); 5] = [
        ("no --dev", &[]),
        ("--dev", &["--dev", "/dev"]),
        ("--dev --uid 0", &["--dev", "/dev", "--uid", "0"]),
        ("--dev --uid 0 --gid 0", &["--dev", "/dev", "--uid", "0", "--gid", "0"]),
        ("--uid 1234", &["--uid", "1234"]),
    ];
    let caps: [(&str, &[&str]); 3] = [
        ("no caps", &[]),
        ("CAP_SYS_ADMIN", &["--cap-add", "CAP_SYS_ADMIN"]),
        ("ALL", &["--cap-add", "ALL"]),
    ];
    let Some(reference) = require_reference("--dev capability matrix") else { return };
    both(|as_| {
        let mut table = String::new();
        let mut weaker = Vec::new();
        let mut ran_both = 0;
        for (id_name, id_args) in ids {
            for (cap_name, cap_args) in caps {
                let (no, nw) = attack(binary(), as_, id_args, cap_args);
                let (bo, bw) = attack(reference, as_, id_args, cap_args);
                let cell = format!("{as_:?} {id_name} + {cap_name}");
                let row: Vec<String> = STEPS
                    .iter()
                    .map(|s| {
                        format!(
                            "{s}={}/{}",
                            nw.get(*s).map_or("-", String::as_str),
                            bw.get(*s).map_or("-", String::as_str)
                        )
                    })
                    .collect();
                table.push_str(&format!("{cell}: {}\n", row.join(" ")));
                if bw.contains_key("ran") && nw.contains_key("ran") {
                    ran_both += 1;
                }
                if bw.contains_key("ran") && !nw.contains_key("ran") {
                    weaker.push(format!("{cell}: bwrap ran COMMAND, nestwrap did not:\n{}", no));
                }
                for s in STEPS {
                    if worked(nw.get(s)) && !worked(bw.get(s)) {
                        weaker.push(format!(
                            "{cell}: step {s} worked under nestwrap ({}) but not under bwrap 0.13.1 ({})\n{}\n{}",
                            nw[s],
                            bw.get(s).map_or("-", String::as_str),
                            no,
                            bo
                        ));
                    }
                }
            }
        }
        eprintln!("nestwrap/bwrap 0.13.1 per step:\n{table}");
        // Every cell of this matrix runs COMMAND under bwrap 0.13.1; a cell
        // that ran nothing would prove nothing.
        assert_eq!(ran_both, ids.len() * caps.len(), "cells that ran under both:\n{table}");
        assert!(weaker.is_empty(), "nestwrap gave COMMAND more power:\n{}", weaker.join("\n"));
    });
}
