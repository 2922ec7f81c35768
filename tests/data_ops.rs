//! Data files, fd binds, overlays, seccomp and labels (issue 5). Every case
//! runs as root and as the unprivileged test user (`util::both`). Where asked,
//! the same command line also runs through the reference bubblewrap 0.13.1
//! and the results are compared.

use crate::util::*;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

/// The reference bubblewrap 0.13.1 (`util::reference_bwrap()`), as a str.
fn bwrap_ref() -> &'static str {
    reference_bwrap().and_then(|p| p.to_str()).expect("reference bwrap checked by have_bwrap()")
}

fn have_bwrap() -> bool {
    require_reference("comparison with bwrap").is_some()
}

/// The binary under test, and the reference bubblewrap 0.13.1.
fn programs(with_bwrap: bool) -> Vec<Option<&'static str>> {
    if with_bwrap && have_bwrap() {
        vec![None, Some(bwrap_ref())]
    } else {
        vec![None]
    }
}

fn on(sb: Sandbox, prog: Option<&str>) -> Sandbox {
    match prog {
        Some(p) => sb.reference(p),
        None => sb,
    }
}

fn who(prog: Option<&str>) -> &str {
    prog.unwrap_or("nestwrap")
}

/// `--ro-bind / /` makes the host's /dev nodev: give the shells a real /dev/null.
fn base(as_: As) -> Sandbox {
    Sandbox::new(as_).args(["--ro-bind", "/", "/", "--dev", "/dev", "--tmpfs", "/tmp"])
}

// ---- --file, --bind-data, --ro-bind-data -----------------------------------------

const MODES_SH: &str = "stat -c '%n %a %u %g' /tmp/f /tmp/fp /tmp/b /tmp/bp /tmp/c /tmp/cp; \
    for x in f b c; do (echo more >> /tmp/$x) 2>/dev/null && echo $x=rw || echo $x=ro; done; \
    cat /tmp/f /tmp/fp /tmp/b /tmp/bp /tmp/c /tmp/cp";

#[test]
fn data_file_modes() {
    both(|as_| {
        let id = ident(as_);
        let (u, g) = (id.uid, id.gid);
        // stat(1) prints modes without the leading zero; "more" was appended
        // to the two writable files.
        let want = format!(
            "/tmp/f 666 {u} {g}\n/tmp/fp 640 {u} {g}\n/tmp/b 600 {u} {g}\n/tmp/bp 644 {u} {g}\n\
             /tmp/c 600 {u} {g}\n/tmp/cp 604 {u} {g}\nf=rw\nb=rw\nc=ro\n\
             F\nmore\nFP\nB\nmore\nBP\nC\nCP\n"
        );
        for prog in programs(true) {
            let o = on(base(as_), prog)
                .args(["--file", "3", "/tmp/f", "--perms", "0640", "--file", "4", "/tmp/fp"])
                .args(["--bind-data", "5", "/tmp/b", "--perms", "0644", "--bind-data", "6"])
                .args(["/tmp/bp", "--ro-bind-data", "7", "/tmp/c", "--perms", "0604"])
                .args(["--ro-bind-data", "8", "/tmp/cp", "sh", "-c", MODES_SH])
                .data_fd(3, b"F\n")
                .data_fd(4, b"FP\n")
                .data_fd(5, b"B\n")
                .data_fd(6, b"BP\n")
                .data_fd(7, b"C\n")
                .data_fd(8, b"CP\n")
                .run();
            o.ok();
            assert_eq!(o.stdout, want, "{}\n{o}", who(prog));
        }
    });
}

const PARENTS_SH: &str = "stat -c '%n %a' /tmp/f1 /tmp/f1/f2 /tmp/f1/f2/f /tmp/b1 /tmp/b1/b2 \
    /tmp/b1/b2/b /tmp/s1 /tmp/s1/s2 /tmp/d1 /tmp/d1/d2 /tmp/d1/d2/d /tmp/m1 /tmp/m1/m; \
    readlink /tmp/s1/s2/s; cat /tmp/f1/f2/f /tmp/b1/b2/b /tmp/d1/d2/d";

