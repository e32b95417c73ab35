#!/usr/bin/env bash
# Create/refresh .venv with the newest Python >= 3.12 found on this machine and
# install requirements-dev.txt into it.
#
# Why 3.12+: ansible-core 2.21 only runs as a controller on Python 3.12-3.14.
# Re-runs are cheap: the install is skipped while the stamp file (hash of
# requirements-dev.txt + interpreter version) matches.
#
# Usage: hack/venv.sh            (VENV=path overrides .venv)
#        PYTHON=/path/python3.x hack/venv.sh   (force an interpreter)
#        REQ=file hack/venv.sh  (another requirements file: hack/compat.sh
#                                builds its ansible-core venvs this way)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$root/.venv}"
req="${REQ:-$root/requirements-dev.txt}"
stamp="$venv/.$(basename "$req" .txt).stamp"

# Prints "MAJOR.MINOR.MICRO" when $1 is a usable Python >= 3.12 with venv and
# ensurepip (Debian splits those into python3.X-venv); fails otherwise.
# Running the candidate is the only reliable check: pyenv shims exist on PATH
# but fail when their version is not selected.
probe() {
    "$1" - <<'PY' 2>/dev/null
import sys
if sys.version_info < (3, 12):
    sys.exit(1)
import ensurepip, venv  # noqa: F401
print("%d.%d.%d" % sys.version_info[:3])
PY
}

find_python() {
    local c v best="" best_v="" cands=()
    for c in python3.14 python3.13 python3.12 python3; do
        c="$(command -v "$c" 2>/dev/null)" || continue
        # pyenv shims are slow to start and the versions/ glob below already
        # covers every interpreter they could dispatch to.
        case "$c" in */.pyenv/shims/*) continue ;; esac
        cands+=("$c")
    done
    # Globs that match nothing stay literal; the -x test drops them.
    for c in "$HOME"/.pyenv/versions/*/bin/python3.* /usr/bin/python3.* /usr/local/bin/python3.*; do
        case "${c##*/}" in
            # Names older than 3.12 are skipped without paying for a probe.
            python3.1[2-9]|python3.[2-9][0-9]) [ -x "$c" ] && cands+=("$c") ;;
        esac
    done
    for c in ${cands[@]+"${cands[@]}"}; do
        v="$(probe "$c")" || continue
        # sort -V picks the newer of the two version strings.
        if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$best_v" "$v" | sort -V | tail -n1)" != "$best_v" ]; then
            best="$c"; best_v="$v"
        fi
    done
    [ -n "$best" ] || return 1
    printf '%s\n' "$best"
}

if [ -n "${PYTHON:-}" ]; then
    probe "$PYTHON" >/dev/null || { echo "venv.sh: PYTHON=$PYTHON is not a Python >= 3.12 with venv/ensurepip" >&2; exit 1; }
    py="$PYTHON"
elif ! py="$(find_python)"; then
    cat >&2 <<'EOF'
venv.sh: no Python >= 3.12 (with the venv and ensurepip modules) was found.
ansible-core 2.21 needs Python 3.12, 3.13 or 3.14 on the controller. Install one, e.g.:
  - pyenv install 3.13          (found under ~/.pyenv/versions/*/bin)
  - apt-get install python3.13 python3.13-venv   (distributions that ship it)
or point PYTHON=/path/to/python3.X at an existing interpreter.
EOF
    exit 1
fi
py_version="$(probe "$py")"
want="$(sha256sum "$req" | cut -d' ' -f1) python-$py_version"

# A venv built from another interpreter (older, or since removed) is rebuilt
# rather than patched: its bin/python symlink would point at the wrong base.
if [ -x "$venv/bin/python" ]; then
    have_v="$("$venv/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || true)"
    if [ "$have_v" != "$py_version" ]; then
        echo "venv.sh: rebuilding $venv (has Python '${have_v:-broken}', want $py_version from $py)" >&2
        rm -rf "$venv"
    fi
elif [ -e "$venv" ]; then
    rm -rf "$venv"
fi

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0  # up to date: the common, fast path
fi

if [ ! -x "$venv/bin/python" ]; then
    echo "venv.sh: creating $venv with $py (Python $py_version)" >&2
    "$py" -m venv "$venv"
fi

# Remove the stamp first so an interrupted install is retried next time.
rm -f "$stamp"
echo "venv.sh: installing $(basename "$req") into $venv" >&2
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$req"
printf '%s\n' "$want" > "$stamp"
