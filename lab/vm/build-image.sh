#!/usr/bin/env bash
# Build the VM-tier guest: a Debian 12 (bookworm) disk image made with
# debootstrap, booted by QEMU (TCG) with Debian's own kernel passed directly
# (-kernel/-initrd/-append: no bootloader, no partition table).
#
# Usage:  lab/vm/build-image.sh            build if needed, print the env file
#         lab/vm/build-image.sh --print    print the env file, fail if not built
#         lab/vm/build-image.sh --help
# Run as root (debootstrap, chroot, apt-get for the host packages).
#
# Output (all outside the repo, in $EDGEFLEET_CACHE/vm/, default
# ~/.cache/edgefleet/vm/):
#   debian-12.qcow2          ext4 root filesystem (no partition table, root=/dev/vda)
#   debian-12.vmlinuz        the guest's kernel (linux-image-amd64)
#   debian-12.initrd         the guest's initramfs (virtio_blk/ext4 are modules)
#   debian-12.host_key.pub   the guest's SSH host key (ed25519), to check we
#                            reached our VM and not something else on the port
#   debian-12.recipe         sha256 of the recipe the files above were built from
#   debian-12.env            KEY=VALUE lines describing all of the above; this
#                            is also what the script prints on stdout
#   id_ed25519{,.pub}        the per-machine key that logs in as root (0600);
#                            generated once, baked into the image
#   debs/                    debootstrap's .deb cache (not part of the recipe)
#
# Environment:
#   EDGEFLEET_CACHE             cache root (default ~/.cache/edgefleet)
#   EDGEFLEET_DEBIAN_MIRROR     Debian archive URL (default: the first Debian
#                               archive in the host's apt sources)
#   EDGEFLEET_VM_FORCE=1        rebuild even if the recipe is unchanged
#   TMPDIR                      where the rootfs is assembled (default /var/tmp)
#
# Caching: the image is rebuilt only when the recipe hash changes. The hash
# covers this script, the package list, the mirror, the suite, the disk size
# and the root public key. A cache hit prints the env file and exits in well
# under a second. Builds are serialised with flock (parallel `molecule create`).
set -euo pipefail
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
self="$here/$(basename "${BASH_SOURCE[0]}")"
# shellcheck source=../lib/debian.sh
. "$here/../lib/debian.sh"

SUITE=bookworm
NAME=debian-12
DISK_SIZE=4G          # sparse; ~1 GiB is used, the rest is room for roles
HOSTNAME_=edgefleet-vm
# Kernel command line for direct kernel boot. root=/dev/vda: the disk is a
# bare ext4 filesystem. console=ttyS0: the serial port is the only console
# (QEMU writes it to <instance>/console.log). quiet: printk to a serial port
# under TCG is slow.
APPEND="root=/dev/vda rw console=ttyS0,115200 quiet"

# On top of debootstrap's minbase (Priority: required + apt). Lean on purpose:
# roles install what they need (auditd, ...) from the same mirror.
PACKAGES=(
    linux-image-amd64          # Debian's kernel + modules (+ initramfs-tools)
    systemd systemd-sysv udev  # PID 1, device manager (module autoload, /dev)
    dbus libpam-systemd        # system bus + logind (hostnamectl, timedatectl, shutdown)
    openssh-server             # how Ansible reaches the VM
    sudo                       # become
    python3 python3-apt        # Ansible modules; apt/package_facts need python3-apt
    iproute2                   # `ip`: network facts
    procps                     # sysctl, ps, pgrep
    kmod                       # modprobe, lsmod
    netbase ca-certificates    # /etc/services & co.; HTTPS for roles
    # What os_hardening installs for the areas the vm scenario runs: apt
    # under TCG takes minutes, and the container tier covers the install path.
    nftables auditd
    # What storage_prereqs and storage_disks need (Longhorn, Rook), as an IPC's
    # golden image carries them; multipath-tools too, as on Ubuntu, so the
    # role's multipath handling and `multipath -t` are shown for real.
    open-iscsi nfs-common cryptsetup dmsetup multipath-tools parted lvm2
)

HOST_PACKAGES=(
    qemu-system-x86            # qemu-system-x86_64 (TCG)
    qemu-utils                 # qemu-img (overlays, raw -> qcow2)
    debootstrap debian-archive-keyring
    e2fsprogs                  # mkfs.ext4 -d: filesystem from a directory, no loop mount
    openssh-client             # ssh-keygen, ssh-keyscan, ssh
    ca-certificates util-linux coreutils
)

log() { printf 'vm-image: %s\n' "$*" >&2; }
die() { printf 'vm-image: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,/^set -euo/p' "$self" | sed '$d; s/^# \{0,1\}//' >&2
    exit "${1:-2}"
}

cache_root="${EDGEFLEET_CACHE:-$HOME/.cache/edgefleet}"
vmdir="$cache_root/vm"
envfile="$vmdir/$NAME.env"

