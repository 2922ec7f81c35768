//! Differential tests: the same argument list through the real bubblewrap
//! 0.13.1 (`util::reference_bwrap()`, installed by `scripts/bwrap-reference.sh`;
//! required under `NESTWRAP_MUST_WORK=1`) and through nestwrap, as root (inside `unshare -m --propagation
//! private`) and as the unprivileged test user, comparing exit status, stderr,
//! and what the sandboxed `probe` sees (ids, caps, namespaces, hostname, cwd,
//! env, fds, the whole mount table, modes and contents of the paths the command
//! line touches, `/proc/self/{uid,gid}_map`) plus whatever the binary writes to
//! `--info-fd` / `--json-status-fd`.
//!
//! Inputs: the fixed corpus `tests/data/compat-cases.txt` (format described at
//! its top) and a seeded random generator (`NESTWRAP_COMPAT_SEED`, printed;
//! `NESTWRAP_COMPAT_RANDOM` = number of random cases, default 3000, spread over
//! both modes).
//!
//! Every difference must be explained by one of nestwrap's
//! [`INTENDED_DIFFERENCES`] (each names the options it covers and the
//! messages on both sides; its reason is in DESIGN.md "Intended differences
//! from bubblewrap 0.13.1"); anything else fails the test. The report (counts,
//! every case each rule matched, unexplained differences with both outputs,
//! per-option case counts split into parse-stage and setup-stage runs) is
//! printed and written to `target/compat-report.md`. Every reference run has
//! a timeout and is killed with its process group.
//!
//! Safety: writable binds (`--bind`, `--dev-bind` and their `-try` forms) take
//! their sources only from a scratch tree made per case (`$S`), and every
//! destination written to by `--file`, `--chmod`, `--bind-data`... lies outside
//! `/proc`, `/dev` and `/sys`, so a generated command line can never modify the
//! host; root cases additionally run inside `unshare -m --propagation private`.

use crate::util::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The reference implementation: bubblewrap 0.13.1 (`util::reference_bwrap()`).
fn bwrap() -> &'static Path {
    reference_bwrap().expect("reference bwrap checked by reference_available()")
}

// ---------------------------------------------------------------------------
// Cases

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Modes {
    Both,
    Root,
    User,
}

/// What a descriptor given to the binary carries.
#[derive(Debug, Clone)]
enum FdSpec {
    /// A pipe that yields these bytes then EOF.
    Data(Vec<u8>),
    /// A pipe whose write end the binary gets; what it writes is compared.
    Out,
    /// An open (O_RDONLY) descriptor of a path (placeholders expanded).
    Open(String),
}

#[derive(Debug, Clone)]
struct Case {
    name: String,
    modes: Modes,
    /// Caller's working directory (placeholders expanded); default `/`.
    cwd: Option<String>,
    env: Vec<(String, String)>,
    fds: Vec<(i32, FdSpec)>,
    /// Arguments, with `$S` (scratch tree), `$B` (binary directory) and the
    /// `PROBE` token (probe path + `--mountinfo`, extra probe arguments that
    /// follow it, and the paths the command line touches).
    argv: Vec<String>,
}

/// Named blobs for the corpus' fd column.
fn blob(name: &str) -> FdSpec {
    let d = |b: &[u8]| FdSpec::Data(b.to_vec());
    match name {
        "out" => FdSpec::Out,
        "hello" => d(b"hello\n"),
        "empty" => d(b""),
        "x" => d(b"x"),
        "passwd" => d(b"nwtest:x:1001:1001::/home/nwtest:/bin/sh\n"),
        "group" => d(b"nogroup:x:65534:[]\n"),
        // One classic-BPF instruction: ret SECCOMP_RET_ALLOW.
        "seccomp" => d(&[0x06, 0, 0, 0, 0, 0, 0xff, 0x7f]),
        "seccomp5" => d(&[0x06, 0, 0, 0, 0]),
        "args-env" => d(b"--setenv\0FROM_ARGS\0yes\0--dir\0/tmp/fromargs\0"),
        "args-nested" => d(b"--args\x005\0"),
        "args-cmd" => d(b"--setenv\0A\0b\0ignored-command\0--setenv\0C\0d\0"),
        "args-bad" => d(b"--no-such-option\0"),
        "big" => FdSpec::Data(vec![b'z'; 60000]),
        "args-flatpak" => d(b"--ro-bind\0/usr\0/usr\0--symlink\0usr/lib\0/lib\0--symlink\0usr/lib64\0/lib64\0\
              --symlink\0usr/bin\0/bin\0--ro-bind\0$B\0$B\0--unshare-pid\0--unshare-ipc\0--die-with-parent\0\
              --dir\0/run/user/1001\0--perms\x000700\0--dir\0/run/user/1001/x\0--setenv\0FLATPAK_ID\0org.test\0"),
        "userns" => FdSpec::Open("/proc/self/ns/user".into()),
        "pidns" => FdSpec::Open("/proc/self/ns/pid".into()),
        "dir" => FdSpec::Open("$S/dir".into()),
        "file" => FdSpec::Open("$S/file".into()),
        other => panic!("compat corpus: unknown fd blob {other:?}"),
    }
}

/// The minimal root most cases start from: /usr plus the merged-/usr symlinks
/// and the directory holding the probe.
const BASE: &str =
    "--ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin --ro-bind $B $B";

/// Split a corpus argv column: whitespace-separated, `'...'` quotes a word
/// (`''` is the empty word), `$BASE` expands to [`BASE`].
fn split_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out.into_iter()
        .flat_map(
            |w| {
                if w == "$BASE" {
                    BASE.split(' ').map(String::from).collect()
                } else {
                    vec![w]
                }
            },
        )
        .collect()
}

/// Parse `tests/data/compat-cases.txt`.
fn load_corpus() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/compat-cases.txt");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut cases = Vec::new();
    let mut names = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.splitn(4, '|').map(str::trim).collect();
        assert_eq!(cols.len(), 4, "compat-cases.txt:{}: want 4 columns: {line}", n + 1);
        let name = cols[0].to_string();
        assert!(names.insert(name.clone()), "compat-cases.txt:{}: duplicate {name}", n + 1);
        let mut modes = Modes::Both;
        let mut cwd = None;
        let mut env = Vec::new();
        for opt in cols[1].split(',').map(str::trim) {
            match opt {
                "both" => modes = Modes::Both,
                "root" => modes = Modes::Root,
                "user" => modes = Modes::User,
                o if o.starts_with("cwd=") => cwd = Some(o[4..].to_string()),
                o if o.starts_with("env=") => {
                    let (k, v) = o[4..].split_once('=').expect("env=K=V");
                    env.push((k.to_string(), v.to_string()));
                }
                o => panic!("compat-cases.txt:{}: bad mode {o:?}", n + 1),
            }
        }
        let mut fds = Vec::new();
        if cols[2] != "-" {
            for spec in cols[2].split_whitespace() {
                let (fd, b) = spec.split_once('=').expect("fd column: N=blob");
                fds.push((fd.parse().expect("fd number"), blob(b)));
            }
        }
        cases.push(Case { name, modes, cwd, env, fds, argv: split_words(cols[3]) });
    }
    cases
}

// ---------------------------------------------------------------------------
// Random generation (options both bwrap 0.8.0 and nestwrap know)

/// xorshift64* — small, seedable, reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
    fn pick2<'a>(&mut self, v: &[(&'a str, &'a str)]) -> (&'a str, &'a str) {
        v[self.below(v.len())]
    }
}

/// Destinations for mounts and created files (never under /proc, /dev, /sys).
const DESTS: &[&str] = &[
    "/tmp",
    "/tmp/a",
    "/tmp/a/b",
    "/tmp/a/b/c",
    "/mnt",
    "/mnt/x",
    "/opt/new",
    "/run/user/1001",
    "/newdir",
    "/var/tmp",
    "/etc",
    "/etc/passwd",
    "/usr/share/nw",
    "/home/nwtest",
    "$S/rw",
    "$S/rw/new",
    "$S/rw/f",
    "$S/dir",
    "$S/dir/sub",
    "$S/link",
    "$S/dangling",
    "tmp/rel",
];
/// Sources for read-only binds (anything readable is fine).
const RO_SRCS: &[&str] = &[
    "/usr",
    "/etc",
    "/etc/hostname",
    "/etc/passwd",
    "$S/dir",
    "$S/file",
    "$S/link",
    "$S/dangling",
    "/nonexistent",
    "$S/rw",
    "/usr/share",
    "/var/empty-nw",
];
/// Sources for writable binds: only the scratch tree (or missing paths).
const RW_SRCS: &[&str] =
    &["$S/dir", "$S/file", "$S/rw", "$S/rw/f", "$S/link", "$S/dangling", "$S/nothere", "$S/empty"];
const CAPS: &[&str] =
    &["ALL", "CAP_NET_ADMIN", "cap_sys_admin", "CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_BOGUS"];
const MODES_OCTAL: &[&str] = &["0755", "0700", "0750", "0644", "0600", "0000", "0711", "1777"];

/// Paths for --chmod: existing ones of every kind, symlinks, missing ones.
const CHMOD_PATHS: &[&str] = &[
    "/tmp",
    "/usr",
    "/etc/hostname",
    "$S/dir",
    "$S/file",
    "$S/link",
    "$S/dangling",
    "/nothere",
    "/bin",
];

