#!/usr/bin/env bash
# Smoke-test the lab images built by lab/images/build.sh.
#
# Usage:  lab/images/verify.sh [12|13|all]...     (default: all; run as root)
#
# Per image:
#   - boots a container with systemd as PID 1 (podman run --systemd=always)
#     and waits for `systemctl is-system-running --wait` == running
#     (prints the failed units and fails on anything else), timing the boot;
#   - sshd active, `python3 -c 'import apt'`, machine-id and SSH host keys
#     generated at first boot (unique per container);
#   - on a user-created podman network: two containers resolve each other by
#     name (aardvark-dns) and reach each other's IPs (ping, TCP 22);
#   - the host logs in with a throw-away ed25519 key (root, key auth) over
#     the container's IP on that network AND over a published loopback port.
# Everything it creates (containers, network, key) is removed on exit.
set -euo pipefail
export LC_ALL=C.UTF-8

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../env.sh
. "$here/../env.sh"

IMAGE_REPO=localhost/edgefleet/debian
BOOT_TIMEOUT=${BOOT_TIMEOUT:-120}
tag="edgefleet-verify-$$"
work=$(mktemp -d)
containers=()
networks=()

log() { printf 'verify: %s\n' "$*" >&2; }
fail() { printf 'verify: FAIL: %s\n' "$*" >&2; exit 1; }

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local c n
    for c in "${containers[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
    for n in "${networks[@]}"; do podman network rm -f "$n" >/dev/null 2>&1 || true; done
    rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# wait_running NAME: until systemd answers and reports `running`.
# Right after `podman run -d` systemd has not opened its private socket yet
# and systemctl fails with "Failed to connect to bus": retry that first.
wait_running() {
    local c=$1 deadline=$((SECONDS + BOOT_TIMEOUT)) state
    until podman exec "$c" test -S /run/systemd/private 2>/dev/null; do
        ((SECONDS < deadline)) || fail "$c: systemd did not answer within ${BOOT_TIMEOUT}s"
        sleep 0.2
    done
    state=$(timeout "$BOOT_TIMEOUT" podman exec "$c" systemctl is-system-running --wait 2>/dev/null || true)
    if [[ $state != running ]]; then
        podman exec "$c" systemctl --failed --no-pager >&2 || true
        fail "$c: system state '${state:-timeout}', expected running"
    fi
}

ip_of() { # container network
    podman inspect --format "{{ (index .NetworkSettings.Networks \"$2\").IPAddress }}" "$1"
}

run_ipc() { # name image [podman run args...]
    local name=$1 image=$2
    shift 2
    containers+=("$name")
    podman run -d --systemd=always --name "$name" --hostname "$name" "$@" "$image" >/dev/null
}

add_key() { # container
    podman exec -i "$1" sh -c 'install -d -m 700 /root/.ssh && cat >/root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys' <"$work/id_ed25519.pub"
}

lab_ssh() { # [ssh args...] -- host cmd
    ssh -i "$work/id_ed25519" -o BatchMode=yes -o IdentitiesOnly=yes \
        -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile="$work/known_hosts-$ver" \
        -o ConnectTimeout=5 -o LogLevel=ERROR "$@"
}

# Host keys are generated per container at first boot and podman reuses IPs
# (and the published port) across containers, so each image gets its own
# known_hosts file: the lab must likewise forget a container's host key when
# it removes the container (or use a known_hosts file per lab run).
# ssh_retry: retry briefly in case sshd is restarting.
ssh_retry() {
    local _
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        lab_ssh "$@" && return 0
        sleep 0.5
    done
    return 1
}

