#!/usr/bin/env bash
# Start-up benchmark: nestwrap against bubblewrap 0.13.1 (the reference),
# Debian 12's bwrap 0.8.0 and the `unshare` floor.
#
#   bash scripts/bench.sh           full run; writes bench/results/latest.{md,json}
#                                   and bench/results/binds.svg (a few minutes)
#   bash scripts/bench.sh --quick   few repetitions, N <= 100 binds; writes to
#                                   target/bench/ (what scripts/test.sh runs)
#
# Builds nestwrap's default binary (the static release build,
# scripts/build-static.sh; DESIGN.md "Which binary"), copies it into a fresh
# 0755 directory under /var/tmp, and runs bench/nwbench.py once as root and
# once as the unprivileged test user (setpriv; default nwtest, see
# scripts/test.sh), or only as the calling user when not root. Each of those
# runs interleaves nestwrap, bwrap 0.13.1, Debian 12's bwrap, the floor and
# `true` repetition by repetition. The results say which build was measured
# (static or dynamic, release profile, size).
#
# Exit status: non-zero only when the benchmark itself breaks (a build
# failure, a command that fails, a missing tool); slow numbers are reported
# as FAIL in the table, never as a failing exit status.
#
# Environment:
#   NESTWRAP_TEST_USER   unprivileged user (default nwtest)
#   NESTWRAP_BENCH_BWRAP the reference bwrap, the first column (default: bubblewrap
#                        0.13.1 from scripts/bwrap-reference.sh)
#   NESTWRAP_BENCH_DEBIAN_BWRAP  the "Debian 12" column (default /usr/bin/bwrap, 0.8.0)
#   NESTWRAP_BENCH_BINARY  measure this nestwrap instead of building the default
#                        (e.g. target/release/nestwrap, the dynamic build)
#   NESTWRAP_BENCH_OUT   output directory (default: see above)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

QUICK=()
case "${1:-}" in
    --quick) QUICK=(--quick) ;;
    "") ;;
    -h | --help)
        sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: scripts/bench.sh [--quick]" >&2
        exit 2
        ;;
esac

TEST_USER="${NESTWRAP_TEST_USER:-nwtest}"
DEBIAN_BWRAP="${NESTWRAP_BENCH_DEBIAN_BWRAP:-/usr/bin/bwrap}"
if [ -n "${NESTWRAP_BENCH_BWRAP:-}" ]; then
    BWRAP="$NESTWRAP_BENCH_BWRAP"
elif ! BWRAP="$(bash "$REPO/scripts/bwrap-reference.sh")"; then
    echo "bench: no bubblewrap 0.13.1 (run scripts/bwrap-reference.sh as root once)" >&2
    exit 1
