#!/usr/bin/env bash
# Command 2: run every test with Odoo's own test runner (TransactionCase and HttpCase tours) on a
# fresh database; the client and sandbox tests run in the same run, against an in-process sandbox.
# Prints "N passed, N failed" last; exits non-zero on any failure, error, skipped browser test,
# or warning logged while the module installs.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DB="${CHORUS_TEST_DB:-chorus_test}"
TAGS="${TEST_TAGS:-/l10n_fr_chorus_efacture}"

setup_all
LOG="$CHORUS_HOME/test.log"
PGPASSWORD=$PG_PASSWORD dropdb -h localhost -U "$PG_USER" --if-exists "$DB"
log "running the tests on a new database $DB (log: $LOG)"
set +e
odoo_bin -c "$ODOO_CONF" -d "$DB" -i l10n_fr_chorus_efacture --test-enable --test-tags "$TAGS" \
    --stop-after-init --http-port "${TEST_HTTP_PORT:-8169}" --log-level=test 2>&1 | tee "$LOG" \
    | grep -E "ERROR|FAIL|WARNING|Ran [0-9]+ test|tests when loading|Starting .*Test|skipped" | grep -v "^$"
status=${PIPESTATUS[0]}
set -e
"$PY" "$REPO_DIR/scripts/test_summary.py" "$LOG" "$status"
