//! Sandbox integration tests: the real binary, every case as root and as the
//! unprivileged test user (see `util::both`). Facts come from the `probe`
//! example running inside the sandbox.
//!
//! Version deltas (behaviour newer than Debian's bwrap 0.8.0) are marked with
//! `skip_if_080`, which only skips when the binary under test reports
//! `bubblewrap 0.8.0` (i.e. `NESTWRAP_TEST_BINARY=/usr/bin/bwrap`).

use crate::util::*;

/// Run the binary with `args`, the probe as COMMAND and `probe_args`; assert success.
fn probe_ok(as_: As, args: &[&str], probe_args: &[&str]) -> Outcome {
    let o = Sandbox::new(as_).args(args).probe(probe_args).run();
    o.ok();
    o
}

fn stat_dir(mode: &str, id: &Ident) -> String {
    format!("dir {mode} {} {}", id.uid, id.gid)
}

fn opts_of(mount_fact: &str) -> (String, Vec<String>, Vec<String>) {
    let mut it = mount_fact.split(' ');
    let fstype = it.next().unwrap_or("").to_string();
    let opts = it.next().unwrap_or("").split(',').map(String::from).collect();
    let sopts = it.next().unwrap_or("").split(',').map(String::from).collect();
    (fstype, opts, sopts)
}

#[track_caller]
fn assert_mount(o: &Outcome, path: &str, fstype: &str, opts: &[&str]) {
    let fact = o.fact(&format!("mount.{path}"));
    let (t, have, _) = opts_of(&fact);
    assert_eq!(t, fstype, "fstype of {path}\n{o}");
    for want in opts {
        assert!(have.iter().any(|h| h == want), "{path} lacks mount option {want}\n{o}");
    }
}

// ---- order of operations -------------------------------------------------

#[test]
fn later_bind_hides_earlier_tmpfs() {
    both(|as_| {
        let t = TestDir::new();
        t.mkdir("src");
        t.write("src/marker", "hello");
        let src = t.join("src");
        let o = probe_ok(
            as_,
            &[
                "--ro-bind",
                "/",
                "/",
                "--tmpfs",
                "/tmp",
                "--tmpfs",
                "/tmp/x",
                "--bind",
                &src,
                "/tmp/x",
            ],
            &["/tmp/x/marker"],
        );
        assert_eq!(o.fact("content./tmp/x/marker"), "hello", "{o}");
    });
}

#[test]
fn later_tmpfs_hides_earlier_bind() {
    both(|as_| {
        let t = TestDir::new();
        t.mkdir("src");
        t.write("src/marker", "hello");
        let src = t.join("src");
        let o = probe_ok(
            as_,
            &[
                "--ro-bind",
                "/",
                "/",
                "--tmpfs",
                "/tmp",
                "--bind",
                &src,
                "/tmp/x",
                "--tmpfs",
                "/tmp/x",
            ],
            &["/tmp/x/marker", "/tmp/x"],
        );
        assert_eq!(o.fact("stat./tmp/x/marker"), "ENOENT", "{o}");
        assert_mount(&o, "/tmp/x", "tmpfs", &["rw"]);
    });
}

// ---- --ro-bind and submounts --------------------------------------------

/// Inner run: `--ro-bind` a tree that has a tmpfs submount at `sub`, and check
/// that the submount is there, read-only, and refuses writes.
fn check_ro_submount(o: &Outcome, tree: &str) {
    let sub = format!("{tree}/sub");
    for p in ["/tmp/t/new", "/tmp/t/sub/new", &format!("{sub}/new")] {
        assert_eq!(o.fact(&format!("create.{p}")), "EROFS", "write to {p}\n{o}");
    }
    assert_mount(o, "/tmp/t/sub", "tmpfs", &["ro", "nosuid", "nodev"]);
    assert_mount(o, &sub, "tmpfs", &["ro", "nosuid", "nodev"]);
}

