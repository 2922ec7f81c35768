#!/usr/bin/python3
"""nestwrap start-up benchmark driver (standard library only).

Three sub-commands:

  measure  runs as ONE user (root, or the unprivileged user via setpriv) and
           times nestwrap, bubblewrap 0.13.1 (the reference), Debian 12's
           bwrap 0.8.0, the `unshare` floor and plain `true`
           side by side: every repetition runs each command once, in an
           order shuffled per repetition (seeded), so drift on a shared
           machine hits all of them alike and no command always runs right
           after the same one (a sandbox's namespace teardown runs on after
           it exits and slows whatever starts next).
           Writes raw samples as JSON.
  report   merges the JSON of one or more users, computes medians, spreads,
           ratios and the issue's targets (PASS/FAIL), and writes a Markdown
           table and an SVG plot (time against number of binds) drawn from the
           measured data.
  compare  times several builds (or bwraps) with the same arguments against
           each other, paired and interleaved the same way, and prints each
           one's median and its per-round ratio to the first (how the default
           build was chosen; DESIGN.md "Which binary").

scripts/bench.sh is the documented entry point; see bench/README.md.
"""

import argparse
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time

# "bwrap" is the reference, bubblewrap 0.13.1 (scripts/bwrap-reference.sh);
# "debian" is Debian 12's bwrap 0.8.0 (/usr/bin/bwrap), kept as a second column.
TOOLS = ("true", "floor", "bwrap", "debian", "nestwrap")
SANDBOX_TOOLS = ("bwrap", "debian", "nestwrap")
LABEL = {"bwrap": "bwrap 0.13.1", "debian": "Debian 12", "nestwrap": "nestwrap"}
NO_RESULT = {"samples": [], "rss": [], "timed_out": None, "error": None}
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C"}
TIME = "/usr/bin/time"
RSS_RUNS = 5

# --------------------------------------------------------------------------
# Scenario definitions
# --------------------------------------------------------------------------


def flatpak_args(uid):
    return [
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/lib", "/lib",
        "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/bin", "/bin",
        "--symlink", "usr/sbin", "/sbin",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
        "--unshare-all", "--die-with-parent", "--new-session",
        "--dir", f"/run/user/{uid}",
        "--ro-bind-data", "3", "/.flatpak-info",
        "--ro-bind-data", "4", "/etc/passwd",
        "--ro-bind-data", "5", "/etc/group",
        "--setenv", "FLATPAK_ID", "org.example.Bench",
        "--setenv", "XDG_RUNTIME_DIR", f"/run/user/{uid}",
        "--setenv", "LANG", "C.UTF-8",
    ]


def flatpak_fds(uid, gid, user):
    info = b"[Application]\nname=org.example.Bench\nruntime=runtime/org.example.Platform/x86_64/1\n"
    passwd = f"{user}:x:{uid}:{gid}:{user}:/home/{user}:/bin/sh\n".encode()
    group = f"{user}:x:{gid}:\n".encode()
    return {3: info, 4: passwd, 5: group}


def zuul_args(uid, gid, work, home):
    """Zuul 14.3's command line (reference containers-and-clients 1(a)),
    without its setpriv/choom wrappers, for bwrap >= 0.8.0."""
    args = [
        "--tmpfs", "/tmp", "--dir", "/var", "--dir", "/var/tmp", "--dir", f"/run/user/{uid}",
        "--ro-bind", "/usr", "/usr", "--ro-bind", "/lib", "/lib",
        "--ro-bind", "/bin", "/bin", "--ro-bind", "/sbin", "/sbin",
        "--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache",
        "--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf",
        "--ro-bind", "/etc/hosts", "/etc/hosts",
        "--ro-bind", "/etc/localtime", "/etc/localtime",
        "--bind", work, work, "--tmpfs", f"{work}/tmp", "--bind", home, home,
        "--proc", "/proc", "--dev", "/dev", "--chdir", work,
        "--unshare-all", "--die-with-parent", "--uid", str(uid), "--gid", str(gid),
        "--file", "3", "/etc/passwd", "--file", "4", "/etc/group",
        "--unshare-user", "--disable-userns",
    ]
    extra = ["/lib64", "/etc/nsswitch.conf", "/etc/lsb-release.d", "/etc/alternatives",
             "/etc/ssl/certs", "/etc/subuid", "/etc/containers"]
    extra += sorted(os.path.join("/etc", f) for f in os.listdir("/etc") if f.endswith("-release"))
    for p in extra:
        if os.path.exists(p):
            args += ["--ro-bind", p, p]
    args += ["--share-net"]
    return args


def zuul_fds(uid, gid, user, home):
    passwd = f"{user}:x:{uid}:{gid}:{user}:{home}:/bin/bash\n".encode()
    group = b"nogroup:x:65534:[]\n"  # Zuul's quirk, copied verbatim
    return {3: passwd, 4: group}


# bwrap (and nestwrap, which keeps the cap) refuse more than 9000 arguments in
# all, --args included. `--dev-bind / / --tmpfs /tmp` + N x 3 + `true` = 6 + 3N,
# so the largest N either tool can be given is 2998: the N = 4000 cannot
# be expressed on a bwrap command line at all.
MAX_ARGS = 9000
MAX_BINDS = (MAX_ARGS - 6) // 3


def binds_args(n):
    args = ["--dev-bind", "/", "/", "--tmpfs", "/tmp"]
    for i in range(n):
        args += ["--ro-bind", "/usr", f"/tmp/m{i}"]
    return args


