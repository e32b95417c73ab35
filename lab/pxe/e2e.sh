#!/usr/bin/env bash
# End-to-end network boot in QEMU (TCG), on a private network this script creates and
# removes: an IPC with a blank disk powers on and ends `os_installed` in the ZTP database.
#
#   netns edgefleet-pxe ─ bridge br0 10.77.0.1/24 ── the site's DHCP server (a plain dnsmasq, addresses only)
#                           ├─ tap0 ── QEMU: the IPC (SeaBIOS, QEMU's iPXE ROM, blank 10 GB virtio disk)
#                           ├─ tap1 ── QEMU: an unknown machine (a MAC not in the ZTP database; UEFI, OVMF)
#                           └─ veth ── pxe0 10.77.0.2 in the boot host container (Debian 12, systemd):
#                                      image_server + pxe_server roles (dnsmasq proxy-DHCP + TFTP,
#                                      the boot server, nginx with the golden image and the deployer)
#
# The IPC boots through proxy-DHCP, gets its per-MAC script and the deployer, which writes
# the golden image on the disk the ZTP record's rule names; it reboots from its disk (the
# boot server sends it there once its token is out), phones home; then the database says
# os_installed, netboot off, and a reset boots the disk again. The unknown machine is
# recorded unassigned. Nothing outside the namespace, the container and the work folder is
# touched (the container keeps podman's default network for its packages).
#
# Usage:  lab/pxe/e2e.sh            (as root; heavy: run it under flock /tmp/edgefleet-heavy.lock)
# Environment: EDGEFLEET_PXE_KEEP=1 keeps the work folder (consoles, logs) after a pass;
#   EDGEFLEET_PXE_TIMEOUT (seconds for the install to phone home, default 1500: 578 s measured under load).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NS=edgefleet-pxe
CT=edgefleet-pxe-boot
IMAGE=localhost/edgefleet/debian:12
MAC=52:54:00:77:00:01
SERIAL=SN-PXE-0001
UNKNOWN_MAC=52:54:00:77:00:99  # boots with UEFI
TIMEOUT=${EDGEFLEET_PXE_TIMEOUT:-1500}
cache="${EDGEFLEET_CACHE:-$HOME/.cache/edgefleet}/pxe"
# the project's podman configuration (runc, cgroupfs, netavark: lab/containers.conf)
export CONTAINERS_CONF="$root/lab/containers.conf"
t0=$SECONDS
log() { printf 'pxe-e2e: [%4ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
die() { printf 'pxe-e2e: FAILED: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root (network namespace, tap devices, podman)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing (lab/vm/build-image.sh installs it)"
bash "$root/hack/apt-install.sh" dnsmasq-base ovmf >/dev/null || die "cannot install dnsmasq-base (the site's DHCP server) and ovmf (UEFI firmware)"
OVMF=/usr/share/ovmf/OVMF.fd

work=$(mktemp -d "${TMPDIR:-/var/tmp}/edgefleet-pxe.XXXXXX")
cleanup() {
    local rc=$?
    for pid in "$work"/*.pid; do
        if [[ -s $pid ]]; then kill "$(cat "$pid")" 2>/dev/null || true; fi
    done
    podman rm -f -t 2 "$CT" >/dev/null 2>&1 || true
    ip netns del "$NS" 2>/dev/null || true
    if ((rc != 0)); then
        log "consoles and logs kept in $work"
        [[ -s $work/ipc.console ]] && { echo "--- IPC console (last 40 lines) ---"; tail -n 40 "$work/ipc.console"; } >&2
    elif [[ ${EDGEFLEET_PXE_KEEP:-0} == 1 ]]; then
        log "kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# 1. what the boot host serves: the deployer (from Debian packages) and the golden image
bash "$root/roles/pxe_server/files/deployer/build.sh" "$cache/deployer"
golden=$(bash "$root/lab/pxe/build-golden.sh")
golden_sha=$(awk '{print $1}' "$(dirname "$golden")/SHA256SUMS")
log "deployer and golden image ready"

# 2. the private network
podman rm -f -t 2 "$CT" >/dev/null 2>&1 || true
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add br0 type bridge
ip -n "$NS" addr add 10.77.0.1/24 dev br0
ip -n "$NS" link set br0 up
for tap in tap0 tap1; do
    ip -n "$NS" tuntap add "$tap" mode tap
    ip -n "$NS" link set "$tap" master br0 up
done
ip netns exec "$NS" dnsmasq --conf-file=/dev/null --port=0 --interface=br0 --bind-interfaces \
    --dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0,1h --dhcp-option=option:router,10.77.0.1 \
    --dhcp-leasefile="$work/dhcp.leases" --pid-file="$work/dhcp.pid" --log-dhcp --log-facility="$work/dhcp.log"

# 3. the boot host: a container with its own default network (packages) and pxe0 on ours
podman run -d --name "$CT" --systemd=always --cap-add NET_ADMIN,NET_RAW "$IMAGE" /sbin/init >/dev/null
ct_pid=$(podman inspect -f '{{.State.Pid}}' "$CT")
ip link add efpxe-br type veth peer name efpxe-ct
ip link set efpxe-br netns "$NS"
ip -n "$NS" link set efpxe-br master br0 up
ip link set efpxe-ct netns "/proc/$ct_pid/ns/net"
nsenter -t "$ct_pid" -n ip link set efpxe-ct name pxe0
nsenter -t "$ct_pid" -n ip addr add 10.77.0.2/24 dev pxe0
nsenter -t "$ct_pid" -n ip link set pxe0 up
ssh-keygen -q -t ed25519 -N '' -C controller@pxe-e2e -f "$work/controller" >/dev/null
bash "$root/hack/venv.sh" >/dev/null
# the collection tree: the Makefile's (made before make test's background started: rebuilding
# it under a running Molecule scenario would pull its files away), else one made here
if [[ -z ${ANSIBLE_COLLECTIONS_PATH:-} ]]; then eval "$(bash "$root/hack/collection-tree.sh" 2>/dev/null)"; fi
printf '[boot]\n%s ansible_connection=containers.podman.podman ansible_python_interpreter=/usr/bin/python3\n' "$CT" > "$work/inventory"
log "network and container up; running the roles"
ANSIBLE_HOME="$work/ansible-home" ANSIBLE_NOCOLOR=1 "$root/.venv/bin/ansible-playbook" -i "$work/inventory" \
    "$root/lab/pxe/boot-host.yml" -e "e2e_image=$golden e2e_image_sha256=$golden_sha e2e_deployer=$cache/deployer" \
    -e "e2e_mac=$MAC e2e_serial=$SERIAL" -e "e2e_ssh_key='$(cat "$work/controller.pub")'" > "$work/boot-host.log" 2>&1 \
    || { tail -n 30 "$work/boot-host.log" >&2; die "the roles failed on the boot host (log above)"; }
log "boot host converged"

ztp() { # python statements with `store` (ZtpStore) and `boot` (BootStore) on the boot host's database
    podman exec -i "$CT" env PYTHONPATH=/opt/edgefleet-boot python3 - <<PY
from ansible_collections.edgefleet.platform.plugins.module_utils.ztp_db import ZtpStore
from ansible_collections.edgefleet.platform.plugins.module_utils.boot_store import BootStore
with ZtpStore("sqlite:////var/lib/edgefleet-boot/ztp.db") as store:
    boot = BootStore(store)
$1
PY
}
vm() { # name tap mac disk(or "") [extra qemu args]
    local name=$1 tap=$2 mac=$3 disk=$4
    shift 4
    local drive=()
    # shellcheck disable=SC2054  # QEMU's option syntax
    [[ -n $disk ]] && drive=(-drive "file=$disk,if=none,id=d0,format=qcow2,cache=unsafe" -device virtio-blk-pci,drive=d0,bootindex=2)
    # one vCPU: on a loaded 2-core host, two TCG vCPU threads starved each other and the
    # deployer's reboot hung in soft lockups (seen once with make test running alongside)
    ip netns exec "$NS" qemu-system-x86_64 -name "edgefleet-$name" -accel tcg -machine pc -cpu qemu64,-svm \
        -m 1536 -smp 1 -nodefaults -display none -serial "file:$work/$name.console" \
        -monitor "unix:$work/$name.monitor,server,nowait" -daemonize -pidfile "$work/$name.pid" \
        -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" -device "virtio-net-pci,netdev=n0,mac=$mac,bootindex=1" \
        -device virtio-rng-pci "${drive[@]}" "$@"
}
wait_for() { # seconds description command...
    local limit=$1 what=$2 start=$SECONDS
    shift 2
    until "$@"; do
        ((SECONDS - start < limit)) || die "no $what after ${limit}s"
        if grep -q 'edgefleet-deploy: stopped' "$work/ipc.console" 2>/dev/null; then
            die "the deployer stopped: $(grep 'edgefleet-deploy:' "$work/ipc.console" | tail -n 3)"
        fi
        sleep 5
    done
    log "$what after $((SECONDS - start))s"
}

# 4. an unknown machine, with UEFI firmware (OVMF; the NIC's iPXE for EFI): the UEFI path of
#    proxy-DHCP and iPXE; discovered, it waits unassigned, recorded as an EFI machine
vm unknown tap1 "$UNKNOWN_MAC" "" -bios "$OVMF"
unknown_seen() { ztp "    print(boot.machine('$UNKNOWN_MAC'))" | grep -q "'status': 'unassigned'"; }
wait_for 300 "the unknown (UEFI) machine recorded unassigned" unknown_seen
ztp "    print(boot.machine('$UNKNOWN_MAC'))" | grep -q "'platform': 'efi'" \
    || die "the unknown machine booted with UEFI is not recorded as platform efi: $(ztp "    print(boot.machine('$UNKNOWN_MAC'))")"
kill "$(cat "$work/unknown.pid")" && rm -f "$work/unknown.pid"

# 5. the IPC: blank disk, network first
qemu-img create -q -f qcow2 "$work/ipc.qcow2" 10G
vm ipc tap0 "$MAC" "$work/ipc.qcow2"
state() { ztp "    d = store.devices(serial=['$SERIAL'])[0]; print(d['state'], d['hostname'], boot.netboot('$SERIAL'))"; }
installed() { [[ $(state) == "os_installed "*" False" ]]; }
wait_for "$TIMEOUT" "phone-home: os_installed" installed
read -r st hostname netboot <<<"$(state)"
log "ZTP: $SERIAL is $st, hostname $hostname, netboot $netboot"
grep -q "edgefleet-deploy: installing on /dev/vda" "$work/ipc.console" || die "the deployer did not say it installed on /dev/vda"
grep -q "$hostname login:" "$work/ipc.console" || die "the installed system does not show the record's hostname $hostname"
podman exec "$CT" journalctl -u edgefleet-boot --no-pager > "$work/boot-server.log"
grep -q "phone-home of $SERIAL" "$work/boot-server.log" || die "the boot server did not log the phone-home"
grep -q "$MAC 10.77.0.1[0-9][0-9] $hostname " "$work/dhcp.leases" || die "the installed IPC ($hostname) did not take its address from the site's DHCP server"
podman exec "$CT" journalctl -u dnsmasq --no-pager | grep -qi "proxy.*$MAC\|$MAC.*proxy\|PXE.*$MAC\|$MAC.*PXE" \
    || log "warning: the proxy-DHCP log does not name $MAC"

# 6. the next power-on boots the disk
logins=$(grep -c "$hostname login:" "$work/ipc.console")
scripts=$(grep -c "boot script for $MAC" "$work/boot-server.log" || true)
python3 -c '
import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.recv(4096); s.sendall(b"system_reset\n"); s.recv(4096)' "$work/ipc.monitor"
rebooted() { (( $(grep -c "$hostname login:" "$work/ipc.console") > logins )); }
wait_for 900 "the second boot from the local disk" rebooted
podman exec "$CT" journalctl -u edgefleet-boot --no-pager > "$work/boot-server.log"
grep "boot script for $MAC" "$work/boot-server.log" | tail -n +$((scripts + 1)) | grep -q ": local" \
    || die "the second boot was not sent to its local disk"

# 7. the installed IPC as the configure stage will meet it: SSH with the controller's key (set
#    by the deployer), as the admin user the record's install made; the spent token gone from
#    its disk (also after the reset right after the phone-home); the phone-home not run again
ip=$(awk -v m="$MAC" -v h="$hostname" '$2 == m && $4 == h {a = $3} END {print a}' "$work/dhcp.leases")
gssh() {
    ip netns exec "$NS" ssh -i "$work/controller" -o BatchMode=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "edgefleet@$ip" "$@"
}
wait_for 180 "SSH to the installed IPC ($ip) with the controller's key" gssh true
[[ $(gssh hostname) == "$hostname" ]] || die "the installed IPC says its hostname is $(gssh hostname), not $hostname"
gssh sudo -n test ! -e /etc/edgefleet/phone-home.env || die "the spent token file is still on the IPC"
unit=$(gssh systemctl show -p Result,ConditionResult edgefleet-phone-home.service | sort | paste -sd' ')
[[ $unit == "ConditionResult=no Result=success" ]] || die "the phone-home unit on the second boot: $unit (expected: skipped)"
log "SSH as edgefleet with the controller's key: hostname $hostname, no token left, phone-home skipped on the second boot"
log "PASSED: power-on to os_installed, reachable by SSH, local disk after; unknown UEFI machine unassigned (total $((SECONDS - t0))s)"