/// Two or three ops on one destination (where bubblewrap 0.12 changed
/// most): what is there first (a symlink to a directory, a dangling or
/// absolute symlink, a file, a directory, a mount point, nothing, a missing
/// parent), then an op of any kind on it, sometimes a third.
fn same_destination(
    rng: &mut Rng,
    a: &mut Vec<String>,
    fds: &mut Vec<(i32, FdSpec)>,
    next_fd: &mut i32,
) {
    let base = rng.pick(&["/tmp/sd", "/mnt/sd", "$S/rw/sd", "/opt/sd", "/usr/sd", "/etc/sd"]);
    let dest = if rng.chance(20) { format!("{base}/missing/leaf") } else { base.to_string() };
    let d = dest.as_str();
    let mut data_fd = |a: &mut Vec<String>, fds: &mut Vec<(i32, FdSpec)>, op: &str| {
        let fd = next_fd.to_string();
        fds.push((*next_fd, blob("hello")));
        *next_fd += 1;
        a.extend([op.to_string(), fd, d.to_string()]);
    };
    let mut one =
        |rng: &mut Rng, a: &mut Vec<String>, fds: &mut Vec<(i32, FdSpec)>, first: bool| {
            let push = |a: &mut Vec<String>, s: &[&str]| a.extend(s.iter().map(|x| x.to_string()));
            let k = if first { rng.below(8) } else { rng.below(15) };
            match k {
                0 => push(
                    a,
                    &[
                        "--dir",
                        &format!("{d}-t"),
                        "--symlink",
                        &format!("{}-t", d.rsplit('/').next().unwrap_or("x")),
                        d,
                    ],
                ),
                1 => push(
                    a,
                    &["--symlink", rng.pick(&["nothere", "/usr", "/etc/hostname", "../x"]), d],
                ),
                2 => data_fd(a, fds, "--file"),
                3 => push(a, &["--dir", d]),
                4 => push(a, &["--tmpfs", d]),
                5 => push(a, &["--ro-bind", rng.pick(&["/etc/hostname", "$S/file"]), d]),
                6 => push(a, &["--ro-bind", rng.pick(&["/usr/share", "$S/dir"]), d]),
                7 => {}
                8 => data_fd(a, fds, rng.pick(&["--bind-data", "--ro-bind-data"])),
                9 => push(a, &["--chmod", rng.pick(MODES_OCTAL), d]),
                10 => push(a, &["--remount-ro", d]),
                11 => push(a, &[rng.pick(&["--proc", "--mqueue", "--dev"]), d]),
                12 => push(a, &["--bind", rng.pick(&["$S/rw", "$S/rw/f", "$S/link"]), d]),
                13 => push(a, &["--symlink", "target", d]),
                _ => push(a, &["--perms", rng.pick(MODES_OCTAL), "--dir", d]),
            }
        };
    one(rng, a, fds, true);
    one(rng, a, fds, false);
    if rng.chance(30) {
        one(rng, a, fds, false);
    }
}

/// One random case. `i` picks the mode so that modes alternate.
fn gen_case(rng: &mut Rng, i: usize) -> Case {
    let mut a: Vec<String> = Vec::new();
    let mut fds: Vec<(i32, FdSpec)> = Vec::new();
    let mut next_fd = 3;
    let push = |a: &mut Vec<String>, s: &[&str]| a.extend(s.iter().map(|x| x.to_string()));
    // Root of the sandbox.
    match rng.below(4) {
        0 | 1 => push(&mut a, &split_words(BASE).iter().map(|s| s.as_str()).collect::<Vec<_>>()),
        2 => push(&mut a, &["--ro-bind", "/", "/"]),
        _ => push(&mut a, &["--ro-bind", "/", "/", "--tmpfs", "/tmp"]),
    }
    // Namespaces and process options.
    let flags = [
        "--unshare-user",
        "--unshare-user-try",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup",
        "--unshare-cgroup-try",
        "--unshare-all",
        "--share-net",
        "--die-with-parent",
        "--new-session",
        "--as-pid-1",
        "--clearenv",
        "--disable-userns",
        "--assert-userns-disabled",
    ];
    for _ in 0..rng.below(4) {
        push(&mut a, &[rng.pick(&flags)]);
    }
    // 0.13.1's hook to apply mount flags by remounting, as without
    // mount_setattr: both fallbacks compared.
    if rng.chance(8) {
        push(&mut a, &["--debug-opt=force-mount-setattr-fallback"]);
    }
    let n_ops = rng.below(6);
    for _ in 0..n_ops {
        let dest = rng.pick(DESTS);
        match rng.below(50) {
            0 => push(&mut a, &["--tmpfs", dest]),
            1 => push(&mut a, &["--dir", dest]),
            2 => {
                push(&mut a, &["--symlink", rng.pick(&["target", "/usr", "../x", "$S/dir"]), dest])
            }
            3 => push(&mut a, &["--ro-bind", rng.pick(RO_SRCS), dest]),
            4 => push(&mut a, &["--ro-bind-try", rng.pick(RO_SRCS), dest]),
            5 => push(&mut a, &["--bind", rng.pick(RW_SRCS), dest]),
            6 => push(&mut a, &["--bind-try", rng.pick(RW_SRCS), dest]),
            7 => push(&mut a, &["--dev-bind", rng.pick(RW_SRCS), dest]),
            8 => push(&mut a, &["--dev-bind-try", rng.pick(RW_SRCS), dest]),
            9 => push(&mut a, &["--remount-ro", dest]),
            10 => push(&mut a, &["--proc", rng.pick(&["/proc", "/tmp/p"])]),
            11 => push(&mut a, &["--dev", rng.pick(&["/dev", "/tmp/d"])]),
            12 => push(&mut a, &["--mqueue", rng.pick(&["/dev/mqueue", "/tmp/mq"])]),
            13..=15 => {
                let op = rng.pick(&["--file", "--bind-data", "--ro-bind-data"]);
                let fd = next_fd.to_string();
                fds.push((next_fd, blob(rng.pick(&["hello", "empty", "passwd"]))));
                next_fd += 1;
                if rng.chance(30) {
                    push(&mut a, &["--perms", rng.pick(MODES_OCTAL)]);
                }
                push(&mut a, &[op, &fd, dest]);
            }
            16 => push(&mut a, &["--chmod", rng.pick(MODES_OCTAL), dest]),
            17 => push(&mut a, &["--perms", rng.pick(MODES_OCTAL), "--dir", dest]),
            18 => push(&mut a, &["--perms", rng.pick(MODES_OCTAL), "--tmpfs", dest]),
            19 => push(
                &mut a,
                &["--size", rng.pick(&["1048576", "0x100000", "4096"]), "--tmpfs", dest],
            ),
            20 => push(
                &mut a,
                &[
                    "--setenv",
                    rng.pick(&["FOO", "PATH", "HOME", "X_Y"]),
                    rng.pick(&["1", "", "/x:/y"]),
                ],
            ),
            21 => push(&mut a, &["--unsetenv", rng.pick(&["HOME", "USER", "NOPE", "PATH"])]),
            22 => push(
                &mut a,
                &["--chdir", rng.pick(&["/", "/tmp", "/usr", "/nonexistent", "$S/dir", "/tmp/a"])],
            ),
            23 => push(&mut a, &["--hostname", rng.pick(&["sandbox", "x", "a.b.c"])]),
            24 => push(
                &mut a,
                &[rng.pick(&["--uid", "--gid"]), rng.pick(&["0", "1001", "5", "65534"])],
            ),
            25 => push(&mut a, &[rng.pick(&["--cap-add", "--cap-drop"]), rng.pick(CAPS)]),
            26 => push(
                &mut a,
                &["--lock-file", rng.pick(&["$S/file", "/etc/hostname", "/nonexistent"])],
            ),
            27 => {
                let op = rng.pick(&["--bind-fd", "--ro-bind-fd"]);
                let fd = next_fd.to_string();
                fds.push((next_fd, blob(rng.pick(&["dir", "file"]))));
                next_fd += 1;
                push(&mut a, &[op, &fd, dest]);
            }
            28 => {
                let op = rng.pick(&["--seccomp", "--add-seccomp-fd", "--block-fd", "--sync-fd"]);
                let fd = next_fd.to_string();
                fds.push((next_fd, blob(if op.contains("seccomp") { "seccomp" } else { "x" })));
                next_fd += 1;
                push(&mut a, &[op, &fd]);
            }
            29 => {
                let op = rng.pick(&["--info-fd", "--json-status-fd"]);
                let fd = next_fd.to_string();
                fds.push((next_fd, FdSpec::Out));
                next_fd += 1;
                push(&mut a, &[op, &fd]);
            }
            30 => push(&mut a, &["--argv0", rng.pick(&["foo", "", "/bin/x"])]),
            31 => push(&mut a, &[rng.pick(&["--level-prefix", "--not-a-security-boundary"])]),
            32 => {
                push(&mut a, &["--overlay-src", "$S/lower"]);
                match rng.below(3) {
                    0 => push(&mut a, &["--tmp-overlay", dest]),
                    1 => push(&mut a, &["--overlay-src", "$S/lower2", "--ro-overlay", dest]),
                    _ => push(&mut a, &["--overlay", "$S/upper", "$S/work", dest]),
                }
            }
            33..=36 => same_destination(rng, &mut a, &mut fds, &mut next_fd),
            37 => {
                let fd = next_fd.to_string();
                fds.push((next_fd, blob("args-env")));
                next_fd += 1;
                push(&mut a, &["--args", &fd]);
            }
            38 => {
                // Namespaces by fd: the caller's own (joining it is allowed).
                let (op, b) = rng.pick2(&[("--userns", "userns"), ("--pidns", "pidns")]);
                let fd = next_fd.to_string();
                fds.push((next_fd, blob(b)));
                next_fd += 1;
                push(&mut a, &[op, &fd]);
            }
            39 => {
                let (info, block) = (next_fd.to_string(), (next_fd + 1).to_string());
                fds.push((next_fd, FdSpec::Out));
                fds.push((next_fd + 1, blob("x")));
                next_fd += 2;
                push(&mut a, &["--unshare-user", "--info-fd", &info, "--userns-block-fd", &block]);
            }
            41 => {
                // --userns2 only with --userns (0.13.1 hangs on
                // `--unshare-user --userns2 FD` as root).
                let (u, u2) = (next_fd.to_string(), (next_fd + 1).to_string());
                fds.push((next_fd, blob("userns")));
                fds.push((next_fd + 1, blob("userns")));
                next_fd += 2;
                push(&mut a, &["--userns", &u, "--userns2", &u2]);
            }
            42 | 43 => {
                let op = rng.pick(&["--add-seccomp-fd", "--sync-fd"]);
                let fd = next_fd.to_string();
                fds.push((next_fd, blob(if op.contains("seccomp") { "seccomp" } else { "x" })));
                next_fd += 1;
                push(&mut a, &[op, &fd]);
            }
            46 => {
                let op = rng.pick(&["--seccomp", "--block-fd"]);
                let fd = next_fd.to_string();
                fds.push((next_fd, blob(if op.contains("seccomp") { "seccomp" } else { "x" })));
                next_fd += 1;
                push(&mut a, &[op, &fd]);
            }
            44 | 45 => {
                push(&mut a, &["--overlay-src", "$S/lower"]);
                match rng.below(3) {
                    0 => push(&mut a, &["--overlay-src", "$S/lower2", "--ro-overlay", dest]),
                    1 => push(&mut a, &["--tmp-overlay", dest]),
                    _ => push(&mut a, &["--overlay", "$S/upper", "$S/work", dest]),
                }
            }
            48 => {
                push(&mut a, &["--unshare-user", "--disable-userns"]);
                if rng.chance(50) {
                    push(&mut a, &["--assert-userns-disabled"]);
                }
            }
            47 => {
                let op = rng.pick(&["--bind-fd", "--ro-bind-fd"]);
                let fd = next_fd.to_string();
                fds.push((next_fd, blob(rng.pick(&["dir", "file"]))));
                next_fd += 1;
                push(&mut a, &[op, &fd, dest]);
            }
            40 => push(
                &mut a,
                &[rng.pick(&["--exec-label", "--file-label"]), "system_u:object_r:x:s0"],
            ),
            _ => push(&mut a, &["--chmod", rng.pick(MODES_OCTAL), rng.pick(CHMOD_PATHS)]),
        }
    }
    // Invalid mutations, about one case in six.
    if rng.chance(17) {
        match rng.below(10) {
            0 => {
                let at = rng.below(a.len() + 1);
                a.insert(
                    at,
                    rng.pick(&["--foo", "--bind=/", "-x", "--tmpfs-", "--Unshare-pid"]).into(),
                );
            }
            1 => {
                // Drop the last argument: "--x takes N arguments" or a shifted line.
                a.pop();
                a.push(
                    rng.pick(&[
                        "--tmpfs",
                        "--bind",
                        "--setenv",
                        "--chdir",
                        "--perms",
                        "--chmod",
                        "--symlink",
                    ])
                    .into(),
                );
                a.push("PROBE-NOTHING".into());
            }
            2 => push(
                &mut a,
                &["--perms", rng.pick(&["8", "abc", "-1", "077777", "07777"]), "--dir", "/tmp/pp"],
            ),
            3 => push(&mut a, &["--chmod", rng.pick(&["9", "x", "010000"]), "/tmp"]),
            4 => push(
                &mut a,
                &[
                    rng.pick(&["--info-fd", "--sync-fd", "--block-fd", "--file"]),
                    rng.pick(&["abc", "-1", "", "3x"]),
                    "/tmp/f",
                ],
            ),
            5 => push(
                &mut a,
                &[
                    "--size",
                    rng.pick(&["0", "abc", "-5", "18446744073709551615"]),
                    "--tmpfs",
                    "/tmp/s",
                ],
            ),
            6 => push(
                &mut a,
                &[
                    "--perms",
                    "0700",
                    rng.pick(&["--bind", "--proc", "--symlink", "--size"]),
                    "/a",
                    "/b",
                ],
            ),
            7 => push(
                &mut a,
                &[rng.pick(&["--bind", "--ro-bind", "--dev-bind"]), "/nonexistent-nw", "/mnt"],
            ),
            8 => push(
                &mut a,
                &[rng.pick(&["--exec-label", "--file-label"]), "system_u:object_r:x:s0"],
            ),
            // An empty path argument (0.13.1 refuses them while parsing).
            _ => match rng.below(4) {
                0 => {
                    push(&mut a, &[rng.pick(&["--tmpfs", "--dir", "--remount-ro", "--chdir"]), ""])
                }
                1 => push(&mut a, &[rng.pick(&["--ro-bind", "--bind", "--symlink"]), "", "/mnt"]),
                2 => push(&mut a, &["--ro-bind", "/usr", ""]),
                _ => push(&mut a, &["--chmod", rng.pick(&["0755", "abc"]), ""]),
            },
        }
    }
    if a.last().map(String::as_str) == Some("PROBE-NOTHING") {
        a.pop(); // no COMMAND at all: usage
    } else {
        a.push("PROBE".into());
    }
    Case {
        name: format!("random-{i}"),
        modes: if i % 2 == 0 { Modes::Root } else { Modes::User },
        cwd: if rng.chance(10) { Some("$S/dir".into()) } else { None },
        env: Vec::new(),
        fds,
        argv: a,
    }
}

