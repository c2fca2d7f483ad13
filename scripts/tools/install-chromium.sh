#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for the dashboard browser test (driven by
# playwright-core with executablePath /usr/bin/chromium). Idempotent: returns at once when the
# browser is already there and runs.
#   bash scripts/tools/install-chromium.sh
set -euo pipefail

CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}

# (Debian's launcher script may print a harmless /dev/shm warning on stderr: hidden.)
version() { "$CHROMIUM" --version 2>/dev/null; }

if [ -x "$CHROMIUM" ] && version >/dev/null; then
  echo "chromium already installed: $(version)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-chromium: need root (or sudo) to run apt-get install chromium" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# Fonts so that text renders in screenshots; both are small and in Debian main.
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core fonts-liberation >/dev/null
echo "chromium installed: $(version)"
