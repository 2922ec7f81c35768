//! Namespaces, identity, capabilities, process control and monitoring
//! (issue 4). Every case runs as root and as the unprivileged test user
//! (`util::both`) unless it says why not. Where Debian's bwrap 0.8.0 has the
//! option, it is run as a control or compared byte for byte.
//!
//! Background runs (signals, locks, `--die-with-parent`) are spawned with the
//! local [`Bg`] helper; every process a test starts carries a unique marker in
//! its command line (`sleep 1000.<digits>`), so `pgrep -f` can prove that
//! nothing was left behind, and only those pids are ever killed.
//! Nesting depth (32 levels, ENOSPC at 33) is covered by
//! `hostile::nesting_depth_user`/`nesting_depth_root`.

use crate::util::*;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The reference bubblewrap 0.13.1 (`util::reference_bwrap()`), as a str.
fn bwrap_ref() -> &'static str {
    reference_bwrap().and_then(|p| p.to_str()).expect("reference bwrap checked by have_bwrap()")
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// Debian's bwrap is the control; missing → SKIP (panic under MUST_WORK).
fn have_bwrap() -> bool {
    require_reference("comparison with bwrap").is_some()
}

static MARKS: AtomicUsize = AtomicUsize::new(0);

/// A unique `sleep` argument: `1000.<pid><n>` (sleep accepts fractions).
fn mark() -> String {
    format!("1000.{}{:03}", std::process::id(), MARKS.fetch_add(1, Ordering::Relaxed))
}

/// Pids (as we see them) whose command line contains `pat`.
fn pgrep(pat: &str) -> Vec<i32> {
    let o = Command::new("pgrep").args(["-f", pat]).output().expect("pgrep");
    String::from_utf8_lossy(&o.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// Kill (SIGKILL) the processes a test started, found by their unique marker.
fn kill_marked(pat: &str) {
    for p in pgrep(pat) {
        // SAFETY: kill(2) on a pid whose command line carries our unique marker.
        unsafe { libc::kill(p, libc::SIGKILL) };
    }
}

/// Kills the marked processes when dropped, also when an assertion fails.
struct Reap(String);

impl Drop for Reap {
    fn drop(&mut self) {
        kill_marked(&self.0);
    }
}

/// Wait up to `t` for `f` to hold.
fn eventually(t: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + t;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Replace every run of digits by `N` (pids, inode numbers).
fn norm_numbers(s: &str) -> String {
    let mut out = String::new();
    let mut in_num = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_num {
                out.push('N');
            }
            in_num = true;
        } else {
            in_num = false;
            out.push(c);
        }
    }
    out
}

fn json_int(json: &str, key: &str) -> Option<i64> {
    let pat = format!("\"{key}\":");
    let rest = json[json.find(&pat)? + pat.len()..].trim_start();
    let end = rest.find(|c: char| !c.is_ascii_digit() && c != '-').unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn host_ns(n: &str) -> String {
    let t = std::fs::read_link(format!("/proc/self/ns/{n}")).unwrap();
    let t = t.to_string_lossy().into_owned();
    t.split_once('[').unwrap().1.trim_end_matches(']').to_string()
}

fn ns_of(pid: u32, n: &str) -> String {
    let t = std::fs::read_link(format!("/proc/{pid}/ns/{n}")).unwrap();
    let t = t.to_string_lossy().into_owned();
    t.split_once('[').unwrap().1.trim_end_matches(']').to_string()
}

fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2")
}

fn dup_high(fd: &impl AsRawFd) -> OwnedFd {
    // SAFETY: F_DUPFD_CLOEXEC on a valid fd returns a new fd or -1.
    let n = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 100) };
    assert!(n >= 0, "dup: {}", std::io::Error::last_os_error());
    // SAFETY: `n` is a fresh fd we own.
    unsafe { OwnedFd::from_raw_fd(n) }
}

/// A command run as `as_` (setpriv to the test user when the harness is root),
/// with the harness's minimal environment and `fds` installed on their numbers.
fn command_as(as_: As, program: &str, args: &[String], fds: Vec<(RawFd, OwnedFd)>) -> Command {
    let id = ident(as_);
    let mut c = if as_ == As::User && is_root() {
        user_command(&id, program.as_ref())
    } else {
        let mut c = Command::new(program);
        c.env_clear().env("HOME", &id.home).env("PATH", PATH);
        c
    };
    c.args(args).current_dir("/");
    let fds: Vec<(RawFd, OwnedFd)> = fds.into_iter().map(|(t, f)| (t, dup_high(&f))).collect();
    let maps: Vec<(RawFd, RawFd)> = fds.iter().map(|(t, f)| (*t, f.as_raw_fd())).collect();
    // SAFETY: install_fds only calls async-signal-safe dup2/fcntl and does
    // not allocate; `fds` keeps the sources open until the Command is dropped.
    unsafe {
        c.pre_exec(move || {
            let _keep = &fds;
            install_fds(&maps)
        });
    }
    c
}

/// A background run with stdout/stderr collected by threads.
struct Bg {
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
    desc: String,
}

fn collect(mut r: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let b2 = Arc::clone(&buf);
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = r.read(&mut chunk) {
            if n == 0 {
                break;
            }
            b2.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    buf
}

impl Bg {
    fn spawn(as_: As, program: &str, args: &[String], fds: Vec<(RawFd, OwnedFd)>) -> Bg {
        let mut c = command_as(as_, program, args, fds);
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let desc = format!("[{as_:?}] {program} {}", args.join(" "));
        let mut child = c.spawn().unwrap_or_else(|e| panic!("spawn {desc}: {e}"));
        drop(c);
        let out = collect(child.stdout.take().unwrap());
        let err = collect(child.stderr.take().unwrap());
        Bg { child, out, err, desc }
    }

    /// The binary under test with `args`.
    fn nw(as_: As, args: &[String], fds: Vec<(RawFd, OwnedFd)>) -> Bg {
        Bg::spawn(as_, binary().to_str().unwrap(), args, fds)
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.lock().unwrap()).into_owned()
    }

    fn wait_stdout(&self, text: &str, t: Duration) -> bool {
        eventually(t, || self.stdout().contains(text))
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Exit status (128+signal when killed); SIGKILL + panic after `t`.
    fn wait(&mut self, t: Duration) -> i32 {
        let end = Instant::now() + t;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                // Let the reader threads catch up.
                std::thread::sleep(Duration::from_millis(50));
                return st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0));
            }
            if Instant::now() > end {
                kill_tree(self.pid());
                let _ = self.child.wait();
                panic!("timeout: {self}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl std::fmt::Display for Bg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "command: {}\n--- stdout\n{}--- stderr\n{}",
            self.desc,
            self.stdout(),
            self.stderr()
        )
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // With the sandbox: a monitor killed alone leaves it running.
            kill_tree(self.pid());
            let _ = self.child.wait();
        }
    }
}

fn rb() -> Vec<String> {
    s(&["--ro-bind", "/", "/"])
}