// ---------------------------------------------------------------------------
// Scratch tree, one per (case, mode); rebuilt identically for each binary.

fn scratch_path(idx: usize, as_: As) -> PathBuf {
    let base = std::env::var_os("NESTWRAP_TEST_TMP")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/var/tmp".into());
    base.join(format!(
        "nwcompat-{}-{idx}-{}",
        std::process::id(),
        if as_ == As::Root { "r" } else { "u" }
    ))
}

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

fn remove_scratch(s: &Path) {
    open_up(s);
    let _ = fs::remove_dir_all(s);
}

fn make_scratch(s: &Path, as_: As) {
    remove_scratch(s);
    let owner = match as_ {
        As::User if is_root() => test_user().map(|u| (u.uid, u.gid)),
        _ => None,
    };
    let own = |p: &Path| {
        if let Some((u, g)) = owner {
            std::os::unix::fs::lchown(p, Some(u), Some(g)).unwrap();
        }
    };
    let dir = |rel: &str| {
        let p = s.join(rel);
        fs::create_dir(&p).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        own(&p);
    };
    let file = |rel: &str, data: &str| {
        let p = s.join(rel);
        fs::write(&p, data).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        own(&p);
    };
    dir("");
    for d in ["dir", "dir/sub", "rw", "empty", "lower", "lower2", "upper", "work"] {
        dir(d);
    }
    file("dir/file", "hello\n");
    file("file", "data\n");
    file("rw/f", "rw\n");
    file("lower/l", "lower\n");
    for (name, target) in [("link", "dir"), ("dangling", "nothere"), ("selflink", "target")] {
        let p = s.join(name);
        std::os::unix::fs::symlink(target, &p).unwrap();
        own(&p);
    }
}

// ---------------------------------------------------------------------------
// Running one side

/// The facts of one run, normalised; keys: `status`, `stderr`, `stdout` (when
/// the command is not the probe), `fact.<probe key>`, `mountinfo`, `fd.<n>`.
type View = BTreeMap<String, String>;

/// Expand placeholders in one word.
fn expand(w: &str, s: &Path) -> String {
    w.replace("$S", s.to_str().unwrap()).replace("$B", bin_dir().to_str().unwrap())
}

const ONE_ARG: &[&str] = &[
    "--tmpfs",
    "--dir",
    "--proc",
    "--dev",
    "--mqueue",
    "--remount-ro",
    "--lock-file",
    "--chdir",
    "--tmp-overlay",
    "--ro-overlay",
];
const TWO_ARG_DEST: &[&str] = &[
    "--bind",
    "--bind-try",
    "--ro-bind",
    "--ro-bind-try",
    "--dev-bind",
    "--dev-bind-try",
    "--symlink",
    "--file",
    "--bind-data",
    "--ro-bind-data",
    "--chmod",
    "--bind-fd",
    "--ro-bind-fd",
];

