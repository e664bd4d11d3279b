#!/usr/bin/env bash
# E2E of the desktop app in the real webview, headless: Xvfb + D-Bus session + tauri-driver
# (WebKitWebDriver) + tests/e2e/app.test.mjs. Screenshots go to target/screenshots/ (SHOTS=DIR
# elsewhere; `make screenshots` refreshes the documented ones in docs/screenshots/).
# Usage: tests/e2e/run.sh [path/to/pipeline-db-desktop]   (default: target/debug/pipeline-db-desktop)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
app="$(realpath "${1:-$root/target/debug/pipeline-db-desktop}")"
work="$(mktemp -d)"
# E2E_SCRIPT / E2E_DATA: another script (jobs1m.mjs) on an existing data dir.
script="$root/tests/e2e/${E2E_SCRIPT:-app.test.mjs}"
export APP="$app" SHOTS="${SHOTS:-$root/target/screenshots}" PIPELINE_DB_HOME="${E2E_DATA:-$work/data}" EXPORT_DIR="$work/export"
mkdir -p "$PIPELINE_DB_HOME" "$EXPORT_DIR"
driver="${TAURI_DRIVER:-$(command -v tauri-driver || echo "$HOME/.cargo/bin/tauri-driver")}"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

display=":$((90 + RANDOM % 100))"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
export DISPLAY="$display"
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

# GTK dialogs want a session bus; without one GTK autolaunches dbus-launch and leaves it behind.
eval "$(dbus-launch --sh-syntax)"
pids+=("$DBUS_SESSION_BUS_PID")

"$driver" --port 4444 >"$work/driver.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:4444/status >/dev/null 2>&1 && break; sleep 0.1; done

if ! node "$script"; then
  echo "--- tauri-driver log"; tail -50 "$work/driver.log"
  exit 1
fi
