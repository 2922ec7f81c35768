//! Hostile destination trees (CVE-2026-87766 class): a bound directory that
//! contains absolute symlinks must not redirect setup onto the host. During
//! setup the host is `/oldroot`, so a link to `/oldroot/...` is the attack;
//! every destination is resolved inside the new root instead. Every case as
//! root and as the unprivileged user. bwrap 0.8.0 (no fix) fails these.

use std::path::Path;

use crate::util::*;

/// A scratch tree with `app/evil -> /oldroot<victim>` and an empty victim
/// directory on the host; returns (app dir, victim dir). The app tree is bound at /tmp/app.
fn hostile_tree(t: &TestDir) -> (String, String) {
    let app = t.mkdir("app");
    let victim = t.mkdir("victim");
    std::os::unix::fs::symlink(format!("/oldroot{victim}"), format!("{app}/evil")).unwrap();
    std::os::unix::fs::symlink(format!("/oldroot{victim}/f"), format!("{app}/evilfile")).unwrap();
    (app, victim)
}

/// A tmpfs root (mounted on the new root itself) with a usr-merged /usr, the
/// test binaries, a directory at `/oldroot<victim>` (where the links point
/// inside the sandbox) and the app tree at /tmp/app.
fn sandbox_with_victim_inside(app: &str, victim: &str) -> Vec<String> {
    let bins = bin_dir().to_str().unwrap().to_string();
    let mut a: Vec<String> =
        ["--tmpfs", "/", "--ro-bind", "/usr", "/usr"].iter().map(|s| s.to_string()).collect();
    for l in ["lib", "lib64", "bin", "sbin"] {
        a.extend(["--symlink".into(), format!("usr/{l}"), format!("/{l}")]);
    }
    a.extend(["--ro-bind".into(), bins.clone(), bins, "--dir".into(), format!("/oldroot{victim}")]);
    a.extend(["--tmpfs".into(), "/tmp".into(), "--bind".into(), app.into(), "/tmp/app".into()]);
    a
}

fn assert_untouched(victim: &str) {
    let entries: Vec<_> =
        std::fs::read_dir(victim).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(
        entries.is_empty(),
        "setup wrote into the host through a symlink: {victim} has {entries:?}"
    );
}

#[test]
fn dir_through_absolute_symlink_stays_inside() {
    both(|as_| {
        if skip_if_080("symlink-safe destinations (bwrap 0.12)") {
            return;
        }
        let t = TestDir::new();
        let (app, victim) = hostile_tree(&t);
        let o = Sandbox::new(as_)
            .args(sandbox_with_victim_inside(&app, &victim))
            .args(["--dir", "/tmp/app/evil/made-by-setup"])
            .probe([format!("/oldroot{victim}/made-by-setup")])
            .run();
        o.ok();
        assert_untouched(&victim);
        // The link resolved inside the sandbox: the directory exists there.
        assert!(o.fact(&format!("stat./oldroot{victim}/made-by-setup")).starts_with("dir "), "{o}");
    });
}

#[test]
fn file_and_bind_data_through_absolute_symlink_stay_inside() {
    both(|as_| {
        if skip_if_080("symlink-safe destinations (bwrap 0.12)") {
            return;
        }
        let t = TestDir::new();
        let (app, victim) = hostile_tree(&t);
        // A symlink as the last component of --file is never followed
        // (bwrap 0.13.1: O_NOFOLLOW, ELOOP).
        Sandbox::new(as_)
            .args(sandbox_with_victim_inside(&app, &victim))
            .args(["--file", "3", "/tmp/app/evilfile", "true"])
            .data_fd(3, b"file contents")
            .run()
            .fails_with(
                "bwrap: Can't create file /tmp/app/evilfile: Too many levels of symbolic links",
            );
        assert_untouched(&victim);
        assert!(!Path::new(&format!("{victim}/f")).exists());
        // Symlinks on the way resolve inside the new root.
        let o = Sandbox::new(as_)
            .args(sandbox_with_victim_inside(&app, &victim))
            .args(["--file", "3", "/tmp/app/evil/f", "--ro-bind-data", "4", "/tmp/app/evil/data"])
            .data_fd(3, b"file contents")
            .data_fd(4, b"bind data")
            .probe([format!("/oldroot{victim}/f"), format!("/oldroot{victim}/data")])
            .run();
        o.ok();
        assert_untouched(&victim);
        assert!(!Path::new(&format!("{victim}/f")).exists());
        assert_eq!(o.fact(&format!("content./oldroot{victim}/f")), "file contents", "{o}");
        assert_eq!(o.fact(&format!("content./oldroot{victim}/data")), "bind data", "{o}");
    });
}

