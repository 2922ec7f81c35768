#!/usr/bin/env bash
# Check that a refactor changed nothing measurable (issue 20): two nestwrap
# binaries, BEFORE and AFTER, on every command line of the start-up benchmark
# (bench/nwbench.py's scenarios 1-4 and the N-binds lines), as root and as the
# unprivileged test user.
#
#   bash scripts/refactor-check.sh [options] BEFORE_BIN AFTER_BIN
#
#   --rounds N        paired start-up rounds per command line and user (default 200)
#   --strace-runs N   strace runs per binary and command line (default 3)
#   --confirm-runs N  more strace runs each, while a line's counts differ (default 7)
#   --strace-only     skip the timing (same as --rounds 0)
#   --timing-only     skip strace (same as --strace-runs 0)
#   --quick           the bench's quick bind counts (N = 10, 100 instead of up to 2998)
#   --limit R         start-up ratio after/before that still passes (default 1.02)
#   --metric wall|cpu the ratio the verdict is on (default wall; both are printed)
#
# 1. `strace -f -c -U name,calls,errors` of each binary, each command line, N
#    times, interleaved: per-syscall call and error counts, all processes. A
#    count is "stable" for a binary when all its runs agree; a difference is
#    real when both are stable and differ, or their ranges do not overlap.
# 2. Paired timing: each round launches both binaries once, in a seeded
#    shuffled order; the verdict is the median of the per-round ratios
#    after/before (with a ~95% confidence interval), PASS when <= the limit,
#    "noisy" when the interval contains the limit. Wall time is what the
#    benchmark reports; the cpu (user+sys) ratio beside it is far less
#    disturbed by other load (same binary twice on a loaded 2-core machine:
#    wall 0.95-1.06, cpu 0.99-1.01).
#
# Build both binaries the way the benchmark does (scripts/build-static.sh, the
# static release build). BEFORE_BIN = AFTER_BIN measures the noise floor.
# Same recipe as scripts/bench.sh: the binaries and drivers are copied into a
# fresh 0755 directory under /var/tmp; the unprivileged run goes through
# `setpriv --reuid=USER --regid=GID --clear-groups` with a clean environment.
# Prints a summary; writes per-syscall tables to $NESTWRAP_CHECK_OUT (default
# target/refactor-check/) as report.md, with the raw JSON beside it.
#
# Exit status: 0 identical counts and every ratio within the limit; 1 a
# syscall count differs or a ratio is over the limit; 2 the check itself
# broke (usage, missing tool, a launch that fails).
#
# Environment: NESTWRAP_TEST_USER (default nwtest), NESTWRAP_CHECK_OUT.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage() { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

MEASURE=()
REPORT=(--limit 1.02)
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds | --strace-runs | --confirm-runs) MEASURE+=("$1" "${2:?$1 needs a number}"); shift 2 ;;
        --strace-only) MEASURE+=(--rounds 0); shift ;;
        --timing-only) MEASURE+=(--strace-runs 0); shift ;;
        --quick) MEASURE+=(--quick); shift ;;
        --limit | --metric) REPORT+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
        -h | --help) usage; exit 0 ;;
        --) shift; break ;;
        -*) echo "refactor-check: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
if [ $# -ne 2 ]; then
    echo "usage: scripts/refactor-check.sh [options] BEFORE_BIN AFTER_BIN (--help)" >&2
    exit 2
fi
BEFORE="$1"
AFTER="$2"
PY=/usr/bin/python3 # Debian's: readable by the unprivileged user
TEST_USER="${NESTWRAP_TEST_USER:-nwtest}"
OUT="${NESTWRAP_CHECK_OUT:-$REPO/target/refactor-check}"

missing=()
for t in "$PY" /usr/bin/strace /usr/bin/setpriv "$BEFORE" "$AFTER"; do
    [ -x "$t" ] || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "refactor-check: missing or not executable: ${missing[*]}" >&2
    exit 2
fi

# Same-length paths, so nothing but the binaries' contents differs.
SCRATCH="$(mktemp -d /var/tmp/nestwrap-check.XXXXXX)"
trap 'rm -rf "$SCRATCH"' EXIT
chmod 0755 "$SCRATCH"
mkdir -m 0755 "$SCRATCH/old" "$SCRATCH/new"
install -m 0755 "$BEFORE" "$SCRATCH/old/nestwrap"
install -m 0755 "$AFTER" "$SCRATCH/new/nestwrap"
install -m 0644 "$REPO/bench/nwbench.py" "$REPO/bench/refcheck.py" "$SCRATCH/"

kind() { PYTHONDONTWRITEBYTECODE=1 "$PY" "$REPO/bench/nwbench.py" buildinfo "$1"; }
echo "==> before: $BEFORE ($(kind "$BEFORE"), sha256 $(sha256sum <"$BEFORE" | cut -c1-16))" >&2
echo "==> after:  $AFTER ($(kind "$AFTER"), sha256 $(sha256sum <"$AFTER" | cut -c1-16))" >&2
if cmp -s "$BEFORE" "$AFTER"; then
    echo "==> the two binaries are identical: this run measures the noise floor" >&2
fi

measure() { # measure LABEL [setpriv prefix...]
    local label="$1"
    shift
    local dir="$SCRATCH/$label"
    mkdir -m 0755 "$dir"
    if [ $# -gt 0 ]; then chown "$TEST_USER:$(id -gn "$TEST_USER")" "$dir"; fi
    echo "==> measuring as $label" >&2
    (cd / && "$@" env -i HOME="$dir" PATH=/usr/bin:/bin "$PY" "$SCRATCH/refcheck.py" measure \
        --before "$SCRATCH/old/nestwrap" --after "$SCRATCH/new/nestwrap" --workdir "$dir" \
        --out "$dir/result.json" "${MEASURE[@]}")
}

INPUTS=()
STATUS=0
if [ "$(id -u)" = 0 ]; then
    if id "$TEST_USER" >/dev/null 2>&1; then
        measure unprivileged setpriv --reuid="$TEST_USER" --regid="$(id -g "$TEST_USER")" \
            --clear-groups || STATUS=2
        INPUTS+=("$SCRATCH/unprivileged/result.json")
    else
        echo "refactor-check: user $TEST_USER missing (scripts/test.sh creates it)" >&2
        STATUS=2
    fi
    measure root || STATUS=2
    INPUTS+=("$SCRATCH/root/result.json")
else
    echo "refactor-check: not root: measuring as $(id -un) only" >&2
    measure unprivileged || STATUS=2
    INPUTS+=("$SCRATCH/unprivileged/result.json")
fi

EXISTING=()
for f in "${INPUTS[@]}"; do [ -f "$f" ] && EXISTING+=("$f"); done
[ ${#EXISTING[@]} -gt 0 ] || { echo "refactor-check: no results" >&2; exit 2; }
mkdir -p "$OUT"
for f in "${EXISTING[@]}"; do cp "$f" "$OUT/$(basename "$(dirname "$f")").json"; done
echo >&2
REPORT_STATUS=0
PYTHONDONTWRITEBYTECODE=1 "$PY" "$REPO/bench/refcheck.py" report "${EXISTING[@]}" --md "$OUT/report.md" "${REPORT[@]}" ||
    REPORT_STATUS=$?
echo "(per-syscall tables: $OUT/report.md)"
[ "$STATUS" -ne 0 ] && exit "$STATUS"
exit "$REPORT_STATUS"
