//! Test harness shared by every integration test.
//!
//! - The binary under test is `CARGO_BIN_EXE_nestwrap`, or `NESTWRAP_TEST_BINARY`
//!   (point it at the reference bubblewrap 0.13.1 to validate the tests
//!   themselves; tests of nestwrap's own behaviour start with
//!   [`nestwrap_only`] and are skipped then). It is copied once, with the
//!   `probe` example, into a fresh 0755 directory under `/var/tmp` (or
//!   `$NESTWRAP_TEST_TMP`) so that the unprivileged test user can run it:
//!   `/root` is 0700.
//! - Every test body runs once per mode ([`both`]): as root (only when the harness
//!   is root) and as the unprivileged test user (`setpriv` to `nwtest`, or the
//!   current user when the harness is not root). A mode that is unavailable is
//!   skipped with `SKIP: <reason>`, unless `NESTWRAP_MUST_WORK=1`, which turns the
//!   skip into a failure.
//! - Namespace code never runs in this (multi-threaded) process: we always spawn.
#![allow(dead_code)]

pub mod hostile;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// PATH given to every sandboxed run (the environment is otherwise minimal).
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// A run that takes longer than this is killed and the test fails.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Timeout of a reference bwrap run ([`Sandbox::reference`]).
pub const REFERENCE_TIMEOUT: Duration = Duration::from_secs(20);

/// SIGKILL the process group `pgid` (a run started with `process_group(0)`).
pub fn kill_group(pgid: u32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// SIGKILL a process, its process group and every descendant (found through
/// the ppid links in /proc, so that children which left the group with
/// setsid, such as a sandbox under `--new-session`, go too). Used on every
/// timeout: a test never leaves a process behind.
pub fn kill_tree(pid: i32) {
    // Stop the root first so that it cannot fork while we walk the tree.
    // SAFETY: kill(2) with a pid we spawned; at worst ESRCH.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let mut victims = vec![pid];
    for _ in 0..3 {
        let mut parent_of: Vec<(i32, i32)> = Vec::new();
        if let Ok(rd) = fs::read_dir("/proc") {
            for e in rd.flatten() {
                let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                    continue;
                };
                let Ok(stat) = fs::read_to_string(e.path().join("stat")) else { continue };
                let Some((_, rest)) = stat.rsplit_once(')') else { continue };
                let ppid = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok());
                if let Some(ppid) = ppid {
                    parent_of.push((p, ppid));
                }
            }
        }
        let mut grew = true;
        while grew {
            grew = false;
            for &(p, pp) in &parent_of {
                if victims.contains(&pp) && !victims.contains(&p) {
                    victims.push(p);
                    grew = true;
                }
            }
        }
        for &v in &victims {
            // SAFETY: as above; stop first so nobody forks meanwhile.
            unsafe { libc::kill(v, libc::SIGSTOP) };
        }
    }
    // SAFETY: kill(2) of the process group the harness created for `pid`.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    for &v in &victims {
        // SAFETY: as above.
        unsafe { libc::kill(v, libc::SIGKILL) };
    }
}

/// Who runs the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum As {
    Root,
    User,
}

/// A uid/gid/home triple.
#[derive(Debug, Clone)]
pub struct Ident {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

pub fn must_work() -> bool {
    std::env::var_os("NESTWRAP_MUST_WORK").is_some_and(|v| v == "1")
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn passwd_lookup(pred: impl Fn(&[&str]) -> bool) -> Option<Ident> {
    let text = fs::read_to_string("/etc/passwd").ok()?;
    text.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.len() >= 7 && pred(f)).map(
        |f| Ident {
            name: f[0].to_string(),
            uid: f[2].parse().unwrap_or(u32::MAX),
            gid: f[3].parse().unwrap_or(u32::MAX),
            home: PathBuf::from(f[5]),
        },
    )
}

/// The unprivileged identity used for `As::User`: the dedicated test user when the
/// harness is root (`NESTWRAP_TEST_USER`, default `nwtest`), else the caller.
pub fn test_user() -> Option<&'static Ident> {
    static U: OnceLock<Option<Ident>> = OnceLock::new();
    U.get_or_init(|| {
        if is_root() {
            let name = std::env::var("NESTWRAP_TEST_USER").unwrap_or_else(|_| "nwtest".into());
            passwd_lookup(|f| f[0] == name).filter(|u| u.uid != 0)
        } else {
            let (uid, gid) = (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw());
            let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| "/".into());
            let name = std::env::var("USER").unwrap_or_default();
            Some(Ident { name, uid, gid, home })
        }
    })
    .as_ref()
}

