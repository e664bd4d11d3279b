#!/usr/bin/env bash
# Cold start to first paint and idle memory of the desktop app under Xvfb (no WebDriver).
# First paint = the first screen grab in which the top bar's env badge (blue #2563eb) is drawn,
# i.e. the page has rendered the environments from `status`. Polls every ~60 ms.
# Idle RSS = the app + its WebKit processes, 10 s after first paint.
# Usage: tests/e2e/measure.sh [app] [data dir]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
app="$(realpath "${1:-$root/target/debug/pipeline-db-desktop}")"
export PIPELINE_DB_HOME="${2:-$(mktemp -d)}"
display=":$((200 + RANDOM % 100))"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
export DISPLAY="$display" DBUS_SESSION_BUS_ADDRESS="disabled:"
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
badge() { import -window root -crop 1x1+125+24 -depth 8 txt:- 2>/dev/null | grep -o '#[0-9A-F]\{6\}' | head -1; }
start=$(date +%s%N)
"$app" >/dev/null 2>&1 &
pid=$!
paint=""
for _ in $(seq 600); do
  c="$(badge)"
  if [[ "$c" =~ ^#(1|2|3)[0-9A-F]([4-7])[0-9A-F]([C-F])[0-9A-F]$ ]]; then paint=$(date +%s%N); break; fi
  sleep 0.05
done
if [ -z "$paint" ]; then echo "no first paint within 30 s (badge pixel: $c)"; kill $pid $xvfb; exit 1; fi
echo "cold start to first paint: $(( (paint - start) / 1000000 )) ms"
sleep 10
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# PSS splits each shared page among the processes mapping it: the sum over the app's processes
# is the memory the app as a whole occupies (RSS counts WebKit's shared libraries once per process).
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
descendants() { for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
total=$(rss $pid); ptotal=$(pss $pid); detail="app $(rss $pid) KiB"
for c in $(descendants $pid); do
  r=$(rss "$c"); total=$((total + r)); ptotal=$((ptotal + $(pss "$c")))
  detail="$detail, $(cat /proc/$c/comm 2>/dev/null) $r KiB"
done
echo "idle RSS after 10 s: $((total / 1024)) MiB ($detail)"
echo "idle PSS after 10 s: $((ptotal / 1024)) MiB (shared pages split between the processes)"
kill $pid; wait $pid 2>/dev/null || true
kill $xvfb; wait $xvfb 2>/dev/null || true
