//! In-sandbox probe for the integration tests (like bwrap's `try-syscall.c`
//! and youki's `runtimetest`). It prints stable `key=value` lines about what
//! it sees, so tests assert facts rather than the output of tools such as
//! `findmnt` that vary between distributions. It is a dev tool: examples are
//! never installed by `cargo install`. Dependency-free (std + libc).
//!
//! Usage: `probe [--mountinfo] [--create PATH]... [PATH...]`
//!
//! Always printed: `uid gid euid egid groups pid ppid hostname cwd`,
//! `CapEff CapPrm CapBnd CapAmb NoNewPrivs` (from /proc/self/status),
//! `ns.<name>` (inode of /proc/self/ns/<name>), `fds`, `proc.pids`,
//! `env.<NAME>` for each variable (sorted).
//! For each PATH: `stat.PATH=<type> <mode> <uid> <gid>[ rdev=MAJ:MIN]`
//! (lstat), `readlink.PATH`, `content.PATH` (first 200 bytes, escaped) and
//! `mount.PATH=<fstype> <mount options> <super options>` for the topmost
//! visible mount whose mount point is exactly PATH.
//! `--create PATH` tries to create a new file: `create.PATH=ok|<ERRNO>`.
//! `--userns-syscalls` tries every way of creating a user namespace, each in a
//! throwaway child: `userns.unshare`, `userns.clone`, `userns.clone3` (x86_64),
//! `userns.unshare_i386` (`int 0x80`), `userns.unshare_x32`, each `ok|<ERRNO>`.
//! `--connect-abstract NAME` connects a stream socket to the abstract unix
//! socket `@NAME`: `connect.@NAME=ok|<ERRNO>`; `--sendto-abstract NAME` sends
//! one datagram to `@NAME`: `sendto.@NAME=ok|<ERRNO>`; `--abstract-inside NAME`
//! listens on `@NAME` (stream) and binds `@NAME.dgram` (datagram), then a
//! forked child connects and sends to both: `inside.@NAME=ok|<ERRNO>`.
//! `--kill PID SIG` sends signal number SIG to PID (for PID 0, the probe's
//! own process group, after ignoring SIG itself): `kill.PID=ok|<ERRNO>`.
//! `--mountinfo` prints `mountinfo=<mount point> <fstype> <opts> <super opts>`
//! for every mount. Errors are printed as `<ERRNO>` names (e.g. `ENOENT`).

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

fn errname(e: &io::Error) -> String {
    let n = e.raw_os_error().unwrap_or(0);
    let name = match n {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EACCES => "EACCES",
        libc::EEXIST => "EEXIST",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EROFS => "EROFS",
        libc::EINVAL => "EINVAL",
        libc::ELOOP => "ELOOP",
        libc::EBADF => "EBADF",
        libc::ENOSPC => "ENOSPC",
        libc::ENXIO => "ENXIO",
        libc::ENOSYS => "ENOSYS",
        libc::ESRCH => "ESRCH",
        libc::ECONNREFUSED => "ECONNREFUSED",
        _ => return format!("E{n}"),
    };
    name.to_string()
}

/// Escape bytes so that a value stays on one line and is readable.
fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

fn os(s: &OsString) -> String {
    escape(s.as_bytes())
}

/// Undo mountinfo's octal escapes (`\040` for a space, ...).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let digits = std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(digits, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Mount {
    dev: u64,
    point: String,
    fstype: String,
    opts: String,
    super_opts: String,
}

fn mountinfo() -> io::Result<Vec<Mount>> {
    let text = fs::read_to_string("/proc/self/mountinfo")?;
    let mut v = Vec::new();
    for line in text.lines() {
        // id parent maj:min root point opts [optional...] - fstype source superopts
        let (pre, post) = match line.split_once(" - ") {
            Some(x) => x,
            None => continue,
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 6 || post.len() < 3 {
            continue;
        }
        let dev = match pre[2].split_once(':') {
            Some((ma, mi)) => libc::makedev(ma.parse().unwrap_or(0), mi.parse().unwrap_or(0)),
            None => 0,
        };
        v.push(Mount {
            dev,
            point: unescape_mountinfo(pre[4]),
            fstype: post[0].to_string(),
            opts: pre[5].to_string(),
            super_opts: post[2].to_string(),
        });
    }
    Ok(v)
}

fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| "?".to_string())
}

