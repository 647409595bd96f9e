#!/usr/bin/env bash
# Set up the virtualenv (scripts/setup.sh) and run the whole test suite, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh "${VENV:-.venv}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python -m pytest "$@"
