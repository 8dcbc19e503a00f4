"""Sending invoices and credit notes to Chorus Pro (supplier side), against the sandbox."""

import base64
import io
import tarfile
import zipfile
from datetime import timedelta, timezone

from facturx import get_xml_from_pdf
from lxml import etree
from pypdf import PdfReader

import odoo
from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import Form, new_test_user, tagged
from odoo.addons.account.tests.common import AccountTestInvoicingCommon

from .common import COMMUNE_SIRET, HOPITAL_SIRET, SUPPLIER_SIRET, make_pdf
from .test_partner import ChorusCompanyMixin

DEPOSIT = "factures/v1/deposer/flux"
NS = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
      "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}
UBL = {"cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
       "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}


class ChorusSendCommon(ChorusCompanyMixin, AccountTestInvoicingCommon):
    """A French supplier against the sandbox, with two public customers looked up in Chorus Pro."""

    @classmethod
    @AccountTestInvoicingCommon.setup_country("fr")
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.setup_chorus_company()
        cls.company.write({"vat": "FR91746948785", "street": "12 avenue des Belges", "zip": "13100",
                           "city": "Aix-en-Provence", "email": "compta@anp.example.fr", "phone": "+33 4 42 00 00 00"})
        cls.commune = cls.env["res.partner"].create({
            "name": "Commune de Saint-Véran-les-Pins", "is_company": True, "siret": COMMUNE_SIRET,
            "street": "Place de la Mairie", "zip": "84240", "city": "Saint-Véran-les-Pins",
            "country_id": cls.env.ref("base.fr").id, "invoice_sending_method": "chorus_pro"})
        cls.hopital = cls.env["res.partner"].create({
            "name": "Centre Hospitalier de Valbonne", "is_company": True, "siret": HOPITAL_SIRET,
            "street": "1 route de l'Hôpital", "zip": "06560", "city": "Valbonne",
            "country_id": cls.env.ref("base.fr").id, "invoice_sending_method": "chorus_pro"})
        for customer in (cls.commune | cls.hopital):
            customer._chorus_check_structure()  # what the background job does (its commits aside)
        cls.tax = cls.company_data["default_tax_sale"]
        cls.env["res.partner.bank"].create({
            "acc_number": "FR7630004008230001234567842", "partner_id": cls.company.partner_id.id,
            "allow_out_payment": True})

    def setUp(self):
        super().setUp()
        self.reset_sandbox()

    def make_invoice(self, partner=None, post=True, move_type="out_invoice", **values):
        move = self.env["account.move"].create({
            "move_type": move_type,
            "partner_id": (partner or self.commune).id,
            "invoice_date": fields.Date.today(),
            "invoice_line_ids": [
                Command.create({"name": "Maintenance", "quantity": 3, "price_unit": 850.0,
                                "tax_ids": [Command.set(self.tax.ids)]}),
                Command.create({"name": "Poste de travail", "quantity": 2, "price_unit": 420.0,
                                "tax_ids": [Command.set(self.tax.ids)]}),
            ],
            **values,
        })
        if post:
            move.action_post()
            # The invoice's printed PDF, as the send flow keeps it (wkhtmltopdf cannot run inside a
            # TransactionCase: it would call back into the test server and wait on this transaction).
            move.invoice_pdf_report_file = base64.b64encode(make_pdf(["Facture %s" % move.name]))
        return move

    def deposits(self):
        return self.calls(DEPOSIT)

    def send_queued(self):
        """What the worker lanes do with the invoices queued for Chorus Pro: chunk after chunk, until none is left."""
        for _chunk in range(100):
            if not self.env["chorus.worker"]._chorus_run(["send"]):
                break

    def assertRefused(self, move, pattern):
        with self.assertRaisesRegex(UserError, pattern):
            move._chorus_send()
        self.assertEqual(self.deposits(), 0, "nothing may be deposited")
        self.assertNotIn(move.chorus_state, ("sending", "deposited", "integrated"))


@tagged("post_install", "-at_install", "chorus_send")
class TestChorusSend(ChorusSendCommon):

    # ---------------------------------------------------------------- refusals
    def test_refused_without_siret(self):
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        self.env.cr.execute("UPDATE res_partner SET siret = NULL WHERE id = %s", [self.commune.id])
        self.commune.invalidate_recordset(["siret"])
        self.assertRefused(move, "Customer SIRET: The SIRET is missing")

    def test_refused_invalid_siret(self):
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        self.env.cr.execute("UPDATE res_partner SET siret = '21340012000018' WHERE id = %s", [self.commune.id])
        self.commune.invalidate_recordset(["siret"])
        self.assertRefused(move, "check digit is wrong")

    def test_refused_missing_service_code(self):
        self.assertRefused(self.make_invoice(), "requires a service exécutant")

    def test_refused_missing_engagement(self):
        self.assertRefused(self.make_invoice(self.hopital), "requires the engagement juridique number")

    def test_refused_reserved_and_inactive_services(self):
        self.assertRefused(self.make_invoice(buyer_reference="FACTURES_PUBLIQUES"), "reserved for invoices between")
        self.assertRefused(self.make_invoice(buyer_reference="ANCIEN_CCAS"), "ANCIEN_CCAS .* is inactive")

    def test_refused_long_engagement(self):
        self.assertRefused(self.make_invoice(self.hopital, purchase_order_reference="E" * 51),
                           "more than 50 characters")

    def test_refused_attachments(self):
        def attachment(name, raw):
            return self.env["ir.attachment"].create({"name": name, "raw": raw})
        cases = [
            (attachment("virus.exe", b"MZ\x90\x00"), "only PDF, CSV and XML"),
            (attachment("faux.pdf", b"not a pdf at all"), "not a PDF"),
            (attachment("gros.pdf", b"%PDF-1.4" + b"0" * (5 * 1024 * 1024)), "larger than 5 MB"),
            (attachment("n" * 47 + ".pdf", b"%PDF-1.4 x"), "more than 50 characters"),
            (attachment("xxe.xml", b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'),
             "not well-formed XML"),
            (attachment("table.csv", b"PK\x03\x04zip"), "not a text CSV"),
        ]
        for att, pattern in cases:
            move = self.make_invoice(buyer_reference="SERV_TECHNIQUES", chorus_attachment_ids=[Command.set(att.ids)])
            self.assertRefused(move, pattern)

    def test_refused_draft_and_cancelled(self):
        self.assertRefused(self.make_invoice(post=False, buyer_reference="SERV_TECHNIQUES"), "only posted")
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        move.button_cancel()
        self.assertRefused(move, "only posted")

    # ------------------------------------------------------------- the flux
    def test_send_factur_x_content(self):
        pv = self.env["ir.attachment"].create({"name": "pv_reception.pdf", "raw": b"%PDF-1.4 PV de reception"})
        move = self.make_invoice(self.hopital, purchase_order_reference="EJ-CHV-2026-000123",
                                 contract_reference="MARCHE-2026-07", chorus_attachment_ids=[Command.set(pv.ids)])
        reply = move._chorus_send()
        self.assertEqual(move.chorus_state, "deposited")
        self.assertEqual(move.chorus_flux_number, reply.flux_number)
        self.assertTrue(move.chorus_sent_date)
        self.assertEqual(move.chorus_flux_syntax, "IN_DP_E2_CII_FACTURX")
        self.assertIn(move.chorus_flux_number, move.message_ids[0].body)
        pdf = move.chorus_flux_attachment_id.raw
        self.assertTrue(pdf.startswith(b"%PDF"))
        _name, xml = get_xml_from_pdf(pdf, check_xsd=True)
        root = etree.fromstring(xml)
        self.assertEqual(root.xpath("//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID/text()",
                                    namespaces=NS), ["EJ-CHV-2026-000123"])
        self.assertEqual(root.xpath("//ram:ContractReferencedDocument/ram:IssuerAssignedID/text()",
                                    namespaces=NS), ["MARCHE-2026-07"])
        self.assertEqual(root.xpath("//ram:BuyerReference", namespaces=NS), [],
                         "no invented service code when the invoice has none")
        seller = root.xpath("//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID", namespaces=NS)[0]
        buyer = root.xpath("//ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID", namespaces=NS)[0]
        self.assertEqual((seller.text, seller.get("schemeID")), (SUPPLIER_SIRET, "0009"))
        self.assertEqual((buyer.text, buyer.get("schemeID")), (HOPITAL_SIRET, "0009"))
        total = root.xpath("//ram:SpecifiedTradeSettlementHeaderMonetarySummation", namespaces=NS)[0]
        self.assertAlmostEqual(float(total.findtext("ram:TaxBasisTotalAmount", namespaces=NS)), 3390.0)
        self.assertAlmostEqual(float(total.findtext("ram:GrandTotalAmount", namespaces=NS)), move.amount_total)
        self.assertEqual(root.findtext(".//ram:IssuerAssignedID", namespaces=NS) or "", "EJ-CHV-2026-000123")
        # What Chorus Pro received: the same file, and it integrates it.
        flux = self.sandbox.state.flux[move.chorus_flux_number]
        self.assertEqual(flux["content"], pdf)
        embedded = PdfReader(io.BytesIO(pdf)).attachments
        self.assertEqual(set(embedded), {"factur-x.xml", "pv_reception.pdf"},
                         "supporting documents travel inside the Factur-X PDF")
        self.assertEqual(embedded["pv_reception.pdf"][0], b"%PDF-1.4 PV de reception")
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(move.chorus_state, "integrated")
        self.assertEqual(move.chorus_invoice_status, "DEPOSEE")
        self.assertTrue(move.chorus_invoice_id)

    def test_send_service_code_and_credit_note(self):
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        move._chorus_send()
        _name, xml = get_xml_from_pdf(move.chorus_flux_attachment_id.raw, check_xsd=False)
        root = etree.fromstring(xml)
        self.assertEqual(root.xpath("//ram:BuyerReference/text()", namespaces=NS), ["SERV_TECHNIQUES"])
        self.assertEqual(root.xpath("//ram:BuyerOrderReferencedDocument", namespaces=NS), [],
                         "Odoo's fallback (the invoice number as engagement) must not reach Chorus Pro")
        refund = self.make_invoice(move_type="out_refund", buyer_reference="SERV_TECHNIQUES")
        refund._chorus_send()
        _name, xml = get_xml_from_pdf(refund.chorus_flux_attachment_id.raw, check_xsd=False)
        self.assertEqual(etree.fromstring(xml).findtext(".//ram:TypeCode", namespaces=NS), "381")
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual((move | refund).mapped("chorus_state"), ["integrated", "integrated"])

    # ---------------------------------------------------------- definitive
    def test_definitive_once_sent(self):
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        move._chorus_send()
        with self.assertRaises(UserError):
            move.unlink()
        for action in (move.button_draft, move.button_cancel,
                       lambda: move.write({"invoice_date": fields.Date.today().replace(day=1)}),
                       lambda: move.write({"buyer_reference": "ECOLES"})):
            with self.assertRaisesRegex(UserError, "already sent to Chorus Pro on .*, flux CPP"):
                action()
        self.assertEqual(move.state, "posted")
        move.write({"narration": "Notes stay editable"})
        with self.assertRaisesRegex(UserError, "already sent to Chorus Pro"):
            move._chorus_send()
        with self.assertRaisesRegex(UserError, "already sent to Chorus Pro"):
            move.action_chorus_send()
        self.assertEqual(self.deposits(), 1, "a second send deposits nothing")

    def test_rejected_flux_can_be_corrected_and_sent_again(self):
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        # The structure starts requiring an engagement after the customer was read.
        self.sandbox.state.structures[25000101]["parametres"]["numeroEJDoitEtreRenseigne"] = True
        move._chorus_send()
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(move.chorus_state, "rejected")
        self.assertIn("engagement juridique est obligatoire", move.chorus_error)
        self.assertTrue(move.activity_ids.filtered(lambda a: "rejected" in a.summary))
        move.button_draft()
        move.purchase_order_reference = "EJ-2026-1"
        move.action_post()
        move._chorus_send()
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(move.chorus_state, "integrated")
        self.assertEqual(self.deposits(), 2)

    def test_chorus_customer_visible_before_sending(self):
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        self.assertTrue(move.chorus_customer, "the commune receives through Chorus Pro: said on the invoice")
        other = self.env["res.partner"].create({"name": "Client par e-mail", "is_company": True})
        move.button_draft()
        move.partner_id = other
        self.assertFalse(move.chorus_customer)

    def test_rejected_by_the_buyer_stays_definitive_and_is_corrected_by_a_credit_note(self):
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        move._chorus_send()
        self.env["account.move"]._cron_chorus_follow_up()
        self.sandbox.state.set_status(int(move.chorus_invoice_id), "REJETEE", "Facture en double")
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(move.chorus_invoice_status, "REJETEE")
        # Same number, same content, as the buyer received it: no reset to draft, no second send.
        for action in (move.button_draft, move.button_cancel, move._chorus_send):
            with self.assertRaisesRegex(UserError, "already sent to Chorus Pro"):
                action()
        self.assertTrue(move.chorus_is_definitive)
        self.assertIn("credit note and a new invoice", move.chorus_next_step)
        # Odoo's credit note window, "Reverse and Create Invoice": the credit note and a copy to send anew.
        action = move.action_chorus_credit_and_copy()
        self.assertEqual(action["res_model"], "account.move.reversal")
        reversal = self.env["account.move.reversal"].with_context(
            active_model="account.move", active_ids=move.ids).create({
                "reason": "Rejetée par l'acheteur", "journal_id": move.journal_id.id})
        new_action = reversal.modify_moves()
        credit_note = move.reversal_move_ids
        copy = self.env["account.move"].browse(new_action["res_id"])
        self.assertEqual((credit_note.move_type, credit_note.state, credit_note.amount_total),
                         ("out_refund", "posted", move.amount_total))
        self.assertEqual(move.payment_state, "reversed")
        self.assertEqual((copy.state, copy.chorus_state, copy.buyer_reference), ("draft", False, "SERV_TECHNIQUES"))
        self.assertNotEqual(copy.name, move.name)
        self.assertEqual(self.deposits(), 1, "nothing sent again by itself")
        # An invoice the buyer did not reject has no such button.
        other = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        with self.assertRaisesRegex(UserError, "Only an invoice the buyer rejected"):
            other.action_chorus_credit_and_copy()

    # ------------------------------------------------------ never twice
    def test_lost_reply_never_deposits_twice(self):
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        self.inject("lost_reply", DEPOSIT)
        with self.assertRaisesRegex(UserError, "reply of Chorus Pro .* was lost"):
            move._chorus_send()
        self.assertEqual(move.chorus_state, "unknown")
        self.assertEqual(self.deposits(), 1)
        # Sending again first asks Chorus Pro, which has the invoice: no second deposit.
        with self.assertRaisesRegex(UserError, "already sent to Chorus Pro"):
            move._chorus_send()
        self.assertEqual(move.chorus_state, "integrated")
        self.assertTrue(move.chorus_invoice_id)
        self.assertEqual(self.deposits(), 1)

    def test_lost_reply_before_chorus_lists_it(self):
        self.sandbox.state.config["flux_delay"] = 3600
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        self.inject("lost_reply", DEPOSIT)
        with self.assertRaisesRegex(UserError, "reply of Chorus Pro .* was lost"):
            move._chorus_send()
        self.assertEqual(move.chorus_state, "unknown")
        with self.assertRaisesRegex(UserError, "does not list it yet.*Not in Chorus Pro"):
            move._chorus_send()
        # Days later, still not listed (Chorus Pro still processing): it stays unknown, never sent twice by
        # itself; a user is told once.
        move.sudo().chorus_sent_date = fields.Datetime.now() - timedelta(days=2)
        self.env["account.move"]._cron_chorus_follow_up()
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(move.chorus_state, "unknown")
        self.assertEqual(len(move.activity_ids.filtered(lambda a: "lost reply" in a.summary)), 1)
        self.assertEqual(self.deposits(), 1)
        self.control("advance", seconds=3601)
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(move.chorus_state, "integrated")
        self.assertEqual(self.deposits(), 1)

    def test_lost_reply_user_confirms_not_in_chorus(self):
        """The way out when Chorus Pro never received it: a user checks the portal and says so."""
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        # A deposit whose reply was lost before Chorus Pro kept anything.
        move.sudo().write({"chorus_state": "unknown",
                                                          "chorus_sent_date": fields.Datetime.now()})
        with self.assertRaisesRegex(UserError, "does not list it yet"):
            move._chorus_send()
        move.action_chorus_not_in_chorus()
        self.assertEqual(move.chorus_state, "error")
        self.assertIn("Not in Chorus Pro, as", move.chorus_error)
        move._chorus_send()
        self.assertEqual((move.chorus_state, self.deposits()), ("deposited", 1))
        # Said of an invoice Chorus Pro does have: it is found and followed, not sent again.
        self.env["account.move"]._cron_chorus_follow_up()
        move.sudo().write({"chorus_state": "unknown"})
        move.action_chorus_not_in_chorus()
        self.assertEqual((move.chorus_state, self.deposits()), ("integrated", 1))

    def test_sending_interrupted(self):
        """A worker that stopped while depositing leaves "sending": the cron looks it up once the call
        cannot be under way any more."""
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        move._chorus_send()
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(move.chorus_state, "integrated")
        # As a worker killed during the deposit call would leave it:
        move.sudo().write({"chorus_state": "sending", "chorus_invoice_id": False,
                                                          "chorus_sent_date": fields.Datetime.now()})
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(move.chorus_state, "sending", "too early: the deposit may still be under way")
        move.sudo().chorus_sent_date = fields.Datetime.now() - timedelta(minutes=10)
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual((move.chorus_state, self.deposits()), ("integrated", 1))
        self.assertTrue(move.chorus_invoice_id)
        self.assertIn("stopped half-way", move.message_ids.mapped("body")[1])

    def test_chorus_down_nothing_lost(self):
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        self.inject("503", DEPOSIT)
        with self.assertRaisesRegex(UserError, "unavailable"):
            move._chorus_send()
        self.assertEqual(move.chorus_state, "error")
        self.assertIn("unavailable", move.chorus_error)
        move._chorus_send()  # nothing reached Chorus Pro: sending again is safe
        self.assertEqual(move.chorus_state, "deposited")

    def test_two_users_at_once(self):
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        other = self.env["account.move"].sudo().search([("state", "=", "posted"), ("move_type", "=", "out_invoice"),
                                                        ("id", "!=", move.id)], limit=1)
        self.assertTrue(other, "a committed invoice (demo data) is needed to hold a real row lock")
        # A second user, in its own transaction, is sending the committed invoice right now.
        with odoo.sql_db.db_connect(self.env.cr.dbname).cursor() as other_cursor:
            other_cursor.execute("SELECT id FROM account_move WHERE id = %s FOR UPDATE", [other.id])
            with self.assertRaisesRegex(UserError, "being sent to Chorus Pro by another user"):
                other._chorus_send()
            other_cursor.rollback()
        self.assertEqual(self.deposits(), 0)

    # ------------------------------------------------------- send flow
    def test_send_wizard(self):
        move = self.make_invoice()
        action = move.action_chorus_send()
        wizard = self.env["account.move.send.wizard"].with_context(action["context"]).create({})
        self.assertEqual(wizard.sending_methods, ["chorus_pro"])
        self.assertTrue(wizard.chorus_display)
        self.assertEqual(wizard.chorus_siret, COMMUNE_SIRET)
        self.assertIn("requires a service exécutant", wizard.alerts["l10n_fr_chorus_efacture_errors"]["message"])
        self.assertEqual(wizard.alerts["l10n_fr_chorus_efacture_errors"]["level"], "danger")
        with self.assertRaisesRegex(UserError, "requires a service exécutant"):
            wizard.action_send_and_print()
        self.assertEqual(self.deposits(), 0)
        wizard.chorus_service_id = self.commune.chorus_service_ids.filtered(lambda s: s.code == "ECOLES")
        self.assertEqual(move.buyer_reference, "ECOLES")
        self.assertNotIn("l10n_fr_chorus_efacture_errors", wizard.alerts)
        self.assertIn("definitive", wizard.alerts["l10n_fr_chorus_efacture_definitive"]["message"])
        self.assertIn("Factur-X PDF %s.pdf" % move.name.replace("/", "_"), wizard.chorus_document,
                      "the window says which document it sends")
        action = wizard.action_send_and_print()
        self.assertEqual(move.chorus_state, "deposited")
        self.assertEqual(self.deposits(), 1)
        # The closing screen: the sending report, deposited with its flux number.
        self.assertEqual((action["res_model"], action["target"]), ("chorus.send.report", "new"))
        report = self.env["chorus.send.report"].browse(action["res_id"])
        self.assertEqual(report.outcome, "done")
        self.assertEqual(report.line_ids.move_id, move)
        self.assertEqual(report.line_ids.outcome, "deposited")
        self.assertEqual(report.line_ids.flux_number, move.chorus_flux_number)
        self.assertIn(move.chorus_flux_number, report.line_ids.detail)
        self.assertEqual(move.action_chorus_open_send_report()["res_id"], report.id, "reachable from the invoice")
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(report.line_ids.outcome, "integrated", "the report opened later tells how it ended")

    def test_invoice_pdf_for_chorus_waits_less(self):
        """Odoo's wkhtmltopdf waits report.print_delay (1 s) after loading each page; an invoice rendered to be
        sent to Chorus Pro waits the module's own, shorter delay (nothing on an invoice draws late)."""
        Report = self.env["ir.actions.report"]
        paperformat = self.env.company.paperformat_id or self.env.ref("base.paperformat_euro")

        def delay(report):
            args = report._build_wkhtmltopdf_args(paperformat, False)
            return args[args.index("--javascript-delay") + 1]

        self.assertEqual(delay(Report), "1000", "other reports keep Odoo's delay")
        self.assertEqual(delay(Report.with_context(chorus_invoice_pdf=True)), "100")
        self.env["ir.config_parameter"].sudo().set_param("l10n_fr_chorus_efacture.print_delay", "250")
        self.assertEqual(delay(Report.with_context(chorus_invoice_pdf=True)), "250")

    def test_already_sent_refused_when_the_window_opens(self):
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        move._chorus_send()
        pdfs = self.env["ir.attachment"].search_count([("res_model", "=", "account.move"), ("res_id", "=", move.id)])
        # "Print & Send" on an invoice already in Chorus Pro: the Chorus Pro box is not offered, and why is said.
        wizard = self.env["account.move.send.wizard"].with_context(move.action_send_and_print()["context"]).create({})
        self.assertNotIn("chorus_pro", wizard.sending_methods or [])
        self.assertNotIn("chorus_pro", wizard.sending_method_checkboxes)
        self.assertRegex(wizard.alerts["l10n_fr_chorus_efacture_already_sent"]["message"],
                         r"already sent to Chorus Pro on \d\d/\d\d/\d{4} \d\d:\d\d:\d\d, flux CPP")
        self.assertEqual(self.deposits(), 1)
        self.assertEqual(self.env["ir.attachment"].search_count(
            [("res_model", "=", "account.move"), ("res_id", "=", move.id)]), pdfs, "nothing generated")
        with self.assertRaisesRegex(UserError, "already sent to Chorus Pro"):
            move.action_chorus_send()
        # Emailing it works: the window writes back its untouched routing fields, which is no change.
        form = Form(self.env["account.move.send.wizard"].with_context(move.action_send_and_print()["context"]))
        self.assertEqual(form.chorus_service_code, "SERV_TECHNIQUES")
        form.save().action_send_and_print()
        with self.assertRaisesRegex(UserError, "already sent to Chorus Pro"):
            move.buyer_reference = "ECOLES"  # a real change is still refused

    def test_service_code_typed_by_hand(self):
        """A code not in the list read from Chorus Pro can be typed; Chorus Pro checks it at deposit."""
        move = self.make_invoice()
        wizard = self.env["account.move.send.wizard"].with_context(move.action_chorus_send()["context"]).create({})
        self.assertTrue(wizard.chorus_service_known)
        wizard.chorus_service_code = "ECOLES"
        self.assertEqual(wizard.chorus_service_id.code, "ECOLES", "a typed code of the list is that service")
        wizard.chorus_service_code = "SERVICE_NOUVEAU"
        self.assertFalse(wizard.chorus_service_id)
        self.assertNotIn("l10n_fr_chorus_efacture_errors", wizard.alerts, "a typed code does not block")
        self.assertIn("SERVICE_NOUVEAU is not in the list",
                      wizard.alerts["l10n_fr_chorus_efacture_service_typed"]["message"])
        report = self.env["chorus.send.report"].browse(wizard.action_send_and_print()["res_id"])
        self.assertEqual(move.buyer_reference, "SERVICE_NOUVEAU")
        self.assertEqual(report.line_ids.outcome, "deposited")
        self.env["account.move"]._cron_chorus_follow_up()
        # Chorus Pro does not know it: the flux is rejected, and the report says why.
        self.assertEqual(move.chorus_state, "rejected")
        self.assertEqual(report.line_ids.outcome, "rejected")
        self.assertIn("Service exécutant inconnu", report.line_ids.detail)
        self.assertEqual(report.outcome, "refused")

        # The list could not be read (Chorus Pro down when the customer was looked up): the code is typed.
        self.commune.sudo().chorus_service_ids = [Command.clear()]
        other = self.make_invoice()
        wizard = self.env["account.move.send.wizard"].with_context(other.action_chorus_send()["context"]).create({})
        self.assertFalse(wizard.chorus_service_known)
        wizard.chorus_service_code = "ECOLES"
        wizard.action_send_and_print()
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(other.chorus_state, "integrated")

    def test_status_lifecycle(self):
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES", invoice_user_id=self.env.user.id)
        move._chorus_send()
        Move = self.env["account.move"]
        Move._cron_chorus_follow_up()
        invoice_id = int(move.chorus_invoice_id)
        self.control("advance", seconds=3601)  # DEPOSEE -> MISE_A_DISPOSITION
        Move._cron_chorus_follow_up()
        self.assertEqual(move.chorus_invoice_status, "MISE_A_DISPOSITION")
        self.control("invoice/status", idFacture=invoice_id, statut="SUSPENDUE", commentaire="PV de réception manquant")
        Move._cron_chorus_follow_up()
        self.assertEqual(move.chorus_invoice_status, "SUSPENDUE")
        self.assertEqual(move.chorus_status_comment, "PV de réception manquant")
        activity = move.activity_ids.filtered(lambda a: "Suspended" in a.summary)
        self.assertEqual(activity.user_id, self.env.user)
        self.assertIn("PV de réception manquant", move.message_ids[0].body)
        self.control("invoice/status", idFacture=invoice_id, statut="MISE_EN_PAIEMENT")
        Move._cron_chorus_follow_up()
        self.assertEqual(move.chorus_invoice_status, "MISE_EN_PAIEMENT")
        calls = self.calls("factures/v1/rechercher/fournisseur")
        Move._cron_chorus_follow_up()
        self.assertEqual(self.calls("factures/v1/rechercher/fournisseur"), calls, "polling stops at final statuses")
        self.assertIn(move, Move.search([("chorus_invoice_status", "=", "MISE_EN_PAIEMENT")]))

    def test_list_shows_the_way_and_update_status_asks_now(self):
        """The invoice list's "Chorus Pro" column shows the transmission, then the status in Chorus Pro, with
        what happens next; "Update status" reads it now instead of waiting for the hourly follow-up."""
        billing = new_test_user(self.env, "chorus_billing_refresh", groups="account.group_account_invoice",
                                company_id=self.company.id, company_ids=[Command.set(self.company.ids)])
        queued, move = self.make_invoice(buyer_reference="SERV_TECHNIQUES"), self.make_invoice(
            buyer_reference="SERV_TECHNIQUES")
        self.assertFalse(move.chorus_display_state)
        queued._chorus_queue()
        self.assertEqual(queued.chorus_display_state, "queued")
        self.assertIn("within minutes", queued.chorus_next_step)
        move._chorus_send()
        self.assertEqual(move.chorus_display_state, "deposited")
        self.assertIn("processing the flux", move.chorus_next_step)
        move.with_user(billing).action_chorus_refresh_status()  # the flux is integrated: read now
        self.assertEqual((move.chorus_state, move.chorus_display_state), ("integrated", "DEPOSEE"))
        self.control("advance", seconds=3601)
        self.control("invoice/status", idFacture=int(move.chorus_invoice_id), statut="SUSPENDUE",
                     commentaire="Bon de commande manquant")
        calls = self.calls("factures/v1/rechercher/fournisseur")
        result = move.with_user(billing).action_chorus_refresh_status()
        self.assertEqual(move.chorus_display_state, "SUSPENDUE")
        self.assertIn("Complete", move.chorus_next_step)
        self.assertIn("%s: Suspended" % move.name, result["params"]["message"])
        self.assertEqual(self.calls("factures/v1/rechercher/fournisseur"), calls, "only this invoice is read")
        with self.assertRaisesRegex(UserError, "Only an invoice sent to Chorus Pro"):
            self.make_invoice().with_user(billing).action_chorus_refresh_status()

    def mark(self):
        return self.env["chorus.listing.mark"]._chorus_get(self.company, "supplier_statuses")

    def test_follow_up_asks_only_what_changed(self):
        """Once a run is through, Chorus Pro is asked only for the invoices whose status changed since (with a
        margin), not for everything the supplier ever sent: 250 invoices of a past history are listed on the first
        run (3 pages) and never again."""
        SEARCH, HISTORY = "factures/v1/rechercher/fournisseur", "factures/v1/consulter/historique"
        self.control("sent/generate", count=250, supplier_siret=self.company.siret, buyer_siret=COMMUNE_SIRET)
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        move._chorus_send()
        Move = self.env["account.move"]
        self.assertFalse(self.mark().changed_since, "no status run yet")
        searches = self.calls(SEARCH)
        Move._cron_chorus_follow_up()  # the flux integrated, then the first status run: every open invoice
        self.assertEqual(move.chorus_state, "integrated")
        self.assertEqual(self.calls(SEARCH) - searches, 1 + 3, "the flux's invoices, then 251 invoices at 100 a page")
        self.assertNotIn("periodeDateHeureEtatCourantDu", self.last_payload(SEARCH))
        self.assertNotIn("MISE_EN_PAIEMENT", self.last_payload(SEARCH)["statutCourant"], "open statuses only")
        mark = self.mark().changed_since
        self.assertTrue(mark)

        searches, histories = self.calls(SEARCH), self.calls(HISTORY)
        Move._cron_chorus_follow_up()  # nothing changed: one page, nothing read in full
        self.assertEqual(self.calls(SEARCH) - searches, 1)
        self.assertEqual(self.calls(HISTORY), histories)
        self.assertEqual(self.last_payload(SEARCH)["periodeDateHeureEtatCourantDu"], mark.isoformat() + "Z")

        self.control("invoice/status", idFacture=int(move.chorus_invoice_id), statut="SUSPENDUE",
                     commentaire="Bon de commande manquant")
        changed = self.sandbox.state.invoices[int(move.chorus_invoice_id)]["changed"]
        searches = self.calls(SEARCH)
        self.control("advance", seconds=3600)  # the next run, an hour later on Chorus Pro's clock
        Move._cron_chorus_follow_up()
        self.assertEqual(self.calls(SEARCH) - searches, 1)
        self.assertEqual(self.calls(HISTORY), histories + 1, "only the changed invoice is read in full")
        self.assertEqual(move.chorus_invoice_status, "SUSPENDUE")
        self.assertEqual(move.chorus_status_comment, "Bon de commande manquant")
        # The next window starts just after the latest status listed (Chorus Pro's clock, an hour ahead, minus
        # the overlap, is later): nothing listed twice.
        self.assertEqual(self.mark().changed_since.replace(tzinfo=timezone.utc).timestamp(), int(changed) + 1)
        mark = self.mark().changed_since

        # A run interrupted by an outage does not move the mark: the next run asks from the same point.
        self.inject("503", SEARCH, count=10)
        Move._cron_chorus_follow_up()
        self.assertEqual(self.mark().changed_since, mark)
        self.control("faults/clear")

        # Once a day, every open invoice is listed again (a status Chorus Pro would record with an earlier time).
        self.mark().full_listed_on = fields.Datetime.now() - timedelta(hours=25)
        searches = self.calls(SEARCH)
        Move._cron_chorus_follow_up()
        self.assertEqual(self.calls(SEARCH) - searches, 3)
        self.assertNotIn("periodeDateHeureEtatCourantDu", self.last_payload(SEARCH))

    def test_follow_up_burst_listed_once(self):
        """A month-end batch whose statuses share one time is listed again while it is within the overlap, not
        until something newer changes."""
        SEARCH = "factures/v1/rechercher/fournisseur"
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        move._chorus_send()
        Move = self.env["account.move"]
        Move._cron_chorus_follow_up()
        burst = self.control("sent/generate", count=250, supplier_siret=self.company.siret,
                             buyer_siret=COMMUNE_SIRET, status="MISE_A_DISPOSITION", prefix="BURST", age=0)["created"]
        self.assertEqual(len(burst), 250)
        searches = self.calls(SEARCH)
        Move._cron_chorus_follow_up()
        self.assertEqual(self.calls(SEARCH) - searches, 3, "the burst, listed")
        self.control("advance", seconds=3600)
        searches = self.calls(SEARCH)
        Move._cron_chorus_follow_up()
        self.assertEqual(self.calls(SEARCH) - searches, 3, "listed again: it was within the last run's overlap")
        for _run in range(3):
            searches = self.calls(SEARCH)
            Move._cron_chorus_follow_up()
            self.assertEqual(self.calls(SEARCH) - searches, 1, "nothing changed: one call")

    def test_follow_up_one_invoice_failing(self):
        """One invoice whose history Chorus Pro cannot give waits in the retry list with its reason; the others are
        followed, and it is followed once Chorus Pro answers again."""
        HISTORY = "factures/v1/consulter/historique"
        moves = [self.make_invoice(buyer_reference="SERV_TECHNIQUES") for _i in range(3)]
        for move in moves:
            move._chorus_send()
        Move = self.env["account.move"]
        Move._cron_chorus_follow_up()
        for move in moves:
            self.control("invoice/status", idFacture=int(move.chorus_invoice_id), statut="SUSPENDUE",
                         commentaire="PV manquant")
        self.inject("500", HISTORY, count=3)  # the first invoice's history, every attempt of its read
        Move._cron_chorus_follow_up()
        statuses = [move.chorus_invoice_status for move in moves]
        self.assertEqual(statuses.count("SUSPENDUE"), 2, "the others are followed")
        failed = next(move for move in moves if move.chorus_invoice_status != "SUSPENDUE")
        retry = self.env["chorus.retry"].search([("operation", "=", "follow_up"), ("res_id", "=", failed.id)])
        self.assertIn("unavailable", retry.reason)
        self.assertGreater(retry.next_try, fields.Datetime.now())
        # Its delay not over: left for now (the window holds it); over: followed.
        Move._cron_chorus_follow_up()
        self.assertNotEqual(failed.chorus_invoice_status, "SUSPENDUE")
        retry.action_retry_now()
        Move._cron_chorus_follow_up()
        self.assertEqual(failed.chorus_invoice_status, "SUSPENDUE")
        self.assertFalse(retry.exists())

    def test_follow_up_goes_on_past_an_unknown_flux(self):
        lost = self.make_invoice(buyer_reference="SERV_TECHNIQUES", invoice_user_id=self.env.user.id)
        lost.sudo().write({"chorus_state": "deposited", "chorus_flux_number": "CPP2026000999999",
                           "chorus_sent_date": fields.Datetime.now()})
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        move._chorus_send()
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(move.chorus_state, "integrated", "the other flux is followed")
        self.assertEqual(lost.chorus_state, "deposited")
        self.assertIn("does not report on the flux CPP2026000999999", lost.message_ids[0].body)
        self.assertTrue(lost.activity_ids.filtered(lambda a: a.summary == "Chorus Pro: flux not found"))

    def test_follow_up_survives_outage(self):
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        move._chorus_send()
        self.inject("500", "*", count=50)  # Chorus Pro down, its health check too
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(move.chorus_state, "deposited", "nothing changes while Chorus Pro is down")
        self.assertFalse(self.env["chorus.retry"].search([("res_id", "=", move.id)]),
                         "an outage is no failure of its own")
        self.control("faults/clear")
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(move.chorus_state, "integrated")
        # Only its flux's report failing while Chorus Pro answers otherwise: its own failure, tried again later.
        other = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        other._chorus_send()
        self.inject("500", "transverses/v1/consulterCRDetaille", count=10)
        self.env["account.move"]._cron_chorus_follow_up()
        retry = self.env["chorus.retry"].search([("res_id", "=", other.id), ("operation", "=", "follow_up")])
        self.assertIn("unavailable", retry.reason)

    # ------------------------------------------------------------- batch
    def test_batch_one_archive_flux(self):
        good_commune = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        good_hopital = self.make_invoice(self.hopital, purchase_order_reference="EJ-CHV-2026-000456")
        missing_service = self.make_invoice()
        moves = good_commune | good_hopital | missing_service
        wizard = self.env["account.move.send.batch.wizard"].with_context(
            active_model="account.move", active_ids=moves.ids).create({})
        self.assertIn("will not be sent to Chorus Pro", wizard.alerts["l10n_fr_chorus_efacture_errors"]["message"])
        self.assertIn(missing_service.name, wizard.alerts["l10n_fr_chorus_efacture_errors"]["message"])
        wizard.action_send_and_print()
        self.send_queued()
        self.assertEqual(self.deposits(), 1, "the invoices sent together go as one flux")
        flux_number = good_commune.chorus_flux_number
        self.assertTrue(flux_number)
        self.assertEqual(good_hopital.chorus_flux_number, flux_number)
        self.assertEqual((good_commune | good_hopital).mapped("chorus_state"), ["deposited", "deposited"])
        flux = self.sandbox.state.flux[flux_number]
        self.assertTrue(flux["nomFichier"].endswith(".tar.gz"))
        with tarfile.open(fileobj=io.BytesIO(flux["content"]), mode="r:gz") as archive:
            names = sorted(archive.getnames())
            self.assertEqual(names, sorted([good_commune.chorus_flux_attachment_id.name,
                                            good_hopital.chorus_flux_attachment_id.name]))
            member = archive.extractfile(good_hopital.chorus_flux_attachment_id.name).read()
        self.assertEqual(member, good_hopital.chorus_flux_attachment_id.raw, "each invoice keeps its own file")
        # The invalid one is left out, reported, and can be corrected and sent on its own.
        self.assertFalse(missing_service.chorus_state)
        self.assertFalse(missing_service.sending_data or missing_service.chorus_send_request, "not queued")
        self.assertTrue(any("requires a service exécutant" in (m.body or "") for m in missing_service.message_ids))
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual((good_commune | good_hopital).mapped("chorus_state"), ["integrated", "integrated"])
        self.assertNotEqual(good_commune.chorus_invoice_id, good_hopital.chorus_invoice_id)
        missing_service.buyer_reference = "ECOLES"
        missing_service._chorus_send()
        self.assertEqual(self.deposits(), 2)

    def test_batch_window_and_report(self):
        """Each invoice's service code and engagement in the batch window; a report of what was deposited,
        refused and why, updated as the background sending goes."""
        commune = self.make_invoice()
        hopital = self.make_invoice(self.hopital)
        refused = self.make_invoice(self.hopital)
        moves = commune | hopital | refused
        # As the browser does it: the form, its lines edited, then saved.
        form = Form(self.env["account.move.send.batch.wizard"].with_context(
            active_model="account.move", active_ids=moves.ids, chorus_send=True))
        self.assertEqual([form.chorus_line_ids.edit(i).move_id for i in range(3)], list(moves))
        self.assertIn(commune.name, form.alerts["l10n_fr_chorus_efacture_errors"]["message"])
        with form.chorus_line_ids.edit(0) as line:
            line.service_id = self.commune.chorus_service_ids.filtered(lambda s: s.code == "ECOLES")
            self.assertEqual(line.service_code, "ECOLES", "picked from the list, the code follows")
        with form.chorus_line_ids.edit(1) as line:
            line.engagement = "EJ-CHV-2026-000789"
        self.assertNotIn(commune.name, form.alerts["l10n_fr_chorus_efacture_errors"]["message"])
        self.assertIn(refused.name, form.alerts["l10n_fr_chorus_efacture_errors"]["message"])
        wizard = form.save()
        action = wizard.action_send_and_print()
        self.assertEqual((commune.buyer_reference, hopital.purchase_order_reference), ("ECOLES", "EJ-CHV-2026-000789"))
        report = self.env["chorus.send.report"].browse(action["res_id"])
        outcome = {line.move_id: line for line in report.line_ids}
        self.assertEqual(report.outcome, "pending")
        self.assertEqual([outcome[m].outcome for m in (commune, hopital, refused)], ["pending", "pending", "refused"])
        self.assertIn("engagement juridique", outcome[refused].detail)
        self.assertFalse(refused.sending_data or refused.chorus_send_request, "a refused invoice is not queued")
        self.send_queued()
        self.assertEqual([outcome[m].outcome for m in (commune, hopital, refused)],
                         ["deposited", "deposited", "refused"])
        self.assertEqual(outcome[commune].flux_number, hopital.chorus_flux_number)
        self.assertEqual(report.outcome, "partial")
        self.assertEqual((report.deposited_count, report.refused_count, report.pending_count), (2, 1, 0))
        self.assertEqual(self.deposits(), 1)
        self.assertIn(report, self.env["chorus.send.report"].search([]), "listed in Chorus Pro > Sending reports")

    def test_print_and_send_batch_of_chorus_customers_is_one_flux(self):
        """Odoo's own "Print & Send" on 12 invoices of customers set to Chorus Pro: queued for Chorus Pro (not Odoo's
        job, which takes 10 a run), one chunk, one flux."""
        moves = self.env["account.move"].concat(*(self.make_invoice(buyer_reference="SERV_TECHNIQUES")
                                                  for _number in range(12)))
        wizard = self.env["account.move.send.batch.wizard"].with_context(
            active_model="account.move", active_ids=moves.ids).create({})
        wizard.action_send_and_print()
        self.send_queued()
        self.assertEqual(set(moves.mapped("chorus_state")), {"deposited"})
        self.assertEqual(self.deposits(), 1)

    def test_batch_sent_by_a_billing_user(self):
        """An invoicing user (no admin right) sends a batch: queued, deposited by the worker lanes in one flux,
        said in the chatter as sent by that user."""
        billing = new_test_user(self.env, "chorus_billing_batch", name="Facturière",
                                groups="account.group_account_invoice", company_id=self.company.id,
                                company_ids=[Command.set(self.company.ids)])
        moves = self.env["account.move"].concat(*(self.make_invoice(buyer_reference="SERV_TECHNIQUES")
                                                  for _number in range(3)))
        wizard = self.env["account.move.send.batch.wizard"].with_user(billing).with_context(
            active_model="account.move", active_ids=moves.ids, chorus_send=True).create({})
        wizard.action_send_and_print()
        self.assertEqual([move.chorus_send_request["author_user_id"] for move in moves], [billing.id] * 3)
        self.assertEqual(self.deposits(), 0, "nothing deposited while the user waits")
        self.send_queued()
        self.assertEqual(set(moves.mapped("chorus_state")), {"deposited"})
        self.assertEqual(self.deposits(), 1)
        for move in moves:
            sent = move.message_ids.filtered(lambda message: "Chorus Pro" in (message.body or ""))
            self.assertEqual(sent.author_id, billing.partner_id, "the chatter says who sent it")

    def test_send_to_chorus_keeps_the_method_in_the_background(self):
        """"Send to Chorus Pro" on several invoices of customers set to email: the worker lanes deposit them (one
        flux for the selection, a chunk), and email nobody."""
        self.commune.invoice_sending_method = "email"
        self.commune.email = "mairie@saint-veran.example.fr"
        moves = self.env["account.move"]
        for _number in range(12):
            moves |= self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        action = moves.action_chorus_send()
        wizard = self.env[action["res_model"]].with_context(action["context"]).create({})
        self.assertEqual(list(wizard.summary_data), ["chorus_pro"])
        wizard.action_send_and_print()
        mails_before = self.env["mail.mail"].search_count([])
        self.send_queued()
        self.assertEqual(self.deposits(), 1, "one flux for the 12 invoices selected together")
        self.assertEqual(set(moves.mapped("chorus_state")), {"deposited"})
        self.assertEqual(len(set(moves.mapped("chorus_flux_number"))), 1)
        self.assertEqual(self.env["mail.mail"].search_count([]), mails_before, "nobody emailed")
        self.assertFalse(any(moves.mapped("sending_data")) or any(moves.mapped("chorus_send_request")))

    def test_sent_to_chorus_whatever_the_customer_method(self):
        """A customer not set to Chorus Pro, sent through Chorus Pro: its structure is looked up, and the flux
        carries the exact routing data (no fallback to its reference or the invoice number, SIRET scheme 0009)."""
        self.hopital.write({"invoice_sending_method": "email", "ref": "CLIENT-HOPITAL-42"})
        self.hopital.sudo().write({"chorus_structure_id": 0, "chorus_service_ids": [Command.clear()]})
        move = self.make_invoice(self.hopital, purchase_order_reference="EJ-CHV-2026-000123")
        move._chorus_send()
        self.assertEqual(self.hopital.chorus_structure_id, 25000202, "looked up before depositing")
        xml = get_xml_from_pdf(move.chorus_flux_attachment_id.raw, check_xsd=False)[1]
        root = etree.fromstring(xml)
        ns = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}
        self.assertFalse(root.xpath("//ram:BuyerReference", namespaces=ns), "no invented service code (BT-10)")
        self.assertEqual(root.xpath("//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID/text()", namespaces=ns),
                         ["EJ-CHV-2026-000123"])
        self.assertEqual(root.xpath("//ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID/@schemeID",
                                    namespaces=ns), ["0009"])
        # Its engagement is required by its structure: refused before any deposit when missing.
        other = self.make_invoice(self.hopital)
        with self.assertRaisesRegex(UserError, "requires the engagement juridique"):
            other._chorus_send()
        self.assertEqual(self.deposits(), 1)

    def test_flux_integrated_before_listed_and_incidents(self):
        """Rejected only when Chorus Pro says so: integrated but not listed yet waits; an incident is shown."""
        self.sandbox.state.config.update(flux_delay=3600, list_delay=7200)
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        move._chorus_send()
        flux = move.chorus_flux_number
        self.control("flux/state", numeroFluxDepot=flux, etat="IN_INCIDENTE")
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual((move.chorus_state, move.chorus_flux_state), ("deposited", "IN_INCIDENTE"))
        self.assertTrue(move.activity_ids.filtered(lambda a: "incident" in a.summary))
        self.control("flux/state", numeroFluxDepot=flux, etat="IN_EN_ATTENTE_RETRAITEMENT_CPP")
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(move.chorus_flux_state, "IN_EN_ATTENTE_RETRAITEMENT_CPP")
        self.control("flux/state", numeroFluxDepot=flux, etat="IN_EN_ATTENTE_TRAITEMENT_CPP")
        self.control("advance", seconds=3601)
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(move.chorus_flux_state, "IN_INTEGRE")
        self.assertEqual(move.chorus_state, "deposited", "integrated but not listed yet: it waits")
        with self.assertRaisesRegex(UserError, "already sent to Chorus Pro"):
            move.button_draft()
        self.control("advance", seconds=7201)
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(move.chorus_state, "integrated")
        self.assertEqual(self.deposits(), 1)

    def test_rejected_again_but_chorus_has_it(self):
        """A flux rejected as a duplicate of an invoice Chorus Pro already has: the invoice follows that one."""
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        move._chorus_send()
        self.env["account.move"]._cron_chorus_follow_up()
        first_id = move.chorus_invoice_id
        # As if it had been deposited again after a lost reply (a user said "Not in Chorus Pro" wrongly).
        move.sudo().write({"chorus_state": "error", "chorus_invoice_id": False})
        move._chorus_send()
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual((move.chorus_state, move.chorus_invoice_id), ("integrated", first_id))
        self.assertIn("already had this invoice", move.message_ids[0].body)

    def test_batch_zip_and_partial_integration(self):
        self.company.chorus_archive_format = "zip"
        good = self.make_invoice(buyer_reference="SERV_TECHNIQUES", purchase_order_reference="EJ-2026-1")
        refused_later = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        failures, reply = self.env["account.move"]._chorus_send_many({good: None, refused_later: None})
        self.assertEqual(failures, {})
        flux = self.sandbox.state.flux[reply.flux_number]
        self.assertTrue(flux["content"].startswith(b"PK"))
        with zipfile.ZipFile(io.BytesIO(flux["content"])) as archive:
            self.assertEqual(len(archive.namelist()), 2)
        # Chorus Pro refuses one invoice of the flux: only that one is rejected.
        self.sandbox.state.structures[25000101]["parametres"]["numeroEJDoitEtreRenseigne"] = True
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(flux["etat"], "IN_INTEGRE_PARTIEL")
        self.assertEqual(good.chorus_state, "integrated")
        self.assertEqual(refused_later.chorus_state, "rejected")
        self.assertIn("engagement juridique est obligatoire", refused_later.chorus_error)

    # ------------------------------------------------- complete, recycle
    def _sent_and_made_available(self, partner=None, **values):
        move = self.make_invoice(partner, invoice_user_id=self.env.user.id, **values)
        move._chorus_send()
        self.env["account.move"]._cron_chorus_follow_up()
        self.control("advance", seconds=3601)
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(move.chorus_invoice_status, "MISE_A_DISPOSITION")
        return move

    def _update_wizard(self, action):
        return self.env[action["res_model"]].with_context(action["context"]).create({})

    def test_complete_suspended_invoice(self):
        move = self._sent_and_made_available(buyer_reference="SERV_TECHNIQUES")
        with self.assertRaisesRegex(UserError, "is not Suspended in Chorus Pro"):
            self._update_wizard(move.action_chorus_complete()).action_confirm()
        self.control("invoice/status", idFacture=int(move.chorus_invoice_id), statut="SUSPENDUE",
                     commentaire="Joindre le PV de réception")
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertTrue(move.activity_ids)
        wizard = self._update_wizard(move.action_chorus_complete())
        self.assertEqual(wizard.status_comment, "Joindre le PV de réception")
        with self.assertRaisesRegex(UserError, "add at least one document"):
            wizard.action_confirm()
        wizard.attachment_ids = self.env["ir.attachment"].create({"name": "pv.exe", "raw": b"MZ\x90\x00"})
        with self.assertRaisesRegex(UserError, "pv.exe: only PDF, CSV and XML"):
            wizard.action_confirm()
        self.assertEqual(self.sandbox.state.invoices[int(move.chorus_invoice_id)]["statut"], "SUSPENDUE")
        pv = self.env["ir.attachment"].create({"name": "pv_reception.pdf", "raw": make_pdf(["PV de reception"])})
        wizard.write({"attachment_ids": [Command.set(pv.ids)], "comment": "PV signé"})
        wizard.action_confirm()
        self.assertEqual(move.chorus_invoice_status, "COMPLETEE")
        self.assertIn(pv, move.chorus_attachment_ids)
        self.assertFalse(move.activity_ids, "the activity of the suspension is done")
        invoice = self.sandbox.state.invoices[int(move.chorus_invoice_id)]
        self.assertEqual([p["nom"] for p in invoice["pieces"]][-1], "pv_reception.pdf")
        self.assertEqual(invoice["pieces"][-1]["contenu"], pv.raw)
        self.assertIn("pv_reception.pdf", move.message_ids[0].body)
        # The published completer: the file added to Chorus Pro first, referenced by its id and a Chorus type.
        completed = self.last_payload("factures/v1/completer")
        self.assertEqual(completed["identifiantFactureCPP"], int(move.chorus_invoice_id))
        self.assertEqual(completed["pieceJointeComplementaire"][0]["pieceJointeComplementaireType"],
                         wizard.attachment_type_id.code)
        self.assertEqual(wizard.attachment_type_id.code, "PIECE_JUSTIFICATIVE")

    def test_recycle_invoice(self):
        move = self._sent_and_made_available(self.hopital, purchase_order_reference="EJ-CHV-2026-000123")
        self.control("invoice/status", idFacture=int(move.chorus_invoice_id), statut="A_RECYCLER",
                     commentaire="Engagement soldé")
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(move.chorus_invoice_status, "A_RECYCLER")
        wizard = self._update_wizard(move.action_chorus_recycle())
        self.assertEqual(wizard.engagement, "EJ-CHV-2026-000123")
        wizard.engagement = False
        with self.assertRaisesRegex(UserError, "requires the engagement juridique"):
            wizard.action_confirm()
        wizard.engagement = "EJ-CHV-2026-000456"
        self.inject("503", "factures/v1/recycler")
        with self.assertRaisesRegex(UserError, "unavailable"):
            wizard.action_confirm()
        self.assertEqual((move.chorus_invoice_status, move.purchase_order_reference),
                         ("A_RECYCLER", "EJ-CHV-2026-000123"), "nothing changes when Chorus Pro is down")
        wizard.action_confirm()
        self.assertEqual(move.chorus_invoice_status, "MISE_A_DISPOSITION")
        self.assertEqual(move.purchase_order_reference, "EJ-CHV-2026-000456")
        invoice = self.sandbox.state.invoices[int(move.chorus_invoice_id)]
        self.assertEqual(invoice["numeroEngagement"], "EJ-CHV-2026-000456")
        recycled = self.last_payload("factures/v1/recycler")
        self.assertEqual((recycled["identifiantFactureCPP"], recycled["destinataire"]["codeDestinataire"],
                          recycled["reference"]), (int(move.chorus_invoice_id), HOPITAL_SIRET,
                                                   {"numeroBonCommande": "EJ-CHV-2026-000456"}))
        self.assertEqual(self.deposits(), 1, "recycling deposits nothing new")

    # --------------------------------------------------------------- UBL
    def test_send_ubl(self):
        self.company.chorus_flux_format = "ubl"
        note = self.env["ir.attachment"].create({"name": "detail.csv", "raw": b"ligne;montant\n1;2550\n"})
        move = self.make_invoice(self.hopital, purchase_order_reference="EJ-CHV-2026-000123",
                                 contract_reference="MARCHE-2026-07", chorus_attachment_ids=[Command.set(note.ids)])
        move._chorus_send()
        self.assertEqual(move.chorus_flux_syntax, "IN_DP_E1_UBL_INVOICE")
        root = etree.fromstring(move.chorus_flux_attachment_id.raw)
        self.assertEqual(root.xpath("/*/cbc:BuyerReference", namespaces=UBL), [],
                         "no invented service code (Odoo would put the partner's reference)")
        self.assertEqual(root.xpath("/*/cac:OrderReference/cbc:ID/text()", namespaces=UBL), ["EJ-CHV-2026-000123"])
        self.assertEqual(root.xpath("/*/cac:ContractDocumentReference/cbc:ID/text()", namespaces=UBL),
                         ["MARCHE-2026-07"])
        for role, siret in (("AccountingSupplierParty", SUPPLIER_SIRET), ("AccountingCustomerParty", HOPITAL_SIRET)):
            company_id = root.xpath("/*/cac:%s/cac:Party/cac:PartyLegalEntity/cbc:CompanyID" % role, namespaces=UBL)
            self.assertEqual([(c.text, c.get("schemeID")) for c in company_id], [(siret, "0009")])
        embedded = root.xpath("/*/cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject",
                              namespaces=UBL)
        self.assertEqual([(e.get("filename"), base64.b64decode(e.text)) for e in embedded],
                         [("detail.csv", note.raw)])
        # UBL element order matters to Chorus Pro's schema: references before the parties.
        names = [etree.QName(child).localname for child in root]
        self.assertLess(names.index("OrderReference"), names.index("ContractDocumentReference"))
        self.assertLess(names.index("AdditionalDocumentReference"), names.index("AccountingSupplierParty"))
        self.assertAlmostEqual(float(root.findtext("cac:LegalMonetaryTotal/cbc:PayableAmount", namespaces=UBL)),
                               move.amount_total)
        service = self.make_invoice(buyer_reference="ECOLES")
        service._chorus_send()
        root = etree.fromstring(service.chorus_flux_attachment_id.raw)
        self.assertEqual(root.xpath("/*/cbc:BuyerReference/text()", namespaces=UBL), ["ECOLES"])
        self.assertEqual(root.xpath("/*/cac:OrderReference", namespaces=UBL), [],
                         "Odoo's fallback (the invoice number as engagement) must not reach Chorus Pro")
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual((move | service).mapped("chorus_state"), ["integrated", "integrated"])
        chorus_invoice = self.sandbox.state.invoices[int(move.chorus_invoice_id)]
        self.assertEqual((chorus_invoice["numeroEngagement"], chorus_invoice["montantTTC"]),
                         ("EJ-CHV-2026-000123", move.amount_total))
