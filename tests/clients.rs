//! Real clients end to end (issue 9 "Real clients", issue 6 "Real clients in
//! the masked environment"): Zuul's `zuul-bwrap`, ansible-runner with process
//! isolation and xdg-desktop-portal's icon validator, each run as the
//! unprivileged test user with nestwrap installed as `bwrap`, on the plain host
//! and inside the masked-/proc rig (`Rig::Masked`). No replayed command lines:
//! the clients build their own.
//!
//! Controls: Debian's `/usr/bin/bwrap` (0.8.0) runs every client on the plain
//! host and fails every one of them in the rig, so the rig really reproduces
//! the container obstacle.
//!
//! The clients are installed by `scripts/clients-setup.sh` (called from
//! `scripts/test.sh`) under `/var/tmp/nestwrap-clients` (or
//! `$NESTWRAP_CLIENTS_DIR`). A missing client is `SKIP: ...`, or a failure under
//! `NESTWRAP_MUST_WORK=1`.
//!
//! When a client fails with nestwrap, the test reruns it once with a logging
//! `bwrap` wrapper (argv and nestwrap's stderr go to a file) and puts that log
//! in the failure message; the passing path always uses a plain symlink.

use crate::util::hostile::*;
use crate::util::*;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Debian's bwrap 0.8.0: the control.
const DEBIAN_BWRAP: &str = "/usr/bin/bwrap";
const VALIDATE_ICON: &str = "/usr/libexec/xdg-desktop-portal-validate-icon";
/// Debian 12's bwrap 0.8.0 in the masked rig (0.13.1 names the path `/proc`).
const DEBIAN_PROC_FAIL: &str = "bwrap: Can't mount proc on /newroot/proc: Operation not permitted";

fn clients_dir() -> PathBuf {
    std::env::var_os("NESTWRAP_CLIENTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/nestwrap-clients"))
}

/// Where the client runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Env {
    /// The host, as the test user.
    Plain,
    /// Inside the masked-/proc rig (root-built `unshare -m`), as the test user.
    Masked,
}

/// Which program is installed as `bwrap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impl {
    /// The binary under test (nestwrap).
    Nestwrap,
    /// Debian's `/usr/bin/bwrap`, the control.
    Debian,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Zuul,
    Ansible,
    Portal,
}

impl Client {
    /// What must exist for the client to run.
    fn needs(self) -> Vec<PathBuf> {
        let c = clients_dir();
        match self {
            Client::Zuul => vec![c.join("zuul/.complete"), c.join("zuul/bin/zuul-bwrap")],
            Client::Ansible => vec![
                c.join("ansible/.complete"),
                c.join("ansible/bin/ansible-runner"),
                c.join("ansible/bin/ansible-playbook"),
            ],
            Client::Portal => vec![PathBuf::from(VALIDATE_ICON), c.join("icon/icon.png")],
        }
    }
}

/// Check that `client` can run in `env`, with `imp` as bwrap: SKIP, or panic
/// under `NESTWRAP_MUST_WORK=1`.
fn require_client(client: Client, env: Env, imp: Impl) -> bool {
    let ok = match env {
        Env::Plain => require(As::User),
        Env::Masked => require_rig(As::User),
    };
    if !ok {
        return false;
    }
    let mut missing: Vec<String> = client
        .needs()
        .into_iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if imp == Impl::Debian && !Path::new(DEBIAN_BWRAP).exists() {
        missing.push(format!("{DEBIAN_BWRAP} (apt-get install bubblewrap)"));
    }
    if missing.is_empty() {
        return true;
    }
    let reason = format!(
        "{client:?} client not installed: missing {} (run scripts/clients-setup.sh as root)",
        missing.join(", ")
    );
    if must_work() {
        panic!("NESTWRAP_MUST_WORK=1 but {reason}");
    }
    eprintln!("SKIP: {reason}");
    false
}