# ----------------------------------------------------------------- helpers
ensure_key() {
    local key="$vmdir/id_ed25519"
    if [[ ! -s $key || ! -s $key.pub ]]; then
        rm -f "$key" "$key.pub"
        ssh-keygen -q -t ed25519 -N '' -C "edgefleet-vm@$(hostname)" -f "$key" >/dev/null
        log "generated root login key $key"
    fi
    chmod 0600 "$key"
}

recipe_hash() { # mirror security
    {
        cat "$self" "$here/../lib/debian.sh" | sha256sum
        printf 'suite=%s\npackages=%s\nmirror=%s\nsecurity=%s\nsize=%s\nappend=%s\n' \
            "$SUITE" "${PACKAGES[*]}" "$1" "$2" "$DISK_SIZE" "$APPEND"
        cat "$vmdir/id_ed25519.pub"
    } | sha256sum | cut -d' ' -f1
}

write_env() {
    cat >"$envfile.tmp" <<EOF
EDGEFLEET_VM_IMAGE=$vmdir/$NAME.qcow2
EDGEFLEET_VM_KERNEL=$vmdir/$NAME.vmlinuz
EDGEFLEET_VM_INITRD=$vmdir/$NAME.initrd
EDGEFLEET_VM_APPEND=$APPEND
EDGEFLEET_VM_KEY=$vmdir/id_ed25519
EDGEFLEET_VM_HOST_KEY=$(cut -d' ' -f1,2 "$vmdir/$NAME.host_key.pub")
EDGEFLEET_VM_RECIPE=$(cat "$vmdir/$NAME.recipe")
EOF
    mv "$envfile.tmp" "$envfile"
}

