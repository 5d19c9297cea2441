#!/usr/bin/env bash
# One-time (idempotent) set-up of a Debian 12 machine for hyper2kvm.migrate: Debian packages,
# a venv that sees Debian's guestfs/libvirt bindings, Python tools, vendored collections and the
# offline pip bootstrap that ansible-test needs. A second run installs nothing.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_debian_packages() {
  local wanted
  mapfile -t wanted < <(grep -Ev '^\s*(#|$)' "$REPO_ROOT/scripts/debian-packages.txt")
  ensure_debian_packages "${wanted[@]}"
}

# libguestfs and QEMU need a readable kernel and a /dev/kvm the qemu group can open (what udev
# would do on a machine that runs it).
fix_device_permissions() {
  if [ -e /dev/kvm ] && getent group kvm >/dev/null && [ "$(id -u)" -eq 0 ]; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
  fi
}

create_venv() {
  local reqs="$REPO_ROOT/tests/requirements-dev.txt" stamp="$VENV/.requirements.sha256" want
  want="$(sha256sum "$reqs" | cut -d' ' -f1)"
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating venv $VENV"
    # Debian's python, so that --system-site-packages exposes python3-guestfs and python3-libvirt.
    /usr/bin/python3 -m venv --system-site-packages "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
  fi
  # A changed requirements file only adds or moves pins: install into the venv we have.
  log "installing $reqs into $VENV"
  "$VENV/bin/python" -m pip install -q -r "$reqs"
  "$VENV/bin/python" -c 'import guestfs, libvirt' || die "venv cannot import guestfs/libvirt"
  echo "$want" >"$stamp"
}

# No Galaxy here: the collections we use come out of the 'ansible' community wheel on PyPI.
vendor_collections() {
  local stamp="$COLLECTIONS_DIR/.ansible-$ANSIBLE_COMMUNITY_VERSION" tmp wheel
  # The stamp records which collections were taken: a changed list vendors again.
  [ "$(cat "$stamp" 2>/dev/null)" = "$VENDORED_COLLECTIONS" ] && return 0
  log "vendoring collections ($VENDORED_COLLECTIONS) from ansible==$ANSIBLE_COMMUNITY_VERSION"
  tmp="$(mktemp -d)"
  "$VENV/bin/python" -m pip download -q --no-deps -d "$tmp" "ansible==$ANSIBLE_COMMUNITY_VERSION"
  wheel="$(ls "$tmp"/ansible-*.whl)"
  rm -rf "$COLLECTIONS_DIR" && mkdir -p "$COLLECTIONS_DIR"
  for coll in $VENDORED_COLLECTIONS; do
    "$VENV/bin/python" - "$wheel" "$COLLECTIONS_DIR" "ansible_collections/$coll/" <<'PY'
import sys, zipfile
wheel, dest, prefix = sys.argv[1:]
with zipfile.ZipFile(wheel) as zf:
    members = [m for m in zf.namelist() if m.startswith(prefix)]
    if not members:
        sys.exit("collection %s not found in %s" % (prefix, wheel))
    zf.extractall(dest, members)
PY
  done
  rm -rf "$tmp"
  echo "$VENDORED_COLLECTIONS" >"$stamp"
}

# ansible-test bootstraps pip in each venv it makes by downloading get-pip.py from a host that is
# not reachable here. It first looks in its cache: a stand-in there installs pip from PyPI instead.
ansible_test_pip_bootstrap() {
  local version file
  version="$("$VENV/bin/python" - <<'PY'
from ansible_test._internal import python_requirements as p
print(p.PIP_VERSION if hasattr(p, "PIP_VERSION") else "")
PY
)" || version=""
  [ -n "$version" ] || version="24.2"
  file="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
  [ -f "$file" ] && return 0
  mkdir -p "$(dirname "$file")"
  cat >"$file" <<PY
# Stand-in for get-pip.py (written by hyper2kvm.migrate scripts/setup.sh): the official download
# host is unreachable here, so install pip $version from PyPI with the pip that ensurepip bundles.
import ensurepip, subprocess, sys
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "pip==$version"])
PY
}

install_debian_packages
fix_device_permissions
create_venv
vendor_collections
ansible_test_pip_bootstrap
# The test vCenter (govmomi's simulator with our fixes) and Azurite: built or installed once into the
# cache, well under a second after that.
bash "$REPO_ROOT/scripts/setup-vcsim.sh" >/dev/null
bash "$REPO_ROOT/scripts/setup-azure.sh" >/dev/null
mkdir -p "$LIBGUESTFS_CACHEDIR"
log "set-up complete (cache: $HYPER2KVM_CACHE)"
