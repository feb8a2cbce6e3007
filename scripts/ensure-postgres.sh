#!/usr/bin/env bash
# Install PostgreSQL's server binaries from Debian's `postgresql` package when they are missing.
# Airflow's metadata database (newsflow/dev/local_postgres.py) is a cluster of our own under
# $NEWSFLOW_HOME (or the tests' temporary folder), created with initdb and started with pg_ctl;
# the package's own cluster (`main`, port 5432) is never used, so the package must not start it:
# a policy-rc.d that refuses every service start is put in place for the install when none exists.
# Idempotent: does nothing when the binaries are present. Needs root (CI runs as root) or sudo.
set -euo pipefail

bin_dir=${NEWSFLOW_PG_BIN:-}
if [[ -z $bin_dir ]]; then
    for candidate in /usr/lib/postgresql/*/bin; do
        [[ -x $candidate/pg_ctl ]] && bin_dir=$candidate
    done
fi
if [[ -n $bin_dir && -x $bin_dir/initdb && -x $bin_dir/pg_ctl && -x $bin_dir/postgres ]]; then
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "ensure-postgres: the PostgreSQL binaries are missing and this user cannot install packages;" \
         "install them with: apt-get install postgresql" >&2
    exit 1
fi

policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
    # exit 101 = "action forbidden": invoke-rc.d then starts no service during the install.
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    trap '"${SUDO[@]}" rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends postgresql
ls /usr/lib/postgresql/*/bin/pg_ctl
