#!/usr/bin/env bash
# Installs Debian's kcat (the librdkafka command-line producer/consumer, formerly kafkacat), used
# in docs/raw-topics.md to produce to and read from the raw topics with no code of ours.
# Idempotent: returns at once when kcat is already there.
#   bash scripts/tools/install-kcat.sh
set -euo pipefail

if command -v kcat >/dev/null 2>&1; then
  echo "kcat already installed: $(kcat -V 2>&1 | sed -n 1p)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-kcat: need root (or sudo) to run apt-get install kcat" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends kcat >/dev/null
echo "kcat installed: $(kcat -V 2>&1 | sed -n 1p)"
