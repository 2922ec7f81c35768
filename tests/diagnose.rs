//! `nestwrap --diagnose`: verdicts on the plain host, in the masked and
//! read-only-/proc/sys rigs and inside real rootless podman; no side
//! effects; well under a second; the predicted fallbacks agree with what a
//! real run records on `--json-status-fd`.
//!
//! SELinux, AppArmor and hidepid are absent on the test machines; their
//! classifiers are unit-tested in `src/diagnose/tests` (see there for the
//! environments that would exercise them for real).

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::hostile::*;
use crate::util::*;

const SANDBOX: &[&str] =
    &["--ro-bind", "/", "/", "--unshare-all", "--proc", "/proc", "--dev", "/dev"];

/// The report's lines, by check id: id → (verdict, rest of the line).
/// Environment checks and command-line checks are kept apart.
struct Lines {
    env: BTreeMap<String, (String, String)>,
    cmd: BTreeMap<String, (String, String)>,
    text: String,
}

impl Lines {
    fn parse(o: &Outcome) -> Lines {
        let mut env = BTreeMap::new();
        let mut cmd = BTreeMap::new();
        let mut in_cmd = false;
        for l in o.stdout.lines().skip(1) {
            if l.starts_with("for: ") {
                in_cmd = true;
                continue;
            }
            if l.starts_with("summary: ") {
                continue;
            }
            let (verdict, rest) =
                l.split_once(' ').unwrap_or_else(|| panic!("bad line {l:?}\n{o}"));
            let (id, finding) =
                rest.trim_start().split_once(": ").unwrap_or_else(|| panic!("bad line {l:?}\n{o}"));
            let m = if in_cmd { &mut cmd } else { &mut env };
            m.insert(id.to_string(), (verdict.to_string(), finding.to_string()));
        }
        Lines { env, cmd, text: o.to_string() }
    }

    #[track_caller]
    fn env(&self, id: &str, verdict: &str, contains: &str) {
        let (v, f) = self.env.get(id).unwrap_or_else(|| panic!("no check {id}\n{}", self.text));
        assert_eq!(v, verdict, "{id}\n{}", self.text);
        assert!(f.contains(contains), "{id}: {contains:?} not in {f:?}\n{}", self.text);
    }

    #[track_caller]
    fn cmd(&self, id: &str, verdict: &str, contains: &str) {
        let (v, f) =
            self.cmd.get(id).unwrap_or_else(|| panic!("no command check {id}\n{}", self.text));
        assert_eq!(v, verdict, "{id}\n{}", self.text);
        assert!(f.contains(contains), "{id}: {contains:?} not in {f:?}\n{}", self.text);
    }
}

/// A report run: exit 0, nothing on stderr, under a second.
#[track_caller]
fn report_ok(o: &Outcome) {
    assert_eq!(o.status, 0, "{o}");
    assert_eq!(o.stderr, "", "{o}");
    assert!(o.elapsed < Duration::from_secs(1), "took {:?}\n{o}", o.elapsed);
    assert!(o.stdout.starts_with("nestwrap "), "{o}");
    assert!(o.stdout.lines().last().unwrap_or("").starts_with("summary: "), "{o}");
}

