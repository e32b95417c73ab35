#!/usr/bin/env bash
# Run make targets one after the other and print the seconds each took, as a
# table at the end, also when a step fails (make check, make test):
#   hack/steps.sh NAME TARGET...        (MAKE names the make to call)
#
# Stops at the first failing target, like make, and exits non-zero; the table
# then marks that target FAILED and the ones after it "not run". KEEP_GOING=1
# runs the remaining targets anyway (still exiting non-zero). Steps add
# rows of their own (a Molecule scenario, a lab test) by appending
#   STEP<TAB>NAME<TAB>SECONDS<TAB>RESULT
# to the file $EDGEFLEET_TIMINGS, STEP being $EDGEFLEET_STEP, the target running
# (hack/molecule-all.sh, hack/compat.sh, hack/pytest_timings.py); they are
# printed under that step.
set -uo pipefail

name=${1:?usage: steps.sh NAME TARGET...}
shift
make_cmd=${MAKE:-make}

EDGEFLEET_TIMINGS=$(mktemp /tmp/edgefleet-timings.XXXXXX)
export EDGEFLEET_TIMINGS

steps=("$@")
seconds=()
results=()
failed=()
start_all=$SECONDS

table() {
    local i s parent row_name secs result
    printf '\n==== make %s: seconds per step ====\n' "$name"
    printf '%-44s %7s  %s\n' step seconds result
    for i in "${!steps[@]}"; do
        s=${steps[$i]}
        printf '%-44s %7s  %s\n' "$s" "${seconds[$i]:--}" "${results[$i]:-not run}"
        while IFS=$'\t' read -r parent row_name secs result; do
            [[ $parent == "$s" ]] && printf '  %-42s %7s  %s\n' "$row_name" "$secs" "$result"
        done < "$EDGEFLEET_TIMINGS"
    done
    if (( ${#failed[@]} )); then result="FAILED (${failed[*]})"; else result=ok; fi
    printf '%-44s %7s  %s\n' total "$((SECONDS - start_all))" "$result"
    rm -f "$EDGEFLEET_TIMINGS"
}
# Printed on every way out: success, a failed step, Ctrl-C.
trap table EXIT
interrupted() {
    [[ -n ${current:-} ]] && { seconds[current]=$((SECONDS - start)); results[current]=interrupted; failed+=("${steps[$current]}"); }
    exit "$1"
}
trap 'interrupted 130' INT
trap 'interrupted 143' TERM

for i in "${!steps[@]}"; do
    s=${steps[$i]}
    start=$SECONDS
    current=$i
    rc=0
    EDGEFLEET_STEP=$s "$make_cmd" --no-print-directory "$s" || rc=$?
    seconds[i]=$((SECONDS - start))
    if (( rc )); then
        results[i]="FAILED (exit $rc)"
        failed+=("$s")
        [[ ${KEEP_GOING:-} == 1 ]] || exit "$rc"
    else
        results[i]=ok
    fi
done
current=""
(( ${#failed[@]} == 0 ))