// ---- namespaces ---------------------------------------------------------------

const NS: [&str; 7] = ["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"];

/// Each `--unshare-*` option makes exactly its namespace new (mnt always).
#[test]
fn each_unshare_option() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--unshare-ipc"], &["ipc"]),
        (&["--unshare-net"], &["net"]),
        (&["--unshare-uts"], &["uts"]),
        (&["--unshare-cgroup"], &["cgroup"]),
        (&["--unshare-cgroup-try"], &["cgroup"]),
        (&["--unshare-user"], &["user"]),
        (&["--unshare-user-try"], &["user"]),
        (&["--unshare-pid"], &["pid"]),
        (&["--unshare-all"], &["cgroup", "ipc", "net", "pid", "user", "uts"]),
        (&["--unshare-all", "--share-net"], &["cgroup", "ipc", "pid", "user", "uts"]),
        // --share-net before --unshare-all has no effect.
        (&["--share-net", "--unshare-all"], &["cgroup", "ipc", "net", "pid", "user", "uts"]),
        (&["--unshare-net", "--share-net"], &[]),
    ];
    both(|as_| {
        for (opts, new) in cases {
            let o = Sandbox::new(as_).args(rb()).args(*opts).probe::<_, &str>([]).run();
            o.ok();
            for n in NS {
                // Unprivileged callers always get a user namespace.
                let want_new = n == "mnt" || new.contains(&n) || (n == "user" && as_ == As::User);
                let inside = o.fact(&format!("ns.{n}"));
                assert_eq!(inside != host_ns(n), want_new, "{opts:?}: ns {n}\n{o}");
            }
        }
    });
}

/// `--unshare-net`: only `lo`, up, with 127.0.0.1/8; a TCP connection over it works.
#[test]
fn unshare_net_loopback_up() {
    let py = "import socket\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen()\n\
              c=socket.create_connection(s.getsockname())\nprint('connect=ok')";
    both(|as_| {
        for opts in [&["--unshare-net"][..], &["--unshare-all"][..]] {
            let o = Sandbox::new(as_)
                .args(rb())
                .args(opts)
                .args([
                    "sh",
                    "-c",
                    "ip -o -4 addr show; ip -o link show; /usr/bin/python3 -c \"$0\"",
                ])
                .arg(py)
                .run();
            o.ok();
            let addrs: Vec<&str> = o.stdout.lines().filter(|l| l.contains(" inet ")).collect();
            assert_eq!(addrs.len(), 1, "{o}");
            assert!(addrs[0].contains("lo") && addrs[0].contains("inet 127.0.0.1/8"), "{o}");
            let links: Vec<&str> = o.stdout.lines().filter(|l| l.contains("link/")).collect();
            assert_eq!(links.len(), 1, "only lo expected\n{o}");
            assert!(links[0].contains("<LOOPBACK,UP,LOWER_UP>"), "{o}");
            assert!(o.stdout.contains("connect=ok"), "{o}");
        }
    });
}

/// A helper process holding a user namespace A (uid 0 = caller), with a child
/// in a nested user namespace B and a new pid namespace P (owned by A).
/// Layout: `unshare -U -r -p -f sh -c 'sleep M1 & exec unshare -U -r sleep M2'`.
struct NsHelper {
    _bg: Bg,
    m1: String,
    m2: String,
    pid_a: u32,
    pid_b: u32,
}

impl NsHelper {
    fn start(as_: As) -> NsHelper {
        let (m1, m2) = (mark(), mark());
        let script = format!("sleep {m1} & exec unshare -U -r sleep {m2}");
        let bg = Bg::spawn(
            as_,
            "unshare",
            &s(&["-U", "-r", "-p", "-f", "--kill-child", "sh", "-c", &script]),
            vec![],
        );
        let pat1 = format!("^sleep {m1}");
        let pat2 = format!("^sleep {m2}");
        let found = eventually(Duration::from_secs(5), || {
            pgrep(&pat1).len() == 1 && pgrep(&pat2).len() == 1
        });
        assert!(found, "helper did not start\n{bg}");
        let pid_a = pgrep(&pat1)[0] as u32;
        let pid_b = pgrep(&pat2)[0] as u32;
        // The nested unshare may still be between exec and unshare(2).
        assert!(
            eventually(Duration::from_secs(5), || ns_of(pid_b, "user") != ns_of(pid_a, "user")),
            "nested user namespace not made"
        );
        NsHelper { _bg: bg, m1, m2, pid_a, pid_b }
    }

    fn open(&self, pid: u32, n: &str) -> OwnedFd {
        std::fs::File::open(format!("/proc/{pid}/ns/{n}")).expect("open ns").into()
    }
}

impl Drop for NsHelper {
    fn drop(&mut self) {
        kill_marked(&self.m1);
        kill_marked(&self.m2);
    }
}

/// `--userns FD` joins A; `--userns2 FD` then enters the nested B; `--pidns FD`
/// puts COMMAND in P. The ns fds are not consumed: COMMAND still has them.
#[test]
fn join_userns_userns2_pidns() {
    both(|as_| {
        let h = NsHelper::start(as_);
        let (ua, ub, pa) = (ns_of(h.pid_a, "user"), ns_of(h.pid_b, "user"), ns_of(h.pid_a, "pid"));
        assert_ne!(pa, host_ns("pid"));

        let o = Sandbox::new(as_)
            .args(rb())
            .args(["--userns", "5"])
            .fd(5, h.open(h.pid_a, "user"))
            .probe::<_, &str>([])
            .run();
        o.ok();
        assert_eq!(o.fact("ns.user"), ua, "--userns\n{o}");
        assert!(o.fact("fds").split(',').any(|f| f == "5"), "--userns fd closed\n{o}");

        let o = Sandbox::new(as_)
            .args(rb())
            .args(["--userns", "5", "--userns2", "6"])
            .fd(5, h.open(h.pid_a, "user"))
            .fd(6, h.open(h.pid_b, "user"))
            .probe::<_, &str>([])
            .run();
        o.ok();
        assert_eq!(o.fact("ns.user"), ub, "--userns2\n{o}");

        let o = Sandbox::new(as_)
            .args(rb())
            .args(["--userns", "5", "--pidns", "6", "--json-status-fd", "7"])
            .fd(5, h.open(h.pid_a, "user"))
            .fd(6, h.open(h.pid_a, "pid"))
            .read_fd(7)
            .probe::<_, &str>([])
            .run();
        o.ok();
        assert_eq!(o.fact("ns.pid"), pa, "--pidns\n{o}");
        assert_eq!(o.fact("ns.user"), ua, "--pidns\n{o}");
        let fds = o.fact("fds");
        assert!(fds.split(',').any(|f| f == "6"), "--pidns fd closed: {fds}\n{o}");
        // child-pid is the pid the monitor sees (SCM_CREDENTIALS hand-back): a
        // real process of ours that was in P.
        let json = String::from_utf8_lossy(&o.fds[&7]).into_owned();
        assert!(json_int(&json, "child-pid").is_some_and(|p| p > 1), "{json}");

        // With --unshare-pid as well: a new pid namespace nested in P.
        let o = Sandbox::new(as_)
            .args(rb())
            .args(["--userns", "5", "--pidns", "6", "--unshare-pid"])
            .fd(5, h.open(h.pid_a, "user"))
            .fd(6, h.open(h.pid_a, "pid"))
            .probe::<_, &str>([])
            .run();
        o.ok();
        assert_ne!(o.fact("ns.pid"), pa, "{o}");
        assert_ne!(o.fact("ns.pid"), host_ns("pid"), "{o}");
    });
}

