#!/usr/bin/env bash
# Shared settings and helpers for the set-up, run and test scripts.
# Everything installed lands outside the repository, under $CHORUS_HOME.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHORUS_HOME="${CHORUS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/l10n_fr_chorus_efacture}"
VENV="${CHORUS_VENV:-$CHORUS_HOME/venv}"
ODOO_DEFAULT_DIR="$CHORUS_HOME/odoo-18.0"
ODOO_UPSTREAM="${ODOO_UPSTREAM:-https://github.com/odoo/odoo.git}"
PG_USER="${PG_USER:-odoo}"
PG_PASSWORD="${PG_PASSWORD:-odoo}"
ODOO_CONF="$CHORUS_HOME/odoo.conf"
SANDBOX_PORT="${SANDBOX_PORT:-8787}"
ODOO_PORT="${ODOO_PORT:-8069}"
PY="$VENV/bin/python"

log() { printf '\033[1m[chorus]\033[0m %s\n' "$*" >&2; }
die() { printf '[chorus] ERROR: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_system_packages() {
    local missing=()
    command -v pg_ctlcluster >/dev/null || missing+=(postgresql postgresql-contrib)
    command -v chromium >/dev/null || missing+=(chromium)
    command -v wkhtmltopdf >/dev/null || missing+=(wkhtmltopdf)
    [ -e /usr/include/postgresql/libpq-fe.h ] || missing+=(libpq-dev)
    [ -e /usr/include/ldap.h ] || missing+=(libldap2-dev libsasl2-dev)
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

start_postgres() {
    # Debian's cluster, on localhost, with a dedicated role: Odoo refuses the postgres role.
    local cluster
    cluster=$(pg_lsclusters --no-header | awk 'NR==1{print $1" "$2}')
    [ -n "$cluster" ] || die "no PostgreSQL cluster found (pg_lsclusters is empty)"
    # shellcheck disable=SC2086
    if ! pg_lsclusters --no-header | awk 'NR==1{print $4}' | grep -q online; then
        log "starting PostgreSQL $cluster"
        as_root pg_ctlcluster $cluster start
    fi
    for _ in $(seq 1 30); do
        as_root su postgres -c "psql -qtAc 'select 1'" >/dev/null 2>&1 && break
        sleep 1
    done
    if ! as_root su postgres -c "psql -qtAc \"select 1 from pg_roles where rolname='$PG_USER'\"" | grep -q 1; then
        log "creating PostgreSQL role $PG_USER"
        as_root su postgres -c "psql -qc \"create role $PG_USER login createdb password '$PG_PASSWORD'\""
    fi
}

odoo_source_dir() {
    # Where Odoo 18 comes from: ODOO_SRC (a directory, or a pip requirement), else a clone of
    # upstream's 18.0 branch kept in $CHORUS_HOME.
    if [ -n "${ODOO_SRC:-}" ]; then
        if [ -d "$ODOO_SRC" ]; then echo "$ODOO_SRC"; else echo ""; fi
        return
    fi
    echo "$ODOO_DEFAULT_DIR"
}

check_odoo_dir() {
    local dir="$1"
    [ -f "$dir/odoo/release.py" ] || return 1
    grep -qE "^version_info = \(18, 0," "$dir/odoo/release.py"
}

install_python() {
    mkdir -p "$CHORUS_HOME"
    if [ ! -x "$PY" ]; then
        log "creating virtualenv $VENV"
        python3 -m venv "$VENV"
        "$PY" -m pip install -q --upgrade pip wheel setuptools
    fi
    local src
    src=$(odoo_source_dir)
    if [ -z "$src" ]; then
        case "$ODOO_SRC" in
            /*|./*|../*|~*) die "ODOO_SRC=$ODOO_SRC does not exist: give an Odoo 18.0 source directory or a pip requirement" ;;
        esac
        # ODOO_SRC is a pip requirement (a version, an archive or a VCS address).
        rm -f "$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/odoo-src.pth"
        if ! "$PY" -c 'import odoo.release as r, sys; sys.exit(r.version_info[:2] != (18, 0))' 2>/dev/null; then
            log "installing Odoo from pip requirement: $ODOO_SRC"
            "$PY" -m pip install -q "$ODOO_SRC" || die "could not install Odoo 18 from ODOO_SRC=$ODOO_SRC"
        fi
    else
        if ! check_odoo_dir "$src"; then
            if [ -n "${ODOO_SRC:-}" ]; then
                die "ODOO_SRC=$ODOO_SRC is not an Odoo 18.0 source tree (no odoo/release.py with version 18.0)"
            fi
            log "cloning Odoo 18.0 from $ODOO_UPSTREAM into $src"
            rm -rf "$src"
            git clone -q --depth 1 --branch 18.0 "$ODOO_UPSTREAM" "$src" 2>/dev/null || die \
                "Odoo 18 is not available: set ODOO_SRC to an Odoo 18.0 source directory or a pip requirement (upstream $ODOO_UPSTREAM could not be cloned)"
        fi
        local stamp="$VENV/.odoo-requirements.sha1" sum
        sum=$(cat "$src/requirements.txt" "$REPO_DIR/requirements.txt" | sha1sum | cut -d' ' -f1)
        if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
            log "installing Odoo's Python requirements"
            # cbor2 5.4.2 does not build on Python 3.11; 5.6.2 ships a wheel.
            sed -E 's/^cbor2==5\.4\.2.*/cbor2==5.6.2/' "$src/requirements.txt" > "$CHORUS_HOME/odoo-requirements.txt"
            "$PY" -m pip install -q -r "$CHORUS_HOME/odoo-requirements.txt"
            "$PY" -m pip install -q -r "$REPO_DIR/requirements.txt"
            echo "$sum" > "$stamp"
        fi
        # Make `import odoo` work without building Odoo: a .pth file pointing at the source tree.
        local site
        site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        echo "$src" > "$site/odoo-src.pth"
    fi
    "$PY" -c 'import odoo.release as r, sys; sys.exit(r.version_info[:2] != (18, 0))' 2>/dev/null || \
        die "Odoo 18 cannot be imported from $VENV: set ODOO_SRC to an Odoo 18.0 source directory or a pip requirement"
}

addons_path() {
    local src
    src=$(odoo_source_dir)
    if [ -n "$src" ]; then
        echo "$src/addons,$src/odoo/addons,$REPO_DIR"
    else
        echo "$REPO_DIR"
    fi
}

write_odoo_conf() {
    mkdir -p "$CHORUS_HOME"
    # The encryption key of the Chorus Pro secrets: generated once per machine, never in the repository.
    local keyfile="$CHORUS_HOME/encryption.key"
    if [ ! -s "$keyfile" ]; then
        ( umask 077; "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$keyfile" )
    fi
    ( umask 077; cat > "$ODOO_CONF" <<CONF
[options]
addons_path = $(addons_path)
db_host = localhost
db_port = 5432
db_user = $PG_USER
db_password = $PG_PASSWORD
data_dir = $CHORUS_HOME/data
http_port = $ODOO_PORT
admin_passwd = admin
chorus_encryption_key = $(cat "$keyfile")
CONF
    )
}

odoo_bin() {
    local src
    src=$(odoo_source_dir)
    if [ -n "$src" ]; then "$PY" "$src/odoo-bin" "$@"; else "$VENV/bin/odoo" "$@"; fi
}

require_browser_test_deps() {
    command -v chromium >/dev/null || die "Chromium is missing: browser tests cannot run (apt-get install chromium)"
    "$PY" -c 'import websocket' 2>/dev/null || die "the websocket-client package is missing: Odoo would skip browser tests silently"
}

install_test_requirements() {
    # test-requirements.txt (the sandbox package, pytest-odoo, websocket-client), as OCA repositories
    # install them; the sandbox is reinstalled whenever its files change.
    local stamp="$VENV/.test-requirements.sha1" sum
    sum=$( (cat "$REPO_DIR/test-requirements.txt"
            cd "$REPO_DIR" && find sandbox -type f -not -path '*/__pycache__/*' -not -path '*.egg-info/*' \
                -not -path 'sandbox/build/*' | sort | xargs sha1sum) | sha1sum | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
        log "installing the test requirements (test-requirements.txt)"
        (cd "$REPO_DIR" && "$PY" -m pip install -q -r test-requirements.txt \
            && "$PY" -m pip install -q --no-deps --force-reinstall ./sandbox) \
            || die "the test requirements could not be installed (pip install -r test-requirements.txt)"
        rm -rf "$REPO_DIR/sandbox/build" "$REPO_DIR"/sandbox/*.egg-info
        echo "$sum" > "$stamp"
    fi
}

setup_all() {
    install_system_packages
    start_postgres
    install_python
    install_test_requirements
    write_odoo_conf
    require_browser_test_deps
}