pub fn root_ident() -> Ident {
    Ident { name: "root".into(), uid: 0, gid: 0, home: "/root".into() }
}

/// The identity a mode runs as.
pub fn ident(as_: As) -> Ident {
    match as_ {
        As::Root => root_ident(),
        As::User => test_user().expect("no test user").clone(),
    }
}

fn tmp_base() -> PathBuf {
    std::env::var_os("NESTWRAP_TEST_TMP").map(PathBuf::from).unwrap_or_else(|| "/var/tmp".into())
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Make a fresh directory `<base>/<prefix>-<pid>-<n>` with mode 0755.
fn fresh_dir(prefix: &str) -> PathBuf {
    let base = tmp_base();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = base.join(format!("{prefix}-{}-{n}", std::process::id()));
        match fs::create_dir(&p) {
            Ok(()) => {
                fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
                return p;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("cannot create {}: {e}", p.display()),
        }
    }
}

/// Remove binary directories left by earlier harness processes that are gone.
fn remove_stale_bin_dirs() {
    let Ok(rd) = fs::read_dir(tmp_base()) else { return };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("nestwrap-bin-") else { continue };
        let Some(pid) = rest.split('-').next() else { continue };
        if !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

struct Bins {
    binary: PathBuf,
    probe: PathBuf,
}

fn probe_source() -> PathBuf {
    // target/<profile>/deps/tests-HASH → target/<profile>/examples/probe
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    let probe = profile_dir.join("examples/probe");
    if !probe.exists() {
        // `cargo test --test tests` does not build examples; build it now.
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let profile = profile_dir.file_name().unwrap().to_string_lossy().into_owned();
        let profile = if profile == "debug" { "dev".to_string() } else { profile };
        let target_dir = profile_dir.parent().unwrap();
        let st = Command::new(cargo)
            .args(["build", "--quiet", "--example", "probe", "--profile", &profile])
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status();
        assert!(
            st.is_ok_and(|s| s.success()) && probe.exists(),
            "probe not found at {}: run `cargo build --example probe`",
            probe.display()
        );
    }
    probe
}

fn bins() -> &'static Bins {
    static B: OnceLock<Bins> = OnceLock::new();
    B.get_or_init(|| {
        remove_stale_bin_dirs();
        let src = std::env::var_os("NESTWRAP_TEST_BINARY")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_nestwrap")));
        let dir = fresh_dir("nestwrap-bin");
        let binary = dir.join(src.file_name().unwrap());
        fs::copy(&src, &binary).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
        fs::set_permissions(&binary, fs::Permissions::from_mode(0o755)).unwrap();
        let probe = dir.join("probe");
        fs::copy(probe_source(), &probe).expect("copy probe");
        fs::set_permissions(&probe, fs::Permissions::from_mode(0o755)).unwrap();
        Bins { binary, probe }
    })
}

/// Path of the (copied) binary under test.
pub fn binary() -> &'static Path {
    &bins().binary
}

/// Path of the (copied) probe, readable and executable by every user.
pub fn probe() -> &'static Path {
    &bins().probe
}

/// Directory holding the binary and the probe (bind it into minimal sandboxes).
pub fn bin_dir() -> &'static Path {
    bins().binary.parent().unwrap()
}

