//! Hostile environments for the container-fallback tests (tests/hostile.rs):
//! the situations in which bwrap fails inside real containers, rebuilt on the
//! test machine (recipes: shared reference test-environments.md §2–§4).
//!
//! - [`Rig::Masked`]: `/proc` masked the way Docker/podman mask it, made by a
//!   root shell inside `unshare -m` (never on the host), then `setpriv` to the
//!   test user for `As::User`.
//! - [`Rig::RoProcSys`]: only a read-only `/proc/sys` (also in `unshare -m`).
//! - [`Seccomp`]: a seccomp filter built with Debian's `python3-seccomp`
//!   (`/usr/bin/python3`, not a pyenv shim), loaded by a tiny Python helper
//!   that then execs the binary: pivot_root refused, or a proc mount refused
//!   with an EPERM that has nothing to do with masks.
//! - [`podman`]: real rootless podman with runc (cgroupfs, `--network=none`),
//!   on a busybox rootfs or a "full userspace" rootfs (host `/usr` and `/etc`
//!   as read-only volumes). Rootfs trees are cached under the test user's home.
//! - [`nest_depth`]: the binary re-executed inside itself until it fails.
//!
//! Under `NESTWRAP_MUST_WORK=1` none of these may skip.

use super::*;

/// A rig that needs root to build (a private mount namespace with masks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rig {
    /// tmpfs over /proc/acpi, /dev/null over kcore/keys/timer_list/sched_debug,
    /// read-only self-binds of /proc/bus, fs, irq, sys.
    Masked,
    /// Only /proc/sys bound read-only onto itself.
    RoProcSys,
    /// The seed's smallest case: one tmpfs on /proc/acpi (issue 6).
    Seed,
}

const RIG_SH: &str = r#"# usage: rig.sh MODE WHO UID GID HOME NAME -- CMD...   (root, inside unshare -m)
set -e
mode=$1 who=$2 uid=$3 gid=$4 home=$5 name=$6
shift 6; [ "$1" = -- ] && shift
mount --make-rprivate /
case $mode in
masked)
    mount -t tmpfs -o ro,size=0 none /proc/acpi
    for f in kcore keys timer_list sched_debug; do
        if [ -e /proc/$f ]; then mount --bind /dev/null /proc/$f; fi
    done
    for d in bus fs irq sys; do
        if [ -e /proc/$d ]; then mount --bind /proc/$d /proc/$d; mount -o remount,bind,ro /proc/$d; fi
    done ;;
rosys)
    mount --bind /proc/sys /proc/sys; mount -o remount,bind,ro /proc/sys ;;
seed)
    mount -t tmpfs none /proc/acpi ;;
*) echo "rig.sh: unknown mode $mode" >&2; exit 99 ;;
esac
if [ "$who" = user ]; then
    exec setpriv --reuid="$uid" --regid="$gid" --clear-groups \
        env HOME="$home" USER="$name" LOGNAME="$name" "$@"
fi
exec "$@"
"#;

const SECCOMP_PY: &str = r#"# usage: nw_seccomp.py MODE exec CMD... | nw_seccomp.py MODE export FILE
# Filters built with Debian's python3-seccomp (libseccomp).
import errno, os, sys
import seccomp

MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_MOVE = 0x20, 0x1000, 0x2000

