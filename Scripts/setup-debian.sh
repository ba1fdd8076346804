#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks for Tusk: PostgreSQL's server binaries (the tests
# and the embedded benchmark server start their own throw-away cluster; the distribution's default
# cluster is neither needed nor used), OpenSSL and zlib headers, pkg-config. Does nothing when all
# are there. Elsewhere it says what to install and exits non-zero.
set -euo pipefail

cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

# postgres + initdb + pg_ctl + psql from one installation (Debian: postgresql-NN).
have_postgres_server() {
    if command -v postgres >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        return 0
    fi
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/postgres" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/psql" ]; then
            return 0
        fi
    done
    return 1
}

missing=()
have_postgres_server || missing+=(postgresql)
dpkg -s libssl-dev >/dev/null 2>&1 || missing+=(libssl-dev)
dpkg -s zlib1g-dev >/dev/null 2>&1 || missing+=(zlib1g-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
# PgBouncer, for the tests that run the driver behind a transaction-mode pooler (they start their own).
have_pgbouncer() { command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; }
have_pgbouncer || missing+=(pgbouncer)

if [ "${#missing[@]}" -gt 0 ]; then
    echo ".ci/run: installing ${missing[*]}"
    if ! command -v apt-get >/dev/null 2>&1; then
        echo ".ci/run: apt-get not found; install ${missing[*]} yourself" >&2
        exit 1
    fi
    # Installing the postgresql package must not leave a cluster running: policy-rc.d
    # forbids service starts during the installation (the tests start their own server).
    policy_rc_d=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy_rc_d=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy_rc_d" >/dev/null
        $SUDO chmod 755 "$policy_rc_d"
        trap '$SUDO rm -f "$policy_rc_d"' EXIT
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
    if [ -n "$policy_rc_d" ]; then
        $SUDO rm -f "$policy_rc_d"
        trap - EXIT
    fi
    # Should a default cluster have been started anyway (no policy-rc.d support), stop it:
    # it is not used and only takes port 5432 and memory.
    if command -v pg_lsclusters >/dev/null 2>&1; then
        pg_lsclusters --no-header 2>/dev/null | while read -r version name _port status _rest; do
            if [ "$status" = "online" ]; then
                $SUDO pg_ctlcluster "$version" "$name" stop || true
            fi
        done
    fi
    # PgBouncer's package enables a service of its own; the tests start private instances instead.
    if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now pgbouncer >/dev/null 2>&1 || true; fi
fi

echo "setup: PostgreSQL server binaries, PgBouncer, libssl-dev, zlib1g-dev and pkg-config are present"
