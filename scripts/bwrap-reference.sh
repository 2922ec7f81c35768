#!/usr/bin/env bash
# Install the reference bubblewrap (the version in scripts/bwrap-reference.version,
# any Debian revision N of it) next to the system, without touching the system,
# and print the path of its binary on stdout.
#
#   bash scripts/bwrap-reference.sh          # -> /var/tmp/nestwrap-ref/0.13.1/bwrap
#
# Debian 12 has no bubblewrap 0.13.1, and sid's binary needs a newer glibc, so
# (reference/test-environments.md §7):
#   1. a private apt state (own sources, lists and cache) for sid and testing,
#      reusing the URI and keyring of the system's own Debian sources;
#   2. `apt-get download` bubblewrap=VERSION-N and the libraries it loads,
#      `dpkg -x` them into one root directory R;
#   3. a copy of R/usr/bin/bwrap whose ELF interpreter and rpath point into R
#      (patchelf), so it is a real binary (/proc/self/exe re-execution works).
# The archive steps are shared with apparmor-parser.sh (scripts/debian-archive.sh).
# Idempotent and cached: a second call that finds a working binary prints its
# path and does nothing else. Needs root only to install the packages it uses
# (patchelf) and to run apt-get; a normal user gets the cached path or an error.
#
# Environment:
#   NESTWRAP_REF_DIR   cache directory (default /var/tmp/nestwrap-ref); every
#                      directory on the way is made 0755 so the unprivileged
#                      test user can run the binary.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="$(tr -d ' \n' <"$REPO/scripts/bwrap-reference.version")"
BASE="${NESTWRAP_REF_DIR:-/var/tmp/nestwrap-ref}"
DIR="$BASE/$VERSION"
BIN="$DIR/bwrap"
LIBS=(libc6 libselinux1 libcap2 libpcre2-8-0)

die() { echo "bwrap-reference: $*" >&2; exit 1; }

works() { [ -x "$BIN" ] && [ "$("$BIN" --version 2>/dev/null)" = "bubblewrap $VERSION" ]; }

if works; then
    echo "$BIN"
    exit 0
fi
[ "$(id -u)" = 0 ] || die "bubblewrap $VERSION is not installed at $BIN; run this script as root once"

# shellcheck source=scripts/debian-archive.sh
. "$REPO/scripts/debian-archive.sh"
need_patchelf || die "cannot install patchelf"
umask 022
mkdir -p "$BASE" "$DIR"
chmod 0755 "$BASE" "$DIR"
# Any 0.13.1-N revision, the highest one offered; never another version.
foreign_root "$DIR" "sid testing" bubblewrap "${VERSION//./\\.}-[0-9]+" "${LIBS[@]}" ||
    die "bubblewrap $VERSION-N cannot be had from sid or testing; the reference cannot be installed (never fall back to another version)"
rev="$FOREIGN_VERSION"
R="$DIR/root"
cp "$R/usr/bin/bwrap" "$BIN.new"
onto_root "$BIN.new" "$R"
chmod 0755 "$BIN.new"
mv -f "$BIN.new" "$BIN"
echo "$rev" >"$DIR/revision"
works || die "$BIN does not answer --version with bubblewrap $VERSION"
echo "$BIN"
