#!/usr/bin/env bash
# The main job: install, then retrieve wide and rerank narrow on bundled SciFact data, offline,
# and print both top-3s side by side and the precision@3 lift with its significance.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VENV:-.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
# Install once per version of the project's requirements (a stamp in the virtualenv), so a second
# run starts the demo at once instead of asking pip again.
stamp="$venv/.demo-installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  python -m pip install -q --upgrade pip
  python -m pip install -q torch==2.13.0
  python -m pip install -q -e '.[eval]'
  touch "$stamp"
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
rerank-plugins demo "$@"
