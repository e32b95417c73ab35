#!/usr/bin/env bash
# Build the lab IPC base images with debootstrap + `podman import`:
#     localhost/edgefleet/debian:12   (bookworm)
#     localhost/edgefleet/debian:13   (trixie)
#
# Usage:  lab/images/build.sh [12|13|all]...      (default: all; run as root)
#
# Environment:
#   EDGEFLEET_DEBIAN_MIRROR   Debian archive URL to debootstrap from. Default:
#                             the first Debian archive found in the host's apt
#                             sources (/etc/apt/sources.list, sources.list.d/
#                             *.list and *.sources).
#   EDGEFLEET_IMAGES_FORCE=1  rebuild even if the image is up to date.
#   EDGEFLEET_DEBOOTSTRAP_CACHE
#                             directory for downloaded .debs, reused by later
#                             rebuilds (default /var/cache/edgefleet/debootstrap;
#                             empty = no cache). Not part of the recipe.
#   TMPDIR                    where the rootfs is assembled (default /var/tmp).
#
# Caching: every image carries the label org.edgefleet.recipe = sha256 of
# (this script, the package list, the mirror URL, the suite). The image is
# rebuilt only when that hash differs from the label of the existing image, so
# a second run prints nothing and exits 0 within a second or two.
#
# What is in the image (and why) is described at PACKAGES / customize_rootfs
# below. The containers are meant to be run as
#     podman run -d --systemd=always localhost/edgefleet/debian:12
# with CONTAINERS_CONF pointing at lab/containers.conf (lab/env.sh).
set -euo pipefail
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
self="$here/$(basename "${BASH_SOURCE[0]}")"
# shellcheck source=../lib/debian.sh
. "$here/../lib/debian.sh"
# shellcheck source=../env.sh
. "$here/../env.sh"

IMAGE_REPO=localhost/edgefleet/debian
LABEL_RECIPE=org.edgefleet.recipe

# Packages on top of debootstrap's minbase variant (Priority: required + apt).
# Keep this list lean: the image stands in for a real IPC that Ansible reaches
# over SSH; roles install what they need themselves.
PACKAGES=(
    systemd systemd-sysv   # PID 1 (/sbin/init)
    dbus libpam-systemd    # system bus + logind sessions (hostnamectl, timedatectl, loginctl)
    openssh-server         # how Ansible reaches the IPC (pulls openssh-sftp-server)
    sudo                   # become
    python3 python3-apt    # Ansible modules; apt/package_facts need python3-apt
    iproute2 iputils-ping  # `ip` for network facts; ping for lab reachability checks
    netbase                # /etc/services, /etc/protocols (getservbyname & co.)
    ca-certificates        # HTTPS downloads from roles
    procps                 # ps/pgrep/sysctl (sysctl module, service checks)
    dmidecode              # hardware facts fallback when /sys/class/dmi is unreadable
    tzdata                 # timezone settings (timedatectl, community.general.timezone)
    python3-yaml openssl   # the K3s TEST DOUBLE (tests/doubles/k3s) the lab runs as K3s
)

# Units to mask because they make no sense in a container and would leave the
# system `degraded`, or would reach beyond it. With podman --systemd=always both
# bookworm (systemd 252) and trixie (systemd 257) reach `running` on their own
# (udev is not installed; getty/console, remount-fs, kernel-module and
# hardware-clock units are skipped by their Condition*= checks in a
# container). lab/images/verify.sh fails and lists the units if that changes.
#   systemd-sysctl.service: a container shares the host's kernel. It is
#     skipped while /proc/sys is read-only, but the hardening tests make
#     /proc/sys writable (unmask=/proc/sys) so the role can set the container's
#     own network-namespace keys; at boot it would then apply every sysctl.d
#     file, kernel.* and fs.* keys included, to the host.
MASK_UNITS=(systemd-sysctl.service)

declare -A SUITE=([12]=bookworm [13]=trixie)

log() { printf 'images: %s\n' "$*" >&2; }
die() { printf 'images: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,/^set -euo/p' "$self" | sed '$d; s/^# \{0,1\}//' >&2
    exit "${1:-2}"
}

