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
VENDORED_COLLECTIONS="community/libvirt"
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
