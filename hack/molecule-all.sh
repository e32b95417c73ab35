#!/usr/bin/env bash
# Run Molecule scenarios for `make molecule`: hack/molecule-all.sh SCENARIO...
#
# The VM-tier scenarios (vm, k3s_real: a QEMU guest under TCG, one busy core for
# most of their run) go in the background, one after the other, while the
# container scenarios run in the foreground; their output is printed when they
# end. k3s_real is skipped, saying why, when real K3s cannot be had
# (hack/k3s-real-available.sh). With MOLECULE_THEN=<make target> (make test's
# molecule-lab step: lab-test-run), that target runs in the foreground after the
# container scenarios, while the VM tier is still running, and gets a row of its
# own. With MOLECULE_BACKGROUND_THEN=<make target> (make test: pxe-e2e-run, the
# network boot end to end, another TCG guest), that target runs in the background
# after the VM-tier scenarios, with a row of its own.
# Exits non-zero if any scenario (or target) failed, naming it.
# Expects PATH, ANSIBLE_COLLECTIONS_PATH and CONTAINERS_CONF as the Makefile sets
# them (and MAKE with MOLECULE_THEN).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

# A row for the timing table of `make test` (hack/steps.sh), when it runs us.
timing() {  # timing SCENARIO SECONDS RESULT
    if [[ -n ${EDGEFLEET_TIMINGS:-} ]]; then
        printf '%s\t%s\t%s\t%s\n' "${EDGEFLEET_STEP:-molecule}" "$1" "$2" "$3" >> "$EDGEFLEET_TIMINGS"
    fi
}

vm_scenarios=()
container_scenarios=()
for s in "$@"; do
    case $s in
        k3s_real)
            if ! why=$(bash hack/k3s-real-available.sh); then
                echo "molecule: k3s_real SKIPPED: $why"
                timing k3s_real - "skipped (no real K3s)"
                continue
            fi
            vm_scenarios+=("$s") ;;
        vm) vm_scenarios+=("$s") ;;
        *) container_scenarios+=("$s") ;;
    esac
done

run() {  # run SCENARIO [NOTE]: one `molecule test`, with its time
    local start=$SECONDS rc=0 result
    molecule test -s "$1" || rc=$?
    result=$([[ $rc == 0 ]] && echo passed || echo FAILED)
    echo "molecule: $1 $result in $((SECONDS - start)) s"
    timing "$1" "$((SECONDS - start))" "$result${2:+ ($2)}"
    return "$rc"
}

failed=()
vm_log=""
vm_pid=""
background=("${vm_scenarios[@]}" ${MOLECULE_BACKGROUND_THEN:+"$MOLECULE_BACKGROUND_THEN"})
if (( ${#background[@]} )); then
    vm_log=$(mktemp /tmp/edgefleet-molecule-vm.XXXXXX)
    echo "molecule: ${background[*]} running in the background (output follows when done)"
    (
        # Molecule's prerun installs the collection (--force) into
        # $ANSIBLE_HOME/collections at the start of every scenario: an
        # ANSIBLE_HOME of its own keeps the foreground runs from replacing
        # the copy this one is using (and the two installs from racing).
        ANSIBLE_HOME=$(mktemp -d /tmp/edgefleet-molecule-vm-home.XXXXXX)
        export ANSIBLE_HOME
        rc=0
        for s in "${vm_scenarios[@]}"; do run "$s" "in the background" || { rc=1; echo "$s" >> "$vm_log.failed"; }; done
        rm -rf "$ANSIBLE_HOME"
        if [[ -n ${MOLECULE_BACKGROUND_THEN:-} ]]; then
            start=$SECONDS
            if "${MAKE:-make}" --no-print-directory "$MOLECULE_BACKGROUND_THEN"; then result=passed; else
                result=FAILED; rc=1; echo "$MOLECULE_BACKGROUND_THEN" >> "$vm_log.failed"
            fi
            echo "molecule: $MOLECULE_BACKGROUND_THEN $result in $((SECONDS - start)) s"
            timing "$MOLECULE_BACKGROUND_THEN" "$((SECONDS - start))" "$result (in the background)"
        fi
        exit "$rc"
    ) > "$vm_log" 2>&1 &
    vm_pid=$!
fi

for s in "${container_scenarios[@]}"; do
    run "$s" || failed+=("$s")
done

if [[ -n ${MOLECULE_THEN:-} ]]; then
    start=$SECONDS
    if "${MAKE:-make}" --no-print-directory "$MOLECULE_THEN"; then result=passed; else result=FAILED; failed+=("$MOLECULE_THEN"); fi
    echo "molecule: $MOLECULE_THEN $result in $((SECONDS - start)) s"
    timing "$MOLECULE_THEN" "$((SECONDS - start))" "$result${vm_pid:+ (the VM tier in the background)}"
fi

if [[ -n $vm_pid ]]; then
    vm_rc=0
    wait "$vm_pid" || vm_rc=$?
    echo "molecule: ---- output of ${background[*]} ----"
    cat "$vm_log"
    if (( vm_rc )); then
        mapfile -t names < <(cat "$vm_log.failed" 2>/dev/null)
        failed+=("${names[@]:-${background[*]}}")
    fi
    rm -f "$vm_log" "$vm_log.failed"
fi

if (( ${#failed[@]} )); then
    echo "molecule: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "molecule: all passed (${container_scenarios[*]} ${background[*]}${MOLECULE_THEN:+ $MOLECULE_THEN})"
