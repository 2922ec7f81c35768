# shellcheck shell=bash
# Sourced by scripts that fetch from Debian's archive (package.sh,
# package-test.sh). Sets DEBIAN_URI and DEBIAN_KEYRING from the system's own
# apt sources (deb822 first, then one-line sources): the repository never
# names a host. Returns 1 when no Debian archive URI is configured.
debian_archive() {
    local f u
    DEBIAN_URI="" DEBIAN_KEYRING=""
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        u="$(awk 'tolower($1)=="uris:" {for (i=2;i<=NF;i++) if ($i ~ /\/debian\/?$/) {print $i; exit}}' "$f")"
        if [ -n "$u" ]; then
            DEBIAN_URI="$u"
            DEBIAN_KEYRING="$(awk 'tolower($1)=="signed-by:" {print $2; exit}' "$f")"
            break
        fi
    done
    if [ -z "$DEBIAN_URI" ]; then
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [ -f "$f" ] || continue
            DEBIAN_URI="$(awk '$1=="deb" {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\/.*\/debian\/?$/) {print $i; exit}}' "$f")"
            [ -n "$DEBIAN_URI" ] && break
        done
    fi
    [ -n "$DEBIAN_KEYRING" ] || DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -n "$DEBIAN_URI" ]
}

# Install patchelf if it is missing (root only).
need_patchelf() {
    command -v patchelf >/dev/null 2>&1 && return 0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q patchelf >&2 ||
        { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q patchelf >&2; }
}

# foreign_root DIR "SUITES" PKG VERSION_ERE [LIBS...]: unpack the highest
# version of PKG matching VERSION_ERE (anchored), plus LIBS, from the given
# Debian SUITES into DIR/root, without touching the system: a private apt
# state (own sources, lists and cache under DIR/apt) reusing this system's
# mirror and keyring, `apt-get download`, `dpkg -x`. Sets FOREIGN_VERSION;
# returns 1 with a message on stderr when no such version is offered.
foreign_root() {
    local dir=$1 suites=$2 pkg=$3 ere=$4 deb
    shift 4
    debian_archive || { echo "no Debian archive URI found in /etc/apt/sources.list{,.d/*}" >&2; return 1; }
    local apt="$dir/apt"
    rm -rf "$apt" "$dir/root"
    mkdir -p "$apt/etc" "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs" "$dir/root"
    printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' \
        "$DEBIAN_URI" "$suites" "$DEBIAN_KEYRING" >"$apt/etc/foreign.sources"
    local opts=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$apt/etc"
        -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
        -o Dir::State::status=/dev/null -o APT::Get::List-Cleanup=0)
    apt-get "${opts[@]}" -q update >&2 || { echo "apt-get update of $suites from $DEBIAN_URI failed" >&2; return 1; }
    local offered
    offered="$(apt-cache "${opts[@]}" madison "$pkg" | awk -F'|' '{gsub(/ /,"",$2); print $2}')"
    FOREIGN_VERSION="$(grep -E "^($ere)\$" <<<"$offered" | sort -V | tail -n 1 || true)"
    if [ -z "$FOREIGN_VERSION" ]; then
        echo "no $pkg version matching $ere in $suites (offered: $(echo $offered))" >&2
        return 1
    fi
    (cd "$apt/debs" && apt-get "${opts[@]}" -q download "$pkg=$FOREIGN_VERSION" "$@" >&2) ||
        { echo "apt-get download $pkg=$FOREIGN_VERSION $* failed" >&2; return 1; }
    for deb in "$apt"/debs/*.deb; do dpkg -x "$deb" "$dir/root"; done
    chmod -R a+rX "$dir/root"
    rm -rf "$apt"
}

# onto_root BIN ROOT: make BIN load its interpreter and libraries from ROOT
# (a tree unpacked by foreign_root); --force-rpath so that its libraries
# find ROOT's too.
onto_root() {
    patchelf --set-interpreter "$2/usr/lib64/ld-linux-x86-64.so.2" \
        --force-rpath --set-rpath "$2/usr/lib/x86_64-linux-gnu" "$1"
}