def build(mode):
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    if mode == "nopivot":
        # Docker-style: pivot_root refused.
        f.add_rule(seccomp.ERRNO(errno.EPERM), "pivot_root")
    elif mode == "procmount-eperm":
        # A new mount with exactly nosuid,nodev,noexec (what bwrap and nestwrap
        # use for proc) gets EPERM, and so does the new mount API: an EPERM
        # that is NOT the kernel's "mount too revealing". Binds, remounts,
        # tmpfs (nosuid,nodev) and devpts (nosuid,noexec) are untouched.
        mask = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_REMOUNT | MS_BIND | MS_MOVE
        f.add_rule(seccomp.ERRNO(errno.EPERM), "mount",
                   seccomp.Arg(3, seccomp.MASKED_EQ, mask, MS_NOSUID | MS_NODEV | MS_NOEXEC))
        for sc in ("fsopen", "fsmount"):
            f.add_rule(seccomp.ERRNO(errno.EPERM), sc)
    elif mode in ("oldkernel", "newapi-eperm"):
        err = errno.ENOSYS if mode == "oldkernel" else errno.EPERM
        for sc in ("openat2", "mount_setattr", "open_tree", "move_mount", "fsopen",
                   "fsconfig", "fsmount", "fspick", "close_range", "faccessat2",
                   "pidfd_open"):
            f.add_rule(seccomp.ERRNO(err), sc)
    elif mode == "openat2-eperm":
        # A profile that refuses openat2 alone (EPERM), as older container
        # profiles that predate it do.
        f.add_rule(seccomp.ERRNO(errno.EPERM), "openat2")
    elif mode == "mkdir-enotty":
        # A caller's own --seccomp filter, observable: mkdir fails with ENOTTY.
        f.add_arch(seccomp.Arch.X86)
        for sc in ("mkdir", "mkdirat"):
            f.add_rule(seccomp.ERRNO(errno.ENOTTY), sc)
    elif mode in ("landlock-enosys", "landlock-eopnotsupp"):
        # No Landlock (a kernel before 5.13), or Landlock disabled at boot.
        err = errno.ENOSYS if mode == "landlock-enosys" else errno.EOPNOTSUPP
        for sc in ("landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"):
            f.add_rule(seccomp.ERRNO(err), sc)
    else:
        sys.exit("nw_seccomp.py: unknown mode " + mode)
    return f

mode, action = sys.argv[1], sys.argv[2]
f = build(mode)
if action == "export":
    with open(sys.argv[3], "wb") as out:
        f.export_bpf(out)
elif action == "exec":
    f.load()  # sets no_new_privs itself
    os.execvp(sys.argv[3], sys.argv[3:])
else:
    sys.exit("nw_seccomp.py: unknown action " + action)
"#;

const ESCAPE_PY: &str = r#"# usage: escape.py MARKER   (inside a sandbox, ideally holding capabilities)
# Tries to reach the host root: lazy-unmount /, then the classic chroot escape.
# Prints escape.umount=ok|ERRNO, escape.after_umount=True|False,
# escape.chroot=True|False|ERRNO (True = MARKER, a host-only path, is visible).
import ctypes, errno, os, sys
marker = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
r = libc.umount2(b"/", 2)
print("escape.umount=" + ("ok" if r == 0 else errno.errorcode.get(ctypes.get_errno(), "?")))
print("escape.after_umount=" + str(os.path.exists(marker)))
try:
    os.makedirs("/tmp/esc", exist_ok=True)
    os.chroot("/tmp/esc")
    for _ in range(64):
        os.chdir("..")
    os.chroot(".")
    print("escape.chroot=" + str(os.path.exists(marker)))
except OSError as e:
    print("escape.chroot=" + errno.errorcode.get(e.errno, "?"))
"#;

/// Path of the escape helper (a Python script run with `/usr/bin/python3`).
pub fn escape_py() -> PathBuf {
    rig_dir().join("escape.py")
}

/// Directory (0755, fresh per harness process) holding the rig scripts.
pub fn rig_dir() -> &'static Path {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let dir = bin_dir().join("hostile");
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        for (name, text) in [
            ("rig.sh", RIG_SH),
            ("nw_seccomp.py", SECCOMP_PY),
            ("escape.py", ESCAPE_PY),
            ("nest.sh", NEST_SH),
        ] {
            let p = dir.join(name);
            fs::write(&p, text).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        }
        dir
    })
}

