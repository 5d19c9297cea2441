#!/usr/bin/env bash
# The migrate playbook as a user runs it: check mode changes nothing; a real run converts, repairs,
# defines and boot-checks the fixture guest (isolated) and writes the report; a rerun and a rerun in
# check mode report changed=0 (the repair answered from its record). Then several VMs at once, where
# one fails to boot and one has no source: the good one is migrated, the failed ones are cleaned up
# (their half-defined domain removed, the converted disk kept), the run report names them, and a
# rerun resumes without converting again.
set -euo pipefail

config="$(cd ../.. && pwd)/integration_config.yml"
fixture="$(python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["h2k_fixture_dir"])' "$config")"
work="$(mktemp -d)"
chmod 0711 "$work"  # libvirt runs the guest as another account, which must reach the disk
domains=(h2k-it-migrate h2k-it-migrate-ovf h2k-it-migrate-bad)
cleanup() {
  for d in "${domains[@]}"; do virsh -q -c qemu:///system undefine --nvram "$d" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/inventory" "$work/out"
cat >"$work/inventory/hosts.yml" <<YML
all:
  hosts:
    fixture-vm:
      h2k_source: {type: ova, path: "$fixture/h2k-fixture.ova"}
      h2k_domain_name: h2k-it-migrate
      h2k_boot_marker: "H2K-BOOT-OK h2k-fixture"
      # The guest's own update-initramfs here (molecule and the e2e tests prove the default, append).
      h2k_initramfs_method: rebuild
  vars:
    h2k_output_dir: "$work/out"
YML

play() {
  ansible-playbook hyper2kvm.migrate.migrate -i "$work/inventory" "$@" | tee "$work/log" >&2
  grep -E '^fixture-vm +:' "$work/log" | tail -n 1
}
expect() {  # expect <recap line> <pattern> <what>
  echo "$1" | grep -Eq "$2" || { echo "FAILED: $3 (recap: $1)" >&2; exit 1; }
}

recap="$(play --check)"
expect "$recap" 'failed=0' "check mode run failed"
[ -z "$(find "$work/out" -name '*.qcow2')" ] || { echo "FAILED: check mode wrote a disk" >&2; exit 1; }
! virsh -q -c qemu:///system domstate h2k-it-migrate 2>/dev/null || { echo "FAILED: check mode defined a domain" >&2; exit 1; }

recap="$(play)"
expect "$recap" 'changed=[1-9]' "first run changed nothing"
expect "$recap" 'failed=0' "first run failed"
grep -q 'h2k-fixture | migrated | pass' "$work/log" || { echo "FAILED: no passed boot check in the summary" >&2; exit 1; }
python - "$work/out/h2k-fixture" <<'PY'
import json, os, sys
folder = sys.argv[1]
run = json.load(open(os.path.dirname(folder) + "/run.json"))
assert [(o["vm"], o["status"], o["boot"]) for o in run["vms"]] == [("h2k-fixture", "migrated", "pass")], run
assert 'href="h2k-fixture/report.html"' in open(os.path.dirname(folder) + "/index.html").read()
assert os.path.exists(folder + "/disk0.qcow2.repair.json"), "no repair record"
report = json.load(open(folder + "/report.json"))
assert report["validate"]["passed"] is True, report["validate"]
assert report["repair"]["committed"] is True
assert any(s["path"] == "/etc/fstab" and s["status"] == "changed" for s in report["repair"]["steps"])
assert [s.get("method") for s in report["repair"]["steps"] if s.get("kernel")] == ["rebuild"], report["repair"]
assert report["define"]["actions"] == ["define"]
html = open(folder + "/report.html").read()
assert 'src="data:image/png;base64,iVBORw0KGgo' in html, "no embedded screenshot"
assert "H2K-BOOT-OK h2k-fixture" in html
print("report: boot %s in %ss, %d repair steps" % (report["validate"]["status"], report["validate"]["boot_seconds"],
                                                  len(report["repair"]["steps"])))
PY
[ "$(virsh -q -c qemu:///system domstate h2k-it-migrate)" = "shut off" ] || { echo "FAILED: domain not left shut off" >&2; exit 1; }
report_sum="$(sha256sum "$work/out/h2k-fixture/report.html")"

recap="$(play -v)"
expect "$recap" 'changed=0 .*failed=0' "second run was not idempotent"
# The repair answered from its record: no appliance launch for a guest that needs nothing.
sed -n '/TASK \[hyper2kvm.migrate.repair : Repair the guest/,/^TASK \[/p' "$work/log" | grep -q '"cached": true' \
  || { echo "FAILED: the rerun's repair did not come from its record" >&2; exit 1; }
recap="$(play --check)"
expect "$recap" 'changed=0 .*failed=0' "check mode after a run reports changes"
[ "$(sha256sum "$work/out/h2k-fixture/report.html")" = "$report_sum" ] || { echo "FAILED: a no-op rerun rewrote the report" >&2; exit 1; }

# Several VMs at once: the same guest as an unpacked OVF package (descriptor + manifest + disk in a
# directory; repair and boot were proven above), the OVA without repair (it cannot find its disk on
# virtio, so its boot check fails), and a VM whose source is gone.
mkdir -p "$work/ovfdir"
tar -C "$work/ovfdir" -xf "$fixture/h2k-fixture.ova"
cat >"$work/inventory/hosts.yml" <<YML
all:
  hosts:
    ovf-vm:
      h2k_source: {type: ovf, path: "$work/ovfdir/h2k-fixture.ovf"}
      h2k_domain_name: h2k-it-migrate-ovf
      h2k_output_dir: "$work/out-ovf"
      h2k_repair: false
      h2k_boot_check: false
    bad-vm:
      h2k_source: {type: ova, path: "$fixture/h2k-fixture.ova"}
      h2k_domain_name: h2k-it-migrate-bad
      h2k_output_dir: "$work/out-bad"
      h2k_repair: false
      h2k_boot_timeout: 600
    lost-vm:
      h2k_source: {type: ova, path: "$work/gone.ova"}
      h2k_output_dir: "$work/out-lost"
YML
run_all() {
  set +e
  ansible-playbook hyper2kvm.migrate.migrate -i "$work/inventory" "$@" >"$work/log" 2>&1
  rc=$?
  set -e
  cat "$work/log" >&2
}
run_all
[ "$rc" -ne 0 ] || { echo "FAILED: a run with failed VMs exited 0" >&2; exit 1; }
grep -Eq '^ovf-vm +:.* failed=0' "$work/log" || { echo "FAILED: the good VM did not migrate" >&2; exit 1; }
grep -Eq '^bad-vm +:.* failed=1' "$work/log" || { echo "FAILED: the VM that cannot boot did not fail" >&2; exit 1; }
grep -Eq '^lost-vm +:.* failed=1' "$work/log" || { echo "FAILED: the VM without source did not fail" >&2; exit 1; }
qemu-img compare -f raw -F qcow2 "$fixture/disk.raw" "$work/out-ovf/h2k-fixture/disk0.qcow2"
! virsh -q -c qemu:///system domstate h2k-it-migrate-bad 2>/dev/null || { echo "FAILED: the failed VM's domain was left defined" >&2; exit 1; }
[ -f "$work/out-bad/h2k-fixture/disk0.qcow2" ] || { echo "FAILED: cleanup removed the converted disk" >&2; exit 1; }
[ -z "$(find "$work/out-bad" -name '.*.partial' -o -name '.h2k-repair-*' -o -name '*.tmp')" ] || { echo "FAILED: leftovers" >&2; exit 1; }
[ -f "$fixture/h2k-fixture.ova" ] || { echo "FAILED: the source is gone" >&2; exit 1; }
python - "$work/out-ovf/run.json" <<'PY'
import json, sys
run = {o["vm"] if o["status"] == "migrated" else o["failed_task"]: o for o in json.load(open(sys.argv[1]))["vms"]}
assert len(run) == 3, run
assert run["h2k-fixture"]["status"] == "migrated", run
assert any("Boot the guest" in task for task in run), run
assert any("Discover the VM" in task for task in run), run
print("run report: %s" % sorted(run))
PY
inode="$(stat -c %i "$work/out-bad/h2k-fixture/disk0.qcow2")"

# A rerun resumes: the conversion is on record, only what failed is done again (here without the
# boot check, so the VM now gets its domain).
sed -i 's/      h2k_boot_timeout: 600/      h2k_boot_check: false/' "$work/inventory/hosts.yml"
run_all --limit bad-vm
[ "$rc" -eq 0 ] || { echo "FAILED: the resumed run failed" >&2; exit 1; }
[ "$(stat -c %i "$work/out-bad/h2k-fixture/disk0.qcow2")" = "$inode" ] || { echo "FAILED: the rerun converted again" >&2; exit 1; }
virsh -q -c qemu:///system domstate h2k-it-migrate-bad >/dev/null
echo "migrate playbook: check, convert + repair + define + isolated boot + report, idempotent rerun, per-VM failures with cleanup, resume: OK"
