#!/usr/bin/env bash
# Build the collection artifact, install it into an empty collections path, and render the docs
# of every plugin and role with ansible-doc: what a user gets from Galaxy must work on its own.
set -euo pipefail
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
ansible-galaxy collection build --output-path "$work" .
# Only the built artifact may be visible: not the checkout, not the vendored collections.
export ANSIBLE_COLLECTIONS_PATH="$work/install"
ansible-galaxy collection install --offline --force -p "$work/install" "$work"/hyper2kvm-migrate-*.tar.gz
count=0
for kind in module inventory; do
  for plugin in $(ansible-doc -t "$kind" -l hyper2kvm.migrate --json | python -c 'import json,sys; print(" ".join(json.load(sys.stdin)))'); do
    ansible-doc -t "$kind" "$plugin" >"$work/doc.txt" || { echo "ansible-doc failed for $plugin" >&2; exit 1; }
    grep -q "OPTIONS\|EXAMPLES" "$work/doc.txt" || { echo "no docs rendered for $plugin" >&2; exit 1; }
    count=$((count + 1))
  done
done
[ "$count" -gt 0 ] || { echo "no plugins found in the built collection" >&2; exit 1; }
roles=0
for role in $(ansible-doc -t role -l hyper2kvm.migrate --json | python -c 'import json,sys; print(" ".join(json.load(sys.stdin)))'); do
  ansible-doc -t role "$role" >"$work/doc.txt" || { echo "ansible-doc failed for role $role" >&2; exit 1; }
  grep -q "ENTRY POINT: \*main\*" "$work/doc.txt" || { echo "no argument specs rendered for role $role" >&2; exit 1; }
  roles=$((roles + 1))
done
[ "$roles" -ge 8 ] || { echo "expected the 8 roles in the built collection, found $roles" >&2; exit 1; }
echo "built, installed and documented $count plugins and $roles roles"
