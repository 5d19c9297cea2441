#!/usr/bin/env bash
# The migrate playbook as a user runs it: check mode changes nothing, a real run converts,
# a rerun and a rerun in check mode report changed=0.
set -euo pipefail

config="$(cd ../.. && pwd)/integration_config.yml"
fixture="$(python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["h2k_fixture_dir"])' "$config")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/inventory" "$work/out"
cat >"$work/inventory/hosts.yml" <<YML
all:
  hosts:
    fixture-vm:
      h2k_source: {type: ova, path: "$fixture/h2k-fixture.ova"}
  vars:
    h2k_output_dir: "$work/out"
YML

play() {
  ansible-playbook hyper2kvm.migrate.migrate -i "$work/inventory" "$@" | tee "$work/log"
  grep -E '^fixture-vm +:' "$work/log" | tail -n 1
}
expect() {  # expect <recap line> <pattern> <what>
  echo "$1" | grep -Eq "$2" || { echo "FAILED: $3 (recap: $1)" >&2; exit 1; }
}

recap="$(play --check)"
expect "$recap" 'failed=0' "check mode run failed"
[ -z "$(find "$work/out" -name '*.qcow2')" ] || { echo "FAILED: check mode wrote a disk" >&2; exit 1; }

recap="$(play)"
expect "$recap" 'changed=[1-9]' "first run changed nothing"
expect "$recap" 'failed=0' "first run failed"
qemu-img compare -f raw -F qcow2 "$fixture/disk.raw" "$work/out/h2k-fixture/disk0.qcow2"

recap="$(play)"
expect "$recap" 'changed=0 .*failed=0' "second run was not idempotent"
recap="$(play --check)"
expect "$recap" 'changed=0 .*failed=0' "check mode after a run reports changes"

# The same VM as an unpacked OVF package (descriptor + manifest + disk in a directory).
mkdir -p "$work/ovfdir" "$work/out-ovf"
tar -C "$work/ovfdir" -xf "$fixture/h2k-fixture.ova"
cat >"$work/inventory/hosts.yml" <<YML
all:
  hosts:
    fixture-vm:
      h2k_source: {type: ovf, path: "$work/ovfdir/h2k-fixture.ovf"}
  vars:
    h2k_output_dir: "$work/out-ovf"
YML
recap="$(play)"
expect "$recap" 'changed=[1-9] .*failed=0' "OVF directory run failed"
qemu-img compare -f raw -F qcow2 "$fixture/disk.raw" "$work/out-ovf/h2k-fixture/disk0.qcow2"
echo "migrate playbook: check, convert, idempotent rerun, OVF directory: OK"
