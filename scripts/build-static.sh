#!/usr/bin/env bash
# Build nestwrap as a static release binary and print its path.
#
# A static binary skips the dynamic loader (~20 syscalls and most of the
# start-up instructions per launch) and uses about a third less memory; the
# benchmark and scripts/install.sh use it. `cargo build --release` alone
# still gives a working dynamic binary. glibc's crt-static needs an
# explicit --target, or cargo would also apply it to proc-macro crates.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO="$(command -v cargo || true)"
for c in "${CARGO_HOME:-}/bin/cargo" "${HOME:-/nonexistent}/.cargo/bin/cargo" /root/.cargo/bin/cargo; do
    [ -n "$CARGO" ] && break
    [ -x "$c" ] && CARGO="$c"
done
[ -n "$CARGO" ] || { echo "build-static: cargo not found" >&2; exit 1; }
RUSTC="$(dirname "$CARGO")/rustc"
[ -x "$RUSTC" ] || RUSTC=rustc
HOST="$("$RUSTC" -vV | sed -n 's/^host: //p')"
cd "$REPO"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    "$CARGO" build --release --quiet --bin nestwrap --target "$HOST" >&2
echo "$REPO/target/$HOST/release/nestwrap"