fi
if [ ${#QUICK[@]} -gt 0 ]; then
    OUT="${NESTWRAP_BENCH_OUT:-$REPO/target/bench}"
else
    OUT="${NESTWRAP_BENCH_OUT:-$REPO/bench/results}"
fi
PY=/usr/bin/python3 # Debian's: readable by the unprivileged user, unlike a pyenv shim

missing=()
for t in "$PY" "$BWRAP" "$DEBIAN_BWRAP" /usr/bin/unshare /usr/bin/strace /usr/bin/setpriv; do
    [ -x "$t" ] || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench: missing ${missing[*]} (apt-get install python3 bubblewrap util-linux strace)" >&2
    exit 1
fi
[ -x /usr/bin/time ] || echo "bench: /usr/bin/time missing (apt-get install time): no peak RSS" >&2

CARGO="$(command -v cargo || true)"
for c in "${CARGO_HOME:-}/bin/cargo" "${HOME:-/nonexistent}/.cargo/bin/cargo" /root/.cargo/bin/cargo; do
    [ -n "$CARGO" ] && break
    [ -x "$c" ] && CARGO="$c"
done
[ -n "$CARGO" ] || { echo "bench: cargo not found" >&2; exit 1; }

# What is measured: the commit as the build starts.
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | head -1)"
if [ -n "${NESTWRAP_BENCH_BINARY:-}" ]; then
    BUILT="$NESTWRAP_BENCH_BINARY"
    how="$BUILT as given (NESTWRAP_BENCH_BINARY)"
else
    echo "==> building nestwrap (static release, scripts/build-static.sh)" >&2
    BUILT="$(bash "$REPO/scripts/build-static.sh")"
    how="scripts/build-static.sh (crt-static), the default build"
fi
BUILD_INFO="$("$PY" bench/nwbench.py buildinfo "$BUILT" --cargo-toml Cargo.toml), $how"
echo "==> measuring nestwrap: $BUILD_INFO" >&2

# A fresh 0755 directory that the unprivileged user can read.
SCRATCH="$(mktemp -d /var/tmp/nestwrap-bench.XXXXXX)"
cleanup() { rm -rf "$SCRATCH"; }
trap cleanup EXIT
chmod 0755 "$SCRATCH"
install -m 0755 "$BUILT" "$SCRATCH/nestwrap"
install -m 0644 bench/nwbench.py "$SCRATCH/nwbench.py"

measure() { # measure LABEL [setpriv prefix...]
    local label="$1"
    shift
    local dir="$SCRATCH/$label"
    mkdir -m 0755 "$dir"
    if [ $# -gt 0 ]; then chown "$TEST_USER:$(id -gn "$TEST_USER")" "$dir"; fi
    echo "==> measuring as $label" >&2
    (cd / && "$@" env -i HOME="$dir" PATH=/usr/bin:/bin "$PY" "$SCRATCH/nwbench.py" measure \
        --nestwrap "$SCRATCH/nestwrap" --bwrap "$BWRAP" --debian-bwrap "$DEBIAN_BWRAP" --workdir "$dir" \
        --out "$dir/result.json" "${QUICK[@]}")
}

INPUTS=()
STATUS=0
if [ "$(id -u)" = 0 ]; then
    if id "$TEST_USER" >/dev/null 2>&1; then
        measure unprivileged setpriv --reuid="$TEST_USER" --regid="$(id -g "$TEST_USER")" \
            --clear-groups || STATUS=1
        INPUTS+=("$SCRATCH/unprivileged/result.json")
    else
        echo "bench: user $TEST_USER missing (scripts/test.sh creates it): no unprivileged run" >&2
        STATUS=1
    fi
    measure root || STATUS=1
    INPUTS+=("$SCRATCH/root/result.json")
else
    echo "bench: not root: measuring as $(id -un) only" >&2
    measure unprivileged || STATUS=1
    INPUTS+=("$SCRATCH/unprivileged/result.json")
fi

EXISTING=()
for f in "${INPUTS[@]}"; do [ -f "$f" ] && EXISTING+=("$f"); done
[ ${#EXISTING[@]} -gt 0 ] || { echo "bench: no results" >&2; exit 1; }

cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
mem="$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
os="$(. /etc/os-release && echo "$PRETTY_NAME")"
mkdir -p "$OUT"
"$PY" bench/nwbench.py report "${EXISTING[@]}" --md "$OUT/latest.md" --svg "$OUT/binds.svg" \
    --json "$OUT/latest.json" \
    --meta "date=$(date -u '+%Y-%m-%d %H:%M UTC')" \
    --meta "machine=$cpu, $(nproc) CPUs, $mem, $os, kernel $(uname -r)" \
    --meta "nestwrap=commit $commit${dirty:+ (uncommitted changes)}, $("$SCRATCH/nestwrap" --version 2>&1 | head -1)" \
    --meta "nestwrap build=$BUILD_INFO" \
    --meta "bwrap 0.13.1 (reference)=$BWRAP, $("$BWRAP" --version 2>&1 | head -1), Debian revision $(cat "$(dirname "$BWRAP")/revision" 2>/dev/null || echo unknown)" \
    --meta "Debian 12=$DEBIAN_BWRAP, $("$DEBIAN_BWRAP" --version 2>&1 | head -1)" \
    --meta "mode=${QUICK[*]:-full}" || STATUS=1
echo "==> wrote $OUT/latest.md, $OUT/binds.svg, $OUT/latest.json" >&2
exit "$STATUS"