/// Paths worth looking at inside: every destination and its parent.
fn touched_paths(argv: &[String]) -> Vec<String> {
    let mut v: Vec<String> = vec!["/proc/self/uid_map".into(), "/proc/self/gid_map".into()];
    let mut add = |p: &str| {
        let p =
            if p.starts_with('/') || p.starts_with('$') { p.to_string() } else { format!("/{p}") };
        let p = p.trim_end_matches('/').to_string();
        if p.is_empty() {
            return;
        }
        if let Some((parent, _)) = p.rsplit_once('/') {
            if !parent.is_empty() && !v.contains(&parent.to_string()) {
                v.push(parent.to_string());
            }
        }
        if !v.contains(&p) {
            v.push(p);
        }
    };
    let mut i = 0;
    while i < argv.len() {
        let a = argv[i].as_str();
        if a == "PROBE" || a == "--" {
            break;
        }
        if ONE_ARG.contains(&a) && i + 1 < argv.len() {
            add(&argv[i + 1]);
            i += 2;
        } else if TWO_ARG_DEST.contains(&a) && i + 2 < argv.len() {
            add(&argv[i + 2]);
            i += 3;
        } else if a == "--overlay" && i + 3 < argv.len() {
            add(&argv[i + 3]);
            i += 4;
        } else {
            i += 1;
        }
    }
    v.truncate(40);
    v
}

fn host_ns() -> &'static BTreeMap<String, String> {
    static H: std::sync::OnceLock<BTreeMap<String, String>> = std::sync::OnceLock::new();
    H.get_or_init(|| {
        let mut m = BTreeMap::new();
        for e in fs::read_dir("/proc/self/ns").unwrap().flatten() {
            let t = fs::read_link(e.path()).unwrap().to_string_lossy().into_owned();
            let ino = t.split_once('[').map(|(_, r)| r.trim_end_matches(']').to_string());
            m.insert(e.file_name().to_string_lossy().into_owned(), ino.unwrap_or(t));
        }
        m
    })
}

/// Replace every run of digits by `N` (JSON from --info-fd/--json-status-fd).
fn digits_to_n(s: &str) -> String {
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

fn run_side(case: &Case, as_: As, program: &Path, s: &Path) -> View {
    let mut argv: Vec<String> = Vec::new();
    let mut is_probe = false;
    for (i, w) in case.argv.iter().enumerate() {
        if w == "PROBE" {
            is_probe = true;
            argv.push(probe().to_str().unwrap().to_string());
            argv.push("--mountinfo".into());
            argv.extend(case.argv[i + 1..].iter().map(|w| expand(w, s)));
            argv.extend(touched_paths(&case.argv).iter().map(|w| expand(w, s)));
            break;
        }
        // COMMAND `probe` found through PATH (`--setenv PATH $B probe`).
        is_probe |= w == "probe";
        argv.push(expand(w, s));
    }
    // Both sides: a timeout, and nothing left behind (0.13.1 leaves a
    // blocked child when its parent fails after the clone).
    let mut sb = Sandbox::new(as_).reference(program).args(&argv);
    if as_ == As::Root {
        sb = sb.wrap(["unshare", "-m", "--propagation", "private"]);
    }
    if let Some(c) = &case.cwd {
        sb = sb.cwd(expand(c, s));
    }
    for (k, v) in &case.env {
        sb = sb.env(k, expand(v, s));
    }
    for (fd, spec) in &case.fds {
        sb = match spec {
            FdSpec::Data(d) if d.windows(2).any(|w| w == b"$B" || w == b"$S") => {
                sb.data_fd(*fd, expand(&String::from_utf8_lossy(d), s).as_bytes())
            }
            FdSpec::Data(d) => sb.data_fd(*fd, d),
            FdSpec::Out => sb.read_fd(*fd),
            FdSpec::Open(p) => {
                let f = fs::File::open(expand(p, s)).expect("open fd source");
                sb.fd(*fd, OwnedFd::from(f))
            }
        };
    }
    let o = sb.run();
    let prog = program.to_str().unwrap();
    let norm =
        |t: &str| mask_bindfile_names(&t.replace(prog, "BWRAP").replace(s.to_str().unwrap(), "$S"));
    let mut v = View::new();
    v.insert("status".into(), o.status.to_string());
    v.insert("stderr".into(), norm(&o.stderr));
    for (fd, data) in &o.fds {
        v.insert(format!("fd.{fd}"), digits_to_n(&String::from_utf8_lossy(data)));
    }
    // Probe output: key=value lines, `mountinfo=` lines kept in order. Anything
    // else (or a non-probe command) is compared verbatim.
    let looks_like_probe = is_probe && o.stdout.starts_with("uid=");
    if !looks_like_probe {
        v.insert("stdout".into(), norm(&o.stdout));
        return v;
    }
    let mut mounts = Vec::new();
    for line in o.stdout.lines() {
        let line = norm(line);
        match line.split_once('=') {
            Some(("mountinfo", m)) => mounts.push(m.to_string()),
            Some((k, val)) => {
                v.insert(format!("fact.{k}"), val.to_string());
            }
            None => {
                v.insert("stdout.extra".into(), line.to_string());
            }
        }
    }
    v.insert("mountinfo".into(), mounts.join("\n"));
    // Namespaces: only whether they are the host's.
    let host = host_ns();
    let keys: Vec<String> = v.keys().filter(|k| k.starts_with("fact.ns.")).cloned().collect();
    for k in keys {
        let name = &k["fact.ns.".len()..];
        let same = host.get(name).is_some_and(|h| Some(h) == v.get(&k));
        v.insert(k, if same { "host".into() } else { "new".into() });
    }
    // Pids of the host's pid namespace (large numbers; /proc may be absent
    // inside, so ns.pid cannot always tell) differ from run to run.
    let host_pids = v.get("fact.ns.pid").map(String::as_str) == Some("host")
        || v.get("fact.pid").and_then(|p| p.parse::<u32>().ok()).is_some_and(|p| p > 50);
    // A /proc that is the host's (bound, not fresh) lists host pids.
    let host_proc = v
        .get("fact.proc.pids")
        .is_some_and(|l| l.split(',').any(|p| p.parse::<u32>().is_ok_and(|p| p > 50)));
    if host_proc {
        v.insert("fact.proc.pids".into(), "<host pids>".into());
    }
    if host_pids {
        for k in ["fact.pid", "fact.ppid", "fact.proc.pids"] {
            if v.contains_key(k) {
                v.insert(k.into(), "<host pids>".into());
            }
        }
    }
    v
}

// ---------------------------------------------------------------------------
// Explanations

/// What a rule sees: the case's expanded-free argv and mode.
struct Ctx<'a> {
    argv: &'a [String],
    as_: As,
}

impl Ctx<'_> {
    fn has(&self, opt: &str) -> bool {
        self.argv.iter().take_while(|a| *a != "PROBE").any(|a| a == opt)
    }
}

/// A rule rewrites the two views so that the difference it explains vanishes;
/// it returns true when it changed something.
struct Rule {
    id: &'static str,
    /// The options the rule covers: it is tried only on command lines that
    /// use one of them (`USAGE`: only on runs whose output is the usage text).
    options: &'static [&'static str],
    /// What 0.13.1 and nestwrap print or show, exactly.
    bwrap_says: &'static str,
    nestwrap_says: &'static str,
    reason: &'static str,
    apply: fn(&Ctx, &mut View, &mut View) -> bool,
}

/// Pseudo-option of [`Rule::options`]: the run printed the usage text.
const USAGE: &str = "(usage)";

fn is_usage(v: &View) -> bool {
    ["stdout", "stderr"].iter().any(|k| {
        let t = get(v, k);
        t.starts_with("usage: ") || t.contains("\nusage: ")
    })
}

impl Rule {
    fn may_apply(&self, ctx: &Ctx, bw: &View, nw: &View) -> bool {
        self.options.iter().any(
            |o| {
                if *o == USAGE {
                    is_usage(bw) && is_usage(nw)
                } else {
                    ctx.has(o)
                }
            },
        )
    }
}

fn get<'a>(v: &'a View, k: &str) -> &'a str {
    v.get(k).map(String::as_str).unwrap_or("")
}