// ---- identity -------------------------------------------------------------------

/// Zuul: `--unshare-all --uid U --gid G` with `--file` passwd and group.
#[test]
fn zuul_uid_gid_with_passwd_files() {
    both(|as_| {
        let passwd = "zuul:x:4242:4343::/home/zuul:/bin/sh\n";
        let group = "zuulg:x:4343:\n";
        let o = Sandbox::new(as_)
            .args(rb())
            .args(["--tmpfs", "/etc", "--file", "3", "/etc/passwd", "--file", "4", "/etc/group"])
            .args(["--unshare-all", "--uid", "4242", "--gid", "4343", "--hostname", "zbox"])
            .args(["sh", "-c", "id -un; id -gn; id -u; id -g; cat /proc/sys/kernel/hostname"])
            .data_fd(3, passwd.as_bytes())
            .data_fd(4, group.as_bytes())
            .run();
        o.ok();
        assert_eq!(o.stdout, "zuul\nzuulg\n4242\n4343\nzbox\n", "{o}");
    });
}

// ---- capabilities ---------------------------------------------------------------

const CAP_NET_ADMIN: u64 = 1 << 12;
const CAP_SYS_ADMIN: u64 = 1 << 21;

fn cap_facts(o: &Outcome) -> Vec<(String, u64)> {
    ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .iter()
        .map(|k| (k.to_string(), u64::from_str_radix(&o.fact(k), 16).unwrap()))
        .collect()
}

/// One capability set of the harness process itself.
fn own_cap(k: &str) -> u64 {
    let st = std::fs::read_to_string("/proc/self/status").unwrap();
    let v = st.lines().find_map(|l| l.strip_prefix(k)?.strip_prefix(':')).unwrap();
    u64::from_str_radix(v.trim(), 16).unwrap()
}

/// The harness's inherited fds without FD_CLOEXEC (whatever started
/// `cargo test` may leak some, e.g. a jobserver): COMMAND rightly gets them too.
fn inherited_fds() -> Vec<RawFd> {
    let mut v: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        // SAFETY: F_GETFD on any number is harmless.
        .filter(|&fd| fd > 2 && unsafe { libc::fcntl(fd, libc::F_GETFD) } == 0)
        .collect();
    v.sort_unstable();
    v
}

/// `0,1,2`, the harness's inherited fds except `except`, and `extra`, sorted.
fn expected_fds(except: &[RawFd], extra: &[RawFd]) -> String {
    let mut v: Vec<RawFd> = vec![0, 1, 2];
    v.extend(inherited_fds().into_iter().filter(|f| !except.contains(f)));
    v.extend_from_slice(extra);
    v.sort_unstable();
    v.dedup();
    v.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(",")
}

/// The full capability mask of this kernel.
fn all_caps() -> u64 {
    let last: u32 =
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").unwrap().trim().parse().unwrap();
    (1u64 << (last + 1)) - 1
}

#[test]
fn capabilities() {
    let all = all_caps();
    both(|as_| {
        let caps = |extra: &[&str]| {
            let o = Sandbox::new(as_).args(rb()).args(extra).probe::<_, &str>([]).run();
            o.ok();
            assert_eq!(o.fact("NoNewPrivs"), "1", "{o}");
            (cap_facts(&o), o)
        };
        let (c, o) = caps(&[]);
        match as_ {
            As::User => assert!(c.iter().all(|(_, v)| *v == 0), "{o}"),
            As::Root => {
                // The harness's own sets (a CI root may lack some capabilities).
                let m: std::collections::BTreeMap<_, _> = c.into_iter().collect();
                assert_eq!(m["CapEff"], own_cap("CapEff"), "root keeps its caps\n{o}");
                assert_eq!(m["CapBnd"], own_cap("CapBnd"), "{o}");
            }
        }
        // Inside a user namespace (the user always has one; root asks for it).
        let userns: &[&str] = if as_ == As::Root { &["--unshare-user"] } else { &[] };
        let with =
            |v: &[&'static str]| -> Vec<&'static str> { userns.iter().chain(v).copied().collect() };
        let (c, o) = caps(&with(&["--cap-add", "CAP_NET_ADMIN"]));
        let expect_net = |c: &[(String, u64)], o: &Outcome| {
            for (k, v) in c {
                assert_eq!(*v, CAP_NET_ADMIN, "{k}\n{o}");
            }
        };
        if as_ == As::User {
            expect_net(&c, &o);
        }
        let (c, o) = caps(&with(&["--cap-drop", "ALL", "--cap-add", "cap_net_admin"]));
        expect_net(&c, &o);
        let (c, o) = caps(&with(&["--cap-add", "ALL", "--cap-drop", "CAP_SYS_ADMIN"]));
        for (k, v) in c {
            assert_eq!(v, all & !CAP_SYS_ADMIN, "{k}\n{o}");
        }
        let (c, o) = caps(&["--cap-drop", "ALL"]);
        for (k, v) in &c {
            if k != "CapBnd" || as_ == As::User {
                assert_eq!(*v, 0, "{k}\n{o}");
            }
        }
    });
}

/// The capability sets COMMAND ends with are bwrap 0.8.0's for the same arguments.
#[test]
fn capabilities_match_bwrap() {
    if !have_bwrap() {
        return;
    }
    let cases: &[&[&str]] = &[
        &[],
        &["--cap-add", "CAP_NET_ADMIN"],
        &["--cap-drop", "ALL"],
        &["--cap-drop", "ALL", "--cap-add", "CAP_NET_ADMIN"],
        &["--cap-add", "ALL", "--cap-drop", "CAP_SYS_ADMIN"],
        &["--cap-drop", "CAP_SYS_ADMIN"],
        &["--unshare-user"],
        &["--unshare-user", "--cap-add", "CAP_NET_ADMIN"],
        &["--unshare-user", "--cap-drop", "ALL", "--cap-add", "CAP_SYS_ADMIN"],
        &["--unshare-user", "--uid", "0", "--cap-add", "CAP_NET_ADMIN"],
    ];
    both(|as_| {
        for case in cases {
            let run = |prog: Option<&str>| {
                let mut sb = Sandbox::new(as_).args(rb()).args(*case);
                if let Some(p) = prog {
                    sb = sb.reference(p);
                }
                sb.probe::<_, &str>([]).run()
            };
            let (b, n) = (run(Some(bwrap_ref())), run(None));
            let both_out = format!("{case:?}\nbwrap:\n{b}\nnestwrap:\n{n}");
            assert_eq!((n.status, &n.stderr), (b.status, &b.stderr), "{both_out}");
            b.ok();
            for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"] {
                assert_eq!(n.fact(k), b.fact(k), "{k} for {case:?}\nbwrap:\n{b}\nnestwrap:\n{n}");
            }
        }
    });
}

