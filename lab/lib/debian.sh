# shellcheck shell=bash
# Shared by lab/images/build.sh and lab/vm/build-image.sh (sourced; both hash
# this file into their recipe): host packages, the machine's Debian mirror and
# safe clean-up of debootstrap trees. Callers define log() and die().

lab_lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Install the host packages given that are missing (hack/apt-install.sh).
ensure_host_packages() { # package...
    bash "$lab_lib_dir/../../hack/apt-install.sh" "$@" || die "installing host packages ($*) failed"
}

# ----------------------------------------------------------------- mirror
# "URI suite" pairs of the enabled deb sources in one-line .list files and
# deb822 .sources files.
apt_source_uris() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r $f ]] || continue
        sed -e 's/#.*//' "$f" | awk '$1 == "deb" {
            i = 2
            if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
            if (i + 1 <= NF) print $i, $(i + 1)
        }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r $f ]] || continue
        awk 'function flush() {
                 if (types ~ /(^| )deb( |$)/ && enabled !~ /^(no|false|0)$/) {
                     n = split(uris, u, " "); m = split(suites, s, " ")
                     for (a = 1; a <= n; a++) for (b = 1; b <= m; b++) print u[a], s[b]
                 }
                 types = uris = suites = enabled = ""
             }
             /^[ \t]*#/ { next }
             /^[ \t]*$/ { flush(); next }
             /^[^ \t]/ { key = tolower($1); sub(/:.*/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val) }
             /^[ \t]/  { val = $0 }
             key == "types"   { types = val }
             key == "uris"    { uris = val }
             key == "suites"  { suites = val }
             key == "enabled" { enabled = tolower(val) }
             END { flush() }' "$f"
    done
}

find_mirror() {
    if [[ -n ${EDGEFLEET_DEBIAN_MIRROR:-} ]]; then
        printf '%s\n' "${EDGEFLEET_DEBIAN_MIRROR%/}"
        return
    fi
    local uri suite
    while read -r uri suite; do
        [[ $uri =~ ^https?:// ]] || continue
        case $suite in
            *-security | */updates | *-updates | *-backports) continue ;;
            buster | bullseye | bookworm | trixie | forky | sid | oldstable | stable | testing | unstable)
                printf '%s\n' "${uri%/}"
                return ;;
        esac
    done < <(apt_source_uris)
    die "no Debian archive found in /etc/apt/sources.list{,.d/*.list,.d/*.sources};" \
        "set EDGEFLEET_DEBIAN_MIRROR (e.g. http://deb.debian.org/debian)"
}

# The security archive the guest's apt should use (empty if the host has none).
find_security_mirror() {
    local uri suite
    while read -r uri suite; do
        [[ $uri =~ ^https?:// && $suite == *-security ]] || continue
        printf '%s\n' "${uri%/}"
        return
    done < <(apt_source_uris)
}

# Unmount anything left mounted below $1 (debootstrap mounts proc/sys and, in
# containers, binds /dev) so that removing the tree can never reach the host.
umount_below() { # dir
    local m
    while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done < <(awk -v r="$1" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts | sort -r)
}

cleanup_dir() { # dir
    [[ -n $1 && -d $1 ]] || return 0
    umount_below "$1"
    if awk -v r="$1" 'index($2, r "/") == 1 { found = 1 } END { exit !found }' /proc/mounts; then
        log "warning: mounts remain below $1, leaving it in place"
        return 0
    fi
    rm -rf --one-file-system "$1"
}

