"""Everything a user reads is translated in i18n/fr.po."""

import polib

from odoo.modules.module import get_module_path
from odoo.tests import TransactionCase, tagged
from odoo.tools.translate import TranslationModuleReader


@tagged("post_install", "-at_install", "chorus_i18n")
class TestTranslations(TransactionCase):

    def test_every_term_has_a_french_translation(self):
        po = polib.pofile(get_module_path("l10n_fr_chorus_efacture") + "/i18n/fr.po")
        translated = {entry.msgid for entry in po if entry.msgstr and not entry.obsolete}
        terms = {src for _module, _type, _name, _res_id, src, _value, _comments
                 in TranslationModuleReader(self.env.cr, ["l10n_fr_chorus_efacture"]) if src}
        self.assertGreater(len(terms), 200)
        missing = sorted(terms - translated)
        self.assertEqual(missing, [], "terms missing from i18n/fr.po (export the .pot and translate them)")

    def test_french_is_served(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"].search([("name", "=", "l10n_fr_chorus_efacture")])._update_translations(
            ["fr_FR"])
        selection = dict(self.env["account.move"].with_context(lang="fr_FR")._fields["chorus_invoice_status"]
                         ._description_selection(self.env(context={"lang": "fr_FR"})))
        self.assertEqual(selection["MISE_EN_PAIEMENT"], "Mise en paiement")
        action = self.env.ref("l10n_fr_chorus_efacture.action_chorus_send").with_context(lang="fr_FR")
        self.assertEqual(action.name, "Envoyer à Chorus Pro")
