"""Invoices received through Chorus Pro (public-buyer side), against the sandbox."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import odoo
from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger
from odoo.addons.account.tests.common import AccountTestInvoicingCommon

from ..tools.transaction import lock_key
from .common import SandboxMixin, give_supplier, sandbox_state

PARIS = ZoneInfo("Europe/Paris")
RECEIVED_SEARCH = "factures/v1/rechercher/recipiendaire"
RECEIVED_GET = "factures/v1/consulter/recipiendaire"
DOWNLOAD = "factures/v1/telecharger/groupe"
PROCESS = "factures/v1/traiter/recue"
STATES = "transverses/v1/recuperer/etats/traitement"
SUPPLIERS = {  # the sandbox's inbox suppliers
    "bureautique": ("Bureautique du Midi SARL", "39214567800018", "FR7630004008230001234567819"),
    "nettoyage": ("Nettoyage Azur Services", "48151623500019", "FR7630003012340005000123471"),
    "travaux": ("Travaux Publics Durance", "51239874400015", "FR7610278079000002034560161"),
    "restauration": ("Restauration Collective Alpilles", "78945612600018", "FR7613807008113202191234526"),
    "informatique": ("Informatique Ventoux", "85274196600018", "FR7620041010080123456720123"),
}


class BuyerCase(SandboxMixin, AccountTestInvoicingCommon):
    """A French public buyer (chart of accounts loaded) receiving through the sandbox's inbox."""

    def inbox(self):
        return sorted((i for i in self.sandbox.state.invoices.values() if i["statut"] == "MISE_A_DISPOSITION"),
                      key=lambda i: i["idFacture"])

    @classmethod
    @AccountTestInvoicingCommon.setup_country("fr")
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.point_buyer_at_sandbox(cls.env.company)
        cls.Inbound = cls.env["chorus.inbound.invoice"]
        # The people who work the invoices: an invoicing user, and an inbound validator.
        cls.clerk = new_test_user(cls.env, "chorus_clerk", name="Agent comptable",
                                  groups="account.group_account_invoice,base.group_partner_manager",
                                  company_id=cls.company.id,
                                  company_ids=[fields.Command.set(cls.company.ids)])
        cls.validator = new_test_user(cls.env, "chorus_validator", name="Ordonnateur",
                                      groups="l10n_fr_chorus_efacture.group_chorus_inbound_validator",
                                      company_id=cls.company.id, company_ids=[fields.Command.set(cls.company.ids)])

    def setUp(self):
        super().setUp()
        self.reset_sandbox()

    def received(self):
        return self.Inbound.search([("company_id", "=", self.company.id)])

    def run_import(self, page_size=None):
        model = self.Inbound.with_context(chorus_page_size=page_size) if page_size else self.Inbound
        return model._chorus_import_company(self.company)

    def chorus(self, inbound):
        return self.sandbox.state.invoices[int(inbound.chorus_invoice_id)]

    def delay_over(self, operation=None):
        """Time passes: the delay of what waits in the retry list is over."""
        entries = self.env["chorus.retry"].sudo().search([("operation", "=", operation)] if operation else [])
        entries.write({"next_try": fields.Datetime.now() - timedelta(seconds=1)})
        return entries

    def process(self, invoices, status, reason=None, user=None):
        return self.processing_wizard(invoices, user=user, new_status=status, reason=reason).action_confirm()

    def processing_wizard(self, invoices, user=None, **values):
        """The processing wizard as "Process" opens it (after asking Chorus Pro which statuses may follow)."""
        invoices = invoices.with_user(user or self.clerk)
        action = invoices.action_process()
        # The action's context merged with the user's (its language), as the web client does.
        return invoices.env[action["res_model"]].with_context(**action["context"]).create(values)

    def mandate(self, invoices, user=None, **values):
        """The mandate wizard confirmed by the clerk (or ``user``), with the company's expense account (or the
        wizard's ``values``)."""
        wizard = self.env["chorus.inbound.mandate.wizard"].with_user(user or self.clerk).create({
            "inbound_ids": [fields.Command.set(invoices.ids)],
            "account_id": self.company_data["default_account_expense"].id, **values})
        wizard.action_confirm()
        return wizard

    def of_supplier(self, key):
        return self.received().filtered(lambda i: i.supplier_name == SUPPLIERS[key][0])