const INTENDED_DIFFERENCES: &[Rule] = &[
    Rule {
        id: "proc-covers-effective-creds",
        options: &["--proc"],
        bwrap_says: "with --uid N (N != 0) as root: no read-only cover mounts on PROC/{sys,sysrq-trigger,irq,bus}",
        nestwrap_says: "the four read-only `proc` cover mounts (mountinfo lines `PROC/sys proc ro,...`)",
        reason: "bwrap covers /proc/{sys,sysrq-trigger,irq,bus} read-only only if access(W_OK) succeeds; \
                 access() drops capabilities when the sandbox uid is not 0, so with --uid N bwrap leaves \
                 them uncovered. nestwrap checks with the effective credentials (AT_EACCESS) and \
                 covers them: the sandbox is never weaker",
        apply: |_, bw, nw| {
            // Strip nestwrap's extra covers (wherever --proc put procfs);
            // whatever else differs is left to the other rules.
            let b: Vec<String> = get(bw, "mountinfo").lines().map(String::from).collect();
            let is_cover = |l: &str| {
                let f: Vec<&str> = l.split(' ').collect();
                f.len() == 4
                    && f[1] == "proc"
                    && f[2].split(',').any(|o| o == "ro")
                    && ["/sys", "/sysrq-trigger", "/irq", "/bus"].iter().any(|c| f[0].ends_with(c))
            };
            let n = get(nw, "mountinfo").to_string();
            let kept: Vec<&str> =
                n.lines().filter(|l| b.iter().any(|x| x == l) || !is_cover(l)).collect();
            if kept.len() == n.lines().count() {
                return false;
            }
            let mut text = kept.join("\n");
            if n.ends_with('\n') {
                text.push('\n');
            }
            nw.insert("mountinfo".into(), text);
            true
        },
    },
    Rule {
        id: "pidns-failure-one-line",
        options: &["--pidns"],
        bwrap_says: "`bwrap: Setting pidns failed: ERR` then `bwrap: Unexpected short read from pid socket`",
        nestwrap_says: "`bwrap: Setting pidns failed: ERR` only",
        reason: "a failed --pidns setns: bwrap's child prints `Setting pidns failed: ...` and its monitor \
                 adds `Unexpected short read from pid socket`; DECISIONS.md wants exactly one error line \
                 for bad input, so nestwrap's monitor stays silent when the child already said why",
        apply: |_, bw, nw| {
            let b = get(bw, "stderr").to_string();
            let n = get(nw, "stderr").to_string();
            // With --level-prefix the line starts with `<3>`.
            let extra = "bwrap: Unexpected short read from pid socket\n";
            let without = b.replace(&format!("<3>{extra}"), "").replace(extra, "");
            if b.contains("bwrap: Setting pidns failed: ") && without == n {
                bw.insert("stderr".into(), n);
                return true;
            }
            false
        },
    },
    Rule {
        id: "lock-file-failure-no-command",
        options: &["--lock-file"],
        bwrap_says: "`bwrap: Unable to open lock file DEST: ERR` (or `Unable to lock file`), COMMAND's own output and a json-status `exit-code` line by timing",
        nestwrap_says: "the same one line and status; COMMAND never runs",
        reason: "when a --lock-file cannot be opened/locked both fail with the same message and \
                 status, but bwrap's reaper takes the lock while COMMAND already runs (its output \
                 and json-status exit-code appear or not, by timing); nestwrap's reaper takes \
                 them (also without capabilities) before it lets COMMAND go on, so COMMAND \
                 never starts. COMMAND's output and the last json-status \
                 line are ignored.",
        apply: |ctx, bw, nw| {
            // nestwrap: exactly the lock failure. bwrap: the same line, possibly
            // interleaved byte-wise with COMMAND's own failure (two processes
            // writing at once), which we remove before comparing.
            // --level-prefix: the same lines with `<3>`/`<4>` in front.
            let unprefix = |t: &str| t.replace("<3>bwrap: ", "bwrap: ").replace("<4>bwrap: ", "bwrap: ");
            let n = unprefix(get(nw, "stderr"));
            let b_unprefixed = unprefix(get(bw, "stderr"));
            // Warnings printed while parsing (`Only the last --uid ...`)
            // come first in both, identically; the lock failure is last.
            let (before, line) = match n.trim_end().rsplit_once('\n') {
                Some((b, l)) => (format!("{b}\n"), l),
                None => (String::new(), n.trim_end()),
            };
            let is_lock = |l: &str| {
                l.starts_with("bwrap: Unable to open lock file ") || l.starts_with("bwrap: Unable to lock file ")
            };
            // The two writes may interleave byte-wise: take the lock message
            // out as a subsequence, not as a substring.
            let Some(rest) = b_unprefixed.strip_prefix(before.as_str()) else { return false };
            let mut rest = rest.to_string();
            if let Some(msg) = line.strip_prefix("bwrap: ") {
                match remove_subsequence(&rest, msg) {
                    Some(r) => rest = r,
                    None => return false,
                }
            }
            let rest: String = rest
                .split("bwrap: ")
                .filter(|part| {
                    let t = part.trim();
                    let execvp_failure = t.starts_with("execvp ") && t.contains(": ");
                    !t.is_empty() && !execvp_failure
                })
                .collect();
            let hit = ctx.has("--lock-file")
                && get(bw, "status") == get(nw, "status")
                && line.lines().count() == 1
                && is_lock(line)
                && rest.trim().is_empty();
            if !hit {
                return false;
            }
            let original = get(nw, "stderr").to_string();
            bw.insert("stderr".into(), original);
            let strip = |v: &mut View| {
                v.retain(|k, _| !(k.starts_with("fact.") || k == "mountinfo" || k.starts_with("stdout")));
                for (k, val) in v.iter_mut() {
                    if k.starts_with("fd.") {
                        let kept: Vec<&str> = val
                            .lines()
                            .filter(|l| !l.starts_with("{ \"exit-code\"") && !l.starts_with("{ \"error\""))
                            .collect();
                        *val = kept.join("\n");
                    }
                }
            };
            strip(bw);
            strip(nw);
            true
        },
    },
    Rule {
        id: "dev-single-userns",
        options: &["--dev"],
        bwrap_says: "/proc/self/{uid,gid}_map `U 0 1`; devpts root owned by the sandbox uid/gid",
        nestwrap_says: "/proc/self/{uid,gid}_map `U HOSTID 1`; devpts root 65534:65534",
        reason: "DECISIONS (Nesting depth): with --dev nestwrap keeps one user namespace \
                 (devpts mounts fine on kernel 6.18 with only a non-zero uid mapped), so \
                 /proc/self/{uid,gid}_map shows `U HOSTUID 1` where bwrap's second level shows `U 0 1`; \
                 consequence: the devpts root (owned by the namespace's unmapped uid 0) shows as \
                 65534:65534 where bwrap shows the sandbox uid/gid",
        apply: |ctx, bw, nw| {
            if !ctx.has("--dev") || ctx.as_ == As::Root && !ctx.has("--unshare-user") {
                return false;
            }
            let mut changed = false;
            // The devpts root belongs to the namespace's uid 0, which only
            // bwrap's first level maps; nestwrap shows the overflow ids.
            for (k, val) in bw.iter().filter(|(k, _)| k.starts_with("fact.stat.") && k.ends_with("/pts")) {
                let n = get(nw, k);
                let (bf, nf): (Vec<&str>, Vec<&str>) = (val.split(' ').collect(), n.split(' ').collect());
                if val != n && bf.len() == 4 && nf.len() == 4 && bf[..2] == nf[..2] && nf[2] == "65534" && nf[3] == "65534" {
                    let k = k.clone();
                    let val = val.clone();
                    nw.insert(k, val);
                    changed = true;
                }
            }
            for k in ["fact.content./proc/self/uid_map", "fact.content./proc/self/gid_map"] {
                let (b, n) = (get(bw, k).to_string(), get(nw, k).to_string());
                // The probe escapes the newline: "  1001  0  1\\n".
                let bf: Vec<&str> = b.trim_end_matches("\\n").split_whitespace().collect();
                let nf: Vec<&str> = n.trim_end_matches("\\n").split_whitespace().collect();
                if b != n && bf.len() == 3 && nf.len() == 3 && bf[0] == nf[0] && bf[1] == "0" && bf[2] == "1" && nf[2] == "1" {
                    nw.insert(k.into(), b);
                    changed = true;
                }
            }
            changed
        },
    },
    Rule {
        id: "json-status-extra-lines",
        options: &["--json-status-fd"],
        bwrap_says: "`{ \"child-pid\": N, ... }` and, when COMMAND ran, `{ \"exit-code\": N }`; nothing more",
        nestwrap_says: "also `{ \"command-pid\": N, ... }` just before exec, and on a setup or exec failure \
                        `{ \"error\": { \"step\": ..., \"message\": ... } }` where bwrap writes nothing",
        reason: "DECISIONS (Extra JSON): --json-status-fd keeps bwrap's first and last lines and adds \
                 the command-pid line (with the fallbacks used) and, on failure, the error object",
        apply: |ctx, bw, nw| {
            let mut changed = false;
            for w in ctx.argv.windows(2).filter(|w| w[0] == "--json-status-fd") {
                let k = format!("fd.{}", w[1]);
                if !bw.contains_key(&k) {
                    continue;
                }
                let n = get(nw, &k).to_string();
                // The error object only where bwrap wrote no exit code.
                let failed = !get(bw, &k).contains("\"exit-code\"");
                let kept: String = n
                    .split_inclusive('\n')
                    .filter(|l| {
                        let extra = l.starts_with("{ \"command-pid\": ")
                            || failed && l.starts_with("{ \"error\": { ");
                        !extra
                    })
                    .collect();
                if kept != n {
                    nw.insert(k, kept);
                    changed = true;
                }
            }
            changed
        },
    },
    Rule {
        id: "help-trailer",
        options: &[USAGE],
        bwrap_says: "usage text ending with `--not-a-security-boundary ...`",
        nestwrap_says: "the same text, then `nestwrap extensions:` lines and `nestwrap X.Y.Z: bwrap-compatible; see nestwrap(1)`",
        reason: "nestwrap's usage text (--help, and on stderr when COMMAND is missing) continues after bwrap's \
                 list with a `nestwrap extensions:` block (--proc-fallback, --forward-signals, ...) and ends \
                 with one line naming itself (`nestwrap X.Y.Z: bwrap-compatible; see nestwrap(1)`)",
        apply: |_, _, nw| {
            let mut changed = false;
            for k in ["stdout", "stderr"] {
                let t = get(nw, k).to_string();
                // The usage text, possibly after parse-time warnings.
                if !(t.starts_with("usage: ") || t.contains("\nusage: ")) {
                    continue;
                }
                if let Some(pos) = t.find("\n\nnestwrap extensions:\n") {
                    let tail = &t[pos + 2..];
                    let last = tail.lines().last().unwrap_or("");
                    if last.starts_with("nestwrap ") && last.contains("bwrap-compatible") {
                        nw.insert(k.into(), t[..pos + 1].to_string());
                        changed = true;
                    }
                }
            }
            changed
        },
    },
    Rule {
        id: "overlay-layer-fd-numbers",
        options: &["--overlay", "--tmp-overlay", "--ro-overlay"],
        bwrap_says: "`lowerdir=/proc/self/fd/8:/proc/self/fd/9,...` (mountinfo, `Can't make overlay mount on (null) with options ...`)",
        nestwrap_says: "the same with other numbers: `lowerdir=/proc/self/fd/11:/proc/self/fd/9,...`",
        reason: "both hand overlayfs its layers as open fds; the numbers depend on which other fds each \
                 implementation holds at that moment. Only `/proc/self/fd/N` inside overlay option \
                 strings is compared without its number",
        apply: |_, bw, nw| {
            let mut changed = false;
            for v in [bw, nw] {
                for (k, val) in v.iter_mut() {
                    let relevant = k == "mountinfo" || k.starts_with("fact.mount.") || k == "stderr";
                    if !relevant {
                        continue;
                    }
                    let t: String = val
                        .split_inclusive('\n')
                        .map(|l| {
                            if l.contains(" overlay ") || l.starts_with("overlay ") || l.contains("Can't make overlay mount") {
                                fd_numbers_to_n(l)
                            } else {
                                l.to_string()
                            }
                        })
                        .collect();
                    if t != *val {
                        *val = t;
                        changed = true;
                    }
                }
            }
            changed
        },
    },
    Rule {
        id: "remount-ro-bind-data",
        options: &["--remount-ro"],
        bwrap_says: "`Can't remount readonly on DEST: Unable to open destination O_PATH fd \"/newroot/DEST (deleted)\": No such file or directory`, exit 1",
        nestwrap_says: "remounts it read-only and goes on: runs COMMAND, or stops with one `bwrap:` line at a later op, naming that op's path",
        reason: "0.13.1 is broken here: --remount-ro of a --bind-data/--ro-bind-data destination looks the \
                 mount up by the path the kernel reports for it, which names the unlinked data file \
                 (`... (deleted)`). Minimal reproduction: `bwrap --tmpfs /tmp --bind-data 3 /tmp/x \
                 --remount-ro /tmp/x true 3</dev/null`. nestwrap applies the flag to the mount it \
                 opened (mount_setattr on the fd)",
        apply: |ctx, bw, nw| {
            let data_dests: Vec<&String> = ctx
                .argv
                .windows(3)
                .filter(|w| w[0] == "--bind-data" || w[0] == "--ro-bind-data")
                .map(|w| &w[2])
                .collect();
            let (_, last) = get(bw, "stderr").trim_end().rsplit_once('\n').unwrap_or(("", get(bw, "stderr").trim_end()));
            let Some(at) = ctx.argv.windows(2).position(|w| {
                w[0] == "--remount-ro"
                    && data_dests.iter().any(|d| last.starts_with(&format!("bwrap: Can't remount readonly on {}: ", w[1])) && **d == w[1])
            }) else {
                return false;
            };
            // nestwrap went past the remount: COMMAND ran, or a later op
            // failed (bwrap never got there) with one line naming its path.
            let nw_err = get(nw, "stderr").trim_end();
            let later_failure = get(nw, "status") == "1"
                && !nw_err.contains('\n')
                && nw_err.starts_with("bwrap: ")
                && ctx.argv.get(at + 2..).unwrap_or_default().iter().any(|a| a.starts_with('/') && nw_err.contains(&format!(" {a}")));
            let hit = last.starts_with("bwrap: Can't remount readonly on ")
                && last.ends_with(" (deleted)\": No such file or directory")
                && last.contains(": Unable to open destination O_PATH fd \"/newroot")
                && (get(nw, "status") == "0" || later_failure);
            if !hit {
                return false;
            }
            bw.clear();
            nw.clear();
            true
        },
    },
    Rule {
        id: "old-kernel-fallbacks",
        options: &["--debug-opt=force-openat-fallback"],
        bwrap_says: "`Can't open source SRC: Function not implemented` (the first bind source), exit 1",
        nestwrap_says: "sets the sandbox up without openat2 and runs COMMAND",
        reason: "DECISIONS (No openat2): where openat2 is missing 0.13.1 stops; nestwrap keeps working \
                 with an in-root resolver as strict as RESOLVE_IN_ROOT. 0.13.1's testing hook \
                 --debug-opt=force-openat-fallback shows the same stop on any kernel",
        apply: |_, bw, nw| {
            let e = get(bw, "stderr").trim_end();
            let last = e.rsplit('\n').next().unwrap_or("");
            let hit = last.starts_with("bwrap: Can't open source ")
                && last.ends_with(": Function not implemented")
                && get(bw, "status") == "1";
            if !hit {
                return false;
            }
            bw.clear();
            nw.clear();
            true
        },
    },
];

