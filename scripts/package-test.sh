#!/usr/bin/env bash
# Install test of the Debian packages in a throwaway Debian 12 root:
#
#   bash scripts/package-test.sh [NESTWRAP_DEB NESTWRAP_BWRAP_DEB]
#
# (default: target/debian/nestwrap_*.deb and nestwrap-bwrap_*.deb, made by
# scripts/package.sh). Needs root. Never touches this machine's packages.
#
# 1. A minimal Debian 12 root (`debootstrap --variant=minbase bookworm`, plus
#    man-db and bash-completion) from the system's own Debian mirror
#    (scripts/debian-archive.sh: never a host name in the repository), cached
#    as a tarball in $NESTWRAP_PKGTEST_CACHE (default /var/cache/nestwrap-pkgtest)
#    so a second run on the same machine skips debootstrap; a fresh machine
#    makes it (about a minute).
# 2. A fresh copy of that root, entered with a new mount and pid namespace and
#    pivot_root (`unshare -m -p -f` + this script's `--enter`), never chroot:
#    the kernel refuses new user namespaces to a chrooted process, and the
#    sandboxes under test need them.
# 3. Inside (this script's `--inside`), as root and as an unprivileged user
#    of that root:
#    - `apt-get install ./nestwrap_*.deb ./nestwrap-bwrap_*.deb`;
#    - bwrap is nestwrap: `bwrap --version`, `man -w bwrap` and `man bwrap`,
#      bash completion of `bwrap --ro-b` through bash-completion's loader,
#      the zsh and fish files;
#    - `bwrap --ro-bind / / --unshare-all --proc /proc --dev /dev true`;
#    - `apt-get remove`, then `purge`: no file left that was not there before
#      (the file lists are compared, apt's and dpkg's own state excepted);
#    - install again, then `apt-get install flatpak`: apt must keep ours (no
#      bubblewrap package), and flatpak must run its sandbox through our bwrap:
#      a tiny runtime (dash, true and their libc) is exported to a local
#      repository, installed system-wide, and `flatpak run
#      --command=... org.nestwrap.Test//1` runs in it (flatpak runs
#      /usr/bin/bwrap with its full command line: --args fd, --ro-bind-data,
#      seccomp, --unshare-pid, ...).
# Each step's time is printed, and the whole run has a time budget
# (NESTWRAP_PKGTEST_BUDGET seconds, default 900): past it, the run is killed
# and fails.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUITE=bookworm
INCLUDE=man-db,bash-completion
INNER_DIR=/srv/nestwrap-pkgtest # inside the throwaway root
USER_NAME=pkguser

die() { echo "package-test: $*" >&2; exit 1; }

T0=$SECONDS
STEP_T=$SECONDS
STEP_NAME=""
step() { # step NAME: ends the previous step (prints its time), starts NAME
    local now=$SECONDS
    [ -n "$STEP_NAME" ] && printf '    (%s: %ds)\n' "$STEP_NAME" $((now - STEP_T))
    STEP_NAME="$1"
    STEP_T=$now
    [ -n "$1" ] && printf '\n--> %s\n' "$1"
    return 0
}

# -------------------------------------------------------------------------
# --enter ROOT: runs as pid 1 of a new pid namespace, in a new mount
# namespace (unshare -m -p -f); makes ROOT the root with pivot_root.
# -------------------------------------------------------------------------
if [ "${1:-}" = --enter ]; then
    ROOT="$2"
    mount --make-rprivate /
    mount --bind "$ROOT" "$ROOT"
    mount -t proc proc "$ROOT/proc"
    mount --rbind /sys "$ROOT/sys"
    mount --rbind /dev "$ROOT/dev"
    mount -t tmpfs -o mode=0755 tmpfs "$ROOT/run"
    mount -t tmpfs -o mode=1777 tmpfs "$ROOT/tmp"
    cd "$ROOT"
    mkdir -p .oldroot
    pivot_root . .oldroot
    cd /
    umount -l /.oldroot
    rmdir /.oldroot
    exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive \
        bash "$INNER_DIR/package-test.sh" --inside
fi