/// A directory (0755, once per harness process) holding only `bwrap`, a
/// symlink to `imp`'s binary: put it first in PATH, or pass `<dir>/bwrap`.
fn bwrap_dir(imp: Impl) -> &'static Path {
    static N: OnceLock<PathBuf> = OnceLock::new();
    static D: OnceLock<PathBuf> = OnceLock::new();
    let (cell, name, target) = match imp {
        Impl::Nestwrap => (&N, "as-bwrap-nestwrap", binary()),
        Impl::Debian => (&D, "as-bwrap-debian", Path::new(DEBIAN_BWRAP)),
    };
    cell.get_or_init(|| {
        let dir = bin_dir().join(name);
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let link = dir.join("bwrap");
        if fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(target, &link).unwrap();
        }
        dir
    })
}

/// A `bwrap` that appends its argv and nestwrap's stderr to `<dir>/bwrap.log`
/// (only for the diagnostic rerun after a failure).
fn logging_bwrap(t: &TestDir) -> (PathBuf, PathBuf) {
    let dir = PathBuf::from(t.mkdir("logging-bwrap"));
    let log = PathBuf::from(t.write("logging-bwrap/bwrap.log", ""));
    let script = format!(
        "#!/bin/sh\n\
         {{ printf '$ bwrap'; for a in \"$@\"; do printf \" '%s'\" \"$a\"; done; echo; }} >>'{log}'\n\
         exec '{bin}' \"$@\" 2>>'{log}'\n",
        log = log.display(),
        bin = binary().display()
    );
    let path = dir.join("bwrap");
    fs::write(&path, script).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    (dir, log)
}

/// The user's side of a run: plain, or inside the masked rig.
fn runner(env: Env) -> Sandbox {
    match env {
        Env::Plain => Sandbox::new(As::User),
        Env::Masked => in_rig(Rig::Masked, As::User),
    }
}

/// Fail with the outcome, plus (for nestwrap) a rerun through the logging
/// wrapper: `rerun(dir_with_bwrap)` must repeat the failed run.
#[track_caller]
fn fail(what: &str, o: &Outcome, imp: Impl, rerun: &dyn Fn(&Path) -> Outcome) -> ! {
    let mut msg = format!("{what}\n{o}");
    if imp == Impl::Nestwrap {
        let t = TestDir::new();
        let (dir, log) = logging_bwrap(&t);
        let again = rerun(&dir);
        let log = fs::read_to_string(log).unwrap_or_default();
        msg.push_str(&format!(
            "\n===== rerun with a logging bwrap wrapper\n{again}\n--- bwrap argv and stderr\n{log}"
        ));
    }
    panic!("{msg}");
}

/// The lines nestwrap/bwrap wrote (`bwrap: ...`) in `text`.
fn bwrap_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("bwrap: ")).collect()
}

/// Masked runs print exactly one warning (the procfs fallback); plain runs none.
fn warnings_ok(env: Env, text: &str) -> bool {
    let l = bwrap_lines(text);
    match env {
        Env::Plain => l.is_empty(),
        Env::Masked => l.len() == 1 && l[0].contains("proc"),
    }
}

// ---- Zuul -------------------------------------------------------------------------

fn zuul_bwrap() -> PathBuf {
    clients_dir().join("zuul/bin/zuul-bwrap")
}

/// `zuul-bwrap WORK HOME -- CMD...` as the test user, `bwrap_dir` first in PATH.
fn zuul_run(env: Env, bwrap_dir: &Path, work: &str, home: &str, cmd: &[&str]) -> Outcome {
    runner(env)
        .program(zuul_bwrap())
        .env("PATH", format!("{}:{PATH}", bwrap_dir.display()))
        .arg(work)
        .arg(home)
        .arg("--")
        .args(cmd)
        .run()
}

/// `sleep` processes with exactly this argv still alive (not zombies) on the host.
fn live_sleeps(arg: &str) -> Vec<String> {
    let want = format!("sleep\0{arg}\0");
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // A zombie (or a process gone meanwhile) has an empty cmdline.
        if fs::read(e.path().join("cmdline")).is_ok_and(|c| c == want.as_bytes()) {
            found.push(name);
        }
    }
    found
}