/// `/proc/self/fd/123` → `/proc/self/fd/N`.
fn fd_numbers_to_n(l: &str) -> String {
    let mut out = String::new();
    let mut rest = l;
    while let Some(i) = rest.find("/proc/self/fd/") {
        out.push_str(&rest[..i + 14]);
        let tail = &rest[i + 14..];
        let n = tail.chars().take_while(|c| c.is_ascii_digit()).count();
        if n > 0 {
            out.push('N');
        }
        rest = &tail[n..];
    }
    out.push_str(rest);
    out
}

/// `--bind-data` temp names (`/bindfileXXXXXX`) are random in bwrap
/// (mkstemp) and a counter in nestwrap; both are unreachable from the
/// sandbox and only appear in error messages.
fn mask_bindfile_names(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut rest = t;
    while let Some(i) = rest.find("/bindfile") {
        out.push_str(&rest[..i + 9]);
        let tail = &rest[i + 9..];
        let n = tail.chars().take_while(|c| c.is_ascii_alphanumeric()).count();
        if n == 6 {
            out.push_str("XXXXXX");
            rest = &tail[6..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// `hay` without the characters of `needle`, taken greedily in order; `None`
/// if `needle` is not a subsequence of `hay`.
fn remove_subsequence(hay: &str, needle: &str) -> Option<String> {
    let mut want = needle.chars().peekable();
    let mut out = String::new();
    for c in hay.chars() {
        if want.peek() == Some(&c) {
            want.next();
        } else {
            out.push(c);
        }
    }
    want.peek().is_none().then_some(out)
}

#[derive(Debug)]
enum Verdict {
    Agree,
    Explained(Vec<&'static str>),
    Unexplained(String),
    Error(String),
}

fn diff_text(bw: &View, nw: &View) -> String {
    let mut s = String::new();
    let probe_ran = |v: &View| v.contains_key("mountinfo");
    let one_sided = probe_ran(bw) != probe_ran(nw);
    if one_sided {
        let who = if probe_ran(bw) { "bwrap" } else { "nestwrap" };
        let _ = writeln!(s, "  (the probe ran only under {who}; its facts are not listed)");
    }
    let keys: BTreeSet<&String> = bw.keys().chain(nw.keys()).collect();
    for k in keys {
        if one_sided && (k.starts_with("fact.") || k == "mountinfo") {
            continue;
        }
        let (b, n) = (bw.get(k), nw.get(k));
        if b == n {
            continue;
        }
        let show = |v: Option<&String>| match v {
            None => "<absent>".to_string(),
            Some(v) if v.contains('\n') => format!("\n{}", v.trim_end()),
            Some(v) => v.clone(),
        };
        if k == "mountinfo" {
            let bl: Vec<&str> = b.map(|x| x.lines().collect()).unwrap_or_default();
            let nl: Vec<&str> = n.map(|x| x.lines().collect()).unwrap_or_default();
            let _ = writeln!(s, "  mountinfo:");
            for l in &bl {
                if !nl.contains(l) {
                    let _ = writeln!(s, "    bwrap only:    {l}");
                }
            }
            for l in &nl {
                if !bl.contains(l) {
                    let _ = writeln!(s, "    nestwrap only: {l}");
                }
            }
            if bl.len() == nl.len() && bl.iter().all(|l| nl.contains(l)) {
                let _ = writeln!(s, "    (same mounts, different order)");
            }
            continue;
        }
        let _ = writeln!(s, "  {k}:\n    bwrap:    {}\n    nestwrap: {}", show(b), show(n));
    }
    s
}

fn classify(ctx: &Ctx, mut bw: View, mut nw: View) -> Verdict {
    if bw == nw {
        return Verdict::Agree;
    }
    let original = diff_text(&bw, &nw);
    let mut used = Vec::new();
    // Rules may uncover each other's cases (one strips lines another
    // needs gone): go over the list until nothing more applies.
    for _pass in 0..3 {
        let before = used.len();
        for r in INTENDED_DIFFERENCES {
            if used.contains(&r.id) || !r.may_apply(ctx, &bw, &nw) {
                continue;
            }
            if (r.apply)(ctx, &mut bw, &mut nw) {
                used.push(r.id);
            }
            if bw == nw {
                return Verdict::Explained(used);
            }
        }
        if used.len() == before {
            break;
        }
    }
    let mut s = diff_text(&bw, &nw);
    if !used.is_empty() {
        let _ = write!(s, "  (after applying {used:?}; original difference:\n{original})");
    }
    Verdict::Unexplained(s)
}

// ---------------------------------------------------------------------------
// Driver

struct Job {
    case: Case,
    as_: As,
    idx: usize,
}

struct Done {
    case: Case,
    as_: As,
    verdict: Verdict,
    /// The reference got past parsing the command line.
    setup_stage: bool,
}

/// Last lines of bwrap 0.13.1's command-line checks (everything it can say
/// before it starts setting anything up).
const PARSE_ERRORS: &[&str] = &[
    "bwrap: Unknown option ",
    " takes one argument",
    " takes two arguments",
    " takes three arguments",
    " takes an argument",
    "bwrap: Invalid ",
    "bwrap: unknown cap",
    "bwrap: --",
    " does not take an empty path argument",
    "bwrap: Can't read --args data",
    "bwrap: No COMMAND given",
    "bwrap: Unexpected end of --args data",
    "bwrap: Unknown --debug-opt value",
    "bwrap: Can't make overlay mount on (null)",
];

/// Whether a reference run got past parsing: it printed neither the usage
/// nor a command-line error (`--version`/`--help` stop there too).
fn past_parsing(bw: &View) -> bool {
    if bw.contains_key("mountinfo") {
        return true;
    }
    if is_usage(bw) || get(bw, "stdout").starts_with("bubblewrap ") {
        return false;
    }
    let e = get(bw, "stderr").trim_end();
    let last = e.rsplit('\n').next().unwrap_or("");
    if get(bw, "status") == "1" && last.starts_with("bwrap: ") {
        let parse = PARSE_ERRORS.iter().any(|p| last.contains(p))
            && !last.starts_with("bwrap: Can't make overlay");
        return !parse;
    }
    true
}

fn run_job(job: &Job, nestwrap: &Path) -> (Verdict, bool) {
    let s = scratch_path(job.idx, job.as_);
    let ctx = Ctx { argv: &job.case.argv, as_: job.as_ };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        make_scratch(&s, job.as_);
        let bw = run_side(&job.case, job.as_, bwrap(), &s);
        make_scratch(&s, job.as_);
        let nw = run_side(&job.case, job.as_, nestwrap, &s);
        (bw, nw)
    }));
    remove_scratch(&s);
    match r {
        Ok((bw, nw)) => {
            let stage = past_parsing(&bw);
            (classify(&ctx, bw, nw), stage)
        }
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            (Verdict::Error(msg), false)
        }
    }
}

/// Options of both binaries (for per-option counts); anything starting with
/// `--` before COMMAND counts.
fn options_of(argv: &[String]) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for a in argv {
        if a == "PROBE" || a == "--" {
            break;
        }
        if a.starts_with("--") && a.len() > 2 {
            set.insert(a.clone());
        }
    }
    set
}

