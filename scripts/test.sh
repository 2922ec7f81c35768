#!/usr/bin/env bash
# The one test command (README: `bash scripts/test.sh`).
#
# As root on a fresh Debian 12 machine it provisions everything the tests need
# (packages, the unprivileged test user, user-namespace sysctls), then runs
# fmt, clippy, doc and the whole test suite. As a normal user it installs
# nothing: it prints exactly what is missing and runs what can run.
#
# Environment:
#   NESTWRAP_MUST_WORK=1   tests that need user namespaces or root fail instead
#                          of skipping (.ci/run sets it)
#   NESTWRAP_TEST_USER     name of the unprivileged test user (default nwtest)
#   NESTWRAP_TEST_BINARY   run the suite against another binary (e.g. the reference bwrap 0.13.1)
set -uo pipefail

# Locate the repository from this script's own path: the clone may live anywhere.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

# --- What the tests need (one list, keep it here) -------------------------
PACKAGES=(
    bubblewrap      # Debian 12's bwrap 0.8.0: client controls and container cases
    util-linux      # setpriv, unshare
    libcap2-bin     # capsh, getpcaps
    uidmap          # newuidmap/newgidmap (subuid ranges, podman)
    strace
    procps
    python3-seccomp # exports seccomp filters for the pivot_root-refused case
    busybox-static  # minimal container rootfs
    podman          # rootless container tests
    runc
    zsh             # completion tests drive real zsh (zpty)...
    fish            # ...and fish (complete -C); bash is always there
    groff-base      # man page must render with groff -ww without warnings
    python3-venv    # venvs for the real clients (scripts/clients-setup.sh)
    xdg-desktop-portal # real client: /usr/libexec/xdg-desktop-portal-validate-icon
    time            # /usr/bin/time: peak RSS in the benchmark (scripts/bench.sh)
    patchelf        # points the reference bubblewrap 0.13.1 at its own libraries
    lintian         # checks the Debian packages (scripts/package.sh)
    debootstrap     # the throwaway Debian 12 root of the install test (scripts/package-test.sh)
)
TEST_USER="${NESTWRAP_TEST_USER:-nwtest}"
TEST_UID=1001
SUBID_RANGE="200000:65536"

declare -a SUMMARY=()
FAILED=0
# Each step ends with `record`; its time is the time since the previous
# record (steps run one after the other), printed in the summary.
STEP_START=$SECONDS
TOTAL_START=$SECONDS
note() { printf '\n==> %s\n' "$*"; }
record() { # record NAME STATUS
    local took=$((SECONDS - STEP_START))
    STEP_START=$SECONDS
    SUMMARY+=("$(printf '%-28s %5ss  %s' "$1" "$took" "$2")")
    printf '==> step %s: %s (%ss)\n' "$1" "$2" "$took"
    case "$2" in FAIL*) FAILED=1 ;; esac
}

IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1

missing_packages() {
    local p
    for p in "${PACKAGES[@]}"; do
        if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
            echo "$p"
        fi
    done
}

# --- Packages --------------------------------------------------------------
MISSING=()
if command -v dpkg-query >/dev/null 2>&1; then
    mapfile -t MISSING < <(missing_packages)
else
    echo "warning: dpkg-query not found; cannot check packages (not Debian?)" >&2
fi
if [ "${#MISSING[@]}" -eq 0 ]; then
    record "packages" "ok (all present)"
elif [ "$IS_ROOT" = 1 ]; then
    note "installing: ${MISSING[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -q && apt-get install -y -q "${MISSING[@]}"; then
        record "packages" "ok (installed ${MISSING[*]})"
        MISSING=()
    else
        record "packages" "FAIL (apt-get install ${MISSING[*]})"
    fi
else
    record "packages" "MISSING: ${MISSING[*]}"
fi

# --- Unprivileged test user -----------------------------------------------
user_ok=0
if id "$TEST_USER" >/dev/null 2>&1; then
    user_ok=1
elif [ "$IS_ROOT" = 1 ]; then
    note "creating test user $TEST_USER"
    if getent passwd "$TEST_UID" >/dev/null; then
        useradd --create-home --shell /bin/bash "$TEST_USER" # uid taken: let useradd choose
    else
        useradd --create-home --shell /bin/bash --uid "$TEST_UID" --user-group "$TEST_USER"
    fi && user_ok=1