fn zuul(env: Env) {
    let imp = Impl::Nestwrap;
    if !require_client(Client::Zuul, env, imp) {
        return;
    }
    let u = ident(As::User);
    let t = TestDir::new();
    let (work, home) = (t.mkdir("work"), t.mkdir("home"));
    let rerun_with = |cmd: &'static [&'static str]| {
        let (work, home) = (work.clone(), home.clone());
        move |dir: &Path| zuul_run(env, dir, &work, &home, cmd)
    };

    // 1. id: zuul-bwrap's self-check ran, then the command. zuul-bwrap does not
    //    propagate the command's status, so the output is what counts.
    let cmd: &'static [&'static str] = &["id"];
    let o = zuul_run(env, bwrap_dir(imp), &work, &home, cmd);
    let want = format!("uid={}({}) gid={}({})", u.uid, u.name, u.gid, u.name);
    if o.status != 0 || !o.stdout.starts_with(&want) || !warnings_ok(env, &o.stderr) {
        fail(&format!("zuul-bwrap id ({env:?}): want {want:?}"), &o, imp, &rerun_with(cmd));
    }
    eprintln!("zuul {env:?}: id -> {}", o.stdout.trim());

    // 2. /etc/passwd is Zuul's --file pipe: the user's line with HOME replaced.
    let cmd: &'static [&'static str] = &["cat", "/etc/passwd"];
    let o = zuul_run(env, bwrap_dir(imp), &work, &home, cmd);
    let host = fs::read_to_string("/etc/passwd").unwrap();
    let line = host.lines().find(|l| l.starts_with(&format!("{}:", u.name))).unwrap();
    let mut f: Vec<&str> = line.split(':').collect();
    f[5] = &home;
    let want = format!("{}\n", f.join(":"));
    if o.status != 0 || o.stdout != want || !warnings_ok(env, &o.stderr) {
        fail(&format!("zuul-bwrap passwd ({env:?}): want {want:?}"), &o, imp, &rerun_with(cmd));
    }
    eprintln!("zuul {env:?}: passwd -> {}", o.stdout.trim());

    // 3. Zuul's leak test: a disowned background process dies with the sandbox.
    static N: AtomicUsize = AtomicUsize::new(0);
    let arg = format!("60.{}{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    let script = format!(
        "sleep {arg} </dev/null >/dev/null 2>&1 & disown; sleep 0.2; kill -0 $! && echo alive=$!"
    );
    let o = zuul_run(env, bwrap_dir(imp), &work, &home, &["bash", "-c", &script]);
    let returned = Instant::now();
    let mut left = live_sleeps(&arg);
    while !left.is_empty() && returned.elapsed() < Duration::from_millis(500) {
        std::thread::sleep(Duration::from_millis(10));
        left = live_sleeps(&arg);
    }
    let lag = returned.elapsed();
    for pid in &left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid.parse().unwrap()),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let script2 = script.clone();
    let rerun = move |dir: &Path| zuul_run(env, dir, &work, &home, &["bash", "-c", &script2]);
    if o.status != 0 || !o.stdout.starts_with("alive=") || !warnings_ok(env, &o.stderr) {
        fail(&format!("zuul-bwrap leak test ({env:?}): sleep did not start"), &o, imp, &rerun);
    }
    if !left.is_empty() {
        fail(
            &format!("zuul-bwrap leak test ({env:?}): `sleep {arg}` (host pids {left:?}) outlived the sandbox by {lag:?}"),
            &o,
            imp,
            &rerun,
        );
    }
    eprintln!("zuul {env:?}: leak test: background sleep gone {lag:?} after zuul-bwrap returned");
}

#[test]
fn zuul_plain() {
    zuul(Env::Plain);
}

#[test]
fn zuul_masked() {
    if nestwrap_only("masked-proc-fallback") {
        return;
    }
    zuul(Env::Masked);
}