/// Why a root-built rig cannot run here (None when it can).
fn rig_unavailable() -> Option<String> {
    static R: OnceLock<Option<String>> = OnceLock::new();
    R.get_or_init(|| {
        if !is_root() {
            return Some("masked /proc rigs need the harness to run as root".into());
        }
        let o = Command::new("unshare")
            .args(["-m", "sh"])
            .arg(rig_dir().join("rig.sh"))
            .args(["masked", "root", "0", "0", "/", "root", "--", "true"])
            .output();
        match o {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(format!("rig.sh failed: {}", String::from_utf8_lossy(&o.stderr).trim())),
            Err(e) => Some(format!("cannot run unshare: {e}")),
        }
    })
    .clone()
}

/// Check that `as_` can run inside a root-built rig; SKIP or panic (MUST_WORK).
pub fn require_rig(as_: As) -> bool {
    if !require(as_) {
        return false;
    }
    match rig_unavailable() {
        None => true,
        Some(r) if must_work() => panic!("NESTWRAP_MUST_WORK=1 but {r}"),
        Some(r) => {
            eprintln!("SKIP: {r}");
            false
        }
    }
}

/// A run of the binary (or of `.program(...)`) as `as_` inside `rig`. The
/// returned builder runs as root (the rig needs root) and switches to the test
/// user inside the rig. Call [`require_rig`] first.
pub fn in_rig(rig: Rig, as_: As) -> Sandbox {
    let id = ident(as_);
    let mode = match rig {
        Rig::Masked => "masked",
        Rig::RoProcSys => "rosys",
        Rig::Seed => "seed",
    };
    let who = if as_ == As::User { "user" } else { "root" };
    let (uid, gid) = (id.uid.to_string(), id.gid.to_string());
    let script = rig_dir().join("rig.sh");
    let home = id.home.to_str().unwrap().to_string();
    Sandbox::new(As::Root).wrap([
        "unshare",
        "-m",
        "sh",
        script.to_str().unwrap(),
        mode,
        who,
        &uid,
        &gid,
        &home,
        &id.name,
        "--",
    ])
}

/// Seccomp filters (see `SECCOMP_PY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seccomp {
    /// pivot_root → EPERM.
    NoPivot,
    /// New mounts with flags nosuid,nodev,noexec (proc) → EPERM; fsopen and
    /// fsmount → EPERM.
    ProcMountEperm,
    /// mkdir/mkdirat → ENOTTY (x86_64 and i386): a caller's `--seccomp` filter.
    MkdirEnotty,
    /// Everything newer than Linux 5.4 that nestwrap uses → ENOSYS (openat2,
    /// mount_setattr, the fs-context and open_tree/move_mount calls,
    /// close_range, faccessat2, pidfd_open): an old kernel.
    OldKernel,
    /// The same calls → EPERM: an old container profile that refuses
    /// syscalls it does not know.
    NewApiEperm,
    /// The landlock_* syscalls → ENOSYS (no Landlock in the kernel).
    LandlockEnosys,
    /// The landlock_* syscalls → EOPNOTSUPP (Landlock disabled at boot).
    LandlockEopnotsupp,
    /// Only openat2 → EPERM.
    Openat2Eperm,
}

impl Seccomp {
    fn mode(self) -> &'static str {
        match self {
            Seccomp::NoPivot => "nopivot",
            Seccomp::ProcMountEperm => "procmount-eperm",
            Seccomp::MkdirEnotty => "mkdir-enotty",
            Seccomp::OldKernel => "oldkernel",
            Seccomp::NewApiEperm => "newapi-eperm",
            Seccomp::LandlockEnosys => "landlock-enosys",
            Seccomp::LandlockEopnotsupp => "landlock-eopnotsupp",
            Seccomp::Openat2Eperm => "openat2-eperm",
        }
    }
}

const PYTHON: &str = "/usr/bin/python3";