fi
if [ "$user_ok" = 1 ] && [ "$IS_ROOT" = 1 ]; then
    for f in /etc/subuid /etc/subgid; do
        touch "$f"
        grep -q "^$TEST_USER:" "$f" || echo "$TEST_USER:$SUBID_RANGE" >>"$f"
    done
fi
if [ "$user_ok" = 1 ]; then
    sub_ok=1
    for f in /etc/subuid /etc/subgid; do grep -q "^$TEST_USER:" "$f" 2>/dev/null || sub_ok=0; done
    if [ "$sub_ok" = 1 ]; then
        record "test user" "ok ($TEST_USER uid $(id -u "$TEST_USER"))"
    else
        record "test user" "MISSING: /etc/subuid or /etc/subgid entry for $TEST_USER"
    fi
elif [ "$IS_ROOT" = 0 ]; then
    record "test user" "not needed (unprivileged tests run as $(id -un))"
else
    record "test user" "MISSING: user $TEST_USER (useradd -m -u $TEST_UID $TEST_USER; echo $TEST_USER:$SUBID_RANGE >> /etc/subuid /etc/subgid)"
fi

# --- Unprivileged user namespaces ------------------------------------------
sysctl_get() { cat "/proc/sys/${1//.//}" 2>/dev/null; }
sysctl_want() { # sysctl_want KEY VALUE: set it if the key exists and differs
    local cur
    cur="$(sysctl_get "$1")" || return 0 # key absent on this kernel: skip
    [ -z "$cur" ] && return 0
    [ "$cur" = "$2" ] && return 0
    if [ "$IS_ROOT" = 1 ]; then
        sysctl -q -w "$1=$2" || echo "warning: could not set $1=$2" >&2
    else
        echo "needs root: sysctl -w $1=$2 (now $cur)" >&2
    fi
}
sysctl_want kernel.unprivileged_userns_clone 1
sysctl_want kernel.apparmor_restrict_unprivileged_userns 0
if [ "$(sysctl_get user.max_user_namespaces || echo 0)" = 0 ]; then
    if [ "$IS_ROOT" = 1 ]; then sysctl -q -w user.max_user_namespaces=15000; else
        echo "needs root: sysctl -w user.max_user_namespaces=15000" >&2
    fi
fi
userns_ok=0
if [ "$IS_ROOT" = 1 ] && [ "$user_ok" = 1 ]; then
    setpriv --reuid="$TEST_USER" --regid="$(id -g "$TEST_USER")" --clear-groups \
        unshare --user true 2>/dev/null && userns_ok=1
elif [ "$IS_ROOT" = 0 ]; then
    unshare --user true 2>/dev/null && userns_ok=1
fi
if [ "$userns_ok" = 1 ]; then
    record "user namespaces" "ok"
else
    record "user namespaces" "MISSING: unprivileged user namespaces do not work"
fi

# --- Reference bubblewrap 0.13.1 (differential and oracle tests) ----------
# scripts/bwrap-reference.sh installs it (as root) into a private cache and
# prints its path; the tests find it through NESTWRAP_REF_BWRAP.
if REF_BWRAP="$(bash "$REPO/scripts/bwrap-reference.sh")"; then
    export NESTWRAP_REF_BWRAP="$REF_BWRAP"
    record "reference bwrap" "ok ($("$REF_BWRAP" --version), $REF_BWRAP)"
elif [ "$IS_ROOT" = 1 ]; then
    record "reference bwrap" "FAIL (scripts/bwrap-reference.sh)"
else
    record "reference bwrap" "MISSING (run scripts/bwrap-reference.sh as root)"
fi

# --- Real bwrap clients (tests/clients.rs) ---------------------------------
note "real clients: scripts/clients-setup.sh"
if bash "$REPO/scripts/clients-setup.sh"; then
    record "real clients" "ok"
elif [ "$IS_ROOT" = 1 ]; then
    record "real clients" "FAIL (scripts/clients-setup.sh)"
else
    record "real clients" "MISSING (run scripts/clients-setup.sh as root)"
fi

