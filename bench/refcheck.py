#!/usr/bin/python3
"""Before/after check of two nestwrap builds on the benchmark's command lines
(standard library only; scripts/refactor-check.sh is the entry point).

  measure  runs as ONE user: for every command line of the benchmark
           (nwbench.py's scenarios 1-4 and the N-binds lines, `true` as
           COMMAND, --file/--ro-bind-data fed by pipes), `strace -f -c -U
           name,calls,errors` of each binary RUNS times (interleaved), then
           paired timing: every round runs both binaries once, in a seeded
           shuffled order, and the ratio after/before is taken round by round.
           Writes raw data as JSON.
  report   merges the JSON of one or more users, prints the verdicts and
           writes the full per-syscall tables as Markdown. Exit status 1 on a
           syscall difference or a start-up ratio over the limit.

A syscall's count is *stable* for a binary when all its runs agree. A
difference counts when the binaries' counts are both stable and unequal, or
when their ranges do not overlap at all; overlapping unstable counts are
noise (reported, not failed).
"""

import argparse
import json
import math
import os
import random
import resource
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwbench  # noqa: E402  (the benchmark's scenarios and launch helpers)

BINS = ("before", "after")


def command_lines(uid, gid, user, workdir, quick):
    """(id, title, args, fds) for every command line the benchmark launches
    (scenario 6, throughput, reuses scenario 2's)."""
    lines = list(nwbench.scenarios(uid, gid, user, workdir))
    for n in nwbench.bind_counts(quick):
        lines.append((f"5/N={n}", f"{n} binds: --dev-bind / / --tmpfs /tmp + {n} x --ro-bind /usr /tmp/mI",
                      nwbench.binds_args(n), {}))
    return lines


def strace_counts(cmd, tmpdir):
    """{syscall: [calls, errors]} of one launch, every process (-f)."""
    out = os.path.join(tmpdir, "strace.txt")
    st = nwbench.Cmd(cmd.tool, ["/usr/bin/strace", "-f", "-c", "-U", "name,calls,errors",
                                "-o", out, "--"] + cmd.argv, cmd.fds)
    _, code, _ = nwbench.run_timed(st, 120)
    if code != 0:
        _, msg = nwbench.explain_failure(cmd)
        raise RuntimeError(f"strace of {cmd.tool} {' '.join(cmd.argv[1:4])}... exited {code}: {msg[-300:]}")
    per = {}
    with open(out) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit() or parts[0] == "total":
                continue
            per[parts[0]] = [int(parts[1]), int(parts[2]) if len(parts) > 2 else 0]
    if not per:
        raise RuntimeError(f"no counts in strace output for {cmd.tool}")
    return per


def cmd_measure(a):
    nwbench.reserve_low_fds()
    uid, gid = os.getuid(), os.getgid()
    try:
        import pwd
        user = pwd.getpwuid(uid).pw_name
    except (KeyError, ImportError):
        user = f"u{uid}"
    label = "root" if uid == 0 else "unprivileged"
    paths = {"before": a.before, "after": a.after}
    out = {"label": label, "uid": uid, "user": user, "rounds": a.rounds, "strace_runs": a.strace_runs,
           "loadavg_before": open("/proc/loadavg").read().split()[0], "lines": [], "failures": []}
    lines = command_lines(uid, gid, user, a.workdir, a.quick)
    rng = random.Random(0x6E657374)
    with tempfile.TemporaryDirectory(dir=a.workdir) as tmp:
        for lid, title, args, fds in lines:
            cmds = [nwbench.Cmd(b, [paths[b]] + args + ["true"], fds) for b in BINS]
            rec = {"id": lid, "title": title, "args": args + ["true"],
                   "strace": {b: [] for b in BINS}, "samples": {b: [] for b in BINS},
                   "cpu": {b: [] for b in BINS}}
            out["lines"].append(rec)
            try:
                if a.strace_runs:
                    nwbench.log(f"  [{label}] {lid}: strace -f -c, {a.strace_runs} runs each")
                    # One untraced launch each first: the first launch of a
                    # line can leave something behind (Zuul's --tmpfs
                    # WORK/tmp makes its mount point in the host's WORK), and
                    # that one-time work is not what is compared.
                    for c in cmds:
                        nwbench.run_timed(c, 90.0)
                    for _ in range(a.strace_runs):
                        order = list(cmds)
                        rng.shuffle(order)
                        for c in order:
                            rec["strace"][c.tool].append(strace_counts(c, tmp))
                    # A race (the monitor's wait4 meeting an EINTR under
                    # ptrace) can make both binaries' few runs look stable
                    # at different counts: confirm any difference first.
                    extra = 0
                    while any(v == "DIFF" for _, _, v in syscall_rows(rec)) and extra < a.confirm_runs:
                        if extra == 0:
                            nwbench.log(f"  [{label}] {lid}: counts differ, up to {a.confirm_runs} more runs each")
                        for c in cmds:
                            rec["strace"][c.tool].append(strace_counts(c, tmp))
                        extra += 1
                if a.rounds:
                    nwbench.log(f"  [{label}] {lid}: {a.rounds} paired rounds (+{a.warmup} warm-up)")
                    for rnd in range(a.warmup + a.rounds):
                        order = list(cmds)
                        rng.shuffle(order)
                        for c in order:
                            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                            wall, code, _ = nwbench.run_timed(c, 90.0)
                            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                            if code != 0:
                                _, msg = nwbench.explain_failure(c)
                                raise RuntimeError(f"{c.tool} exited {code}: {msg[-300:]}")
                            if rnd >= a.warmup:
                                rec["samples"][c.tool].append(wall)
                                rec["cpu"][c.tool].append(ru1.ru_utime + ru1.ru_stime
                                                          - ru0.ru_utime - ru0.ru_stime)
            except (RuntimeError, OSError, nwbench.Timeout) as e:
                out["failures"].append(f"{label} {lid}: {e or 'timed out'}")
                nwbench.log(f"  [{label}] {lid}: FAILED: {e or 'timed out'}")
    out["loadavg_after"] = open("/proc/loadavg").read().split()[0]
    with open(a.out, "w") as f:
        json.dump(out, f)
    return 1 if out["failures"] else 0


