#!/usr/bin/env bash
# Command 1: set everything up, then run Odoo with the module, its demo data and the local Chorus Pro
# sandbox on http://localhost:8069 (admin/admin). Safe to run again.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DB="${CHORUS_DEMO_DB:-chorus_demo}"

setup_all

if curl -s -o /dev/null "http://127.0.0.1:$SANDBOX_PORT/_sandbox/state"; then
    log "Chorus Pro sandbox already running on port $SANDBOX_PORT"
else
    log "starting the Chorus Pro sandbox on port $SANDBOX_PORT (log: $CHORUS_HOME/sandbox.log)"
    nohup "$VENV/bin/chorus-pro-sandbox" --port "$SANDBOX_PORT" > "$CHORUS_HOME/sandbox.log" 2>&1 &
    for _ in $(seq 1 20); do
        curl -s -o /dev/null "http://127.0.0.1:$SANDBOX_PORT/_sandbox/state" && break
        sleep 0.5
    done
fi

installed=$(PGPASSWORD=$PG_PASSWORD psql -h localhost -U "$PG_USER" -d "$DB" -tAc \
    "select state from ir_module_module where name='l10n_fr_chorus_efacture'" 2>/dev/null || true)
# CHORUS_FRESH_DEMO=1: make the demo database again (demo data is only loaded when it is created).
if [ "$installed" != "installed" ] || [ -n "${CHORUS_FRESH_DEMO:-}" ]; then
    log "creating the demo database $DB with the module and its demo data (a few minutes the first time)"
    PGPASSWORD=$PG_PASSWORD dropdb -h localhost -U "$PG_USER" --if-exists "$DB"
    odoo_bin -c "$ODOO_CONF" -d "$DB" -i l10n_fr_chorus_efacture --load-language=fr_FR --stop-after-init \
        --log-level=warn || die "the module could not be installed in $DB"
    # The public buyer's first import and the customers' structure lookup, as their crons would do them: the
    # demo opens with received invoices (suppliers matched by IBAN or SIRET) and customers checked.
    log "importing the demo public buyer's invoices from the sandbox"
    echo 'env["chorus.inbound.invoice"]._cron_chorus_inbound_import(); env["res.partner"]._cron_chorus_check_structures(); env.cr.commit()' \
        | odoo_bin shell -c "$ODOO_CONF" -d "$DB" --no-http --log-level=warn \
        || die "the demo public buyer's first import failed"
else
    odoo_bin -c "$ODOO_CONF" -d "$DB" -u l10n_fr_chorus_efacture --stop-after-init --log-level=warn
fi

if curl -s -o /dev/null "http://127.0.0.1:$ODOO_PORT/web/login"; then
    log "something already listens on port $ODOO_PORT: stop it first (is Odoo already running?)"
    exit 1
fi
cat >&2 <<MSG

  Odoo 18 with l10n_fr_chorus_efacture:   http://localhost:$ODOO_PORT   (login admin / password admin)
  Chorus Pro sandbox:                      http://127.0.0.1:$SANDBOX_PORT  (state: /_sandbox/state)
  Settings > Invoicing > Chorus Pro, then "Check connection".
  Stop with Ctrl-C (the sandbox keeps running; kill it with: pkill -f chorus_sandbox).

MSG
exec_odoo() {
    local src
    src=$(odoo_source_dir)
    if [ -n "$src" ]; then
        exec "$PY" "$src/odoo-bin" -c "$ODOO_CONF" -d "$DB" --db-filter="^$DB\$" "$@"
    else
        exec "$VENV/bin/odoo" -c "$ODOO_CONF" -d "$DB" --db-filter="^$DB\$" "$@"
    fi
}
exec_odoo
