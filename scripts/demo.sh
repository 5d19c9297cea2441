#!/usr/bin/env bash
# The main job on the bundled sample: set everything up, build (or reuse) the sample guest's OVA,
# start libvirtd when nothing runs it, and run the collection's migrate playbook against the example
# inventory: OVA -> converted, repaired qcow2 -> libvirt domain -> isolated boot check -> report.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bash "$REPO_ROOT/scripts/setup.sh"
activate_env
sample="$(bash "$REPO_ROOT/tests/fixtures/guest/build.sh" | tail -n 1)"
export HYPER2KVM_SAMPLE_OVA="$sample/h2k-fixture.ova"
# Not under $HOME: libvirt runs the guest as its own account, which must be able to reach the disk.
export HYPER2KVM_OUTPUT_DIR="${HYPER2KVM_OUTPUT_DIR:-/var/lib/hyper2kvm/demo}"
mkdir -p "$HYPER2KVM_OUTPUT_DIR"
bash "$REPO_ROOT/scripts/start-libvirt.sh"

# Use this checkout as the installed collection (ansible follows the link).
dev="$HYPER2KVM_CACHE/dev/ansible_collections/hyper2kvm"
mkdir -p "$dev" && ln -sfn "$REPO_ROOT" "$dev/migrate"
export ANSIBLE_COLLECTIONS_PATH="$HYPER2KVM_CACHE/dev:$COLLECTIONS_DIR"

cd "$REPO_ROOT"
ansible-playbook hyper2kvm.migrate.migrate -i examples/inventory/local/ "$@"
log "disks, evidence and report.html are in $HYPER2KVM_OUTPUT_DIR/h2k-fixture"
