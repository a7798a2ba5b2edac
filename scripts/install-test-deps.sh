#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain, from Debian's
# packages: sipp (package sip-tester), the real SIP peer of the SIP carrier
# tests, and espeak-ng, the offline speech synthesiser (run as a subprocess).
# Idempotent: does nothing when everything is there.
set -euo pipefail

need=()
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)

if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