#[test]
fn mount_destination_through_absolute_symlink_stays_inside() {
    both(|as_| {
        if skip_if_080("symlink-safe destinations (bwrap 0.12)") {
            return;
        }
        let t = TestDir::new();
        let (app, victim) = hostile_tree(&t);
        Sandbox::new(as_)
            .args(sandbox_with_victim_inside(&app, &victim))
            .args(["--tmpfs", "/tmp/app/evil/t", "--symlink", "x", "/tmp/app/evil/link"])
            // `evil/.`: through the link (0.13.1 refuses a symlink at the end).
            .args(["--chmod", "0700", "/tmp/app/evil/."])
            .arg("/usr/bin/true")
            .run()
            .ok();
        assert_untouched(&victim);
        let mode = std::fs::metadata(&victim)
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()));
        assert_ne!(mode.unwrap() & 0o777, 0o700, "--chmod followed the link to the host");
    });
}

#[test]
fn zero_seven_one_one_parents_work() {
    // bwrap 0.13.1's fix: parents opened O_PATH need only search permission.
    both(|as_| {
        let t = TestDir::new();
        let base = t.mkdir("base");
        t.mkdir("base/inner");
        // Searchable but not readable by the test user: owned by root, 0711.
        std::os::unix::fs::chown(&base, Some(0), Some(0)).unwrap();
        std::fs::set_permissions(&base, std::os::unix::fs::PermissionsExt::from_mode(0o711))
            .unwrap();
        Sandbox::new(as_)
            .args(["--ro-bind", "/", "/", "--tmpfs", "/tmp", "--bind", &base, "/tmp/b"])
            .args(["--dir", "/tmp/b/inner/new"])
            .arg("true")
            .run()
            .ok();
        assert!(Path::new(&format!("{base}/inner/new")).is_dir());
    });
}

/// A copy of the binary with extra privilege (setuid root, setgid, or a
/// file capability) must refuse to run: the kernel marks such an exec
/// AT_SECURE. Needs root to set up; runs the copy as the test user.
#[test]
fn refuses_setuid_setgid_and_file_capabilities() {
    if !require(As::Root) || !require(As::User) {
        return;
    }
    if is_bwrap_080() {
        // 0.8.0 supports setuid installs; the refusal is 0.12's.
        return;
    }
    let t = TestDir::new();
    let copy = t.join("nestwrap-priv");
    std::fs::copy(binary(), &copy).unwrap();
    let want = "bwrap: setuid use of bubblewrap is not supported";
    let chmod = |mode: u32| {
        std::os::unix::fs::chown(&copy, Some(0), Some(0)).unwrap();
        std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .unwrap();
    };
    for (what, mode) in [("setuid", 0o4755), ("setgid", 0o2755)] {
        // bubblewrap 0.13.1 only notices setuid; nestwrap refuses any
        // AT_SECURE exec (DECISIONS.md "Refusing privilege").
        if what == "setgid" && nestwrap_only("refusing-privilege") {
            continue;
        }
        chmod(mode);
        let o = Sandbox::new(As::User).program(&copy).args(["--ro-bind", "/", "/", "true"]).run();
        assert_eq!(o.status, 1, "{what}: {o}");
        assert_eq!(o.stderr.trim_end(), want, "{what}: {o}");
        assert!(o.stdout.is_empty(), "{what}: {o}");
    }
    // A file capability (setcap from libcap2-bin, in scripts/test.sh's list).
    if nestwrap_only("refusing-privilege") {
        return;
    }
    chmod(0o755);
    let setcap = std::process::Command::new("setcap").arg("cap_net_raw+ep").arg(&copy).status();
    match setcap {
        Ok(s) if s.success() => {
            let o =
                Sandbox::new(As::User).program(&copy).args(["--ro-bind", "/", "/", "true"]).run();
            assert_eq!(o.status, 1, "file capability: {o}");
            assert_eq!(o.stderr.trim_end(), want, "file capability: {o}");
        }
        other => assert!(!must_work(), "setcap unavailable: {other:?}"),
    }
}