// ---- user namespace lockdown ------------------------------------------------------

#[test]
fn assert_userns_disabled() {
    both(|as_| {
        let ok = Sandbox::new(as_)
            .args(rb())
            .args(["--unshare-user", "--disable-userns", "--assert-userns-disabled"])
            .args(["sh", "-c", "unshare -U true 2>/dev/null && echo made || echo refused"])
            .run();
        ok.ok();
        assert_eq!(ok.stdout, "refused\n", "{ok}");
        let mut base = vec!["--unshare-user", "--assert-userns-disabled", "true"];
        if as_ == As::Root {
            base.remove(0);
        }
        Sandbox::new(as_)
            .args(rb())
            .args(&base)
            .run()
            .fails_with("bwrap: creation of new user namespaces was not disabled as requested");
        Sandbox::new(as_)
            .args(rb())
            .args(["--disable-userns", "true"])
            .run()
            .fails_with("bwrap: --disable-userns requires --unshare-user");
    });
}

// ---- process control --------------------------------------------------------------

#[test]
fn as_pid_1() {
    both(|as_| {
        let o = Sandbox::new(as_)
            .args(rb())
            .args(["--unshare-pid", "--as-pid-1", "--proc", "/proc"])
            .probe::<_, &str>([])
            .run();
        o.ok();
        assert_eq!(o.fact("pid"), "1", "{o}");
        assert_eq!(o.fact("proc.pids"), "1", "no reaper expected\n{o}");
        let o = Sandbox::new(as_)
            .args(rb())
            .args(["--unshare-pid", "--proc", "/proc"])
            .probe::<_, &str>([])
            .run();
        o.ok();
        assert_eq!(o.fact("pid"), "2", "{o}");
        assert_eq!(o.fact("ppid"), "1", "{o}");
        Sandbox::new(as_)
            .args(rb())
            .args(["--as-pid-1", "true"])
            .run()
            .fails_with("bwrap: Specifying --as-pid-1 requires --unshare-pid");
        Sandbox::new(as_)
            .args(rb())
            .args(["--unshare-pid", "--as-pid-1", "--lock-file", "/etc/passwd", "true"])
            .run()
            .fails_with("bwrap: Specifying --as-pid-1 and --lock-file is not permitted");
    });
}

/// Killing the caller (the parent of nestwrap) takes the whole sandbox down with
/// `--die-with-parent`; without it COMMAND survives (bwrap's behaviour).
#[test]
fn die_with_parent_kill_caller() {
    both(|as_| {
        for (dwp, pid) in [(true, false), (true, true), (false, false), (false, true)] {
            let m = mark();
            let _reap = Reap(m.clone());
            let mut args = vec![binary().to_str().unwrap().to_string()];
            args.extend(rb());
            if dwp {
                args.push("--die-with-parent".into());
            }
            if pid {
                args.push("--unshare-pid".into());
            }
            args.extend(s(&["sleep", &m]));
            let mut sh_args = s(&["-c", "\"$@\" & wait", "sh"]);
            sh_args.extend(args);
            let mut caller = Bg::spawn(as_, "sh", &sh_args, vec![]);
            let pat = format!("^sleep {m}");
            assert!(
                eventually(Duration::from_secs(5), || !pgrep(&pat).is_empty()),
                "sandbox did not start\n{caller}"
            );
            caller.signal(libc::SIGKILL);
            caller.wait(Duration::from_secs(5));
            let case = format!("die-with-parent={dwp} unshare-pid={pid}");
            if dwp {
                let gone = eventually(Duration::from_secs(3), || pgrep(&m).is_empty());
                let left = pgrep(&m);
                kill_marked(&m);
                assert!(gone, "{case}: left behind {left:?}\n{caller}");
            } else {
                std::thread::sleep(Duration::from_millis(300));
                let alive = !pgrep(&pat).is_empty();
                kill_marked(&m);
                assert!(alive, "{case}: COMMAND should survive\n{caller}");
            }
        }
    });
}

/// Zuul's check: with `--unshare-pid --die-with-parent` a background process is
/// gone as soon as nestwrap returns; without `--die-with-parent` it lingers.
#[test]
fn background_process_gone_on_return() {
    both(|as_| {
        for dwp in [true, false] {
            let m = mark();
            let _reap = Reap(m.clone());
            let mut sb = Sandbox::new(as_).args(rb()).args(["--dev", "/dev", "--unshare-pid"]);
            if dwp {
                sb = sb.arg("--die-with-parent");
            }
            let script = format!("sleep {m} >/dev/null 2>&1 </dev/null & exit 5");
            let o = sb.args(["sh", "-c", &script]).run();
            let left = pgrep(&m);
            kill_marked(&m);
            assert_eq!(o.status, 5, "{o}");
            assert_eq!(o.stderr, "", "{o}");
            if dwp {
                assert!(left.is_empty(), "still running after return: {left:?}\n{o}");
            } else {
                assert!(!left.is_empty(), "bwrap's reaper lingers with its children\n{o}");
            }
        }
    });
}

fn session_of(stat: &str) -> i64 {
    // pid (comm) state ppid pgrp session ...
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split(' ').nth(3).unwrap().parse().unwrap()
}

#[test]
fn new_session() {
    both(|as_| {
        for ns in [true, false] {
            let mut sb = Sandbox::new(as_).args(rb());
            if ns {
                sb = sb.arg("--new-session");
            }
            let o = sb.args(["sh", "-c", "echo $$; cat /proc/$$/stat"]).run();
            o.ok();
            let mut l = o.stdout.lines();
            let pid: i64 = l.next().unwrap().parse().unwrap();
            let sid = session_of(l.next().unwrap());
            assert_eq!(sid == pid, ns, "new-session={ns}\n{o}");
        }
    });
}