def scenarios(uid, gid, user, workdir):
    """Scenarios 1-4 as (id, title, sandbox args, fds for pipes), for the
    user running this; makes the Zuul work and home dirs under `workdir`.
    Shared by `measure` and bench/refcheck.py (scripts/refactor-check.sh)."""
    work = os.path.join(workdir, "zuul-work")
    home = os.path.join(workdir, "zuul-home")
    os.makedirs(work, exist_ok=True)
    os.makedirs(home, exist_ok=True)
    return [
        ("1", "minimal: --ro-bind / / true", ["--ro-bind", "/", "/"], {}),
        ("2", "--ro-bind / / --unshare-all --proc /proc --dev /dev true",
         ["--ro-bind", "/", "/", "--unshare-all", "--proc", "/proc", "--dev", "/dev"], {}),
        ("3", "Flatpak-like (/usr, 4 symlinks, proc, dev, tmpfs, unshare-all, "
              "die-with-parent, new-session, 3 ro-bind-data, 3 setenv)",
         flatpak_args(uid), flatpak_fds(uid, gid, user)),
        ("4", "Zuul 14.3 command line (--file pipes for passwd/group, --disable-userns)",
         zuul_args(uid, gid, work, home), zuul_fds(uid, gid, user, home)),
    ]


def bind_counts(quick):
    """The N of scenario 5 (N binds)."""
    return [10, 100] if quick else [10, 100, 1000, MAX_BINDS]


# --------------------------------------------------------------------------
# Running commands
# --------------------------------------------------------------------------


class Cmd:
    def __init__(self, tool, argv, fds=None):
        self.tool = tool
        self.argv = argv
        self.fds = fds or {}


def reserve_low_fds():
    """Occupy fds 3..9 so that pipes land above them and dup2 onto 3..5
    never clobbers a pipe that is still to be mapped."""
    for fd in range(3, 10):
        try:
            os.fstat(fd)
        except OSError:
            nul = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
            if nul != fd:
                os.dup2(nul, fd, inheritable=False)
                os.close(nul)


def prepare_fds(cmd):
    """Create one pipe per --file/--ro-bind-data fd, filled and closed for
    writing, and the posix_spawn file actions mapping them onto their
    numbers. Done before the clock starts."""
    actions = []
    opened = []
    for target, data in sorted(cmd.fds.items()):
        r, w = os.pipe()
        os.write(w, data)
        os.close(w)
        opened.append(r)
        actions.append((os.POSIX_SPAWN_DUP2, r, target))
    return actions, opened


DEVNULL = None


def spawn(argv, actions, pgroup=True):
    global DEVNULL
    if DEVNULL is None:
        DEVNULL = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
    fa = [(os.POSIX_SPAWN_DUP2, DEVNULL, 0), (os.POSIX_SPAWN_DUP2, DEVNULL, 1),
          (os.POSIX_SPAWN_DUP2, DEVNULL, 2)] + actions
    return os.posix_spawn(argv[0], argv, ENV, file_actions=fa,
                          setpgroup=0 if pgroup else None)


class Timeout(Exception):
    pass


def run_timed(cmd, timeout):
    """Run once; return (wall seconds, exit status, peak RSS KiB).

    Peak RSS is wait4()'s ru_maxrss: the number `/usr/bin/time -v` prints as
    "Maximum resident set size" (the largest of the process and the
    descendants it waited for). Raises Timeout after `timeout` seconds,
    killing the process group."""
    actions, opened = prepare_fds(cmd)
    state = {"pid": None, "fired": False}

    def on_alarm(_sig, _frm):
        state["fired"] = True
        if state["pid"]:
            try:
                os.killpg(state["pid"], signal.SIGKILL)
            except OSError:
                pass

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        t0 = time.perf_counter()
        pid = spawn(cmd.argv, actions)
        state["pid"] = pid
        for fd in opened:
            os.close(fd)
        _, status, ru = os.wait4(pid, 0)
        t1 = time.perf_counter()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if state["fired"]:
        raise Timeout()
    return t1 - t0, os.waitstatus_to_exitcode(status), ru.ru_maxrss


def explain_failure(cmd):
    """Re-run a failing command with stderr captured, for the error message."""
    actions, opened = prepare_fds(cmd)
    with tempfile.TemporaryFile() as err:
        fa = [(os.POSIX_SPAWN_DUP2, err.fileno(), 2)] + actions
        pid = os.posix_spawn(cmd.argv[0], cmd.argv, ENV, file_actions=fa)
        for fd in opened:
            os.close(fd)
        _, status, _ = os.wait4(pid, 0)
        err.seek(0)
        return os.waitstatus_to_exitcode(status), err.read().decode(errors="replace").strip()


def strace_count(cmd, tmpdir):
    """Total syscalls of one launch, all processes (`strace -f -c`), and the
    per-syscall breakdown."""
    out = os.path.join(tmpdir, "strace.txt")
    st = Cmd(cmd.tool, ["/usr/bin/strace", "-f", "-c", "-o", out, "--"] + cmd.argv, cmd.fds)
    _, code, _ = run_timed(st, 120)
    if code != 0:
        raise RuntimeError(f"strace of {cmd.tool} exited {code}")
    per = {}
    total = None
    with open(out) as f:
        for line in f:
            parts = line.split()
            if not parts or not parts[0][0].isdigit():
                continue
            if parts[-1] == "total":
                total = int(parts[3])
            elif len(parts) >= 5:
                per[parts[-1]] = int(parts[3])
    if total is None:
        raise RuntimeError(f"no total line in strace output for {cmd.tool}")
    return total, per


