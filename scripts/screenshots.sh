#!/usr/bin/env bash
# Screenshots of the built documentation site, to look at before a release: the home page, an API
# reference page and the latency page, rendered by headless Chromium (Debian's `chromium`
# package: `apt-get install chromium`).
# Usage: bash scripts/screenshots.sh [OUT_DIR]   (default: runs/screenshots; builds the site first)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/screenshots}"
mkdir -p "$out"
browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
  echo "no chromium found: apt-get install chromium" >&2
  exit 2
fi
NO_MKDOCS_2_WARNING=1 mkdocs build --strict -q
for page in index.html reference/core/index.html guides/performance/index.html; do
  name="$(echo "${page%/index.html}" | tr '/' '-')"
  [ "$name" = "index.html" ] && name=home
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,2400 \
    --screenshot="$out/$name.png" "file://$PWD/site/$page" 2>/dev/null
  echo "$out/$name.png"
done
