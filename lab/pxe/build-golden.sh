#!/usr/bin/env bash
# Build the lab's golden image: the VM tier's debootstrap Debian 12 (lab/vm/build-image.sh)
# made into a generic, bootable whole-disk image that the deployer streams onto an IPC's
# disk: an MBR partition table, the root file system (ext4, label edgefleet-root) and GRUB
# for BIOS machines. Generic: no SSH host keys (made at first boot), no login key, no
# hostname, no lab resolver; what is per device comes from the deployer's finish.sh.
# It carries what the phone-home client needs (wget).
#
# Usage:  lab/pxe/build-golden.sh     build if needed; prints the image's path
# Output in ${EDGEFLEET_CACHE:-~/.cache/edgefleet}/pxe/images/: debian-12-golden.img and
# SHA256SUMS. Rebuilt when this script or the VM image's recipe changes. Run as root.
set -euo pipefail
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NAME=debian-12-golden.img
HEADROOM_MB=128         # free space left in the root file system
log() { printf 'golden: %s\n' "$*" >&2; }
die() { printf 'golden: error: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "run as root (loop mount, chroot)"
bash "$here/../../hack/apt-install.sh" grub-pc-bin e2fsprogs fdisk qemu-utils || die "host packages"

vm_env=$("$here/../vm/build-image.sh")
vm_image=$(sed -n 's/^EDGEFLEET_VM_IMAGE=//p' <<<"$vm_env")
out="${EDGEFLEET_CACHE:-$HOME/.cache/edgefleet}/pxe/images"
recipe=$( { sha256sum < "$0"; sed -n 's/^EDGEFLEET_VM_RECIPE=//p' <<<"$vm_env"; } | sha256sum | cut -d' ' -f1)
if [[ -s $out/recipe && $(cat "$out/recipe") == "$recipe" && -s $out/$NAME ]]; then
    echo "$out/$NAME"
    exit 0
fi
t0=$SECONDS
work=$(mktemp -d "${TMPDIR:-/var/tmp}/edgefleet-golden.XXXXXX")
mnt=$work/mnt
cleanup() {
    for m in "$mnt/dev" "$mnt/proc" "$mnt"; do mountpoint -q "$m" && umount "$m"; done
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
mkdir -p "$mnt" "$out"

# 1. the root file system, edited in place (a loop mount of the bare ext4 image)
qemu-img convert -O raw "$vm_image" "$work/root.ext4"
mount -o loop "$work/root.ext4" "$mnt"
mount -t proc proc "$mnt/proc"
mount --bind /dev "$mnt/dev"
cp /etc/resolv.conf "$mnt/etc/resolv.conf"
chroot "$mnt" apt-get update -qq >/dev/null
chroot "$mnt" apt-get install -y -qq --no-install-recommends wget >/dev/null || die "apt-get install wget in the image failed"
chroot "$mnt" apt-get clean
rm -rf "$mnt"/var/lib/apt/lists/* && mkdir -p "$mnt/var/lib/apt/lists/partial"
: > "$mnt/etc/resolv.conf"
printf 'LABEL=edgefleet-root\t/\text4\trw,errors=remount-ro\t0\t1\n' > "$mnt/etc/fstab"
printf 'localhost\n' > "$mnt/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$mnt/etc/hosts"
rm -f "$mnt"/etc/ssh/ssh_host_* "$mnt/root/.ssh/authorized_keys" "$mnt/etc/ssh/sshd_config.d/10-edgefleet-vm.conf"
cat > "$mnt/etc/systemd/system/edgefleet-ssh-host-keys.service" <<'UNIT'
[Unit]
Description=edgefleet.platform: this machine's own SSH host keys (the golden image has none)
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
Before=ssh.service

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/edgefleet-ssh-host-keys.service "$mnt/etc/systemd/system/multi-user.target.wants/"
# GRUB's modules, and a menu that boots Debian's kernel through its /vmlinuz link (kept by kernel updates)
mkdir -p "$mnt/boot/grub/i386-pc"
cp /usr/lib/grub/i386-pc/*.mod /usr/lib/grub/i386-pc/*.lst "$mnt/boot/grub/i386-pc/"
[[ -e $mnt/vmlinuz && -e $mnt/initrd.img ]] || die "the VM image has no /vmlinuz and /initrd.img links"
cat > "$mnt/boot/grub/grub.cfg" <<'CFG'
set timeout=1
menuentry "Debian GNU/Linux (edgefleet golden image)" {
  search --no-floppy --label --set=root edgefleet-root
  linux /vmlinuz root=LABEL=edgefleet-root ro console=tty0 console=ttyS0,115200 quiet
  initrd /initrd.img
}
CFG
umount "$mnt/dev" "$mnt/proc" "$mnt"
e2fsck -fy "$work/root.ext4" >/dev/null 2>&1 || true
e2fsck -fn "$work/root.ext4" >/dev/null || die "the root file system does not check clean"
resize2fs -M "$work/root.ext4" >/dev/null 2>&1
blocks=$(dumpe2fs -h "$work/root.ext4" 2>/dev/null | awk -F': *' '/^Block count/ {print $2}')
bsize=$(dumpe2fs -h "$work/root.ext4" 2>/dev/null | awk -F': *' '/^Block size/ {print $2}')
fs_mb=$(( (blocks * bsize / 1048576) + HEADROOM_MB ))
resize2fs "$work/root.ext4" "${fs_mb}M" >/dev/null 2>&1

# 2. the disk: MBR, one bootable partition at 1 MiB, GRUB's core image in the gap before it
truncate -s $(( (fs_mb + 1) * 1048576 )) "$work/disk.img"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$work/disk.img"
dd if="$work/root.ext4" of="$work/disk.img" bs=1M seek=1 conv=notrunc,sparse status=none
grub-mkimage -O i386-pc -o "$work/core.img" -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ext2 search search_label
core_sectors=$(( ($(stat -c %s "$work/core.img") + 511) / 512 ))
(( core_sectors < 2047 )) || die "GRUB's core image does not fit before the partition"
# what grub-bios-setup does for an embedded core image: boot.img's code into the MBR (the
# partition table and disk signature stay), the BIOS drive check off (a hard disk), and the
# core image's first sector told where the rest is (sector 2, core_sectors - 1 sectors)
dd if=/usr/lib/grub/i386-pc/boot.img of="$work/disk.img" bs=440 count=1 conv=notrunc status=none
printf '\x90\x90' | dd of="$work/disk.img" bs=1 seek=$((0x66)) conv=notrunc status=none
dd if="$work/core.img" of="$work/disk.img" bs=512 seek=1 conv=notrunc status=none
# shellcheck disable=SC2059  # the format is the two bytes, built just above
printf "$(printf '\\x%02x\\x%02x' $(( (core_sectors - 1) & 255 )) $(( (core_sectors - 1) >> 8 )))" \
    | dd of="$work/disk.img" bs=1 seek=$((512 + 500 + 8)) conv=notrunc status=none

rm -f "$out/recipe"
mv -f "$work/disk.img" "$out/$NAME"
(cd "$out" && sha256sum "$NAME" > SHA256SUMS)
printf '%s\n' "$recipe" > "$out/recipe"
log "built $out/$NAME in $((SECONDS - t0)) s ($(( fs_mb + 1 )) MiB, $(du -h "$out/$NAME" | cut -f1) used)"
echo "$out/$NAME"
