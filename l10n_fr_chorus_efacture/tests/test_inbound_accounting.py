"""Mandates an accountant can trust: VAT recoverable or not, Chorus Pro's VAT to the cent, advances deducted, and
the global payment delay as the Code de la commande publique counts it."""

from datetime import datetime, timedelta

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged

from ..chorus.replies import PARIS
from ..tools.dates import paris_day
from .common import give_supplier
from .test_inbound import BuyerCase


def serviced_invoice(case, **values):
    """The sandbox's first invoice as 1 000 HT + 200 VAT at 20 % (``values`` change it), imported, given its
    supplier and made service done."""
    chorus = case.inbox()[0]
    chorus.update({"montantHT": 1000.0, "montantTTC": 1200.0, "montantAPayer": 1200.0,
                   "lignesTva": [{"tauxTva": 20.0, "montantBaseHtParTaux": 1000.0, "montantTvaParTaux": 200.0}],
                   **values})
    case.run_import()
    invoice = case.received().filtered(lambda i: i.chorus_invoice_id == str(chorus["idFacture"]))
    give_supplier(invoice)
    case.process(invoice, "SERVICE_FAIT", "Service fait")
    return invoice


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
        # The bill's totals say what the amount is: including VAT, not "untaxed".
        self.assertEqual([(subtotal["name"], round(subtotal["base_amount_currency"], 2))
                          for subtotal in bill.tax_totals["subtotals"]],
                         [("Total incl. VAT (VAT not recoverable)", 1305.64)])

    def test_advances_already_paid_are_deducted(self):
        chorus, other = self.inbox()[:2]
        chorus["montantAPayer"] = round(chorus["montantTTC"] - 500.0, 2)
        other["montantAPayer"] = round(other["montantTTC"] - 100.0, 2)
        invoice = self.serviced(chorus)
        self.assertEqual(invoice.amount_to_pay, chorus["montantAPayer"])
        self.mandate(invoice, paid_part="advance")
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
        self.mandate(invoice, paid_part="advance")
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


