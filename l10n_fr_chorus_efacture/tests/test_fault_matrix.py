"""Fault injection: every operation against every fault the sandbox can inject.

For each (operation, fault): the record ends in a clear state, nothing is doubled in Chorus Pro or in
Odoo, nothing is lost, and once Chorus Pro behaves again the operation completes (by itself where a
retry is safe). The matrix of outcomes is printed at the end of the run.
"""

import base64
import logging
import time
from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.addons.account.tests.common import AccountTestInvoicingCommon

from .common import COMMUNE_SIRET, SandboxMixin, give_supplier, make_pdf

_logger = logging.getLogger(__name__)

FAULTS = ["500", "502", "503", "504", "429", "slow", "413", "malformed", "token_expired", "password_expired",
          "lost_reply"]
DEPOSIT = "factures/v1/deposer/flux"
FLUX_REPORT = "transverses/v1/consulterCRDetaille"
SUPPLIER_SEARCH = "factures/v1/rechercher/fournisseur"
RECEIVED_SEARCH = "factures/v1/rechercher/recipiendaire"
PROCESS = "factures/v1/traiter/recue"
MATRIX = {}


class _Rollback(Exception):
    pass


@tagged("post_install", "-at_install", "chorus_faults")
class TestFaultMatrix(SandboxMixin, AccountTestInvoicingCommon):

    @classmethod
    @AccountTestInvoicingCommon.setup_country("fr")
    def setUpClass(cls):
        super().setUpClass()
        cls.supplier = cls.point_company_at_sandbox(cls.env.company)
        cls.supplier.write({"siret": "45217896500011", "vat": "FR91746948785", "chorus_timeout": 1})
        cls.env["res.partner.bank"].create({"acc_number": "FR7630004008230001234567842",
                                            "partner_id": cls.supplier.partner_id.id, "allow_out_payment": True})
        cls.commune = cls.env["res.partner"].create({
            "name": "Commune de Saint-Véran-les-Pins", "is_company": True, "siret": COMMUNE_SIRET,
            "country_id": cls.env.ref("base.fr").id, "invoice_sending_method": "chorus_pro"})
        for customer in cls.commune:
            customer._chorus_check_structure()  # what the background job does (its commits aside)
        cls.buyer_data = cls.setup_other_company(name="Mairie")
        cls.buyer = cls.point_buyer_at_sandbox(cls.buyer_data["company"])
        cls.buyer.chorus_timeout = 1
        cls.env.user.company_ids |= cls.buyer

    @classmethod
    def tearDownClass(cls):
        if MATRIX:
            operations = sorted({op for op, _fault in MATRIX})
            width = max(len(value) for value in [*FAULTS, *MATRIX.values()])
            lines = ["Fault matrix (operation x fault -> outcome after the fault; then after recovery):",
                     " " * 18 + "".join(f.ljust(width + 2) for f in FAULTS)]
            for operation in operations:
                lines.append(operation.ljust(18) + "".join(
                    MATRIX.get((operation, fault), "-").ljust(width + 2) for fault in FAULTS))
            _logger.info("\n%s", "\n".join(lines))
            print("\n".join(lines))
        super().tearDownClass()

    # ------------------------------------------------------------- helpers
    def invoice(self):
        move = self.env["account.move"].create({
            "move_type": "out_invoice", "partner_id": self.commune.id, "invoice_date": fields.Date.today(),
            "buyer_reference": "SERV_TECHNIQUES",
            "invoice_line_ids": [fields.Command.create({"name": "Maintenance", "quantity": 1, "price_unit": 850.0,
                                                        "tax_ids": [fields.Command.set(
                                                            self.company_data["default_tax_sale"].ids)]})],
        })
        move.action_post()
        move.invoice_pdf_report_file = base64.b64encode(make_pdf(["Facture %s" % move.name]))
        return move

    def inject_fault(self, fault, operation):
        # 429 says to come back at once (Retry-After: 0): the test does not wait.
        self.inject(fault, operation, count=1, delay=2 if fault == "slow" else 0 if fault == "429" else None)

    def time_passes(self):
        """The delays of what waits in the retry list are over."""
        self.env["chorus.retry"].sudo().search([]).write({"next_try": fields.Datetime.now() - timedelta(seconds=1)})

    def deposits(self):
        return self.calls(DEPOSIT)

    def chorus_invoices(self, number):
        return [i for i in self.sandbox.state.invoices.values() if i["numeroFacture"] == number]

    def run_matrix(self, operation, scenario):
        for fault in FAULTS:
            with self.subTest(operation=operation, fault=fault):
                self.reset_sandbox()
                try:
                    with self.env.cr.savepoint():
                        MATRIX[(operation, fault)] = scenario(fault)
                        raise _Rollback()
                except _Rollback:
                    pass
                finally:
                    self.env.invalidate_all()

    # ------------------------------------------------------------ operations
    def test_deposit(self):
        def scenario(fault):
            move = self.invoice()
            self.inject_fault(fault, DEPOSIT)
            try:
                move._chorus_send()
            except UserError:
                pass
            after_fault = move.chorus_state
            self.assertIn(after_fault, ("deposited", "unknown", "error"), "a clear state, never 'sending'")
            self.assertLessEqual(len(self.sandbox.state.flux), 1, "deposited once at most")
            if fault in ("500", "503", "413", "password_expired"):
                self.assertEqual(after_fault, "error", "refused before anything was applied: can be sent again")
            if fault in ("lost_reply", "slow", "malformed", "502", "504"):
                self.assertEqual(after_fault, "unknown", "applied or not, nobody knows: looked up first")
            if fault in ("429", "token_expired"):
                self.assertEqual(after_fault, "deposited", "refused by the gateway before anything: made again")
            if fault == "password_expired":
                self.assertIn("password of the Chorus Pro technical account has expired", move.chorus_error)
            if after_fault == "error":
                self.assertTrue(move.chorus_error)
                self.assertEqual(len(self.sandbox.state.flux), 0, "'not sent' means nothing reached Chorus Pro")
            if fault == "slow":
                time.sleep(1.5)  # the sandbox finishes the deposit the client stopped waiting for
            # Recovery: the user sends again (or the cron looks an unknown outcome up).
            self.control("faults/clear")
            if move.chorus_state == "error":
                move._chorus_send()
            self.env["account.move"]._cron_chorus_follow_up()
            if move.chorus_state == "unknown":
                self.control("advance", seconds=7200)
                self.env["account.move"]._cron_chorus_follow_up()
            if move.chorus_state == "unknown" and fault == "502":
                # Never reached Chorus Pro: still not listed a day later; a user checks the portal and says so.
                move.action_chorus_not_in_chorus()
                self.assertEqual(move.chorus_state, "error")
                move._chorus_send()
                self.env["account.move"]._cron_chorus_follow_up()
            self.assertEqual(move.chorus_state, "integrated")
            self.assertEqual(len(self.chorus_invoices(move.name)), 1, "one invoice in Chorus Pro")
            return "%s>integrated" % after_fault
        self.run_matrix("deposit", scenario)

    def test_flux_follow_up(self):
        def scenario(fault):
            move = self.invoice()
            move._chorus_send()
            self.inject_fault(fault, FLUX_REPORT)
            self.env["account.move"]._cron_chorus_follow_up()
            after_fault = move.chorus_state
            self.assertIn(after_fault, ("deposited", "integrated"), "a failed read changes nothing")
            self.control("faults/clear")
            self.time_passes()
            self.env["account.move"]._cron_chorus_follow_up()
            self.assertEqual(move.chorus_state, "integrated")
            self.assertEqual(self.deposits(), 1)
            return "%s>integrated" % after_fault
        self.run_matrix("flux follow-up", scenario)

    def test_status_follow_up(self):
        def scenario(fault):
            move = self.invoice()
            move._chorus_send()
            self.env["account.move"]._cron_chorus_follow_up()
            self.control("invoice/status", idFacture=int(move.chorus_invoice_id), statut="SUSPENDUE",
                         commentaire="PV manquant")
            self.inject_fault(fault, SUPPLIER_SEARCH)
            self.env["account.move"]._cron_chorus_follow_up()
            after_fault = move.chorus_invoice_status
            self.assertIn(after_fault, ("DEPOSEE", "SUSPENDUE"))
            self.control("faults/clear")
            self.time_passes()
            self.env["account.move"]._cron_chorus_follow_up()
            self.assertEqual(move.chorus_invoice_status, "SUSPENDUE")
            self.assertEqual(len(move.activity_ids), 1, "one activity, not one per attempt")
            return "%s>SUSPENDUE" % after_fault
        self.run_matrix("status follow-up", scenario)

    def test_inbound_import(self):
        Inbound = self.env["chorus.inbound.invoice"]

        def scenario(fault):
            self.inject_fault(fault, RECEIVED_SEARCH)
            log = Inbound._chorus_import_company(self.buyer)
            count = Inbound.search_count([("company_id", "=", self.buyer.id)])
            if fault == "password_expired":
                self.assertIn("password of the Chorus Pro technical account has expired", log.message)
            if log.state == "error":
                self.assertTrue(log.message, "the log says why")
            self.control("faults/clear")
            self.time_passes()
            Inbound._chorus_import_company(self.buyer)
            invoices = Inbound.search([("company_id", "=", self.buyer.id)])
            self.assertEqual(len(invoices), 30)
            self.assertEqual(len(set(invoices.mapped("chorus_invoice_id"))), 30, "nothing twice")
            self.assertEqual(set(invoices.mapped("documents_state")), {"done"})
            return "%s(%s)>30" % (log.state, count)
        self.run_matrix("inbound import", scenario)

    def _imported(self):
        Inbound = self.env["chorus.inbound.invoice"]
        Inbound._chorus_import_company(self.buyer)
        return Inbound.search([("company_id", "=", self.buyer.id)], limit=1)

    def test_status_push(self):
        def scenario(fault):
            invoice = self._imported()
            self.inject_fault(fault, PROCESS)
            invoice._chorus_request_status("SUSPENDUE", reason="Bon de livraison manquant")
            after_fault = invoice.sync_state
            if fault == "slow":
                time.sleep(1.5)
            self.assertIn(after_fault, ("pending", "done"))
            self.control("faults/clear")
            self.time_passes()
            self.env["chorus.inbound.invoice"]._cron_chorus_push_statuses()
            self.assertEqual((invoice.sync_state, invoice.chorus_status), ("done", "SUSPENDUE"))
            chorus = self.sandbox.state.invoices[int(invoice.chorus_invoice_id)]
            self.assertEqual([h["code"] for h in chorus["historique"]].count("SUSPENDUE"), 1,
                             "applied once in Chorus Pro")
            return "%s>done" % after_fault
        self.run_matrix("status push", scenario)

    def test_mandate_push(self):
        def scenario(fault):
            invoice = self._imported()
            give_supplier(invoice)
            invoice._chorus_request_status("SERVICE_FAIT", reason="Service fait")
            self.inject_fault(fault, PROCESS)
            self.env["chorus.inbound.mandate.wizard"].with_company(self.buyer).create({
                "inbound_ids": [fields.Command.set(invoice.ids)],
                "account_id": self.buyer_data["default_account_expense"].id,
            }).action_confirm()
            after_fault = invoice.sync_state
            if fault == "slow":
                time.sleep(1.5)
            self.assertTrue(invoice.move_id, "the bill is kept whatever Chorus Pro did")
            self.control("faults/clear")
            self.time_passes()
            self.env["chorus.inbound.invoice"]._cron_chorus_push_statuses()
            chorus = self.sandbox.state.invoices[int(invoice.chorus_invoice_id)]
            self.assertEqual((invoice.sync_state, chorus["statut"], chorus["numeroDpMandat"]),
                             ("done", "MANDATEE", invoice.move_id.name))
            self.assertEqual(self.env["account.move"].search_count([("chorus_inbound_id", "=", invoice.id)]), 1)
            return "%s>done" % after_fault
        self.run_matrix("mandate push", scenario)
