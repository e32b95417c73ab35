#!/usr/bin/env bash
# `make compat`: sanity and the plugin unit tests on the older ansible-core
# minors that meta/runtime.yml claims (the newest one is .venv's, which
# `make check` covers in full).
#   hack/compat.sh MINOR...        e.g. hack/compat.sh 2.19 2.20
#
# Each minor gets its own venv, ~/.cache/edgefleet/venvs/core-MINOR (COMPAT_VENVS
# overrides the folder), built by hack/venv.sh from hack/compat/core-MINOR.txt
# and reused while that file and the interpreter are unchanged; ansible-test's
# per-test venvs are cached in ~/.ansible/test as for `make sanity`.
#
# What runs on each minor, and why (the trade-off is in the README's Testing section):
#   - ansible-test sanity without pylint (COMPAT_SKIP_TESTS): validate-modules, ansible-doc,
#     import, compile, runtime-metadata, yamllint, ... read the plugins with that
#     minor's own code and schemas, which is where minors differ. pylint (about
#     60% of a warm sanity run) checks style with a pinned pylint whose Ansible
#     checkers look for deprecated APIs: it runs once, on the newest minor.
#   - pytest tests/unit/plugins: the collection's plugins on that minor's
#     plugin loader, templating and module runtime (tests/unit/doubles tests the
#     K3s double, which does not use ansible-core).
#
# Before running anything it checks that the claim and the tests agree: every
# minor from requires_ansible's lower bound up to .venv's must be tested here
# (or be .venv's), and each tested minor needs its (empty) sanity ignore file.
# Expects .venv and the collection tree (the Makefile's `venv tree`).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tree="$root/.build/ansible_collections/edgefleet/platform"
venvs="${COMPAT_VENVS:-$HOME/.cache/edgefleet/venvs}"
minors=("$@")

fail() { echo "compat: $*" >&2; exit 1; }

# A row for the timing table of `make test` (hack/steps.sh), when it runs us.
timing() {  # timing NAME SECONDS RESULT
    if [[ -n ${EDGEFLEET_TIMINGS:-} ]]; then
        printf '%s\t%s\t%s\t%s\n' "${EDGEFLEET_STEP:-compat}" "$1" "$2" "$3" >> "$EDGEFLEET_TIMINGS"
    fi
}

# --- the claim and the tested minors agree --------------------------------------
claim=$(sed -n 's/^requires_ansible: *"\{0,1\}>= *\([0-9]*\.[0-9]*\).*/\1/p' "$root/meta/runtime.yml")
[[ -n $claim ]] || fail "cannot read the lower bound of requires_ansible in meta/runtime.yml"
newest=$("$root/.venv/bin/python" -c 'import ansible.release as r; print(".".join(r.__version__.split(".")[:2]))')
for (( m = ${claim#2.}; m < ${newest#2.}; m++ )); do
    [[ " ${minors[*]} " == *" 2.$m "* ]] ||
        fail "meta/runtime.yml claims ansible-core >= $claim but 2.$m is not tested: add hack/compat/core-2.$m.txt and 2.$m to COMPAT_CORE in the Makefile, or narrow requires_ansible"
done
for minor in "${minors[@]}" "$newest"; do
    [[ -f $root/tests/sanity/ignore-$minor.txt ]] || fail "tests/sanity/ignore-$minor.txt is missing (ansible-test $minor reads it; keep it empty)"
done

skip=()
for t in ${COMPAT_SKIP_TESTS-pylint}; do skip+=(--skip-test "$t"); done
skipped=${COMPAT_SKIP_TESTS-pylint}
label="sanity${skipped:+ without $skipped}"

rc=0
for minor in "${minors[@]}"; do
    req="$root/hack/compat/core-$minor.txt"
    venv="$venvs/core-$minor"
    [[ -f $req ]] || fail "no $req"
    # shellcheck disable=SC2046  # the versions on the `# controller-python:` line, newest first
    py=$(bash "$root/hack/find-python.sh" $(sed -n 's/^# controller-python: *//p' "$req")) || fail "no Python for ansible-core $minor ($(sed -n 's/^# controller-python: *//p' "$req")) with venv and ensurepip; e.g. pyenv install 3.13"

    start=$SECONDS
    mkdir -p "$venvs"
    VENV="$venv" REQ="$req" PYTHON="$py" bash "$root/hack/venv.sh"
    bin="$venv/bin"
    pyver=$("$bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    have=$("$bin/python" -c 'import ansible.release as r; print(r.__version__)')
    [[ $have == "$minor".* ]] || fail "$venv has ansible-core $have, not $minor"
    "$bin/python" "$root/hack/ansible-test-pip-shim.py"
    timing "core $have: venv" "$((SECONDS - start))" ok
    echo "compat: ansible-core $have on Python $pyver ($venv)"

    start=$SECONDS
    if (cd "$tree" && PATH="$bin:$PATH" "$bin/ansible-test" sanity --local --requirements --python "$pyver" --color no "${skip[@]}"); then
        result=passed
    else
        result=FAILED; rc=1
    fi
    echo "compat: ansible-core $have $label $result in $((SECONDS - start)) s"
    timing "core $have: $label" "$((SECONDS - start))" "$result"

    start=$SECONDS
    if (cd "$tree" && PATH="$bin:$PATH" PYTHONPATH="$root/.build" ANSIBLE_COLLECTIONS_PATH="$root/.build" EDGEFLEET_REPO_ROOT="$root" \
            "$bin/python" -m pytest -p no:cacheprovider -o consider_namespace_packages=true -q tests/unit/plugins); then
        result=passed
    else
        result=FAILED; rc=1
    fi
    echo "compat: ansible-core $have units $result in $((SECONDS - start)) s"
    timing "core $have: units (tests/unit/plugins)" "$((SECONDS - start))" "$result"
done
exit "$rc"