/// The monitor (the process the caller waits for) keeps no capabilities
/// once the sandbox runs, even when root started it.
#[test]
fn monitor_holds_no_capabilities() {
    both(|as_| {
        let t = TestDir::new();
        let out = t.join("caps");
        // The monitor is nestwrap's own process: read its status from the
        // host's /proc while the sandbox sleeps.
        let script = format!(
            "exec {bin} --ro-bind / / sleep 3 & pid=$!; sleep 0.5; \
             grep CapEff /proc/$pid/status > {out}; grep CapPrm /proc/$pid/status >> {out}; \
             grep CapBnd /proc/$pid/status >> {out}; wait $pid",
            bin = binary().display(),
            out = out
        );
        let o = Sandbox::new(as_).program("/bin/sh").args(["-c", &script]).run();
        o.ok();
        let caps = std::fs::read_to_string(&out).unwrap();
        assert!(
            caps.contains("CapEff:\t0000000000000000"),
            "{as_:?}: monitor keeps capabilities:\n{caps}"
        );
        assert!(
            caps.contains("CapPrm:\t0000000000000000"),
            "{as_:?}: monitor keeps capabilities:\n{caps}"
        );
    });
}

// ---- Oversized seccomp programs (issue 15 C) ------------------------------------
//
// `sock_fprog.len` is 16 bits: bwrap 0.13.1 hands a 65537-instruction program
// to the kernel as a 1-instruction one, so a program whose first instruction
// allows everything (and whose other 65536 would kill) becomes "allow all".
// nestwrap refuses any program over the kernel's 4096 instructions, and any
// chain over the kernel's 32768 (counted as `seccomp_attach_filter` counts),
// with one `bwrap:` line, before COMMAND starts.

/// `ret K` (BPF_RET|BPF_K).
fn ret(k: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0..2].copy_from_slice(&0x06u16.to_ne_bytes());
    b[4..8].copy_from_slice(&k.to_ne_bytes());
    b
}
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;

/// `first`, then `rest` until the program has `n` instructions.
fn bpf(first: u32, rest: u32, n: usize) -> Vec<u8> {
    let mut p = ret(first).to_vec();
    for _ in 1..n {
        p.extend_from_slice(&ret(rest));
    }
    p
}

/// A descriptor holding `data` whatever its size (an unlinked file).
fn data_file(t: &TestDir, data: &[u8]) -> std::os::fd::OwnedFd {
    let p = t.path().join("prog.bpf");
    std::fs::write(&p, data).unwrap();
    let f = std::fs::File::open(&p).unwrap();
    std::fs::remove_file(&p).unwrap();
    f.into()
}

