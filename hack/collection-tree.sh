#!/usr/bin/env bash
# Materialise .build/ansible_collections/edgefleet/platform as a copy of the
# files git would track (committed + new uncommitted, minus .gitignore'd).
#
# Why a copy: ansible-test only runs from inside ansible_collections/<ns>/<name>
# and rejects a symlinked cwd; copying only git-visible files also keeps .venv,
# .build and stray outputs out of sanity/build.
#
# The tree is rebuilt from scratch every time (a few hundred small files:
# well under a second), which also drops files deleted from the repo.
# Output: stdout gets `export ANSIBLE_COLLECTIONS_PATH=...` so callers can
#   eval "$(hack/collection-tree.sh)"
# to make ansible-playbook/ansible-inventory find edgefleet.platform.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/.build"
dest="$build/ansible_collections/edgefleet/platform"

git -C "$root" rev-parse --git-dir >/dev/null 2>&1 || {
    echo "collection-tree.sh: $root is not a git work tree" >&2; exit 1; }

mkdir -p "$(dirname "$dest")"
staging="$(mktemp -d "$(dirname "$dest")/.platform.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
chmod 755 "$staging"  # mktemp makes it 0700

# --cached still lists files deleted in the work tree but not yet staged; skip
# those so tar does not fail on them. -z/--null keeps odd file names intact.
cd "$root"
git ls-files -z --cached --others --exclude-standard --deduplicate |
    while IFS= read -r -d '' f; do
        # tests/specs: upstream schemas the tests read from the repository (EDGEFLEET_REPO_ROOT);
        # not collection content, and ansible-test would lint their upstream text
        case "$f" in tests/specs/*) continue ;; esac
        if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
    done |
    tar --null --no-recursion -T - -cf - | tar -xf - -C "$staging"

# ansible-test looks for the nearest .git upwards to list the content; without
# one here it would find the repo's own .git, where .build is ignored, and skip
# every target. An empty repo is enough: it lists untracked files.
git init -q "$staging"

# Swap the new tree in; the old one (with any tests/output) is discarded.
rm -rf "$dest"
mv "$staging" "$dest"
trap - EXIT
echo "collection-tree.sh: $(find "$dest" -type f | wc -l) files in $dest" >&2

echo "export ANSIBLE_COLLECTIONS_PATH=$build"
