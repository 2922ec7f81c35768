#!/usr/bin/env bash
# Fault injection, kill-anywhere and load (issue 17; DESIGN.md "Fault injection").
#
#   bash scripts/faults.sh          the fixed CI subset of the fault matrix,
#                                   kill-anywhere and load (a few minutes)
#   bash scripts/faults.sh --long   the whole matrix, more kill and load rounds
#
# Needs root (the runs build private mount namespaces and rigs), strace, the
# test user and the reference bubblewrap 0.13.1 (scripts/test.sh provisions
# them). Prints `faults: T tried, U unclean`, the kill and the load results;
# exits non-zero if any of them failed. NESTWRAP_FAULTS_JOBS (default 2)
# runs that many fault runs at once.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
LONG=0
case "${1:-}" in
--long) LONG=1 ;;
"") ;;
*) echo "usage: $0 [--long]" >&2; exit 2 ;;
esac
CARGO="$(command -v cargo || true)"
for c in "${CARGO_HOME:-}/bin/cargo" "${HOME:-/nonexistent}/.cargo/bin/cargo" /root/.cargo/bin/cargo; do
    [ -n "$CARGO" ] && break
    [ -x "$c" ] && CARGO="$c"
done
[ -n "$CARGO" ] || { echo "faults: cargo not found" >&2; exit 1; }
PATH="$(dirname "$CARGO"):$PATH"
export PATH

# The statically linked release build: no dynamic loader whose calls would
# share strace's per-process counters with nestwrap's own.
BIN="$(bash "$REPO/scripts/build-static.sh")" || { echo "faults: static build failed" >&2; exit 1; }
export NESTWRAP_FAULTS_BINARY="$BIN"
export NESTWRAP_FAULTS_LONG="$LONG"
if [ -z "${NESTWRAP_REF_BWRAP:-}" ] && REF="$(bash "$REPO/scripts/bwrap-reference.sh" 2>/dev/null)"; then
    export NESTWRAP_REF_BWRAP="$REF"
fi

status=0
for t in fault_matrix kill_anywhere load; do
    printf '\n==> faults: %s%s\n' "$t" "$([ "$LONG" = 1 ] && echo ' (--long)')"
    # One test at a time; each spreads its own work (NESTWRAP_FAULTS_JOBS).
    "$CARGO" test --quiet --test tests "faults::$t" -- --ignored --exact --nocapture \
        --test-threads=1 || status=1
done
exit "$status"
