#!/usr/bin/env bash
# Run the VM-tier Molecule scenario (molecule/vm) from the collection root.
#
# Usage:  lab/vm/run-molecule.sh [ACTION [ARGS...]]     (default ACTION: test)
#   e.g.  lab/vm/run-molecule.sh                  create, converge, ..., destroy
#         lab/vm/run-molecule.sh converge         keep the VM for debugging
#         lab/vm/run-molecule.sh login            shell in the guest
#         lab/vm/run-molecule.sh destroy
# Run as root on a machine with Debian's apt sources; everything else (the
# .venv, QEMU and debootstrap, the disk image) is set up on the way.
#
# Environment: EDGEFLEET_CACHE (image cache root, default ~/.cache/edgefleet),
# EDGEFLEET_DEBIAN_MIRROR, EDGEFLEET_VM_FORCE (see lab/vm/build-image.sh).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
[[ $(id -u) == 0 ]] || { echo "run-molecule.sh: must run as root (apt-get, debootstrap)" >&2; exit 1; }

bash hack/venv.sh
# edgefleet.platform for scenarios that use the collection's roles/plugins:
# exports ANSIBLE_COLLECTIONS_PATH=$root/.build (dependency collections come
# from the `ansible` package in .venv).
eval "$(bash hack/collection-tree.sh 2>/dev/null)"
export PATH="$root/.venv/bin:$PATH"

# Build (or find in the cache) the image up front, so a cold build shows up
# as its own step rather than inside `molecule create`.
lab/vm/build-image.sh >/dev/null

action="${1:-test}"
(($#)) && shift
exec molecule "$action" -s vm "$@"