/// Ops that make their destination inside parents they first have to create
/// (nestwrap makes the leaf straight in the parent it just created): same
/// modes, contents and targets as bwrap.
#[test]
fn ops_into_missing_parents() {
    both(|as_| {
        let t = TestDir::new();
        let src = t.write("src", "S\n");
        let want = "/tmp/f1 755\n/tmp/f1/f2 755\n/tmp/f1/f2/f 666\n/tmp/b1 700\n/tmp/b1/b2 700\n\
             /tmp/b1/b2/b 600\n/tmp/s1 700\n/tmp/s1/s2 700\n/tmp/d1 700\n/tmp/d1/d2 700\n\
             /tmp/d1/d2/d 644\n/tmp/m1 755\n/tmp/m1/m 755\nthere\nF\nB\nS\n";
        for prog in programs(true) {
            let o = on(base(as_), prog)
                .args(["--file", "3", "/tmp/f1/f2/f", "--ro-bind-data", "4", "/tmp/b1/b2/b"])
                .args(["--symlink", "there", "/tmp/s1/s2/s", "--ro-bind", &src, "/tmp/d1/d2/d"])
                .args(["--tmpfs", "/tmp/m1/m", "sh", "-c", PARENTS_SH])
                .data_fd(3, b"F\n")
                .data_fd(4, b"B\n")
                .run();
            o.ok();
            assert_eq!(o.stdout, want, "{}\n{o}", who(prog));
        }
    });
}

/// 1 MiB of non-repeating bytes.
fn mib() -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A pipe whose write end is fed by a slow writer thread: 16 chunks of 64 KiB
/// with a pause after each, so the reader sees partial data and must read to EOF.
fn slow_pipe(data: Vec<u8>) -> OwnedFd {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    std::thread::spawn(move || {
        let mut w = std::fs::File::from(w);
        for chunk in data.chunks(64 * 1024) {
            if w.write_all(chunk).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(15));
        }
    });
    r
}

#[test]
fn one_mib_from_slow_writer() {
    let data = mib();
    let t = TestDir::new();
    let reference = t.join("reference");
    std::fs::write(&reference, &data).unwrap();
    both(|as_| {
        for op in ["--file", "--bind-data", "--ro-bind-data"] {
            for prog in programs(true) {
                let o = on(base(as_), prog)
                    .args([op, "3", "/tmp/data", "cmp", "/tmp/data", &reference])
                    .fd(3, slow_pipe(data.clone()))
                    .run();
                assert_eq!(o.status, 0, "{op} with {}: content differs\n{o}", who(prog));
            }
        }
    });
}

/// The fd is closed after its first use (reference §2.2 `--file`, §7.3): the
/// second op fails with EBADF. bwrap 0.8.0 agrees when the second op is
/// `--file`; when it is `--bind-data`/`--ro-bind-data`, 0.8.0 silently makes an
/// empty file (it ignores the read error), so those cases run nestwrap only.
#[test]
fn same_fd_twice_fails_on_second() {
    both(|as_| {
        for (a, b, compare) in [
            ("--file", "--file", true),
            ("--bind-data", "--file", true),
            ("--ro-bind-data", "--file", true),
            ("--file", "--bind-data", false),
            ("--bind-data", "--ro-bind-data", false),
        ] {
            for prog in programs(compare) {
                let o = on(base(as_), prog)
                    .args([a, "3", "/tmp/a", b, "3", "/tmp/b", "true"])
                    .data_fd(3, b"x")
                    .run();
                o.fails_with("bwrap: Can't write data to file /tmp/b: Bad file descriptor");
            }
        }
    });
}

// ---- --bind-fd / --ro-bind-fd --------------------------------------------------------