# ----------------------------------------------------------------- rootfs
customize_rootfs() { # root mirror security
    local root=$1 mirror=$2 security=$3

    printf '/dev/vda\t/\text4\trw,errors=remount-ro\t0\t1\n' >"$root/etc/fstab"
    printf '%s\n' "$HOSTNAME_" >"$root/etc/hostname"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
        "$HOSTNAME_" >"$root/etc/hosts"
    # QEMU user networking (slirp): DHCP hands out 10.0.2.15, DNS at 10.0.2.3.
    # Static so that no resolver package is needed.
    printf 'nameserver 10.0.2.3\n' >"$root/etc/resolv.conf"
    # systemd generates a machine-id on first boot (one per VM overlay).
    : >"$root/etc/machine-id"
    rm -f "$root/var/lib/dbus/machine-id"

    # Guest apt: the same mirror the host uses (reachable through slirp's NAT).
    rm -f "$root/etc/apt/sources.list"
    {
        printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' "$mirror" "$SUITE" "$SUITE"
        printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
        if [[ -n $security ]]; then
            printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n' "$security" "$SUITE"
            printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
        fi
    } >"$root/etc/apt/sources.list.d/debian.sources"

    # Network: systemd-networkd, DHCPv4 on whatever Ethernet NIC the guest
    # sees (matched by type, not by name: predictable names depend on the PCI
    # slot QEMU picks).
    cat >"$root/etc/systemd/network/80-edgefleet-ethernet.network" <<'NET'
[Match]
Type=ether

[Network]
DHCP=ipv4
IPv6AcceptRA=no
LinkLocalAddressing=no
NET
    chroot "$root" systemctl enable systemd-networkd.service ssh.service >/dev/null 2>&1 \
        || die "systemctl enable failed in the chroot"
    # Boot time under TCG: no periodic jobs competing with the test run.
    local u
    for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
        fstrim.timer man-db.timer; do
        ln -sf /dev/null "$root/etc/systemd/system/$u"
    done

    # Root: no password at all (locked); SSH with the per-machine key only.
    chroot "$root" passwd -q -l root >/dev/null
    install -d -m 0700 "$root/root/.ssh"
    install -m 0600 "$vmdir/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
    cat >"$root/etc/ssh/sshd_config.d/10-edgefleet-vm.conf" <<'SSHD'
# edgefleet VM-tier image: key-only root login.
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
SSHD
    # Host keys were generated by openssh-server's postinst during this build
    # (so they are per machine and per build, shared by the VMs booted from
    # this image). Keep the ed25519 public key for the create playbook's
    # "is this our VM?" check.
    [[ -s $root/etc/ssh/ssh_host_ed25519_key.pub ]] || die "no SSH host key in the rootfs"

    # Kernel modules: nothing a TCG guest can use for KVM or a PC speaker.
    cat >"$root/etc/modprobe.d/edgefleet-vm.conf" <<'MODS'
# edgefleet VM-tier image: modules that only cost boot time under TCG.
blacklist kvm_amd
blacklist kvm_intel
blacklist pcspkr
MODS

    # Small initramfs (the default MODULES=most one is ~36 MB that the kernel
    # decompresses on every boot under TCG): only what finds and mounts
    # root=/dev/vda. No resume device to wait for.
    cat >"$root/etc/initramfs-tools/conf.d/edgefleet-vm.conf" <<'INITRD'
MODULES=list
RESUME=none
INITRD
    printf '%s\n' virtio_pci virtio_blk ext4 crc32c_generic >>"$root/etc/initramfs-tools/modules"
    mount -t proc proc "$root/proc"
    chroot "$root" update-initramfs -u -k all >/dev/null 2>&1 || { umount "$root/proc"; die "update-initramfs failed"; }
    umount "$root/proc"

    chroot "$root" apt-get clean
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/tmp/* "$root"/var/tmp/* \
        "$root"/var/log/apt/* "$root"/var/log/*.log
    mkdir -p "$root/var/lib/apt/lists/partial"
}

build() { # mirror security hash
    local mirror=$1 security=$2 hash=$3 work t0=$SECONDS
    log "$NAME: building $SUITE from $mirror (recipe ${hash:0:12})"
    mkdir -p "${TMPDIR:-/var/tmp}"
    work=$(mktemp -d "${TMPDIR:-/var/tmp}/edgefleet-vm.XXXXXX")
    # shellcheck disable=SC2064
    trap "cleanup_dir '$work'" EXIT
    mkdir -p "$vmdir/debs"

    if ! debootstrap --variant=minbase --components=main --merged-usr \
        --cache-dir="$(cd "$vmdir/debs" && pwd)" \
        "--include=$(IFS=,; echo "${PACKAGES[*]}")" \
        "$SUITE" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1; then
        umount_below "$work/root"
        tail -n 25 "$work/debootstrap.log" >&2
        [[ -f $work/root/debootstrap/debootstrap.log ]] && tail -n 25 "$work/root/debootstrap/debootstrap.log" >&2
        die "debootstrap $SUITE failed (log above; mirror $mirror)"
    fi
    umount_below "$work/root"
    log "$NAME: debootstrap done after $((SECONDS - t0))s"
    customize_rootfs "$work/root" "$mirror" "$security"

    local kernels=("$work"/root/boot/vmlinuz-*) initrds=("$work"/root/boot/initrd.img-*)
    [[ ${#kernels[@]} == 1 && -f ${kernels[0]} ]] || die "expected one kernel in /boot, found: ${kernels[*]}"
    [[ ${#initrds[@]} == 1 && -f ${initrds[0]} ]] || die "expected one initrd in /boot, found: ${initrds[*]}"
    mkdir -p "$work/out"
    cp "${kernels[0]}" "$work/out/$NAME.vmlinuz"
    cp "${initrds[0]}" "$work/out/$NAME.initrd"
    cp "$work/root/etc/ssh/ssh_host_ed25519_key.pub" "$work/out/$NAME.host_key.pub"

    # A bare ext4 filesystem filled from the directory: no partitions, no
    # loop devices, no mounts.
    truncate -s "$DISK_SIZE" "$work/root.raw"
    mkfs.ext4 -q -F -L edgefleet-root -d "$work/root" "$work/root.raw" \
        || die "mkfs.ext4 -d failed"
    rm -rf --one-file-system "$work/root"
    qemu-img convert -f raw -O qcow2 "$work/root.raw" "$work/out/$NAME.qcow2" \
        || die "qemu-img convert failed"
    rm -f "$work/root.raw"

    # Publish: the recipe file goes last, so an interrupted build is redone.
    rm -f "$vmdir/$NAME.recipe"
    local f
    for f in qcow2 vmlinuz initrd host_key.pub; do
        mv -f "$work/out/$NAME.$f" "$vmdir/$NAME.$f"
    done
    printf '%s\n' "$hash" >"$vmdir/$NAME.recipe"
    cleanup_dir "$work"
    trap - EXIT
    log "$NAME: built in $((SECONDS - t0))s ($(du -h "$vmdir/$NAME.qcow2" | cut -f1) qcow2," \
        "kernel $(basename "${kernels[0]}" | sed 's/^vmlinuz-//'))"
}

main() {
    local print_only=0
    case ${1:-} in
        "") ;;
        --print) print_only=1 ;;
        -h | --help) usage 0 ;;
        *) printf 'vm-image: unknown argument: %s\n' "$1" >&2; usage 2 ;;
    esac
    if ((print_only)); then
        [[ -s $envfile ]] || die "$envfile missing: run $self first"
        cat "$envfile"
        return
    fi
    [[ $(id -u) == 0 ]] || die "must run as root (debootstrap, chroot, apt-get)"

    ensure_host_packages "${HOST_PACKAGES[@]}"
    mkdir -p "$vmdir"
    exec 9>"$vmdir/.lock"
    flock 9

    local mirror security hash
    mirror=$(find_mirror)
    security=$(find_security_mirror)
    ensure_key
    hash=$(recipe_hash "$mirror" "$security")
    if [[ ${EDGEFLEET_VM_FORCE:-0} == 1 || ! -s $vmdir/$NAME.recipe ||
        $(cat "$vmdir/$NAME.recipe") != "$hash" ]]; then
        build "$mirror" "$security" "$hash"
    fi
    local f
    for f in qcow2 vmlinuz initrd host_key.pub; do
        [[ -s $vmdir/$NAME.$f ]] || die "$vmdir/$NAME.$f missing (rerun with EDGEFLEET_VM_FORCE=1)"
    done
    write_env
    cat "$envfile"
}

# `; exit` on the same line: an edit to this file while it runs can never make
# bash execute stray text after main.
main "$@"; exit