@tagged("post_install", "-at_install", "chorus_inbound")
class TestChorusInbound(BuyerCase):

    # ----------------------------------------------------------------- import
    def test_works_invoices_are_imported_and_mandated_like_the_others(self):
        """Chorus Pro lists works invoices (FACTURE_TRAVAUX) only to a search that asks for them."""
        # One of them fails at its first reading: read again by its id, it stays a works invoice.
        failing = next(i for i in self.inbox() if i["typeDemandePaiement"] == "FACTURE_TRAVAUX")["idFacture"]
        self.control("faults", kind="500", operation=RECEIVED_GET, count=1000, invoice=failing)
        self.run_import()
        self.assertEqual(self.env["chorus.retry"].search([("chorus_invoice_id", "=", str(failing))]).payment_request,
                         "FACTURE_TRAVAUX")
        self.control("faults/clear")
        self.delay_over("import")
        self.run_import()
        kinds = [payload.get("typeDemandePaiement") for op, payload in self.sandbox.state.received_payloads
                 if op == RECEIVED_SEARCH]
        self.assertEqual(set(kinds), {"FACTURE", "FACTURE_TRAVAUX"}, "both kinds asked, each by its own search")
        works = self.of_supplier("travaux")
        in_sandbox = [i for i in self.inbox() if i["typeDemandePaiement"] == "FACTURE_TRAVAUX"]
        self.assertEqual(sorted(works.mapped("chorus_invoice_id")), sorted(str(i["idFacture"]) for i in in_sandbox))
        self.assertTrue(works)
        self.assertEqual(set(works.mapped("payment_request_type")), {"FACTURE_TRAVAUX"})
        self.assertEqual(set((self.received() - works).mapped("payment_request_type")), {"FACTURE"})
        self.assertEqual(self.Inbound.search_count([("id", "in", self.received().ids),
                                                    ("payment_request_type", "=", "FACTURE_TRAVAUX")]), len(works))
        # Processed and mandated as any other: service fait, then the bill.
        invoice = works[0]
        give_supplier(invoice)
        self.process(invoice, "SERVICE_FAIT", "Service fait")
        self.assertEqual(self.chorus(invoice)["statut"], "SERVICE_FAIT")
        self.mandate(invoice, paid_part="advance")
        self.assertEqual((invoice.move_id.state, self.chorus(invoice)["statut"]), ("posted", "MANDATEE"),
                         invoice.mandate_error)

    def test_import_pages_documents_and_idempotence(self):
        log = self.run_import(page_size=5)
        invoices = self.received()
        inbox = [i for i in self.sandbox.state.invoices.values() if i["statut"] == "MISE_A_DISPOSITION"]
        self.assertEqual(len(invoices), len(inbox))
        self.assertEqual(len(invoices), 30)
        self.assertGreaterEqual(self.calls(RECEIVED_SEARCH), 6, "15 invoices per structure, 5 per page")
        self.assertEqual((log.state, log.count_found, log.count_created, log.count_documents), ("done", 30, 30, 30))
        self.assertLessEqual(self.calls(DOWNLOAD), 2, "documents downloaded in batches, not one call per invoice")
        for invoice in invoices:
            chorus = self.chorus(invoice)
            self.assertEqual((invoice.name, invoice.amount_total, invoice.supplier_siret),
                             (chorus["numeroFacture"], chorus["montantTTC"], chorus["siretFournisseur"]))
            self.assertEqual((invoice.supplier_iban, invoice.supplier_bic),
                             (chorus["coordonneesBancaires"]["iban"], chorus["coordonneesBancaires"]["bic"]))
            self.assertEqual((invoice.currency_id.name, invoice.invoice_date, invoice.amount_untaxed,
                              invoice.amount_to_pay),
                             (chorus["devise"], fields.Date.to_date(chorus["dateFacture"]), chorus["montantHT"],
                              chorus["montantAPayer"]))
            self.assertEqual(invoice.chorus_status, "MISE_A_DISPOSITION")
            # The payment delay starts the day Chorus Pro made the invoice available (French time).
            made_available = datetime.fromtimestamp(chorus["historique"][-1]["time"], PARIS).date()
            self.assertEqual(invoice.availability_date, made_available)
            self.assertTrue(invoice.pdf_attachment_id.raw.startswith(b"%PDF"))
            names = set(self.env["ir.attachment"].search([
                ("res_model", "=", invoice._name), ("res_id", "=", invoice.id)]).mapped("name"))
            self.assertEqual(names, {invoice.pdf_attachment_id.name} | {p["nom"] for p in chorus["pieces"]})
            self.assertEqual(invoice.date_due, invoice.availability_date + timedelta(days=30))
            self.assertEqual([(t.rate, t.base, t.amount) for t in invoice.tax_line_ids],
                             [(line["tauxTva"], line["montantBaseHtParTaux"], line["montantTvaParTaux"])
                              for line in chorus["lignesTva"]])
            self.assertEqual(invoice.status_history_ids.mapped("status"), ["MISE_A_DISPOSITION"])
        self.assertTrue(any(len(self.chorus(i)["pieces"]) == 2 for i in invoices), "supporting documents imported")
        # Running again creates nothing and downloads nothing.
        calls = (self.calls(RECEIVED_GET), self.calls(DOWNLOAD))
        log = self.run_import(page_size=5)
        self.assertEqual((log.state, log.count_created), ("done", 0))
        self.assertEqual(self.received(), invoices)
        self.assertEqual((self.calls(RECEIVED_GET), self.calls(DOWNLOAD)), calls)
        # A new invoice, and a status changed in Chorus Pro (another user in the portal): both seen.
        self.control("inbox/generate", count=1)
        self.control("invoice/status", idFacture=int(invoices[0].chorus_invoice_id), statut="REJETEE",
                     commentaire="Rejetée depuis le portail")
        log = self.run_import(page_size=5)
        self.assertEqual((log.count_created, log.count_updated), (1, 1))
        self.assertEqual(len(self.received()), 31)
        self.assertEqual(invoices[0].chorus_status, "REJETEE")
        invoices[0].invalidate_recordset(["status_history_ids"])  # read in the model's order, newest first
        self.assertEqual(invoices[0].status_history_ids.mapped("status"), ["REJETEE", "MISE_A_DISPOSITION"])

    def test_invoice_listed_late_is_imported(self):
        """Chorus Pro's search shows an invoice some time after the time of its status, and after a newer one: the
        next import still brings it in (the window starts before Chorus Pro's clock at the last run, not at the
        newest status listed)."""
        self.run_import()
        late_id, newer_id = self.control("inbox/generate", count=2)["created"]
        late, newer = self.sandbox.state.invoices[late_id], self.sandbox.state.invoices[newer_id]
        late["listed_at"] = self.sandbox.state.now() + 300  # shown by the search in 5 minutes
        newer["changed"] += 60  # and a newer status listed at once
        self.run_import()
        imported = set(self.received().mapped("chorus_invoice_id"))
        self.assertIn(str(newer_id), imported)
        self.assertNotIn(str(late_id), imported)
        self.control("advance", seconds=3600)
        log = self.run_import()
        self.assertEqual(log.count_created, 1)
        self.assertIn(str(late_id), self.received().mapped("chorus_invoice_id"))

    def test_completion_brings_new_documents(self):
        """A completion (new supporting documents in Chorus Pro) downloads the invoice's documents again: the files
        the module downloaded are replaced, those users added in the chatter stay."""
        self.run_import()
        invoice = self.received()[0]
        note = self.env["ir.attachment"].create({"name": "note_interne.pdf", "raw": b"%PDF-1.4 note",
                                                 "res_model": invoice._name, "res_id": invoice.id})
        invoice.message_post(body="Note du service", attachment_ids=note.ids)
        before = invoice.downloaded_document_ids
        self.process(invoice, "SUSPENDUE", "Bon de livraison manquant")
        chorus = self.chorus(invoice)
        chorus["pieces"].append({"nom": "bon_de_livraison_signe.pdf", "contenu": b"%PDF-1.4 BL signe"})
        self.control("invoice/status", idFacture=chorus["idFacture"], statut="COMPLETEE",
                     commentaire="Bon de livraison joint")
        self.run_import()
        self.assertEqual(invoice.chorus_status, "COMPLETEE")
        self.assertEqual(invoice.documents_state, "done")
        names = set(invoice.downloaded_document_ids.mapped("name"))
        self.assertIn("bon_de_livraison_signe.pdf", names, "the new document came")
        self.assertTrue(before)
        self.assertFalse(before.exists(), "downloaded again: the module's files replaced, not doubled")
        self.assertEqual(len(names), len(invoice.downloaded_document_ids))
        self.assertTrue(note.exists(), "the file a user added stays")
        attachments = self.env["ir.attachment"].search([("res_model", "=", invoice._name),
                                                        ("res_id", "=", invoice.id)])
        self.assertEqual(attachments, invoice.downloaded_document_ids | note)
        self.assertEqual(invoice.status_history_ids.mapped("status")[:2], ["COMPLETEE", "SUSPENDUE"])

    def test_one_invoice_failing_leaves_the_others(self):
        """A persistent 500 on one invoice's detail: the others are imported, it waits in the retry list with its
        reason, and comes in once Chorus Pro answers for it."""
        target = self.inbox()[4]["idFacture"]
        self.control("faults", kind="500", operation=RECEIVED_GET, count=1000, invoice=target)
        log = self.run_import()
        self.assertEqual((log.count_created, log.count_failed), (29, 1))
        retry = self.env["chorus.retry"].search([("chorus_invoice_id", "=", str(target))])
        self.assertIn("unavailable", retry.reason)
        self.assertEqual(retry.operation, "import")
        self.control("faults/clear")
        self.delay_over()
        log = self.run_import()
        self.assertEqual((log.count_retried, len(self.received())), (1, 30))
        self.assertFalse(retry.exists())

    def test_try_again_now_makes_the_company_due_again(self):
        """The worker lanes take each company once a round; "Try again now" on its entry in the retry list makes
        it due again within the round, and once done it is not."""
        Worker = self.env["chorus.worker"]
        self.env.ref("l10n_fr_chorus_efacture.ir_cron_chorus_inbound_import").sudo().nextcall = \
            fields.Datetime.now() - timedelta(minutes=1)  # the round began a minute ago
        self.assertIn(self.company, Worker._chorus_due_companies("import"))
        target = self.inbox()[4]["idFacture"]
        self.control("faults", kind="500", operation=RECEIVED_GET, count=1000, invoice=target)
        self.run_import()
        self.assertNotIn(self.company, Worker._chorus_due_companies("import"), "done for this round")
        self.control("faults/clear")
        self.env["chorus.retry"].search([("chorus_invoice_id", "=", str(target))]).action_retry_now()
        self.assertIn(self.company, Worker._chorus_due_companies("import"), "due again")
        self.assertTrue(Worker._chorus_do_company("import", self.company, Worker._chorus_round_start("import")),
                        "a lane takes it")
        self.assertIn(str(target), self.received().mapped("chorus_invoice_id"))
        self.assertNotIn(self.company, Worker._chorus_due_companies("import"))

    def test_only_new_invoice_failing_is_noted(self):
        """The one new invoice of a run fails (503 on its detail), the last call of the run: Chorus Pro's health
        check answers, so it is that invoice's failure: in the retry list with its reason, said in the log."""
        self.run_import()
        new_id = self.control("inbox/generate", count=1)["created"][0]
        self.control("faults", kind="503", operation=RECEIVED_GET, count=1000, invoice=new_id)
        log = self.run_import()
        retry = self.env["chorus.retry"].search([("chorus_invoice_id", "=", str(new_id))])
        self.assertEqual((log.count_failed, retry.operation), (1, "import"))
        self.assertIn("unavailable", retry.reason)
        self.assertEqual(log.state, "error", "the log says an invoice waits")
        # Chorus Pro down altogether (its health check too): not the invoice's failure, nothing noted.
        retry.sudo().unlink()
        self.control("inbox/generate", count=1)
        self.inject("503", "*", count=1000, after=3)
        self.run_import()
        self.assertFalse(self.env["chorus.retry"].search([("operation", "=", "import")]))

    def test_availability_date_from_the_history(self):
        """An invoice already processed elsewhere when first imported: its availability comes from its history."""
        chorus = self.sandbox.state.invoices[7000001]
        ten_days_ago = self.sandbox.state.now() - 10 * 86400
        chorus["historique"][0]["time"] = ten_days_ago
        self.control("invoice/status", idFacture=7000001, statut="SUSPENDUE", commentaire="Devis manquant")
        self.control("invoice/status", idFacture=7000001, statut="COMPLETEE")
        self.run_import()
        invoice = self.received().filtered(lambda i: i.chorus_invoice_id == "7000001")
        self.assertEqual(invoice.availability_date, datetime.fromtimestamp(ten_days_ago, PARIS).date())
        self.assertEqual((invoice.chorus_status, invoice.was_suspended), ("COMPLETEE", True),
                         "the history tells it was suspended once")
        self.assertEqual(self.calls("factures/v1/consulter/historique"), 1, "only for that invoice")
        self.assertEqual(invoice.status_history_ids.mapped("status"), ["COMPLETEE", "SUSPENDUE", "MISE_A_DISPOSITION"],
                         "its whole history, as Chorus Pro gives it")
        self.assertFalse(invoice.status_history_ids.user_id, "none of it was set in Odoo")

    def test_documents_whatever_the_folders(self):
        """The folders of a multi-invoice download are named as Chorus Pro pleases: an invoice whose folder
        cannot be told is downloaded alone, and no document is lost."""
        self.sandbox.state.config["download_folders"] = "opaque"
        log = self.run_import()
        self.assertEqual((log.state, log.count_documents), ("done", 30))
        self.assertEqual(self.calls(DOWNLOAD), 2 + 30, "two batches, then each invoice alone")
        for invoice in self.received():
            chorus = self.chorus(invoice)
            attachments = self.env["ir.attachment"].search([("res_model", "=", invoice._name),
                                                            ("res_id", "=", invoice.id)])
            self.assertEqual(set(attachments.mapped("name")),
                             {"%s.pdf" % chorus["numeroFacture"]} | {p["nom"] for p in chorus["pieces"]})
            self.assertEqual(invoice.pdf_attachment_id.name, "%s.pdf" % chorus["numeroFacture"],
                             "the invoice's own PDF, not a supporting document")
        # Folders named by invoice number only: placed without downloading again.
        self.received().sudo().unlink()
        self.reset_sandbox()
        self.sandbox.state.config["download_folders"] = "number"
        self.env["chorus.listing.mark"].sudo().search([("company_id", "=", self.company.id)]).unlink()
        log = self.run_import()
        self.assertEqual((log.count_documents, self.calls(DOWNLOAD)), (30, 2))

    def test_import_crash_resumes(self):
        # Chorus Pro stops answering in the middle of the run, whatever is asked (the 8th invoice read in detail
        # and everything after: the structures, 2 list pages and 7 details went through).
        self.inject("503", "*", count=100, after=10)
        log = self.run_import(page_size=5)
        self.assertEqual(log.state, "error")
        self.assertIn("unavailable", log.message)
        self.assertEqual(len(self.received()), 5, "the page read before is kept; only the page under way is lost")
        self.control("faults/clear")
        log = self.run_import(page_size=5)
        self.assertEqual((log.state, log.count_created), ("done", 25))
        invoices = self.received()
        self.assertEqual(len(invoices), 30)
        self.assertEqual(len(set(invoices.mapped("chorus_invoice_id"))), 30, "nothing twice")
        self.assertEqual(set(invoices.mapped("documents_state")), {"done"})

    def test_documents_resumed_after_download_failure(self):
        # Chorus Pro's downloads and its health check fail: an outage, the documents wait for the next run.
        self.inject("500", DOWNLOAD, count=1000)
        self.inject("503", "transverses/v1/health-check", count=1000)
        log = self.run_import()
        self.assertEqual(log.state, "error")
        self.assertIn("Documents of 30 invoices not downloaded", log.message)
        self.assertEqual(set(self.received().mapped("documents_state")), {"missing"})
        self.control("faults/clear")
        log = self.run_import()
        self.assertEqual((log.count_created, log.count_documents), (0, 30))
        self.assertEqual(set(self.received().mapped("documents_state")), {"done"})

    def test_documents_of_one_invoice_failing_leave_the_others(self):
        """Chorus Pro fails (HTTP 500) on every download naming one invoice: the batches are halved until it
        stands alone; it waits in the retry list with the reason, the 29 others get their documents."""
        faulty = self.inbox()[7]["idFacture"]
        self.inject("500", DOWNLOAD, count=1000, invoice=faulty)
        log = self.run_import()
        self.assertEqual(log.count_documents, 29)
        failed = self.received().filtered(lambda i: i.documents_state != "done")
        self.assertEqual(failed.mapped("chorus_invoice_id"), [str(faulty)])
        retry = self.env["chorus.retry"].sudo().search([("operation", "=", "documents"), ("res_id", "=", failed.id)])
        self.assertIn("500", retry.reason)
        self.control("faults/clear")
        self.delay_over("documents")
        self.run_import()
        self.assertEqual(failed.documents_state, "done")
        self.assertFalse(retry.exists(), "out of the retry list once its documents are in")

    # ------------------------------------------------------------ processing
    def test_transitions_and_reasons(self):
        self.run_import()
        first, second, third = self.received()[:3]
        wizard = self.processing_wizard(first)
        self.assertEqual(wizard.allowed_statuses.split(","), sorted(["A_RECYCLER", "REJETEE", "SERVICE_FAIT",
                                                                     "SUSPENDUE"]))
        # Chorus Pro requires the reason to reject or suspend; the service fait's is the module's own rule.
        for status, label in (("REJETEE", "Rejected"), ("SUSPENDUE", "Suspended")):
            with self.assertRaisesRegex(UserError, "Reason: Chorus Pro requires a reason for the status %s" % label):
                self.process(first, status)
        with self.assertRaisesRegex(UserError, "Service Done On: say when the service was found done"):
            self.processing_wizard(first, new_status="SERVICE_FAIT", service_done_date=False).action_confirm()
        with self.assertRaisesRegex(UserError, "Reason: 256 characters, Chorus Pro accepts 255"):
            self.process(first, "SERVICE_FAIT", "x" * 256)
        self.assertEqual(self.calls(PROCESS), 0, "nothing sent when the reason is missing")
        # Suspended, then completed by the supplier: Chorus Pro allows no second suspension.
        self.process(first, "SUSPENDUE", "Bon de livraison manquant")
        self.assertEqual((first.chorus_status, first.sync_state), ("SUSPENDUE", "done"))
        self.assertEqual((self.chorus(first)["statut"], self.chorus(first)["commentaire"]),
                         ("SUSPENDUE", "Bon de livraison manquant"))
        first.invalidate_recordset(["status_history_ids"])
        self.assertEqual(first.status_history_ids[0].comment, "Bon de livraison manquant")
        self.assertEqual(first.status_history_ids[0].user_id, self.clerk, "credited to who set it")
        self.assertEqual(first.stage, "waiting")
        with self.assertRaisesRegex(UserError, "is not allowed"):
            self.process(first, "SERVICE_FAIT", "Livré")
        self.control("invoice/status", idFacture=int(first.chorus_invoice_id), statut="COMPLETEE")
        self.run_import()
        self.assertEqual(first.chorus_status, "COMPLETEE")
        self.assertEqual(self.processing_wizard(first).allowed_statuses, "REJETEE,SERVICE_FAIT")
        wizard = self.processing_wizard(first, reason="Livraison conforme")
        self.assertEqual((wizard.allow_service_done, wizard.allow_rejected, wizard.allow_suspended,
                          wizard.allow_recycle), (True, True, False, False), "only the allowed buttons show")
        wizard.action_service_done()
        self.assertEqual(self.chorus(first)["statut"], "SERVICE_FAIT")
        self.assertEqual(self.processing_wizard(first).allowed_statuses, "REJETEE", "suspended once already")
        # To recycle needs no reason; rejection does.
        self.process(second, "A_RECYCLER")
        self.assertEqual(self.chorus(second)["statut"], "A_RECYCLER")
        self.process(third, "REJETEE", "Facture adressée au mauvais service")
        self.assertEqual((third.chorus_status, third.stage), ("REJETEE", "rejected"))
        # Mixed selection: only what all of them allow is offered.
        wizard = self.processing_wizard(first | third)
        self.assertFalse(wizard.allowed_statuses)

    def test_allowed_statuses_come_from_chorus_pro(self):
        self.run_import()
        first = self.received()[0]
        self.processing_wizard(first)
        self.processing_wizard(first)
        self.assertEqual(self.calls(STATES), 1, "asked once a day per status")
        self.assertEqual(self.last_payload(STATES), {"statutCourant": "MISE_A_DISPOSITION"})
        # Chorus Pro changes its rules: after a day, the module follows them.
        transitions = dict(sandbox_state.TRANSITIONS)
        self.addCleanup(sandbox_state.TRANSITIONS.update, transitions)
        sandbox_state.TRANSITIONS["MISE_A_DISPOSITION"] = ["REJETEE", "SERVICE_FAIT", "MANDATEE"]
        self.assertIn("A_RECYCLER", self.processing_wizard(first).allowed_statuses)

        def a_day_later():
            self.env["chorus.allowed.status"].sudo().search([("company_id", "=", self.company.id)]).write(
                {"asked": fields.Datetime.now() - timedelta(days=1, minutes=1)})

        a_day_later()
        self.assertEqual(self.processing_wizard(first).allowed_statuses, "REJETEE,SERVICE_FAIT")
        # Chorus Pro down: the last answer is used; with no answer at all, the user is told.
        self.inject("503", STATES, count=10)
        a_day_later()
        self.assertEqual(self.processing_wizard(first).allowed_statuses, "REJETEE,SERVICE_FAIT")
        self.env["chorus.allowed.status"].sudo().search([("company_id", "=", self.company.id)]).unlink()
        with self.assertRaisesRegex(UserError, "Chorus Pro cannot say now which statuses may follow "
                                               "MISE_A_DISPOSITION"):
            first.action_process()

    def test_allowed_statuses_asked_by_two_users_at_once(self):
        """Two clerks open "Process" at the same moment: the one who stores Chorus Pro's answer second is not
        refused for it (the answer kept is the first one's)."""
        company = self.env.ref("base.main_company")  # committed, so that another transaction can point at it
        self.addCleanup(self.delete_committed_status, company, "TEST_CONCURRENT")
        self.addCleanup(self.env.cr.cache.pop, "l10n_fr_chorus_efacture.allowed_statuses", None)
        with self.registry.cursor() as other_cr:
            other = odoo.api.Environment(other_cr, odoo.SUPERUSER_ID, {})
            other["chorus.allowed.status"].create({"company_id": company.id, "status": "TEST_CONCURRENT",
                                                   "next_statuses": ["REJETEE"], "asked": fields.Datetime.now()})
        self.env["chorus.allowed.status"]._chorus_store(company, {"TEST_CONCURRENT": ["SERVICE_FAIT"]},
                                                        fields.Datetime.now())
        # Not refused, and the user's processing goes on with the answer it got (the other's row is not in this
        # transaction's snapshot).
        self.assertEqual(company._chorus_next_statuses("TEST_CONCURRENT"), ["SERVICE_FAIT"])

    def delete_committed_status(self, company, status):
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM chorus_allowed_status WHERE company_id = %s AND status = %s", [company.id, status])

    def test_one_chatter_message_per_step(self):
        self.run_import()
        # Tracking on, as in a user's session (the test case turns it off).
        invoice = self.received()[0].with_context(tracking_disable=False, mail_notrack=False)
        before = invoice.message_ids
        self.process(invoice, "SERVICE_FAIT", "Livré le 2 décembre")
        self.env.cr.precommit.run()  # the tracking, as a commit makes it
        invoice.invalidate_recordset(["message_ids"])
        step = invoice.message_ids - before
        self.assertEqual(len(step), 1, step.mapped("body"))
        self.assertIn("Livré le 2 décembre", step.body)
        self.assertEqual(step.tracking_value_ids.field_id.name, "chorus_status", "the status's change, with it")

    def test_push_retried_after_503(self):
        self.run_import()
        invoice = self.received()[0]
        self.inject("503", PROCESS, count=2)
        self.process(invoice, "SERVICE_FAIT", "Service fait le 20/11")
        self.assertEqual((invoice.sync_state, invoice.chorus_status), ("pending", "MISE_A_DISPOSITION"))
        self.assertIn("unavailable", invoice.sync_error)
        self.assertEqual(self.chorus(invoice)["statut"], "MISE_A_DISPOSITION")
        retry = self.env["chorus.retry"].search([("operation", "=", "push"), ("res_id", "=", invoice.id)])
        self.assertIn("unavailable", retry.reason, "waiting, with its reason")
        self.Inbound._cron_chorus_push_statuses()  # its delay is not over: left alone
        self.assertEqual(self.calls(PROCESS), 1)
        self.delay_over("push")
        self.Inbound._cron_chorus_push_statuses()  # still down: it waits longer
        self.assertEqual((invoice.sync_state, retry.attempts), ("pending", 2))
        self.assertEqual(retry.next_try - retry.last_tried, timedelta(minutes=10))
        self.delay_over("push")
        self.Inbound._cron_chorus_push_statuses()
        self.assertEqual((invoice.sync_state, invoice.chorus_status), ("done", "SERVICE_FAIT"))
        self.assertFalse(retry.exists(), "sent: nothing waits any more")
        self.assertEqual(self.chorus(invoice)["statut"], "SERVICE_FAIT")
        self.assertEqual(self.chorus(invoice)["commentaire"], "Service fait le 20/11")
        self.assertEqual(self.calls(PROCESS), 3)
        # A refusal is not retried: it is shown, and the status stays what Chorus Pro has.
        other = self.received()[1]
        self.control("invoice/status", idFacture=int(other.chorus_invoice_id), statut="REJETEE")
        action = self.process(other, "SERVICE_FAIT", "Livré")
        self.assertIn("Transition interdite", action["params"]["message"])
        self.assertEqual((other.sync_state, other.chorus_status), ("error", "MISE_A_DISPOSITION"))
        self.assertIn("Transition interdite", other.sync_error)
        self.Inbound._cron_chorus_push_statuses()
        self.assertEqual(self.calls(PROCESS), 4)

    def test_push_lost_reply_not_sent_twice(self):
        self.run_import()
        invoice = self.received()[0]
        self.inject("lost_reply", PROCESS)
        self.process(invoice, "SUSPENDUE", "Devis signé manquant")
        self.assertEqual(invoice.sync_state, "pending")
        self.assertEqual(self.chorus(invoice)["statut"], "SUSPENDUE", "Chorus Pro applied it; the reply was lost")
        self.delay_over("push")
        self.Inbound._cron_chorus_push_statuses()
        self.assertEqual((invoice.sync_state, invoice.chorus_status, invoice.was_suspended),
                         ("done", "SUSPENDUE", True))
        self.assertEqual(self.calls(PROCESS), 1, "looked up, not sent again")

    # ---------------------------------------------------------------- mandates
    def test_mandate(self):
        self.company.chorus_inbound_validation = True
        self.run_import()
        invoices = self.received()
        for invoice in invoices:
            give_supplier(invoice)
        done, not_validated, not_processed = invoices[:3]
        done.with_user(self.validator).action_internal_validate()
        self.process(done, "SERVICE_FAIT", "Service fait")
        # Service done declared in the Chorus Pro portal, never validated in Odoo.
        self.control("invoice/status", idFacture=int(not_validated.chorus_invoice_id), statut="SERVICE_FAIT")
        self.run_import()
        self.assertEqual((done.validated_by_id, done.stage), (self.validator, "to_mandate"))
        self.assertEqual((not_validated.chorus_status, not_validated.stage), ("SERVICE_FAIT", "to_validate"))
        wizard = self.env["chorus.inbound.mandate.wizard"].with_user(self.clerk).create({
            "inbound_ids": [fields.Command.set((done | not_validated | not_processed).ids)],
            "account_id": self.company_data["default_account_expense"].id,
        })
        self.assertIn("not validated internally", wizard.refusals)
        self.assertIn("must be Service done first", wizard.refusals)
        self.assertNotIn(done.name, wizard.refusals)
        wizard.action_confirm()
        bill = done.move_id
        self.assertTrue(bill)
        # The run reports every invoice of the selection.
        self.assertEqual(wizard.state, "done")
        self.assertIn("%s: mandated by %s. Chorus Pro is told." % (done.display_name, bill.name), wizard.report)
        self.assertIn("%s: not mandated, it is not validated internally yet." % not_validated.display_name,
                      wizard.report)
        self.assertIn(not_processed.display_name + ": not mandated, its status is", wizard.report)
        self.assertEqual(wizard.bill_ids, bill)
        self.assertFalse((not_validated | not_processed).move_id)
        self.assertEqual((bill.state, bill.move_type, bill.partner_id), ("posted", "in_invoice", done.partner_id))
        self.assertEqual((bill.ref, bill.chorus_invoice_id, bill.chorus_inbound_id, bill.invoice_date),
                         (done.name, done.chorus_invoice_id, done, done.invoice_date))
        self.assertEqual(bill.invoice_date_due, done.date_due)
        # VAT not recoverable (the default for public bodies): the amount including VAT is the expense.
        self.assertFalse(bill.invoice_line_ids.tax_ids)
        self.assertAlmostEqual(bill.amount_untaxed, done.amount_total)
        self.assertAlmostEqual(bill.amount_total, done.amount_total)
        self.assertEqual(bill.invoice_line_ids.account_id, self.company_data["default_account_expense"])
        bill_files = self.env["ir.attachment"].search([("res_model", "=", "account.move"), ("res_id", "=", bill.id)])
        self.assertEqual(sorted(bill_files.mapped("name")), sorted(done.document_ids.mapped("name")))
        self.assertTrue(bill.message_main_attachment_id.raw.startswith(b"%PDF"))
        # From the bill, the received invoice is one click away.
        action = bill.with_user(self.clerk).action_chorus_open_inbound()
        self.assertEqual((action["res_model"], action["res_id"]), (done._name, done.id))
        # Chorus Pro is told, with the bill's number as mandate number.
        chorus = self.chorus(done)
        self.assertEqual((chorus["statut"], chorus["numeroDpMandat"]), ("MANDATEE", bill.name))
        self.assertEqual((done.chorus_status, done.sync_state, done.stage), ("MANDATEE", "done", "mandated"))
        # Never two bills for one invoice.
        with self.assertRaisesRegex(UserError, "already mandated"):
            self.mandate(done)
        self.assertEqual(self.env["account.move"].search_count([("chorus_inbound_id", "=", done.id)]), 1)

    def test_mandate_pushed_later_when_chorus_down(self):
        self.run_import()
        invoice = self.received()[0]
        give_supplier(invoice)
        self.process(invoice, "SERVICE_FAIT", "Service fait")
        self.inject("503", PROCESS)
        self.env["chorus.inbound.mandate.wizard"].create({
            "inbound_ids": [fields.Command.set(invoice.ids)],
            "account_id": self.company_data["default_account_expense"].id}).action_confirm()
        self.assertTrue(invoice.move_id, "the bill exists; Chorus Pro is told later")
        self.assertEqual((invoice.sync_state, invoice.sync_status), ("pending", "MANDATEE"))
        self.delay_over("push")
        self.Inbound._cron_chorus_push_statuses()
        self.assertEqual(self.chorus(invoice)["numeroDpMandat"], invoice.move_id.name)
        self.assertEqual(invoice.chorus_status, "MANDATEE")

    def test_mandate_run_with_a_refusal_in_the_middle(self):
        """One invoice refused while its bill is made (here: no purchase tax of its rate): the others are
        mandated, the report says which and why, and the refused one can be mandated once fixed."""
        self.company.chorus_vat_recoverable = True
        self.run_import()
        first, middle, last = self.received()[:3]
        for invoice in first | middle | last:
            give_supplier(invoice)
        self.process(first | middle | last, "SERVICE_FAIT", "Service fait")
        (first | middle | last).with_user(self.validator).action_internal_validate()
        vat = middle.tax_line_ids[0].sudo()
        vat.rate = 7.0  # no purchase tax of 7 % in the French chart
        wizard = self.env["chorus.inbound.mandate.wizard"].create({
            "inbound_ids": [fields.Command.set((first | middle | last).ids)],
            "account_id": self.company_data["default_account_expense"].id})
        wizard.action_confirm()
        self.assertTrue(first.move_id and last.move_id)
        self.assertFalse(middle.move_id)
        self.assertEqual((middle.mandate_state, middle.chorus_status), ("refused", "SERVICE_FAIT"))
        self.assertIn("no purchase tax of 7.0 %", middle.mandate_error)
        self.assertIn("%s: not mandated, %s" % (middle.display_name, middle.mandate_error), wizard.report)
        self.assertEqual(wizard.bill_ids, first.move_id | last.move_id)
        self.assertEqual(self.calls(PROCESS), 3 + 2, "three services done, two mandates")
        vat.write({"rate": 20.0, "amount": round(vat.base * 0.2, 2)})
        total = middle.amount_untaxed + vat.amount
        middle.sudo().write({"amount_total": total, "amount_to_pay": total})
        self.env["chorus.inbound.mandate.wizard"].create({
            "inbound_ids": [fields.Command.set(middle.ids)],
            "account_id": self.company_data["default_account_expense"].id}).action_confirm()
        self.assertTrue(middle.move_id)
        self.assertFalse(middle.mandate_state)

    def test_mandate_left_half_done_is_finished_by_the_cron(self):
        """A worker stopped after the mandate was asked for, before its bill: the cron makes it, once."""
        self.run_import()
        invoice = self.received()[0]
        give_supplier(invoice)
        self.process(invoice, "SERVICE_FAIT", "Service fait")
        invoice.with_user(self.validator).action_internal_validate()
        journal = self.company_data["default_journal_purchase"]
        invoice.sudo().write({"mandate_state": "requested", "mandate_journal_id": journal.id,
                       "mandate_account_id": self.company_data["default_account_expense"].id})
        self.Inbound._cron_chorus_inbound_mandates()
        self.assertTrue(invoice.move_id)
        self.assertEqual((invoice.mandate_state, invoice.sync_status), (False, "MANDATEE"))
        self.Inbound._cron_chorus_push_statuses()  # the push's own scheduled action tells Chorus Pro
        self.assertEqual(invoice.chorus_status, "MANDATEE")
        self.Inbound._cron_chorus_inbound_mandates()
        self.assertEqual(self.env["account.move"].search_count([("chorus_inbound_id", "=", invoice.id)]), 1)

    def test_retry_keeps_the_queued_status(self):
        self.run_import()
        invoice = self.received()[0]
        self.control("invoice/status", idFacture=int(invoice.chorus_invoice_id), statut="COMPLETEE")
        self.process(invoice, "SUSPENDUE", "Devis manquant")
        self.assertEqual((invoice.sync_state, invoice.sync_status), ("error", "SUSPENDUE"))
        # Fixed in Chorus Pro (by the portal here): "Send to Chorus Pro again" sends the same status.
        self.control("invoice/status", idFacture=int(invoice.chorus_invoice_id), statut="MISE_A_DISPOSITION")
        invoice.action_retry_sync()
        self.assertEqual((invoice.sync_state, invoice.chorus_status, self.chorus(invoice)["commentaire"]),
                         ("done", "SUSPENDUE", "Devis manquant"))
        # Given up instead: the invoice keeps what Chorus Pro has.
        other = self.received()[1]
        self.control("invoice/status", idFacture=int(other.chorus_invoice_id), statut="REJETEE")
        self.process(other, "SERVICE_FAIT", "Livré")
        other.action_cancel_sync()
        self.assertEqual((other.sync_state, other.sync_status, other.chorus_status),
                         (False, False, "MISE_A_DISPOSITION"))

    def test_database_error_isolated_and_interrupted_runs_reconciled(self):
        """The database refuses one invoice of a page (a real PostgreSQL error): the others are created,
        that one is tried again by the next runs; a log left "running" by a stopped worker is closed."""
        stopped = self.env["chorus.inbound.import.log"].sudo().create({"company_id": self.company.id})
        refused = self.inbox()[3]["numeroFacture"]
        self.env.cr.execute("""
            CREATE FUNCTION chorus_test_refuse() RETURNS trigger AS $$
            BEGIN
                IF NEW.name = %s THEN RAISE EXCEPTION 'refused by a trigger for the test'; END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER chorus_test_refuse BEFORE INSERT ON chorus_inbound_invoice
                FOR EACH ROW EXECUTE FUNCTION chorus_test_refuse();""", [refused])
        with mute_logger("odoo.sql_db"):  # Odoo logs the refused INSERT
            log = self.run_import()
        self.assertEqual((stopped.state, log.count_created, log.count_failed), ("interrupted", 29, 1))
        retry = self.env["chorus.retry"].search([("company_id", "=", self.company.id)])
        self.assertEqual((retry.operation, retry.name), ("import", refused))
        self.assertEqual(retry.reason, "the database refused it (refused by a trigger for the test)")
        self.env.cr.execute("DROP TRIGGER chorus_test_refuse ON chorus_inbound_invoice")
        log = self.run_import()
        self.assertEqual((log.count_retried, len(self.received())), (0, 29), "its delay is not over")
        retry.action_retry_now()  # "Try again now"
        log = self.run_import()
        self.assertEqual((log.state, log.count_retried), ("done", 1))
        self.assertEqual(len(self.received()), 30)

    # ------------------------------------------------------ delays, companies
    def test_payment_delay_and_companies(self):
        self.run_import()
        invoice = self.received()[0]
        self.assertEqual(invoice.date_due, invoice.availability_date + timedelta(days=30))
        settings = self.env["res.config.settings"].create({})
        settings.chorus_public_body_type = "hospital"
        settings._onchange_chorus_public_body_type()
        self.assertEqual(settings.chorus_payment_delay_days, 50)
        settings.chorus_public_body_type = "company"
        settings._onchange_chorus_public_body_type()
        settings.execute()
        self.assertEqual(self.company.chorus_payment_delay_days, 60)
        self.assertEqual(invoice.date_due, invoice.availability_date + timedelta(days=60))
        # Another company's accountant sees none of these invoices.
        other_company = self.env["res.company"].create({"name": "Autre collectivité"})
        accountant = self.env["res.users"].create({
            "name": "Comptable B", "login": "comptable_b", "company_id": other_company.id,
            "company_ids": [fields.Command.set(other_company.ids)],
            "groups_id": [fields.Command.set([self.env.ref("account.group_account_invoice").id])]})
        Inbound = self.Inbound.with_user(accountant).with_company(other_company)
        self.assertEqual(Inbound.search_count([]), 0)
        self.assertEqual(self.env["chorus.inbound.invoice.status"].with_user(accountant).search_count([]), 0)
        self.assertEqual(self.Inbound.search_count([]), 30)


