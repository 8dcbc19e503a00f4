"""Mandates an accountant can trust: VAT recoverable or not, Chorus Pro's VAT to the cent, advances deducted, and
the global payment delay as the Code de la commande publique counts it."""

from datetime import datetime, timedelta

from odoo.tests import tagged

from ..chorus.replies import PARIS
from ..tools.dates import paris_day
from .common import give_supplier
from .test_inbound import BuyerCase


@tagged("post_install", "-at_install", "chorus_inbound")
class TestChorusMandateAccounting(BuyerCase):

    def imported(self, chorus):
        return self.received().filtered(lambda i: i.chorus_invoice_id == str(chorus["idFacture"]))

    def serviced(self, chorus):
        """The invoice of this sandbox record, imported, with its supplier, service done."""
        self.run_import()
        invoice = self.imported(chorus)
        give_supplier(invoice)
        self.process(invoice, "SERVICE_FAIT", "Service fait")
        return invoice

    def two_rates(self):
        """The first sandbox invoice at 20 % and 5.5 %, its supplier having rounded its VAT its own way:
        1 000.03 x 20 % is 200.006, it says 200.00 (Odoo computes 200.01)."""
        chorus = self.inbox()[0]
        chorus.update({"lignesTva": [
            {"tauxTva": 20.0, "montantBaseHtParTaux": 1000.03, "montantTvaParTaux": 200.00},
            {"tauxTva": 5.5, "montantBaseHtParTaux": 100.10, "montantTvaParTaux": 5.51}],
            "montantHT": 1100.13, "montantTTC": 1305.64, "montantAPayer": 1305.64})
        return chorus

    def test_vat_recoverable_matches_chorus_to_the_cent(self):
        self.company.chorus_vat_recoverable = True
        invoice = self.serviced(self.two_rates())
        self.mandate(invoice)
        bill = invoice.move_id
        self.assertEqual(bill.state, "posted", invoice.mandate_error)
        tax_by_rate = {line.tax_line_id.amount: line.balance for line in bill.line_ids if line.tax_line_id}
        self.assertEqual(tax_by_rate, {20.0: 200.00, 5.5: 5.51}, "Chorus Pro's VAT, rate by rate")
        self.assertEqual((bill.amount_untaxed, bill.amount_tax, bill.amount_total), (1100.13, 205.51, 1305.64))
        self.assertEqual(sorted(bill.invoice_line_ids.tax_ids.mapped("amount")), [5.5, 20.0])

    def test_vat_not_recoverable_books_the_amount_including_vat(self):
        invoice = self.serviced(self.two_rates())
        self.mandate(invoice)
        bill = invoice.move_id
        self.assertFalse(bill.line_ids.filtered("tax_line_id"), "no deductible VAT")
        self.assertEqual(sorted(bill.invoice_line_ids.mapped("price_subtotal")), [105.61, 1200.03])
        self.assertEqual((bill.amount_tax, bill.amount_total), (0.0, 1305.64))
        self.assertIn("%s - VAT 20.0 %% included" % invoice.name, bill.invoice_line_ids.mapped("name"))

    def test_advances_already_paid_are_deducted(self):
        chorus, other = self.inbox()[:2]
        chorus["montantAPayer"] = round(chorus["montantTTC"] - 500.0, 2)
        other["montantAPayer"] = round(other["montantTTC"] - 100.0, 2)
        invoice = self.serviced(chorus)
        self.assertEqual(invoice.amount_to_pay, chorus["montantAPayer"])
        self.mandate(invoice)
        bill = invoice.move_id
        advance = bill.invoice_line_ids.filtered(lambda line: line.price_subtotal < 0)
        self.assertEqual((advance.price_subtotal, advance.account_id.code[:4]), (-500.0, "4091"))
        self.assertAlmostEqual(bill.amount_total, chorus["montantAPayer"])
        self.assertAlmostEqual(bill.amount_residual, chorus["montantAPayer"], msg="what is left to pay")
        # Another account chosen in the settings is used instead.
        account = self.env["account.account"].search([("code", "=like", "4096%"),
                                                      ("company_ids", "in", self.company.id)], limit=1)
        self.company.chorus_advance_account_id = account
        invoice = self.serviced(other)
        self.mandate(invoice)
        self.assertEqual(invoice.move_id.invoice_line_ids.filtered(lambda line: line.price_subtotal < 0).account_id,
                         account)

    def test_amounts_that_do_not_add_up_are_refused_with_the_figures(self):
        chorus = self.inbox()[0]
        chorus["montantTTC"] = round(chorus["montantTTC"] + 3.0, 2)
        chorus["montantAPayer"] = chorus["montantTTC"]
        invoice = self.serviced(chorus)
        wizard = self.mandate(invoice)
        self.assertFalse(invoice.move_id)
        self.assertIn("its amounts in Chorus Pro do not add up", invoice.mandate_error)
        self.assertIn(invoice.mandate_error, wizard.report)
        self.assertFalse(self.env["account.move"].search([("chorus_inbound_id", "=", invoice.id)]),
                         "no bill left behind")


