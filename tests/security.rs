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
