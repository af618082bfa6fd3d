#!/usr/bin/env bash
# Renders report.html files to PNG screenshots with Debian's chromium in headless mode, so
# a layout break in the HTML report is seen, not guessed.
# Usage: bash scripts/render-html.sh reports/mm1/report.html [more.html ...]
#        (writes report.html.png beside each; install: apt-get install -y chromium)
#        WINDOW=1200,9000 bash scripts/render-html.sh ...   for a long page (default 1200,3000)
set -euo pipefail
command -v chromium > /dev/null || { echo "chromium not found: apt-get update && apt-get install -y chromium" >&2; exit 2; }
for f in "$@"; do
  out="$f.png"
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --screenshot="$out" --window-size=${WINDOW:-1200,3000} "file://$(realpath "$f")" 2> /dev/null
  echo "$out"
done