/// `--version` output of the binary under test (trimmed).
pub fn binary_version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let out = Command::new(binary()).arg("--version").output().expect("run --version");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
}

/// True when the binary under test is Debian's bwrap 0.8.0, which lacks some
/// 0.9+ behaviour (version deltas, DECISIONS "Differential tests").
pub fn is_bwrap_080() -> bool {
    binary_version() == "bubblewrap 0.8.0"
}

/// Skip a check that needs a behaviour newer than 0.8.0, only when the binary
/// under test is 0.8.0. Returns true when the caller must skip.
pub fn skip_if_080(what: &str) -> bool {
    if is_bwrap_080() {
        eprintln!("SKIP: {what}: version delta, bubblewrap 0.8.0 lacks it");
        true
    } else {
        false
    }
}

/// True when the binary under test is nestwrap (not a bwrap given through
/// `NESTWRAP_TEST_BINARY`).
pub fn testing_nestwrap() -> bool {
    // nestwrap's --version says `bubblewrap 0.13.1` too; its usage text
    // names itself.
    static N: OnceLock<bool> = OnceLock::new();
    *N.get_or_init(|| {
        let out = Command::new(binary()).arg("--help").output().expect("run --help");
        String::from_utf8_lossy(&out.stdout).contains("nestwrap extensions:")
    })
}

/// A test of nestwrap's own extensions or of one of its intended
/// differences from bubblewrap 0.13.1 (`rule`: the DESIGN.md / compat.rs
/// rule, or the extension). Returns true, after printing SKIP, when the
/// binary under test is not nestwrap (`NESTWRAP_TEST_BINARY=<bwrap>`).
pub fn nestwrap_only(rule: &str) -> bool {
    if testing_nestwrap() {
        false
    } else {
        eprintln!("SKIP: nestwrap only ({rule}): the binary under test is {}", binary_version());
        true
    }
}

/// The reference bubblewrap version, kept in one place for the install
/// script and the tests.
pub const REFERENCE_VERSION: &str = include_str!("../../scripts/bwrap-reference.version");

/// The reference bubblewrap binary (0.13.1, installed by
/// `scripts/bwrap-reference.sh`): `$NESTWRAP_REF_BWRAP`, else the script's
/// default cache path. `None` when it is not installed or does not answer
/// `--version` with the reference version; under `NESTWRAP_MUST_WORK=1`
/// that is a failure, never a silent fall-back to another bwrap.
pub fn reference_bwrap() -> Option<&'static Path> {
    static R: OnceLock<Option<PathBuf>> = OnceLock::new();
    R.get_or_init(|| {
        let version = REFERENCE_VERSION.trim();
        let path = std::env::var_os("NESTWRAP_REF_BWRAP").map(PathBuf::from).unwrap_or_else(|| {
            let base = std::env::var_os("NESTWRAP_REF_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| "/var/tmp/nestwrap-ref".into());
            base.join(version).join("bwrap")
        });
        let out = Command::new(&path).arg("--version").output().ok()?;
        let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (said == format!("bubblewrap {version}")).then_some(path)
    })
    .as_deref()
}

/// The reference bwrap, or `None` after printing SKIP; panics under
/// `NESTWRAP_MUST_WORK=1` when it is missing.
pub fn require_reference(what: &str) -> Option<&'static Path> {
    match reference_bwrap() {
        Some(p) => Some(p),
        None if must_work() => panic!(
            "NESTWRAP_MUST_WORK=1 but bubblewrap {} is not installed (bash scripts/bwrap-reference.sh as root): {what}",
            REFERENCE_VERSION.trim()
        ),
        None => {
            eprintln!(
                "SKIP: {what}: bubblewrap {} not installed (bash scripts/bwrap-reference.sh as root)",
                REFERENCE_VERSION.trim()
            );
            None
        }
    }
}