# --- Fuzzing (fuzz/, nightly) ---------------------------------------------
# A short fuzz run of both targets (FUZZ_SECONDS each, default 30), started
# from the committed corpus (new inputs go to a temporary directory, the
# corpus in the clone stays as committed). The step fails if a target
# crashes or if libFuzzer did not report a finished run ("Done N runs"):
# building alone does not count.
FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
fuzz_step() {
    local rustup name t work log runs
    name="fuzz (${FUZZ_SECONDS}s x 2)"
    rustup="$(dirname "$CARGO")/rustup"
    [ -x "$rustup" ] || rustup="$(command -v rustup || echo rustup)"
    if ! "$rustup" run nightly rustc --version >/dev/null 2>&1; then
        if [ "$IS_ROOT" = 1 ]; then
            "$rustup" toolchain install nightly --profile minimal || true
        fi
        if ! "$rustup" run nightly rustc --version >/dev/null 2>&1; then
            if [ "${NESTWRAP_MUST_WORK:-}" = 1 ]; then
                record "$name" "FAIL (nightly toolchain missing)"
            else
                record "$name" "MISSING: nightly toolchain (rustup toolchain install nightly)"
            fi
            return
        fi
    fi
    if ! "$CARGO" +nightly fuzz --version >/dev/null 2>&1; then
        note "installing cargo-fuzz"
        "$CARGO" +nightly install cargo-fuzz || { record "$name" "FAIL (cargo install cargo-fuzz)"; return; }
    fi
    note "$name"
    work="$(mktemp -d)"
    for t in parse args; do
        mkdir -p "$work/$t"
        log="$work/$t.log"
        if ! (cd "$REPO/fuzz" && "$CARGO" +nightly fuzz run "$t" "$work/$t" "corpus/$t" -- \
            -max_total_time="$FUZZ_SECONDS" -max_len=16384 -timeout=10 \
            -artifact_prefix="$work/" -print_final_stats=1) </dev/null >"$log" 2>&1; then
            tail -n 40 "$log"
            record "$name" "FAIL ($t crashed or did not build; artifacts in $work)"
            return
        fi
        runs="$(sed -n 's/^Done \([0-9]*\) runs in .*/\1/p' "$log" | tail -n 1)"
        if [ -z "$runs" ] || [ "$runs" -eq 0 ]; then
            tail -n 40 "$log"
            record "$name" "FAIL ($t: no 'Done N runs' line, it did not run)"
            return
        fi
        printf '  %s: %s runs in %ss\n' "$t" "$runs" "$FUZZ_SECONDS"
        FUZZ_RUNS+=("$t=$runs")
    done
    rm -rf "$work"
    record "$name" "ok (${FUZZ_RUNS[*]})"
}
declare -a FUZZ_RUNS=()

# --- Debian packages, install test, crates.io ---------------------------------
# scripts/package.sh: both .debs (cargo-deb), lintian, the AppArmor profile
# compiled by AppArmor 4; scripts/package-test.sh: install, use, remove them in
# a throwaway Debian 12 root (root only); `cargo publish --dry-run`: the
# crate as crates.io would get it (no upload).
package_steps() {
    local debs=()
    note "debian packages: scripts/package.sh"
    if mapfile -t debs < <(bash "$REPO/scripts/package.sh" | tail -n 2) && [ "${#debs[@]}" = 2 ]; then
        record "debian packages + lintian" "ok ($(basename "${debs[0]}"), $(basename "${debs[1]}"))"
    elif [ "$IS_ROOT" = 0 ] && [ "${NESTWRAP_MUST_WORK:-}" != 1 ]; then
        record "debian packages + lintian" "MISSING (run scripts/package.sh as root once: lintian, AppArmor 4)"
        debs=()
    else
        record "debian packages + lintian" "FAIL (scripts/package.sh)"
        debs=()
    fi
    if [ "$IS_ROOT" = 1 ] && [ "${#debs[@]}" = 2 ]; then
        note "package install test: scripts/package-test.sh"
        if bash "$REPO/scripts/package-test.sh" "${debs[@]}"; then
            record "package install test" "ok"
        else
            record "package install test" "FAIL (scripts/package-test.sh)"
        fi
    elif [ "$IS_ROOT" = 0 ] && [ "${NESTWRAP_MUST_WORK:-}" = 1 ]; then
        record "package install test" "FAIL (needs root: scripts/package-test.sh)"
    elif [ "$IS_ROOT" = 0 ]; then
        record "package install test" "MISSING (needs root: scripts/package-test.sh)"
    else
        record "package install test" "FAIL (no packages to test)"
    fi
    note "cargo publish --dry-run"
    local out
    if out="$("$CARGO" publish --dry-run --allow-dirty 2>&1)"; then
        printf '%s\n' "$out" | grep -E 'Packaged|warning' || true
        record "cargo publish --dry-run" "ok ($(printf '%s\n' "$out" | sed -n 's/.*Packaged \(.*\)/\1/p'))"
    else
        printf '%s\n' "$out" | tail -n 30
        record "cargo publish --dry-run" "FAIL"
    fi
}