def syscall_rows(rec):
    """One row per syscall seen in any run: the per-run calls and errors of
    each binary and the verdict ('same', 'noise', 'DIFF')."""
    runs = rec["strace"]
    names = sorted({n for b in BINS for r in runs[b] for n in r})
    rows = []
    for n in names:
        vals = {b: [tuple(r.get(n, [0, 0])) for r in runs[b]] for b in BINS}
        verdict = "same"
        for k, what in ((0, "calls"), (1, "errors")):
            bv = sorted({v[k] for v in vals["before"]})
            av = sorted({v[k] for v in vals["after"]})
            if len(bv) == 1 and len(av) == 1:
                if bv != av:
                    verdict = "DIFF"
            elif bv[-1] < av[0] or av[-1] < bv[0]:
                verdict = "DIFF"  # unstable, but the ranges do not even overlap
            elif verdict == "same":
                verdict = "noise"
        rows.append((n, vals, verdict))
    return rows


def fmt_runs(vals, k):
    s = sorted({v[k] for v in vals})
    return str(s[0]) if len(s) == 1 else "/".join(str(v[k]) for v in vals) + " (unstable)"


def median_ci(xs):
    """The median and a ~95% distribution-free confidence interval for it
    (order statistics of the binomial(n, 1/2))."""
    xs = sorted(xs)
    n = len(xs)
    k = max(0, int(math.floor((n - 1.96 * math.sqrt(n)) / 2)) - 1)
    return statistics.median(xs), xs[k], xs[n - 1 - k]