/// Why a mode cannot run here, or None when it can.
pub fn unavailable(as_: As) -> Option<String> {
    match as_ {
        As::Root if !is_root() => Some("root mode needs the harness to run as root".into()),
        As::Root => None,
        As::User => {
            static R: OnceLock<Option<String>> = OnceLock::new();
            R.get_or_init(|| {
                let Some(u) = test_user() else {
                    return Some(
                        "test user missing (run scripts/test.sh as root to create nwtest)".into(),
                    );
                };
                // Probe the machine, not the binary under test: a broken binary must
                // fail the tests, not skip them.
                let mut c = user_command(u, OsStr::new("unshare"));
                c.args(["--user", "--map-root-user", "true"]).current_dir("/");
                match c.output() {
                    Ok(o) if o.status.success() => None,
                    Ok(o) => Some(format!(
                        "unprivileged user namespaces do not work for uid {}: {}",
                        u.uid,
                        String::from_utf8_lossy(&o.stderr).trim()
                    )),
                    Err(e) => Some(format!("cannot run unshare: {e}")),
                }
            })
            .clone()
        }
    }
}

/// Run `body` once per mode. An unavailable mode is skipped (`SKIP: ...`), or
/// fails the test under `NESTWRAP_MUST_WORK=1`.
pub fn both(body: impl Fn(As)) {
    for as_ in [As::Root, As::User] {
        if !require(as_) {
            continue;
        }
        body(as_);
    }
}

/// Check that a mode can run; print SKIP and return false when it cannot, panic
/// under `NESTWRAP_MUST_WORK=1`.
pub fn require(as_: As) -> bool {
    match unavailable(as_) {
        None => true,
        Some(reason) if must_work() => panic!("NESTWRAP_MUST_WORK=1 but {as_:?} mode: {reason}"),
        Some(reason) => {
            eprintln!("SKIP: {as_:?} mode: {reason}");
            false
        }
    }
}

/// `program` as the unprivileged identity `u` (setpriv when the harness is
/// root), with the harness's minimal environment.
pub fn user_command(u: &Ident, program: &OsStr) -> Command {
    let mut c = if is_root() {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", u.uid))
            .arg(format!("--regid={}", u.gid))
            .arg("--clear-groups")
            .arg("--")
            .arg(program);
        c
    } else {
        Command::new(program)
    };
    c.env_clear().env("HOME", &u.home).env("PATH", PATH);
    if !u.name.is_empty() {
        c.env("USER", &u.name).env("LOGNAME", &u.name);
    }
    c
}

/// A scratch directory, unique per test, removed on drop. Mode 0755 and owned by
/// the test user when the harness is root, so both modes can write into it.
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    pub fn new() -> TestDir {
        let path = fresh_dir("nestwrap-test");
        let t = TestDir { path };
        t.chown_user(&t.path);
        t
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `self/rel`, as a String (for command lines).
    pub fn join(&self, rel: &str) -> String {
        self.path.join(rel).to_str().unwrap().to_string()
    }

    /// Create `rel` (and parents) as a directory owned by the test user.
    pub fn mkdir(&self, rel: &str) -> String {
        let p = self.path.join(rel);
        fs::create_dir_all(&p).unwrap();
        let mut cur = p.as_path();
        while cur != self.path {
            fs::set_permissions(cur, fs::Permissions::from_mode(0o755)).unwrap();
            self.chown_user(cur);
            cur = cur.parent().unwrap();
        }
        p.to_str().unwrap().to_string()
    }

    /// Write a file `rel` (mode 0644, owned by the test user).
    pub fn write(&self, rel: &str, data: &str) -> String {
        let p = self.path.join(rel);
        fs::write(&p, data).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        self.chown_user(&p);
        p.to_str().unwrap().to_string()
    }

    fn chown_user(&self, p: &Path) {
        if is_root() {
            if let Some(u) = test_user() {
                std::os::unix::fs::chown(p, Some(u.uid), Some(u.gid)).unwrap();
            }
        }
    }
}