@tagged("post_install", "-at_install", "chorus_inbound")
class TestChorusMandatePaidBefore(BuyerCase):
    """The part of a total paid before (advances, deposit invoices), booked as the accountant says, and the bill
    paying the IBAN that was checked: figures of a town hall's month."""

    def works_invoice(self, ht, vat, to_pay):
        """The first sandbox invoice as a final works invoice: HT ``ht`` at 20 % (VAT ``vat``), ``to_pay``."""
        chorus = self.inbox()[0]
        chorus.update({"lignesTva": [{"tauxTva": 20.0, "montantBaseHtParTaux": ht, "montantTvaParTaux": vat}],
                       "montantHT": ht, "montantTTC": round(ht + vat, 2), "montantAPayer": to_pay})
        return chorus

    def serviced(self, chorus):
        self.run_import()
        invoice = self.received().filtered(lambda i: i.chorus_invoice_id == str(chorus["idFacture"]))
        give_supplier(invoice)
        self.process(invoice, "SERVICE_FAIT", "Service fait")
        return invoice

    def test_fully_prepaid_invoice_is_not_paid_again(self):
        # 2 400 TTC, all of it paid in advance: Chorus Pro says 0 to pay.
        invoice = self.serviced(self.works_invoice(2000.0, 400.0, 0.0))
        self.assertEqual((invoice.amount_to_pay, invoice.amount_to_pay_given, invoice.amount_paid_before),
                         (0.0, True, 2400.0))
        # Nobody said how it was paid: refused, with the figures.
        with self.assertRaisesRegex(UserError, r"2400.0 of its total 2400.0 were already paid \(amount to pay 0.0\)"):
            self.mandate(invoice)
        self.assertFalse(invoice.move_id)
        # Advances: the whole expense booked, the advance account cleared, nothing left to pay.
        self.mandate(invoice, paid_part="advance")
        bill = invoice.move_id
        self.assertEqual(bill.state, "posted", invoice.mandate_error)
        expense = bill.invoice_line_ids.filtered(lambda line: line.price_subtotal > 0)
        advance = bill.invoice_line_ids - expense
        self.assertEqual((expense.price_subtotal, expense.account_id), (2400.0, self.company_data[
            "default_account_expense"]))
        self.assertEqual((advance.price_subtotal, advance.account_id.code[:4]), (-2400.0, "4091"))
        self.assertEqual((bill.amount_total, bill.amount_residual), (0.0, 0.0), "nothing paid twice")

    def test_final_works_invoice_after_two_deposits_books_only_the_rest(self):
        # Works of 10 000 HT (12 000 TTC); two deposit invoices of 4 000 TTC each already mandated: 4 000 to pay.
        self.company.chorus_vat_recoverable = True
        invoice = self.serviced(self.works_invoice(10000.0, 2000.0, 4000.0))
        self.mandate(invoice, paid_part="deposits")
        bill = invoice.move_id
        self.assertEqual(bill.state, "posted", invoice.mandate_error)
        self.assertEqual((bill.amount_untaxed, bill.amount_tax, bill.amount_total), (3333.33, 666.67, 4000.0))
        self.assertFalse(bill.line_ids.filtered(lambda line: line.account_id.code.startswith("409")),
                         "no advance account: the deposits were booked as expenses when they were mandated")
        self.assertEqual(invoice.mandate_paid_part, "deposits")

    def test_investment_advances_go_to_238(self):
        # A fixed asset bought (article 2xx): its advance is an advance on a fixed asset order.
        invoice = self.serviced(self.works_invoice(1000.0, 200.0, 700.0))
        asset = self.env["account.account"].search([
            *self.env["account.account"]._check_company_domain(self.company), ("account_type", "=", "asset_fixed"),
            ("code", "=like", "218%")], limit=1)
        self.mandate(invoice, paid_part="advance", account_id=asset.id)
        bill = invoice.move_id
        self.assertEqual(bill.state, "posted", invoice.mandate_error)
        advance = bill.invoice_line_ids.filtered(lambda line: line.price_subtotal < 0)
        self.assertEqual((advance.price_subtotal, advance.account_id.code[:3]), (-500.0, "238"))
        self.assertEqual(bill.amount_total, 700.0)

    def test_advance_account_found_in_the_invoices_company_whoever_runs(self):
        # The scheduled action runs as a user whose current company is another one, with its own chart.
        other = self.setup_other_company(name="Autre collectivité")["company"]
        invoice = self.serviced(self.works_invoice(1000.0, 200.0, 700.0))
        # A mandate requested, the worker stopped before its bill: the scheduled action makes it.
        invoice.sudo().write({"mandate_state": "requested", "mandate_paid_part": "advance",
                              "mandate_journal_id": self.company_data["default_journal_purchase"].id,
                              "mandate_account_id": self.company_data["default_account_expense"].id})
        self.env["chorus.inbound.invoice"].with_company(other).with_context(
            allowed_company_ids=[other.id, self.company.id])._cron_chorus_inbound_mandates()
        advance = invoice.move_id.invoice_line_ids.filtered(lambda line: line.price_subtotal < 0)
        self.assertEqual(advance.account_id.company_ids, self.company)
        self.assertEqual(advance.account_id.with_company(self.company).code[:4], "4091")

    def test_amount_to_pay_not_given_means_the_total(self):
        chorus = self.works_invoice(1000.0, 200.0, None)
        invoice = self.serviced(chorus)
        self.assertEqual((invoice.amount_to_pay, invoice.amount_to_pay_given, invoice.amount_paid_before),
                         (1200.0, False, 0.0))
        self.mandate(invoice)
        self.assertEqual(invoice.move_id.amount_total, 1200.0)

    def test_bill_pays_the_iban_that_was_checked(self):
        chorus = self.inbox()[0]
        invoice = self.serviced(chorus)
        partner = invoice.partner_id
        # The supplier's older account, trusted: Odoo would pay it by default.
        self.env.user.groups_id += self.env.ref("account.group_validate_bank_account")
        older = self.env["res.partner.bank"].create({"partner_id": partner.id, "allow_out_payment": True,
                                                     "acc_number": "FR7630004000031234567890143", "sequence": 1})
        self.assertEqual(self.env["account.move"].new({"move_type": "in_invoice", "partner_id": partner.id,
                                                       "company_id": self.company.id}).partner_bank_id, older)
        self.mandate(invoice)
        bill = invoice.move_id
        self.assertEqual(bill.partner_bank_id.sanitized_acc_number, invoice.supplier_iban.replace(" ", ""))

    def test_no_due_date_no_mandate(self):
        invoice = self.serviced(self.inbox()[0])
        invoice.sudo().date_due = False  # a suspension whose completion was not read yet
        with self.assertRaisesRegex(UserError, "it has no due date"):
            self.mandate(invoice)
        self.assertFalse(invoice.move_id)

    def test_no_iban_no_mandate(self):
        chorus = self.inbox()[0]
        invoice = self.serviced(chorus)
        invoice.sudo().supplier_iban = False
        with self.assertRaisesRegex(UserError, "Chorus Pro gives no IBAN for it: whom to pay is unknown"):
            self.mandate(invoice)
        self.assertFalse(invoice.move_id)

    def test_journal_and_article_are_checked_on_the_server(self):
        invoice = self.serviced(self.inbox()[0])
        Wizard = self.env["chorus.inbound.mandate.wizard"].with_user(self.clerk)
        sale = Wizard.create({"inbound_ids": [(6, 0, invoice.ids)], "journal_id": self.company_data[
            "default_journal_sale"].id, "account_id": self.company_data["default_account_expense"].id})
        with self.assertRaisesRegex(UserError, "is not a purchase journal"):
            sale.action_confirm()
        receivable = Wizard.create({"inbound_ids": [(6, 0, invoice.ids)],
                                    "account_id": self.company_data["default_account_receivable"].id})
        with self.assertRaisesRegex(UserError, "is not an expense or fixed asset account"):
            receivable.action_confirm()
        self.assertFalse(invoice.move_id)


