#!/usr/bin/env bash
# Throwaway PostgreSQL for integration tests.
#
#   hack/pg-ephemeral.sh start   # prints nothing on stdout; state in .build/pg/
#   hack/pg-ephemeral.sh stop    # stops the server, deletes its data
#   hack/pg-ephemeral.sh status
#
# start: initdb + pg_ctl in a fresh /tmp/edgefleet-pg.* folder, TCP on
# 127.0.0.1 only, on a free port, unix socket inside that folder. Creates
# database `ztp` owned by login role `ztp` with a random password (scram over
# TCP) and writes
#   .build/pg/url      postgresql://ztp:PASS@127.0.0.1:PORT/ztp   (mode 0600)
#   .build/pg/datadir  the data directory
# It never touches the distro cluster/service. If no initdb exists under
# /usr/lib/postgresql/*/bin, PostgreSQL is installed with apt (needs root).
# A second `start` first stops the previous instance, so nothing is orphaned.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${PG_EPHEMERAL_STATE:-$root/.build/pg}"
tmp_prefix=/tmp/edgefleet-pg.
db=ztp
user=ztp

log() { echo "pg-ephemeral: $*" >&2; }
die() { log "$*"; exit 1; }

find_bindir() {
    local d
    d="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
    [ -n "$d" ] && [ -x "$d/initdb" ] && printf '%s\n' "$d"
}

install_postgresql() {
    [ "$(id -u)" -eq 0 ] || die "PostgreSQL server binaries not found and not root: apt-get install postgresql"
    command -v apt-get >/dev/null || die "PostgreSQL server binaries not found and no apt-get: install PostgreSQL (initdb, pg_ctl)"
    log "installing PostgreSQL with apt-get"
    # Only our private instance is wanted: stop Debian's postinst from creating
    # and starting the 'main' cluster (a useless server on port 5432).
    mkdir -p /etc/postgresql-common/createcluster.d
    echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/50-edgefleet-no-main.conf
    bash "$root/hack/apt-install.sh" postgresql
}

# Run a command as the server's owner: PostgreSQL refuses to run as root.
as_owner() {
    # cd /: the caller's cwd (e.g. a clone under /root) may be unreadable to postgres.
    if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

free_port() {
    local py
    py="$(command -v python3 || echo "$root/.venv/bin/python")"
    "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Stop the server of instance folder $1 (binaries in $2, may be empty) and
# delete the folder. Only folders this script creates are ever touched.
kill_instance() {
    local tmp="$1" bindir="$2" pid=""
    case "$tmp" in "$tmp_prefix"*) ;; *) return 0 ;; esac
    if [ -f "$tmp/data/postmaster.pid" ]; then
        pid="$(head -n1 "$tmp/data/postmaster.pid")"
        if ! { [ -n "$bindir" ] && as_owner "$bindir/pg_ctl" -D "$tmp/data" -m fast -w -t 30 stop >/dev/null 2>&1; }; then
            # pg_ctl failed (e.g. binaries gone): end exactly that postmaster.
            if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
                kill -QUIT "$pid" 2>/dev/null || true
                sleep 1
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
    fi
    rm -rf "$tmp"
}

# A run killed with SIGKILL (timeouts) cannot stop its server, and if its
# state folder is deleted too (make clean, a throwaway clone) nothing would
# ever stop it. Each instance records its state folder in `owner`; reap those
# whose owner no longer points at them. Instances younger than 2 minutes are
# left alone: they may be a concurrent start that has not written its state.
reap_abandoned() {
    local tmp owner bindir
    bindir="$(find_bindir || true)"
    for tmp in "$tmp_prefix"*; do
        [ -f "$tmp/owner" ] || continue
        [ -n "$(find "$tmp/owner" -mmin +2 2>/dev/null)" ] || continue
        owner="$(cat "$tmp/owner")"
        if [ "$(cat "$owner/datadir" 2>/dev/null || true)" != "$tmp/data" ]; then
            log "stopping abandoned instance $tmp (state $owner is gone)"
            kill_instance "$tmp" "$bindir"
        fi
    done
}

stop() {
    if [ ! -f "$state/datadir" ]; then
        log "not running (no $state/datadir)"
        rm -rf "$state"
        return 0
    fi
    kill_instance "$(dirname "$(cat "$state/datadir")")" "$(cat "$state/bindir" 2>/dev/null || true)"
    rm -rf "$state"
    log "stopped"
}

start() {
    local bindir tmp port pass attempt url
    stop >/dev/null 2>&1 || true   # restarting must not orphan the previous one
    reap_abandoned

    bindir="$(find_bindir)" || { install_postgresql; bindir="$(find_bindir)" || die "initdb still missing after install"; }
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || die "system user 'postgres' missing (normally created by the postgresql package)"
    fi

    tmp="$(mktemp -d "${tmp_prefix}XXXXXX")"
    chmod 755 "$tmp"
    # Clean up a half-started instance; disarmed once the state is written.
    trap 'as_owner "$bindir/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
    printf '%s\n' "$state" > "$tmp/owner"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$tmp"

    pass="$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')"
    # Local (socket) connections are trusted for the bootstrap below; TCP
    # always needs a scram password. --no-sync: the data is thrown away.
    as_owner "$bindir/initdb" -D "$tmp/data" -U postgres -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$tmp/initdb.log" 2>&1 ||
        { cat "$tmp/initdb.log" >&2; die "initdb failed"; }

    # The port is free when chosen but could be taken before the server binds
    # it, so retry with a new one.
    for attempt in 1 2 3; do
        port="$(free_port)"
        if as_owner "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            start >/dev/null; then
            break
        fi
        [ "$attempt" -lt 3 ] || { cat "$tmp/server.log" >&2; die "server did not start"; }
        log "start on port $port failed, retrying"
    done

    as_owner "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$tmp" -p "$port" -U postgres -d postgres <<SQL >/dev/null
CREATE ROLE $user LOGIN CREATEDB PASSWORD '$pass';
CREATE DATABASE $db OWNER $user;
SQL

    url="postgresql://$user:$pass@127.0.0.1:$port/$db"
    mkdir -p "$state"
    (umask 077; printf '%s\n' "$url" > "$state/url")
    chmod 600 "$state/url"
    printf '%s\n' "$tmp/data" > "$state/datadir"
    printf '%s\n' "$bindir" > "$state/bindir"
    trap - EXIT
    log "running on 127.0.0.1:$port (data $tmp/data); URL in $state/url"
}

status() {
    [ -f "$state/datadir" ] || { echo "stopped"; return 3; }
    as_owner "$(cat "$state/bindir")/pg_ctl" -D "$(cat "$state/datadir")" status
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
