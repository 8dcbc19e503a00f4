#!/usr/bin/env bash
# Command 2: run every test with Odoo's own test runner (TransactionCase and HttpCase tours) on a
# fresh database, then the same tests under pytest-odoo on that database (browser tours only run under
# Odoo's runner: see conftest.py), then the real-process suite (process_tests/) on a copy of it. The
# client and sandbox tests run in both runners, against an in-process sandbox. Prints "N passed,
# N failed" last (all together); exits non-zero on any failure, error, skipped test, or warning logged
# while the module installs.
#   TEST_TAGS=/l10n_fr_chorus_efacture:TestChorusClient bash scripts/test.sh   runs one class in both
#   CHORUS_PYTEST=0 / CHORUS_PROCESS=0 bash scripts/test.sh                     without pytest / real processes
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DB="${CHORUS_TEST_DB:-chorus_test}"
TAGS="${TEST_TAGS:-/l10n_fr_chorus_efacture}"

setup_all
LOG="$CHORUS_HOME/test.log"
PYTEST_XML="$CHORUS_HOME/pytest.xml"
rm -f "$PYTEST_XML"
PGPASSWORD=$PG_PASSWORD dropdb -h localhost -U "$PG_USER" --if-exists "$DB"
log "running the tests with Odoo's runner on a new database $DB (log: $LOG)"
set +e
# account_peppol beside the module, as in the databases of users of Odoo's own e-invoicing (l10n_fr_pdp's base).
odoo_bin -c "$ODOO_CONF" -d "$DB" -i l10n_fr_chorus_efacture,account_peppol --test-enable --test-tags "$TAGS" \
    --stop-after-init --http-port "${TEST_HTTP_PORT:-8169}" --log-level=test 2>&1 | tee "$LOG" \
    | grep -E "ERROR|FAIL|WARNING|Ran [0-9]+ test|tests when loading|Starting .*Test|skipped" | grep -v "^$"
status=${PIPESTATUS[0]}
pytest_status=-
if [ "${CHORUS_PYTEST:-1}" != 0 ]; then
    # The same selection as TEST_TAGS, by class or method name (the part after "module:").
    selection=$(printf '%s' "$TAGS" | tr ',' '\n' | sed -n 's/^[^:]*:\(.*\)$/\1/p' | tr '.' ' ' | paste -sd' ' -)
    filter=()
    if [ -n "$selection" ]; then
        filter=(-k "$(printf '%s' "$selection" | sed 's/ \+/ or /g')")
    fi
    log "running the same tests under pytest-odoo on $DB (log: $CHORUS_HOME/pytest.log)"
    (cd "$REPO_DIR" && "$VENV/bin/pytest" --odoo-config="$ODOO_CONF" --odoo-database="$DB" -q -p no:warnings \
        -p no:cacheprovider --junitxml="$PYTEST_XML" "${filter[@]}") > "$CHORUS_HOME/pytest.log" 2>&1
    pytest_status=$?
    grep -E "^(FAILED|ERROR)|[0-9]+ (passed|failed)" "$CHORUS_HOME/pytest.log"
fi
process_status=-
PROCESS_LOG="$CHORUS_HOME/process.log"
if [ "${CHORUS_PROCESS:-1}" != 0 ] && [ -z "${TEST_TAGS:-}" ]; then
    # Real processes, real commits: on a copy of the test database (the module and its demo data).
    PROCESS_DB="${DB}_process"
    log "running the real-process suite on $PROCESS_DB (log: $PROCESS_LOG)"
    PGPASSWORD=$PG_PASSWORD dropdb -h localhost -U "$PG_USER" --if-exists "$PROCESS_DB"
    PGPASSWORD=$PG_PASSWORD createdb -h localhost -U "$PG_USER" -T "$DB" "$PROCESS_DB"
    "$PY" "$REPO_DIR/process_tests/run.py" --config "$ODOO_CONF" --database "$PROCESS_DB" > "$PROCESS_LOG" 2>&1
    process_status=$?
    PGPASSWORD=$PG_PASSWORD dropdb -h localhost -U "$PG_USER" --if-exists "$PROCESS_DB"
fi
set -e
"$PY" "$REPO_DIR/scripts/test_summary.py" "$LOG" "$status" "$PYTEST_XML" "$pytest_status" "$PROCESS_LOG" \
    "$process_status"