@tagged("post_install", "-at_install", "chorus_inbound")
class TestChorusMandateNumber(BuyerCase):
    """What the comptable checks: the financial system's mandate number in Chorus Pro, the engagement and the
    contract on the bill; a MANDATEE Chorus Pro refuses corrected and sent again."""

    def test_mandate_number_engagement_and_contract(self):
        chorus = self.inbox()[0]
        chorus.update({"numeroEngagement": "EJ2026000777", "numeroMarche": "MAR-2026-042"})
        self.run_import()
        invoice = self.received().filtered(lambda i: i.chorus_invoice_id == str(chorus["idFacture"]))
        give_supplier(invoice)
        self.process(invoice, "SERVICE_FAIT", "Service fait")
        self.mandate(invoice, mandate_number=" M-2026-00123 ")
        bill = invoice.move_id
        self.assertEqual((bill.purchase_order_reference, bill.contract_reference),
                         ("EJ2026000777", "MAR-2026-042"))
        self.assertEqual((invoice.mandate_number, bill.chorus_mandate_number), ("M-2026-00123", "M-2026-00123"))
        self.assertEqual((chorus["statut"], chorus["numeroDpMandat"]), ("MANDATEE", "M-2026-00123"))

    def test_one_number_is_one_mandate(self):
        self.run_import()
        invoices = self.received()[:2]
        for invoice in invoices:
            give_supplier(invoice)
        self.process(invoices, "SERVICE_FAIT", "Service fait")
        with self.assertRaisesRegex(UserError, "one number is one mandate"):
            self.mandate(invoices, mandate_number="M-1", paid_part="advance")
        self.assertFalse(invoices.move_id)

    def test_refused_mandate_corrected_and_sent_again(self):
        chorus = self.inbox()[0]
        self.run_import()
        invoice = self.received().filtered(lambda i: i.chorus_invoice_id == str(chorus["idFacture"]))
        give_supplier(invoice)
        self.process(invoice, "SERVICE_FAIT", "Service fait")
        self.inject("refused", "factures/v1/traiter/recue", invoice=chorus["idFacture"])
        self.mandate(invoice)
        self.assertTrue(invoice.move_id, "the bill is made; Chorus Pro refused its MANDATEE")
        self.assertEqual((invoice.sync_state, invoice.sync_status, chorus["statut"]),
                         ("error", "MANDATEE", "SERVICE_FAIT"))
        self.assertIn("SANDBOX refus injecté", invoice.sync_error)
        self.assertTrue(invoice.move_id.with_user(self.clerk).chorus_mandate_number_editable,
                        "also correctable on the bill")
        action = invoice.with_user(self.clerk).action_correct_mandate_number()
        wizard = self.env[action["res_model"]].with_user(self.clerk).with_context(**action["context"]).create({})
        self.assertEqual(wizard.mandate_number, invoice.move_id.name, "the number refused, to correct")
        wizard.mandate_number = "M-2026-00456"
        wizard.action_confirm()
        self.assertEqual((invoice.sync_state, chorus["statut"], chorus["numeroDpMandat"]),
                         ("done", "MANDATEE", "M-2026-00456"))
        self.assertEqual(invoice.move_id.chorus_mandate_number, "M-2026-00456")
        self.assertIn("Mandated with the mandate M-2026-00456", invoice.message_ids[0].body)
        self.assertNotIn("M-2026-00456", invoice.message_ids[1].body, "one message for the step")
        # Nothing left to correct.
        with self.assertRaisesRegex(UserError, "Only a mandate Chorus Pro refused"):
            invoice.action_correct_mandate_number()

    def test_mandate_number_given_later_on_the_bill(self):
        """A financial system that numbers mandates after the bills: Chorus Pro hears MANDATEE once the number is
        typed on the bill, with that number, never the bill's."""
        self.company.chorus_mandate_number_later = True
        chorus = self.inbox()[0]
        self.run_import()
        invoice = self.received().filtered(lambda i: i.chorus_invoice_id == str(chorus["idFacture"]))
        give_supplier(invoice)
        self.process(invoice, "SERVICE_FAIT", "Service fait")
        with self.assertRaisesRegex(UserError, "Mandate Number: type it now, or untick"):
            self.mandate(invoice, mandate_number="M-1")
        invoice.sudo().mandate_number = "M-OLD"  # left by an earlier request: not this mandate's
        self.mandate(invoice)
        bill = invoice.move_id
        self.assertEqual(bill.state, "posted", invoice.mandate_error)
        self.assertEqual((invoice.stage, invoice.mandate_number_awaited, invoice.sync_status, chorus["statut"]),
                         ("mandated", True, "SERVICE_FAIT", "SERVICE_FAIT"), "no MANDATEE queued: the number first")
        self.assertFalse(bill.chorus_mandate_number)
        self.assertIn(invoice, self.Inbound.search([("mandate_number_awaited", "=", True)]))
        activity = bill.activity_ids
        self.assertEqual((activity.activity_type_id.name, activity.user_id), ("Give the mandate number", self.clerk))

        clerk_bill = bill.with_user(self.clerk)
        self.assertTrue(clerk_bill.chorus_mandate_number_editable)
        with self.assertRaisesRegex(UserError, "Mandate Number: give the number"):
            clerk_bill.write({"chorus_mandate_number": "  "})
        push = self.env.ref("l10n_fr_chorus_efacture.ir_cron_chorus_inbound_push")
        triggers = self.env["ir.cron.trigger"].search_count([("cron_id", "=", push.id)])
        clerk_bill.write({"chorus_mandate_number": " M-2026-00789 "})
        self.assertEqual((invoice.mandate_number, invoice.mandate_number_awaited, invoice.sync_state,
                          invoice.sync_status, chorus["statut"]), ("M-2026-00789", False, "pending", "MANDATEE",
                                                                   "SERVICE_FAIT"), "queued, not sent in the save")
        self.assertEqual(self.env["ir.cron.trigger"].search_count([("cron_id", "=", push.id)]), triggers + 1,
                         "the push is woken up")
        self.assertFalse(bill.activity_ids, "the activity is done")
        self.assertIn("Mandate number M-2026-00789 given by Agent comptable", bill.message_ids[0].body)
        self.Inbound._cron_chorus_push_statuses()
        self.assertEqual((invoice.sync_state, chorus["statut"], chorus["numeroDpMandat"]),
                         ("done", "MANDATEE", "M-2026-00789"))
        self.assertFalse(clerk_bill.chorus_mandate_number_editable)
        with self.assertRaisesRegex(UserError, "is Mandated in Chorus Pro, which has its mandate number M-2026-00789"):
            clerk_bill.write({"chorus_mandate_number": "M-2026-00790"})
        self.assertEqual(chorus["numeroDpMandat"], "M-2026-00789")

    def test_number_awaited_but_mandated_in_chorus_pro_portal(self):
        """The number was awaited on the bill, and someone mandated the invoice in Chorus Pro's portal (the
        accountant even took it since): the next import takes Chorus Pro's number; nothing is left to give, nothing
        is sent twice."""
        chorus = self.inbox()[0]
        self.run_import()
        invoice = self.received().filtered(lambda i: i.chorus_invoice_id == str(chorus["idFacture"]))
        give_supplier(invoice)
        self.process(invoice, "SERVICE_FAIT", "Service fait")
        self.mandate(invoice, number_later=True)
        bill = invoice.move_id
        self.assertTrue(bill.activity_ids)
        self.control("advance", seconds=3600)
        self.control("invoice/status", idFacture=chorus["idFacture"], statut="MISE_A_DISPOSITION_COMPTABLE")
        chorus["numeroDpMandat"] = "PORTAIL-12"
        self.run_import()
        self.assertEqual((invoice.chorus_status, invoice.mandate_number, invoice.mandate_number_awaited),
                         ("MISE_A_DISPOSITION_COMPTABLE", "PORTAIL-12", False))
        self.assertEqual(bill.chorus_mandate_number, "PORTAIL-12")
        self.assertFalse(bill.activity_ids)
        self.assertIn("Mandated in Chorus Pro directly", bill.message_ids[0].body)
        self.assertFalse(bill.with_user(self.clerk).chorus_mandate_number_editable)
        with self.assertRaisesRegex(UserError, "Made available to the accountant in Chorus Pro, which has its "
                                               "mandate number PORTAIL-12"):
            bill.with_user(self.clerk).chorus_mandate_number = "M-3"