/// Control: Debian's bwrap runs zuul-bwrap on the host and fails its
/// self-check in the rig.
#[test]
fn zuul_control_debian_bwrap() {
    for env in [Env::Plain, Env::Masked] {
        if !require_client(Client::Zuul, env, Impl::Debian) {
            continue;
        }
        let t = TestDir::new();
        let (work, home) = (t.mkdir("work"), t.mkdir("home"));
        let o = zuul_run(env, bwrap_dir(Impl::Debian), &work, &home, &["id"]);
        let u = ident(As::User);
        match env {
            Env::Plain => {
                o.ok();
                assert!(o.stdout.starts_with(&format!("uid={}(", u.uid)), "{o}");
            }
            Env::Masked => {
                assert_ne!(o.status, 0, "Debian's bwrap should fail in the rig\n{o}");
                assert!(o.stderr.contains("bwrap execution validation failed"), "{o}");
                assert_eq!(o.stdout, "", "{o}");
            }
        }
    }
}

// ---- ansible-runner -------------------------------------------------------------

/// A private data dir with a playbook that looks at its uid map, writes a file
/// into the private data dir and runs a `debug` task.
fn ansible_pdd(t: &TestDir) -> String {
    let pdd = t.mkdir("pdd");
    for d in ["project", "inventory", "env"] {
        t.mkdir(&format!("pdd/{d}"));
    }
    t.write(
        "pdd/project/test.yml",
        &format!(
            r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: look at the sandbox
      command: cat /proc/self/uid_map
      register: inside
    - name: write a file into the private data dir
      copy:
        content: "written-by-ansible\n{{{{ inside.stdout | trim }}}}\n"
        dest: "{pdd}/out.txt"
    - name: say hello
      debug:
        msg: "hello-from-the-sandbox"
"#
        ),
    );
    t.write(
        "pdd/inventory/hosts",
        "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n",
    );
    t.write(
        "pdd/env/envvars",
        &format!("PATH: {}:/usr/bin:/bin\n", clients_dir().join("ansible/bin").display()),
    );
    pdd
}

fn ansible_run(env: Env, bwrap: &Path, pdd: &str) -> Outcome {
    let venv = clients_dir().join("ansible");
    runner(env)
        .program(venv.join("bin/ansible-runner"))
        .args(["run", pdd, "-p", "test.yml", "--process-isolation"])
        .arg("--process-isolation-executable")
        .arg(bwrap)
        .arg("--process-isolation-ro-paths")
        .arg(&venv)
        .run()
}