fn seccomp_unavailable() -> Option<String> {
    static R: OnceLock<Option<String>> = OnceLock::new();
    R.get_or_init(|| {
        let o = Command::new(PYTHON).args(["-c", "import seccomp"]).output();
        match o {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(format!(
                "{PYTHON} cannot import seccomp (apt-get install python3-seccomp): {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Some(format!("cannot run {PYTHON}: {e}")),
        }
    })
    .clone()
}

/// Check that seccomp rigs can run as `as_`; SKIP or panic (MUST_WORK).
pub fn require_seccomp(as_: As) -> bool {
    if !require(as_) {
        return false;
    }
    match seccomp_unavailable() {
        None => true,
        Some(r) if must_work() => panic!("NESTWRAP_MUST_WORK=1 but {r}"),
        Some(r) => {
            eprintln!("SKIP: {r}");
            false
        }
    }
}

/// A run of the binary as `as_` under the seccomp filter `f` (loaded by a
/// Python helper that then execs the binary). Call [`require_seccomp`] first.
pub fn under_seccomp(f: Seccomp, as_: As) -> Sandbox {
    let script = rig_dir().join("nw_seccomp.py");
    Sandbox::new(as_).wrap([PYTHON, script.to_str().unwrap(), f.mode(), "exec"])
}

/// The command that runs `CMD...` under filter `f` (for a wrapper that
/// builds its own command line): `python3 nw_seccomp.py MODE exec`.
pub fn seccomp_exec_prefix(f: Seccomp) -> Vec<String> {
    let script = rig_dir().join("nw_seccomp.py");
    vec![PYTHON.into(), script.to_str().unwrap().into(), f.mode().into(), "exec".into()]
}

/// The seccomp helper (`python3 nw_seccomp.py MODE exec CMD...`).
pub fn seccomp_script() -> PathBuf {
    rig_dir().join("nw_seccomp.py")
}

/// The BPF program of filter `f`, for `--seccomp FD` / `--add-seccomp-fd FD`.
pub fn seccomp_bpf(f: Seccomp) -> Vec<u8> {
    let out = rig_dir().join(format!("{}.bpf", f.mode()));
    if !out.exists() {
        let tmp = rig_dir().join(format!("{}.bpf.{}", f.mode(), std::process::id()));
        let st = Command::new(PYTHON)
            .arg(rig_dir().join("nw_seccomp.py"))
            .args([f.mode(), "export"])
            .arg(&tmp)
            .status()
            .expect("run python3 nw_seccomp.py export");
        assert!(st.success(), "nw_seccomp.py export {} failed", f.mode());
        fs::rename(&tmp, &out).unwrap();
    }
    fs::read(out).unwrap()
}

// ---- JSON helpers ------------------------------------------------------------

/// The `--json-status-fd` line that carries `"command-pid"`, with all
/// whitespace removed (so `"proc": "parent-bind"` reads `"proc":"parent-bind"`).
pub fn command_pid_line(json: &str) -> Option<String> {
    json.lines()
        .find(|l| l.contains("\"command-pid\""))
        .map(|l| l.chars().filter(|c| !c.is_whitespace()).collect())
}

// ---- nesting -----------------------------------------------------------------

const NEST_SH: &str = r#"# usage: nest.sh N MAX BIN ARGS...   (prints level=N, then re-executes BIN)
n=$1 max=$2; shift 2
echo "level=$n"
[ "$n" -ge "$max" ] && exit 0
exec "$@" sh "$NEST_SH" $((n + 1)) "$max" "$@"
"#;

/// Result of a nesting run.
pub struct Nesting {
    /// The deepest level whose shell ran (0 = outside every sandbox).
    pub depth: u32,
    pub outcome: Outcome,
}

/// Run `bin args...` inside itself up to `max` levels as `as_` (each level is
/// `bin ARGS sh nest.sh N+1 ...`, the copy of the binary reached through
/// `--ro-bind / /`). Returns the depth reached.
pub fn nest_depth(as_: As, bin: &Path, args: &[&str], max: u32) -> Nesting {
    let script = rig_dir().join("nest.sh");
    let max = max.to_string();
    let outcome = Sandbox::new(as_)
        .program("sh")
        .env("NEST_SH", &script)
        .arg(&script)
        .args(["0", &max])
        .arg(bin)
        .args(args)
        .run();
    let depth = outcome
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("level="))
        .filter_map(|n| n.parse().ok())
        .max()
        .unwrap_or(0);
    Nesting { depth, outcome }
}

// ---- podman --------------------------------------------------------------------

/// Container root filesystems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rootfs {
    /// busybox-static plus the shared libraries of the binary and the probe.
    Busybox,
    /// An almost empty tree; host `/usr` and `/etc` are mounted read-only
    /// (Debian's merged /usr gives the whole userspace).
    Full,
}