def peak_rss(cmd, tmpdir):
    """Peak RSS in KiB as `/usr/bin/time` reports it (%M, the "Maximum
    resident set size" of `time -v`). GNU time fork()s a small process, so
    unlike a vfork from this driver the figure is not inflated by the
    driver's own memory."""
    if not os.access(TIME, os.X_OK):
        return None
    out = os.path.join(tmpdir, "time.txt")
    t = Cmd(cmd.tool, [TIME, "-f", "%M", "-o", out, "--"] + cmd.argv, cmd.fds)
    _, code, _ = run_timed(t, 120)
    if code != 0:
        raise RuntimeError(f"/usr/bin/time of {cmd.tool} exited {code}")
    with open(out) as f:
        return int(f.read().split()[-1])


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# measure
# --------------------------------------------------------------------------


def commands_for(args_fn, fds, tools):
    """true, floor and the three sandboxes for one scenario."""
    return [
        Cmd("true", ["/usr/bin/true"]),
        Cmd("floor", tools["floor"] + ["/usr/bin/true"]),
    ] + [Cmd(t, [tools[t]] + args_fn + ["true"], fds) for t in SANDBOX_TOOLS]


def paired_runs(cmds, reps, warmup, timeout, budget):
    """Interleave: each round runs every command once, in an order
    shuffled per round (seeded, reproducible): a rotation would keep the
    same predecessor for each command in most rounds, and what runs before
    matters (the previous sandbox's namespaces are torn down after it exits,
    in the background, while the next command starts). A command whose
    cumulative time exceeds `budget` stops getting rounds (it keeps at least
    one); one that times out stops at once."""
    rng = random.Random(0x6E657374)
    res = {c.tool: {"samples": [], "rss": [], "timed_out": None, "error": None} for c in cmds}
    spent = {c.tool: 0.0 for c in cmds}
    active = list(cmds)
    for rnd in range(warmup + reps):
        order = list(active)
        rng.shuffle(order)
        for c in order:
            r = res[c.tool]
            if r["error"] or r["timed_out"]:
                continue
            try:
                wall, code, rss = run_timed(c, timeout)
            except Timeout:
                r["timed_out"] = timeout
                log(f"    {c.tool}: timed out after {timeout} s")
                continue
            if code != 0:
                code2, msg = explain_failure(c)
                r["error"] = f"exit {code}: {msg[-400:]}"
                log(f"    {c.tool}: FAILED exit {code}: {msg[-400:]}")
                continue
            if rnd >= warmup:
                r["samples"].append(wall)
            spent[c.tool] += wall
        active = [c for c in active
                  if not res[c.tool]["error"] and not res[c.tool]["timed_out"]
                  and not (spent[c.tool] > budget and res[c.tool]["samples"])]
        if not active:
            break
    return res


def throughput(cmd, total, conc, timeout):
    """Launch `total` sandboxes from `conc` concurrent callers; wall seconds."""
    lock = threading.Lock()
    counter = [0]
    failures = []
    live = set()

    def worker():
        try:
            launch_loop()
        except Exception as e:  # a broken driver must fail, not go unnoticed
            failures.append(repr(e))

    def launch_loop():
        while True:
            with lock:
                if counter[0] >= total or failures:
                    return
                counter[0] += 1
            actions, opened = prepare_fds(cmd)
            pid = spawn(cmd.argv, actions)
            with lock:
                live.add(pid)
            for fd in opened:
                os.close(fd)
            _, status = os.waitpid(pid, 0)
            with lock:
                live.discard(pid)
            if os.waitstatus_to_exitcode(status) != 0:
                failures.append(os.waitstatus_to_exitcode(status))
                return

    def kill_all():
        failures.append("timeout")
        with lock:
            for pid in list(live):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass

    watchdog = threading.Timer(timeout, kill_all)
    watchdog.start()
    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t1 = time.perf_counter()
    watchdog.cancel()
    if failures:
        return None, f"failed: {failures[0]}"
    return t1 - t0, None


