#!/usr/bin/env bash
# Packaging check (run by .ci/run): the addon as integrators consume it.
#  1. build the addon's wheel (whool, OCA's builder) and the sandbox's, and check that the addon wheel's
#     metadata requires the Python dependencies its manifest declares;
#  2. a fresh virtualenv that has Odoo (the source tree and its requirements, as the set-up installed
#     them, through a .pth file) and only these two wheels installed (--no-deps);
#  3. install the module in a new database from that virtualenv (the addons path has Odoo's addons only,
#     not this repository), with no environment variable set, and run smoke tests there.
#   CHORUS_PACKAGE_TAGS=/l10n_fr_chorus_efacture bash scripts/package_check.sh   runs every test instead
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DB="${CHORUS_PACKAGE_DB:-chorus_package}"
TAGS="${CHORUS_PACKAGE_TAGS:-/l10n_fr_chorus_efacture:TestSandboxShapes,/l10n_fr_chorus_efacture:TestChorusInbound.test_import_pages_documents_and_idempotence}"
WORK="$CHORUS_HOME/package-check"
DIST="$WORK/dist"
PKG_VENV="$WORK/venv"

setup_all
src=$(odoo_source_dir)
[ -n "$src" ] || die "the packaging check needs Odoo as a source directory (ODOO_SRC or $ODOO_DEFAULT_DIR)"
rm -rf "$WORK"
mkdir -p "$DIST"

log "building the wheels (whool for the addon, setuptools for the sandbox)"
"$PY" -m pip wheel -q --no-deps -w "$DIST" "$REPO_DIR/l10n_fr_chorus_efacture" "$REPO_DIR/sandbox" \
    2>&1 | grep -v "^WARNING: Location" || true
