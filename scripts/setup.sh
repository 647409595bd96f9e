#!/usr/bin/env bash
# Create (or reuse) the project's virtualenv with every extra and the dev group, on the CPU build
# of PyTorch. Usage: source scripts/setup.sh [VENV_DIR]   (default: .venv)
set -euo pipefail
venv="${1:-${VENV:-.venv}}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"
python -m pip install -q --upgrade pip
# torch first, pinned: a bare 'torch' requirement would pull a multi-GB CUDA build.
python -m pip install -q torch==2.13.0
python -m pip install -q -e '.[all]' --group dev
