#!/bin/bash
# Opens planner HTML reports in headless Chromium, offline, and fails when a page
#   - names anything online (http(s):// or a protocol-relative //host in src/href/url()),
#   - logs anything to the console (the pages have no script, so any console line is an error,
#     e.g. a Content-Security-Policy violation for a blocked fetch),
#   - makes any network request of its own (Chromium's net log; the browser's own background
#     requests, whose initiator is "not an origin", are ignored),
#   - or does not render (the dumped DOM lacks the page's SVG charts or its closing tag).
# It also writes a screenshot of each page (--screenshot-dir, 1400x2000) for a person to look at.
#
# Usage: scripts/check_report_in_chromium.sh [--screenshot-dir DIR] [--chromium BIN] REPORT.html...
# Exit: 0 all pages pass, 1 a page fails, 2 usage, 77 Chromium or python3 missing (ctest SKIP).
set -u

chromium_bin=/usr/bin/chromium
shot_dir=""
files=()
while [ $# -gt 0 ]; do
  case "$1" in
    --screenshot-dir) shot_dir="$2"; shift 2 ;;
    --chromium) chromium_bin="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "check_report_in_chromium: unknown option $1" >&2; exit 2 ;;
    *) files+=("$1"); shift ;;
  esac
done
[ ${#files[@]} -gt 0 ] || { echo "check_report_in_chromium: no report given (usage: $0 [--screenshot-dir DIR] REPORT.html...)" >&2; exit 2; }
if [ ! -x "$chromium_bin" ]; then
  echo "check_report_in_chromium: $chromium_bin not found; skipped (scripts/setup.sh --browser installs it)" >&2
  exit 77
fi
command -v python3 >/dev/null || { echo "check_report_in_chromium: python3 is needed to read Chromium's net log (scripts/setup.sh --browser); skipped" >&2; exit 77; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
fail() { echo "FAIL $1: $2" >&2; status=1; bad=1; }

run_chromium() {  # run_chromium PROFILE_DIR ARGS... ; stdout/stderr left to the caller
  timeout 60 "$chromium_bin" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-extensions \
    --user-data-dir="$1" "${@:2}"
}

for f in "${files[@]}"; do
  bad=0
  [ -f "$f" ] || { fail "$f" "no such file"; continue; }
  abs=$(cd "$(dirname "$f")" && pwd)/$(basename "$f")
  name=$(basename "$f" .html)
  # 1. Nothing online named in the file.
  if grep -Eqi 'https?://|(src|href)[[:space:]]*=[[:space:]]*["'"'"']?//|url\([[:space:]]*["'"'"']?(https?:)?//' "$abs"; then
    fail "$f" "refers to something online: $(grep -Eoi 'https?://[^"'"'"' )>]*|(src|href)=["'"'"']?//[^"'"'"' >]*' "$abs" | head -3 | tr '\n' ' ')"
  fi
  # 2. Render: DOM, console and net log.
  prof="$work/profile-$name"; mkdir -p "$prof"
  run_chromium "$prof" --enable-logging=stderr --v=0 --log-net-log="$work/$name.netlog.json" \
    --dump-dom "file://$abs" >"$work/$name.dom" 2>"$work/$name.log"
  rc=$?
  [ $rc -eq 0 ] || fail "$f" "chromium --dump-dom exited $rc (timeout 60 s: 124)"
  if grep -q 'CONSOLE' "$work/$name.log"; then
    fail "$f" "the page logged to the console: $(grep 'CONSOLE' "$work/$name.log" | head -3)"
  fi
  grep -q '</svg>' "$work/$name.dom" || fail "$f" "the rendered DOM has no SVG chart"
  grep -q '</html>' "$work/$name.dom" || fail "$f" "the rendered DOM is incomplete"
  if [ -s "$work/$name.netlog.json" ]; then
    requests=$(python3 - "$work/$name.netlog.json" <<'EOF'
import json, sys
text = open(sys.argv[1]).read().rstrip()
if not text.endswith("}"):  # a net log cut short lacks the closing brackets
    text = text.rstrip(",\n") + "]}"
urls = set()
for e in json.loads(text).get("events", []):
    p = e.get("params", {})
    url = p.get("url", "")
    if not url or url.startswith(("file:", "data:", "about:", "chrome:")):
        continue
    if p.get("initiator", "not an origin") != "not an origin" or "file://" in p.get("network_isolation_key", ""):
        urls.add(url)
print(" ".join(sorted(urls)))
EOF
)
    [ -z "$requests" ] || fail "$f" "the page made network requests: $requests"
  else
    fail "$f" "chromium wrote no net log"
  fi
  # 3. Screenshot.
  if [ -n "$shot_dir" ]; then
    mkdir -p "$shot_dir"
    prof2="$work/profile2-$name"; mkdir -p "$prof2"
    run_chromium "$prof2" --hide-scrollbars --window-size=1400,2000 --screenshot="$shot_dir/$name.png" "file://$abs" \
      >/dev/null 2>"$work/$name.shot.log"
    [ -s "$shot_dir/$name.png" ] || fail "$f" "no screenshot written ($(tail -1 "$work/$name.shot.log"))"
  fi
  [ $bad -ne 0 ] || echo "ok   $f${shot_dir:+ (screenshot $shot_dir/$name.png)}"
done
exit $status
