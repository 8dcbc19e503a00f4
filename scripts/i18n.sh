#!/usr/bin/env bash
# Export the module's .pot from a database where it is installed (default: the test database that
# scripts/test.sh leaves), merge it into i18n/fr.po, and list the entries still to translate.
#   bash scripts/i18n.sh [database]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DB="${1:-${CHORUS_TEST_DB:-chorus_test}}"
I18N="$REPO_DIR/l10n_fr_chorus_efacture/i18n"
odoo_bin -c "$ODOO_CONF" -d "$DB" --i18n-export="$I18N/l10n_fr_chorus_efacture.pot" \
    --modules=l10n_fr_chorus_efacture --log-level=warn --stop-after-init
msgmerge --quiet --update --backup=none --no-fuzzy-matching "$I18N/fr.po" "$I18N/l10n_fr_chorus_efacture.pot"
"$PY" - "$I18N/fr.po" <<'PY'
import sys
import polib
po = polib.pofile(sys.argv[1])
obsolete = po.obsolete_entries()
for entry in obsolete:
    po.remove(entry)
po.save()
todo = [entry for entry in po if not entry.msgstr]
for entry in todo:
    print("TO TRANSLATE:", entry.msgid.replace("\n", "\\n"))
print("%d entries, %d to translate, %d obsolete removed" % (len(po), len(todo), len(obsolete)))
PY
