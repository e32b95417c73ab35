#!/usr/bin/env bash
# Print the path of the first of the given Python versions found on this
# machine with the venv and ensurepip modules (Debian splits those out):
#   hack/find-python.sh 3.13 3.12     -> e.g. /root/.pyenv/versions/3.13.0/bin/python3.13
# Looks on PATH, in pyenv's versions (its shims fail unless their version is
# selected, so they are skipped, as in venv.sh) and in /usr(/local)/bin; exits 1
# when none is usable.
set -euo pipefail

for v in "$@"; do
    for c in "$(command -v "python$v" 2>/dev/null || true)" "$HOME"/.pyenv/versions/"$v".*/bin/"python$v" \
             "/usr/bin/python$v" "/usr/local/bin/python$v"; do
        case $c in ''|*/.pyenv/shims/*) continue ;; esac
        if [[ -x $c ]] && "$c" -c 'import ensurepip, venv' 2>/dev/null; then
            printf '%s\n' "$c"
            exit 0
        fi
    done
done
exit 1
