#!/usr/bin/env bash
# Runs every test of hyper2kvm.migrate on this machine, doing all set-up first (scripts/setup.sh,
# the cached fixture guest). Usage: scripts/test.sh [stage ...]
#   stages: sanity units integration lint build e2e molecule (default: all, in that order)
# Ends with one line "N passed, N failed" (test cases from pytest's JUnit files, one per other stage).
set -uo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STAGES=("$@")
[ ${#STAGES[@]} -gt 0 ] || STAGES=(sanity units integration lint build e2e molecule)
OUT="$REPO_ROOT/tests/output/run"
PASSED=0
FAILED=0
FAILED_STAGES=()

bash "$REPO_ROOT/scripts/setup.sh" || die "set-up failed"
activate_env
rm -rf "$OUT" && mkdir -p "$OUT"

wants() { local s; for s in "${STAGES[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

# ansible-test only works inside a real .../ansible_collections/<ns>/<name> directory (no
# symlink); copy the working tree there, .git included so it can tell our files from others.
STAGE_ROOT="$HYPER2KVM_CACHE/stage"
COLL="$STAGE_ROOT/ansible_collections/hyper2kvm/migrate"
mkdir -p "$COLL"
rsync -a --delete --exclude /tests/output "$REPO_ROOT/" "$COLL/"
rm -rf "$COLL/tests/output"
export ANSIBLE_COLLECTIONS_PATH="$STAGE_ROOT:$COLLECTIONS_DIR"

# JUnit files -> counts; a stage without one counts as one test.
count_junit() {
  python - "$@" <<'PY'
import sys, xml.etree.ElementTree as ET
passed = failed = 0
for path in sys.argv[1:]:
    root = ET.parse(path).getroot()
    for suite in ([root] if root.tag == "testsuite" else root.iter("testsuite")):
        tests = int(suite.get("tests", 0)); bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped = int(suite.get("skipped", 0))
        passed += tests - bad - skipped; failed += bad
print(passed, failed)
PY
}

run_stage() {
  local name="$1"; shift
  local rc p f
  log "stage $name: $*"
  ( cd "$COLL" && "$@" ) 2>&1 | tee "$OUT/$name.log"
  rc=${PIPESTATUS[0]}
  if compgen -G "$OUT/$name*.junit.xml" >/dev/null; then
    read -r p f < <(count_junit "$OUT"/"$name"*.junit.xml)
  elif [ "$rc" -eq 0 ]; then p=1; f=0; else p=0; f=1; fi
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
  if [ "$rc" -ne 0 ]; then FAILED_STAGES+=("$name"); log "stage $name FAILED (rc=$rc)"; fi
}

fixture_dir() {
  bash "$REPO_ROOT/tests/fixtures/guest/build.sh" | tail -n 1
}

if wants sanity; then
  run_stage sanity ansible-test sanity --python 3.11 --color no
fi
if wants units; then
  run_stage units bash -c "ansible-test units --python 3.11 --color no --requirements; rc=\$?; for f in tests/output/junit/*units*.xml; do cp \"\$f\" '$OUT'/units-\$(basename \"\$f\" .xml).junit.xml; done; exit \$rc"
fi
if wants integration || wants e2e || wants molecule; then
  bash "$REPO_ROOT/scripts/start-libvirt.sh" || { FAILED=$((FAILED + 1)); FAILED_STAGES+=(libvirt); }
  FIXTURES="$(fixture_dir)" || { FAILED=$((FAILED + 1)); FAILED_STAGES+=(fixture); FIXTURES=""; }
  export HYPER2KVM_FIXTURES="$FIXTURES"
fi
if wants integration; then
  cat >"$COLL/tests/integration/integration_config.yml" <<YML
---
h2k_fixture_dir: "$FIXTURES"
YML
  run_stage integration ansible-test integration --python 3.11 --color no
  # One test per target: ansible-test stops at the first failing target, so on success all passed.
  if [ "${FAILED_STAGES[*]}" = "${FAILED_STAGES[*]/integration/}" ]; then
    PASSED=$((PASSED - 1 + $(find "$COLL/tests/integration/targets" -mindepth 1 -maxdepth 1 -type d ! -name 'setup_*' | wc -l)))
  fi
fi
if wants lint; then
  run_stage lint ansible-lint --offline --profile production
fi
if wants build; then
  run_stage build bash "$REPO_ROOT/scripts/check-build.sh"
fi
if wants e2e; then
  run_stage e2e python -m pytest tests/e2e -v -p no:cacheprovider --junitxml "$OUT/e2e.junit.xml"
fi
if wants molecule; then
  # converge + idempotence + verify of migrate.yml on a fixture variant (extensions/molecule/default).
  run_stage molecule molecule test -s default
fi

if [ ${#FAILED_STAGES[@]} -gt 0 ]; then
  log "failed stages: ${FAILED_STAGES[*]} (logs in $OUT)"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
