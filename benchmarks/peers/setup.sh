#!/usr/bin/env bash
# Make the two virtualenvs that run sentence-transformers' OpenVINO and ONNX backends for
# bench_local's peers-at-their-best rows (a few minutes each; about 1.5 GB each, CPU torch).
# Their transformers pins conflict with this project's, so each gets its own environment.
# Usage: bash benchmarks/peers/setup.sh
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
if [ ! -x .venv-openvino/bin/python ]; then
  "$PY" -m venv .venv-openvino
  # optimum-intel 2.2 lists torchvision, whose PyPI build breaks imports beside the CPU torch
  # file: install its other requirements, then optimum-intel itself without dependencies.
  .venv-openvino/bin/pip install -q -r requirements-openvino.txt
  .venv-openvino/bin/pip install -q --no-deps "optimum-intel==2.2.0"
fi
if [ ! -x .venv-onnx/bin/python ]; then
  "$PY" -m venv .venv-onnx
  .venv-onnx/bin/pip install -q -r requirements-onnx.txt
fi
echo "peers ready: benchmarks/peers/.venv-openvino, benchmarks/peers/.venv-onnx"
