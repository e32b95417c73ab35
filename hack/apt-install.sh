#!/usr/bin/env bash
# Install Debian packages that are missing, non-interactively: the one place the
# project's scripts install host packages (CI runs on a fresh machine as root).
#   hack/apt-install.sh PACKAGE...
set -euo pipefail

missing=()
for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

[ "$(id -u)" -eq 0 ] || { echo "apt-install: need root to install: ${missing[*]}" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
echo "apt-install: installing ${missing[*]}" >&2
# One index refresh per day is enough; a fresh machine has none at all.
stamp=/var/lib/apt/periodic/edgefleet-update-stamp
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ]; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