fn podman_unavailable() -> Option<String> {
    static R: OnceLock<Option<String>> = OnceLock::new();
    R.get_or_init(|| {
        let Some(u) = test_user() else { return Some("no test user".into()) };
        for tool in ["podman", "runc", "newuidmap"] {
            if !["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
                .iter()
                .any(|d| Path::new(d).join(tool).exists())
            {
                return Some(format!("{tool} not installed (apt-get install podman runc uidmap)"));
            }
        }
        let sub = fs::read_to_string("/etc/subuid").unwrap_or_default();
        if !sub.lines().any(|l| l.starts_with(&format!("{}:", u.name))) {
            return Some(format!("no /etc/subuid range for {}", u.name));
        }
        None
    })
    .clone()
}

/// Check that rootless podman can run; SKIP or panic (MUST_WORK).
pub fn require_podman() -> bool {
    if !require(As::User) {
        return false;
    }
    match podman_unavailable() {
        None => true,
        Some(r) if must_work() => panic!("NESTWRAP_MUST_WORK=1 but podman: {r}"),
        Some(r) => {
            eprintln!("SKIP: podman: {r}");
            false
        }
    }
}

fn chown_tree(p: &Path, u: &Ident) {
    if is_root() {
        let st = Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", u.uid, u.gid))
            .arg(p)
            .status()
            .expect("chown");
        assert!(st.success());
    }
}

/// The shared libraries `ldd` lists for `bin` (absolute paths).
fn libs_of(bin: &Path) -> Vec<PathBuf> {
    let o = Command::new("ldd").arg(bin).output().expect("ldd");
    let text = String::from_utf8_lossy(&o.stdout);
    let mut v: Vec<PathBuf> = text
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Build (or reuse) a cached rootfs under the test user's home. Built in a
/// temporary directory and renamed, so concurrent test processes are safe.
fn rootfs(kind: Rootfs) -> PathBuf {
    let u = test_user().expect("test user");
    let cache = u.home.join(".cache/nestwrap-tests");
    let libs = match kind {
        Rootfs::Busybox => {
            let mut l = libs_of(binary());
            l.extend(libs_of(probe()));
            l.sort();
            l.dedup();
            l
        }
        Rootfs::Full => Vec::new(),
    };
    // The key changes when the set of libraries changes.
    let key: String = {
        let mut h: u64 = 0xcbf29ce484222325;
        for b in format!("{kind:?}{libs:?}").bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
        format!("{:?}-v1-{h:016x}", kind).to_lowercase()
    };
    let dest = cache.join(&key);
    if dest.join(".complete").exists() {
        return dest;
    }
    fs::create_dir_all(&cache).unwrap();
    chown_tree(&u.home.join(".cache"), u);
    let tmp = cache.join(format!("{key}.tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).unwrap();
    match kind {
        Rootfs::Busybox => {
            for d in ["bin", "usr/bin", "proc", "dev", "sys", "tmp", "etc", "nw"] {
                fs::create_dir_all(tmp.join(d)).unwrap();
            }
            fs::copy("/bin/busybox", tmp.join("bin/busybox"))
                .expect("copy /bin/busybox (apt-get install busybox-static)");
            for a in ["sh", "true", "id", "cat", "ls", "echo", "grep", "readlink", "sleep"] {
                std::os::unix::fs::symlink("busybox", tmp.join("bin").join(a)).unwrap();
            }
            for l in &libs {
                let d = tmp.join(l.strip_prefix("/").unwrap());
                fs::create_dir_all(d.parent().unwrap()).unwrap();
                fs::copy(l, &d).unwrap();
            }
            fs::write(tmp.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n").unwrap();
            fs::write(tmp.join("etc/group"), "root:x:0:\n").unwrap();
        }
        Rootfs::Full => {
            for d in ["usr", "etc", "proc", "dev", "sys", "tmp", "var/tmp", "home", "run", "nw"] {
                fs::create_dir_all(tmp.join(d)).unwrap();
            }
            for d in ["bin", "lib", "lib64", "sbin"] {
                std::os::unix::fs::symlink(format!("usr/{d}"), tmp.join(d)).unwrap();
            }
        }
    }
    fs::set_permissions(tmp.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    if kind == Rootfs::Full {
        fs::set_permissions(tmp.join("var/tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    }
    fs::write(tmp.join(".complete"), "").unwrap();
    chown_tree(&tmp, u);
    if fs::rename(&tmp, &dest).is_err() {
        // Another test process won the race.
        let _ = fs::remove_dir_all(&tmp);
    }
    dest
}

/// One rootless podman run (runc, cgroupfs, `--network=none`) as the test
/// user; the directory holding the binary and the probe is mounted read-only
/// at `/nw`. `user` is e.g. `Some("1000:1000")`, None for container root.
/// The container runs `/bin/sh -c SCRIPT`.
pub fn podman_run(kind: Rootfs, user: Option<&str>, extra: &[&str], script: &str) -> Outcome {
    let root = rootfs(kind);
    let mut args: Vec<String> = [
        "--runtime",
        "runc",
        "--cgroup-manager=cgroupfs",
        "run",
        "--rm",
        "--network=none",
        "--log-driver=none",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(u) = user {
        args.push(format!("--user={u}"));
    }
    args.push(format!("--volume={}:/nw:ro", bin_dir().display()));
    if kind == Rootfs::Full {
        args.push("--volume=/usr:/usr:ro".into());
        args.push("--volume=/etc:/etc:ro".into());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push("--rootfs".into()); // a flag: the path takes the image's place
    args.push(root.to_str().unwrap().into());
    args.extend(["/bin/sh".into(), "-c".into(), script.into()]);
    Sandbox::new(As::User).program("podman").args(&args).run()
}

/// Script fragment for [`podman_run`]: run a command and print
/// `case NAME rc=N` then its output, prefixed with `| `.
pub fn case_line(name: &str, cmd: &str) -> String {
    format!(
        "out=$( {cmd} 2>&1 ); rc=$?; echo \"case {name} rc=$rc\"; \
         [ -n \"$out\" ] && printf '%s\\n' \"$out\" | while IFS= read -r l; do echo \"| $l\"; done\n"
    )
}

/// Parse the output of scripts made of [`case_line`]s: NAME → (rc, output).
pub fn parse_cases(stdout: &str) -> BTreeMap<String, (i32, String)> {
    let mut m: BTreeMap<String, (i32, String)> = BTreeMap::new();
    let mut cur: Option<String> = None;
    for l in stdout.lines() {
        if let Some(rest) = l.strip_prefix("case ") {
            if let Some((name, rc)) = rest.split_once(" rc=") {
                m.insert(name.to_string(), (rc.parse().unwrap_or(-1), String::new()));
                cur = Some(name.to_string());
                continue;
            }
        }
        if let (Some(c), Some(text)) = (&cur, l.strip_prefix("| ")) {
            let e = m.get_mut(c).unwrap();
            e.1.push_str(text);
            e.1.push('\n');
        }
    }
    m
}