rm -rf "$REPO_DIR/sandbox/build" "$REPO_DIR"/sandbox/*.egg-info
addon_wheel=$(ls "$DIST"/odoo_addon_l10n_fr_chorus_efacture-*.whl 2>/dev/null | head -1)
sandbox_wheel=$(ls "$DIST"/chorus_pro_sandbox-*.whl 2>/dev/null | head -1)
[ -n "$addon_wheel" ] && [ -n "$sandbox_wheel" ] || die "the wheels were not built (see above)"

log "checking the addon wheel's metadata against the manifest"
"$PY" - "$addon_wheel" "$REPO_DIR/l10n_fr_chorus_efacture/__manifest__.py" <<'PY'
import ast, re, sys, zipfile
wheel, manifest = sys.argv[1], sys.argv[2]
declared = ast.literal_eval(open(manifest, encoding="utf-8").read())["external_dependencies"]["python"]
with zipfile.ZipFile(wheel) as archive:
    metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    names = archive.namelist()
requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
normalized = {re.split(r"[ <>=!~;\[(]", r, 1)[0].lower().replace("_", "-") for r in requires}
missing = [d for d in declared if d.lower().replace("_", "-") not in normalized]
problems = ["Requires-Dist lacks %s (declared in the manifest)" % ", ".join(missing)] if missing else []
if not any(r.replace(" ", "").startswith("odoo==18.0") for r in requires):
    problems.append("Requires-Dist lacks odoo==18.0.*")
for needed in ("odoo/addons/l10n_fr_chorus_efacture/__manifest__.py",
               "odoo/addons/l10n_fr_chorus_efacture/i18n/fr.po",
               "odoo/addons/l10n_fr_chorus_efacture/static/tests/tours/chorus_send_tour.js"):
    if needed not in names:
        problems.append("the wheel lacks %s" % needed)
for problem in problems:
    print("PROBLEM: " + problem)
print("Requires-Dist: " + "; ".join(requires))
sys.exit(1 if problems else 0)
PY

log "a fresh virtualenv with Odoo, the wheels and the test requirements ($PKG_VENV)"
python3 -m venv "$PKG_VENV"
pkg_site=$("$PKG_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# Odoo 18 is on no registry: its source tree (a .pth file) and its requirements, from pip.
echo "$src" > "$pkg_site/odoo-src.pth"
pkg_pip() {
    # Odoo is a source tree here, not a distribution: pip's notes that odoo==18.0.* is missing are expected.
    "$PKG_VENV/bin/python" -m pip "$@" 2>&1 | grep -vE "^WARNING: Location|dependency resolver does not|requires odoo==18" || true
}
pkg_pip install -q -r "$CHORUS_HOME/odoo-requirements.txt"
# The wheels without their dependencies, then the dependencies their metadata names (odoo aside), and
# the test requirements (the sandbox from its wheel).
pkg_pip install -q --no-deps "$addon_wheel" "$sandbox_wheel"
deps=$("$PKG_VENV/bin/python" -c "
import importlib.metadata as m
print(' '.join(r for name in ('odoo-addon-l10n_fr_chorus_efacture', 'chorus-pro-sandbox')
      for r in (m.requires(name) or []) if not r.startswith('odoo')))")
test_deps=$(grep -vE '^\s*(#|$|\./)' "$REPO_DIR/test-requirements.txt" | tr '\n' ' ')
# shellcheck disable=SC2086
pkg_pip install -q $deps $test_deps
"$PKG_VENV/bin/python" -m pip check 2>&1 | grep -v "odoo\|^WARNING: Location" || true

cat > "$WORK/odoo.conf" <<CONF
[options]
addons_path = $src/addons,$src/odoo/addons
db_host = localhost
db_port = 5432
db_user = $PG_USER
db_password = $PG_PASSWORD
data_dir = $WORK/data
admin_passwd = admin
chorus_encryption_key = $(cat "$CHORUS_HOME/encryption.key")
CONF
run_clean() { env -i HOME="$HOME" PATH="$PKG_VENV/bin:/usr/local/bin:/usr/bin:/bin" "$@"; }
where=$(run_clean "$PKG_VENV/bin/python" -c "
import odoo
odoo.tools.config.parse_config(['-c', '$WORK/odoo.conf'])
from odoo.modules.module import get_module_path
import chorus_sandbox
print(get_module_path('l10n_fr_chorus_efacture'), chorus_sandbox.__file__)")
echo "module and sandbox used: $where"
case "$where" in
    "$pkg_site"/odoo/addons/l10n_fr_chorus_efacture\ "$pkg_site"/chorus_sandbox/*) ;;
    *) die "the module or the sandbox does not come from the wheels installed in $PKG_VENV" ;;
esac

log "installing the module from the wheel in a new database $DB, tests $TAGS"
PGPASSWORD=$PG_PASSWORD dropdb -h localhost -U "$PG_USER" --if-exists "$DB"
set +e
run_clean "$PKG_VENV/bin/python" "$src/odoo-bin" -c "$WORK/odoo.conf" -d "$DB" -i l10n_fr_chorus_efacture \
    --test-enable --test-tags "$TAGS" --stop-after-init --http-port "${TEST_HTTP_PORT:-8169}" --log-level=test \
    > "$WORK/test.log" 2>&1
status=$?
set -e
grep -E "ERROR|FAIL|tests when loading" "$WORK/test.log" | grep -v "^$" || true
result=$(grep -Eo "[0-9]+ failed, [0-9]+ error\(s\) of [0-9]+ tests" "$WORK/test.log" | tail -1)
case "$result" in
    "0 failed, 0 error(s) of "*) [ "$status" = 0 ] || die "packaging check failed (exit $status): see $WORK/test.log" ;;
    *) die "packaging check failed (exit $status, ${result:-no test ran}): see $WORK/test.log" ;;
esac

log "without the test requirement chorus-pro-sandbox, the module loads and its tests say how to get it"
pkg_pip uninstall -q -y chorus-pro-sandbox
set +e
run_clean "$PKG_VENV/bin/pytest" --odoo-config="$WORK/odoo.conf" --odoo-database="$DB" -q -p no:warnings \
    -p no:cacheprovider "$pkg_site/odoo/addons/l10n_fr_chorus_efacture/tests/test_client.py" -k test_health_check \
    > "$WORK/no-sandbox.log" 2>&1
set -e
PGPASSWORD=$PG_PASSWORD dropdb -h localhost -U "$PG_USER" --if-exists "$DB"
grep -q "SandboxMissing: The Chorus Pro sandbox (package chorus-pro-sandbox) is not installed" "$WORK/no-sandbox.log" \
    || die "without the sandbox, the tests did not fail with the line saying to install it: see $WORK/no-sandbox.log"
grep -m1 "SandboxMissing:" "$WORK/no-sandbox.log"
log "packaging check passed: $result (log: $WORK/test.log)"