# -------------------------------------------------------------------------
# --inside: the test proper, in the throwaway root.
# -------------------------------------------------------------------------
if [ "${1:-}" = --inside ]; then
    cd "$INNER_DIR"
    FAILS=0
    fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
    ok() { echo "ok: $*"; }
    check() { # check DESCRIPTION CMD...: runs CMD, ok or fail
        local what="$1"
        shift
        local out
        if out="$("$@" 2>&1)"; then ok "$what"; else fail "$what"; printf '%s\n' "$out" | tail -n 20; fi
    }
    as_user() { setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --init-groups \
        env HOME="/home/$USER_NAME" USER="$USER_NAME" "$@"; }
    # Every file and directory of the root with its type, minus the state
    # that apt, dpkg, man-db and ldconfig keep for themselves.
    snapshot() {
        find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
            -o -path "$INNER_DIR" -o -path /var/lib/dpkg -o -path /var/lib/apt \
            -o -path /var/cache -o -path /var/log -o -path /var/lib/man-db \
            -o -path /etc/ld.so.cache \) -prune -o -printf '%y %p\n' | LC_ALL=C sort
    }
    DEBS=("$INNER_DIR"/nestwrap_*.deb "$INNER_DIR"/nestwrap-bwrap_*.deb)

    step "apt-get update (the root's own sources: the system's mirror)"
    apt-get update -q >/dev/null || fail "apt-get update"
    id "$USER_NAME" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$USER_NAME"
    snapshot >"$INNER_DIR/before.txt"

    step "apt-get install ./nestwrap_*.deb ./nestwrap-bwrap_*.deb"
    apt-get install -y -q "${DEBS[@]}" || fail "apt-get install of our packages"
    check "bubblewrap is not installed" sh -c '! dpkg-query -W -f="\${Status}" bubblewrap 2>/dev/null | grep -q "ok installed"'
    dpkg-query -W -f='${Package} ${Version} ${Provides}\n' nestwrap nestwrap-bwrap
    if [ -d /sys/kernel/security/apparmor ]; then
        echo "note: AppArmor is present in this kernel"
    else
        echo "note: no AppArmor in this kernel: postinst rightly loaded no profile"
    fi
    check "/etc/apparmor.d/nestwrap installed" test -f /etc/apparmor.d/nestwrap

    step "bwrap is nestwrap: version, man page, completions"
    check "/usr/bin/bwrap -> /usr/bin/nestwrap" test "$(readlink -f /usr/bin/bwrap)" = /usr/bin/nestwrap
    check "bwrap --version says bubblewrap 0.13.1" test "$(bwrap --version)" = "bubblewrap 0.13.1"
    echo "man -w bwrap: $(man -w bwrap 2>&1)"
    check "man -w bwrap finds bwrap.1 -> nestwrap.1" test "$(readlink -f "$(man -w bwrap)")" = /usr/share/man/man1/nestwrap.1.gz
    check "man -w nestwrap" test "$(man -w nestwrap)" = /usr/share/man/man1/nestwrap.1.gz
    check "man bwrap renders nestwrap's page" sh -c 'MANPAGER=cat MANWIDTH=80 man bwrap 2>/dev/null | grep -q "nestwrap \\(1\\)\\|NESTWRAP(1)"'
    # bash-completion's on-demand loader finds completions/bwrap (-> nestwrap)
    # by the command's name, as an interactive shell does on the first <Tab>.
    # shellcheck disable=SC2016
    check "bash completes 'bwrap --ro-b' to --ro-bind" bash -c '
        . /usr/share/bash-completion/bash_completion
        __load_completion bwrap || exit 1
        spec="$(complete -p bwrap)"; fn="${spec#*-F }"; fn="${fn%% *}"
        COMP_WORDS=(bwrap --ro-b); COMP_CWORD=1; COMP_LINE="bwrap --ro-b"; COMP_POINT=${#COMP_LINE}
        "$fn" bwrap --ro-b bwrap
        printf "%s\n" "${COMPREPLY[@]}" | grep -qx -- "--ro-bind"'
    check "zsh completion (#compdef nestwrap bwrap) in vendor-completions" \
        grep -q '^#compdef nestwrap bwrap' /usr/share/zsh/vendor-completions/_nestwrap
    check "fish completion for bwrap" grep -q 'for cmd in nestwrap bwrap' \
        /usr/share/fish/vendor_completions.d/bwrap.fish

    step "sandboxes as root and as $USER_NAME"
    SANDBOX=(--ro-bind / / --unshare-all --proc /proc --dev /dev)
    check "root: bwrap ${SANDBOX[*]} true" bwrap "${SANDBOX[@]}" true
    check "$USER_NAME: bwrap ${SANDBOX[*]} true" as_user bwrap "${SANDBOX[@]}" true
    # shellcheck disable=SC2016
    check "$USER_NAME: COMMAND is pid 2 (after bwrap's init) with the caller's uid" \
        test "$(as_user bwrap "${SANDBOX[@]}" sh -c 'echo $$ $(id -u)')" = "2 $(id -u "$USER_NAME")"

    step "apt-get remove, then purge: nothing left behind"
    apt-get remove -y -q nestwrap-bwrap nestwrap >/dev/null || fail "apt-get remove"
    check "after remove only the conffile stays" test "$(dpkg-query -W -f='${db:Status-Abbrev}' nestwrap 2>/dev/null | tr -d ' ')" = rc
    check "/etc/apparmor.d/nestwrap kept until purge (a conffile)" test -f /etc/apparmor.d/nestwrap
    apt-get purge -y -q nestwrap >/dev/null || fail "apt-get purge"
    snapshot >"$INNER_DIR/after.txt"
    if diff -u "$INNER_DIR/before.txt" "$INNER_DIR/after.txt" >"$INNER_DIR/left.diff"; then
        ok "after purge the file list equals the one before installing ($(wc -l <"$INNER_DIR/before.txt") entries)"
    else
        fail "files left behind or removed by remove/purge:"
        grep '^[-+][^-+]' "$INNER_DIR/left.diff" | head -n 40
    fi

    step "install again, then apt-get install flatpak: apt keeps ours"
    apt-get install -y -q "${DEBS[@]}" >/dev/null || fail "apt-get install of our packages (again)"
    if apt-get install -s -q flatpak | grep -q '^Inst bubblewrap'; then
        fail "apt would install bubblewrap for flatpak"
    else
        ok "apt's plan for flatpak installs no bubblewrap"
    fi
    apt-get install -y -q --no-install-recommends flatpak >/dev/null || fail "apt-get install flatpak"
    check "flatpak installed" sh -c 'dpkg-query -W -f="\${Status}" flatpak | grep -q "ok installed"'
    check "bubblewrap still not installed" sh -c '! dpkg-query -W -f="\${Status}" bubblewrap 2>/dev/null | grep -q "ok installed"'
    check "nestwrap-bwrap still installed" sh -c 'dpkg-query -W -f="\${Status}" nestwrap-bwrap | grep -q "ok installed"'
    check "bwrap is still nestwrap" test "$(readlink -f /usr/bin/bwrap)" = /usr/bin/nestwrap

    step "flatpak runs its sandbox through our bwrap (root and $USER_NAME)"
    # A tiny runtime (its tree is usr/, mounted at /usr in the sandbox;
    # build-export also wants the files/ of a build directory): dash, true,
    # cat and the libc they load.
    rt="$INNER_DIR/runtime"
    rm -rf "$rt" "$INNER_DIR/repo"
    mkdir -p "$rt/files" "$rt/usr/bin" "$rt/usr/lib/x86_64-linux-gnu" "$rt/usr/lib64"
    cp /usr/bin/dash /usr/bin/true /usr/bin/cat "$rt/usr/bin/"
    ln -s dash "$rt/usr/bin/sh"
    cp -L /lib/x86_64-linux-gnu/libc.so.6 "$rt/usr/lib/x86_64-linux-gnu/"
    cp -L /lib64/ld-linux-x86-64.so.2 "$rt/usr/lib64/"
    printf '[Runtime]\nname=org.nestwrap.Test\nruntime=org.nestwrap.Test/x86_64/1\nsdk=org.nestwrap.Test/x86_64/1\n' >"$rt/metadata"
    check "flatpak build-export --runtime" flatpak build-export --runtime "$INNER_DIR/repo" "$rt" 1
    check "flatpak remote-add (local repository)" flatpak --system remote-add --no-gpg-verify nestwrap-test "$INNER_DIR/repo"
    check "flatpak install org.nestwrap.Test//1" flatpak --system install -y --noninteractive nestwrap-test runtime/org.nestwrap.Test/x86_64/1
    chmod -R a+rX "$INNER_DIR"
    # shellcheck disable=SC2016
    # dash builtins only (the runtime has no head, grep or id).
    probe='read -r first </.flatpak-info; echo "$first"; echo "pid=$$"
        while read -r k v _; do [ "$k" = Uid: ] && echo "uid=$v"; done </proc/self/status'
    for who in root "$USER_NAME"; do
        if [ "$who" = root ]; then run=(); else run=(as_user); fi
        out="$("${run[@]}" flatpak run --command=sh org.nestwrap.Test//1 -c "$probe" 2>&1)" || true
        printf '%s\n' "$out" | sed 's/^/    /'
        if printf '%s\n' "$out" | grep -qx '\[Runtime\]' && printf '%s\n' "$out" | grep -qx 'pid=2' &&
            printf '%s\n' "$out" | grep -qx "uid=$(id -u "$who")"; then
            ok "$who: flatpak run ran sh in our bwrap's sandbox (/.flatpak-info, pid 2 after bwrap's init, uid $(id -u "$who"))"
        else
            fail "$who: flatpak run --command=sh org.nestwrap.Test//1"
        fi
        check "$who: flatpak run --command=true" "${run[@]}" flatpak run --command=true org.nestwrap.Test//1
    done
    step ""
    echo
    if [ "$FAILS" = 0 ]; then echo "package test inside the root: PASS"; else echo "package test inside the root: $FAILS FAILED"; fi
    [ "$FAILS" = 0 ]
    exit
fi

# -------------------------------------------------------------------------
# Outside: the cached root, a fresh copy, and the namespaces to enter it.
# -------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, mounts); run: sudo bash scripts/package-test.sh"
if [ $# -eq 2 ]; then
    DEBS=("$1" "$2")
else
    DEBS=("$REPO"/target/debian/nestwrap_*.deb "$REPO"/target/debian/nestwrap-bwrap_*.deb)
fi
for d in "${DEBS[@]}"; do [ -f "$d" ] || die "no package $d (run scripts/package.sh first)"; done
case "$(basename "${DEBS[0]}")" in nestwrap_*) ;; *) die "first argument must be nestwrap_*.deb" ;; esac

