#!/usr/bin/env bash
# Tools the test suite checks the deploy files with: promtool and the Prometheus server, from Debian's
# `prometheus` package. Installed only when missing.
set -euo pipefail

if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
  exit 0
fi
echo "ensure-tools: installing Prometheus (promtool) from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