/// TIOCSTI under a pty (`script`): blocked for the unprivileged caller by
/// `--new-session`, allowed without it; root keeps CAP_SYS_ADMIN (allowed).
#[test]
fn new_session_blocks_tiocsti() {
    let py = "import fcntl,termios,sys\ntry:\n  fcntl.ioctl(0, termios.TIOCSTI, b'#')\n  \
              print('tiocsti=ok')\nexcept OSError as e:\n  print('tiocsti=%d' % e.errno)";
    let legacy = std::fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti").unwrap_or_default();
    if legacy.trim() == "0" {
        assert!(!must_work(), "dev.tty.legacy_tiocsti=0: TIOCSTI is off for everybody");
        eprintln!("SKIP: dev.tty.legacy_tiocsti=0");
        return;
    }
    let t = TestDir::new();
    let py_path = t.write("tiocsti.py", py);
    both(|as_| {
        for ns in [true, false] {
            let mut inner = format!("{} --ro-bind / / ", binary().display());
            if ns {
                inner.push_str("--new-session ");
            }
            inner.push_str(&format!("/usr/bin/python3 {py_path}"));
            let o = Sandbox::new(as_).program("script").args(["-qec", &inner, "/dev/null"]).run();
            let want = if ns && as_ == As::User { "tiocsti=1" } else { "tiocsti=ok" };
            assert!(o.stdout.contains(want), "new-session={ns}: want {want}\n{o}");
        }
    });
}

/// fcntl(F_GETLK) from outside: who holds a lock conflicting with a write lock.
fn lock_holder(path: &str) -> Option<(i16, i32)> {
    let f = std::fs::File::open(path).unwrap();
    // SAFETY: a zeroed flock is a valid argument.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as i16;
    fl.l_whence = libc::SEEK_SET as i16;
    // SAFETY: F_GETLK with a valid flock pointer.
    let r = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETLK, &mut fl) };
    assert_eq!(r, 0, "F_GETLK: {}", std::io::Error::last_os_error());
    (fl.l_type != libc::F_UNLCK as i16).then_some((fl.l_type, fl.l_pid))
}

#[test]
fn lock_file_held_while_running() {
    both(|as_| {
        let t = TestDir::new();
        let a = t.write("lock-a", "");
        let b = t.write("lock-b", "");
        let m = mark();
        let _reap = Reap(m.clone());
        let mut args = rb();
        args.extend(s(&["--lock-file", &a, "--lock-file", &b, "sleep", &m]));
        let mut bg = Bg::nw(as_, &args, vec![]);
        for p in [&a, &b] {
            let held = eventually(Duration::from_secs(5), || lock_holder(p).is_some());
            assert!(held, "{p} not locked\n{bg}");
            let (ty, pid) = lock_holder(p).unwrap();
            assert_eq!(ty, libc::F_RDLCK as i16, "read lock expected");
            assert_ne!(pid, bg.pid(), "the reaper holds it, not the monitor");
        }
        kill_marked(&format!("^sleep {m}"));
        let st = bg.wait(Duration::from_secs(10));
        assert_eq!(st, 137, "{bg}");
        for p in [&a, &b] {
            assert!(
                eventually(Duration::from_secs(3), || lock_holder(p).is_none()),
                "{p} still locked after the sandbox ended"
            );
        }
        // A lock file that does not exist inside is a setup error.
        Sandbox::new(as_)
            .args(rb())
            .args(["--lock-file", "/nonexistent-lock", "true"])
            .run()
            .fails_with(
                "bwrap: Unable to open lock file /nonexistent-lock: No such file or directory",
            );
    });
}

fn poll_hup(fd: &OwnedFd, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: poll on one valid pollfd.
    let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    r > 0 && (p.revents & libc::POLLHUP) != 0
}

/// Repeated `--sync-fd` (0.13.1): every fd stays open while the sandbox runs
/// and reaches EOF when it ends; COMMAND does not have them.
#[test]
fn sync_fd_repeatable() {
    both(|as_| {
        let (r1, w1) = pipe();
        let (r2, w2) = pipe();
        let m = mark();
        let _reap = Reap(m.clone());
        let mut args = rb();
        args.extend(s(&["--sync-fd", "5", "--sync-fd", "6"]));
        args.extend(s(&["sh", "-c", "ls /proc/self/fd; exec sleep \"$0\"", &m]));
        let mut bg = Bg::nw(as_, &args, vec![(5, w1), (6, w2)]);
        let pat = format!("^sleep {m}");
        assert!(eventually(Duration::from_secs(5), || !pgrep(&pat).is_empty()), "{bg}");
        assert!(!poll_hup(&r1, 100) && !poll_hup(&r2, 0), "EOF while running\n{bg}");
        kill_marked(&pat);
        assert_eq!(bg.wait(Duration::from_secs(10)), 137, "{bg}");
        assert!(poll_hup(&r1, 3000), "no EOF on first sync fd\n{bg}");
        assert!(poll_hup(&r2, 3000), "no EOF on second sync fd\n{bg}");
        let fds: Vec<String> = bg.stdout().lines().map(String::from).collect();
        assert!(!fds.iter().any(|f| f == "5" || f == "6"), "sync fds leaked: {fds:?}\n{bg}");
    });
}

/// `--block-fd`: COMMAND does not start before a byte (or EOF) arrives.
#[test]
fn block_fd() {
    both(|as_| {
        for eof in [false, true] {
            let (r, w) = pipe();
            let mut args = rb();
            args.extend(s(&["--block-fd", "5", "sh", "-c", "echo started; ls /proc/self/fd"]));
            let mut bg = Bg::nw(as_, &args, vec![(5, r)]);
            std::thread::sleep(Duration::from_millis(300));
            assert_eq!(bg.stdout(), "", "COMMAND ran before the block fd was released\n{bg}");
            let mut w = std::fs::File::from(w);
            if !eof {
                w.write_all(b"x").unwrap();
            }
            drop(w);
            assert_eq!(bg.wait(Duration::from_secs(10)), 0, "{bg}");
            let out = bg.stdout();
            assert!(out.starts_with("started\n"), "{bg}");
            assert!(!out.lines().any(|l| l == "5"), "block fd leaked\n{bg}");
        }
    });
}

/// Read from `fd` until `end` appears or EOF (5 s at most).
fn read_until(fd: OwnedFd, end: &str) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let end = end.to_string();
    std::thread::spawn(move || {
        let mut f = std::fs::File::from(fd);
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while let Ok(n) = f.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if String::from_utf8_lossy(&buf).contains(&end) {
                break;
            }
        }
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default()
}