BUDGET="${NESTWRAP_PKGTEST_BUDGET:-900}"
CACHE="${NESTWRAP_PKGTEST_CACHE:-/var/cache/nestwrap-pkgtest}"
# shellcheck source=scripts/debian-archive.sh
. "$REPO/scripts/debian-archive.sh"
debian_archive || die "no Debian archive URI found in /etc/apt/sources.list{,.d/*}"
key="$(printf '%s\n' "$SUITE" minbase "$INCLUDE" "$DEBIAN_URI" | sha256sum | cut -c1-12)"
TARBALL="$CACHE/$SUITE-minbase-$key.tar"

step "throwaway $SUITE root"
if [ -f "$TARBALL" ]; then
    echo "cached: $TARBALL"
else
    if ! command -v debootstrap >/dev/null 2>&1; then
        apt-get install -y -q debootstrap || { apt-get update -q && apt-get install -y -q debootstrap; } ||
            die "cannot install debootstrap"
    fi
    mkdir -p "$CACHE"
    build="$(mktemp -d /var/tmp/nestwrap-debootstrap.XXXXXX)"
    echo "debootstrap --variant=minbase --include=$INCLUDE $SUITE (mirror from this system's sources)"
    # In a private mount namespace: debootstrap mounts proc and sysfs in the
    # target while it installs, and a procfs left visible in the host's
    # namespace (a failed run, or tests running meanwhile) would let a fresh
    # procfs mount in any masked-/proc rig copied from it, silently
    # defeating the container tests.
    if ! unshare -m --propagation private debootstrap --variant=minbase --include="$INCLUDE" --keyring="$DEBIAN_KEYRING" \
        "$SUITE" "$build/root" "$DEBIAN_URI" >"$build/debootstrap.log" 2>&1; then
        tail -n 30 "$build/debootstrap.log" >&2
        rm -rf "$build"
        die "debootstrap failed"
    fi
    rm -f "$build"/root/var/cache/apt/archives/*.deb
    tar -C "$build/root" --numeric-owner -cf "$TARBALL.new" .
    mv -f "$TARBALL.new" "$TARBALL"
    rm -rf "$build"
    echo "cached for the next run: $TARBALL ($(du -h "$TARBALL" | cut -f1))"
fi
WORK="$(mktemp -d /var/tmp/nestwrap-pkgtest.XXXXXX)"
cleanup() { rm -rf --one-file-system "$WORK"; }
trap cleanup EXIT
ROOT="$WORK/root"
mkdir -p "$ROOT"
tar -C "$ROOT" --numeric-owner -xf "$TARBALL"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
mkdir -p "$ROOT$INNER_DIR"
cp "${DEBS[@]}" "$ROOT$INNER_DIR/"
install -m 0755 "${BASH_SOURCE[0]}" "$ROOT$INNER_DIR/package-test.sh"

step "inside the root (unshare -m -p -f, pivot_root), budget ${BUDGET}s"
status=0
timeout --kill-after=10 "$BUDGET" unshare --mount --pid --fork --propagation private \
    bash "${BASH_SOURCE[0]}" --enter "$ROOT" || status=$?
step ""
total=$((SECONDS - T0))
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
    die "over the time budget of ${BUDGET}s (NESTWRAP_PKGTEST_BUDGET)"
fi
echo "package test: $([ "$status" = 0 ] && echo PASS || echo FAIL) in ${total}s (budget ${BUDGET}s)"
exit "$status"
