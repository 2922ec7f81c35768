#!/usr/bin/env bash
# Install the real bwrap clients that tests/clients.rs drives (issue 9;
# shared reference test-environments.md §5). Idempotent: a client already
# installed is skipped, so a rerun takes well under a second.
#
#   /var/tmp/nestwrap-clients/          (or $NESTWRAP_CLIENTS_DIR), mode 0755
#     zuul/      venv: zuul (--no-deps) + psutil        -> zuul/bin/zuul-bwrap
#     ansible/   venv: ansible-runner + ansible-core    -> ansible/bin/ansible-runner
#     icon/icon.png   a 64x64 RGBA PNG for xdg-desktop-portal-validate-icon
#
# The venvs are made from Debian's /usr/bin/python3 (not a pyenv shim, which is
# invisible inside a sandbox) and are readable by every user, so the
# unprivileged test user can run them. xdg-desktop-portal itself comes from apt
# (scripts/test.sh's package list). Each venv gets a `.complete` marker only
# after pip succeeded; a half-built venv is removed and rebuilt.
#
# As root it installs; otherwise it only reports what is missing. Exit status:
# 0 when everything is present afterwards, 1 otherwise.
set -uo pipefail
umask 022

BASE="${NESTWRAP_CLIENTS_DIR:-/var/tmp/nestwrap-clients}"
PY=/usr/bin/python3
IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1
STATUS=0

say() { printf 'clients-setup: %s\n' "$*"; }

# make_venv NAME MARKER-BINARY PIP-ARGS...
make_venv() {
    local name=$1 probe=$2 dir="$BASE/$1"
    shift 2
    if [ -e "$dir/.complete" ] && [ -x "$dir/$probe" ]; then
        say "$name: present ($dir)"
        return 0
    fi
    if [ "$IS_ROOT" = 0 ]; then
        say "$name: MISSING ($dir; run this script as root)"
        STATUS=1
        return 0
    fi
    say "$name: installing into $dir (pip install $*)"
    rm -rf "$dir"
    local t0=$SECONDS
    if "$PY" -m venv "$dir" &&
        "$dir/bin/pip" install --quiet --disable-pip-version-check "$@" &&
        [ -x "$dir/$probe" ]; then
        chmod -R a+rX "$dir"
        touch "$dir/.complete"
        say "$name: installed in $((SECONDS - t0))s: $("$dir/bin/pip" freeze 2>/dev/null | tr '\n' ' ')"
    else
        say "$name: FAILED (pip install $*)"
        rm -rf "$dir"
        STATUS=1
    fi
}

if [ ! -x "$PY" ]; then
    say "MISSING: $PY (Debian's python3)"
    exit 1
fi
if [ "$IS_ROOT" = 1 ]; then
    mkdir -p "$BASE"
    chmod 0755 "$BASE"
elif [ ! -d "$BASE" ]; then
    say "MISSING: $BASE (run this script as root)"
    exit 1
fi

make_venv zuul bin/zuul-bwrap --no-deps zuul psutil
make_venv ansible bin/ansible-runner ansible-runner ansible-core

# A minimal valid PNG written by hand (zlib + crc32, no PIL): 64x64, RGBA,
# an opaque square on a transparent background.
ICON="$BASE/icon/icon.png"
if [ -s "$ICON" ]; then
    say "icon: present ($ICON)"
elif [ "$IS_ROOT" = 0 ]; then
    say "icon: MISSING ($ICON; run this script as root)"
    STATUS=1
else
    mkdir -p "$BASE/icon"
    chmod 0755 "$BASE/icon"
    "$PY" - "$ICON" <<'EOF'
import struct, sys, zlib
W = H = 64
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
rows = b""
for y in range(H):
    row = b"\x00"  # filter: none
    for x in range(W):
        inside = 8 <= x < 56 and 8 <= y < 56
        row += bytes((40, 120, 200, 255)) if inside else bytes((0, 0, 0, 0))
    rows += row
png = (b"\x89PNG\r\n\x1a\n"
       + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 6, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(rows, 9))
       + chunk(b"IEND", b""))
with open(sys.argv[1] + ".tmp", "wb") as f:
    f.write(png)
EOF
    if [ -s "$ICON.tmp" ]; then
        chmod 0644 "$ICON.tmp"
        mv "$ICON.tmp" "$ICON"
        say "icon: wrote $ICON ($(stat -c %s "$ICON") bytes)"
    else
        say "icon: FAILED to write $ICON"
        STATUS=1
    fi
fi

VALIDATE=/usr/libexec/xdg-desktop-portal-validate-icon
if [ -x "$VALIDATE" ]; then
    say "portal: present ($VALIDATE)"
else
    say "portal: MISSING ($VALIDATE; apt-get install xdg-desktop-portal)"
    STATUS=1
fi
exit "$STATUS"
