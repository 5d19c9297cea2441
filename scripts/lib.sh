# shellcheck shell=bash disable=SC2034
# Shared settings for the project's scripts. Sourced, never run.

# Heavy artefacts (venv, vendored collections, fixture guests, libguestfs appliance) live outside
# the repository so that a fresh clone reuses them and nothing large is ever committed.
HYPER2KVM_CACHE="${HYPER2KVM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hyper2kvm}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$HYPER2KVM_CACHE/venv"
COLLECTIONS_DIR="$HYPER2KVM_CACHE/collections"
# Pinned with the ansible community package whose collections we vendor (no Galaxy here).
ANSIBLE_COMMUNITY_VERSION="12.3.0"
VENDORED_COLLECTIONS="community/libvirt community/vmware"  # community.vmware: bench/discovery baseline
export HYPER2KVM_CACHE
# libguestfs: direct backend, private cache/tmp so the ~700 MB appliance is reused and /var/tmp stays clean.
export LIBGUESTFS_BACKEND="${LIBGUESTFS_BACKEND:-direct}"
export LIBGUESTFS_CACHEDIR="${LIBGUESTFS_CACHEDIR:-$HYPER2KVM_CACHE/guestfs}"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# Put the venv and the vendored collections in front, for ansible and pytest alike.
activate_env() {
  # shellcheck disable=SC1091
  . "$VENV/bin/activate"
  export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS_DIR"
  export ANSIBLE_PYTHON_INTERPRETER="$VENV/bin/python"
  export ANSIBLE_NOCOLOR=1
  mkdir -p "$LIBGUESTFS_CACHEDIR"
}

# Install the named Debian packages that are not installed yet (root only; says what to run otherwise).
ensure_debian_packages() {
  local pkg missing=()
  for pkg in "$@"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${missing[*]}. Run as root or: sudo apt-get install ${missing[*]}"
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Run BUILD_COMMAND once per input: under a lock in DIR (test sessions side by side may all ask),
# only when ARTIFACT is missing or DIR/stamp differs from STAMP, which is recorded afterwards.
# Usage: build_once DIR STAMP ARTIFACT BUILD_COMMAND [ARG...]
build_once() {
  local dir="$1" want="$2" artifact="$3"
  shift 3
  mkdir -p "$dir"
  (
    flock 9
    if [ ! -x "$artifact" ] || [ "$(cat "$dir/stamp" 2>/dev/null)" != "$want" ]; then
      "$@"
      echo "$want" >"$dir/stamp"
    fi
  ) 9>"$dir/.lock"
}
