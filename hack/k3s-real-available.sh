#!/usr/bin/env bash
# Can the k3s_real Molecule scenario (real K3s in a VM) run here? Exit 0 when real K3s
# can be had: a bundle folder (EDGEFLEET_K3S_BUNDLE holding sha256sum-amd64.txt) or the
# release download on github.com. Otherwise print why and exit 1 (make molecule skips it).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
default_version=$(sed -n 's/^k3s_version: *//p' "$here/roles/k3s/defaults/main.yml")
version=${EDGEFLEET_K3S_VERSION:-$default_version}

if [[ -n ${EDGEFLEET_K3S_BUNDLE:-} ]]; then
    if [[ -f $EDGEFLEET_K3S_BUNDLE/sha256sum-amd64.txt ]]; then
        echo "K3s $version from the bundle $EDGEFLEET_K3S_BUNDLE"
        exit 0
    fi
    echo "EDGEFLEET_K3S_BUNDLE=$EDGEFLEET_K3S_BUNDLE holds no sha256sum-amd64.txt"
    exit 1
fi

url="https://github.com/k3s-io/k3s/releases/download/${version/+/%2B}/sha256sum-amd64.txt"
if python3 - "$url" <<'PY' 2>/dev/null; then
import sys
import urllib.request
urllib.request.urlopen(sys.argv[1], timeout=15).read(64)
PY
    echo "K3s $version from $url"
    exit 0
fi
echo "no real K3s here: EDGEFLEET_K3S_BUNDLE is not set and $url is not reachable" \
     "(the K3s test double in k3s_single and make lab-test stands in for it)"
exit 1
