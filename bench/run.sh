#!/usr/bin/env bash
# Benchmarks (not tests): bash bench/run.sh import [N ...] | send [N] | followup [N [K]] | workers [N] | compare [N]
# Same Odoo, virtualenv and PostgreSQL as scripts/; a database of its own (BENCH_DB, default chorus_bench)
# with the module and no demo data. Prints a table and writes bench/results/<what>.json.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
export ODOO_CONF BENCH_DB="${BENCH_DB:-chorus_bench}"
start_postgres
[ -s "$ODOO_CONF" ] || write_odoo_conf
if ! PGPASSWORD=$PG_PASSWORD psql -h localhost -U "$PG_USER" -d postgres -tAc \
        "select 1 from pg_database where datname='$BENCH_DB'" | grep -q 1; then
    log "creating the benchmark database $BENCH_DB (the module, no demo data)"
    odoo_bin -c "$ODOO_CONF" -d "$BENCH_DB" -i l10n_fr_chorus_efacture --without-demo=all --stop-after-init \
        --no-http --log-level=warn
else
    # The module as this checkout has it (new fields, views), as scripts/run.sh does.
    odoo_bin -c "$ODOO_CONF" -d "$BENCH_DB" -u l10n_fr_chorus_efacture --stop-after-init --no-http --log-level=warn
fi
what="${1:-import}"; shift || true
case "$what" in
    import) exec "$PY" "$REPO_DIR/bench/bench_import.py" "$@" ;;
    send) exec "$PY" "$REPO_DIR/bench/bench_send.py" "$@" ;;
    followup) exec "$PY" "$REPO_DIR/bench/bench_followup.py" "$@" ;;
    workers) exec "$PY" "$REPO_DIR/bench/bench_workers.py" "$@" ;;
    compare) bash "$REPO_DIR/bench/compare_setup.sh" && exec "$PY" "$REPO_DIR/bench/bench_compare.py" "$@" ;;
    *) echo "usage: bench/run.sh import [N ...] | send [N] | followup [N [K]] | workers [N] | compare [N]" >&2
       exit 2 ;;
esac
