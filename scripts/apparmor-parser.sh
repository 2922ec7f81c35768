#!/usr/bin/env bash
# Install AppArmor 4's apparmor_parser from Debian trixie next to the system,
# without touching the system, and print the path of a wrapper that runs it
# against that AppArmor's own /etc/apparmor.d (abi/, tunables/, abstractions/).
#
#   bash scripts/apparmor-parser.sh   # -> /var/tmp/nestwrap-ref/apparmor-4/apparmor_parser
#
# Debian 12's apparmor 3.0.8 knows neither `abi <abi/4.0>` nor the `userns`
# rule that nestwrap's profile (debian/apparmor/nestwrap) grants, so the
# profile is checked with AppArmor 4 in compile-only mode
# (`apparmor_parser --skip-kernel-load`), which needs no AppArmor in the
# kernel. Same recipe as scripts/bwrap-reference.sh: a private apt state for
# trixie reusing the system's own Debian mirror (scripts/debian-archive.sh),
# `apt-get download`, `dpkg -x`, and patchelf so that the binary loads
# trixie's libc from the extracted tree. Idempotent and cached.
#
# Environment:
#   NESTWRAP_REF_DIR   cache directory (default /var/tmp/nestwrap-ref)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAJOR=4
SUITE=trixie
BASE="${NESTWRAP_REF_DIR:-/var/tmp/nestwrap-ref}"
DIR="$BASE/apparmor-$MAJOR"
WRAPPER="$DIR/apparmor_parser"
LIBS=(libc6)

die() { echo "apparmor-parser: $*" >&2; exit 1; }

works() { [ -x "$WRAPPER" ] && "$WRAPPER" --version 2>/dev/null | grep -q "version $MAJOR\."; }

if works; then
    echo "$WRAPPER"
    exit 0
fi
[ "$(id -u)" = 0 ] || die "AppArmor $MAJOR is not installed at $DIR; run this script as root once"
# shellcheck source=scripts/debian-archive.sh
. "$REPO/scripts/debian-archive.sh"
need_patchelf || die "cannot install patchelf"
umask 022
mkdir -p "$BASE" "$DIR"
chmod 0755 "$BASE" "$DIR"
foreign_root "$DIR" "$SUITE" apparmor "$MAJOR\\..*" "${LIBS[@]}" || die "no apparmor $MAJOR.x from $SUITE"
ver="$FOREIGN_VERSION"
R="$DIR/root"
PARSER=""
for p in "$R"/usr/sbin/apparmor_parser "$R"/sbin/apparmor_parser; do
    [ -x "$p" ] && PARSER="$p" && break
done
[ -n "$PARSER" ] || die "no apparmor_parser in apparmor=$ver"
cp "$PARSER" "$DIR/apparmor_parser.bin"
onto_root "$DIR/apparmor_parser.bin" "$R"
# The wrapper: trixie's policy tree as the base and include path, and its
# feature set (the policy of a current kernel), never the host's /etc/apparmor*
# or kernel: with --skip-kernel-load nothing reaches the kernel.
cat >"$WRAPPER.new" <<END
#!/bin/sh
exec "$DIR/apparmor_parser.bin" --config-file=/dev/null \\
    --policy-features="$R/usr/share/apparmor-features/features" \\
    --kernel-features="$R/usr/share/apparmor-features/features" \\
    --base="$R/etc/apparmor.d" --Include="$R/etc/apparmor.d" "\$@"
END
chmod 0755 "$DIR/apparmor_parser.bin" "$WRAPPER.new"
mv -f "$WRAPPER.new" "$WRAPPER"
echo "$ver" >"$DIR/version"
works || die "$WRAPPER does not report AppArmor version $MAJOR"
echo "$WRAPPER"
