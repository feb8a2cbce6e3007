#!/usr/bin/env bash
# Install headless Chromium and its WebDriver from Debian's packages when either is missing.
# The browser test of the Airflow plugin page (tests/airflow/test_plugin_page.py) drives them with selenium.
# Idempotent: does nothing when both binaries are present. Needs root (CI runs as root) or sudo.
set -euo pipefail

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "ensure-chromium: chromium/chromedriver are missing and this user cannot install packages;" \
         "install them with: apt-get install chromium chromium-driver" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends chromium chromium-driver
/usr/bin/chromium --version
/usr/bin/chromedriver --version