fn ro_submount_inner_args(tree: &str) -> Vec<String> {
    let sub = format!("{tree}/sub");
    let mut v: Vec<String> =
        ["--ro-bind", "/", "/", "--tmpfs", "/tmp", "--ro-bind", tree, "/tmp/t"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    v.push(probe().to_str().unwrap().into());
    for p in ["/tmp/t/new", "/tmp/t/sub/new", &format!("{sub}/new")] {
        v.push("--create".into());
        v.push(p.to_string());
    }
    v.push("/tmp/t/sub".into());
    v.push(sub);
    v
}

/// The submount is made by an outer sandbox (`--bind / / --tmpfs TREE/sub`); the
/// binary nested inside it must make that submount read-only too.
#[test]
fn ro_bind_is_read_only_on_submounts_nested() {
    both(|as_| {
        let t = TestDir::new();
        t.mkdir("tree/sub");
        let tree = t.join("tree");
        let sub = t.join("tree/sub");
        let o = Sandbox::new(as_)
            .args(["--bind", "/", "/", "--tmpfs", &sub, "--"])
            .arg(binary())
            .args(ro_submount_inner_args(&tree))
            .run();
        o.ok();
        check_ro_submount(&o, &tree);
    });
}

/// Root only: the submount is a real tmpfs mounted inside `unshare -m`, so the
/// host never sees it.
#[test]
fn ro_bind_is_read_only_on_submounts_unshare() {
    if !require(As::Root) {
        return;
    }
    let t = TestDir::new();
    t.mkdir("tree/sub");
    let tree = t.join("tree");
    let sub = t.join("tree/sub");
    let o = Sandbox::new(As::Root)
        .wrap([
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount -t tmpfs -o size=1m nwsub \"$0\" && exec \"$@\"",
            &sub,
        ])
        .args(ro_submount_inner_args(&tree))
        .run();
    o.ok();
    check_ro_submount(&o, &tree);
}

// ---- --tmpfs, --dir, --symlink, --chmod, --remount-ro ---------------------

#[test]
fn tmpfs_perms_and_size() {
    both(|as_| {
        let id = ident(as_);
        let o = probe_ok(
            as_,
            &["--ro-bind", "/", "/", "--perms", "0750", "--size", "1048576", "--tmpfs", "/tmp"],
            &["/tmp"],
        );
        assert_eq!(o.fact("stat./tmp"), stat_dir("0750", &id), "{o}");
        assert_mount(&o, "/tmp", "tmpfs", &["rw", "nosuid", "nodev"]);
        let (_, _, sopts) = opts_of(&o.fact("mount./tmp"));
        assert!(sopts.iter().any(|s| s == "size=1024k"), "size= missing\n{o}");
        assert!(sopts.iter().any(|s| s == "mode=750"), "mode= missing\n{o}");

        let o = probe_ok(as_, &["--ro-bind", "/", "/", "--tmpfs", "/tmp"], &["/tmp"]);
        assert_eq!(o.fact("stat./tmp"), stat_dir("0755", &id), "{o}");
        let (_, _, sopts) = opts_of(&o.fact("mount./tmp"));
        assert!(!sopts.iter().any(|s| s.starts_with("size=")), "unexpected size=\n{o}");
    });
}

#[test]
fn dir_parent_permissions() {
    // (--perms, mode of created parents, mode of the leaf); upstream's table.
    let table: &[(Option<&str>, &str, &str)] = &[
        (Some("0750"), "0750", "0750"),
        (Some("0710"), "0750", "0710"),
        (Some("0700"), "0700", "0700"),
        (Some("0604"), "0705", "0604"),
        (Some("0000"), "0700", "0000"),
        (None, "0755", "0755"),
    ];
    both(|as_| {
        let id = ident(as_);
        for (perms, parent, leaf) in table {
            let mut args = vec!["--ro-bind", "/", "/", "--tmpfs", "/tmp"];
            if let Some(p) = perms {
                args.extend(["--perms", p]);
            }
            args.extend(["--dir", "/tmp/a/b/c"]);
            let o = probe_ok(as_, &args, &["/tmp/a", "/tmp/a/b", "/tmp/a/b/c"]);
            assert_eq!(o.fact("stat./tmp/a"), stat_dir(parent, &id), "perms {perms:?}\n{o}");
            assert_eq!(o.fact("stat./tmp/a/b"), stat_dir(parent, &id), "perms {perms:?}\n{o}");
            assert_eq!(o.fact("stat./tmp/a/b/c"), stat_dir(leaf, &id), "perms {perms:?}\n{o}");
        }
    });
}

#[test]
fn dir_existing_keeps_its_mode() {
    both(|as_| {
        let id = ident(as_);
        let o = probe_ok(
            as_,
            &[
                "--ro-bind",
                "/",
                "/",
                "--tmpfs",
                "/tmp",
                "--dir",
                "/tmp/d",
                "--perms",
                "0700",
                "--dir",
                "/tmp/d",
            ],
            &["/tmp/d"],
        );
        assert_eq!(o.fact("stat./tmp/d"), stat_dir("0755", &id), "{o}");
    });
}

#[test]
fn symlink_created() {
    both(|as_| {
        let o = probe_ok(
            as_,
            &["--ro-bind", "/", "/", "--tmpfs", "/tmp", "--symlink", "/target", "/tmp/x"],
            &["/tmp/x"],
        );
        assert!(o.fact("stat./tmp/x").starts_with("symlink "), "{o}");
        assert_eq!(o.fact("readlink./tmp/x"), "/target", "{o}");
    });
}

#[test]
fn symlink_recreate_same_target_is_ok() {
    if skip_if_080("idempotent --symlink (0.9.0)") {
        return;
    }
    both(|as_| {
        let o = probe_ok(
            as_,
            &[
                "--ro-bind",
                "/",
                "/",
                "--tmpfs",
                "/tmp",
                "--symlink",
                "/y",
                "/tmp/x",
                "--symlink",
                "/y",
                "/tmp/x",
            ],
            &["/tmp/x"],
        );
        assert_eq!(o.fact("readlink./tmp/x"), "/y", "{o}");
    });
}

#[test]
fn symlink_recreate_other_target_fails() {
    if skip_if_080("--symlink conflict messages (0.9.0)") {
        return;
    }
    both(|as_| {
        Sandbox::new(as_)
            .args(["--ro-bind", "/", "/", "--tmpfs", "/tmp", "--symlink", "/y", "/tmp/x"])
            .args(["--symlink", "/z", "/tmp/x", "true"])
            .run()
            .fails_with("bwrap: Can't make symlink at /tmp/x: existing destination is /y");
        Sandbox::new(as_)
            .args(["--ro-bind", "/", "/", "--tmpfs", "/tmp", "--dir", "/tmp/d"])
            .args(["--symlink", "/z", "/tmp/d", "true"])
            .run()
            .fails_with(
                "bwrap: Can't make symlink at /tmp/d: destination exists and is not a symlink",
            );
    });
}

#[test]
fn chmod_sets_mode_and_follows_symlinks() {
    both(|as_| {
        let id = ident(as_);
        let o = Sandbox::new(as_)
            .args([
                "--ro-bind",
                "/",
                "/",
                "--tmpfs",
                "/tmp",
                "--dir",
                "/tmp/d",
                "--chmod",
                "0700",
                "/tmp/d",
            ])
            .args(["--file", "3", "/tmp/f", "--chmod", "0600", "/tmp/f"])
            // Symlinks on the way are followed (0.13.1 refuses one at the
            // end: below).
            .args(["--dir", "/tmp/e", "--symlink", "e", "/tmp/l", "--chmod", "0711", "/tmp/l/."])
            .data_fd(3, b"x")
            .probe(["/tmp/d", "/tmp/f", "/tmp/e"])
            .run();
        o.ok();
        assert_eq!(o.fact("stat./tmp/d"), stat_dir("0700", &id), "{o}");
        assert_eq!(o.fact("stat./tmp/f"), format!("file 0600 {} {}", id.uid, id.gid), "{o}");
        assert_eq!(o.fact("content./tmp/f"), "x", "{o}");
        assert_eq!(o.fact("stat./tmp/e"), stat_dir("0711", &id), "{o}");
        // The last component is opened without following it, and a symlink
        // cannot be chmodded (bwrap 0.13.1).
        Sandbox::new(as_)
            .args(["--ro-bind", "/", "/", "--tmpfs", "/tmp", "--dir", "/tmp/e"])
            .args(["--symlink", "e", "/tmp/l", "--chmod", "0711", "/tmp/l", "true"])
            .run()
            .fails_with("bwrap: Can't chmod 0711 /tmp/l: Operation not supported");
    });
}

#[test]
fn remount_ro() {
    both(|as_| {
        let o = probe_ok(as_, &["--ro-bind", "/", "/", "--tmpfs", "/tmp"], &["--create", "/tmp/x"]);
        assert_eq!(o.fact("create./tmp/x"), "ok", "control: tmpfs must be writable\n{o}");
        let o = probe_ok(
            as_,
            &["--ro-bind", "/", "/", "--tmpfs", "/tmp", "--remount-ro", "/tmp"],
            &["--create", "/tmp/x", "/tmp"],
        );
        assert_eq!(o.fact("create./tmp/x"), "EROFS", "{o}");
        assert_mount(&o, "/tmp", "tmpfs", &["ro", "nosuid", "nodev"]);
    });
}

// ---- --dev, --proc, --mqueue ---------------------------------------------

#[test]
fn dev_contents() {
    let devices = [
        ("null", "1:3"),
        ("zero", "1:5"),
        ("full", "1:7"),
        ("random", "1:8"),
        ("urandom", "1:9"),
        ("tty", "5:0"),
    ];
    let links = [
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("fd", "/proc/self/fd"),
        ("core", "/proc/kcore"),
        ("ptmx", "pts/ptmx"),
    ];
    both(|as_| {
        let mut paths: Vec<String> = vec!["/dev".into(), "/dev/pts".into(), "/dev/shm".into()];
        paths.extend(devices.iter().map(|(d, _)| format!("/dev/{d}")));
        paths.extend(links.iter().map(|(l, _)| format!("/dev/{l}")));
        let o = probe_ok(
            as_,
            &["--ro-bind", "/", "/", "--dev", "/dev"],
            &paths.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        );
        for (d, rdev) in devices {
            let st = o.fact(&format!("stat./dev/{d}"));
            assert!(
                st.starts_with("char ") && st.ends_with(&format!(" rdev={rdev}")),
                "/dev/{d}: {st}\n{o}"
            );
        }
        for (l, target) in links {
            assert_eq!(o.fact(&format!("readlink./dev/{l}")), target, "/dev/{l}\n{o}");
        }
        assert_mount(&o, "/dev", "tmpfs", &["nosuid", "nodev"]);
        assert_mount(&o, "/dev/pts", "devpts", &["nosuid", "noexec"]);
        // Each node is its own bind: nosuid, never nodev (bwrap's
        // BIND_DEVICES), however the flags are applied.
        for (d, _) in devices {
            let path = format!("/dev/{d}");
            assert_mount(&o, &path, "devtmpfs", &["nosuid"]);
            let (_, opts, _) = opts_of(&o.fact(&format!("mount.{path}")));
            assert!(!opts.iter().any(|x| x == "nodev"), "{path} is nodev\n{o}");
        }
        assert!(o.fact("stat./dev/shm").starts_with("dir "), "{o}");

        // The device nodes must be usable (their mounts are not nodev).
        let o = Sandbox::new(as_)
            .args(["--ro-bind", "/", "/", "--dev", "/dev", "sh", "-c"])
            .arg("head -c 3 /dev/zero | od -An -tx1 && echo x >/dev/null && head -c 1 /dev/urandom >/dev/null")
            .run();
        o.ok();
        assert_eq!(o.stdout.trim(), "00 00 00", "{o}");
    });
}

#[test]
fn proc_with_pid_namespace() {
    both(|as_| {
        let o =
            probe_ok(as_, &["--ro-bind", "/", "/", "--unshare-pid", "--proc", "/proc"], &["/proc"]);
        let pids: Vec<u32> =
            o.fact("proc.pids").split(',').filter_map(|p| p.parse().ok()).collect();
        assert!(pids.contains(&1), "no pid 1 in /proc\n{o}");
        assert!(pids.len() <= 4, "too many processes in a fresh pid namespace\n{o}");
        let pid: u32 = o.fact("pid").parse().unwrap();
        assert!(pid > 1 && pid <= 3, "COMMAND should be pid 2 below the reaper\n{o}");
        assert_mount(&o, "/proc", "proc", &["nosuid", "nodev", "noexec"]);

        let o = probe_ok(
            as_,
            &["--ro-bind", "/", "/", "--unshare-pid", "--as-pid-1", "--proc", "/proc"],
            &[],
        );
        assert_eq!(o.fact("pid"), "1", "{o}");
        assert_eq!(o.fact("proc.pids"), "1", "{o}");
    });
}

#[test]
fn mqueue() {
    both(|as_| {
        let o = probe_ok(
            as_,
            &["--ro-bind", "/", "/", "--dev", "/dev", "--unshare-ipc", "--mqueue", "/dev/mqueue"],
            &["/dev/mqueue"],
        );
        assert_mount(&o, "/dev/mqueue", "mqueue", &[]);
    });
}

/// A mount whose destination resolves to the root itself through a symlink
/// replaces the root: later ops must land in the new root (nestwrap looks
/// the root up again only after such a mount), and flags must reach it.
#[test]
fn mount_on_root_through_symlink() {
    if skip_if_080("destinations resolved in the new root (0.12.0)") {
        return;
    }
    both(|as_| {
        let t = TestDir::new();
        let src = t.mkdir("newroot");
        t.write("newroot/marker", "replaced\n");
        let o = Sandbox::new(as_)
            // `/tmp/r/.`: 0.13.1 refuses a symlink as the last component
            // (`Can't mount on symlink destination /tmp/r`), not on the way.
            .args(["--dir", "/tmp", "--symlink", "/", "/tmp/r", "--bind", &src, "/tmp/r/."])
            .args(["--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib"])
            .args(["--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin"])
            .args(["--dir", "/made/deep", "--proc", "/proc", "--remount-ro", "/"])
            .args(["sh", "-c", "cat /marker; test -d /made/deep && echo made; grep -E '^([^ ]+ ){4}/ ' /proc/self/mountinfo"])
            .run();
        o.ok();
        let lines: Vec<&str> = o.stdout.lines().collect();
        assert_eq!(lines.first(), Some(&"replaced"), "{o}");
        assert_eq!(lines.get(1), Some(&"made"), "{o}");
        let root = lines.get(2).copied().unwrap_or_default();
        let opts = root.split(' ').nth(5).unwrap_or_default();
        assert!(opts.split(',').any(|x| x == "ro"), "root not read-only: {root}\n{o}");
        // The ops after the bind went into the bound directory.
        assert!(t.path().join("newroot/made/deep").is_dir(), "{o}");
    });
}

#[test]
fn setup_roots_not_visible() {
    both(|as_| {
        for extra in [&[][..], &["--tmpfs", "/tmp"][..]] {
            let mut args = vec!["--ro-bind", "/", "/"];
            args.extend(extra);
            let o = probe_ok(
                as_,
                &args,
                &["--mountinfo", "/tmp/newroot", "/tmp/oldroot", "/newroot", "/oldroot"],
            );
            for p in ["/tmp/newroot", "/tmp/oldroot", "/newroot", "/oldroot"] {
                assert_eq!(o.fact(&format!("stat.{p}")), "ENOENT", "{p} visible\n{o}");
            }
            for l in o.stdout.lines().filter(|l| l.starts_with("mountinfo=")) {
                assert!(!l.contains("newroot") && !l.contains("oldroot"), "{l}\n{o}");
            }
        }
    });
}

// ---- exit status and errors -----------------------------------------------

#[test]
fn exit_codes() {
    both(|as_| {
        for pid in [&[][..], &["--unshare-pid"][..]] {
            let run = |cmd: &[&str]| {
                Sandbox::new(as_).args(["--ro-bind", "/", "/"]).args(pid).args(cmd).run()
            };
            assert_eq!(run(&["true"]).status, 0);
            let o = run(&["sh", "-c", "exit 7"]);
            assert_eq!(o.status, 7, "{o}");
            let o = run(&["sh", "-c", "kill -TERM $$"]);
            assert_eq!(o.status, 143, "{o}");
            let o = run(&["sh", "-c", "kill -SEGV $$"]);
            assert_eq!(o.status, 139, "{o}");
        }
    });
}

#[test]
fn setup_failures_exit_1_with_one_line() {
    both(|as_| {
        let o = Sandbox::new(as_).args(["--bind", "/nonexistent", "/x", "true"]).run();
        o.fails_with("bwrap: Can't find source path /nonexistent: No such file or directory");
        assert_eq!(o.stdout, "", "{o}");
        Sandbox::new(as_)
            .args(["--ro-bind", "/", "/", "/nonexistent"])
            .run()
            .fails_with("bwrap: execvp /nonexistent: No such file or directory");
        Sandbox::new(as_)
            .args(["--ro-bind", "/", "/", "--chdir", "/nonexistent", "true"])
            .run()
            .fails_with("bwrap: Can't chdir to /nonexistent: No such file or directory");
    });
}

#[test]
fn bad_input_leaves_nothing_on_host() {
    both(|as_| {
        let t = TestDir::new();
        let shared = t.mkdir("shared");
        let created = t.join("shared/created");
        let head = ["--ro-bind", "/", "/", "--bind", &shared, &shared, "--dir", &created];

        // A missing source is found before any operation runs.
        Sandbox::new(as_)
            .args(head)
            .args(["--bind", "/nonexistent", "/x", "true"])
            .run()
            .fails_with("bwrap: Can't find source path /nonexistent: No such file or directory");
        assert!(!t.path().join("shared/created").exists(), "--dir ran before the failure");

        // A parse error: nothing runs at all.
        Sandbox::new(as_)
            .args(head)
            .args(["--perms", "0700", "--remount-ro", "/x", "true"])
            .run()
            .fails_with("bwrap: --perms must be followed by an option that creates a file");
        assert!(!t.path().join("shared/created").exists(), "--dir ran before the parse error");

        // Control: the same binding does create it when nothing fails.
        Sandbox::new(as_).args(head).arg("true").run().ok();
        assert!(t.path().join("shared/created").is_dir(), "control run did not create the dir");
    });
}

// ---- reaper ---------------------------------------------------------------

#[test]
fn pid_namespace_returns_when_command_exits() {
    both(|as_| {
        let o = Sandbox::new(as_)
            .args(["--ro-bind", "/", "/", "--unshare-pid", "--die-with-parent"])
            .args(["sh", "-c", "sleep 1000 >/dev/null 2>&1 & exit 3"])
            .run();
        assert_eq!(o.status, 3, "{o}");
        assert!(o.elapsed.as_secs() < 20, "took {:?}\n{o}", o.elapsed);
    });
}

/// Without --die-with-parent the reaper may linger: find it through
/// --json-status-fd and kill the whole pid namespace afterwards.
#[test]
fn pid_namespace_returns_when_command_exits_reaper_lingers() {
    both(|as_| {
        let o = Sandbox::new(as_)
            .args(["--ro-bind", "/", "/", "--unshare-pid", "--json-status-fd", "3"])
            .args(["sh", "-c", "sleep 1000 >/dev/null 2>&1 & exit 3"])
            .read_fd(3)
            .run();
        let json = String::from_utf8_lossy(&o.fds[&3]).into_owned();
        if let Some(pid) = json_int(&json, "child-pid") {
            // SAFETY: kill(2) with a pid read from the sandbox's status; at worst ESRCH.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
        assert_eq!(o.status, 3, "{o}");
        assert!(o.elapsed.as_secs() < 20, "took {:?}\n{o}", o.elapsed);
        assert_eq!(json_int(&json, "exit-code"), Some(3), "json-status: {json}\n{o}");
    });
}

/// The first integer value of `"key": N` in a JSON text (enough for bwrap's output).
fn json_int(json: &str, key: &str) -> Option<i64> {
    let pat = format!("\"{key}\":");
    let rest = json[json.find(&pat)? + pat.len()..].trim_start();
    let end = rest.find(|c: char| !c.is_ascii_digit() && c != '-').unwrap_or(rest.len());
    rest[..end].parse().ok()
}

// ---- environment, cwd, identity ----------------------------------------------

#[test]
fn env_ops() {
    both(|as_| {
        let o = Sandbox::new(as_)
            .args(["--ro-bind", "/", "/", "--setenv", "FOO", "bar", "--setenv", "EMPTY", ""])
            .args(["--unsetenv", "USER", "--setenv", "KEEP", "x", "--unsetenv", "KEEP"])
            .env("NW_CALLER", "1")
            .probe::<_, &str>([])
            .run();
        o.ok();
        let f = o.facts();
        assert_eq!(f.get("env.FOO").map(String::as_str), Some("bar"), "{o}");
        assert_eq!(f.get("env.EMPTY").map(String::as_str), Some(""), "{o}");
        assert_eq!(f.get("env.NW_CALLER").map(String::as_str), Some("1"), "{o}");
        assert!(!f.contains_key("env.USER") && !f.contains_key("env.KEEP"), "{o}");

        let o = probe_ok(as_, &["--ro-bind", "/", "/", "--clearenv"], &[]);
        let env: Vec<String> = o.facts().into_keys().filter(|k| k.starts_with("env.")).collect();
        assert_eq!(env, ["env.PWD"], "{o}");

        let o = probe_ok(as_, &["--ro-bind", "/", "/", "--clearenv", "--setenv", "A", "b"], &[]);
        let env: Vec<String> = o.facts().into_keys().filter(|k| k.starts_with("env.")).collect();
        assert_eq!(env, ["env.A", "env.PWD"], "{o}");
    });
}

#[test]
fn chdir_rules() {
    both(|as_| {
        let t = TestDir::new();
        let sub = t.mkdir("sub");
        let dir = t.join("");
        let dir = dir.trim_end_matches('/');
        let cwd_pwd = |o: &Outcome| (o.fact("cwd"), o.fact("env.PWD"));
        let pair = |s: &str| (s.to_string(), s.to_string());

        let o = probe_ok(as_, &["--ro-bind", "/", "/", "--chdir", "/tmp"], &[]);
        assert_eq!(cwd_pwd(&o), pair("/tmp"), "{o}");

        // No --chdir: the caller's cwd, when it exists inside.
        let o =
            Sandbox::new(as_).args(["--ro-bind", "/", "/"]).cwd(&sub).probe::<_, &str>([]).run();
        o.ok();
        assert_eq!(cwd_pwd(&o), pair(&sub), "{o}");

        // Hidden cwd: $HOME (as the sandbox's environment has it).
        let o = Sandbox::new(as_)
            .args(["--ro-bind", "/", "/", "--tmpfs", dir])
            .cwd(&sub)
            .env("HOME", "/usr")
            .probe::<_, &str>([])
            .run();
        o.ok();
        assert_eq!(cwd_pwd(&o), pair("/usr"), "{o}");
        let o = Sandbox::new(as_)
            .args(["--ro-bind", "/", "/", "--tmpfs", dir, "--setenv", "HOME", "/etc"])
            .cwd(&sub)
            .probe::<_, &str>([])
            .run();
        o.ok();
        assert_eq!(cwd_pwd(&o), pair("/etc"), "{o}");

        // Neither: /.
        let o = Sandbox::new(as_)
            .args(["--ro-bind", "/", "/", "--tmpfs", dir, "--unsetenv", "HOME"])
            .cwd(&sub)
            .probe::<_, &str>([])
            .run();
        o.ok();
        assert_eq!(cwd_pwd(&o), pair("/"), "{o}");
    });
}

#[test]
fn identity_and_capabilities() {
    both(|as_| {
        let id = ident(as_);
        let o = probe_ok(as_, &["--ro-bind", "/", "/"], &[]);
        assert_eq!(o.fact("uid"), id.uid.to_string(), "{o}");
        assert_eq!(o.fact("gid"), id.gid.to_string(), "{o}");
        assert_eq!(o.fact("NoNewPrivs"), "1", "{o}");
        let zero = "0000000000000000";
        match as_ {
            As::User => {
                for k in ["CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"] {
                    assert_eq!(o.fact(k), zero, "{k}\n{o}");
                }
            }
            As::Root => assert_ne!(o.fact("CapEff"), zero, "root keeps its capabilities\n{o}"),
        }
    });
}

#[test]
fn uid_gid_in_user_namespace() {
    both(|as_| {
        let o = probe_ok(
            as_,
            &["--ro-bind", "/", "/", "--unshare-user", "--uid", "4242", "--gid", "4343"],
            &[],
        );
        assert_eq!((o.fact("uid"), o.fact("euid")), ("4242".into(), "4242".into()), "{o}");
        assert_eq!((o.fact("gid"), o.fact("egid")), ("4343".into(), "4343".into()), "{o}");

        let o = probe_ok(
            as_,
            &["--ro-bind", "/", "/", "--unshare-user", "--uid", "0", "--gid", "0"],
            &[],
        );
        assert_eq!((o.fact("uid"), o.fact("gid")), ("0".into(), "0".into()), "{o}");
    });
}

#[test]
fn namespaces_are_new() {
    let host = |n: &str| {
        let t = std::fs::read_link(format!("/proc/self/ns/{n}")).unwrap();
        let t = t.to_string_lossy().into_owned();
        t.split_once('[').unwrap().1.trim_end_matches(']').to_string()
    };
    both(|as_| {
        let o = probe_ok(as_, &["--ro-bind", "/", "/", "--unshare-all"], &[]);
        for n in ["mnt", "ipc", "net", "pid", "uts", "cgroup", "user"] {
            assert_ne!(o.fact(&format!("ns.{n}")), host(n), "{n} namespace not new\n{o}");
        }
        let o = probe_ok(as_, &["--ro-bind", "/", "/"], &[]);
        for n in ["ipc", "net", "pid", "uts"] {
            assert_eq!(o.fact(&format!("ns.{n}")), host(n), "{n} namespace should be shared\n{o}");
        }
    });
}

#[test]
fn hostname() {
    both(|as_| {
        let o =
            probe_ok(as_, &["--ro-bind", "/", "/", "--unshare-uts", "--hostname", "nwbox"], &[]);
        assert_eq!(o.fact("hostname"), "nwbox", "{o}");
    });
}

// ---- fds -----------------------------------------------------------------

#[test]
fn file_and_info_fd() {
    both(|as_| {
        let id = ident(as_);
        let o = Sandbox::new(as_)
            .args(["--ro-bind", "/", "/", "--tmpfs", "/tmp", "--file", "5", "/tmp/f"])
            .args(["--unshare-pid", "--info-fd", "4"])
            .data_fd(5, b"hello\nworld")
            .read_fd(4)
            .probe(["/tmp/f"])
            .run();
        o.ok();
        assert_eq!(o.fact("content./tmp/f"), "hello\\nworld", "{o}");
        assert_eq!(o.fact("stat./tmp/f"), format!("file 0666 {} {}", id.uid, id.gid), "{o}");
        let fds = o.fact("fds");
        assert!(!fds.split(',').any(|f| f == "4" || f == "5"), "consumed fds leaked: {fds}\n{o}");
        let info = String::from_utf8_lossy(&o.fds[&4]).into_owned();
        assert!(json_int(&info, "child-pid").is_some_and(|p| p > 0), "info: {info}");
        assert!(json_int(&info, "mnt-namespace").is_some(), "info: {info}");
        assert!(json_int(&info, "pid-namespace").is_some(), "info: {info}");

        // An fd that is not consumed is inherited by COMMAND.
        let o = Sandbox::new(as_)
            .args(["--ro-bind", "/", "/"])
            .data_fd(6, b"")
            .probe::<_, &str>([])
            .run();
        o.ok();
        assert!(o.fact("fds").split(',').any(|f| f == "6"), "{o}");
    });
}
