#!/usr/bin/env bash
# Install Azurite (the Azure Storage emulator, from the npm registry) into the cache for the Azure
# tests. Idempotent: a second run with the same version and Node.js installs nothing. Needs node and
# npm: the machine's own when present, Debian's nodejs + npm otherwise. Prints the path of the
# azurite-blob launcher on its last line.
# Usage: scripts/setup-azure.sh
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

AZURITE_VERSION="3.37.0"
AZURITE_DIR="$HYPER2KVM_CACHE/azurite"
AZURITE_BIN="$AZURITE_DIR/node_modules/.bin/azurite-blob"

# Node.js from NodeSource also provides npm: asking dpkg for Debian's npm package would then try to
# replace it, so only install Debian's packages when the commands themselves are missing.
ensure_node() {
  if command -v node >/dev/null && command -v npm >/dev/null; then
    return 0
  fi
  ensure_debian_packages nodejs npm
}

stamp() {
  printf 'azurite %s node %s\n' "$AZURITE_VERSION" "$(node --version)"
}

install() {
  local tmp="$AZURITE_DIR.tmp"
  log "installing azurite@$AZURITE_VERSION into $AZURITE_DIR (about a minute, ~370 MB)"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  # Azurite declares node >= 22 but its blob service runs on node 20: ignore the engine warning.
  npm install --prefix "$tmp" --no-audit --no-fund --omit=dev --loglevel=error \
    "azurite@$AZURITE_VERSION" >&2
  [ -x "$tmp/node_modules/.bin/azurite-blob" ] || die "npm did not install azurite-blob"
  rm -rf "$AZURITE_DIR/node_modules"
  mv "$tmp/node_modules" "$AZURITE_DIR/node_modules"
  rm -rf "$tmp"
}

main() {
  ensure_node
  mkdir -p "$AZURITE_DIR"
  # One install at a time: test sessions running side by side may all ask for Azurite.
  exec 9>"$AZURITE_DIR/.lock"
  flock 9
  local want
  want="$(stamp)"
  if [ ! -x "$AZURITE_BIN" ] || [ "$(cat "$AZURITE_DIR/stamp" 2>/dev/null)" != "$want" ]; then
    install
    echo "$want" >"$AZURITE_DIR/stamp"
  fi
  echo "$AZURITE_BIN"
}

main "$@"
