#!/bin/sh
# What a storage node shows once its engine is set up, read only, as KEY=VALUE
# lines for edgefleet.platform's storage_node_health filter (the storage stage
# judges them there): the container it may be, the kernel modules loaded,
# and for Longhorn iscsid, the initiator name, where the data path lives and
# multipath's effective exclusion of Longhorn's volumes.
# Usage: storage_probe.sh ENGINE DATA_PATH [DISK]   (DISK: the dedicated disk's by-id name)
set -u
engine=$1
data_path=$2
disk=${3:-}

echo "virt=$(systemd-detect-virt --container 2>/dev/null || true)"
# /sys/module lists loaded modules and built-in ones alike
printf 'modules='
for module in iscsi_tcp dm_crypt rbd; do
    [ -d "/sys/module/$module" ] && printf '%s ' "$module"
done
echo

[ "$engine" = longhorn ] || exit 0

echo "iscsid=$(systemctl is-active iscsid.service 2>/dev/null || true)"
echo "iscsid_enabled=$(systemctl is-enabled iscsid.service 2>/dev/null || true)"
echo "initiator=$(sed -n 's/^InitiatorName=//p' /etc/iscsi/initiatorname.iscsi 2>/dev/null | head -n 1)"

# the filesystem holding the data path (Longhorn makes the folder when it runs)
path=$data_path
while [ ! -e "$path" ] && [ "$path" != / ]; do
    path=$(dirname "$path")
done
echo "data_mount_target=$(findmnt -n -o TARGET --target "$path" 2>/dev/null | head -n 1)"
echo "data_mount_source=$(findmnt -n -o SOURCE --target "$path" 2>/dev/null | head -n 1)"
[ -n "$disk" ] && echo "data_disk=$(readlink -f "$disk-part1")"

if [ -x /sbin/multipath ]; then
    echo "multipath=installed"
    echo "multipathd=$(systemctl is-active multipathd.service 2>/dev/null || true)"
    echo "multipath_maps=$(/sbin/multipath -l -v1 2>/dev/null | grep -c .)"
    # the devices of the effective blacklist, vendor|product
    /sbin/multipath -t 2>/dev/null | awk '
        /^blacklist [{]/ { inside = 1; next }
        inside && /^[}]/ { inside = 0 }
        inside && /^[ \t]+device [{]/ { device = 1; vendor = ""; product = ""; next }
        inside && device && /^[ \t]+vendor / { vendor = $0; sub(/^[ \t]+vendor[ \t]+/, "", vendor) }
        inside && device && /^[ \t]+product / { product = $0; sub(/^[ \t]+product[ \t]+/, "", product) }
        inside && device && /^[ \t]+[}]/ { gsub(/"/, "", vendor); gsub(/"/, "", product)
            print "blacklist_device=" vendor "|" product; device = 0 }'
else
    echo "multipath=absent"
fi
