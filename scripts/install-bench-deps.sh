#!/usr/bin/env bash
# Installs what the benchmarks need beyond the tests' dependencies
# (scripts/install-test-deps.sh, which installs espeak-ng): tcpdump, which
# sip_calls measures send pacing with, and python3-venv from Debian's
# packages; then a Python venv at target/bench-venv with Pipecat
# (bench/pipecat/requirements.txt, from PyPI) for the Pipecat side of the
# turn benchmark (bench/pipecat/turn_harness.py, run by `turn`).
# Idempotent: does nothing when everything is there and the requirements
# have not changed since the venv was filled.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/bench-venv
REQUIREMENTS=bench/pipecat/requirements.txt
STAMP="$VENV/.requirements.sha256"

need=()
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# Debian's python3 makes venvs only with python3-venv (it brings ensurepip).
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)

if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# A venv whose Python no longer runs (python3 upgraded or moved) is made anew.
if [ -d "$VENV" ] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  echo "$VENV is broken: making it again"
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "making the venv $VENV"
  python3 -m venv "$VENV"
fi

want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ] \
  || ! "$VENV/bin/python" -c 'import pipecat.audio.vad.silero, onnxruntime, numpy, soxr' >/dev/null 2>&1; then
  echo "installing $REQUIREMENTS into $VENV (from PyPI)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS"
  echo "$want" >"$STAMP"
fi

"$VENV/bin/python" -c 'import importlib.metadata as m; print("pipecat-ai", m.version("pipecat-ai"), "ready in target/bench-venv")'
