"""What a French user reads of the module is French: the messages its steps raise, post and keep, whether a user
or a scheduled action (whose own user may read English) wrote them, with Chorus Pro's statuses in French."""

import re

import polib

from odoo.exceptions import UserError
from odoo.modules.module import get_module_path
from odoo.tests import tagged

from ..tools.statuses import CHORUS_INVOICE_STATUSES
from .test_inbound import RECEIVED_GET, BuyerCase
from .test_send import ChorusSendCommon

PLACEHOLDER = re.compile(r"%\(\w+\)s|%s|%d")


def english_fragments():
    """Pieces of the module's English messages (between placeholders, 20 characters or more) whose French
    differs: none may be in what a French user reads."""
    po = polib.pofile(get_module_path("l10n_fr_chorus_efacture") + "/i18n/fr.po")
    fragments = set()
    for entry in po:
        if entry.msgstr and entry.msgstr != entry.msgid:
            fragments |= {piece.strip() for piece in PLACEHOLDER.split(entry.msgid) if len(piece.strip()) >= 20}
    return fragments


class FrenchMixin:
    """fr_FR active with the module's translations; the company, its users and nobody else French."""

    @classmethod
    def make_french(cls, company, *users):
        cls.env["res.lang"]._activate_lang("fr_FR")
        cls.env["ir.module.module"].search([("name", "=", "l10n_fr_chorus_efacture")])._update_translations(["fr_FR"])
        (company.partner_id | cls.env["res.users"].browse([user.id for user in users]).partner_id).write(
            {"lang": "fr_FR"})
        cls.fragments = english_fragments()
        cls.english_statuses = {label for _code, label in CHORUS_INVOICE_STATUSES}

    def setUp(self):
        super().setUp()
        # As the web client calls: in the user's language.
        self.env = self.env(context=dict(self.env.context, lang="fr_FR"))
        self.Inbound = self.env["chorus.inbound.invoice"]

    def assertFrench(self, texts):
        for text in texts:
            self.assertTrue(text, "nothing to read")
            english = [fragment for fragment in self.fragments if fragment in text]
            self.assertFalse(english, "English in a French user's text %r" % text)
            statuses = [label for label in self.english_statuses if re.search(r"\b%s\b" % re.escape(label), text)]
            self.assertFalse(statuses, "an English status in %r" % text)

    def refusal(self, function, *args, **kwargs):
        with self.assertRaises(UserError) as refused:
            function(*args, **kwargs)
        return refused.exception.args[0]

    @staticmethod
    def chatter(record):
        record.invalidate_recordset(["message_ids"])
        return [re.sub("<[^>]+>", "", message.body) for message in record.message_ids if message.body]


@tagged("post_install", "-at_install", "chorus_i18n")
class TestFrenchBuyer(FrenchMixin, BuyerCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.make_french(cls.company, cls.clerk, cls.validator)

    def test_processing_in_french(self):
        self.run_import()
        first, second, third = self.received()[:3]
        undated = self.processing_wizard(first, new_status="SERVICE_FAIT", service_done_date=False)
        texts = [self.refusal(self.process, first, "REJETEE"), self.refusal(self.process, first, "SUSPENDUE"),
                 self.refusal(undated.action_confirm)]
        self.assertIn("Rejetée", texts[0])
        # Service fait without a reason: the supplier reads the day it was found done, in French.
        self.processing_wizard(third, new_status="SERVICE_FAIT", service_done_date="2026-11-20").action_confirm()
        self.assertEqual(self.chorus(third)["commentaire"], "Service fait le 20/11/2026")
        self.process(first, "SUSPENDUE", "Bon de livraison manquant")
        texts.append(self.refusal(self.process, first, "SUSPENDUE", "Encore"))
        texts.append(self.refusal(first.with_user(self.clerk)._chorus_queue_status, "SUSPENDUE", reason="Encore"))
        self.assertIn("Suspendue", texts[-1])
        chatter = self.chatter(first)
        self.assertTrue(any("Suspendue" in body for body in chatter), chatter)
        # Chorus Pro unavailable for the push: the reason kept on the invoice and in the retry list.
        self.inject("503", "factures/v1/traiter/recue", count=10)
        self.process(second, "REJETEE", "Facture en double")
        texts += [second.sync_error, self.env["chorus.retry"].search([("res_id", "=", second.id)]).reason]
        self.assertFrench(texts + chatter + self.chatter(second))

    def test_scheduled_import_writes_in_french(self):
        """The import run by a scheduled action whose user reads English: the company's users read French."""
        self.env.ref("base.user_root").partner_id.lang = "en_US"
        target = self.inbox()[3]["idFacture"]
        self.inject("500", RECEIVED_GET, count=1000, invoice=target)
        self.env["chorus.worker"].with_context(lang="en_US")._chorus_do_company("import", self.company)
        log = self.env["chorus.inbound.import.log"].sudo().search([("company_id", "=", self.company.id)], limit=1)
        retry = self.env["chorus.retry"].sudo().search([("chorus_invoice_id", "=", str(target))])
        self.assertFrench([log.message, retry.reason])
        self.assertIn("importées", log.message)


@tagged("post_install", "-at_install", "chorus_i18n")
class TestFrenchSupplier(FrenchMixin, ChorusSendCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.make_french(cls.company, cls.env.user)

    def test_follow_up_writes_in_french(self):
        """The follow-up (a scheduled action) tells the salesperson of a rejection in French."""
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES", invoice_user_id=self.env.user.id)
        move.with_context(lang="fr_FR")._chorus_send()
        Worker = self.env["chorus.worker"].with_context(lang="en_US")  # the scheduled action's user
        Worker._chorus_do_company("follow_up", self.company)
        self.control("advance", seconds=3601)  # DEPOSEE -> MISE_A_DISPOSITION
        Worker._chorus_do_company("follow_up", self.company)
        self.control("invoice/status", idFacture=int(move.chorus_invoice_id), statut="REJETEE",
                     commentaire="Montant erroné")
        Worker._chorus_do_company("follow_up", self.company)
        self.assertEqual(move.chorus_invoice_status, "REJETEE")
        activity = move.activity_ids.filtered(lambda a: "Chorus Pro" in (a.summary or ""))
        chatter = self.chatter(move)
        self.assertTrue(any("Rejetée" in body for body in chatter), chatter)
        self.assertFrench(chatter + activity.mapped("summary"))
