#!/usr/bin/env bash
# What the benchmarks need beyond the tests' dependencies
# (scripts/install-test-deps.sh): tcpdump for sip_calls' send pacing, and a
# Python venv at target/bench-venv with Pipecat for the side-by-side turn
# benchmark (bench/pipecat/). Idempotent: what is there is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
command -v tcpdump >/dev/null || missing+=(tcpdump)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing from Debian: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

VENV=target/bench-venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import pipecat, onnxruntime' 2>/dev/null; then
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -r bench/pipecat/requirements.txt
fi
"$VENV/bin/python" -c 'import importlib.metadata as m; print("pipecat-ai", m.version("pipecat-ai"), "ready in target/bench-venv")'
