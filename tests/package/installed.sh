#!/usr/bin/env bash
# The .deb that `make package` built, installed as a user installs it (apt), checked, removed:
# the files it must hold, the CLI from /usr/bin (version, reset with sample data, status, the bash
# completion, the man page), then the WebDriver E2E against the installed app
# (/usr/bin/pipeline-db-desktop). apt runs as root, or through sudo.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-target}"
debs=("$target"/release/bundle/deb/*.deb)
[ -f "${debs[0]}" ] || { echo "no .deb in $target/release/bundle/deb: run make package first" >&2; exit 1; }
deb="$(realpath "${debs[0]}")"
pkg="$(dpkg-deb -f "$deb" Package)"
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

echo "--- $deb"
ls -l "$deb"
dpkg-deb -f "$deb" Package Version Architecture Depends Installed-Size

remove() { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "$pkg" >/dev/null || true; }
trap remove EXIT
echo "--- apt-get install $deb"
time "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb"

echo "--- the package's files"
for f in /usr/bin/pipeline-db /usr/bin/pipeline-db-desktop \
  /usr/share/bash-completion/completions/pipeline-db /usr/share/zsh/vendor-completions/_pipeline-db \
  /usr/share/fish/vendor_completions.d/pipeline-db.fish /usr/share/man/man1/pipeline-db.1.gz \
  /usr/share/man/man1/pipeline-db-reset.1.gz; do
  [ -s "$f" ] || { echo "missing from the package: $f" >&2; exit 1; }
done
desktop="$(dpkg -L "$pkg" | grep '^/usr/share/applications/.*\.desktop$')"
grep -q '^Exec=pipeline-db-desktop' "$desktop" || { echo "$desktop does not start pipeline-db-desktop" >&2; exit 1; }
icons="$(dpkg -L "$pkg" | grep -c '^/usr/share/icons/hicolor/.*/apps/.*\.png$')"
[ "$icons" -ge 3 ] || { echo "only $icons icon sizes in the package" >&2; exit 1; }
echo "ok: CLI, app, $desktop, $icons icon sizes, completions (bash, zsh, fish), man pages"

echo "--- the installed CLI"
/usr/bin/pipeline-db --version
home="$(mktemp -d)"
trap 'remove; rm -rf "$home"' EXIT
PIPELINE_DB_HOME="$home" /usr/bin/pipeline-db reset dev --with-sample-data --force
PIPELINE_DB_HOME="$home" /usr/bin/pipeline-db status
PIPELINE_DB_HOME="$home" /usr/bin/pipeline-db status dev --json | grep -q '"jobs"'
bash -c 'source /usr/share/bash-completion/completions/pipeline-db && complete -p pipeline-db' >/dev/null
zcat /usr/share/man/man1/pipeline-db.1.gz | grep -q '^\.TH pipeline-db 1'
# The platform's interface, installed beside the CLI (it finds pipeline-db on PATH).
[ -x /usr/share/pipeline-db/reset_db.sh ] || { echo "reset_db.sh is not installed executable" >&2; exit 1; }
PIPELINE_DB_HOME="$home" /usr/share/pipeline-db/reset_db.sh test --force --with-sample-data
PIPELINE_DB_HOME="$home" /usr/bin/pipeline-db status test --json | grep -q '"jobs"'
echo "ok: the installed CLI reset dev with sample data, status, completion, man page, reset_db.sh"

echo "--- the WebDriver E2E against the installed app"
SHOTS="$root/target/screenshots-installed" make --no-print-directory e2e APP=/usr/bin/pipeline-db-desktop

remove
trap 'rm -rf "$home"' EXIT
if [ -e /usr/bin/pipeline-db ] || [ -e /usr/bin/pipeline-db-desktop ]; then
  echo "apt-get remove left /usr/bin/pipeline-db*" >&2
  exit 1
fi
echo "ok: $pkg removed"
