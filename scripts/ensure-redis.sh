#!/usr/bin/env bash
# Install Redis from Debian's `redis-server` package when `redis-server` is missing. The local
# cluster rig (the Celery broker) starts its own redis-server on 127.0.0.1 under $NEWSFLOW_HOME and
# stops it by pid; the package's own service must not start, so a policy-rc.d that refuses every
# service start is put in place for the install when none exists.
# Idempotent: does nothing when the binary is present. Needs root (CI runs as root) or sudo.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1 || [[ -x /usr/bin/redis-server ]]; then
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "ensure-redis: redis-server is missing and this user cannot install packages;" \
         "install it with: apt-get install redis-server" >&2
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
"${SUDO[@]}" apt-get install -y -q --no-install-recommends redis-server
command -v redis-server