/// `--userns-block-fd` with `--info-fd`: the caller learns child-pid, writes the
/// maps itself (newuidmap/newgidmap as the user, directly as root), releases.
#[test]
fn userns_block_fd_caller_writes_maps() {
    both(|as_| {
        let id = ident(as_);
        let (info_r, info_w) = pipe();
        let (blk_r, blk_w) = pipe();
        let mut args = rb();
        args.extend(s(&["--unshare-user", "--userns-block-fd", "5", "--info-fd", "6"]));
        args.extend(s(&["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u"]));
        let mut bg = Bg::nw(as_, &args, vec![(5, blk_r), (6, info_w)]);
        let info = read_until(info_r, "}\n");
        let pid = json_int(&info, "child-pid").unwrap_or_else(|| panic!("info: {info:?}\n{bg}"));
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(bg.stdout(), "", "COMMAND ran before release\n{bg}");
        let u = id.uid.to_string();
        if as_ == As::User {
            for (tool, g) in [("newuidmap", &u), ("newgidmap", &id.gid.to_string())] {
                let o = Sandbox::new(as_)
                    .program(tool)
                    .args([&pid.to_string(), g.as_str(), g.as_str(), "1", "0", "100000", "1"])
                    .run();
                o.ok();
            }
        } else {
            std::fs::write(format!("/proc/{pid}/uid_map"), "0 0 1\n1 100000 1\n").unwrap();
            std::fs::write(format!("/proc/{pid}/gid_map"), "0 0 1\n1 100000 1\n").unwrap();
        }
        std::fs::File::from(blk_w).write_all(b"x").unwrap();
        assert_eq!(bg.wait(Duration::from_secs(10)), 0, "{bg}");
        let mut out: Vec<String> = bg
            .stdout()
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        out.sort();
        let g = id.gid.to_string();
        let mut expect: Vec<String> = if as_ == As::User {
            vec![
                format!("{u} {u} 1"),
                format!("{g} {g} 1"),
                "0 100000 1".into(),
                "0 100000 1".into(),
            ]
        } else {
            s(&["0 0 1", "0 0 1", "1 100000 1", "1 100000 1"])
        };
        expect.push(id.uid.to_string());
        expect.sort();
        assert_eq!(out, expect, "{bg}");
    });
}

#[test]
fn argv0() {
    if skip_if_080("--argv0") {
        return;
    }
    both(|as_| {
        let o = Sandbox::new(as_)
            .args(rb())
            .args(["--argv0", "renamed", "cat", "/proc/self/cmdline"])
            .run();
        o.ok();
        assert_eq!(o.stdout, "renamed\0/proc/self/cmdline\0", "{o}");
        Sandbox::new(as_)
            .args(rb())
            .args(["--argv0", "a", "--argv0", "b", "true"])
            .run()
            .fails_with("bwrap: --argv0 used multiple times");
    });
}

#[test]
fn level_prefix() {
    if skip_if_080("--level-prefix") {
        return;
    }
    both(|as_| {
        Sandbox::new(as_)
            .args(["--level-prefix", "--bind", "/nonexistent", "/x", "true"])
            .run()
            .fails_with("<3>bwrap: Can't find source path /nonexistent: No such file or directory");
        let o = Sandbox::new(as_)
            .args(rb())
            .args(["--level-prefix", "--chdir", "/", "--chdir", "/tmp", "true"])
            .run();
        o.ok();
        assert_eq!(o.stderr, "<4>bwrap: Only the last --chdir option will take effect\n", "{o}");
        // Messages before the option are not prefixed.
        let o = Sandbox::new(as_)
            .args(rb())
            .args(["--chdir", "/", "--level-prefix", "--chdir", "/tmp", "true"])
            .run();
        o.ok();
        assert_eq!(o.stderr, "<4>bwrap: Only the last --chdir option will take effect\n", "{o}");
    });
}

// ---- --info-fd / --json-status-fd ----------------------------------------------------