def cmd_measure(a):
    reserve_low_fds()
    uid, gid = os.getuid(), os.getgid()
    try:
        import pwd
        user = pwd.getpwuid(uid).pw_name
    except (KeyError, ImportError):
        user = f"u{uid}"
    label = "root" if uid == 0 else "unprivileged"
    # The issue's floor, for both users: scenario 2's --unshare-all includes
    # --unshare-user-try, so bwrap and nestwrap make a user namespace as root
    # too, and the floor has to make one as well (`-r` maps root to itself).
    floor = ["/usr/bin/unshare", "-r", "-m", "-p", "-f", "-n", "-i", "-u"]
    tools = {"floor": floor, "bwrap": a.bwrap, "debian": a.debian_bwrap, "nestwrap": a.nestwrap}

    q = a.quick
    reps = 15 if q else 200
    warm = 2 if q else 10
    bind_ns = bind_counts(q)
    bind_reps = 5 if q else 30
    bind_budget = 10.0 if q else 30.0
    bind_timeout = 20.0 if q else 90.0
    tp_total = 200
    tp_reps = 1 if q else 3
    tp_conc = [2, 16]

    out = {
        "label": label, "uid": uid, "user": user, "quick": q,
        "floor": " ".join(floor + ["true"]),
        "scenarios": [], "binds": [], "throughput": [],
    }
    failed = []
    out["loadavg_before"] = open("/proc/loadavg").read().split()[0]

    scen = scenarios(uid, gid, user, a.workdir)
    with tempfile.TemporaryDirectory(dir=a.workdir) as tmp:
        for sid, title, sargs, fds in scen:
            log(f"  [{label}] scenario {sid}: {reps} paired rounds")
            cmds = commands_for(sargs, fds, tools)
            res = paired_runs(cmds, reps, warm, 60.0, 1e9)
            sys_counts = {}
            for c in cmds:
                if res[c.tool]["error"]:
                    failed.append(f"scenario {sid} {c.tool}: {res[c.tool]['error']}")
                    continue
                try:
                    counts = [strace_count(c, tmp) for _ in range(3)]
                    totals = sorted(t for t, _ in counts)
                    sys_counts[c.tool] = {"total": totals[1], "per": counts[0][1]}
                    rss = [peak_rss(c, tmp) for _ in range(RSS_RUNS)]
                    res[c.tool]["rss"] = [x for x in rss if x is not None]
                except (RuntimeError, OSError) as e:
                    failed.append(f"scenario {sid} strace/time {c.tool}: {e}")
            out["scenarios"].append({
                "id": sid, "title": title,
                "argv": {c.tool: c.argv for c in cmds},
                "results": res, "syscalls": sys_counts,
            })

        # Every (tool, N) pair in the same rounds, so that load drift hits the
        # growth curve evenly too, not only the nestwrap/bwrap ratio at one N.
        log(f"  [{label}] binds N={bind_ns}: up to {bind_reps} paired rounds")
        cmds = []
        for n in bind_ns:
            for c in commands_for(binds_args(n), {}, tools)[2:]:  # the sandboxes
                c.tool = f"{c.tool}@{n}"
                cmds.append(c)
        res = paired_runs(cmds, bind_reps, 0, bind_timeout, bind_budget)
        for n in bind_ns:
            per_n = {}
            for tool in SANDBOX_TOOLS:
                r = res[f"{tool}@{n}"]
                if r["error"]:
                    failed.append(f"binds N={n} {tool}: {r['error']}")
                per_n[tool] = r
            out["binds"].append({"n": n, "results": per_n})

        s2 = [s for s in scen if s[0] == "2"][0]
        cmds = commands_for(s2[2], {}, tools)
        for conc in tp_conc:
            log(f"  [{label}] throughput: {tp_total} launches by {conc} callers, {tp_reps} round(s)")
            res = {c.tool: {"samples": [], "error": None} for c in cmds}
            for rnd in range(tp_reps):
                k = rnd % len(cmds)
                for c in cmds[k:] + cmds[:k]:
                    if res[c.tool]["error"]:
                        continue
                    wall, err = throughput(c, tp_total, conc, 300.0)
                    if err:
                        res[c.tool]["error"] = err
                        failed.append(f"throughput x{conc} {c.tool}: {err}")
                    else:
                        res[c.tool]["samples"].append(wall)
            out["throughput"].append({"concurrency": conc, "launches": tp_total, "results": res})

    out["failures"] = failed
    out["loadavg_after"] = open("/proc/loadavg").read().split()[0]
    with open(a.out, "w") as f:
        json.dump(out, f)
    if failed:
        log(f"  [{label}] FAILURES:\n    " + "\n    ".join(failed))
        return 1
    return 0


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------

TARGET_RATIO = 0.8
TARGET_FLOOR = 1.3
TARGET_1000 = 0.050
TARGET_LINEAR = 1.5  # per-bind cost 1000->largest N at most 1.5x that of 100->1000
TARGET_SYSCALLS = 0.6


def quantiles(xs):
    xs = sorted(xs)
    if len(xs) == 1:
        return xs[0], xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], statistics.median(xs), q[2]


def med(r):
    return statistics.median(r["samples"]) if r and r.get("samples") else None


def ms(x):
    if x is None:
        return "–"
    return f"{x * 1000:.2f}" if x < 0.1 else f"{x * 1000:.0f}"


def cell_time(r):
    if r.get("error"):
        return "**error**"
    if not r["samples"]:
        return f"timed out (>{r['timed_out']:.0f} s)" if r.get("timed_out") else "–"
    lo, m, hi = quantiles(r["samples"])
    s = f"{ms(m)} ({ms(lo)}–{ms(hi)})"
    if r.get("timed_out"):
        s += f"; 1 run timed out (>{r['timed_out']:.0f} s)"
    return s


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt_ratio(x):
    return "–" if x is None else f"{x:.2f}"


def verdict(ok):
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def analyse(runs):
    """Targets from the issue, one row each: (target, user, measured, verdict)."""
    rows = []
    for run in runs:
        u = run["label"]
        sc = {s["id"]: s for s in run["scenarios"]}
        for sid in ("1", "2", "3", "4"):
            r = sc[sid]["results"]
            x = ratio(med(r["nestwrap"]), med(r["bwrap"]))
            rows.append((f"nestwrap/bwrap 0.13.1 ≤ {TARGET_RATIO} (scenario {sid})", u,
                         fmt_ratio(x), verdict(None if x is None else x <= TARGET_RATIO)))
        r = sc["2"]["results"]
        x = ratio(med(r["nestwrap"]), med(r["floor"]))
        rows.append((f"nestwrap ≤ {TARGET_FLOOR}× unshare floor (scenario 2)", u,
                     fmt_ratio(x), verdict(None if x is None else x <= TARGET_FLOOR)))
        b = {e["n"]: e["results"]["nestwrap"] for e in run["binds"]}
        t1000 = med(b.get(1000))
        rows.append(("1000 binds ≤ 50 ms", u, "–" if t1000 is None else f"{ms(t1000)} ms",
                     verdict(None if t1000 is None else t1000 <= TARGET_1000)))
        nmax = max(b) if b else None
        t100, tmax = med(b.get(100)), med(b.get(nmax))
        if None in (t100, t1000, tmax) or nmax <= 1000:
            rows.append(("linear growth from 100 binds to the largest N", u,
                         "needs N=100, 1000 and more", "n/a"))
        else:
            s1 = (t1000 - t100) / 900
            s2 = (tmax - t1000) / (nmax - 1000)
            lin = s2 / s1 if s1 > 0 else float("inf")
            rows.append((f"linear growth 100→{nmax} binds (per-bind cost 1000→{nmax} ÷ 100→1000 ≤ {TARGET_LINEAR})",
                         u, f"{s1 * 1e6:.1f} µs → {s2 * 1e6:.1f} µs per bind ({lin:.2f})",
                         verdict(lin <= TARGET_LINEAR)))
        sy = sc["3"]["syscalls"]
        if "nestwrap" in sy and "bwrap" in sy:
            x = sy["nestwrap"]["total"] / sy["bwrap"]["total"]
            rows.append((f"syscalls ≤ {TARGET_SYSCALLS:.0%} of bwrap 0.13.1's (scenario 3)", u,
                         f"{sy['nestwrap']['total']} / {sy['bwrap']['total']} = {x:.0%}",
                         verdict(x <= TARGET_SYSCALLS)))
        worst = None
        for sid in ("1", "2", "3", "4"):
            r = sc[sid]["results"]
            if r["nestwrap"]["rss"] and r["bwrap"]["rss"]:
                n_ = statistics.median(r["nestwrap"]["rss"])
                b_ = statistics.median(r["bwrap"]["rss"])
                if worst is None or n_ / b_ > worst[0]:
                    worst = (n_ / b_, sid, n_, b_)
        if worst:
            rows.append(("peak RSS ≤ bwrap 0.13.1's (scenarios 1–4, worst shown)", u,
                         f"{worst[2]:.0f} / {worst[3]:.0f} KiB (scenario {worst[1]})",
                         verdict(worst[0] <= 1.0)))
    return rows