@tagged("post_install", "-at_install", "chorus_inbound")
class TestChorusCreditNotes(BuyerCase):
    """A supplier's credit note (avoir) for an invoice the body mandated: linked to its bill, reconciled with it,
    nothing paid to anyone."""

    def invoice_and_credit_note(self, origin_number=None, invoice_status=("SERVICE_FAIT", "Service fait")):
        """Two inbox invoices of one supplier: 1 200 TTC, and a credit note of 300 TTC correcting it; the invoice
        processed as ``invoice_status`` says, the credit note as service done."""
        inbox = self.inbox()
        invoice = inbox[0]
        note = next(other for other in inbox[1:] if other["siretFournisseur"] == invoice["siretFournisseur"])
        invoice.update({"lignesTva": [{"tauxTva": 20.0, "montantBaseHtParTaux": 1000.0, "montantTvaParTaux": 200.0}],
                        "montantHT": 1000.0, "montantTTC": 1200.0, "montantAPayer": 1200.0})
        note.update({"typeFacture": "AVOIR", "numeroFactureOrigine": origin_number or invoice["numeroFacture"],
                     "lignesTva": [{"tauxTva": 20.0, "montantBaseHtParTaux": 250.0, "montantTvaParTaux": 50.0}],
                     "montantHT": 250.0, "montantTTC": 300.0, "montantAPayer": 300.0})
        self.run_import()
        found = {inbound.chorus_invoice_id: inbound for inbound in self.received()}
        invoice, note = found[str(invoice["idFacture"])], found[str(note["idFacture"])]
        for inbound in (invoice, note):
            give_supplier(inbound)
        self.process(invoice, *invoice_status)
        self.process(note, "SERVICE_FAIT", "Avoir reçu")
        return invoice, note

    def test_credit_note_reduces_the_mandate_it_corrects(self):
        invoice, note = self.invoice_and_credit_note()
        self.assertEqual((note.invoice_type, note.origin_number, note.origin_id),
                         ("AVOIR", invoice.name, invoice))
        self.assertFalse(note.iban_warning, "nothing is paid on a credit note: no IBAN to confirm")
        # The invoice it corrects first: else the two could never be linked.
        with self.assertRaisesRegex(UserError, "is not mandated yet: mandate it first"):
            self.mandate(note)
        self.mandate(invoice)
        self.mandate(note)
        bill, refund = invoice.move_id, note.move_id
        self.assertEqual((refund.move_type, refund.state, refund.reversed_entry_id), ("in_refund", "posted", bill))
        self.assertEqual((refund.amount_untaxed, refund.amount_total), (300.0, 300.0), "VAT not recoverable: TTC")
        self.assertEqual((refund.amount_residual, bill.amount_residual), (0.0, 900.0), "reconciled: 900 left to pay")
        self.assertTrue(any("reconciled with it" in message.body for message in refund.message_ids))
        self.assertFalse([message for message in (bill | refund).message_ids
                          if "not updated from the attachment" in message.body], "no noise from Odoo's import")
        self.assertEqual(self.chorus(note)["statut"], "MANDATEE")

    def test_credit_note_of_a_paid_invoice_stays_to_recover(self):
        invoice, note = self.invoice_and_credit_note()
        self.mandate(invoice)
        bill = invoice.move_id
        self.env["account.payment.register"].with_context(active_model="account.move", active_ids=bill.ids).create(
            {})._create_payments()
        self.assertIn(bill.payment_state, ("paid", "in_payment"))
        self.mandate(note)
        refund = note.move_id
        self.assertEqual((refund.reversed_entry_id, refund.amount_residual), (bill, 300.0),
                         "linked, open: the supplier owes it")
        self.assertTrue(any("to recover from the supplier" in message.body for message in refund.message_ids))

    def test_credit_note_of_a_rejected_or_unknown_invoice(self):
        invoice, note = self.invoice_and_credit_note(invoice_status=("REJETEE", "Non commandé"))
        with self.assertRaisesRegex(UserError, "was rejected: nothing was booked for it. Reject this credit note"):
            self.mandate(note)
        self.assertFalse(note.move_id)

    def test_credit_note_of_an_invoice_odoo_never_had(self):
        _invoice, note = self.invoice_and_credit_note(origin_number="FAC-2025-0999")
        self.assertFalse(note.origin_id)
        self.mandate(note)
        refund = note.move_id
        self.assertEqual((refund.move_type, refund.reversed_entry_id, refund.amount_residual),
                         ("in_refund", self.env["account.move"], 300.0), "booked alone, for the accountant to match")