impl Default for TestDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        // A sandbox may have left read-only or 0000 directories behind.
        fn open_up(p: &Path) {
            if let Ok(m) = fs::symlink_metadata(p) {
                if m.is_dir() {
                    let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o755));
                    if let Ok(rd) = fs::read_dir(p) {
                        for e in rd.flatten() {
                            open_up(&e.path());
                        }
                    }
                }
            }
        }
        open_up(&self.path);
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Result of one run.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code, or 128+signal when killed by a signal.
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    /// stderr as written (`stderr` is decoded lossily).
    pub stderr_raw: Vec<u8>,
    /// Data read from the pipes registered with [`Sandbox::read_fd`].
    pub fds: BTreeMap<RawFd, Vec<u8>>,
    /// Time from spawn to exit of the binary (not of lingering grandchildren).
    pub elapsed: Duration,
    /// Printable description of the command line, for messages.
    pub cmdline: String,
}

impl Outcome {
    /// `key=value` facts printed by the probe (last occurrence wins).
    pub fn facts(&self) -> BTreeMap<String, String> {
        parse_facts(&self.stdout)
    }

    /// The value of one probe fact; panics with the full output if missing.
    pub fn fact(&self, key: &str) -> String {
        self.facts().get(key).cloned().unwrap_or_else(|| panic!("no fact {key:?} in\n{self}"))
    }

    /// Assert a successful exit.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(self.status, 0, "expected success\n{self}");
        self
    }

    /// Assert a failed run with status 1 and exactly this one line on stderr.
    #[track_caller]
    pub fn fails_with(&self, line: &str) -> &Self {
        assert_eq!(self.status, 1, "expected exit 1\n{self}");
        assert_eq!(self.stderr, format!("{line}\n"), "stderr mismatch\n{self}");
        self
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "command: {}", self.cmdline)?;
        writeln!(f, "status: {}", self.status)?;
        writeln!(f, "--- stdout\n{}", self.stdout)?;
        write!(f, "--- stderr\n{}", self.stderr)
    }
}

pub fn parse_facts(s: &str) -> BTreeMap<String, String> {
    s.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect()
}

/// Builder for one run of the binary under test.
pub struct Sandbox {
    as_: As,
    prefix: Vec<OsString>,
    program: Option<OsString>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    cwd: PathBuf,
    /// (target fd in the child, source fd, kept open until spawn)
    child_fds: Vec<(RawFd, OwnedFd)>,
    /// (fd in the child, read end kept by the harness)
    readers: Vec<(RawFd, OwnedFd)>,
    timeout: Duration,
    /// Kill whatever is left in the run's process group once it exited.
    reap_group: bool,
}

type SharedBuf = Arc<Mutex<Vec<u8>>>;

fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2")
}

/// Runs in the forked child before exec: put each source fd on its target number.
pub fn install_fds(maps: &[(RawFd, RawFd)]) -> std::io::Result<()> {
    for &(target, src) in maps {
        // SAFETY: dup2 on fds the parent keeps open until spawn returns.
        if unsafe { libc::dup2(src, target) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // dup2 already cleared FD_CLOEXEC on `target`; make sure of it.
        // SAFETY: F_SETFD on the fd we just created.
        unsafe { libc::fcntl(target, libc::F_SETFD, 0) };
    }
    Ok(())
}

/// Duplicate `fd` to a number >= 100, close-on-exec, so that the dup2 calls in
/// the child can never clobber a source that happens to sit on a target number.
fn dup_high(fd: &OwnedFd) -> OwnedFd {
    // SAFETY: F_DUPFD_CLOEXEC on a valid fd returns a new fd or -1.
    let n = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 100) };
    assert!(n >= 0, "dup: {}", std::io::Error::last_os_error());
    // SAFETY: `n` is a fresh fd we own.
    unsafe { OwnedFd::from_raw_fd(n) }
}