def cmd_report(a):
    runs = []
    for p in a.inputs:
        with open(p) as f:
            runs.append(json.load(f))
    L = []  # markdown, everything
    P = []  # printed summary
    diffs, slow, broken = 0, 0, []
    for run in runs:
        broken += run["failures"]
    P.append("== strace -f -c: per-syscall calls and errors, before vs after "
             f"({runs[0]['strace_runs'] if runs else 0} runs each, more where they differed; a difference counts when "
             "both are stable and differ, or their ranges do not overlap)")
    L.append("# Refactor check: strace counts and paired start-up timing, before vs after\n")
    for run in runs:
        L.append(f"Load average {run['loadavg_before']} at start, {run['loadavg_after']} at end ({run['label']}).\n")
    for run in runs:
        for rec in run["lines"]:
            if not all(rec["strace"][b] for b in BINS):
                continue
            rows = syscall_rows(rec)
            nd = [r for r in rows if r[2] == "DIFF"]
            nn = [r for r in rows if r[2] == "noise"]
            diffs += len(nd)
            tot = {b: sorted(sum(c for c, _ in r.values()) for r in rec["strace"][b]) for b in BINS}
            verdict = "DIFFERENT" if nd else "identical"
            noise = f"; unstable in both alike: {', '.join(r[0] for r in nn)}" if nn else ""
            P.append(f"{run['label']:<12} {rec['id']:<9} {verdict:<9} {len(rows)} syscalls, "
                     f"totals before {'/'.join(map(str, tot['before']))} after "
                     f"{'/'.join(map(str, tot['after']))}{noise}")
            L.append(f"## {run['label']}, {rec['id']}: {rec['title']} — {verdict}\n")
            L.append("| syscall | calls before | calls after | errors before | errors after | verdict |")
            L.append("|---|---|---|---|---|---|")
            for n, vals, v in rows:
                L.append(f"| {n} | {fmt_runs(vals['before'], 0)} | {fmt_runs(vals['after'], 0)} | "
                         f"{fmt_runs(vals['before'], 1)} | {fmt_runs(vals['after'], 1)} | {v} |")
                if v != "same":
                    P.append(f"    {n:<22} calls {fmt_runs(vals['before'], 0)} -> {fmt_runs(vals['after'], 0)}, "
                             f"errors {fmt_runs(vals['before'], 1)} -> {fmt_runs(vals['after'], 1)}  {v}")
            L.append("")
    P.append("")
    P.append(f"== start-up time, paired rounds: median of the per-round after/before ratios of wall time "
             "and of cpu (user+sys) time, each with a ~95% confidence interval; the verdict is on "
             f"{a.metric}: PASS when <= {a.limit:.2f}, 'noisy' when the interval contains {a.limit:.2f} "
             "(not settled: re-run on a quiet machine or with more --rounds)")
    for run in runs:
        P.append(f"   {run['label']}: load average {run['loadavg_before']} at start, {run['loadavg_after']} at end")
    P.append(f"{'user':<12} {'line':<9} {'pairs':>5} {'before ms':>9} {'after ms':>9} "
             f"{'wall':>6} {'wall 95% CI':>13} {'cpu':>6} {'cpu 95% CI':>13}  verdict ({a.metric})")
    L.append(f"## Start-up time (paired; verdict on {a.metric})\n")
    L.append("| user | line | pairs | before ms | after ms | wall ratio | 95% CI | p25–p75 "
             "| cpu ratio | 95% CI | verdict |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    noisy = 0
    for run in runs:
        for rec in run["lines"]:
            sb, sa = rec["samples"]["before"], rec["samples"]["after"]
            n = min(len(sb), len(sa))
            if n == 0:
                continue
            wall = [sa[i] / sb[i] for i in range(n)]
            cb, ca = rec.get("cpu", {}).get("before", []), rec.get("cpu", {}).get("after", [])
            cpu = [ca[i] / cb[i] for i in range(min(len(ca), len(cb))) if cb[i] > 0]
            wm, wlo, whi = median_ci(wall)
            cm, clo, chi = median_ci(cpu) if cpu else (float("nan"),) * 3
            q = statistics.quantiles(wall, n=4) if n > 1 else [wm, wm, wm]
            m, lo, hi = (wm, wlo, whi) if a.metric == "wall" else (cm, clo, chi)
            ok = m <= a.limit
            slow += 0 if ok else 1
            wide = lo <= a.limit <= hi  # the verdict is not settled by this many pairs
            noisy += 1 if wide else 0
            verdict = ("PASS" if ok else "FAIL") + (" (noisy)" if wide else "")
            common = (run["label"], rec["id"], n, statistics.median(sb) * 1e3, statistics.median(sa) * 1e3)
            P.append("{:<12} {:<9} {:>5} {:>9.3f} {:>9.3f} ".format(*common)
                     + f"{wm:>6.3f} {wlo:>6.3f}-{whi:<6.3f} {cm:>6.3f} {clo:>6.3f}-{chi:<6.3f}  {verdict}")
            L.append("| {} | {} | {} | {:.3f} | {:.3f} ".format(*common)
                     + f"| {wm:.3f} | {wlo:.3f}–{whi:.3f} | {q[0]:.3f}–{q[2]:.3f} | {cm:.3f} | "
                     f"{clo:.3f}–{chi:.3f} | {verdict} |")
    P.append("")
    for b in broken:
        P.append(f"BROKEN: {b}")
    P.append(f"SUMMARY{' (INCOMPLETE: lines that failed were not compared)' if broken else ''}: {'syscall counts identical' if diffs == 0 else f'{diffs} syscall count difference(s)'}; "
             f"start-up {'within' if slow == 0 else f'{slow} line(s) over'} the {a.limit:.2f} limit"
             f"{f' ({noisy} line(s) too noisy to judge at this limit)' if noisy else ''}"
             f"{'; ' + str(len(broken)) + ' failure(s) of the check itself' if broken else ''}")
    if a.md:
        with open(a.md, "w") as f:
            f.write("\n".join(L) + "\n")
    print("\n".join(P))
    if broken:
        return 2
    return 1 if diffs or slow else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--before", required=True)
    m.add_argument("--after", required=True)
    m.add_argument("--workdir", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--rounds", type=int, default=200)
    m.add_argument("--warmup", type=int, default=10)
    m.add_argument("--strace-runs", type=int, default=3)
    m.add_argument("--confirm-runs", type=int, default=7,
                   help="more strace runs each while a line's counts differ")
    m.add_argument("--quick", action="store_true", help="the bench's quick bind counts (N = 10, 100)")
    r = sub.add_parser("report")
    r.add_argument("inputs", nargs="+")
    r.add_argument("--md")
    r.add_argument("--limit", type=float, default=1.02)
    r.add_argument("--metric", choices=("wall", "cpu"), default="wall",
                   help="which paired ratio the verdict is on (both are printed)")
    a = p.parse_args()
    return {"measure": cmd_measure, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
