#!/usr/bin/env bash
# Every example inventory is valid and describes the sample guest: discover.yml (no changes) over the
# OVA, VMX + VMDK, VHDX and loose-disk examples yields one VM each with no blocker, and the vaulted
# example decrypts with its documented password (and not without it).
set -euo pipefail

config="$(cd ../.. && pwd)/integration_config.yml"
fixture="$(python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["h2k_fixture_dir"])' "$config")"
# ansible-test runs a copy of this folder: find the examples in the collection under test.
examples="$(ansible-galaxy collection list hyper2kvm.migrate --format json 2>/dev/null | python -c '
import json, sys
print(next(iter(json.load(sys.stdin))))')/hyper2kvm/migrate/examples/inventory"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A VMX beside its VMDK, as a datastore folder copy looks.
mkdir "$work/vm"
ln "$fixture/disk-sparse.vmdk" "$work/vm/h2k-fixture.vmdk" 2>/dev/null || cp --sparse=always "$fixture/disk-sparse.vmdk" "$work/vm/h2k-fixture.vmdk"
cat >"$work/vm/h2k-fixture.vmx" <<'VMX'
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "h2k-fixture-vmx"
guestOS = "debian12-64"
numvcpus = "2"
memsize = "2048"
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "h2k-fixture.vmdk"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "vmxnet3"
ethernet0.networkName = "VM Network"
ethernet0.addressType = "static"
ethernet0.address = "00:50:56:ab:cd:01"
VMX

export HYPER2KVM_SAMPLE_OVA="$fixture/h2k-fixture.ova" HYPER2KVM_SAMPLE_VMX="$work/vm/h2k-fixture.vmx"
export HYPER2KVM_SAMPLE_VHDX="$fixture/disk.vhdx" HYPER2KVM_SAMPLE_DISK="$fixture/disk.raw"
export HYPER2KVM_OUTPUT_DIR="$work/out"

for example in local vmx vhdx disks; do
  ansible-playbook hyper2kvm.migrate.discover -i "$examples/$example" -e "h2k_plan_file=$work/$example.json" >&2
  python - "$work/$example.json" "$example" <<'PY'
import json, sys
plan, example = json.load(open(sys.argv[1])), sys.argv[2]
(vm,) = plan["vms"]
assert not vm["blocked"], vm["findings"]
desc = vm["vm"]
assert len(desc["disks"]) == 1 and desc["disks"][0]["capacity_bytes"] == 2 * 1024 ** 3, desc["disks"]
expected = {"local": ("ova", "00:50:56:ab:cd:01"), "vmx": ("vmx", "00:50:56:ab:cd:01"),
            "vhdx": ("disk", "00:15:5d:01:02:03"), "disks": ("disk", None)}[example]
assert desc["source"]["type"] == expected[0], desc["source"]
assert [n["mac"] for n in desc["nics"]][:1] == [expected[1]], desc["nics"]
print("%s: %s from %s, %d findings" % (example, desc["name"], desc["source"]["type"], len(vm["findings"])))
PY
done
[ ! -e "$work/out" ] || { echo "FAILED: discover.yml wrote into the output directory" >&2; exit 1; }

# The vaulted example: readable with the documented password, refused without one.
echo hyper2kvm-example >"$work/vault-pass"
ansible-inventory -i "$examples/remote" --vault-password-file "$work/vault-pass" --host kvm01 >"$work/kvm01.json"
python -c 'import json, sys; h = json.load(open(sys.argv[1])); assert h["vault_conversion_host_become_password"] == "change-me", h' "$work/kvm01.json"
if ansible-inventory -i "$examples/remote" --host kvm01 >/dev/null 2>"$work/err"; then
  echo "FAILED: the vaulted inventory was read without the password" >&2; exit 1
fi
grep -qi vault "$work/err"
echo "example inventories: OK"
