# Source me:  . lab/env.sh
# Exports CONTAINERS_CONF (absolute path) so every podman call made by the
# project uses lab/containers.conf instead of the host's global podman config.
# Safe to source from any cwd, from bash or from a script run with `set -u`.
# shellcheck shell=bash
EDGEFLEET_LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export EDGEFLEET_LAB_DIR
export CONTAINERS_CONF="$EDGEFLEET_LAB_DIR/containers.conf"
