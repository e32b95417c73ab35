#!/usr/bin/env bash
# `make lab`'s network boot: one VM IPC from nothing (blank disk, PXE, golden image,
# phone-home) on a private network, when this machine allows it; otherwise it says why
# not and `make lab` goes on. The run is lab/pxe/e2e.sh (the same as make test's).
# Needs: root, QEMU (TCG), podman, /dev/net/tun, network namespaces, 3 GiB of free memory.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
skip() { printf 'lab-pxe: SKIPPED, no VM IPC booted from the network: %s\n' "$*" >&2; exit 0; }
[[ $(id -u) == 0 ]] || skip "not root (network namespace, tap devices)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed (lab/vm/build-image.sh installs it)"
command -v podman >/dev/null || skip "podman is not installed"
[[ -c /dev/net/tun ]] || skip "no /dev/net/tun (tap devices)"
ip netns add edgefleet-pxe-probe 2>/dev/null || skip "network namespaces are not allowed here"
ip netns del edgefleet-pxe-probe
free_mb=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
(( free_mb >= 3072 )) || skip "only ${free_mb} MiB of memory available (3072 needed: two TCG guests and the boot host)"
podman image exists localhost/edgefleet/debian:12 || skip "the lab image localhost/edgefleet/debian:12 is missing (make images)"
exec bash "$here/e2e.sh"