fn print_path(p: &str, mounts: &Result<Vec<Mount>, io::Error>) {
    match fs::symlink_metadata(p) {
        Ok(m) => {
            let ft = m.file_type();
            let kind = if ft.is_symlink() {
                "symlink"
            } else if ft.is_dir() {
                "dir"
            } else if ft.is_file() {
                "file"
            } else if ft.is_char_device() {
                "char"
            } else if ft.is_block_device() {
                "block"
            } else if ft.is_fifo() {
                "fifo"
            } else if ft.is_socket() {
                "socket"
            } else {
                "unknown"
            };
            let mut line =
                format!("stat.{p}={kind} {:04o} {} {}", m.mode() & 0o7777, m.uid(), m.gid());
            if ft.is_char_device() || ft.is_block_device() {
                let rdev = m.rdev();
                line.push_str(&format!(" rdev={}:{}", libc::major(rdev), libc::minor(rdev)));
            }
            println!("{line}");
            if ft.is_symlink() {
                match fs::read_link(p) {
                    Ok(t) => println!("readlink.{p}={}", os(&t.into_os_string())),
                    Err(e) => println!("readlink.{p}={}", errname(&e)),
                }
            }
            if ft.is_file() {
                let mut buf = Vec::new();
                match fs::File::open(p).and_then(|f| f.take(200).read_to_end(&mut buf)) {
                    Ok(_) => println!("content.{p}={}", escape(&buf)),
                    Err(e) => println!("content.{p}={}", errname(&e)),
                }
            }
        }
        Err(e) => println!("stat.{p}={}", errname(&e)),
    }
    // Only a visible mount counts: the last one at exactly PATH whose device is
    // the one PATH resolves to (a mount hidden by a later mount on a parent
    // directory is still listed in mountinfo).
    let dev = fs::symlink_metadata(p).map(|m| m.dev()).ok();
    if let (Ok(mounts), Some(dev)) = (mounts, dev) {
        if let Some(m) = mounts.iter().rev().find(|m| m.point == p && m.dev == dev) {
            println!("mount.{p}={} {} {}", m.fstype, m.opts, m.super_opts);
        }
    }
}

