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