fn o_path(p: &str) -> OwnedFd {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(p)
        .unwrap_or_else(|e| panic!("open O_PATH {p}: {e}"))
        .into()
}

#[test]
fn bind_fd_o_path_dir_and_file() {
    both(|as_| {
        let t = TestDir::new();
        let dir = t.mkdir("d");
        t.write("d/marker", "in-d");
        let file = t.write("file", "a-file");
        for prog in programs(true) {
            let o = on(base(as_), prog)
                .args(["--bind-fd", "3", "/tmp/d", "--ro-bind-fd", "4", "/tmp/r"])
                .args([
                    "sh",
                    "-c",
                    "cat /tmp/d/marker /tmp/r/marker; touch /tmp/d/w && echo d=rw; \
                        touch /tmp/r/w 2>/dev/null || echo r=ro; ls /proc/$$/fd",
                ])
                .fd(3, o_path(&dir))
                .fd(4, o_path(&dir))
                .run();
            o.ok();
            let fds: Vec<&str> = o.stdout.lines().skip(4).collect();
            assert!(o.stdout.starts_with("in-din-dd=rw\nr=ro\n"), "{}\n{o}", who(prog));
            assert!(!fds.contains(&"3") && !fds.contains(&"4"), "fds not closed\n{o}");
            std::fs::remove_file(t.path().join("d/w")).unwrap();

            let o = on(base(as_), prog)
                .args(["--bind-fd", "3", "/tmp/f", "cat", "/tmp/f"])
                .fd(3, o_path(&file))
                .run();
            o.ok();
            assert_eq!(o.stdout, "a-file", "{}\n{o}", who(prog));
        }
    });
}

/// The swap race: the fd is opened on directory A, then A is renamed away and B
/// put at its path. The bind must be of A's inode (the fd), not of the path.
#[test]
fn bind_fd_binds_the_inode_not_the_path() {
    both(|as_| {
        for prog in programs(true) {
            let t = TestDir::new();
            let a = t.mkdir("a");
            t.write("a/marker", "A");
            let fd = o_path(&a);
            std::fs::rename(&a, t.path().join("a-moved")).unwrap();
            t.mkdir("a");
            t.write("a/marker", "B");
            let o = on(base(as_), prog)
                .args(["--ro-bind-fd", "3", "/tmp/x", "cat", "/tmp/x/marker"])
                .fd(3, fd)
                .run();
            o.ok();
            assert_eq!(o.stdout, "A", "{}\n{o}", who(prog));
        }
    });
}

// ---- overlays (0.11.0; not in bwrap 0.8.0) ------------------------------------------------

#[test]
fn overlay_layer_order_and_writes() {
    if skip_if_080("overlays") {
        return;
    }
    both(|as_| {
        let t = TestDir::new();
        let (l1, l2) = (t.mkdir("l1"), t.mkdir("l2"));
        let (up, wk) = (t.mkdir("up"), t.mkdir("wk"));
        t.write("l1/both", "from-l1");
        t.write("l1/only1", "l1");
        t.write("l2/both", "from-l2");
        t.write("l2/only2", "l2");
        let o = base(as_)
            .args(["--overlay-src", &l1, "--overlay-src", &l2, "--overlay", &up, &wk, "/tmp/o"])
            .args([
                "sh",
                "-c",
                "cat /tmp/o/both /tmp/o/only1 /tmp/o/only2; echo new > /tmp/o/new; \
                    echo changed > /tmp/o/only1",
            ])
            .run();
        o.ok();
        assert_eq!(o.stdout, "from-l2l1l2", "last --overlay-src is on top\n{o}");
        let read = |p: &str| std::fs::read_to_string(t.path().join(p)).unwrap_or_default();
        assert_eq!(read("up/new"), "new\n", "writes go to RWSRC\n{o}");
        assert_eq!(read("up/only1"), "changed\n", "{o}");
        assert_eq!(read("l1/only1"), "l1", "lower layer untouched\n{o}");
        assert!(!t.path().join("l1/new").exists() && !t.path().join("l2/new").exists());
    });
}

