#!/usr/bin/env bash
# Screenshots a report's HTML in headless Chromium at 1280 px wide, the
# way a reader's window shows it, and says whether the page scrolls
# sideways (it must not) and whether any literal backtick made it into the
# visible text (Markdown left unrendered).
# Needs `chromium` (apt-get install -y chromium).
# Usage: scripts/screenshot-report.sh [REPORT_HTML] [OUT_PNG] [HEIGHT]
#   default: results/quick/report/report.html -> report-1280.png, 4000 px tall
set -euo pipefail
html=$(realpath "${1:-results/quick/report/report.html}")
out=$(realpath -m "${2:-report-1280.png}")
height=${3:-4000}
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chrome" ]; then
    echo "no chromium found: apt-get install -y chromium" >&2
    exit 3
fi
profile=$(mktemp -d /tmp/pipe-shot.XXXXXX)
trap 'rm -rf "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
    --disable-component-update --disable-sync --no-first-run
    --user-data-dir="$profile" --hide-scrollbars)
"$chrome" "${flags[@]}" --window-size=1280,"$height" --screenshot="$out" \
    "file://$html" >/dev/null 2>&1
echo "screenshot: $out (1280x$height)"
# The page's own measure of horizontal overflow, and its visible text.
probe="(() => { const d = document.documentElement; return 'scrollWidth=' + d.scrollWidth + ' clientWidth=' + d.clientWidth + ' backticks=' + (document.body.innerText.match(/\`/g) || []).length; })()"
# Measured in the same page with a script appended that writes the numbers
# into it, read back with --dump-dom.
tmp="$profile/probe.html"
sed "s#</body>#<pre id=probe></pre><script>document.getElementById('probe').textContent = $probe;</script></body>#" "$html" > "$tmp"
"$chrome" "${flags[@]}" --window-size=1280,"$height" --dump-dom "file://$tmp" 2>/dev/null \
    | grep -o 'scrollWidth=[0-9]* clientWidth=[0-9]* backticks=[0-9]*' || echo "could not measure"