@tagged("post_install", "-at_install", "chorus_inbound", "chorus_hostile")
class TestChorusInboundHostile(BuyerCase):
    """What comes from outside is checked: each bad piece is refused with a clear error, nothing else
    is disturbed, and nothing is lost once it is corrected."""


    def test_amounts_and_dates_out_of_range(self):
        huge, ancient = self.inbox()[:2]
        huge["montantTTC"] = 1e15
        ancient["dateFacture"] = "0001-01-01"
        log = self.Inbound._chorus_import_company(self.company)
        self.assertEqual((log.state, log.count_created, log.count_failed), ("error", 28, 2))
        self.assertIn("BDM-2026-00001: unreadable data from Chorus Pro (facture.montantTotal.montantTtcTotal "
                      "is out of range", log.message)
        self.assertIn("unreadable data from Chorus Pro (facture.references.dateFacture is out of range",
                      log.message)
        self.assertEqual(len(self.received()), 28, "the others are imported")
        retries = self.env["chorus.retry"].search([("company_id", "=", self.company.id)])
        self.assertEqual(sorted(retries.mapped("chorus_invoice_id")),
                         sorted([str(huge["idFacture"]), str(ancient["idFacture"])]))
        mark = self.env["chorus.listing.mark"]._chorus_get(self.company, "received_invoices")
        self.assertTrue(mark.changed_since, "the import moved on")
        # At the next run, their delay is not over: left alone; nothing read again.
        gets = self.calls(RECEIVED_GET)
        log = self.Inbound._chorus_import_company(self.company)
        self.assertEqual((log.count_retried, log.count_failed, self.calls(RECEIVED_GET)), (0, 0, gets))
        # Once their delay is over: tried again, still wrong, the delay grows; nothing else read again.
        retries.sudo().next_try = fields.Datetime.now() - timedelta(seconds=1)
        log = self.Inbound._chorus_import_company(self.company)
        self.assertEqual((log.count_retried, log.count_failed), (0, 2))
        self.assertEqual(retries.mapped("attempts"), [2, 2])
        for retry in retries:
            self.assertEqual(retry.next_try - retry.last_tried, timedelta(minutes=10), "5 minutes, then 10...")
        self.assertEqual(self.calls(RECEIVED_GET), gets + 2, "only the two to import again are read")
        # Corrected in Chorus Pro, and "Try again now": the next run imports them from the retry list.
        huge["montantTTC"] = huge["montantHT"] * 1.2
        ancient["dateFacture"] = "2026-11-02"
        retries.action_retry_now()
        log = self.Inbound._chorus_import_company(self.company)
        self.assertEqual((log.state, log.count_retried, log.count_failed), ("done", 2, 0))
        self.assertEqual(len(self.received()), 30)
        self.assertFalse(retries.exists())
        imported = self.received().filtered(lambda i: i.chorus_invoice_id == str(ancient["idFacture"]))
        self.assertEqual((imported.invoice_date, imported.chorus_status), (fields.Date.to_date("2026-11-02"),
                                                                           "MISE_A_DISPOSITION"))

    def test_pdf_that_is_not_a_pdf(self):
        fake = self.inbox()[0]
        fake["pdf"] = b"MZ\x90\x00 this is an executable"
        log = self.Inbound._chorus_import_company(self.company)
        self.assertIn("is not a PDF", log.message)
        invoice = self.received().filtered(lambda i: i.chorus_invoice_id == str(fake["idFacture"]))
        self.assertEqual(invoice.documents_state, "missing")
        self.assertFalse(self.env["ir.attachment"].search([("res_model", "=", invoice._name),
                                                           ("res_id", "=", invoice.id)]))
        self.assertEqual(set((self.received() - invoice).mapped("documents_state")), {"done"})

    def test_archive_bomb(self):
        self.env["ir.config_parameter"].sudo().set_param("l10n_fr_chorus_efacture.max_download_mb", "1")
        bomb = self.inbox()[0]
        bomb["pieces"].append({"nom": "annexe.pdf", "contenu": b"%PDF" + b"\0" * (3 * 1024 * 1024)})
        log = self.Inbound._chorus_import_company(self.company)
        self.assertIn("too large once unpacked", log.message)
        invoice = self.received().filtered(lambda i: i.chorus_invoice_id == str(bomb["idFacture"]))
        self.assertEqual(invoice.documents_state, "missing", "refused before unpacking")
        self.assertEqual(set((self.received() - invoice).mapped("documents_state")), {"done"},
                         "the other invoices of the same download are isolated and attached")

    def test_two_imports_at_once(self):
        # Another worker is importing for this company (it holds the company's import lock).
        with odoo.sql_db.db_connect(self.env.cr.dbname).cursor() as other:
            other.execute("SELECT pg_advisory_lock(%s)", [lock_key("import", self.company.id)])
            log = self.Inbound._chorus_import_company(self.company)
            other.execute("SELECT pg_advisory_unlock(%s)", [lock_key("import", self.company.id)])
        self.assertEqual(log.state, "error")
        self.assertIn("already running", log.message)
        self.assertFalse(self.received(), "the second worker creates nothing")
        self.assertEqual(self.calls(RECEIVED_SEARCH), 0)
        log = self.Inbound._chorus_import_company(self.company)
        self.assertEqual((log.state, log.count_created), ("done", 30))