#[test]
fn tmp_overlay_writes_vanish_and_are_independent() {
    if skip_if_080("overlays") {
        return;
    }
    both(|as_| {
        let t = TestDir::new();
        let l = t.mkdir("l");
        t.write("l/f", "orig");
        let sh = "echo one > /tmp/a/f; echo two > /tmp/b/f; echo n > /tmp/a/new; \
                  cat /tmp/a/f /tmp/b/f; test -e /tmp/b/new && echo shared || echo separate";
        let o = base(as_)
            .args(["--overlay-src", &l, "--tmp-overlay", "/tmp/a"])
            .args(["--overlay-src", &l, "--tmp-overlay", "/tmp/b", "sh", "-c", sh])
            .run();
        o.ok();
        assert_eq!(o.stdout, "one\ntwo\nseparate\n", "{o}");
        assert_eq!(std::fs::read_to_string(t.path().join("l/f")).unwrap(), "orig", "{o}");
        assert!(!t.path().join("l/new").exists(), "{o}");
        let names: Vec<_> = std::fs::read_dir(t.path().join("l")).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "nothing new on the host\n{o}");
    });
}

#[test]
fn ro_overlay_is_read_only() {
    if skip_if_080("overlays") {
        return;
    }
    both(|as_| {
        let t = TestDir::new();
        let (l1, l2) = (t.mkdir("l1"), t.mkdir("l2"));
        t.write("l1/a", "a");
        t.write("l2/b", "b");
        let o = base(as_)
            .args(["--overlay-src", &l1, "--overlay-src", &l2, "--ro-overlay", "/tmp/o"])
            .args(["sh", "-c", "cat /tmp/o/a /tmp/o/b; echo; touch /tmp/o/new 2>&1 || true"])
            .run();
        o.ok();
        assert!(o.stdout.starts_with("ab\n"), "{o}");
        assert!(o.stdout.contains("Read-only file system"), "{o}");
    });
}

/// `\`, `,` and `:` in every overlay path are escaped in the mount options.
#[test]
fn overlay_paths_with_special_characters() {
    if skip_if_080("overlays") {
        return;
    }
    both(|as_| {
        let t = TestDir::new();
        let l1 = t.mkdir("low,er:1\\x");
        let l2 = t.mkdir("l:2");
        let up = t.mkdir("u,p\\");
        let wk = t.mkdir("w:k,");
        t.write("low,er:1\\x/one", "1");
        t.write("l:2/two", "2");
        let o = base(as_)
            .args(["--overlay-src", &l1, "--overlay-src", &l2, "--overlay", &up, &wk, "/tmp/o"])
            .args(["--overlay-src", &l1, "--overlay-src", &l2, "--ro-overlay", "/tmp/r"])
            .args([
                "sh",
                "-c",
                "cat /tmp/o/one /tmp/o/two /tmp/r/one /tmp/r/two; echo w > /tmp/o/w",
            ])
            .run();
        o.ok();
        assert_eq!(o.stdout, "1212", "{o}");
        assert_eq!(std::fs::read_to_string(t.path().join("u,p\\/w")).unwrap(), "w\n", "{o}");
    });
}