/// bwrap's lines only: nestwrap's extra `command-pid` and `error` lines removed.
fn drop_command_pid(json: &str) -> String {
    json.lines()
        .filter(|l| !l.contains("\"command-pid\"") && !l.starts_with("{ \"error\": "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Byte for byte as bwrap 0.8.0 (numbers normalised; nestwrap's command-pid
/// line removed), for several namespace sets and exit codes.
#[test]
fn info_and_json_status_match_bwrap() {
    if !have_bwrap() {
        return;
    }
    let cases: &[&[&str]] = &[
        &["true"],
        &["sh", "-c", "exit 3"],
        &["sh", "-c", "kill -TERM $$"],
        &["--unshare-pid", "true"],
        &["--unshare-all", "sh", "-c", "exit 7"],
        &["--unshare-all", "--share-net", "true"],
        &["--unshare-ipc", "--unshare-uts", "--unshare-cgroup", "true"],
        &["--unshare-user", "--unshare-net", "true"],
        // exec failure: no exit-code line.
        &["/nonexistent"],
        &["--unshare-pid", "/nonexistent"],
    ];
    both(|as_| {
        for case in cases {
            let run = |prog: Option<&str>| {
                let mut sb = Sandbox::new(as_)
                    .args(rb())
                    .args(["--info-fd", "3", "--json-status-fd", "4"])
                    .args(*case)
                    .read_fd(3)
                    .read_fd(4);
                if let Some(p) = prog {
                    sb = sb.reference(p);
                }
                sb.run()
            };
            let (b, n) = (run(Some(bwrap_ref())), run(None));
            let txt = |o: &Outcome, fd| String::from_utf8_lossy(&o.fds[&fd]).into_owned();
            assert_eq!(n.status, b.status, "{case:?}\nbwrap:\n{b}\nnestwrap:\n{n}");
            assert_eq!(n.stderr, b.stderr, "{case:?}");
            assert_eq!(
                norm_numbers(&txt(&n, 3)),
                norm_numbers(&txt(&b, 3)),
                "--info-fd for {case:?}"
            );
            let nj = txt(&n, 4);
            assert_eq!(
                norm_numbers(&drop_command_pid(&nj)),
                norm_numbers(&txt(&b, 4)),
                "--json-status-fd for {case:?}\nnestwrap: {nj}"
            );
            // The exact exit code (not normalised).
            assert_eq!(
                json_int(&nj, "exit-code"),
                json_int(&txt(&b, 4), "exit-code"),
                "{case:?}: {nj}"
            );
        }
    });
}

/// `command-pid` names COMMAND's pid as the caller sees it: COMMAND is
/// `readlink /proc/self` on the host's procfs, which prints exactly that.
#[test]
fn json_status_command_pid() {
    if nestwrap_only("json-status-extra-lines") {
        return;
    }
    both(|as_| {
        for extra in [&[][..], &["--unshare-pid"][..], &["--unshare-all", "--as-pid-1"][..]] {
            let extra: Vec<&str> = if extra.contains(&"--as-pid-1") {
                vec!["--unshare-pid", "--as-pid-1"]
            } else {
                extra.to_vec()
            };
            let o = Sandbox::new(as_)
                .args(rb())
                .args(&extra)
                .args(["--json-status-fd", "4", "readlink", "/proc/self"])
                .read_fd(4)
                .run();
            o.ok();
            let json = String::from_utf8_lossy(&o.fds[&4]).into_owned();
            let lines: Vec<&str> = json.lines().collect();
            assert_eq!(lines.len(), 3, "{json}");
            assert!(lines[1].starts_with("{ \"command-pid\": "), "{json}");
            let cp = json_int(&json, "command-pid").unwrap();
            assert_eq!(o.stdout.trim(), cp.to_string(), "{extra:?}: {json}\n{o}");
            if extra.is_empty() || extra.contains(&"--as-pid-1") {
                assert_eq!(json_int(&json, "child-pid"), Some(cp), "{json}");
            } else {
                assert_ne!(
                    json_int(&json, "child-pid"),
                    Some(cp),
                    "child-pid is the reaper: {json}"
                );
            }
        }
    });
}

/// A running COMMAND: `/proc/<command-pid>/cmdline` is COMMAND's.
#[test]
fn json_status_command_pid_while_running() {
    if nestwrap_only("json-status-extra-lines") {
        return;
    }
    both(|as_| {
        let (r, w) = pipe();
        let m = mark();
        let _reap = Reap(m.clone());
        let mut args = rb();
        args.extend(s(&["--unshare-pid", "--json-status-fd", "5", "sleep", &m]));
        let mut bg = Bg::nw(as_, &args, vec![(5, w)]);
        let json = read_until(r, "command-pid");
        let json = if json.contains("command-pid\": ") && json.ends_with("}\n") {
            json
        } else {
            std::thread::sleep(Duration::from_millis(100));
            json
        };
        let cp = json_int(&json, "command-pid").unwrap_or_else(|| panic!("{json:?}\n{bg}"));
        let cmdline = eventually(Duration::from_secs(3), || {
            std::fs::read(format!("/proc/{cp}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep"))
        });
        let got = std::fs::read(format!("/proc/{cp}/cmdline")).unwrap_or_default();
        kill_marked(&format!("^sleep {m}"));
        bg.wait(Duration::from_secs(10));
        assert!(cmdline, "/proc/{cp}/cmdline = {:?}; json {json}", String::from_utf8_lossy(&got));
        assert_eq!(got, format!("sleep\0{m}\0").into_bytes());
    });
}

/// Setup failure: an `error` object (step, path, errno, message) instead of an
/// exit-code line; exec failure: no exit-code line either.
#[test]
fn json_status_error_object() {
    if nestwrap_only("json-status-extra-lines") {
        return;
    }
    both(|as_| {
        let o = Sandbox::new(as_)
            .args(rb())
            .args(["--json-status-fd", "4", "--bind", "/nonexistent", "/x", "true"])
            .read_fd(4)
            .run();
        o.fails_with("bwrap: Can't find source path /nonexistent: No such file or directory");
        let json = String::from_utf8_lossy(&o.fds[&4]).into_owned();
        let lines: Vec<&str> = json.lines().collect();
        assert_eq!(lines.len(), 2, "{json}");
        assert!(lines[0].starts_with("{ \"child-pid\": "), "{json}");
        let err = lines[1];
        assert!(err.starts_with("{ \"error\": { \"step\": \""), "{json}");
        assert!(err.contains("\"path\": \"/nonexistent\""), "{json}");
        assert!(err.contains("\"errno\": 2"), "{json}");
        assert!(
            err.contains(
                "\"message\": \"Can't find source path /nonexistent: No such file or directory\""
            ),
            "{json}"
        );
        assert!(!json.contains("exit-code"), "{json}");

        let o = Sandbox::new(as_)
            .args(rb())
            .args(["--json-status-fd", "4", "/nonexistent"])
            .read_fd(4)
            .run();
        o.fails_with("bwrap: execvp /nonexistent: No such file or directory");
        let json = String::from_utf8_lossy(&o.fds[&4]).into_owned();
        assert!(!json.contains("exit-code"), "{json}");
        assert!(json.contains("\"errno\": 2"), "{json}");
    });
}

// ---- --forward-signals ----------------------------------------------------------------

const TRAP: &str = "trap 'echo trapped; exit 42' TERM; echo ready; while :; do sleep 0.05; done";

/// With forwarding, `kill -TERM <nestwrap>` runs COMMAND's trap and nestwrap
/// exits with COMMAND's status (also with --unshare-pid).
#[test]
fn forward_signals_term() {
    if nestwrap_only("extension --forward-signals") {
        return;
    }
    both(|as_| {
        for pid in [false, true] {
            let m = mark();
            let _reap = Reap(m.clone());
            let mut args = rb();
            args.push("--forward-signals".into());
            if pid {
                args.push("--unshare-pid".into());
            }
            args.extend(s(&["sh", "-c", TRAP, &m]));
            let mut bg = Bg::nw(as_, &args, vec![]);
            assert!(bg.wait_stdout("ready\n", Duration::from_secs(5)), "{bg}");
            bg.signal(libc::SIGTERM);
            let st = bg.wait(Duration::from_secs(10));
            let left = pgrep(&m);
            kill_marked(&m);
            assert_eq!(st, 42, "unshare-pid={pid}\n{bg}");
            assert_eq!(bg.stdout(), "ready\ntrapped\n", "{bg}");
            assert!(left.is_empty(), "left behind: {left:?}");
        }
    });
}

/// Without forwarding: bwrap's behaviour, checked against bwrap 0.8.0 too: the
/// monitor dies (143), the sandbox keeps running unless --die-with-parent.
#[test]
fn no_forward_signals_is_bwraps_behaviour() {
    let bwrap = have_bwrap();
    both(|as_| {
        let progs: Vec<Option<&str>> =
            if bwrap { vec![None, Some(bwrap_ref())] } else { vec![None] };
        for prog in progs {
            for (pid, dwp) in [(false, false), (true, false), (true, true)] {
                let m = mark();
                let _reap = Reap(m.clone());
                let mut args = rb();
                if pid {
                    args.push("--unshare-pid".into());
                }
                if dwp {
                    args.push("--die-with-parent".into());
                }
                args.extend(s(&["sh", "-c", TRAP, &m]));
                let mut bg = match prog {
                    Some(p) => Bg::spawn(as_, p, &args, vec![]),
                    None => Bg::nw(as_, &args, vec![]),
                };
                assert!(bg.wait_stdout("ready\n", Duration::from_secs(5)), "{bg}");
                bg.signal(libc::SIGTERM);
                let st = bg.wait(Duration::from_secs(10));
                let pat = format!("^sh -c .* {m}$");
                let survived = if dwp {
                    !eventually(Duration::from_secs(3), || pgrep(&pat).is_empty())
                } else {
                    std::thread::sleep(Duration::from_millis(200));
                    !pgrep(&pat).is_empty()
                };
                kill_marked(&m);
                let case = format!("{prog:?} unshare-pid={pid} die-with-parent={dwp}");
                assert_eq!(st, 143, "{case}\n{bg}");
                assert!(!bg.stdout().contains("trapped"), "{case}\n{bg}");
                assert_eq!(survived, !dwp, "{case}: sandbox survival\n{bg}");
            }
        }
    });
}

// ---- file descriptors -------------------------------------------------------------------

/// BPF program that allows everything.
fn allow_all_bpf() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0x06u16.to_le_bytes()); // BPF_RET | BPF_K
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&0x7fff_0000u32.to_le_bytes()); // SECCOMP_RET_ALLOW
    v
}

/// COMMAND sees 0,1,2 plus the non-CLOEXEC fds it was given, minus consumed ones.
#[test]
fn command_sees_exactly_its_fds() {
    both(|as_| {
        let (_sync_r, sync_w) = pipe();
        let (block_r, block_w) = pipe();
        std::fs::File::from(block_w).write_all(b"x").unwrap();
        let plain = std::fs::File::open("/dev/null").unwrap();
        let o = Sandbox::new(as_)
            .args(rb())
            .args(["--tmpfs", "/tmp", "--file", "3", "/tmp/f", "--bind-data", "4", "/tmp/b"])
            .args(["--ro-bind-data", "5", "/tmp/c", "--seccomp", "6", "--block-fd", "7"])
            .args(["--info-fd", "8", "--json-status-fd", "9", "--sync-fd", "10"])
            .args(["--bind-fd", "11", "/tmp/d"])
            .data_fd(3, b"f")
            .data_fd(4, b"b")
            .data_fd(5, b"c")
            .data_fd(6, &allow_all_bpf())
            .fd(7, block_r)
            .read_fd(8)
            .read_fd(9)
            .fd(10, sync_w)
            .fd(11, std::fs::File::open("/etc").unwrap().into())
            .fd(12, plain.into())
            .data_fd(20, b"")
            .probe(["/tmp/f", "/tmp/d/passwd"])
            .run();
        o.ok();
        let targets: Vec<RawFd> = (3..=12).chain([20]).collect();
        assert_eq!(o.fact("fds"), expected_fds(&targets, &[12, 20]), "{o}");
        assert_eq!(o.fact("content./tmp/f"), "f", "{o}");
    });
}

// ---- bad input -----------------------------------------------------------------------

/// One `bwrap: ` line, exit 1, no process with the marker left; compared with
/// bwrap 0.8.0 where it has the same behaviour.
#[test]
fn bad_input() {
    let bwrap = have_bwrap();
    let devnull = || -> OwnedFd { std::fs::File::open("/dev/null").unwrap().into() };
    type Case = (&'static [&'static str], &'static str, bool);
    let cases: &[Case] = &[
        (&["--info-fd", "x3"], "bwrap: Invalid fd: x3", true),
        (&["--json-status-fd", "-1"], "bwrap: Invalid fd: -1", true),
        (&["--sync-fd", ""], "bwrap: Invalid fd: ", true),
        (&["--block-fd", "3z"], "bwrap: Invalid fd: 3z", true),
        (&["--userns", "abc"], "bwrap: Invalid fd: abc", true),
        (&["--cap-add", "CAP_FROB"], "bwrap: unknown cap: CAP_FROB", true),
        (&["--cap-drop", "nonsense"], "bwrap: unknown cap: nonsense", true),
        (&["--unshare-user", "--uid", "-1"], "bwrap: Invalid uid: -1", true),
        (&["--unshare-user", "--uid", "4294967295"], "bwrap: Invalid uid: 4294967295", true),
        (&["--unshare-user", "--gid", "x"], "bwrap: Invalid gid: x", true),
        (&["--uid", "5"], "bwrap: Specifying --uid requires --unshare-user or --userns", false),
        (&["--hostname", "h"], "bwrap: Specifying --hostname requires --unshare-uts", true),
        (
            &["--userns", "7", "--unshare-user"],
            "bwrap: --userns is not compatible with --unshare-user",
            true,
        ),
        (&["--userns-block-fd", "7"], "bwrap: --userns-block-fd requires --unshare-user", true),
        (
            &["--unshare-user", "--userns-block-fd", "7"],
            "bwrap: --userns-block-fd requires --info-fd",
            true,
        ),
        // fd 7 is /dev/null: not a user namespace.
        (
            &["--userns", "7"],
            "bwrap: Joining the specified user namespace failed, it might not be a \
             descendant of the current user namespace.",
            true,
        ),
        (&["--pidns", "7"], "bwrap: Setting pidns failed: Invalid argument", false),
        // Closed fds (bwrap 0.13.1 leaves its sandbox child behind for the
        // first two, so it is not run for them).
        (&["--info-fd", "55"], "bwrap: Write to info_fd: Bad file descriptor", false),
        (&["--json-status-fd", "55"], "bwrap: Write to info_fd: Bad file descriptor", false),
        (&["--seccomp", "55"], "bwrap: Can't read seccomp data: Bad file descriptor", true),
        (
            &["--tmpfs", "/tmp", "--bind-data", "55", "/tmp/x"],
            "bwrap: Can't write data to file /tmp/x: Bad file descriptor",
            true,
        ),
        (
            &["--userns", "55"],
            "bwrap: Joining specified user namespace failed: Bad file descriptor",
            true,
        ),
        (&["--add-seccomp-fd", "55"], "bwrap: Can't read seccomp data: Bad file descriptor", true),
        (&["--args", "55"], "bwrap: Can't read --args data: Bad file descriptor", true),
        (
            &["--tmpfs", "/tmp", "--file", "55", "/tmp/x"],
            "bwrap: Can't write data to file /tmp/x: Bad file descriptor",
            true,
        ),
    ];
    both(|as_| {
        for (args, line, compare) in cases {
            let mut progs: Vec<Option<&str>> = vec![None];
            if bwrap && *compare {
                progs.push(Some(bwrap_ref()));
            }
            for prog in progs {
                // --uid without a user namespace is only an error for root.
                if args == &["--uid", "5"] && as_ == As::User {
                    continue;
                }
                // nestwrap's intended differences (DESIGN.md), when the
                // binary under test is a bwrap.
                let own = if line.starts_with("bwrap: Setting pidns failed") {
                    Some("pidns-failure-one-line")
                } else if line.contains("Write to info_fd") {
                    Some("no-child-left-behind")
                } else {
                    None
                };
                if prog.is_none() && own.is_some_and(nestwrap_only) {
                    continue;
                }
                let m = mark();
                let _reap = Reap(m.clone());
                let mut sb = Sandbox::new(as_).args(rb()).args(*args).fd(7, devnull());
                if let Some(p) = prog {
                    sb = sb.reference(p);
                }
                let o = sb.args(["sleep", &m]).run();
                let left = pgrep(&m);
                kill_marked(&m);
                let who = prog.unwrap_or("nestwrap");
                o.fails_with(line);
                assert!(left.is_empty(), "{who}: left behind {left:?}\n{o}");
            }
        }
    });
}

/// Stray CLOEXEC fds of the caller never reach COMMAND (control for the fd test).
#[test]
fn cloexec_fds_not_inherited() {
    both(|as_| {
        let f = std::fs::File::open("/dev/null").unwrap();
        let n = f.as_raw_fd();
        let args: Vec<OsString> = rb().into_iter().map(OsString::from).collect();
        let mut c = command_as(as_, binary().to_str().unwrap(), &[], vec![]);
        c.args(&args).arg(probe());
        let out = c.output().unwrap();
        let o = parse_facts(&String::from_utf8_lossy(&out.stdout));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let fds = o.get("fds").cloned().unwrap_or_default();
        assert_eq!(fds, expected_fds(&[n], &[]), "fd {n} is CLOEXEC in the caller");
        drop(f);
    });
}
