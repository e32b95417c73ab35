#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL (hack/pg-ephemeral.sh):
#   hack/with-pg.sh .venv/bin/python -m pytest tests/integration
# Exports EDGEFLEET_TEST_PG_URL (from .build/pg/url) and EDGEFLEET_REQUIRE_PG=1
# (tests must fail, not skip, when the database is unusable), always stops the
# server afterwards - also on failure or Ctrl-C - and exits with the command's
# exit code.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${PG_EPHEMERAL_STATE:-$here/../.build/pg}"

[ "$#" -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }

# One server per checkout: pg-ephemeral.sh start replaces the previous
# instance, so a second concurrent run would pull the database from under the
# first. Queue behind it instead (the lock is dropped when this shell exits).
mkdir -p "$(dirname "$state")"
exec 9>"$state.lock"
if ! flock -n 9; then
    echo "with-pg.sh: another run in this checkout uses the test database; waiting" >&2
    flock 9
fi

# bash runs the EXIT trap on errors, on exit and after INT/TERM (traps below
# turn those into an exit), and keeps the exit status of the command.
# Children get `9>&-`: a server (or test) that inherited the lock fd would
# hold the lock after this script ends.
trap 'bash "$here/pg-ephemeral.sh" stop 9>&-' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash "$here/pg-ephemeral.sh" start 9>&-
EDGEFLEET_TEST_PG_URL="$(cat "$state/url")"
export EDGEFLEET_TEST_PG_URL
export EDGEFLEET_REQUIRE_PG=1

set +e
"$@" 9>&-
rc=$?
set -e
exit "$rc"