#[test]
fn overlay_errors() {
    if skip_if_080("overlays") {
        return;
    }
    both(|as_| {
        let t = TestDir::new();
        let l = t.mkdir("l");
        let (up, wk) = (t.mkdir("up"), t.mkdir("wk"));
        let inner = t.mkdir("up/inner");
        let run = |args: &[&str]| base(as_).args(args).arg("true").run();
        run(&["--overlay", &up, &wk, "/tmp/o"])
            .fails_with("bwrap: --overlay requires at least one --overlay-src");
        run(&["--tmp-overlay", "/tmp/o"])
            .fails_with("bwrap: --tmp-overlay requires at least one --overlay-src");
        run(&["--overlay-src", &l, "--ro-overlay", "/tmp/o"])
            .fails_with("bwrap: --ro-overlay requires at least two --overlay-src");
        run(&["--overlay-src", &l, "--tmpfs", "/tmp/o"]).fails_with(
            "bwrap: --overlay-src must be followed by another --overlay-src or one of \
             --overlay, --tmp-overlay, or --ro-overlay",
        );
        run(&["--overlay-src", "/nonexistent", "--tmp-overlay", "/tmp/o"])
            .fails_with("bwrap: Can't find source path /nonexistent: No such file or directory");
        // 0.13.1 names the layers by fd and the destination "(null)".
        let o = run(&["--overlay-src", &inner, "--overlay", &up, &wk, "/tmp/o"]);
        assert_eq!(o.status, 1, "{o}");
        let e = o.stderr.trim_end();
        assert!(
            e.starts_with(
                "bwrap: Can't make overlay mount on (null) with options upperdir=/proc/self/fd/"
            ) && e.ends_with(",userxattr: Overlay directories may not overlap")
                && !e.contains('\n'),
            "{o}"
        );
    });
}

// ---- seccomp ---------------------------------------------------------------------------

#[cfg(target_arch = "x86_64")]
const ARCH: (u32, &[u32]) = (0xc000_003e, &[83, 258]); // AUDIT_ARCH_X86_64: mkdir, mkdirat
#[cfg(target_arch = "aarch64")]
const ARCH: (u32, &[u32]) = (0xc000_00b7, &[34]); // AUDIT_ARCH_AARCH64: mkdirat

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0..2].copy_from_slice(&code.to_le_bytes());
    b[2] = jt;
    b[3] = jf;
    b[4..8].copy_from_slice(&k.to_le_bytes());
    b
}

/// Classic BPF: on this arch, mkdir/mkdirat → SECCOMP_RET_ERRNO|errno, else allow.
fn mkdir_filter(errno: i32) -> Vec<u8> {
    const LD_ABS: u16 = 0x20; // BPF_LD|BPF_W|BPF_ABS
    const JEQ: u16 = 0x15; // BPF_JMP|BPF_JEQ|BPF_K
    const RET: u16 = 0x06; // BPF_RET|BPF_K
    let (arch, nrs) = ARCH;
    let n = nrs.len() as u8;
    let mut p = vec![insn(LD_ABS, 0, 0, 4), insn(JEQ, 0, n + 1, arch), insn(LD_ABS, 0, 0, 0)];
    for (i, nr) in nrs.iter().enumerate() {
        // jump to the ERRNO return, past the remaining compares and the ALLOW.
        p.push(insn(JEQ, n - i as u8, 0, *nr));
    }
    p.push(insn(RET, 0, 0, 0x7fff_0000)); // ALLOW
    p.push(insn(RET, 0, 0, 0x0005_0000 | errno as u32)); // ERRNO
    p.concat()
}

const MKDIR: &[&str] = &["sh", "-c", "mkdir /tmp/x 2>&1; test -d /tmp/x && echo made; true"];

#[test]
fn seccomp_blocks_mkdir() {
    both(|as_| {
        for prog in programs(true) {
            let o = on(base(as_), prog)
                .args(["--seccomp", "3"])
                .args(MKDIR)
                .data_fd(3, &mkdir_filter(libc::EPERM))
                .run();
            o.ok();
            assert_eq!(
                o.stdout,
                "mkdir: cannot create directory '/tmp/x': Operation not permitted\n",
                "{}\n{o}",
                who(prog)
            );
            // Control: the same sandbox without the filter can mkdir.
            let o = on(base(as_), prog).args(MKDIR).run();
            assert_eq!(o.stdout, "made\n", "{}\n{o}", who(prog));
        }
    });
}