# --- Cargo -----------------------------------------------------------------
CARGO="$(command -v cargo || true)"
for c in "${CARGO_HOME:-}/bin/cargo" "${HOME:-/nonexistent}/.cargo/bin/cargo" /root/.cargo/bin/cargo; do
    [ -n "$CARGO" ] && break
    [ -x "$c" ] && CARGO="$c"
done
if [ -z "$CARGO" ]; then
    record "cargo" "MISSING: cargo (install Rust with rustup)"
    FAILED=1
else
    # rustup's proxies (cargo-fmt, clippy-driver) live next to cargo.
    PATH="$(dirname "$CARGO"):$PATH"
    export PATH
    run_step() { # run_step NAME CMD...
        note "$1: ${*:2}"
        if "${@:2}"; then record "$1" "ok"; else record "$1" "FAIL"; fi
    }
    run_step "cargo fmt --check" "$CARGO" fmt --all --check
    run_step "cargo clippy" "$CARGO" clippy --all-targets -- -D warnings
    run_step "cargo doc" env RUSTDOCFLAGS="-D warnings" "$CARGO" doc --no-deps
    # NESTWRAP_MUST_WORK, NESTWRAP_TEST_BINARY... pass through from the environment.
    run_step "cargo test" "$CARGO" test
    package_steps
    # Fault injection (CI subset), kill-anywhere and load: scripts/faults.sh,
    # DESIGN.md "Fault injection". Root only (private namespaces and rigs).
    if [ "$IS_ROOT" = 1 ]; then
        run_step "faults (CI subset)" bash scripts/faults.sh
    elif [ "${NESTWRAP_MUST_WORK:-}" = 1 ]; then
        record "faults (CI subset)" "FAIL (needs root)"
    else
        record "faults (CI subset)" "MISSING: needs root (bash scripts/faults.sh)"
    fi
    # The benchmark in quick mode: checks that it still works and prints its
    # table. Slow numbers never fail CI (the table marks them FAIL); only a
    # broken benchmark (build, tool or command failure) does.
    run_step "benchmark (quick)" bash scripts/bench.sh --quick
    fuzz_step
fi

# --- Summary ---------------------------------------------------------------
# The differential run's report (tests/compat.rs, against bubblewrap 0.13.1):
# cases, agreements and intended differences; the full report with per-option
# counts is target/compat-report.md.
REPORT="$REPO/target/compat-report.md"
if [ -f "$REPORT" ]; then
    printf '\n===== differential report vs bubblewrap 0.13.1 (summary; full: %s) =====\n' "$REPORT"
    sed -n '/^## Per-option case counts/q;p' "$REPORT"
fi
printf '\n===== nestwrap test summary =====\n'
printf '  %s\n' "${SUMMARY[@]}"
printf '  NESTWRAP_MUST_WORK=%s\n' "${NESTWRAP_MUST_WORK:-unset}"
printf '  total time: %ss\n' $((SECONDS - TOTAL_START))
if [ "${#MISSING[@]}" -gt 0 ] && [ "$IS_ROOT" = 0 ]; then
    printf '  missing packages (install as root): apt-get install %s\n' "${MISSING[*]}"
fi
if [ "$FAILED" = 0 ]; then
    echo "RESULT: PASS"
else
    echo "RESULT: FAIL"
fi
exit "$FAILED"
