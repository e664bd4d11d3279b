#!/usr/bin/env bash
# Installs what is missing on a Debian/Ubuntu machine, and says what it installs. Used by
# `make try` (scripts/try.sh), `make deps` and CI (`make ci`, through .ci/run).
#   scripts/deps.sh build   what building the CLI and the desktop app needs (WebKitGTK 4.1, GTK 3,
#                           Node + npm, the UI's npm packages)
#   scripts/deps.sh cli     what building the CLI needs (no desktop libraries)
#   scripts/deps.sh test    all of `build`, plus what the tests need: fiu-utils, setpriv, sqlite3,
#                           /usr/bin/time, Xvfb, WebKitWebDriver, xdotool, ImageMagick, tauri-driver
# apt runs as root, or through sudo (asked for once) when not root. Rust itself comes from rustup
# (the Debian cargo is older than the rust-version 1.89 the workspace needs).
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-build}"

cli_apt=(make build-essential pkg-config)
build_apt=("${cli_apt[@]}" libwebkit2gtk-4.1-dev file libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev)
test_apt=("${build_apt[@]}" sqlite3 fiu-utils util-linux time xvfb xauth imagemagick
  webkit2gtk-driver dbus-x11 at-spi2-core x11-utils xdotool curl)

case "$what" in
  cli) want=("${cli_apt[@]}") ;;
  build) want=("${build_apt[@]}") ;;
  test) want=("${test_apt[@]}") ;;
  *) echo "usage: $0 cli|build|test" >&2; exit 2 ;;
esac
if [ "$what" != cli ] && ! { command -v node && command -v npm; } >/dev/null; then
  want+=(nodejs npm)
fi

if ! command -v cargo >/dev/null; then
  echo "Rust is missing: install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "Missing system packages (${missing[*]}) and no apt-get: only Debian/Ubuntu is set up here." >&2
    exit 1
  fi
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
    echo "Installing with sudo (you may be asked for your password):"
  else
    echo "Installing:"
  fi
  echo "  ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

if [ "$what" = test ]; then
  rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy
  if ! command -v tauri-driver >/dev/null && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
    echo "Installing tauri-driver (cargo install, about 1.5 min): the WebDriver bridge of the E2E"
    cargo install tauri-driver --locked
  fi
fi
if [ "$what" != cli ]; then
  # The UI's packages, Tauri's bundler (@tauri-apps/cli) among them; again only when the lock moved.
  if [ ! -f ui/node_modules/.package-lock.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    (cd ui && npm ci --no-audit --no-fund)
  fi
fi