/// Two `--add-seccomp-fd`: installed in command-line order; the kernel runs the
/// last-installed first and, for equal actions (both ERRNO), keeps the first
/// result it got, so the errno of the LAST filter on the command line wins.
#[test]
fn add_seccomp_fd_stacking_order() {
    both(|as_| {
        for (first, second, msg) in [
            (libc::EACCES, libc::EPERM, "Operation not permitted"),
            (libc::EPERM, libc::EACCES, "Permission denied"),
        ] {
            for prog in programs(true) {
                let o = on(base(as_), prog)
                    .args(["--add-seccomp-fd", "3", "--add-seccomp-fd", "4"])
                    .args(MKDIR)
                    .data_fd(3, &mkdir_filter(first))
                    .data_fd(4, &mkdir_filter(second))
                    .run();
                o.ok();
                assert_eq!(
                    o.stdout,
                    format!("mkdir: cannot create directory '/tmp/x': {msg}\n"),
                    "{}\n{o}",
                    who(prog)
                );
            }
        }
    });
}

#[test]
fn seccomp_errors() {
    let good = mkdir_filter(libc::EPERM);
    let truncated = &good[..good.len() - 1];
    type Case<'a> = (&'a [&'a str], &'a str);
    let cases: &[Case] = &[
        (&["--seccomp", "3"], "bwrap: Invalid seccomp data, must be multiple of 8"),
        (&["--add-seccomp-fd", "3"], "bwrap: Invalid seccomp data, must be multiple of 8"),
        (
            &["--seccomp", "4", "--add-seccomp-fd", "3"],
            "bwrap: --add-seccomp-fd cannot be combined with --seccomp",
        ),
        (
            &["--add-seccomp-fd", "4", "--seccomp", "3"],
            "bwrap: --seccomp cannot be combined with --add-seccomp-fd",
        ),
        (
            &["--add-seccomp-fd", "4", "--add-seccomp-fd", "4"],
            "bwrap: Can't read seccomp data: Bad file descriptor",
        ),
    ];
    both(|as_| {
        for (args, line) in cases {
            for prog in programs(true) {
                let t = TestDir::new();
                let dir = t.mkdir("out");
                let o = on(Sandbox::new(as_), prog)
                    .args(["--ro-bind", "/", "/", "--bind", &dir, "/tmp", "--dir", "/tmp/made"])
                    .args(*args)
                    .arg("true")
                    .data_fd(3, truncated)
                    .data_fd(4, &good)
                    .run();
                o.fails_with(line);
                // Parse-time errors: nothing was set up on the host.
                if !line.contains("multiple of 8") || args[0] == "--add-seccomp-fd" {
                    assert!(!t.path().join("out/made").exists(), "{}\n{o}", who(prog));
                }
            }
        }
    });
}

// ---- labels, --not-a-security-boundary -----------------------------------------------------

/// No SELinux on these machines: both options are refused while parsing. (An
/// SELinux-enabled Fedora host would exercise the real path.)
#[test]
fn labels_not_supported() {
    if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        eprintln!("SKIP: SELinux is enabled here; this test is for hosts without it");
        return;
    }
    both(|as_| {
        for opt in ["--exec-label", "--file-label"] {
            for prog in programs(true) {
                on(base(as_), prog)
                    .args([opt, "system_u:object_r:container_file_t:s0", "true"])
                    .run()
                    .fails_with("bwrap: labeling not supported on this system");
            }
        }
    });
}

#[test]
fn not_a_security_boundary_accepted() {
    if skip_if_080("--not-a-security-boundary") {
        return;
    }
    both(|as_| {
        let o = base(as_)
            .args(["--not-a-security-boundary", "--file", "3", "/tmp/f", "cat", "/tmp/f"])
            .data_fd(3, b"ok")
            .run();
        o.ok();
        assert_eq!((o.stdout.as_str(), o.stderr.as_str()), ("ok", ""), "{o}");
    });
}
