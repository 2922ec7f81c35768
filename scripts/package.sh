#!/usr/bin/env bash
# Build the Debian packages and check them:
#
#   bash scripts/package.sh     # -> target/debian/nestwrap_V_amd64.deb
#                               #    target/debian/nestwrap-bwrap_V_amd64.deb
#
# 1. cargo-deb, the version pinned below (installed with `cargo install
#    --locked` when another or none is installed);
# 2. the static release binary (scripts/build-static.sh, DESIGN.md "Which
#    binary"), the man page gzipped into target/deb-assets/;
# 3. `cargo deb --no-build` for `nestwrap` and for the variant `bwrap`
#    (`nestwrap-bwrap`), metadata in Cargo.toml [package.metadata.deb];
# 4. lintian on both: any error or warning fails (the overrides, each with its
#    reason, are in debian/lintian/);
# 5. the AppArmor profile (debian/apparmor/nestwrap) compiled by AppArmor 4's
#    apparmor_parser in compile-only mode (scripts/apparmor-parser.sh), which
#    must also reject a copy whose `userns,` rule is misspelt (so the check
#    can fail), and the profile must contain the `userns,` rule.
# The last lines on stdout are the two .deb paths. Needs root only to install
# what is missing (lintian, patchelf, AppArmor 4's parser into its cache).
set -euo pipefail

CARGO_DEB_VERSION=3.8.0
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
die() { echo "package: $*" >&2; exit 1; }

CARGO="$(command -v cargo || true)"
for c in "${CARGO_HOME:-}/bin/cargo" "${HOME:-/nonexistent}/.cargo/bin/cargo" /root/.cargo/bin/cargo; do
    [ -n "$CARGO" ] && break
    [ -x "$c" ] && CARGO="$c"
done
[ -n "$CARGO" ] || die "cargo not found"
PATH="$(dirname "$CARGO"):$PATH"
export PATH

# --- 1. cargo-deb -------------------------------------------------------------
if [ "$("$CARGO" deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
    echo "==> installing cargo-deb $CARGO_DEB_VERSION" >&2
    "$CARGO" install --quiet --locked cargo-deb --version "=$CARGO_DEB_VERSION" >&2 ||
        die "cargo install cargo-deb $CARGO_DEB_VERSION failed"
fi

# The bwrap variant depends on exactly this nestwrap; Cargo.toml cannot say
# "same version", so check that it does.
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
want="nestwrap (= $version-1)"
grep -qF "depends = \"$want\"" Cargo.toml ||
    die "Cargo.toml [package.metadata.deb.variants.bwrap]: depends must be \"$want\""
grep -q "^nestwrap ($version-1) " debian/changelog ||
    die "debian/changelog: the first entry must be nestwrap ($version-1)"

# --- 2. the binary and the gzipped man page ----------------------------------
echo "==> building the static release binary" >&2
BIN="$(bash scripts/build-static.sh)"
TRIPLE="$(basename "$(dirname "$(dirname "$BIN")")")"
mkdir -p target/deb-assets
gzip -9n <man/nestwrap.1 >target/deb-assets/nestwrap.1.gz

# --- 3. the packages ------------------------------------------------------------
OUT="$REPO/target/debian"
rm -rf "$OUT"
mkdir -p "$OUT"
echo "==> cargo deb (nestwrap, nestwrap-bwrap)" >&2
"$CARGO" deb --quiet --no-build --target "$TRIPLE" --output "$OUT" >&2
"$CARGO" deb --quiet --no-build --target "$TRIPLE" --output "$OUT" --variant bwrap >&2
DEBS=("$OUT"/nestwrap_*.deb "$OUT"/nestwrap-bwrap_*.deb)
for d in "${DEBS[@]}"; do [ -f "$d" ] || die "cargo deb did not write $d"; done

# --- 4. lintian -------------------------------------------------------------------
if ! command -v lintian >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "lintian is not installed (apt-get install lintian)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q lintian >&2 ||
        { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q lintian >&2; } ||
        die "cannot install lintian"
fi
echo "==> lintian (errors and warnings fail; overrides in debian/lintian/)" >&2
# (--show-overrides would make --fail-on count the overridden tags too.)
lintian --fail-on error,warning "${DEBS[@]}" >&2 || die "lintian found errors or warnings"
lintian --show-overrides "${DEBS[@]}" 2>/dev/null | sed -n 's/^O: /  overridden: /p' >&2 || true

# --- 5. the AppArmor profile ------------------------------------------------------
PROFILE=debian/apparmor/nestwrap
grep -Eq '^[[:space:]]*userns,[[:space:]]*$' "$PROFILE" || die "$PROFILE has no \`userns,\` rule"
PARSER="$(bash scripts/apparmor-parser.sh)" || die "AppArmor 4's apparmor_parser is not available"
echo "==> $("$PARSER" --version | head -n 1): compiling $PROFILE (--skip-kernel-load)" >&2
"$PARSER" --skip-kernel-load --skip-cache "$PROFILE" >&2 || die "$PROFILE does not compile"
bad="$(mktemp)"
sed 's/userns,/usernz,/' "$PROFILE" >"$bad"
if "$PARSER" --skip-kernel-load --skip-cache "$bad" >/dev/null 2>&1; then
    rm -f "$bad"
    die "the parser accepted a misspelt rule: the compile check cannot fail"
fi
rm -f "$bad"

printf '%s\n' "${DEBS[@]}"
