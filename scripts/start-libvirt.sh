#!/usr/bin/env bash
# Make sure qemu:///system answers: start libvirtd (and virtlogd, which writes serial console logs)
# through systemd when it runs the machine, as plain daemons otherwise (containers, CI). Idempotent.
set -euo pipefail

answers() { virsh -q -c qemu:///system uri >/dev/null 2>&1; }

if answers && pgrep -x virtlogd >/dev/null; then
  exit 0
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  systemctl start virtlogd.socket libvirtd.socket libvirtd.service
else
  pgrep -x virtlogd >/dev/null || virtlogd -d
  answers || pgrep -x libvirtd >/dev/null || libvirtd -d
fi
for _ in $(seq 1 50); do
  answers && exit 0
  sleep 0.2
done
echo "start-libvirt: libvirtd does not answer on qemu:///system (see /var/log/libvirt/)" >&2
exit 1