/// Runs `program` (the binary by default) with `opts`, the programs on fds
/// 3, 4, ... (one `fd_opt` each), and a COMMAND that leaves a marker in a
/// host directory. Returns the outcome and whether COMMAND ran.
fn run_programs(
    as_: As,
    program: Option<&Path>,
    fd_opt: &str,
    programs: &[Vec<u8>],
    opts: &[&str],
) -> (Outcome, bool) {
    let t = TestDir::new();
    let out = t.mkdir("out");
    let mut sb = Sandbox::new(as_);
    if let Some(p) = program {
        sb = sb.program(p);
    }
    sb = sb.args(["--ro-bind", "/", "/", "--bind", &out, "/tmp"]).args(opts);
    for (i, prog) in programs.iter().enumerate() {
        let fd = 3 + i as i32;
        sb = sb.args([fd_opt, &fd.to_string()]).fd(fd, data_file(&t, prog));
    }
    let o = sb.args(["sh", "-c", "touch /tmp/ran; echo ran"]).run();
    let ran = Path::new(&out).join("ran").exists();
    (o, ran)
}

#[track_caller]
fn assert_refused(o: &Outcome, ran: bool, what: &str) {
    assert!(!ran, "{what}: COMMAND ran\n{o}");
    assert_eq!(o.status, 1, "{what}: status\n{o}");
    assert!(o.stdout.is_empty(), "{what}: COMMAND wrote\n{o}");
    let lines: Vec<&str> = o.stderr.lines().collect();
    // Behaviour, not wording (the unit tests in src/limits.rs pin the text).
    assert!(
        lines.len() == 1 && lines[0].starts_with("bwrap: "),
        "{what}: want exactly one bwrap: line\n{o}"
    );
}

#[track_caller]
fn assert_ran(o: &Outcome, ran: bool, what: &str) {
    assert!(ran && o.status == 0 && o.stdout == "ran\n", "{what}: COMMAND should run\n{o}");
}

/// The attack: 65537 instructions, RET_ALLOW first. bwrap 0.13.1 runs COMMAND
/// (the control shows the truncation is real); nestwrap must not.
#[test]
fn seccomp_program_truncated_to_allow_all_is_refused() {
    if nestwrap_only("seccomp-length-limits") {
        return;
    }
    let attack = bpf(SECCOMP_RET_ALLOW, SECCOMP_RET_KILL_PROCESS, 65537);
    let reference = require_reference("65537-instruction seccomp program");
    both(|as_| {
        for opt in ["--seccomp", "--add-seccomp-fd"] {
            let what = format!("{as_:?} {opt} 65537 instructions");
            let (o, ran) = run_programs(as_, None, opt, std::slice::from_ref(&attack), &[]);
            assert_refused(&o, ran, &what);
            if let Some(bwrap) = reference {
                let (o, ran) =
                    run_programs(as_, Some(bwrap), opt, std::slice::from_ref(&attack), &[]);
                assert_ran(&o, ran, &format!("control: bwrap 0.13.1 truncates, {what}"));
            }
        }
    });
}

/// The kernel's limit exactly: 4096 instructions run, 4097 are refused
/// (by nestwrap, before the kernel would refuse it with EINVAL after setup).
#[test]
fn seccomp_program_of_4097_instructions_is_refused_4096_runs() {
    both(|as_| {
        for opt in ["--seccomp", "--add-seccomp-fd"] {
            let (o, ran) = run_programs(as_, None, opt, &[bpf(SECCOMP_RET_ALLOW, 0, 4097)], &[]);
            assert_refused(&o, ran, &format!("{as_:?} {opt} 4097"));
            let prog = bpf(SECCOMP_RET_ALLOW, SECCOMP_RET_ALLOW, 4096);
            let (o, ran) = run_programs(as_, None, opt, &[prog], &[]);
            assert_ran(&o, ran, &format!("{as_:?} {opt} 4096"));
        }
    });
}

/// Stacked `--add-seccomp-fd` programs: three full ones and one of `last`
/// instructions, all `ret`. The kernel counts the eBPF it makes of each
/// (3 + 2 per `ret`, measured on 6.18) plus 4 per lower filter: the chain
/// fits exactly with a last program of 4084.
fn chain(last: usize) -> Vec<Vec<u8>> {
    let mut v = vec![bpf(SECCOMP_RET_ALLOW, SECCOMP_RET_ALLOW, 4096); 3];
    v.push(bpf(SECCOMP_RET_ALLOW, SECCOMP_RET_ALLOW, last));
    v
}