/// The single artifacts directory ansible-runner made.
fn artifact(pdd: &str, name: &str) -> String {
    let dirs: Vec<_> = fs::read_dir(Path::new(pdd).join("artifacts"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.first()
        .and_then(|d| fs::read_to_string(d.join(name)).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn ansible(env: Env) {
    let imp = Impl::Nestwrap;
    if !require_client(Client::Ansible, env, imp) {
        return;
    }
    let u = ident(As::User);
    let t = TestDir::new();
    let pdd = ansible_pdd(&t);
    let bwrap = bwrap_dir(imp).join("bwrap");
    let o = ansible_run(env, &bwrap, &pdd);
    let out = fs::read_to_string(Path::new(&pdd).join("out.txt")).unwrap_or_default();
    let status = artifact(&pdd, "status");
    let command = artifact(&pdd, "command");
    let uid_map = format!("{} {} 1", u.uid, u.uid);
    let out_norm: Vec<String> =
        out.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    let good = o.status == 0
        && status == "successful"
        && o.stdout.contains("hello-from-the-sandbox")
        && out_norm == ["written-by-ansible".to_string(), uid_map.clone()]
        && command.contains(&format!("[\"{}\", \"--die-with-parent\"", bwrap.display()));
    if !good {
        let pdd2 = pdd.clone();
        let what = format!(
            "ansible-runner ({env:?}): status file {status:?}, out.txt {out:?} \
             (want written-by-ansible + uid map {uid_map:?})\nartifacts command: {command}"
        );
        fail(&what, &o, imp, &move |dir: &Path| {
            let _ = fs::remove_dir_all(Path::new(&pdd2).join("artifacts"));
            ansible_run(env, &dir.join("bwrap"), &pdd2)
        });
    }
    eprintln!("ansible-runner {env:?}: status {status}, out.txt {out_norm:?}");
}

#[test]
fn ansible_runner_plain() {
    ansible(Env::Plain);
}

#[test]
fn ansible_runner_masked() {
    if nestwrap_only("masked-proc-fallback") {
        return;
    }
    ansible(Env::Masked);
}

/// Control: Debian's bwrap runs the playbook on the host and fails in the rig.
#[test]
fn ansible_runner_control_debian_bwrap() {
    for env in [Env::Plain, Env::Masked] {
        if !require_client(Client::Ansible, env, Impl::Debian) {
            continue;
        }
        let t = TestDir::new();
        let pdd = ansible_pdd(&t);
        let o = ansible_run(env, &bwrap_dir(Impl::Debian).join("bwrap"), &pdd);
        let status = artifact(&pdd, "status");
        let wrote = Path::new(&pdd).join("out.txt").exists();
        match env {
            Env::Plain => {
                assert!(o.status == 0 && status == "successful" && wrote, "{status}\n{o}");
            }
            Env::Masked => {
                assert!(o.status != 0 && status == "failed" && !wrote, "{status}\n{o}");
                let all = format!("{}{}", o.stdout, o.stderr);
                assert!(all.contains(DEBIAN_PROC_FAIL), "want {DEBIAN_PROC_FAIL:?}\n{o}");
            }
        }
    }
}

// ---- xdg-desktop-portal-validate-icon (Flatpak's bwrap builder) ----------------

const ICON_OK: &str = "[Icon Validator]\nformat=png\nwidth=64\n";

fn portal_run(env: Env, bwrap: &Path) -> Outcome {
    runner(env)
        .program(VALIDATE_ICON)
        .env("FLATPAK_BWRAP", bwrap)
        .args(["--sandbox", "64", "64"])
        .arg(clients_dir().join("icon/icon.png"))
        .run()
}

fn portal(env: Env) {
    let imp = Impl::Nestwrap;
    if !require_client(Client::Portal, env, imp) {
        return;
    }
    let o = portal_run(env, &bwrap_dir(imp).join("bwrap"));
    let stderr_ok = match env {
        Env::Plain => o.stderr.is_empty(),
        Env::Masked => o.stderr.lines().count() == 1 && warnings_ok(env, &o.stderr),
    };
    if o.status != 0 || o.stdout != ICON_OK || !stderr_ok {
        fail(
            &format!("validate-icon ({env:?}): want exit 0 and {ICON_OK:?}"),
            &o,
            imp,
            &move |dir: &Path| portal_run(env, &dir.join("bwrap")),
        );
    }
    eprintln!("validate-icon {env:?}: {:?}, stderr {:?}", o.stdout, o.stderr);
}

#[test]
fn portal_validate_icon_plain() {
    portal(Env::Plain);
}

#[test]
fn portal_validate_icon_masked() {
    if nestwrap_only("masked-proc-fallback") {
        return;
    }
    portal(Env::Masked);
}

/// Control: Debian's bwrap validates the icon on the host and fails in the rig.
#[test]
fn portal_validate_icon_control_debian_bwrap() {
    for env in [Env::Plain, Env::Masked] {
        if !require_client(Client::Portal, env, Impl::Debian) {
            continue;
        }
        let o = portal_run(env, &bwrap_dir(Impl::Debian).join("bwrap"));
        match env {
            Env::Plain => {
                o.ok();
                assert_eq!(o.stdout, ICON_OK, "{o}");
            }
            Env::Masked => {
                assert_ne!(o.status, 0, "{o}");
                assert_eq!(o.stdout, "", "{o}");
                assert!(o.stderr.contains(DEBIAN_PROC_FAIL), "want {DEBIAN_PROC_FAIL:?}\n{o}");
            }
        }
    }
}
