"""The pre-flight check: what Chorus Pro would refuse in a flux is said before anything is sent, in the user's
words, naming what to change on the invoice (EN 16931's rules run by Saxon in a process of its own, and Chorus
Pro's own rules).

The invoices with the errors OCA's users met (OCA/l10n-france #504: a gross price without the amount of its
discount; #612: a payment means without its type) are built by changing Odoo's CII where another module would:
inside Odoo's builder, under this module's override.
"""

from unittest.mock import patch

from facturx import get_xml_from_pdf
from lxml import etree

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged

from ..tools import en16931
from .test_send import NS, ChorusSendCommon
from .test_send_hooks import next_implementation


@tagged("post_install", "-at_install", "chorus_send")
class TestChorusPreflight(ChorusSendCommon):

    def setUp(self):
        super().setUp()
        en16931.VALIDATOR.forget()  # each test's invoices asked to Saxon (numbers repeat from test to test)

    def changed_cii(self, change):
        """Odoo's CII builder with ``change(root)`` applied to what it builds, under this module's override."""
        cii = self.env["account.edi.xml.cii"]
        base = next_implementation(cii, "_export_invoice")
        original = base._export_invoice

        def export(builder, invoice, *args, **kwargs):
            xml, errors = original(builder, invoice, *args, **kwargs)
            root = etree.fromstring(xml)
            change(root)
            return etree.tostring(root, xml_declaration=True, encoding="UTF-8"), errors

        patcher = patch.object(base, "_export_invoice", export)
        patcher.start()
        self.addCleanup(patcher.stop)

    def assertRefusedBeforeChorus(self, move, *patterns):
        calls_before = sum(self.sandbox.state.calls.values())
        with self.assertRaises(UserError) as refusal:
            move._chorus_send()
        message = refusal.exception.args[0]
        self.assertIn("would be refused by Chorus Pro; correct it first", message)
        for pattern in patterns:
            self.assertIn(pattern, message)
        self.assertEqual(sum(self.sandbox.state.calls.values()), calls_before, "no call to Chorus Pro at all")
        self.assertFalse(move.chorus_state)
        return message

    def deposited_xml(self, move):
        content = self.sandbox.state.flux[move.chorus_flux_number]["content"]
        return etree.fromstring(get_xml_from_pdf(content, check_xsd=True)[1])

    def test_empty_payment_means_refused_before_sending(self):
        """OCA #612: "SpecifiedTradeSettlementPaymentMeans.TypeCode est obligatoire" came back from Chorus Pro."""
        def empty_payment_means(root):
            for code in root.xpath("//ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode", namespaces=NS):
                code.getparent().remove(code)

        self.changed_cii(empty_payment_means)
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES", partner_bank_id=self.company.partner_id.bank_ids.id)
        self.assertRefusedBeforeChorus(
            move, "Payment: the payment means has no type (rule BR-49): choose the Recipient Bank")

    def test_gross_price_without_discount_amount_refused_before_sending(self):
        """OCA #504: "AppliedTradeAllowanceCharge.ActualAmount est obligatoire si GrossPriceProductTradePrice est
        renseigné" came back from Chorus Pro."""
        def allowance_without_amount(root):
            for amount in root.xpath("//ram:AppliedTradeAllowanceCharge/ram:ActualAmount", namespaces=NS):
                amount.getparent().remove(amount)

        self.changed_cii(allowance_without_amount)
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        move.button_draft()
        move.invoice_line_ids[0].discount = 10.0
        move.action_post()
        self.assertRefusedBeforeChorus(
            move, 'Line "Maintenance": its gross price comes without the amount of its discount')
        # The line of OCA's report: a gross price and no discount at all (what Odoo writes on every line, which
        # the flux no longer carries), given to the check as it is.
        oca_line = etree.fromstring(b"""<rsm:CrossIndustryInvoice xmlns:rsm="%s" xmlns:ram="%s"><rsm:SupplyChainTradeTransaction>
            <ram:IncludedSupplyChainTradeLineItem><ram:SpecifiedTradeProduct><ram:Name>Product</ram:Name>
            </ram:SpecifiedTradeProduct><ram:SpecifiedLineTradeAgreement><ram:GrossPriceProductTradePrice>
            <ram:ChargeAmount>9.35</ram:ChargeAmount></ram:GrossPriceProductTradePrice><ram:NetPriceProductTradePrice>
            <ram:ChargeAmount>9.35</ram:ChargeAmount></ram:NetPriceProductTradePrice></ram:SpecifiedLineTradeAgreement>
            </ram:IncludedSupplyChainTradeLineItem></rsm:SupplyChainTradeTransaction></rsm:CrossIndustryInvoice>"""
                                   % (NS["rsm"].encode(), NS["ram"].encode()))
        self.assertEqual([failure.rule for failure in en16931.chorus_rule_failures(etree.tostring(oca_line), "cii")],
                         [en16931.CHORUS_GROSS_PRICE])

    def test_negative_price_named_by_its_line(self):
        """A discount typed as a line with a negative price: EN 16931 (BR-27) refuses it; the user reads which
        line and what to do."""
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES", post=False)
        move.invoice_line_ids = [Command.create({"name": "Remise fidélité", "quantity": 1, "price_unit": -100.0,
                                                 "tax_ids": [Command.set(self.tax.ids)]})]
        move.action_post()
        message = self.assertRefusedBeforeChorus(
            move, 'Line "Remise fidélité": its price is negative, which Chorus Pro refuses (rule BR-27)')
        self.assertNotIn('Line "Maintenance"', message, "only the line at fault")

    def test_flux_chorus_pro_accepts(self):
        """What the module builds passes: no gross price without its discount (Odoo writes one on every line),
        a discount with its amount, no payment means on a credit note, the EN 16931 profile declared."""
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        move.button_draft()
        move.invoice_line_ids[1].discount = 5.0
        move.action_post()
        move._chorus_send()
        root = self.deposited_xml(move)
        lines = root.xpath("//ram:IncludedSupplyChainTradeLineItem/ram:SpecifiedLineTradeAgreement", namespaces=NS)
        self.assertEqual([len(line.xpath("ram:GrossPriceProductTradePrice", namespaces=NS)) for line in lines],
                         [0, 1], "a gross price only with its discount")
        self.assertTrue(lines[1].xpath("ram:GrossPriceProductTradePrice/ram:AppliedTradeAllowanceCharge/"
                                       "ram:ActualAmount", namespaces=NS))
        self.assertEqual(root.xpath("//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID/text()", namespaces=NS),
                         ["urn:cen.eu:en16931:2017"])
        credit_note = self.make_invoice(move_type="out_refund", buyer_reference="SERV_TECHNIQUES",
                                        partner_bank_id=self.company.partner_id.bank_ids.id)
        credit_note._chorus_send()
        self.assertFalse(self.deposited_xml(credit_note).xpath("//ram:SpecifiedTradeSettlementPaymentMeans",
                                                               namespaces=NS), "nothing is paid on a credit note")

    def test_rule_of_the_invoice_said_once(self):
        """The seller's VAT number, asked on each line with VAT (BR-S-02): said once, as what to do."""
        self.company.vat = False
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        message = self.assertRefusedBeforeChorus(
            move, "Your company's VAT number is missing, which an invoice with VAT needs (rule BR-S-02)")
        self.assertEqual(message.count("VAT number is missing"), 1, "two lines, one message")

    def test_same_flux_asked_once(self):
        """A batch checks its fluxes while the PDFs render; the deposit's check gets the same answer at once."""
        self.company.vat = False
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        xml = move._chorus_flux_cii(self.env["account.edi.xml.cii"]._export_invoice(move)[0])
        with patch.object(en16931.VALIDATOR, "_ask", wraps=en16931.VALIDATOR._ask) as ask:
            first = en16931.VALIDATOR.check(xml, "cii")
            again = en16931.VALIDATOR.check(xml, "cii")
            self.assertEqual(ask.call_count, 1)
            self.assertTrue(first and "BR-S-02" in {failure.rule for failure in first})
            self.assertEqual(again, first)
            en16931.VALIDATOR.check(xml.replace(b"SERV_TECHNIQUES", b"SERV_COMPTABLE"), "cii")
            self.assertEqual(ask.call_count, 2, "another flux is asked")

    def test_checker_process_killed_is_started_again(self):
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        en16931.VALIDATOR.check(b"<x/>", "cii")  # started
        process = en16931.VALIDATOR._process
        process.kill()
        process.wait()
        move._chorus_send()
        self.assertEqual(move.chorus_state, "deposited")
        self.assertFalse(any("could not run" in body for body in move.message_ids.mapped("body")),
                         "checked, not let through unchecked")
        self.assertIsNot(en16931.VALIDATOR._process, process, "a new process checked it")
        self.assertIsNone(en16931.VALIDATOR._process.poll(), "and stays for the next invoice")

    def test_checker_unavailable_lets_chorus_pro_check(self):
        """The rules cannot run (here: their file is missing): the invoice goes, Chorus Pro checks it itself, and
        its chatter says the check did not run."""
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        with patch.dict(en16931.STYLESHEETS, {"cii": "/nonexistent/rules.xslt"}):
            move._chorus_send()
        self.assertEqual(move.chorus_state, "deposited")
        self.assertTrue(any("The EN 16931 check could not run before sending" in body
                            for body in move.message_ids.mapped("body")))
