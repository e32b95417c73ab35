#!/bin/sh
# What Longhorn does on a node, done by hand: log in over iSCSI to a target on the
# node itself and see the volume appear. The target is the kernel's own (LIO,
# configured through configfs: no target package needed), with a RAM-backed LUN
# that reports vendor IET, product VIRTUAL-DISK, as Longhorn's volumes do. The
# login goes through iscsid (iscsiadm only asks it) and the iscsi_tcp module;
# multipath's effective configuration is then asked about the real device.
# Prints KEY: VALUE lines; removes the session, the records and the target again.
# Needs a node with its own kernel (not a container) and open-iscsi, multipath-tools.
set -u
iqn=iqn.2024-01.io.edgefleet.check:longhorn-loopback
portal=127.0.0.1:3260
cfg=/sys/kernel/config/target
lun=$cfg/core/rd_mcp_900/lhcheck
tpg=$cfg/iscsi/$iqn/tpgt_1

cleanup() {
    iscsiadm -m node -T "$iqn" -p "$portal" --logout >/dev/null 2>&1
    iscsiadm -m node -T "$iqn" -p "$portal" -o delete >/dev/null 2>&1
    iscsiadm -m discoverydb -t sendtargets -p "$portal" -o delete >/dev/null 2>&1
    [ -d "$tpg" ] || return 0
    echo 0 >"$tpg/enable" 2>/dev/null
    rm -f "$tpg/lun/lun_0/lhcheck"
    rmdir "$tpg/lun/lun_0" "$tpg/np/$portal" "$tpg" "$cfg/iscsi/$iqn" "$lun" "$cfg/core/rd_mcp_900" 2>/dev/null
    return 0
}
trap cleanup EXIT

modprobe iscsi_target_mod || { echo "target: no iscsi_target_mod"; exit 1; }
mkdir -p "$lun"
echo rd_pages=2048 >"$lun/control"
echo IET >"$lun/wwn/vendor_id"
echo VIRTUAL-DISK >"$lun/wwn/product_id"
echo 1 >"$lun/enable"
mkdir -p "$tpg/np/$portal" "$tpg/lun/lun_0"
ln -s "$lun" "$tpg/lun/lun_0/lhcheck"
# no ACLs, no CHAP: any initiator on the node, read-write
echo 1 >"$tpg/attrib/generate_node_acls"
echo 0 >"$tpg/attrib/demo_mode_write_protect"
echo 0 >"$tpg/attrib/authentication"
echo 1 >"$tpg/enable"
echo "target: $(cat "$tpg/enable")"

echo "discovery: $(iscsiadm -m discovery -t sendtargets -p "$portal" 2>&1 | tr '\n' ' ')"
echo "login: $(iscsiadm -m node -T "$iqn" -p "$portal" --login >/dev/null 2>&1 && echo ok || echo "failed rc=$?")"
udevadm settle -t 30
# the initiator name the target saw: the one of /etc/iscsi/initiatorname.iscsi
echo "initiator: $(head -n 1 "$tpg/dynamic_sessions" 2>/dev/null)"
dev=$(lsblk -d -n -o NAME,TRAN,VENDOR,MODEL | awk '$2 == "iscsi" && $3 == "IET" && $4 == "VIRTUAL-DISK" {print $1; exit}')
echo "volume: ${dev:+IET VIRTUAL-DISK over iscsi}"
if [ -n "$dev" ]; then
    # dry run (-d) at verbosity 3: how multipath classifies the path
    echo "multipath: $(multipath -d -v3 "/dev/$dev" 2>&1 | grep -o "$dev: (IET:VIRTUAL-DISK) vendor/product blacklisted" | head -n 1)"
fi
echo "logout: $(iscsiadm -m node -T "$iqn" -p "$portal" --logout >/dev/null 2>&1 && echo ok || echo "failed rc=$?")"
