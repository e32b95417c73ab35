#!/usr/bin/env bash
# Build the edgefleet.platform deployer boot image from Debian packages: Debian's kernel
# (linux-image-amd64) and an initramfs holding busybox (busybox-static), the drivers of
# common IPC disks and NICs, and the deployer (init, edgefleet-deploy). The image server
# serves the result (image_server_deployer_src); per-MAC iPXE scripts boot it.
#
# Usage:  build.sh OUTDIR      writes OUTDIR/vmlinuz, OUTDIR/initrd.img, OUTDIR/recipe
# Run as root on Debian 12 (apt-get download from the machine's apt sources; cpio and
# kmod are installed if missing). Reproducible: the same package versions and files give
# the same bytes (sorted archive, fixed times and owners). OUTDIR is left alone when its
# recipe (this folder's files and the package versions) is unchanged.
set -euo pipefail
export LC_ALL=C.UTF-8
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out=${1:?usage: build.sh OUTDIR}
# Drivers: virtio (VMs; virtio_pci first, the bus itself), SATA/AHCI, NVMe, the usual Intel and Realtek NICs; ext4 to finish
# the written system. Their dependencies come along (modules.dep).
MODULES=(virtio_pci virtio_net virtio_blk virtio_scsi sd_mod ahci nvme e1000 e1000e igb igc r8169 ext4 crc32c_generic)
log() { printf 'deployer: %s\n' "$*" >&2; }
die() { printf 'deployer: error: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root (apt-get download, file owners in the archive)"
for tool in cpio depmod; do
    command -v "$tool" >/dev/null || apt-get install -y -qq --no-install-recommends cpio kmod >/dev/null \
        || die "cannot install cpio and kmod"
done
kernel_pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[[ -n $kernel_pkg ]] || { apt-get update -qq; kernel_pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'); }
[[ -n $kernel_pkg ]] || die "apt knows no linux-image-amd64 (apt sources?)"
packages=("$kernel_pkg" busybox-static)
versions=$(for p in "${packages[@]}"; do printf '%s=%s\n' "$p" "$(apt-cache policy "$p" | awk '/Candidate:/ {print $2}')"; done)
recipe=$( { cat "$here/build.sh" "$here/init" "$here/udhcpc.script" "$here/edgefleet-deploy"; \
           printf '%s\n' "$versions" "${MODULES[*]}"; } | sha256sum | cut -d' ' -f1)
if [[ -s $out/recipe && $(cat "$out/recipe") == "$recipe" && -s $out/vmlinuz && -s $out/initrd.img ]]; then
    log "up to date in $out (recipe ${recipe:0:12})"
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/var/tmp}/edgefleet-deployer.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
mkdir -p "$work/debs" "$work/pkg" "$work/root"
log "building from $(echo "$versions" | paste -sd' ' -)"
mapfile -t pinned <<<"$versions"
(cd "$work/debs" && apt-get download -qq "${pinned[@]}") >/dev/null 2>&1 \
    || die "apt-get download failed for: $(echo "$versions" | paste -sd' ' -)"
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/pkg"; done
kver=$(basename "$(ls -d "$work"/pkg/lib/modules/*)")
root=$work/root

# busybox and its applets
mkdir -p "$root"/{bin,sbin,etc/edgefleet,proc,sys,dev,tmp,run,target,lib/modules}
install -m 0755 "$work/pkg/bin/busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
    [[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
done
install -m 0755 "$here/init" "$root/init"
install -m 0755 "$here/edgefleet-deploy" "$root/bin/edgefleet-deploy"
install -m 0755 "$here/udhcpc.script" "$root/etc/edgefleet/udhcpc.script"

# the drivers, in load order (each module's dependencies first)
depmod -b "$work/pkg" "$kver"
moddep=$work/pkg/lib/modules/$kver/modules.dep
declare -A seen=()
order=()
add_module() { # path relative to lib/modules/<kver>
    [[ -n ${seen[$1]:-} ]] && return
    seen[$1]=1
    local dep
    local deps
    read -r -a deps <<<"$(awk -F': *' -v m="$1" '$1 == m {print $2}' "$moddep")"
    for dep in "${deps[@]}"; do add_module "$dep"; done
    order+=("$1")
}
for name in "${MODULES[@]}"; do
    path=$(awk -F: -v n="/$name.ko" 'index($1, n) && substr($1, length($1) - length(n) + 1) == n {print $1; exit}' "$moddep")
    [[ -n $path ]] || die "$kernel_pkg has no module $name"
    add_module "$path"
done
for path in "${order[@]}"; do
    install -D -m 0644 "$work/pkg/lib/modules/$kver/$path" "$root/lib/modules/$path"
done
printf '%s\n' "${order[@]}" > "$root/etc/edgefleet/modules"

# a reproducible archive: sorted names, fixed times, root-owned
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -mindepth 1 | sort | cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -n -9 > "$work/initrd.img"
mkdir -p "$out"
rm -f "$out/recipe"
install -m 0644 "$work/pkg/boot/vmlinuz-$kver" "$out/vmlinuz"
install -m 0644 "$work/initrd.img" "$out/initrd.img"
printf '%s\n' "$recipe" > "$out/recipe"
log "built $out: kernel $kver, initrd $(du -h "$out/initrd.img" | cut -f1) (${#order[@]} modules)"
