#!/usr/bin/env bash
# Build the collection artifact, install it into an empty collections path, and render the docs
# of every plugin with ansible-doc: what a user gets from Galaxy must work on its own.
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
echo "built, installed and documented $count plugins"