fn shell_quote(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty() || a.contains([' ', '\'', '"', '$', '\\']) && !a.starts_with('$') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn report(
    done: &[Done],
    seed: u64,
    n_random: usize,
    elapsed: std::time::Duration,
) -> (String, usize) {
    let mut agree = 0;
    let mut explained = 0;
    let mut unexplained = Vec::new();
    let mut errors = Vec::new();
    let mut hits: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    // option → [runs, agree, explained, unexplained+errors] per mode and
    // stage: (root parse, root setup, user parse, user setup)
    let mut per_opt: BTreeMap<String, [usize; 8]> = BTreeMap::new();
    for d in done {
        let bad = match &d.verdict {
            Verdict::Agree => {
                agree += 1;
                false
            }
            Verdict::Explained(ids) => {
                explained += 1;
                for id in ids {
                    hits.entry(id).or_default().push(format!("{} [{:?}]", d.case.name, d.as_));
                }
                false
            }
            Verdict::Unexplained(t) => {
                unexplained.push((d, t));
                true
            }
            Verdict::Error(t) => {
                errors.push((d, t));
                true
            }
        };
        for o in options_of(&d.case.argv) {
            let e = per_opt.entry(o).or_insert([0; 8]);
            let col = if d.as_ == As::Root { 0 } else { 2 } + usize::from(d.setup_stage);
            e[col] += 1;
            e[4] += 1;
            if bad {
                e[5] += 1;
            }
        }
    }
    let mut r = String::new();
    let _ = writeln!(
        r,
        "# nestwrap differential report (vs {}, bubblewrap 0.13.1)\n",
        bwrap().display()
    );
    let _ = writeln!(
        r,
        "seed {seed} (NESTWRAP_COMPAT_SEED={seed} reproduces), {n_random} random cases, runtime {:.1} s\n",
        elapsed.as_secs_f64()
    );
    let stage = |st: bool| done.iter().filter(|d| d.setup_stage == st).count();
    let _ = writeln!(r, "| | runs |\n|---|---|");
    let _ = writeln!(r, "| total (case × mode) | {} |", done.len());
    let _ = writeln!(r, "| past parsing (setup stage) | {} |", stage(true));
    let _ = writeln!(r, "| stopped while parsing | {} |", stage(false));
    let _ = writeln!(r, "| agree exactly | {agree} |");
    let _ = writeln!(r, "| explained by intended differences | {explained} |");
    let _ = writeln!(r, "| **unexplained** | {} |", unexplained.len());
    let _ = writeln!(r, "| harness errors | {} |\n", errors.len());
    let modes = |a: As| done.iter().filter(|d| d.as_ == a).count();
    let _ =
        writeln!(r, "runs as root: {}, as the test user: {}\n", modes(As::Root), modes(As::User));
    let _ = writeln!(
        r,
        "## Intended differences (nestwrap's own; reasons in DESIGN.md)\n\n\
         | rule | options | bubblewrap 0.13.1 | nestwrap | runs | reason |\n|---|---|---|---|---|---|"
    );
    for rule in INTENDED_DIFFERENCES {
        let n = hits.get(rule.id).map_or(0, Vec::len);
        let _ = writeln!(
            r,
            "| {} | {} | {} | {} | {n} | {} |",
            rule.id,
            rule.options.join(" "),
            rule.bwrap_says,
            rule.nestwrap_says,
            rule.reason
        );
    }
    let _ = writeln!(r, "\n### Cases each rule matched\n");
    for rule in INTENDED_DIFFERENCES {
        let cases = hits.get(rule.id).cloned().unwrap_or_default();
        let _ = writeln!(r, "- **{}** ({}): {}", rule.id, cases.len(), cases.join(", "));
    }
    r.push('\n');
    let _ = writeln!(r, "## Unexplained differences ({})\n", unexplained.len());
    for (d, t) in &unexplained {
        let _ = writeln!(
            r,
            "### {} [{:?}]\n```\nbwrap {}\n{t}```\n",
            d.case.name,
            d.as_,
            shell_quote(&d.case.argv)
        );
    }
    if !errors.is_empty() {
        let _ = writeln!(r, "## Harness errors ({})\n", errors.len());
        for (d, t) in &errors {
            let _ = writeln!(
                r,
                "### {} [{:?}]\n```\nbwrap {}\n{t}\n```\n",
                d.case.name,
                d.as_,
                shell_quote(&d.case.argv)
            );
        }
    }
    let _ = writeln!(
        r,
        "## Per-option case counts\n\n\
         Runs whose command line uses the option, split by mode and by whether bubblewrap 0.13.1 \
         got past parsing (setup stage) or stopped there (parse stage).\n\n\
         | option | root parse | root setup | user parse | user setup | total | unexplained |\n\
         |---|---|---|---|---|---|---|"
    );
    for (o, c) in &per_opt {
        let _ = writeln!(
            r,
            "| `{o}` | {} | {} | {} | {} | {} | {} |",
            c[0], c[1], c[2], c[3], c[4], c[5]
        );
    }
    (r, unexplained.len() + errors.len())
}

/// bubblewrap 0.13.1's options (its `--help`) that can get past parsing:
/// each needs at least [`MIN_SETUP_RUNS`] such runs per mode.
const OPTIONS_0131: &[&str] = &[
    "--args",
    "--argv0",
    "--level-prefix",
    "--unshare-all",
    "--share-net",
    "--unshare-user",
    "--unshare-user-try",
    "--unshare-ipc",
    "--unshare-pid",
    "--unshare-net",
    "--unshare-uts",
    "--unshare-cgroup",
    "--unshare-cgroup-try",
    "--userns",
    "--userns2",
    "--disable-userns",
    "--assert-userns-disabled",
    "--pidns",
    "--uid",
    "--gid",
    "--hostname",
    "--chdir",
    "--clearenv",
    "--setenv",
    "--unsetenv",
    "--lock-file",
    "--sync-fd",
    "--bind",
    "--bind-try",
    "--dev-bind",
    "--dev-bind-try",
    "--ro-bind",
    "--ro-bind-try",
    "--bind-fd",
    "--ro-bind-fd",
    "--remount-ro",
    "--overlay-src",
    "--overlay",
    "--tmp-overlay",
    "--ro-overlay",
    "--exec-label",
    "--file-label",
    "--proc",
    "--dev",
    "--tmpfs",
    "--mqueue",
    "--dir",
    "--file",
    "--bind-data",
    "--ro-bind-data",
    "--symlink",
    "--seccomp",
    "--add-seccomp-fd",
    "--block-fd",
    "--userns-block-fd",
    "--info-fd",
    "--json-status-fd",
    "--new-session",
    "--die-with-parent",
    "--as-pid-1",
    "--cap-add",
    "--cap-drop",
    "--perms",
    "--size",
    "--chmod",
    "--not-a-security-boundary",
];
const MIN_SETUP_RUNS: usize = 20;

/// Options with fewer than [`MIN_SETUP_RUNS`] setup-stage runs in a mode.
/// (option, mode, setup-stage runs) for each option of bwrap 0.13.1 with
/// fewer than `MIN_SETUP_RUNS` runs past parsing in that mode.
fn thin_pairs(done: &[Done]) -> Vec<(&'static str, As, usize)> {
    let mut thin = Vec::new();
    for o in OPTIONS_0131 {
        for m in [As::Root, As::User] {
            let n = done
                .iter()
                .filter(|d| d.as_ == m && d.setup_stage && options_of(&d.case.argv).contains(*o))
                .count();
            if n < MIN_SETUP_RUNS {
                thin.push((*o, m, n));
            }
        }
    }
    thin
}

fn thin_options(done: &[Done]) -> Vec<String> {
    thin_pairs(done).into_iter().map(|(o, m, n)| format!("{o} [{m:?}]: {n}")).collect()
}

/// Run `jobs` on a few threads; each difference or harness error is re-run
/// twice and counts only if it reproduces. Returns the runs and the cases
/// whose difference did not reproduce.
fn run_jobs(jobs: &[Job], nestwrap: &Path) -> (Vec<Done>, Vec<String>) {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Done>> = Mutex::new(Vec::new());
    let flaky: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map(|n| n.get() * 2).unwrap_or(4).min(8);
    std::thread::scope(|sc| {
        for _ in 0..threads {
            sc.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let (mut verdict, mut setup_stage) = run_job(job, nestwrap);
                // bwrap's own output is racy in places (two processes
                // writing stderr at once, a reaper racing COMMAND), and on a
                // loaded machine a run can time out: a difference or a
                // harness error counts only if it reproduces. Re-run twice.
                let bad = |v: &Verdict| matches!(v, Verdict::Unexplained(_) | Verdict::Error(_));
                for _ in 0..2 {
                    if !bad(&verdict) {
                        break;
                    }
                    let (again, st) = run_job(job, nestwrap);
                    if !bad(&again) {
                        flaky.lock().unwrap().push(format!("{} [{:?}]", job.case.name, job.as_));
                        verdict = again;
                        setup_stage = st;
                    }
                }
                done.lock().unwrap().push(Done {
                    case: job.case.clone(),
                    as_: job.as_,
                    verdict,
                    setup_stage,
                });
            });
        }
    });
    (done.into_inner().unwrap(), flaky.into_inner().unwrap())
}