@tagged("post_install", "-at_install", "chorus_inbound")
class TestChorusPaymentDelay(BuyerCase):

    def days_ago(self, chorus, days):
        """Chorus Pro made this sandbox invoice available ``days`` ago."""
        moment = self.sandbox.state.now() - days * 86400
        chorus["historique"][0]["time"] = chorus["changed"] = moment
        return datetime.fromtimestamp(moment, PARIS).date()

    def test_suspension_stops_the_delay_and_completion_restarts_it(self):
        """R2192-27 to R2192-29: suspended, no due date; completed, a new delay of 30 days, or what was left if
        more."""
        self.company.chorus_payment_delay_days = 60
        chorus = self.inbox()[0]
        available = self.days_ago(chorus, 10)
        self.run_import()
        invoice = self.received().filtered(lambda i: i.chorus_invoice_id == str(chorus["idFacture"]))
        self.assertEqual(invoice.date_due, available + timedelta(days=60))
        self.process(invoice, "SUSPENDUE", "Devis signé manquant")
        self.assertFalse(invoice.date_due, "the delay is interrupted while the supplier completes it")
        suspended_on = invoice.status_history_ids.filtered(lambda h: h.status == "SUSPENDUE").date
        left = (available + timedelta(days=60) - paris_day(suspended_on)).days
        # The supplier completes it five days later.
        self.control("advance", seconds=5 * 86400)
        self.control("invoice/status", idFacture=chorus["idFacture"], statut="COMPLETEE")
        self.run_import()
        self.assertEqual(invoice.chorus_status, "COMPLETEE")
        completed = datetime.fromtimestamp(self.sandbox.state.now(), PARIS).date()
        self.assertGreater(left, 30)
        self.assertEqual(invoice.date_due, completed + timedelta(days=left), "what was left, being more than 30")

    def test_completion_late_in_the_delay_gives_thirty_days(self):
        chorus = self.inbox()[0]
        self.days_ago(chorus, 25)
        self.run_import()
        invoice = self.received().filtered(lambda i: i.chorus_invoice_id == str(chorus["idFacture"]))
        self.process(invoice, "SUSPENDUE", "Bon de livraison manquant")
        self.control("invoice/status", idFacture=chorus["idFacture"], statut="COMPLETEE")
        self.run_import()
        completed = datetime.fromtimestamp(self.sandbox.state.now(), PARIS).date()
        self.assertEqual(invoice.date_due, completed + timedelta(days=30), "5 days were left: 30 days again")

    def test_due_dates_frozen_once_mandated(self):
        self.run_import()
        mandated, waiting = self.received()[:2]
        give_supplier(mandated)
        self.process(mandated, "SERVICE_FAIT", "Service fait")
        self.mandate(mandated)
        bill_due = mandated.move_id.invoice_date_due
        self.assertEqual(bill_due, mandated.date_due)
        before = mandated.date_due
        self.company.chorus_payment_delay_days = 50
        self.assertEqual(waiting.date_due, waiting.availability_date + timedelta(days=50), "not mandated: moved")
        self.assertEqual((mandated.date_due, mandated.move_id.invoice_date_due), (before, bill_due),
                         "mandated: the bill's due date stays")