/// Validate JSON with Python's parser and return it re-dumped compactly,
/// sorted, for substring checks.
fn json_compact(text: &str) -> String {
    let mut c = Command::new("/usr/bin/python3")
        .args(["-c", "import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success(), "invalid JSON: {}\n{text}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

const FEATURES: &[&str] =
    &["mount-ns", "pid-ns", "net-loopback", "pivot-root", "overlay", "devpts", "seccomp"];

#[test]
fn plain_host() {
    if nestwrap_only("extension --diagnose") {
        return;
    }
    both(|as_| {
        let o = Sandbox::new(as_).arg("--diagnose").run();
        report_ok(&o);
        let l = Lines::parse(&o);
        l.env("setuid", "ok", "not setuid");
        l.env("userns", "ok", "maps our ids");
        l.env("nesting", "ok", "32 more sandbox level(s)");
        l.env("proc-masks", "ok", "nothing mounted");
        l.env("fresh-procfs", "ok", "a new procfs mounts");
        l.env("proc-sys", "ok", "writable");
        l.env("apparmor", "ok", "not active");
        l.env("selinux", "ok", "not active");
        l.env("hidepid", "ok", "no hidepid");
        for f in FEATURES {
            assert_eq!(l.env[*f].0, "ok", "{f}\n{o}");
        }
        let caps = if as_ == As::Root { "root with CAP_SYS_ADMIN" } else { "unprivileged" };
        l.env("capabilities", "ok", caps);
        assert!(o.stdout.contains("summary: 0 blocked, 0 fallback"), "{o}");

        let o = Sandbox::new(as_).args(["--diagnose", "--"]).args(SANDBOX).arg("true").run();
        report_ok(&o);
        let l = Lines::parse(&o);
        l.cmd("proc", "ok", "fresh procfs");
        l.cmd("command", "ok", "no fallback needed");
    });
}

#[test]
fn plain_host_json() {
    if nestwrap_only("extension --diagnose") {
        return;
    }
    both(|as_| {
        let o =
            Sandbox::new(as_).args(["--diagnose", "--json", "--"]).args(SANDBOX).arg("true").run();
        report_ok_json(&o);
        let j = json_compact(&o.stdout);
        assert!(j.contains(r#""id": "fresh-procfs", "verdict": "ok""#), "{j}");
        assert!(j.contains(r#""fallbacks": {}"#), "{j}");
        let o = Sandbox::new(as_).args(["--diagnose", "--json"]).run();
        report_ok_json(&o);
        assert!(json_compact(&o.stdout).contains(r#""command": null"#), "{o}");
    });
}

#[track_caller]
fn report_ok_json(o: &Outcome) {
    assert_eq!(o.status, 0, "{o}");
    assert_eq!(o.stderr, "", "{o}");
    assert!(o.elapsed < Duration::from_secs(1), "took {:?}\n{o}", o.elapsed);
}

/// The brief's example: masked /proc → "fresh procfs: refused, masks at
/// /proc/acpi ...; fallback: parent procfs bind", and the prediction for a
/// command line equals what a real run records on --json-status-fd.
#[test]
fn masked_rig() {
    if nestwrap_only("extension --diagnose") {
        return;
    }
    for as_ in [As::User, As::Root] {
        if !require_rig(as_) {
            continue;
        }
        let o = in_rig(Rig::Masked, as_).args(["--diagnose", "--"]).args(SANDBOX).arg("true").run();
        report_ok(&o);
        let l = Lines::parse(&o);
        l.env("proc-masks", "note", "/proc/acpi /proc/keys /proc/timer_list");
        l.env(
            "fresh-procfs",
            "fallback",
            "refused (\"Mount too revealing\"), masks at /proc/acpi /proc/keys",
        );
        l.env(
            "fresh-procfs",
            "fallback",
            "fallback: parent procfs bind (the sandbox sees the container's pids)",
        );
        l.env("subset-pid", "note", "fails");
        l.env("proc-sys", "fallback", "read-only");
        l.cmd("proc", "fallback", "parent-bind (the sandbox sees the container's pids)");

        // --proc-fallback never: the prediction is bwrap's failure.
        let o = in_rig(Rig::Masked, as_)
            .args(["--diagnose", "--", "--proc-fallback", "never"])
            .args(SANDBOX)
            .arg("true")
            .run();
        report_ok(&o);
        Lines::parse(&o).cmd("proc", "blocked", "Can't mount proc on /proc");

        // Predicted fallbacks == recorded fallbacks.
        let args: Vec<&str> =
            SANDBOX.iter().copied().chain(["--unshare-user", "--disable-userns"]).collect();
        let o = in_rig(Rig::Masked, as_)
            .args(["--diagnose", "--json", "--"])
            .args(&args)
            .arg("true")
            .run();
        report_ok_json(&o);
        let j = json_compact(&o.stdout);
        assert!(
            j.contains(r#""fallbacks": {"proc": "parent-bind", "userns-lock": "seccomp"}"#),
            "{j}"
        );
        let real = in_rig(Rig::Masked, as_)
            .args(["--json-status-fd", "3"])
            .args(&args)
            .arg("true")
            .read_fd(3)
            .run();
        real.ok();
        let status = String::from_utf8_lossy(&real.fds[&3]).into_owned();
        let line = command_pid_line(&status).unwrap_or_else(|| panic!("{status}\n{real}"));
        assert!(line.contains(r#""proc":"parent-bind""#), "{line}");
        assert!(line.contains(r#""userns-lock":"seccomp""#), "{line}");
    }
}

/// A sorted `key=value` list of a JSON object's members, through Python's
/// parser (lists joined with `,`), leaving out `skip`.
fn members(object_json: &str, skip: &str) -> Vec<String> {
    let script = "import json,sys\n\
                  o=json.load(sys.stdin)\n\
                  for k in sorted(o):\n \
                  v=o[k]\n \
                  v=','.join(v) if isinstance(v,list) else v\n \
                  print(f'{k}={v}')";
    let mut c = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    c.stdin.take().unwrap().write_all(object_json.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success(), "{}\n{object_json}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    text.lines().filter(|l| !l.starts_with(&format!("{skip}="))).map(str::to_owned).collect()
}

/// For each command line, `--diagnose --json`'s `"fallbacks"` holds exactly
/// the members the real run writes on its `command-pid` line: one
/// `Fallbacks` type, one decision for each (proc tier, proc isolation,
/// userns lock, Landlock scopes, userspace openat2).
#[test]
fn masked_rig_predictions_equal_records() {
    if nestwrap_only("extension --diagnose") {
        return;
    }
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        SANDBOX.iter().copied().chain(extra.iter().copied()).collect()
    };
    let lines: Vec<Vec<&str>> = vec![
        with(&[]),
        with(&["--unshare-user", "--disable-userns"]),
        with(&["--scope-signals", "--scope-abstract-unix-sockets"]),
        with(&["--debug-opt=force-openat-fallback"]),
        vec!["--ro-bind", "/", "/", "--unshare-pid", "--proc", "/proc"],
    ];
    // Seed-style nesting: container root that keeps CAP_SYS_ADMIN below the
    // masks, so nestwrap makes no user namespace of its own.
    let container_root: &[&str] = &["unshare", "-Urm", "--propagation", "private"];
    let mut seen = std::collections::BTreeSet::new();
    for as_ in [As::User, As::Root] {
        if !require_rig(as_) {
            continue;
        }
        for (args, wrapper) in lines.iter().flat_map(|a| [(a, &[][..]), (a, container_root)]) {
            let d = in_rig(Rig::Masked, as_)
                .wrap_more(wrapper)
                .args(["--diagnose", "--json", "--"])
                .args(args)
                .arg("true")
                .run();
            report_ok_json(&d);
            let report = json_compact(&d.stdout);
            let at = report.find(r#""fallbacks": "#).unwrap_or_else(|| panic!("{report}"));
            let rest = &report[at + r#""fallbacks": "#.len()..];
            let predicted = members(&rest[..=rest.find('}').unwrap()], "");

            let real = in_rig(Rig::Masked, as_)
                .wrap_more(wrapper)
                .args(["--json-status-fd", "3"])
                .args(args)
                .arg("true")
                .read_fd(3)
                .run();
            real.ok();
            let status = String::from_utf8_lossy(&real.fds[&3]).into_owned();
            let line = status
                .lines()
                .find(|l| l.contains("\"command-pid\""))
                .unwrap_or_else(|| panic!("{status}\n{real}"));
            let recorded = members(line, "command-pid");
            assert_eq!(predicted, recorded, "{as_:?} {wrapper:?} {args:?}\n{report}\n{line}");
            seen.extend(recorded.into_iter().map(|m| m.split('=').next().unwrap().to_owned()));
        }
    }
    if require_rig(As::User) || require_rig(As::Root) {
        let want = ["landlock-scopes", "openat2", "proc", "proc-isolation", "userns-lock"];
        assert!(want.iter().all(|k| seen.contains(*k)), "recorded only {seen:?}");
    }
}

#[test]
fn read_only_proc_sys_rig() {
    if nestwrap_only("extension --diagnose") {
        return;
    }
    for as_ in [As::User, As::Root] {
        if !require_rig(as_) {
            continue;
        }
        let o = in_rig(Rig::RoProcSys, as_)
            .args(["--diagnose", "--", "--unshare-user", "--disable-userns", "--ro-bind", "/", "/"])
            .arg("true")
            .run();
        report_ok(&o);
        let l = Lines::parse(&o);
        l.env("proc-sys", "fallback", "/proc/sys is read-only");
        l.env("proc-masks", "note", "/proc/sys");
        l.env("seccomp", "ok", "enforced");
        l.cmd("userns-lock", "fallback", "seccomp (/proc/sys is read-only");
    }
}

/// The plain host's /proc/sys is writable: the sysctl lock, no fallback.
#[test]
fn disable_userns_plain_host_uses_sysctl() {
    if nestwrap_only("extension --diagnose") {
        return;
    }
    both(|as_| {
        let o = Sandbox::new(as_)
            .args([
                "--diagnose",
                "--",
                "--unshare-user",
                "--disable-userns",
                "--ro-bind",
                "/",
                "/",
                "true",
            ])
            .run();
        report_ok(&o);
        Lines::parse(&o).cmd("userns-lock", "ok", "sysctl user.max_user_namespaces=1");
    });
}

/// An unmapped caller (inside `unshare --user` without a map) cannot create
/// user namespaces: the report says why, and a real run's bwrap error line
/// is followed by a warning-level hint pointing at --diagnose.
#[test]
fn unmapped_caller_and_hint() {
    if nestwrap_only("extension --diagnose") {
        return;
    }
    if !require(As::User) {
        return;
    }
    let o = Sandbox::new(As::User)
        .wrap(["unshare", "--user"])
        .args(["--diagnose", "--", "--ro-bind", "/", "/", "true"])
        .run();
    report_ok(&o);
    let l = Lines::parse(&o);
    l.env("userns", "blocked", "not mapped in this user namespace");
    l.cmd("userns", "blocked", "a new user namespace is needed");

    let o = Sandbox::new(As::User)
        .wrap(["unshare", "--user"])
        .args(["--level-prefix", "--ro-bind", "/", "/", "true"])
        .run();
    assert_eq!(o.status, 1, "{o}");
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{o}");
    assert!(lines[0].starts_with("<3>bwrap: No permissions to create a new namespace"), "{o}");
    assert!(lines[1].starts_with("<4>bwrap: Hint: "), "{o}");
    assert!(lines[1].contains("nestwrap --diagnose"), "{o}");
}

#[test]
fn diagnose_must_come_first() {
    if nestwrap_only("extension --diagnose") {
        return;
    }
    both(|as_| {
        Sandbox::new(as_)
            .args(["--level-prefix", "--diagnose"])
            .run()
            .fails_with("<3>bwrap: --diagnose must be the first argument");
        Sandbox::new(as_)
            .args(["--ro-bind", "/", "/", "--diagnose", "true"])
            .run()
            .fails_with("bwrap: --diagnose must be the first argument");
        Sandbox::new(as_)
            .args(["--diagnose", "--verbose"])
            .run()
            .fails_with("bwrap: --diagnose takes only --json and -- BWRAP-ARGS..., not --verbose");
        // Inside BWRAP-ARGS it is judged like any refused command line.
        let o = Sandbox::new(as_).args(["--diagnose", "--", "--diagnose", "true"]).run();
        report_ok(&o);
        Lines::parse(&o).cmd("command", "blocked", "bwrap: --diagnose must be the first argument");
        let o = Sandbox::new(as_).args(["--diagnose", "--", "--bogus"]).run();
        report_ok(&o);
        Lines::parse(&o).cmd("command", "blocked", "bwrap: Unknown option --bogus");
    });
}

// ---- no side effects -------------------------------------------------------------

fn snapshot(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    v.push(std::fs::read_to_string("/proc/self/mountinfo").unwrap());
    for f in [
        "/proc/sys/user/max_user_namespaces",
        "/proc/sys/user/max_pid_namespaces",
        "/proc/sys/kernel/unprivileged_userns_clone",
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
    ] {
        v.push(format!("{f}={:?}", std::fs::read_to_string(f).ok()));
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    v.push(names.join(","));
    v
}

/// Nothing changes on the host (mountinfo, sysctls, the caller's cwd and
/// HOME); and under strace every creating or writing open, mkdir and mount
/// happens in a throwaway child that has its own mount namespace, except
/// the child's own id maps.
#[test]
fn writes_nothing() {
    if nestwrap_only("extension --diagnose") {
        return;
    }
    both(|as_| {
        let dir = TestDir::new();
        let before = snapshot(dir.path());
        let o = Sandbox::new(as_)
            .cwd(dir.path())
            .env("HOME", dir.path())
            .env("TMPDIR", dir.path())
            .args(["--diagnose", "--"])
            .args(SANDBOX)
            .arg("true")
            .run();
        report_ok(&o);
        assert_eq!(before, snapshot(dir.path()), "{o}");

        if !require_strace() {
            return;
        }
        let trace = dir.join("trace");
        let o = Sandbox::new(as_)
            .program("strace")
            .args(["-f", "-qq", "-o", &trace])
            .args(["-e", "trace=%file,mount,write,clone,clone3,unshare,pivot_root,fsmount"])
            .arg(binary())
            .args(["--diagnose", "--"])
            .args(SANDBOX)
            .arg("true")
            .run();
        assert_eq!(o.status, 0, "{o}");
        let text = std::fs::read_to_string(&trace).unwrap();
        check_trace(&text);
        // The trace file is the only new entry.
        let after = snapshot(dir.path());
        let mut expected = before.clone();
        *expected.last_mut().unwrap() = "trace".into();
        assert_eq!(expected, after);
    });
}

fn require_strace() -> bool {
    if Command::new("strace").arg("-V").output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    if must_work() {
        panic!("NESTWRAP_MUST_WORK=1 but strace is missing (apt-get install strace)");
    }
    eprintln!("SKIP: strace missing");
    false
}

/// Every filesystem change must come from a pid that lives in a private
/// mount namespace: made by clone with CLONE_NEWNS, or a descendant of one
/// (strace may print a child's calls before its parent's clone returns, so
/// the process tree is collected first).
fn check_trace(text: &str) {
    use std::collections::BTreeSet;
    // strace splits calls interrupted by other pids' output:
    // `clone(... <unfinished ...>` then `<... clone resumed>) = N`.
    let mut pending: BTreeMap<String, String> = BTreeMap::new();
    let mut calls: Vec<(String, String, &str)> = Vec::new();
    for line in text.lines() {
        let Some((pid, call)) = line.split_once(' ') else { continue };
        let mut call = call.trim_start().to_string();
        if let Some(start) = call.strip_suffix(" <unfinished ...>") {
            pending.insert(pid.to_string(), start.to_string());
            continue;
        }
        if call.starts_with("<... ") {
            let (_, rest) = call.split_once(" resumed>").unwrap_or(("", ""));
            call = format!("{}{rest}", pending.remove(pid).unwrap_or_default());
        }
        calls.push((pid.to_string(), call, line));
    }
    let result = |call: &str| call.rsplit_once(" = ").map(|(_, r)| r.trim().to_string());
    // (parent, child, CLONE_NEWNS)
    let edges: Vec<(String, String, bool)> = calls
        .iter()
        .filter(|(_, c, _)| c.starts_with("clone(") || c.starts_with("clone3("))
        .filter_map(|(p, c, _)| {
            let child = result(c)?.parse::<u32>().ok()?;
            Some((p.clone(), child.to_string(), c.contains("CLONE_NEWNS")))
        })
        .collect();
    let mut private: BTreeSet<String> = edges.iter().filter(|e| e.2).map(|e| e.1.clone()).collect();
    for (p, c, _) in &calls {
        if c.starts_with("unshare(")
            && c.contains("CLONE_NEWNS")
            && result(c).as_deref() == Some("0")
        {
            private.insert(p.clone());
        }
    }
    loop {
        let before = private.len();
        for (parent, child, _) in &edges {
            if private.contains(parent) {
                private.insert(child.clone());
            }
        }
        if private.len() == before {
            break;
        }
    }
    let allowed_open = ["/proc/self/setgroups", "/proc/self/uid_map", "/proc/self/gid_map"];
    let fs_change = [
        "mount(",
        "mkdir",
        "unlink",
        "rename",
        "rmdir",
        "symlink",
        "link(",
        "linkat(",
        "pivot_root(",
        "chmod",
        "chown",
        "truncate",
        "move_mount(",
    ];
    for (pid, call, line) in &calls {
        let mutating = (call.starts_with("open") || call.starts_with("creat"))
            && (call.contains("O_WRONLY") || call.contains("O_RDWR") || call.contains("O_CREAT"));
        if mutating {
            let allowed = allowed_open.iter().any(|p| call.contains(&format!("\"{p}\"")));
            assert!(allowed, "write-open outside the allowed id maps: {line}\n{text}");
        }
        if fs_change.iter().any(|c| call.starts_with(c)) {
            assert!(
                private.contains(pid),
                "{line}: filesystem change outside a private mount namespace\n{text}"
            );
            if call.starts_with("mkdir") {
                assert!(
                    call.contains("\"/tmp/"),
                    "{line}: mkdir outside the child's tmpfs\n{text}"
                );
            }
        }
    }
    assert!(!private.is_empty(), "no throwaway children seen\n{text}");
    let first = calls.first().map(|c| c.0.clone()).unwrap_or_default();
    assert!(!private.contains(&first), "the main process changed namespaces");
    assert!(
        calls.iter().any(|(p, c, _)| private.contains(p) && c.starts_with("mount(")),
        "no mount seen in a throwaway child: the trace is not what we think\n{text}"
    );
}

// ---- real rootless podman --------------------------------------------------------

fn podman_diagnose(user: Option<&str>) {
    if !require_podman() {
        return;
    }
    let bw = format!("/nw/{}", binary().file_name().unwrap().to_string_lossy());
    let args = SANDBOX.join(" ");
    let script = format!("{bw} --diagnose -- {args} true; echo \"rc=$?\"");
    let o = podman_run(Rootfs::Busybox, user, &[], &script);
    assert_eq!(o.status, 0, "{o}");
    assert!(o.stdout.contains("\nrc=0"), "{o}");
    let report = Outcome {
        status: 0,
        stdout: o.stdout.split("\nrc=").next().unwrap().to_string() + "\n",
        stderr: String::new(),
        stderr_raw: Vec::new(),
        fds: Default::default(),
        elapsed: Duration::ZERO,
        cmdline: o.cmdline.clone(),
    };
    let l = Lines::parse(&report);
    l.env("userns", "ok", "maps our ids");
    l.env("seccomp-mode", "note", "seccomp filter(s)");
    l.env("proc-masks", "note", "/proc/acpi");
    l.env("fresh-procfs", "fallback", "\"Mount too revealing\"");
    l.env("fresh-procfs", "fallback", "parent procfs bind");
    l.env("proc-sys", "fallback", "read-only");
    l.cmd("proc", "fallback", "parent-bind");
    if user.is_none() {
        l.env("capabilities", "fallback", "container root without CAP_SYS_ADMIN");
        // --unshare-all includes --unshare-user-try: bwrap 0.13.1 makes a
        // user namespace too, so nestwrap's is no fallback (the implicit
        // one is: hostile::container_root_implicit_userns_recorded_where_predicted).
        assert!(!l.cmd.contains_key("userns"), "{}", l.text);
    } else {
        l.env("capabilities", "ok", "unprivileged");
    }

    // And the time, measured inside the container.
    let script = format!(
        "s=$(cat /proc/uptime); {bw} --diagnose >/dev/null; e=$(cat /proc/uptime); echo \"$s $e\""
    );
    let o = podman_run(Rootfs::Busybox, user, &[], &script);
    let t: Vec<f64> = o.stdout.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert_eq!(t.len(), 4, "{o}");
    assert!(t[2] - t[0] < 1.0, "took {}s\n{o}", t[2] - t[0]);
}

#[test]
fn podman_container_root() {
    if nestwrap_only("extension --diagnose") {
        return;
    }
    podman_diagnose(None);
}

#[test]
fn podman_user_1000() {
    if nestwrap_only("extension --diagnose") {
        return;
    }
    podman_diagnose(Some("1000:1000"));
}

/// The kernel's Landlock ABI, asked by Python (`landlock_create_ruleset(NULL,
/// 0, LANDLOCK_CREATE_RULESET_VERSION)`, syscall 444 on x86_64 and aarch64).
fn landlock_abi() -> i64 {
    let o = Command::new("/usr/bin/python3")
        .args(["-c", "import ctypes; print(ctypes.CDLL(None).syscall(444, None, 0, 1))"])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&o.stdout).trim().parse().expect("an ABI number")
}

/// Landlock (issue 18): the ABI and whether each scope is available, as text
/// and JSON, and the verdict on a command line that asks for the scopes;
/// with the landlock syscalls refused by seccomp (ENOSYS: no Landlock;
/// EOPNOTSUPP: disabled at boot), a note and a blocked command line.
#[test]
fn landlock_scopes_reported() {
    if nestwrap_only("extension --diagnose") {
        return;
    }
    let abi = landlock_abi();
    assert!(abi >= 6, "this kernel's Landlock ABI is {abi}; the scopes need 6");
    let scoped =
        ["--ro-bind", "/", "/", "--scope-signals", "--scope-abstract-unix-sockets", "true"];
    both(|as_| {
        let o = Sandbox::new(as_).args(["--diagnose", "--"]).args(scoped).run();
        report_ok(&o);
        let l = Lines::parse(&o);
        l.env(
            "landlock",
            "ok",
            &format!("Landlock ABI {abi}: scopes abstract-unix-sockets and signals available"),
        );
        l.cmd(
            "landlock-scopes",
            "ok",
            &format!("abstract-unix-sockets, signals (Landlock ABI {abi})"),
        );
        let o = Sandbox::new(as_).args(["--diagnose", "--json"]).run();
        report_ok_json(&o);
        let j = json_compact(&o.stdout);
        assert!(j.contains(&format!(r#""landlock-abi": {abi}"#)), "{j}");
        assert!(
            j.contains(r#""landlock-scopes": {"abstract-unix-sockets": true, "signals": true}"#),
            "{j}"
        );
        if !require_seccomp(as_) {
            return;
        }
        for (filter, why) in [
            (Seccomp::LandlockEnosys, "Function not implemented"),
            (Seccomp::LandlockEopnotsupp, "Landlock is disabled on this system"),
        ] {
            let o = under_seccomp(filter, as_).args(["--diagnose", "--"]).args(scoped).run();
            assert_eq!(o.status, 0, "{o}");
            let l = Lines::parse(&o);
            l.env(
                "landlock",
                "note",
                "no Landlock: --scope-abstract-unix-sockets and --scope-signals are unavailable",
            );
            l.env("landlock", "note", why);
            l.cmd("landlock-scopes", "blocked", "nestwrap fails before COMMAND runs");
            let o = under_seccomp(filter, as_).args(["--diagnose", "--json"]).run();
            assert_eq!(o.status, 0, "{o}");
            let j = json_compact(&o.stdout);
            assert!(j.contains(r#""landlock-abi": null"#), "{j}");
            assert!(
                j.contains(
                    r#""landlock-scopes": {"abstract-unix-sockets": false, "signals": false}"#
                ),
                "{j}"
            );
        }
    });
}

// ---- agreement with the real run on the environment ---------------------------------

/// `--diagnose` judges `NESTWRAP_PROC_FALLBACK` with the real run's parser:
/// a value the run refuses is refused in the report with the same message
/// (it used to be read as `auto` and predicted to work).
#[test]
fn diagnose_and_run_agree_on_invalid_env() {
    use std::os::unix::ffi::OsStrExt;
    if nestwrap_only("extension NESTWRAP_PROC_FALLBACK") {
        return;
    }
    let bad_utf8 = std::ffi::OsStr::from_bytes(b"n\xffver");
    let values: [(&std::ffi::OsStr, &str); 3] = [
        ("bogus".as_ref(), "\"bogus\""),
        ("Never".as_ref(), "\"Never\""),
        (bad_utf8, "\"n\u{fffd}ver\""),
    ];
    both(|as_| {
        for (value, shown) in values {
            let msg = format!(
                "bwrap: Invalid NESTWRAP_PROC_FALLBACK value {shown}: expected auto, quiet or never"
            );
            Sandbox::new(as_)
                .env("NESTWRAP_PROC_FALLBACK", value)
                .args(SANDBOX)
                .arg("true")
                .run()
                .fails_with(&msg);
            let o = Sandbox::new(as_)
                .env("NESTWRAP_PROC_FALLBACK", value)
                .arg("--diagnose")
                .arg("--")
                .args(SANDBOX)
                .arg("true")
                .run();
            report_ok(&o);
            Lines::parse(&o).cmd("command", "blocked", &msg);
        }
        // The option wins over the variable in both.
        let o = Sandbox::new(as_)
            .env("NESTWRAP_PROC_FALLBACK", "bogus")
            .args(["--diagnose", "--", "--proc-fallback", "auto"])
            .args(SANDBOX)
            .arg("true")
            .run();
        report_ok(&o);
        assert!(!o.stdout.contains("NESTWRAP_PROC_FALLBACK"), "{o}");
        Sandbox::new(as_)
            .env("NESTWRAP_PROC_FALLBACK", "bogus")
            .args(["--proc-fallback", "auto"])
            .args(SANDBOX)
            .arg("true")
            .run()
            .ok();
    });
}