#[test]
fn stacked_seccomp_programs_over_the_kernel_total_are_refused() {
    if nestwrap_only("seccomp-length-limits") {
        return;
    }
    both(|as_| {
        // With --unshare-pid the reaper attaches the chain too: still one
        // line (bwrap 0.13.1 prints its ENOMEM line twice there).
        for opts in [&[][..], &["--unshare-pid"][..]] {
            let what = format!("{as_:?} {opts:?}");
            let (o, ran) = run_programs(as_, None, "--add-seccomp-fd", &chain(4084), opts);
            assert_ran(&o, ran, &format!("{what}: a chain of exactly 32768"));
            let (o, ran) = run_programs(as_, None, "--add-seccomp-fd", &chain(4085), opts);
            assert_refused(&o, ran, &format!("{what}: a chain of 32770"));
            // Eight full programs are over even before the kernel's
            // translation: refused while parsing.
            let eight = vec![bpf(SECCOMP_RET_ALLOW, SECCOMP_RET_ALLOW, 4096); 8];
            let (o, ran) = run_programs(as_, None, "--add-seccomp-fd", &eight, opts);
            assert_refused(&o, ran, &format!("{what}: eight full programs"));
        }
    });
}

/// A filter the caller already runs under counts too: the chain that fits
/// exactly on its own is refused cleanly under one more filter.
#[test]
fn stacked_seccomp_total_counts_inherited_filters() {
    use crate::util::hostile::{require_seccomp, under_seccomp, Seccomp};
    both(|as_| {
        if !require_seccomp(as_) {
            return;
        }
        let t = TestDir::new();
        let mut sb = under_seccomp(Seccomp::ProcMountEperm, as_).args(["--ro-bind", "/", "/"]);
        for (i, prog) in chain(4084).iter().enumerate() {
            let fd = 3 + i as i32;
            sb = sb.args(["--add-seccomp-fd", &fd.to_string()]).fd(fd, data_file(&t, prog));
        }
        let o = sb.args(["sh", "-c", "echo ran"]).run();
        assert_refused(&o, o.stdout.contains("ran"), &format!("{as_:?}: under a filter"));
        // Control: the same filter alone leaves this sandbox alone.
        let o = under_seccomp(Seccomp::ProcMountEperm, as_)
            .args(["--ro-bind", "/", "/", "sh", "-c", "echo ran"])
            .run();
        assert!(o.status == 0 && o.stdout == "ran\n", "{as_:?}: control\n{o}");
    });
}

/// nestwrap's own `--disable-userns` lock (used where /proc/sys is
/// read-only) is a filter of the same chain and counts toward the total.
#[test]
fn stacked_seccomp_total_counts_the_userns_lock() {
    use crate::util::hostile::{in_rig, require_rig, Rig};
    for as_ in [As::User, As::Root] {
        if !require_rig(as_) {
            continue;
        }
        let t = TestDir::new();
        let run = |lock: bool| {
            let mut sb = in_rig(Rig::RoProcSys, as_).args(["--ro-bind", "/", "/"]);
            if lock {
                sb = sb.args(["--unshare-user", "--disable-userns"]);
            }
            for (i, prog) in chain(4084).iter().enumerate() {
                let fd = 3 + i as i32;
                sb = sb.args(["--add-seccomp-fd", &fd.to_string()]).fd(fd, data_file(&t, prog));
            }
            sb.args(["sh", "-c", "echo ran"]).run()
        };
        let o = run(false);
        assert!(o.status == 0 && o.stdout == "ran\n", "{as_:?}: without the lock it fits\n{o}");
        let o = run(true);
        assert_refused(&o, o.stdout.contains("ran"), &format!("{as_:?}: with the lock"));
    }
}