/// More random cases for each (option, mode) under the floor: four times
/// the runs it lacks, each using the option (bwrap may still stop some at
/// parsing, hence the margin).
fn top_up_jobs(
    rng: &mut Rng,
    thin: &[(&'static str, As, usize)],
    next_case: &mut usize,
    first_idx: usize,
) -> Vec<Job> {
    let mut jobs = Vec::new();
    for &(opt, as_, have) in thin {
        let want = 4 * (MIN_SETUP_RUNS - have);
        let mut found = 0;
        for _ in 0..20_000 {
            if found == want {
                break;
            }
            let mut case = gen_case(rng, *next_case);
            *next_case += 1;
            let fits = case.modes != Modes::Root || as_ == As::Root;
            if fits && options_of(&case.argv).contains(opt) {
                case.modes = Modes::Both;
                jobs.push(Job { case, as_, idx: first_idx + jobs.len() });
                found += 1;
            }
        }
    }
    jobs
}

fn target_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(d);
    }
    // target/<profile>/deps/tests-HASH
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("target"))
}

fn seed() -> u64 {
    match std::env::var("NESTWRAP_COMPAT_SEED") {
        Ok(s) => {
            s.trim().parse().unwrap_or_else(|_| panic!("NESTWRAP_COMPAT_SEED={s:?}: not a u64"))
        }
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64 ^ u64::from(std::process::id()))
            .unwrap_or(1),
    }
}

fn reference_available() -> bool {
    require_reference("differential").is_some()
}

#[test]
fn differential_against_bwrap_0131() {
    // With the reference as the binary under test this would compare
    // bubblewrap 0.13.1 with itself, which measures only its own races (two
    // of its processes interleaving stderr under --lock-file, measured: 1
    // run in 3 fails on one case).
    if nestwrap_only("differential: the reference against itself") {
        return;
    }
    if !reference_available() {
        return;
    }
    let start = Instant::now();
    let seed = seed();
    let n_random: usize =
        std::env::var("NESTWRAP_COMPAT_RANDOM").ok().and_then(|s| s.parse().ok()).unwrap_or(3000);
    eprintln!("compat: NESTWRAP_COMPAT_SEED={seed} NESTWRAP_COMPAT_RANDOM={n_random}");
    let modes: Vec<As> = [As::Root, As::User].into_iter().filter(|m| require(*m)).collect();
    let corpus = load_corpus();
    assert!(corpus.len() >= 200, "corpus has only {} cases", corpus.len());
    let mut jobs = Vec::new();
    for case in corpus {
        for &m in &modes {
            let fits = matches!(
                (case.modes, m),
                (Modes::Both, _) | (Modes::Root, As::Root) | (Modes::User, As::User)
            );
            if fits {
                jobs.push(Job { case: case.clone(), as_: m, idx: jobs.len() });
            }
        }
    }
    let mut rng = Rng::new(seed);
    for i in 0..n_random {
        let mut case = gen_case(&mut rng, i);
        let m = if modes.len() == 1 {
            modes[0]
        } else if case.modes == Modes::Root {
            As::Root
        } else {
            As::User
        };
        case.modes = Modes::Both;
        if !modes.is_empty() {
            jobs.push(Job { case, as_: m, idx: jobs.len() });
        }
    }
    let hostname = nix::unistd::gethostname().ok();
    let nestwrap = binary().to_path_buf();
    let (mut done, mut flaky) = run_jobs(&jobs, &nestwrap);
    // Every option must get its runs whatever the seed: where random cases
    // left one thin, more random cases that use it follow (from the same
    // generator, so the seed still reproduces the whole run).
    let floor_applies = std::env::var_os("NESTWRAP_COMPAT_RANDOM").is_none() && modes.len() == 2;
    let mut next_case = n_random;
    for _ in 0..4 {
        let thin = thin_pairs(&done);
        if !floor_applies || thin.is_empty() {
            break;
        }
        let extra = top_up_jobs(&mut rng, &thin, &mut next_case, jobs.len() + done.len());
        let (more, more_flaky) = run_jobs(&extra, &nestwrap);
        done.extend(more);
        flaky.extend(more_flaky);
    }
    done.sort_by_key(|d| (d.case.name.clone(), d.as_ == As::User));
    assert_eq!(nix::unistd::gethostname().ok(), hostname, "a case changed the host's hostname");
    let (mut text, bad) = report(&done, seed, n_random, start.elapsed());
    let _ = writeln!(
        text,
        "\n## Differences that did not reproduce on a re-run ({})\n\n{}",
        flaky.len(),
        flaky.join("\n")
    );
    let path = target_dir().join("compat-report.md");
    let _ = fs::write(&path, &text);
    println!("{text}");
    eprintln!("compat: report written to {}", path.display());
    assert_eq!(bad, 0, "{bad} unexplained differences or harness errors; see {}", path.display());
    // The corpus and the default random count must reach every option.
    if floor_applies {
        assert!(done.len() >= 3000, "only {} case x mode runs", done.len());
        let thin = thin_options(&done);
        assert!(thin.is_empty(), "options with < {MIN_SETUP_RUNS} setup-stage runs: {thin:?}");
    }
}

/// The comparison has teeth: two different command lines through the same
/// binary are reported as unexplained.
#[test]
fn differential_detects_a_difference() {
    if !reference_available() || !require(As::User) {
        return;
    }
    let s = scratch_path(usize::MAX, As::User);
    make_scratch(&s, As::User);
    let mk = |v: &str| Case {
        name: "teeth".into(),
        modes: Modes::User,
        cwd: None,
        env: Vec::new(),
        fds: Vec::new(),
        argv: split_words(&format!("$BASE --setenv NW_X {v} PROBE")),
    };
    let a = run_side(&mk("1"), As::User, bwrap(), &s);
    let b = run_side(&mk("2"), As::User, bwrap(), &s);
    remove_scratch(&s);
    let argv = mk("1").argv;
    let ctx = Ctx { argv: &argv, as_: As::User };
    match classify(&ctx, a, b) {
        Verdict::Unexplained(t) => assert!(t.contains("fact.env.NW_X"), "{t}"),
        v => panic!("expected an unexplained difference, got {v:?}"),
    }
}

#[test]
fn random_generator_is_reproducible() {
    let gen = |seed| {
        let mut r = Rng::new(seed);
        (0..50).map(|i| gen_case(&mut r, i).argv).collect::<Vec<_>>()
    };
    assert_eq!(gen(42), gen(42));
    assert_ne!(gen(42), gen(43));
}