fn main() {
    let mut paths = Vec::new();
    let mut creates = Vec::new();
    let mut want_mountinfo = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--mountinfo" => want_mountinfo = true,
            "--userns-syscalls" => userns_syscalls(),
            "--connect-abstract" => {
                let name = args.next().expect("--connect-abstract needs a name");
                let r = abstract_addr(&name)
                    .and_then(|a| std::os::unix::net::UnixStream::connect_addr(&a));
                println!("connect.@{name}={}", result(r.map(drop)));
            }
            "--sendto-abstract" => {
                let name = args.next().expect("--sendto-abstract needs a name");
                let r = std::os::unix::net::UnixDatagram::unbound()
                    .and_then(|s| s.send_to_addr(b"probe", &abstract_addr(&name)?).map(drop));
                println!("sendto.@{name}={}", result(r));
            }
            "--abstract-inside" => {
                let name = args.next().expect("--abstract-inside needs a name");
                println!("inside.@{name}={}", result(abstract_inside(&name)));
            }
            "--kill" => {
                let pid: i32 = args.next().and_then(|p| p.parse().ok()).expect("--kill PID SIG");
                let sig: i32 = args.next().and_then(|p| p.parse().ok()).expect("--kill PID SIG");
                if pid == 0 {
                    // SAFETY: ignoring a signal installs no handler code.
                    unsafe { libc::signal(sig, libc::SIG_IGN) };
                }
                // SAFETY: kill(2) takes integers only.
                let r = unsafe { libc::kill(pid, sig) };
                let r = if r == 0 { Ok(()) } else { Err(io::Error::last_os_error()) };
                println!("kill.{pid}={}", result(r));
            }
            "--create" => creates.push(args.next().expect("--create needs a path")),
            _ => paths.push(a),
        }
    }

    use nix::unistd;
    println!("uid={}", unistd::getuid());
    println!("gid={}", unistd::getgid());
    println!("euid={}", unistd::geteuid());
    println!("egid={}", unistd::getegid());
    let mut groups: Vec<u32> =
        unistd::getgroups().unwrap_or_default().iter().map(|g| g.as_raw()).collect();
    groups.sort_unstable();
    let g: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
    println!("groups={}", g.join(","));
    let (pid, ppid) = (unistd::getpid(), unistd::getppid());
    println!("pid={pid}");
    println!("ppid={ppid}");

    if let Ok(h) = unistd::gethostname() {
        println!("hostname={}", os(&h));
    }
    match std::env::current_dir() {
        Ok(d) => println!("cwd={}", os(&d.into_os_string())),
        Err(e) => println!("cwd={}", errname(&e)),
    }

    match fs::read_to_string("/proc/self/status") {
        Ok(st) => {
            for k in ["CapInh", "CapEff", "CapPrm", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"] {
                println!("{k}={}", status_field(&st, k));
            }
        }
        Err(e) => println!("status={}", errname(&e)),
    }

    if let Ok(rd) = fs::read_dir("/proc/self/ns") {
        let mut ns: Vec<(String, String)> = rd
            .filter_map(|e| e.ok())
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let target = fs::read_link(e.path())
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                // "pid:[4026531836]" → "4026531836"
                let ino = target
                    .split_once('[')
                    .map(|(_, r)| r.trim_end_matches(']').to_string())
                    .unwrap_or(target);
                (name, ino)
            })
            .collect();
        ns.sort();
        for (name, ino) in ns {
            println!("ns.{name}={ino}");
        }
    }

    // Open fds, without /proc (F_GETFD does not allocate one).
    let fds: Vec<String> = (0..1024)
        // SAFETY: F_GETFD on any number is harmless.
        .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1)
        .map(|fd| fd.to_string())
        .collect();
    println!("fds={}", fds.join(","));

    if let Ok(rd) = fs::read_dir("/proc") {
        let mut pids: Vec<u32> =
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
        pids.sort_unstable();
        let p: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
        println!("proc.pids={}", p.join(","));
    }

    let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    env.sort();
    for (k, v) in env {
        println!("env.{}={}", os(&k), os(&v));
    }

    let mounts = mountinfo();
    if want_mountinfo {
        match &mounts {
            Ok(ms) => {
                for m in ms {
                    println!("mountinfo={} {} {} {}", m.point, m.fstype, m.opts, m.super_opts);
                }
            }
            Err(e) => println!("mountinfo={}", errname(e)),
        }
    }
    for c in &creates {
        let r = fs::OpenOptions::new().write(true).create_new(true).open(c);
        match r {
            Ok(_) => println!("create.{c}=ok"),
            Err(e) => println!("create.{c}={}", errname(&e)),
        }
    }
    for p in &paths {
        print_path(p, &mounts);
    }
}

/// Run `attempt` in a forked child; the child exits with 0 on success or the
/// errno. Prints `userns.NAME=ok|<ERRNO>`.
fn try_in_child(name: &str, attempt: fn() -> i64) {
    // SAFETY: the probe is single-threaded; the child only makes raw syscalls
    // and calls _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let r = attempt();
        let code = if r >= 0 { 0 } else { (-r).min(255) as i32 };
        // SAFETY: _exit in the forked child.
        unsafe { libc::_exit(code) };
    }
    let mut st = 0;
    // SAFETY: waitpid on our own child.
    unsafe { libc::waitpid(pid, &mut st, 0) };
    let res = if libc::WIFEXITED(st) {
        match libc::WEXITSTATUS(st) {
            0 => "ok".to_string(),
            e => errname(&io::Error::from_raw_os_error(e)),
        }
    } else {
        format!("signal{}", libc::WTERMSIG(st))
    };
    println!("userns.{name}={res}");
}

/// Raw syscall result as -errno.
fn raw(r: i64) -> i64 {
    if r < 0 {
        -i64::from(io::Error::last_os_error().raw_os_error().unwrap_or(1))
    } else {
        r
    }
}

/// A new process from a clone-like call exits at once; the caller sees >= 0.
fn reap_clone(r: i64) -> i64 {
    if r == 0 {
        // SAFETY: in the new process: leave at once.
        unsafe { libc::_exit(0) };
    }
    r
}