@tagged("post_install", "-at_install", "chorus_inbound")
class TestChorusTakeOver(BuyerCase):
    """The day Odoo takes over: the invoices handled before, outside Odoo, are never offered for mandate."""

    def test_first_import_proposes_the_month_and_older_invoices_are_not_mandated(self):
        self.company.chorus_inbound_start_date = False
        today = fields.Date.today()
        # Two invoices of the inbox: one deposited last month (handled outside Odoo), one this month.
        older, newer = self.inbox()[:2]
        older["dateDepot"] = (today.replace(day=1) - timedelta(days=3)).isoformat()
        newer["dateDepot"] = today.isoformat()
        log = self.run_import()
        start = self.company.chorus_inbound_start_date
        self.assertEqual(start, today.replace(day=1), "proposed: the first day of the current month")
        self.assertIn("Odoo takes over the invoices deposited from", log.message)
        self.assertEqual(log.state, "done")
        old_invoice = self.received().filtered(lambda i: i.chorus_invoice_id == str(older["idFacture"]))
        new_invoice = self.received().filtered(lambda i: i.chorus_invoice_id == str(newer["idFacture"]))
        self.assertEqual((old_invoice.handled_outside, old_invoice.stage), (True, "outside"), "visible, set apart")
        self.assertFalse(new_invoice.handled_outside)
        for invoice in old_invoice | new_invoice:
            give_supplier(invoice)
            self.process(invoice, "SERVICE_FAIT", "Service fait")
        with self.assertRaisesRegex(UserError, "before .*, the day Odoo took over"):
            self.mandate(old_invoice, paid_part="advance")
        self.assertFalse(old_invoice.move_id)
        self.mandate(new_invoice, paid_part="advance")
        self.assertTrue(new_invoice.move_id)
        # The accountant moves the day back: that invoice is Odoo's again.
        self.company.chorus_inbound_start_date = start - timedelta(days=31)
        self.assertEqual((old_invoice.handled_outside, old_invoice.stage), (False, "to_mandate"))
        # A second import does not propose anything again.
        self.assertFalse(self.run_import().message)

    def test_older_invoices_not_imported_when_the_company_says_so(self):
        today = fields.Date.today()
        self.company.write({"chorus_inbound_start_date": today - timedelta(days=5),
                            "chorus_inbound_before_start": "skip"})
        self.run_import()
        self.assertEqual(self.last_payload(RECEIVED_SEARCH)["periodeDateDepotDu"],
                         (today - timedelta(days=5)).isoformat())
        start = (today - timedelta(days=5)).isoformat()
        expected = {str(i["idFacture"]) for i in self.inbox() if i["dateDepot"] >= start}
        self.assertTrue(expected)
        self.assertEqual(set(self.received().mapped("chorus_invoice_id")), expected)
