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

if ! command -v patchelf >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q patchelf >&2 ||
        { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q patchelf >&2; } ||
        die "cannot install patchelf"
fi

# The system's Debian mirror and keyring, read from its own sources (deb822
# first, then one-line sources); never a host name written here.
uri="" keyring=""
for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    u="$(awk 'tolower($1)=="uris:" {for (i=2;i<=NF;i++) if ($i ~ /\/debian\/?$/) {print $i; exit}}' "$f")"
    if [ -n "$u" ]; then
        uri="$u"
        keyring="$(awk 'tolower($1)=="signed-by:" {print $2; exit}' "$f")"
        break
    fi
done
if [ -z "$uri" ]; then
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        uri="$(awk '$1=="deb" {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\/.*\/debian\/?$/) {print $i; exit}}' "$f")"
        [ -n "$uri" ] && break
    done
fi
[ -n "$uri" ] || die "no Debian archive URI found in /etc/apt/sources.list{,.d/*}"
[ -n "$keyring" ] || keyring=/usr/share/keyrings/debian-archive-keyring.gpg

umask 022
mkdir -p "$BASE" "$DIR"
chmod 0755 "$BASE" "$DIR"
APT="$DIR/apt"
rm -rf "$APT"
mkdir -p "$APT/etc" "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/debs"
cat >"$APT/etc/reference.sources" <<EOF
Types: deb
URIs: $uri
Suites: sid testing
Components: main
Signed-By: $keyring
EOF
apt_opts=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$APT/etc"
    -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache"
    -o Dir::State::status=/dev/null -o APT::Get::List-Cleanup=0)
apt-get "${apt_opts[@]}" -q update >&2 || die "apt-get update of sid/testing from $uri failed"

# Any 0.13.1-N revision, the highest one offered.
rev="$(apt-cache "${apt_opts[@]}" madison bubblewrap |
    awk -F'|' '{gsub(/ /,"",$2); print $2}' |
    grep -E "^${VERSION//./\\.}-[0-9]+$" | sort -V | tail -n 1 || true)"
[ -n "$rev" ] || die "bubblewrap $VERSION-N is no longer in sid or testing (offered: $(apt-cache "${apt_opts[@]}" madison bubblewrap | awk -F'|' '{gsub(/ /,"",$2); printf "%s ", $2}')); the reference cannot be installed; do not fall back to another version"

(cd "$APT/debs" && apt-get "${apt_opts[@]}" -q download "bubblewrap=$rev" "${LIBS[@]}" >&2) ||
    die "apt-get download bubblewrap=$rev ${LIBS[*]} failed"
R="$DIR/root"
rm -rf "$R"
mkdir -p "$R"
for deb in "$APT"/debs/*.deb; do dpkg -x "$deb" "$R"; done
cp "$R/usr/bin/bwrap" "$BIN.new"
patchelf --set-interpreter "$R/usr/lib64/ld-linux-x86-64.so.2" \
    --force-rpath --set-rpath "$R/usr/lib/x86_64-linux-gnu" "$BIN.new"
chmod -R a+rX "$R"
chmod 0755 "$BIN.new"
mv -f "$BIN.new" "$BIN"
echo "$rev" >"$DIR/revision"
rm -rf "$APT"
works || die "$BIN does not answer --version with bubblewrap $VERSION"
echo "$BIN"