fn result(r: io::Result<()>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => errname(&e),
    }
}

fn abstract_addr(name: &str) -> io::Result<std::os::unix::net::SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
}

/// Abstract sockets made here stay reachable from here: listen on `@NAME`
/// and bind `@NAME.dgram`, then a forked child connects and sends to them.
fn abstract_inside(name: &str) -> io::Result<()> {
    use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
    let listener = UnixListener::bind_addr(&abstract_addr(name)?)?;
    let dgram_name = format!("{name}.dgram");
    let dgram = UnixDatagram::bind_addr(&abstract_addr(&dgram_name)?)?;
    // SAFETY: the probe is single-threaded; the child only makes syscalls
    // and leaves with _exit.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            let r = UnixStream::connect_addr(&abstract_addr(name).unwrap()).and_then(|_| {
                UnixDatagram::unbound()?
                    .send_to_addr(b"inside", &abstract_addr(&dgram_name).unwrap())
                    .map(drop)
            });
            let code = r.err().and_then(|e| e.raw_os_error()).unwrap_or(0);
            // SAFETY: leave the forked child without running Rust's exit path.
            unsafe { libc::_exit(code) }
        }
        child => {
            let mut status = 0;
            // SAFETY: waitpid on our own child, with a valid pointer.
            unsafe { libc::waitpid(child, &mut status, 0) };
            if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
                return Err(io::Error::from_raw_os_error(libc::WEXITSTATUS(status)));
            }
            listener.accept()?;
            let mut buf = [0u8; 16];
            let n = dgram.recv(&mut buf)?;
            if &buf[..n] == b"inside" {
                Ok(())
            } else {
                Err(io::Error::from_raw_os_error(libc::EIO))
            }
        }
    }
}

fn userns_syscalls() {
    const NEWUSER: libc::c_long = libc::CLONE_NEWUSER as libc::c_long;
    try_in_child("unshare", || {
        // SAFETY: unshare in a throwaway child.
        raw(unsafe { libc::syscall(libc::SYS_unshare, NEWUSER) })
    });
    try_in_child("clone", || {
        let flags = NEWUSER | libc::SIGCHLD as libc::c_long;
        // SAFETY: fork-like clone (no CLONE_VM, no new stack); the new process exits at once.
        reap_clone(raw(unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) }))
    });
    try_in_child("clone3", || {
        // struct clone_args (CLONE_ARGS_SIZE_VER0 = 64 bytes): flags, pidfd,
        // child_tid, parent_tid, exit_signal, stack, stack_size, tls.
        let mut args = [0u64; 8];
        args[0] = libc::CLONE_NEWUSER as u64;
        args[4] = libc::SIGCHLD as u64;
        // SAFETY: fork-like clone3 with a valid argument block; the new process exits at once.
        reap_clone(raw(unsafe { libc::syscall(libc::SYS_clone3, args.as_mut_ptr(), 64usize) }))
    });
    try_in_child("unshare_i386", unshare_i386);
    try_in_child("unshare_x32", || {
        const X32_BIT: libc::c_long = 0x4000_0000;
        // SAFETY: the x32 unshare number (272); ENOSYS where the kernel lacks x32.
        raw(unsafe { libc::syscall(X32_BIT | 272, NEWUSER) })
    });
}

#[cfg(target_arch = "x86_64")]
fn unshare_i386() -> i64 {
    let mut ret: i64 = 310; // __NR_unshare in the i386 table
    let mut flags = libc::CLONE_NEWUSER as i64;
    // SAFETY: the compat int 0x80 entry with eax = unshare, ebx = flags; rbx is
    // reserved by LLVM, so swap it in and out around the call.
    unsafe {
        std::arch::asm!(
            "xchg {f}, rbx",
            "int 0x80",
            "xchg {f}, rbx",
            f = inout(reg) flags,
            inout("rax") ret,
        );
    }
    let _ = flags;
    // The compat entry returns a 32-bit value in eax.
    (ret as i32) as i64
}

#[cfg(not(target_arch = "x86_64"))]
fn unshare_i386() -> i64 {
    -(libc::ENOSYS as i64)
}
