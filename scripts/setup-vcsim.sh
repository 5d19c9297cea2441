#!/usr/bin/env bash
# Build the vSphere simulator the tests use, fully offline: govmomi's simulator library from
# Debian (golang-github-vmware-govmomi-dev), our fixes (scripts/vcsim/*.patch) and our launcher
# (scripts/vcsim/main.go), compiled with Debian's Go in GOPATH mode into the cache. Rebuilds only
# when the sources, the patches or the toolchain changed. Prints the binary's path on its last line.
# Usage: scripts/setup-vcsim.sh
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VCSIM_DIR="$HYPER2KVM_CACHE/vcsim"
VCSIM_BIN="$VCSIM_DIR/bin/h2k-vcsim"
GOVMOMI_SRC=/usr/share/gocode/src/github.com/vmware/govmomi
LAUNCHER="hyper2kvm.local/vcsim"

# Everything the binary is made of: package versions, Go version, our launcher and patches.
source_stamp() {
  {
    dpkg-query -W -f='${Package} ${Version}\n' golang-go golang-github-vmware-govmomi-dev golang-github-google-uuid-dev
    go version
    sha256sum "$REPO_ROOT"/scripts/setup-vcsim.sh "$REPO_ROOT"/scripts/vcsim/main.go "$REPO_ROOT"/scripts/vcsim/*.patch
  } | sha256sum | cut -d' ' -f1
}

# A private GOPATH whose govmomi copy carries our patches; the other sources stay Debian's.
prepare_gopath() {
  local gopath="$1" patch
  rm -rf "$gopath"
  mkdir -p "$gopath/src/github.com/vmware" "$gopath/src/$LAUNCHER"
  cp -a "$GOVMOMI_SRC" "$gopath/src/github.com/vmware/govmomi"
  for patch in "$REPO_ROOT"/scripts/vcsim/*.patch; do
    patch -s -p1 -d "$gopath/src/github.com/vmware/govmomi" <"$patch" || die "cannot apply $patch"
  done
  cp "$REPO_ROOT/scripts/vcsim/main.go" "$gopath/src/$LAUNCHER/main.go"
}

build() {
  local gopath="$VCSIM_DIR/gopath"
  log "building the vSphere simulator into $VCSIM_BIN (about a minute when cold)"
  prepare_gopath "$gopath"
  mkdir -p "$(dirname "$VCSIM_BIN")"
  (
    cd "$gopath/src/$LAUNCHER"
    GOPATH="$gopath:/usr/share/gocode" GO111MODULE=off GOPROXY=off GOFLAGS='' CGO_ENABLED=0 \
      GOCACHE="$VCSIM_DIR/gocache" go build -o "$VCSIM_BIN.tmp" .
  )
  mv -f "$VCSIM_BIN.tmp" "$VCSIM_BIN"
}

ensure_debian_packages golang-go golang-github-vmware-govmomi-dev golang-github-google-uuid-dev patch
build_once "$VCSIM_DIR" "$(source_stamp)" "$VCSIM_BIN" build
echo "$VCSIM_BIN"
