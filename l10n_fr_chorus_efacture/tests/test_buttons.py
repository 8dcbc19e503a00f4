"""Every button the module offers works, for every role that sees it (see button_walk)."""

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import Form, tagged

from .button_walk import ButtonWalk
from .common import give_supplier
from .test_inbound import BuyerCase
from .test_send import ChorusSendCommon

BUYER_MODELS = ["chorus.inbound.invoice", "chorus.supplier", "chorus.inbound.process.wizard",
                "chorus.inbound.mandate.wizard", "chorus.inbound.mandate.number.wizard", "chorus.retry",
                "chorus.inbound.import.log"]
SUPPLIER_MODELS = ["account.move", "account.move.send.wizard", "res.partner", "res.config.settings", "chorus.send.report",
                   "chorus.account.wizard", "chorus.invoice.update.wizard", "chorus.partner.sending.wizard"]


@tagged("post_install", "-at_install", "chorus_buttons")
class TestChorusBuyerButtons(ButtonWalk, BuyerCase):
    """The public buyer's screens, with received invoices at every stage."""

    WIZARD_VALUES = {"chorus.inbound.process.wizard": {"reason": "Service constaté le 2 décembre."},
                     "chorus.inbound.mandate.number.wizard": {"mandate_number": "M-2026-00042"}}

    def test_every_button_of_the_buyer(self):
        self.setup_roles(self.company)
        self.run_import()
        invoices = self.received().sorted("chorus_invoice_id")
        for invoice in invoices:
            give_supplier(invoice)
        to_mandate, mandated, suspended, refused, new_iban, mandate_refused = invoices[1:7]
        self.process(to_mandate | mandated | mandate_refused, "SERVICE_FAIT", reason="Livré le 2 décembre")
        self.mandate(mandated)
        # A mandate whose MANDATEE Chorus Pro refused: to correct.
        self.inject("refused", "factures/v1/traiter/recue", invoice=int(mandate_refused.chorus_invoice_id))
        self.mandate(mandate_refused, paid_part="advance")
        self.assertEqual((mandate_refused.sync_state, mandate_refused.sync_status), ("error", "MANDATEE"))
        self.process(suspended, "SUSPENDUE", reason="Bon de livraison manquant")
        refused.sudo().write({"sync_state": "error", "sync_status": "REJETEE", "sync_reason": "Doublon",
                              "sync_error": "Chorus Pro refused it (test)"})
        # A status Chorus Pro could not take now: it waits in the retry list.
        self.inject("503", "factures/v1/traiter/recue")
        self.process(invoices[7], "SERVICE_FAIT", reason="Livré le 3 décembre")
        self.assertTrue(self.env["chorus.retry"].search([]))
        stranger = self.env["res.partner"].create({"name": "Fournisseur sans IBAN", "is_company": True})
        new_iban.with_user(self.clerk).write({"partner_id": stranger.id})
        pool = {"chorus.inbound.invoice": invoices[:9], "account.move": mandated.move_id,
                "chorus.supplier": invoices.chorus_supplier_id, "chorus.retry": self.env["chorus.retry"].search([])}
        offered = self.walk(BUYER_MODELS + ["account.move"], pool)
        self.assert_walked(offered - self.supplier_side(offered))

    @staticmethod
    def supplier_side(offered):
        """The invoice form's buttons of the supplier side: walked by TestChorusSupplierButtons."""
        return {(model, method) for model, method in offered
                if model == "account.move" and method != "action_chorus_open_inbound"}


@tagged("post_install", "-at_install", "chorus_buttons")
class TestChorusSupplierButtons(ButtonWalk, ChorusSendCommon):
    """The supplier's screens, with invoices sent, suspended, to recycle, and lost in a reply."""

    WIZARD_VALUES = {
        "chorus.partner.sending.wizard": {"invoice_sending_method": "chorus_pro"},
        "chorus.account.wizard": {"login": "TECH_1_ANP@cpro.fr", "password": "Un-autre-mot-de-passe-2026!"},
        "chorus.invoice.update.wizard": {"comment": "Le PV de réception est joint."},
    }

    def test_every_button_of_the_supplier(self):
        self.setup_roles(self.company)
        draft = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        suspended, to_recycle, unknown, rejected = (self.make_invoice(buyer_reference="SERV_TECHNIQUES")
                                                    for _i in range(4))
        for move in (suspended, to_recycle, rejected):
            move._chorus_send()
        self.env["account.move"]._cron_chorus_follow_up()
        self.sandbox.state.set_status(int(suspended.chorus_invoice_id), "SUSPENDUE", "Il manque le PV")
        self.sandbox.state.set_status(int(to_recycle.chorus_invoice_id), "A_RECYCLER", "Mauvais service")
        self.sandbox.state.set_status(int(rejected.chorus_invoice_id), "REJETEE", "Facture en double")
        self.env["account.move"]._cron_chorus_follow_up()
        unknown.sudo().write({"chorus_state": "unknown",
                                                            "chorus_sent_date": fields.Datetime.now()})
        # A sending report, as the send window leaves it.
        reported = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        wizard = Form(self.env["account.move.send.wizard"].with_context(
            active_model="account.move", active_ids=reported.ids, chorus_send=True)).save()
        wizard.action_send_and_print()
        report = reported.chorus_send_report_line_ids.report_id
        self.assertTrue(report)
        moves = draft | suspended | to_recycle | unknown | reported | rejected
        self.assertEqual(set(moves.mapped("chorus_invoice_status")) >= {"SUSPENDUE", "A_RECYCLER"}, True)
        pool = {
            "account.move": moves, "chorus.send.report": report, "res.partner": self.commune | self.hopital,
            # The settings are a new record each time the user opens them (the web client creates it).
            "res.config.settings": lambda user: self.env["res.config.settings"].with_user(user).create({}),
            # The send window, as "Send to Chorus Pro" opens it on an invoice not sent yet.
            "account.move.send.wizard": self.send_window,
        }
        offered = self.walk(SUPPLIER_MODELS, pool)
        self.assert_walked(offered - {("account.move", "action_chorus_open_inbound")})


    def send_window(self, user):
        """The send window of a new invoice, opened by ``user`` (none for a role Odoo does not let send)."""
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        try:
            return Form(self.env["account.move.send.wizard"].with_user(user).with_context(
                active_model="account.move", active_ids=move.ids, chorus_send=True)).save()
        except AccessError:
            return self.env["account.move.send.wizard"]


@tagged("post_install", "-at_install", "chorus_buttons")
class TestChorusButtonsCovered(ButtonWalk, BuyerCase):

    def test_every_view_is_walked(self):
        """The two walks above cover every model that has a button in the module's views."""
        models = {view.model for view in self.module_records("ir.ui.view")
                  if any(True for _b in self.view_buttons(view))}
        self.assertEqual(models - set(BUYER_MODELS) - set(SUPPLIER_MODELS), set())