@tagged("post_install", "-at_install", "chorus_inbound")
class TestChorusMandateVatRecoverable(BuyerCase):
    """VAT recoverable: the purchase tax of the article and of Chorus Pro's VAT regime (typeTva), never the first
    tax of the rate."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write({"chorus_vat_recoverable": True, "tax_exigibility": True})

    def invoice(self, vat_type):
        return serviced_invoice(self, typeTva=vat_type)

    def vat_accounts(self, tax):
        return set(tax.with_company(self.company).invoice_repartition_line_ids.account_id.mapped("code"))

    def test_the_vat_regime_chooses_among_the_articles_taxes(self):
        # An article for goods and services: its default taxes are both; Chorus Pro's typeTva says which.
        goods = self.env.ref("account.%s_tva_acq_normale" % self.company.id)
        services = self.env.ref("account.%s_tva_acq_encaissement" % self.company.id)
        self.company_data["default_account_expense"].tax_ids = goods | services
        on_receipts = self.invoice("TVA_SUR_ENCAISSEMENT")
        self.assertEqual(on_receipts.vat_type, "TVA_SUR_ENCAISSEMENT")
        self.mandate(on_receipts)
        self.assertEqual(on_receipts.move_id.invoice_line_ids.tax_ids, services, on_receipts.mandate_error)
        self.assertEqual(services.tax_exigibility, "on_payment")
        self.assertEqual(on_receipts.move_id.amount_total, 1200.0)
        on_debits = serviced_invoice(self, typeTva="TVA_SUR_DEBIT")
        self.mandate(on_debits)
        self.assertEqual(on_debits.move_id.invoice_line_ids.tax_ids, goods, on_debits.mandate_error)

    def test_goods_on_debits_get_the_tax_on_invoice(self):
        invoice = self.invoice("TVA_SUR_DEBIT")
        self.mandate(invoice)
        tax = invoice.move_id.invoice_line_ids.tax_ids
        self.assertEqual((len(tax), tax.tax_exigibility), (1, "on_invoice"), invoice.mandate_error)
        self.assertFalse(any(code.startswith("44562") for code in self.vat_accounts(tax)), "not a fixed asset's VAT")

    def test_fixed_asset_article_gets_the_fixed_assets_vat(self):
        invoice = self.invoice("TVA_SUR_DEBIT")
        asset = self.env["account.account"].search([
            *self.env["account.account"]._check_company_domain(self.company), ("account_type", "=", "asset_fixed"),
            ("deprecated", "=", False)], limit=1)
        self.mandate(invoice, account_id=asset.id)
        tax = invoice.move_id.invoice_line_ids.tax_ids
        self.assertEqual(len(tax), 1, invoice.mandate_error)
        self.assertTrue(any(code.startswith("44562") for code in self.vat_accounts(tax)), self.vat_accounts(tax))

    def test_several_taxes_fit_the_user_chooses(self):
        # Chorus Pro does not say the VAT regime, the article is for goods and services, the company has no default
        # purchase tax: both taxes fit.
        self.company.account_purchase_tax_id = False
        goods = self.env.ref("account.%s_tva_acq_normale" % self.company.id)
        services = self.env.ref("account.%s_tva_acq_encaissement" % self.company.id)
        self.company_data["default_account_expense"].tax_ids = goods | services
        invoice = self.invoice(None)
        self.assertFalse(invoice.vat_type)
        self.mandate(invoice)
        self.assertFalse(invoice.move_id)
        self.assertRegex(invoice.mandate_error, r"2 purchase taxes of 20.0 % fit .*choose one in the mandate window")
        self.mandate(invoice, tax_ids=[Command.set(services.ids)])
        self.assertEqual(invoice.move_id.invoice_line_ids.tax_ids, services, invoice.mandate_error)


@tagged("post_install", "-at_install", "chorus_inbound")
class TestChorusMandateTotals(BuyerCase):
    """What Chorus Pro's totals say when its VAT recap is missing or a global discount applies: booked from the
    totals, or refused with the exact reason, never "the amounts do not add up" when they do."""

    def invoice(self, **values):
        return serviced_invoice(self, **values)

    def test_no_vat_recap_the_rate_from_the_totals(self):
        self.company.chorus_vat_recoverable = True
        invoice = self.invoice(sansRecapTva=True)
        self.assertFalse(invoice.tax_line_ids)
        self.mandate(invoice)
        bill = invoice.move_id
        self.assertEqual((bill.amount_untaxed, bill.amount_tax, bill.amount_total), (1000.0, 200.0, 1200.0),
                         invoice.mandate_error)
        self.assertEqual(bill.invoice_line_ids.tax_ids.amount, 20.0)

    def test_no_vat_recap_and_no_single_rate_is_refused_with_the_figures(self):
        self.company.chorus_vat_recoverable = True
        invoice = self.invoice(sansRecapTva=True, montantTTC=1123.45, montantAPayer=1123.45)
        self.mandate(invoice)
        self.assertFalse(invoice.move_id)
        self.assertIn("no VAT recap for it, and its VAT 123.45 is not one rate of its untaxed amount 1000.0",
                      invoice.mandate_error)

    def test_global_discount_off_the_total(self):
        # 1 200 TTC before a global discount of 100: 1 100 to pay; VAT not recoverable, the expense is 1 100.
        invoice = self.invoice(montantTTC=1100.0, montantAPayer=1100.0, montantRemiseGlobaleTTC=100.0)
        self.assertEqual((invoice.amount_tax, invoice.amount_discount, invoice.amount_total), (200.0, 100.0, 1100.0))
        self.mandate(invoice)
        bill = invoice.move_id
        self.assertEqual((bill.amount_total, bill.amount_residual), (1100.0, 1100.0), invoice.mandate_error)
        self.assertEqual(sorted(bill.invoice_line_ids.mapped("price_subtotal")), [-100.0, 1200.0])

    def test_global_discount_with_vat_recoverable_is_refused_with_the_reason(self):
        self.company.chorus_vat_recoverable = True
        invoice = self.invoice(montantTTC=1100.0, montantAPayer=1100.0, montantRemiseGlobaleTTC=100.0)
        self.mandate(invoice)
        self.assertFalse(invoice.move_id)
        self.assertIn("a global discount of 100.0 incl. VAT, that Chorus Pro does not split by VAT rate",
                      invoice.mandate_error)