verify_image() { # version
    local ver=$1
    local image="$IMAGE_REPO:$ver" t0 boot c a b net ipa ipb port mid_a mid_b key_a key_b
    podman image exists "$image" || fail "$image not found (run lab/images/build.sh $ver)"
    log "$image: $(podman image inspect --format '{{.Size}}' "$image" | numfmt --to=iec) recipe $(podman image inspect --format '{{ index .Labels "org.edgefleet.recipe" }}' "$image" | cut -c1-12)"

    # 1. boot, sshd, python3-apt
    c="$tag-$ver-boot"
    t0=$(now)
    run_ipc "$c" "$image"
    wait_running "$c"
    boot=$(elapsed "$t0")
    [[ $(podman exec "$c" systemctl is-active ssh.service) == active ]] || fail "$c: ssh.service not active"
    podman exec "$c" python3 -c 'import apt, apt_pkg; apt_pkg.init()' || fail "$c: python3 apt import failed"
    [[ $(podman exec "$c" cat /proc/1/comm) == systemd ]] || fail "$c: PID 1 is not systemd"
    log "$image: boot to running ${boot}s; sshd active; python3-apt ok"

    # 2. two containers on a user-created network
    net="$tag-$ver-net"
    networks+=("$net")
    podman network create "$net" >/dev/null
    a="$tag-$ver-a" b="$tag-$ver-b"
    port=$((20000 + ($$ % 20000) + ver))
    run_ipc "$a" "$image" --network "$net"
    run_ipc "$b" "$image" --network "$net" -p "127.0.0.1:$port:22"
    wait_running "$a"
    wait_running "$b"
    ipa=$(ip_of "$a" "$net") ipb=$(ip_of "$b" "$net")
    podman exec "$a" getent hosts "$b" | grep -qw "$ipb" || fail "$a cannot resolve $b to $ipb"
    podman exec "$b" getent hosts "$a" | grep -qw "$ipa" || fail "$b cannot resolve $a to $ipa"
    podman exec "$a" ping -c 1 -W 2 "$b" >/dev/null || fail "$a cannot ping $b"
    podman exec "$b" ping -c 1 -W 2 "$ipa" >/dev/null || fail "$b cannot ping $ipa"
    podman exec "$a" python3 -c "import socket,sys; s=socket.create_connection(('$b',22),5); sys.exit(0 if s.recv(4)==b'SSH-' else 1)" \
        || fail "$a cannot reach $b:22"
    log "$image: $a ($ipa) <-> $b ($ipb) on network $net: DNS, ping, tcp/22 ok"

    # per-container identity
    mid_a=$(podman exec "$a" cat /etc/machine-id) mid_b=$(podman exec "$b" cat /etc/machine-id)
    [[ -n $mid_a && $mid_a != "$mid_b" ]] || fail "machine-id not unique ($mid_a / $mid_b)"
    key_a=$(podman exec "$a" cat /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f2)
    key_b=$(podman exec "$b" cat /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f2)
    [[ -n $key_a && $key_a != "$key_b" ]] || fail "SSH host keys not unique per container"

    # 3. host -> container SSH with key auth
    add_key "$a"
    add_key "$b"
    [[ $(ssh_retry "root@$ipa" 'python3 -c "import apt; print(\"ok\")"') == ok ]] \
        || fail "host cannot SSH to $a at $ipa:22"
    log "$image: host -> root@$ipa:22 (network IP) key auth ok"
    [[ $(ssh_retry -p "$port" root@127.0.0.1 hostname) == "$b" ]] \
        || fail "host cannot SSH to $b via 127.0.0.1:$port"
    log "$image: host -> root@127.0.0.1:$port (published port) key auth ok"

    for c in "$tag-$ver-boot" "$a" "$b"; do podman rm -f -t 0 "$c" >/dev/null; done
    podman network rm -f "$net" >/dev/null
}

main() {
    local -a versions=()
    local v
    (($#)) || set -- all
    for v in "$@"; do
        case $v in
            12 | 13) versions+=("$v") ;;
            all) versions+=(12 13) ;;
            *) fail "unknown argument: $v (expected 12, 13 or all)" ;;
        esac
    done
    [[ $(id -u) == 0 ]] || fail "must run as root"
    ssh-keygen -q -t ed25519 -N '' -C edgefleet-verify -f "$work/id_ed25519"
    for v in "${versions[@]}"; do verify_image "$v"; done
    log "all ok"
}

main "$@"; exit
