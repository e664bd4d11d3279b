#!/usr/bin/env bash
# The README's first command (`make try`): on a fresh Debian/Ubuntu machine, install what is
# missing, build, make a demo data dir with sample data and open the desktop app on it. With no
# display (no DISPLAY / WAYLAND_DISPLAY) it says so and runs the CLI demo instead.
# PIPELINE_DB_HOME=DIR picks another demo data dir (default: target/demo, inside this checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
data="${PIPELINE_DB_HOME:-$PWD/target/demo}"

if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  gui=1
  scripts/deps.sh build
else
  gui=0
  echo "No display (neither DISPLAY nor WAYLAND_DISPLAY is set): running the CLI demo instead of the window."
  scripts/deps.sh cli
fi

cargo build --release -p pipeline-db-cli
cli="$target/release/pipeline-db"
mkdir -p "$data"
export PIPELINE_DB_HOME="$data"
"$cli" reset dev --with-sample-data --force
"$cli" status
echo
echo "Demo data dir: $data"
echo "  (the CLI on it: PIPELINE_DB_HOME=$data $cli status)"

if [ "$gui" = 1 ]; then
  # The same build `make package` makes (stripped release app, its UI built first), so the two
  # share one build.
  make --no-print-directory desktop-release
  echo "Opening the desktop app on $data (close the window to finish)"
  exec "$target/release/pipeline-db-desktop"
fi
