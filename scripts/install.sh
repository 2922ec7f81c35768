#!/usr/bin/env bash
# Install nestwrap with its man page and shell completions.
#
#   cargo build --release && sudo bash scripts/install.sh [--as-bwrap]
#
# Environment:
#   PREFIX           installation prefix (default /usr/local)
#   DESTDIR          staging root prepended to every path (packaging; default empty)
#   NESTWRAP_BINARY  the binary to install (default target/release/nestwrap)
#
# Installs
#   $PREFIX/bin/nestwrap
#   $PREFIX/share/man/man1/nestwrap.1
#   $PREFIX/share/bash-completion/completions/nestwrap
#   $PREFIX/share/zsh/site-functions/_nestwrap        (completes nestwrap and bwrap)
#   $PREFIX/share/fish/vendor_completions.d/nestwrap.fish
# and with --as-bwrap also the relative symlinks
#   $PREFIX/bin/bwrap -> nestwrap, share/man/man1/bwrap.1 -> nestwrap.1,
#   share/bash-completion/completions/bwrap -> nestwrap,
#   share/fish/vendor_completions.d/bwrap.fish -> nestwrap.fish
# so that callers that run `bwrap` (Zuul, ansible-runner, scripts) get nestwrap
# and `man bwrap` documents it. Without --as-bwrap nothing named bwrap is
# touched, so an installed bubblewrap keeps its own man page and completion.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${PREFIX:-/usr/local}"
DESTDIR="${DESTDIR:-}"
# Prefer the static build (scripts/build-static.sh), else `cargo build --release`.
STATIC="$(ls "$REPO"/target/*-linux-*/release/nestwrap 2>/dev/null | head -1 || true)"
BINARY="${NESTWRAP_BINARY:-${STATIC:-$REPO/target/release/nestwrap}}"
AS_BWRAP=0

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

for arg in "$@"; do
    case "$arg" in
        --as-bwrap) AS_BWRAP=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "install.sh: unknown argument: $arg (try --help)" >&2; exit 1 ;;
    esac
done

if [ ! -x "$BINARY" ]; then
    echo "install.sh: $BINARY not found; run 'bash scripts/build-static.sh' (or 'cargo build --release') first" >&2
    exit 1
fi
for f in man/nestwrap.1 completions/bash/nestwrap completions/zsh/_nestwrap \
    completions/fish/nestwrap.fish; do
    if [ ! -f "$REPO/$f" ]; then
        echo "install.sh: $REPO/$f is missing" >&2
        exit 1
    fi
done

root="$DESTDIR$PREFIX"
bindir="$root/bin"
man1dir="$root/share/man/man1"
bashdir="$root/share/bash-completion/completions"
zshdir="$root/share/zsh/site-functions"
fishdir="$root/share/fish/vendor_completions.d"

install -d -m 0755 "$bindir" "$man1dir" "$bashdir" "$zshdir" "$fishdir"
install -m 0755 "$BINARY" "$bindir/nestwrap"
install -m 0644 "$REPO/man/nestwrap.1" "$man1dir/nestwrap.1"
install -m 0644 "$REPO/completions/bash/nestwrap" "$bashdir/nestwrap"
install -m 0644 "$REPO/completions/zsh/_nestwrap" "$zshdir/_nestwrap"
install -m 0644 "$REPO/completions/fish/nestwrap.fish" "$fishdir/nestwrap.fish"
echo "installed nestwrap into $root"

if [ "$AS_BWRAP" = 1 ]; then
    ln -sfn nestwrap "$bindir/bwrap"
    ln -sfn nestwrap.1 "$man1dir/bwrap.1"
    ln -sfn nestwrap "$bashdir/bwrap"
    ln -sfn nestwrap.fish "$fishdir/bwrap.fish"
    echo "installed bwrap -> nestwrap links into $root"
fi