def markdown(runs, meta):
    L = []
    L.append("# nestwrap benchmark results")
    L.append("")
    L.append(f"Generated by `scripts/bench.sh{' --quick' if runs[0]['quick'] else ''}` "
             "from one paired run (nestwrap, bubblewrap 0.13.1, Debian 12's bwrap 0.8.0, "
             "floor and `true` interleaved). "
             "Do not edit by hand.")
    L.append("")
    for k, v in meta.items():
        L.append(f"- **{k}**: {v}")
    for run in runs:
        L.append(f"- **floor ({run['label']})**: `{run['floor']}`")
    for run in runs:
        if "loadavg_before" in run:
            L.append(f"- **load average ({run['label']} run)**: {run['loadavg_before']} at start, "
                     f"{run['loadavg_after']} at end (2 CPUs; other work on the machine shows here)")
    L.append("")
    L.append("Times are wall-clock milliseconds per launch (fork+exec included): median "
             "(25th–75th percentile). Ratios are of medians. Overhead ratio = "
             "(nestwrap − true) ÷ (bwrap 0.13.1 − true). **bwrap** is the reference, bubblewrap "
             "0.13.1; **Debian 12** is Debian 12's bwrap 0.8.0. Syscalls: `strace -f -c` total, all processes "
             "of one launch including the dynamic loader and `true` itself. Peak RSS: "
             "median of 5 runs of `/usr/bin/time -f %M` (the maximum resident set size of "
             "`time -v`: the largest process of the launch, `true` included, so `true`'s own "
             "figure is the zero).")
    L.append("")
    L.append("## Targets (issue 10)")
    L.append("")
    L.append("| target | user | measured | result |")
    L.append("|---|---|---|---|")
    for t, u, m, v in analyse(runs):
        L.append(f"| {t} | {u} | {m} | {'**' + v + '**' if v == 'FAIL' else v} |")
    L.append("")
    L.append("## Scenarios 1–4")
    L.append("")
    L.append("| scenario | user | true | floor | bwrap 0.13.1 | Debian 12 | nestwrap | nestwrap/bwrap 0.13.1 "
             "| nestwrap/Debian 12 | nestwrap/floor | overhead ratio "
             "| syscalls nestwrap / 0.13.1 / Debian 12 (true) | peak RSS KiB nestwrap / 0.13.1 / Debian 12 (true) |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    titles = {}
    for run in runs:
        for s in run["scenarios"]:
            titles[s["id"]] = s["title"]
            r = {t: s["results"].get(t, NO_RESULT) for t in TOOLS}
            mt, mf, mb, md, mn = (med(r[t]) for t in TOOLS)
            over = ratio(None if mn is None or mt is None else mn - mt,
                         None if mb is None or mt is None else mb - mt)
            sy = s["syscalls"]
            syc = " / ".join(str(sy[t]["total"]) if t in sy else "–" for t in ("nestwrap", "bwrap", "debian"))
            syc += f" ({sy['true']['total']})" if "true" in sy else ""
            rss = " / ".join(f"{statistics.median(r[t]['rss']):.0f}" if r[t].get("rss") else "–"
                             for t in ("nestwrap", "bwrap", "debian"))
            rss += f" ({statistics.median(r['true']['rss']):.0f})" if r["true"].get("rss") else ""
            L.append(f"| {s['id']} | {run['label']} | {cell_time(r['true'])} | {cell_time(r['floor'])} "
                     f"| {cell_time(r['bwrap'])} | {cell_time(r['debian'])} | {cell_time(r['nestwrap'])} "
                     f"| {fmt_ratio(ratio(mn, mb))} | {fmt_ratio(ratio(mn, md))} | {fmt_ratio(ratio(mn, mf))} "
                     f"| {fmt_ratio(over)} | {syc} | {rss} |")
    L.append("")
    for sid in sorted(titles):
        L.append(f"{sid}. {titles[sid]}")
    L.append("")
    L.append("## Scenario 5: N binds")
    L.append("")
    L.append("`--dev-bind / / --tmpfs /tmp` then N × `--ro-bind /usr /tmp/mI`, `true`. Debian 12's "
             "bwrap 0.8.0 re-reads mountinfo per bind (quadratic; 0.13.1 no longer does): its runs "
             "stop after a time budget, "
             "so it may have fewer samples; a run past the time limit is reported as timed out. "
             f"The largest N is {MAX_BINDS}, not the issue's 4000: bwrap refuses more than "
             f"{MAX_ARGS} arguments in all (`--args` included), and nestwrap keeps that cap.")
    L.append("")
    L.append("| N | user | bwrap 0.13.1 ms | runs | Debian 12 ms | runs | nestwrap ms | runs "
             "| nestwrap/bwrap 0.13.1 | nestwrap/Debian 12 |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        for e in run["binds"]:
            r = {t: e["results"].get(t, NO_RESULT) for t in SANDBOX_TOOLS}
            L.append(f"| {e['n']} | {run['label']} | {cell_time(r['bwrap'])} | {len(r['bwrap']['samples'])} "
                     f"| {cell_time(r['debian'])} | {len(r['debian']['samples'])} "
                     f"| {cell_time(r['nestwrap'])} | {len(r['nestwrap']['samples'])} "
                     f"| {fmt_ratio(ratio(med(r['nestwrap']), med(r['bwrap'])))} "
                     f"| {fmt_ratio(ratio(med(r['nestwrap']), med(r['debian'])))} |")
    L.append("")
    L.append("![time against number of binds](binds.svg)")
    L.append("")
    L.append("## Scenario 6: throughput")
    L.append("")
    L.append("Scenario 2's command launched 200 times by C concurrent callers (threads, each "
             "launching and waiting in turn). Total wall seconds, median over rounds "
             "(min–max), and wall time per launch.")
    L.append("")
    L.append("| callers | user | true s | floor s | bwrap 0.13.1 s | Debian 12 s | nestwrap s "
             "| per launch ms: true / floor / 0.13.1 / Debian 12 / nestwrap | nestwrap/bwrap 0.13.1 "
             "| nestwrap/Debian 12 | nestwrap/floor |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        for e in run["throughput"]:
            r = {t: e["results"].get(t, {"samples": [], "error": None}) for t in TOOLS}

            def c(t):
                if r[t]["error"]:
                    return "**error**"
                xs = r[t]["samples"]
                if not xs:
                    return "–"
                return f"{statistics.median(xs):.3f} ({min(xs):.3f}–{max(xs):.3f})"
            per = " / ".join(ms(med(r[t]) / e["launches"]) if med(r[t]) else "–" for t in TOOLS)
            L.append(f"| {e['concurrency']} | {run['label']} | {c('true')} | {c('floor')} | {c('bwrap')} "
                     f"| {c('debian')} | {c('nestwrap')} | {per} "
                     f"| {fmt_ratio(ratio(med(r['nestwrap']), med(r['bwrap'])))} "
                     f"| {fmt_ratio(ratio(med(r['nestwrap']), med(r['debian'])))} "
                     f"| {fmt_ratio(ratio(med(r['nestwrap']), med(r['floor'])))} |")
    L.append("")
    L.append("## Syscalls by name, scenario 3 (one launch, `strace -f -c`)")
    L.append("")
    for run in runs:
        sy = [s for s in run["scenarios"] if s["id"] == "3"][0]["syscalls"]
        if "nestwrap" not in sy or "bwrap" not in sy:
            continue
        cols = [t for t in ("nestwrap", "bwrap", "debian") if t in sy]
        names = set().union(*(sy[t]["per"] for t in cols))
        rows = sorted(names, key=lambda k: -sum(sy[t]["per"].get(k, 0) for t in cols))
        L.append(f"<details><summary>{run['label']}: "
                 + ", ".join(f"{LABEL[t]} {sy[t]['total']}" for t in cols) + "</summary>")
        L.append("")
        L.append("| syscall | " + " | ".join(LABEL[t] for t in cols) + " |")
        L.append("|---" * (len(cols) + 1) + "|")
        for k in rows:
            L.append(f"| {k} | " + " | ".join(str(sy[t]["per"].get(k, 0)) for t in cols) + " |")
        L.append("")
        L.append("</details>")
        L.append("")
    fails = [f for run in runs for f in run.get("failures", [])]
    if fails:
        L.append("## Benchmark failures")
        L.append("")
        for f in fails:
            L.append(f"- {f}")
        L.append("")
    return "\n".join(L)


def svg_plot(runs):
    """Log-log plot of median time against N binds, one line per tool and
    user, drawn from the measured medians (IQR as whiskers)."""
    import math
    W, H = 760, 480
    ml, mr, mt, mb = 80, 200, 40, 60
    pts = []  # (series, n, med, lo, hi)
    for run in runs:
        for e in run["binds"]:
            for tool in SANDBOX_TOOLS:
                r = e["results"].get(tool, NO_RESULT)
                if r["samples"]:
                    lo, m, hi = quantiles(r["samples"])
                    pts.append(((tool, run["label"]), e["n"], m, lo, hi))
    if not pts:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="40"><text x="10" y="25">no data</text></svg>'
    xs = [p[1] for p in pts]
    ys = [y for p in pts for y in (p[3], p[4])]
    x0, x1 = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
    if x1 == x0:
        x1 += 1
    y0 = math.floor(math.log10(min(ys) * 1000))
    y1 = math.ceil(math.log10(max(ys) * 1000))
    if y1 == y0:
        y1 += 1

    def X(n):
        return ml + (math.log10(n) - x0) / (x1 - x0) * (W - ml - mr)

    def Y(sec):
        return H - mb - (math.log10(sec * 1000) - y0) / (y1 - y0) * (H - mt - mb)

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{(W - mr + ml) / 2}" y="22" text-anchor="middle" font-size="15">'
         'Start-up time against number of --ro-bind (log-log)</text>']
    for d in range(x0, x1 + 1):
        x = X(10 ** d)
        o.append(f'<line x1="{x:.1f}" y1="{mt}" x2="{x:.1f}" y2="{H - mb}" stroke="#ddd"/>')
        o.append(f'<text x="{x:.1f}" y="{H - mb + 18}" text-anchor="middle">{10 ** d}</text>')
    for d in range(y0, y1 + 1):
        y = Y(10 ** d / 1000)
        o.append(f'<line x1="{ml}" y1="{y:.1f}" x2="{W - mr}" y2="{y:.1f}" stroke="#ddd"/>')
        lab = f"{10 ** d:g}" if d >= 0 else f"{10 ** d:.{-d}f}"
        o.append(f'<text x="{ml - 8}" y="{y + 4:.1f}" text-anchor="end">{lab}</text>')
    o.append(f'<rect x="{ml}" y="{mt}" width="{W - ml - mr}" height="{H - mt - mb}" fill="none" stroke="black"/>')
    o.append(f'<text x="{(W - mr + ml) / 2}" y="{H - 15}" text-anchor="middle">number of binds N</text>')
    o.append(f'<text transform="translate(22,{(H - mb + mt) / 2}) rotate(-90)" text-anchor="middle">'
             'median wall time per launch (ms)</text>')
    colours = {"bwrap": "#d62728", "debian": "#ff7f0e", "nestwrap": "#1f77b4"}
    dashes = {"root": "", "unprivileged": ' stroke-dasharray="6,4"'}
    series = sorted({p[0] for p in pts})
    for i, s in enumerate(series):
        sp = sorted((p for p in pts if p[0] == s), key=lambda p: p[1])
        col = colours.get(s[0], "black")
        path = " ".join(f"{'M' if j == 0 else 'L'}{X(p[1]):.1f},{Y(p[2]):.1f}" for j, p in enumerate(sp))
        o.append(f'<path d="{path}" fill="none" stroke="{col}" stroke-width="2"{dashes.get(s[1], "")}/>')
        for p in sp:
            o.append(f'<line x1="{X(p[1]):.1f}" y1="{Y(p[3]):.1f}" x2="{X(p[1]):.1f}" y2="{Y(p[4]):.1f}" stroke="{col}"/>')
            shape = (f'<circle cx="{X(p[1]):.1f}" cy="{Y(p[2]):.1f}" r="3.5" fill="{col}"/>' if s[1] == "root" else
                     f'<rect x="{X(p[1]) - 3.5:.1f}" y="{Y(p[2]) - 3.5:.1f}" width="7" height="7" fill="white" stroke="{col}"/>')
            o.append(shape)
        ly = mt + 20 + i * 22
        o.append(f'<line x1="{W - mr + 15}" y1="{ly}" x2="{W - mr + 45}" y2="{ly}" stroke="{col}" stroke-width="2"{dashes.get(s[1], "")}/>')
        o.append(f'<text x="{W - mr + 52}" y="{ly + 4}">{LABEL[s[0]]} ({s[1]})</text>')
    # Timed-out runs: an arrow at the top of the plot.
    k = len(series)
    for run in runs:
        for e in run["binds"]:
            for tool in SANDBOX_TOOLS:
                r = e["results"].get(tool, NO_RESULT)
                if r.get("timed_out") and not r["samples"]:
                    x = X(e["n"])
                    o.append(f'<text x="{x:.1f}" y="{mt + 14}" text-anchor="middle" fill="{colours[tool]}">'
                             f'▲ {LABEL[tool]} ({run["label"]}) timed out</text>')
    # Guides: slope 1 (linear) and slope 2 (quadratic) through the first point.
    first = min(pts, key=lambda p: (p[1], p[2]))
    ly = mt + 20 + k * 22
    for slope, name in ((1, "slope 1 = linear"), (2, "slope 2 = quadratic")):
        n_a, t_a = first[1], first[2]
        n_b = 10 ** x1
        t_b = t_a * (n_b / n_a) ** slope
        if Y(t_b) < mt:  # clip at the top edge
            t_b = 10 ** y1 / 1000
            n_b = n_a * (t_b / t_a) ** (1 / slope)
        o.append(f'<line x1="{X(n_a):.1f}" y1="{Y(t_a):.1f}" x2="{X(n_b):.1f}" y2="{Y(t_b):.1f}" '
                 f'stroke="#888" stroke-dasharray="2,3"/>')
        o.append(f'<text x="{X(n_b) - 4:.1f}" y="{Y(t_b) + 14:.1f}" text-anchor="end" fill="#666" font-size="10">{name}</text>')
    o.append(f'<text x="{W - mr + 15}" y="{ly + 4}" fill="#666" font-size="11">whiskers: 25th–75th pct</text>')
    o.append(f'<text x="{W - mr + 15}" y="{ly + 20}" fill="#666" font-size="11">dotted: reference slopes</text>')
    o.append("</svg>")
    return "\n".join(o)


def cmd_report(a):
    runs = []
    for p in a.inputs:
        with open(p) as f:
            runs.append(json.load(f))
    order = {"unprivileged": 0, "root": 1}
    runs.sort(key=lambda r: order.get(r["label"], 2))
    meta = {}
    for kv in a.meta or []:
        k, _, v = kv.partition("=")
        meta[k] = v
    md = markdown(runs, meta)
    os.makedirs(os.path.dirname(os.path.abspath(a.md)), exist_ok=True)
    with open(a.md, "w") as f:
        f.write(md + "\n")
    with open(a.svg, "w") as f:
        f.write(svg_plot(runs) + "\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"meta": meta, "runs": runs}, f, indent=1)
            f.write("\n")
    print(md)
    return 1 if any(r.get("failures") for r in runs) else 0


# --------------------------------------------------------------------------
# compare: builds (or any commands) against each other
# --------------------------------------------------------------------------


def cmd_compare(a):
    """Several binaries run with the same ARGS, paired and interleaved like
    `measure` (every round runs each once, in a shuffled order). Prints, per
    binary, the median wall time with its interquartile range and the
    median of its per-round ratio to the first binary (the baseline), with
    that ratio's interquartile range."""
    reserve_low_fds()
    names, paths = [], []
    for spec in a.binaries:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = os.path.basename(spec), spec
        names.append(name)
        paths.append(path)
    if len(set(names)) != len(names):
        raise SystemExit("compare: give every binary a distinct NAME=PATH")
    cmds = [Cmd(n, [p] + a.args) for n, p in zip(names, paths)]
    rng = random.Random(0x6E657374)
    samples = {n: [] for n in names}
    load0 = open("/proc/loadavg").read().split()[0]
    for rnd in range(a.warmup + a.rounds):
        order = list(cmds)
        rng.shuffle(order)
        for c in order:
            wall, code, _ = run_timed(c, 60.0)
            if code != 0:
                _, msg = explain_failure(c)
                raise SystemExit(f"compare: {c.tool} exited {code}: {msg[-400:]}")
            if rnd >= a.warmup:
                samples[c.tool].append(wall)
    load1 = open("/proc/loadavg").read().split()[0]
    base = names[0]
    uid = os.getuid()
    print(f"uid {uid}, {a.rounds} paired rounds (+{a.warmup} warm-up), load average {load0} -> {load1}")
    print(f"args: {' '.join(a.args)}")
    print(f"{'build':<16} {'median ms (p25-p75)':<24} {'paired ratio to ' + base + ' (p25-p75)':<34} binary (kind)")
    for n, p in zip(names, paths):
        lo, m, hi = quantiles(samples[n])
        ratios = [x / y for x, y in zip(samples[n], samples[base])]
        rlo, rm, rhi = quantiles(ratios)
        print(f"{n:<16} {ms(m) + ' (' + ms(lo) + '-' + ms(hi) + ')':<24} "
              f"{f'{rm:.3f} ({rlo:.3f}-{rhi:.3f})':<34} {p} ({elf_kind(p)})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"uid": uid, "args": a.args, "load": [load0, load1],
                       "binaries": dict(zip(names, paths)), "samples": samples}, f)
    return 0


# --------------------------------------------------------------------------
# buildinfo: which build of nestwrap is measured
# --------------------------------------------------------------------------


def elf_kind(path):
    """'static-pie', 'static', 'dynamic PIE' or 'dynamic', from the ELF
    header (e_type) and program headers (PT_INTERP, PT_DYNAMIC): a static PIE
    is ET_DYN without an interpreter."""
    import struct
    with open(path, "rb") as f:
        data = f.read(1 << 16)
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return "not a 64-bit ELF file"
    e_type = struct.unpack_from("<H", data, 16)[0]
    e_phoff = struct.unpack_from("<Q", data, 32)[0]
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
    types = {struct.unpack_from("<I", data, e_phoff + i * e_phentsize)[0] for i in range(e_phnum)}
    interp = 3 in types  # PT_INTERP
    if interp:
        return "dynamic PIE" if e_type == 3 else "dynamic"
    return "static-pie" if e_type == 3 else "static"


def cmd_buildinfo(a):
    """One line for the results header: the binary's kind and the release
    profile it was built with (from Cargo.toml)."""
    kind = elf_kind(a.binary)
    prof = ""
    if a.cargo_toml:
        try:
            import tomllib
            with open(a.cargo_toml, "rb") as f:
                rel = tomllib.load(f).get("profile", {}).get("release", {})
            prof = ", release profile: " + (", ".join(
                f"{k} = {v if isinstance(v, str) else json.dumps(v)}" for k, v in rel.items()) or "defaults")
        except (ImportError, OSError, ValueError) as e:
            prof = f", release profile unknown ({e})"
    print(f"{kind} build{prof}, {os.path.getsize(a.binary)} bytes")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--nestwrap", required=True)
    m.add_argument("--bwrap", required=True, help="the reference, bubblewrap 0.13.1")
    m.add_argument("--debian-bwrap", default="/usr/bin/bwrap", help="Debian 12's bwrap 0.8.0")
    m.add_argument("--workdir", required=True, help="writable scratch directory of this user")
    m.add_argument("--out", required=True)
    m.add_argument("--quick", action="store_true")
    r = sub.add_parser("report")
    r.add_argument("inputs", nargs="+")
    r.add_argument("--md", required=True)
    r.add_argument("--svg", required=True)
    r.add_argument("--json", help="also write the merged raw data here")
    r.add_argument("--meta", action="append", help="KEY=VALUE line for the header")
    c = sub.add_parser("compare", help="time builds against each other (paired, interleaved)")
    c.add_argument("--rounds", type=int, default=300)
    c.add_argument("--warmup", type=int, default=10)
    c.add_argument("--json", help="write every sample here")
    c.add_argument("binaries", nargs="+", metavar="NAME=PATH",
                   help="the first one is the baseline of the ratios")
    c.add_argument("--args", nargs=argparse.REMAINDER, required=True,
                   help="the sandbox arguments and command, e.g. --args --ro-bind / / true")
    b = sub.add_parser("buildinfo", help="describe a nestwrap binary (static/dynamic, profile)")
    b.add_argument("binary")
    b.add_argument("--cargo-toml")
    a = p.parse_args()
    return {"measure": cmd_measure, "report": cmd_report, "compare": cmd_compare,
            "buildinfo": cmd_buildinfo}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