# ---------------------------------------------------------------- host tools
HOST_PACKAGES=(
    podman
    runc                   # the runtime lab/containers.conf selects (not crun)
    netavark aardvark-dns  # network backend for `podman network create` + DNS
    iptables               # netavark's firewall driver (NAT, published ports)
    debootstrap
    debian-archive-keyring # Release signatures for bookworm and trixie
    ca-certificates        # https mirrors
    tar coreutils util-linux
)

# ----------------------------------------------------------------- recipe
recipe_hash() { # suite mirror
    {
        cat "$self" "$here/../lib/debian.sh" | sha256sum
        printf 'packages=%s\nmirror=%s\nsuite=%s\n' "${PACKAGES[*]}" "$2" "$1"
    } | sha256sum | cut -d' ' -f1
}

image_label() { # ref
    podman image inspect --format "{{ index .Labels \"$LABEL_RECIPE\" }}" "$1" 2>/dev/null || true
}

# ----------------------------------------------------------------- rootfs
customize_rootfs() { # root suite
    local root=$1 suite=$2

    # Identity: each container must get its own. An empty /etc/machine-id
    # makes systemd generate one at boot (and machine-id-commit persist it);
    # /var/lib/dbus/machine-id must not carry a stale copy.
    : >"$root/etc/machine-id"
    rm -f "$root/var/lib/dbus/machine-id"
    [[ -d $root/var/lib/dbus ]] && ln -s /etc/machine-id "$root/var/lib/dbus/machine-id"
    # podman bind-mounts its own /etc/hostname, /etc/hosts, /etc/resolv.conf;
    # debootstrap copied the build host's ones into the tree.
    rm -f "$root/etc/hostname" "$root/etc/resolv.conf"
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

    # No passwords anywhere: root is locked (`!` in shadow); access is by SSH
    # key only (the lab injects its generated key). With UsePAM yes (Debian's
    # default) sshd still accepts key auth for an account locked this way.
    chroot "$root" passwd -q -l root >/dev/null

    # SSH host keys: the openssh-server postinst generated keys inside the
    # build tree; baked in, they would be shared by every container made from
    # the image. Drop them and generate a fresh set on each container's first
    # boot, like a real IPC (the lab keeps its own known_hosts file).
    rm -f "$root"/etc/ssh/ssh_host_*
    cat >"$root/etc/systemd/system/ssh-hostkeys.service" <<'UNIT'
[Unit]
Description=Generate SSH host keys on first boot (edgefleet lab image)
Before=ssh.service ssh.socket
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
RemainAfterExit=yes

[Install]
WantedBy=ssh.service ssh.socket
UNIT
    chroot "$root" systemctl enable ssh-hostkeys.service ssh.service >/dev/null 2>&1 \
        || die "$suite: systemctl enable ssh failed in the chroot"

    # Units that make no sense in a container are masked here (see MASK_UNITS).
    local u
    for u in "${MASK_UNITS[@]}"; do
        ln -sf /dev/null "$root/etc/systemd/system/$u"
    done

    # Lean ("slim" like Debian's official container images): no docs, man
    # pages or translations (~60 MB of ~230 MB), now and for packages roles
    # install later; copyright files stay.
    cat >"$root/etc/dpkg/dpkg.cfg.d/edgefleet-slim" <<'DPKG'
# edgefleet lab image: do not install docs, man pages, translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
DPKG
    find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian/*
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +

    # Lean: drop package caches and indexes (roles run `apt update` first).
    chroot "$root" apt-get clean
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
        "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old \
        "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/*
    mkdir -p "$root/var/lib/apt/lists/partial"
    # No indexes: the lists folder must not look freshly updated, or apt's
    # cache_valid_time (Ansible's apt module) would skip the first update.
    touch -d @0 "$root/var/lib/apt/lists"
    find "$root/var/log" -type f -exec truncate -s 0 {} +
}

build_image() { # version
    local ver=$1 suite=${SUITE[$1]} mirror=$2
    local ref="$IMAGE_REPO:$ver" hash have work t0 old_id
    hash=$(recipe_hash "$suite" "$mirror")
    have=$(image_label "$ref")
    if [[ $have == "$hash" && ${EDGEFLEET_IMAGES_FORCE:-0} != 1 ]]; then
        return 0 # cache hit: quiet
    fi
    t0=$SECONDS
    log "$ref: building $suite from $mirror (recipe ${hash:0:12}${have:+, was ${have:0:12}})"

    work=$(mktemp -d "${TMPDIR:-/var/tmp}/edgefleet-rootfs-$suite.XXXXXX")
    # shellcheck disable=SC2064
    trap "cleanup_dir '$work'" EXIT
    local -a ds_opts=(--variant=minbase --components=main --merged-usr
        "--include=$(IFS=,; echo "${PACKAGES[*]}")")
    if [[ -n ${EDGEFLEET_DEBOOTSTRAP_CACHE-/var/cache/edgefleet/debootstrap} ]]; then
        local cache=${EDGEFLEET_DEBOOTSTRAP_CACHE:-/var/cache/edgefleet/debootstrap}/$suite
        mkdir -p "$cache"
        ds_opts+=("--cache-dir=$(cd "$cache" && pwd)")
    fi
    if ! debootstrap "${ds_opts[@]}" "$suite" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1; then
        umount_below "$work/root"
        tail -n 25 "$work/debootstrap.log" >&2
        [[ -f $work/root/debootstrap/debootstrap.log ]] && tail -n 25 "$work/root/debootstrap/debootstrap.log" >&2
        die "$ref: debootstrap $suite failed (log above; mirror $mirror)"
    fi
    umount_below "$work/root"
    customize_rootfs "$work/root" "$suite"

    tar --numeric-owner --xattrs --xattrs-include='security.capability' \
        -C "$work/root" -cf "$work/rootfs.tar" . || die "$ref: tar failed"
    rm -rf --one-file-system "$work/root"

    old_id=$(podman image inspect --format '{{.Id}}' "$ref" 2>/dev/null || true)
    podman import --quiet \
        --change 'CMD ["/sbin/init"]' \
        --change 'STOPSIGNAL SIGRTMIN+3' \
        --change "LABEL $LABEL_RECIPE=$hash" \
        --change "LABEL org.edgefleet.suite=$suite" \
        --change "LABEL org.edgefleet.mirror=$mirror" \
        --message "edgefleet lab image: Debian $ver ($suite) debootstrap minbase" \
        "$work/rootfs.tar" "$ref" >/dev/null || die "$ref: podman import failed"
    [[ $(image_label "$ref") == "$hash" ]] || die "$ref: imported image lacks label $LABEL_RECIPE=$hash"
    # The previous build is now untagged; drop it unless a container uses it.
    if [[ -n $old_id ]]; then
        podman rmi "$old_id" >/dev/null 2>&1 || true
    fi

    cleanup_dir "$work"
    trap - EXIT
    log "$ref: built in $((SECONDS - t0))s ($(podman image inspect --format '{{.Size}}' "$ref" | numfmt --to=iec))"
}

main() {
    local -a versions=()
    local a
    (($#)) || set -- all
    for a in "$@"; do
        case $a in
            12 | 13) versions+=("$a") ;;
            all) versions+=(12 13) ;;
            -h | --help) usage 0 ;;
            *) printf 'images: unknown argument: %s\n' "$a" >&2; usage 2 ;;
        esac
    done
    [[ $(id -u) == 0 ]] || die "must run as root (debootstrap, rootful podman)"

    ensure_host_packages "${HOST_PACKAGES[@]}"
    local mirror
    mirror=$(find_mirror)

    # One build at a time per host (make lab and make test may race).
    mkdir -p /run/lock
    exec 9>/run/lock/edgefleet-images.lock
    flock 9

    local v
    # `all 12` would build 12 twice: dedupe, keep order.
    local -A seen=()
    for v in "${versions[@]}"; do
        [[ -n ${seen[$v]:-} ]] && continue
        seen[$v]=1
        build_image "$v" "$mirror"
    done
}

# `; exit` on the same line: bash reads scripts incrementally, so an edit to
# this file while it runs can never make bash execute stray text after main.
main "$@"; exit
