#!/usr/bin/env bash
# OCA's Chorus Pro modules beside ours, for bench/run.sh compare: their wheels (PyPI), unpacked outside the
# repository under $CHORUS_HOME/oca, a configuration file of their own and a database of their own (OCA_DB,
# default chorus_bench_oca). Idempotent: downloads and installs only what is missing.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
OCA_HOME="$CHORUS_HOME/oca"
OCA_CONF="$OCA_HOME/odoo.conf"
OCA_DB="${OCA_DB:-chorus_bench_oca}"
# The versions this benchmark was written against (Odoo 18.0 series of OCA/l10n-france and its closure).
OCA_WHEELS=(
    odoo-addon-l10n_fr_chorus_facturx==18.0.1.0.0.4
    odoo-addon-l10n_fr_chorus_account==18.0.1.2.0.1
    odoo-addon-l10n_fr_siret_account==18.0.1.1.0
    odoo-addon-l10n_fr_siret==18.0.1.4.0.2
    odoo-addon-server_environment==18.0.1.1.5
    odoo-addon-l10n_fr_account_invoice_facturx==18.0.1.0.0.2
    odoo-addon-account_invoice_facturx==18.0.2.1.0.2
    odoo-addon-account_einvoice_generate==18.0.1.0.0.7
    odoo-addon-base_facturx==18.0.1.0.0.3
    odoo-addon-account_tax_unece==18.0.2.3.0
    odoo-addon-account_payment_unece==18.0.1.0.0.8
    odoo-addon-account_payment_method_base==18.0.1.0.0.10
    odoo-addon-uom_unece==18.0.1.0.0.7
    odoo-addon-base_unece==18.0.1.0.0.6
    odoo-addon-base_view_inheritance_extension==18.0.1.0.3.3
)

mkdir -p "$OCA_HOME/wheels" "$OCA_HOME/site"
# Their metadata requires odoo==18.0.*, which no registry has (Odoo runs from its source tree): --no-deps.
for requirement in "${OCA_WHEELS[@]}"; do
    name="${requirement%%==*}"; version="${requirement##*==}"
    wheel="${name//-/_}-$version-py3-none-any.whl"
    if [ ! -s "$OCA_HOME/wheels/$wheel" ]; then
        log "downloading $requirement"
        "$PY" -m pip download -q --no-deps --dest "$OCA_HOME/wheels" "$requirement" 2>&1 \
            | { grep -v "^WARNING: Location" || true; }
    fi
    [ -s "$OCA_HOME/wheels/$wheel" ] || die "$wheel could not be downloaded"
    addon="${name#odoo-addon-}"
    if [ ! -f "$OCA_HOME/site/odoo/addons/$addon/__manifest__.py" ]; then
        "$PY" -m zipfile -e "$OCA_HOME/wheels/$wheel" "$OCA_HOME/site"
    fi
done
# requests_oauthlib (l10n_fr_chorus_account), for the OCA processes only (PYTHONPATH): not in the venv.
if ! PYTHONPATH="$OCA_HOME/pylib" "$PY" -c "import requests_oauthlib, oauthlib" 2>/dev/null; then
    log "installing requests_oauthlib into $OCA_HOME/pylib"
    "$PY" -m pip install -q --no-deps --target "$OCA_HOME/pylib" requests_oauthlib==2.0.0 oauthlib==4.0.1 2>&1 \
        | { grep -v "^WARNING: Location" || true; }
fi

# Same server settings as ours, OCA's addons instead of this repository, PISTE identifiers of the sandbox.
src=$(odoo_source_dir)
sed -e "s#^addons_path = .*#addons_path = $src/addons,$src/odoo/addons,$OCA_HOME/site/odoo/addons#" \
    "$ODOO_CONF" > "$OCA_CONF.new"
cat >> "$OCA_CONF.new" <<CONF
chorus_api_oauth_id = sandbox-client-id
chorus_api_oauth_secret = sandbox-client-secret
running_env = dev
CONF
chmod 600 "$OCA_CONF.new"
mv "$OCA_CONF.new" "$OCA_CONF"

export PYTHONPATH="$OCA_HOME/pylib${PYTHONPATH:+:$PYTHONPATH}"
if ! PGPASSWORD=$PG_PASSWORD psql -h localhost -U "$PG_USER" -d postgres -tAc \
        "select 1 from pg_database where datname='$OCA_DB'" | grep -q 1; then
    log "creating the OCA benchmark database $OCA_DB (l10n_fr_chorus_facturx, no demo data)"
    odoo_bin -c "$OCA_CONF" -d "$OCA_DB" -i l10n_fr_chorus_facturx,base_iban,l10n_fr_account --without-demo=all \
        --stop-after-init --no-http --log-level=warn
fi