impl Sandbox {
    pub fn new(as_: As) -> Sandbox {
        Sandbox {
            as_,
            prefix: Vec::new(),
            program: None,
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            cwd: PathBuf::from("/"),
            child_fds: Vec::new(),
            readers: Vec::new(),
            timeout: TIMEOUT,
            reap_group: false,
        }
    }

    /// Once the run has exited, SIGKILL what is left of its process group
    /// (bubblewrap 0.13.1 leaves its child behind, blocked for ever, when
    /// the parent fails after the clone: `--info-fd 99`, a bad `--userns2`).
    pub fn reap_group(mut self) -> Self {
        self.reap_group = true;
        self
    }

    /// Kill the run (its whole process group) after `t` instead of the default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Run the reference bubblewrap 0.13.1 (`reference_bwrap()`) instead of the
    /// binary under test, with a 20 s timeout (0.13.1 hangs on some command
    /// lines, e.g. `--unshare-user --userns2 99` as root).
    pub fn reference(self, bwrap: impl AsRef<OsStr>) -> Self {
        self.program(bwrap).timeout(REFERENCE_TIMEOUT).reap_group()
    }

    /// Arguments for the binary under test.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn arg(self, a: impl AsRef<OsStr>) -> Self {
        self.args([a])
    }

    /// Append the probe as COMMAND, followed by its arguments.
    pub fn probe<I, S>(self, probe_args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.arg(probe()).args(probe_args)
    }

    /// Run the binary through a wrapper, e.g. `["unshare", "-m", ...]`; the
    /// wrapper is exec'd after switching users and gets the binary as argument.
    pub fn wrap<I, S>(mut self, prefix: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.prefix = prefix.into_iter().map(|a| a.as_ref().to_owned()).collect();
        self
    }

    /// Add a wrapper after those already given (run inside them).
    pub fn wrap_more<I, S>(mut self, prefix: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.prefix.extend(prefix.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Run `program` instead of the binary under test (still as the chosen user).
    pub fn program(mut self, program: impl AsRef<OsStr>) -> Self {
        self.program = Some(program.as_ref().to_owned());
        self
    }

    /// Add an environment variable (the base environment is HOME, PATH, USER, LOGNAME).
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.env.push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        self
    }

    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }

    /// Working directory of the caller (default `/`).
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = dir.as_ref().to_owned();
        self
    }

    /// Give the child `fd` as descriptor number `target`.
    pub fn fd(mut self, target: RawFd, fd: OwnedFd) -> Self {
        self.child_fds.push((target, dup_high(&fd)));
        self
    }

    /// Give the child a pipe on `target` that yields `data` then EOF (for
    /// `--file`, `--args`, `--bind-data`, `--seccomp`...). Data up to the pipe
    /// capacity (64 KiB) is written before spawning.
    pub fn data_fd(self, target: RawFd, data: &[u8]) -> Self {
        assert!(data.len() <= 65536, "data_fd: too much data for a pipe");
        let (r, w) = pipe();
        let mut f = fs::File::from(w);
        f.write_all(data).unwrap();
        drop(f);
        self.fd(target, r)
    }

    /// Give the child the write end of a pipe on `target`; what it writes is in
    /// `Outcome::fds[&target]` (for `--info-fd`, `--json-status-fd`...).
    pub fn read_fd(mut self, target: RawFd) -> Self {
        let (r, w) = pipe();
        self.child_fds.push((target, dup_high(&w)));
        self.readers.push((target, r));
        self
    }

    fn describe(&self, program: &OsStr) -> String {
        let mut parts: Vec<String> = vec![format!("[{:?}]", self.as_)];
        parts.extend(self.prefix.iter().map(|a| a.to_string_lossy().into_owned()));
        parts.push(program.to_string_lossy().into_owned());
        parts.extend(self.args.iter().map(|a| {
            let s = a.to_string_lossy();
            if s.contains(' ') || s.is_empty() {
                format!("'{s}'")
            } else {
                s.into_owned()
            }
        }));
        parts.join(" ")
    }

    pub fn run(self) -> Outcome {
        let id = ident(self.as_);
        let program = self.program.clone().unwrap_or_else(|| binary().as_os_str().to_owned());
        let cmdline = self.describe(&program);
        let (first, rest): (OsString, Vec<OsString>) = if self.prefix.is_empty() {
            (program, Vec::new())
        } else {
            let mut rest = self.prefix[1..].to_vec();
            rest.push(program);
            (self.prefix[0].clone(), rest)
        };
        let mut cmd = match self.as_ {
            As::User => user_command(&id, &first),
            As::Root => {
                let mut c = Command::new(&first);
                c.env_clear()
                    .env("HOME", &id.home)
                    .env("PATH", PATH)
                    .env("USER", "root")
                    .env("LOGNAME", "root");
                c
            }
        };
        cmd.args(&rest).args(&self.args).current_dir(&self.cwd);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        // Its own process group, so that a timeout kills whatever it started
        // (a hung reference bwrap leaves its sandbox behind otherwise).
        cmd.process_group(0);
        cmd.stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that a timeout kills the whole tree.
            .process_group(0);

        let maps: Vec<(RawFd, RawFd)> =
            self.child_fds.iter().map(|(t, f)| (*t, f.as_raw_fd())).collect();
        if !maps.is_empty() {
            // SAFETY: install_fds only calls async-signal-safe dup2/fcntl and
            // does not allocate.
            unsafe {
                cmd.pre_exec(move || install_fds(&maps));
            }
        }

        let start = Instant::now();
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmdline}: {e}"));
        drop(self.child_fds); // only the child holds the write ends now

        if let Some(data) = self.stdin {
            let mut w = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                let _ = w.write_all(&data);
            });
        }
        let mut readers: Vec<(Option<RawFd>, Box<dyn Read + Send>)> = vec![
            (None, Box::new(child.stdout.take().unwrap())),
            (None, Box::new(child.stderr.take().unwrap())),
        ];
        for (t, r) in self.readers {
            readers.push((Some(t), Box::new(fs::File::from(r))));
        }
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let bufs: Vec<(Option<RawFd>, SharedBuf)> = readers
            .into_iter()
            .map(|(t, mut r)| {
                let buf = Arc::new(Mutex::new(Vec::new()));
                let b2 = Arc::clone(&buf);
                let tx = done_tx.clone();
                std::thread::spawn(move || {
                    let mut chunk = [0u8; 8192];
                    loop {
                        match r.read(&mut chunk) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => b2.lock().unwrap().extend_from_slice(&chunk[..n]),
                        }
                    }
                    let _ = tx.send(());
                });
                (t, buf)
            })
            .collect();
        drop(done_tx);

        let status = loop {
            if let Some(st) = child.try_wait().expect("wait") {
                break st;
            }
            if start.elapsed() > self.timeout {
                kill_tree(child.id() as i32);
                let _ = child.wait();
                panic!("timeout after {:?}: {cmdline}", self.timeout);
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let elapsed = start.elapsed();
        if self.reap_group {
            kill_group(child.id());
        }
        // Lingering sandbox processes may keep a pipe open: wait a little for EOF,
        // then take what was written.
        let deadline = Instant::now() + Duration::from_secs(2);
        for _ in 0..bufs.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if done_rx.recv_timeout(left).is_err() {
                break;
            }
        }
        let take = |i: usize| bufs[i].1.lock().unwrap().clone();
        let mut fds = BTreeMap::new();
        for (t, b) in &bufs[2..] {
            fds.insert(t.unwrap(), b.lock().unwrap().clone());
        }
        Outcome {
            status: status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
            stdout: String::from_utf8_lossy(&take(0)).into_owned(),
            stderr: String::from_utf8_lossy(&take(1)).into_owned(),
            stderr_raw: take(1),
            fds,
            elapsed,
            cmdline,
        }
    }
}
