"""The Chorus Pro flux beside Odoo's own French e-invoicing (account_peppol, l10n_fr_pdp "by the approved platform").

l10n_fr_pdp is not in the Odoo 18.0 the tests run on; what it does to Odoo's Factur-X is reproduced from its
published sources and test files (addons/l10n_fr_pdp, Odoo 18.0): seller and buyer identified by SIREN with the
scheme 0002, BT-23 (business process) B1/S1/M1 of the reform, the invoice number as buyer order reference when the
invoice has none. It is applied where another module's override sits: inside Odoo's CII builder, before ours.
"""

from unittest.mock import patch

from facturx import get_xml_from_pdf
from lxml import etree

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import HOPITAL_SIRET, SUPPLIER_SIRET
from .test_send import NS, ChorusSendCommon
from .test_send_hooks import next_implementation


def reform_syntax(invoice, xml):
    """Odoo's CII as l10n_fr_pdp writes it for French companies (its published test file
    test_invoice_profile_id_services.xml): SIREN 0002, BT-23 S1, the invoice number as order reference, the
    customer's reference as buyer reference."""
    root = etree.fromstring(xml)
    for role, partner in (("SellerTradeParty", invoice.company_id.partner_id),
                          ("BuyerTradeParty", invoice.commercial_partner_id)):
        for node in root.xpath("//ram:%s/ram:SpecifiedLegalOrganization/ram:ID" % role, namespaces=NS):
            node.text = partner.siret[:9]
            node.set("schemeID", "0002")
    context = root.find("rsm:ExchangedDocumentContext", NS)
    process = etree.Element("{%s}BusinessProcessSpecifiedDocumentContextParameter" % NS["ram"])
    etree.SubElement(process, "{%s}ID" % NS["ram"]).text = "S1"
    context.insert(0, process)
    agreement = root.find(".//ram:ApplicableHeaderTradeAgreement", NS)
    for tag in ("BuyerReference", "BuyerOrderReferencedDocument"):
        for node in agreement.findall("ram:%s" % tag, NS):
            agreement.remove(node)
    reference = etree.Element("{%s}BuyerReference" % NS["ram"])
    reference.text = "CLIENT-42"
    agreement.insert(0, reference)
    order = etree.SubElement(agreement, "{%s}BuyerOrderReferencedDocument" % NS["ram"])
    etree.SubElement(order, "{%s}IssuerAssignedID" % NS["ram"]).text = invoice.name
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@tagged("post_install", "-at_install", "chorus_send")
class TestChorusFluxBesideOdooEinvoicing(ChorusSendCommon):

    def with_reform_syntax(self):
        """Odoo's CII builder, as l10n_fr_pdp changes it, under this module's override."""
        cii = self.env["account.edi.xml.cii"]
        base = next_implementation(cii, "_export_invoice")
        original = base._export_invoice

        def export(builder, invoice, *args, **kwargs):
            xml, errors = original(builder, invoice, *args, **kwargs)
            return reform_syntax(invoice, xml), errors

        patcher = patch.object(base, "_export_invoice", export)
        patcher.start()
        self.addCleanup(patcher.stop)

    def deposited_xml(self, move):
        """The Factur-X XML of what Chorus Pro received for ``move``, checked against the EN 16931 schema."""
        content = self.sandbox.state.flux[move.chorus_flux_number]["content"]
        return etree.fromstring(get_xml_from_pdf(content, check_xsd=True)[1])

    def assertChorusSyntax(self, root, move, engagement, service):
        parties = {role: root.xpath("//ram:%s/ram:SpecifiedLegalOrganization/ram:ID" % role, namespaces=NS)
                   for role in ("SellerTradeParty", "BuyerTradeParty")}
        self.assertEqual([(n.text, n.get("schemeID")) for n in parties["SellerTradeParty"]],
                         [(SUPPLIER_SIRET, "0009")])
        self.assertEqual([(n.text, n.get("schemeID")) for n in parties["BuyerTradeParty"]],
                         [(HOPITAL_SIRET, "0009")])
        self.assertEqual(root.xpath("//rsm:ExchangedDocumentContext/ram:BusinessProcessSpecifiedDocumentContextParameter"
                                    "/ram:ID/text()", namespaces=NS), ["A1"], "Chorus Pro's billing frame")
        self.assertEqual(root.xpath("//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID/text()", namespaces=NS),
                         [engagement] if engagement else [], "the engagement, never the invoice number")
        self.assertEqual(root.xpath("//ram:BuyerReference/text()", namespaces=NS), [service] if service else [],
                         "the service code, never the customer's reference")

    def test_reform_syntax_becomes_chorus_syntax(self):
        self.with_reform_syntax()
        move = self.make_invoice(self.hopital, purchase_order_reference="EJ-CHV-2026-000123")
        move._chorus_send()
        self.assertChorusSyntax(self.deposited_xml(move), move, "EJ-CHV-2026-000123", None)
        # Chorus Pro read its routing data from the flux and integrated it.
        self.env["account.move"]._cron_chorus_follow_up()
        self.assertEqual(move.chorus_state, "integrated", move.chorus_error)

    def test_reform_syntax_through_the_send_window_built_once(self):
        """The send window: Odoo's Factur-X (for the PDF) is the flux's XML, built once, made Chorus Pro's."""
        self.with_reform_syntax()
        self.hopital.invoice_edi_format = False  # the customer's own format does not decide the flux
        move = self.make_invoice(self.hopital, purchase_order_reference="EJ-CHV-2026-000124")
        wizard = self.env["account.move.send.wizard"].with_context(move.action_chorus_send()["context"]).create({})
        wizard.chorus_service_code = "PHARMACIE"
        self.assertEqual(wizard.invoice_edi_format, "facturx")
        cii = type(self.env["account.edi.xml.cii"])
        built = []
        original = cii._export_invoice

        def counted(builder, invoice, *args, **kwargs):
            built.append(invoice)
            return original(builder, invoice, *args, **kwargs)

        with patch.object(cii, "_export_invoice", counted):
            wizard.action_send_and_print()
        self.assertEqual(move.chorus_state, "deposited", move.chorus_error)
        self.assertEqual(len(built), 1, "the CII is built once for the PDF and the flux")
        self.assertChorusSyntax(self.deposited_xml(move), move, "EJ-CHV-2026-000124", "PHARMACIE")

    def test_invoice_already_paid_is_frame_a2(self):
        move = self.make_invoice(self.hopital, purchase_order_reference="EJ-CHV-2026-000125")
        self.env["account.payment.register"].with_context(active_model="account.move", active_ids=move.ids).create(
            {})._create_payments()
        self.assertIn(move.payment_state, ("paid", "in_payment"))
        move._chorus_send()
        self.assertEqual(self.deposited_xml(move).xpath(
            "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID/text()", namespaces=NS), ["A2"])

    def test_customer_other_format_does_not_decide(self):
        """A customer whose e-invoicing format is a UBL (l10n_fr_pdp suggests one for French customers): sent to
        Chorus Pro, Odoo builds the Factur-X the flux is made from, not that format."""
        self.hopital.invoice_edi_format = "ubl_bis3"
        move = self.make_invoice(self.hopital, purchase_order_reference="EJ-CHV-2026-000126")
        Send = self.env["account.move.send"]
        self.assertEqual(Send._get_default_sending_settings(move)["invoice_edi_format"], "facturx",
                         "a customer set to Chorus Pro: its invoices' e-invoice is the flux")
        self.hopital.invoice_sending_method = "email"
        self.assertEqual(Send._get_default_sending_settings(move)["invoice_edi_format"], "ubl_bis3",
                         "not sent to Chorus Pro: the customer's format")
        # "Print & Send" on that customer, Chorus Pro ticked in the window: Factur-X, not the customer's UBL.
        wizard = self.env["account.move.send.wizard"].with_context(move.action_send_and_print()["context"]).create({})
        self.assertEqual(wizard.invoice_edi_format, "ubl_bis3")
        wizard.sending_methods = ["chorus_pro"]
        self.assertEqual(wizard.invoice_edi_format, "facturx")
        wizard.sending_methods = ["email"]
        self.assertEqual(wizard.invoice_edi_format, "ubl_bis3", "unticked: the customer's format again")

    def test_chorus_pro_and_the_approved_platform_exclusive(self):
        move = self.make_invoice(self.hopital, purchase_order_reference="EJ-CHV-2026-000127")
        wizard = self.env["account.move.send.wizard"].with_context(move.action_chorus_send()["context"]).create({})
        wizard.sending_methods = ["chorus_pro", "peppol"]
        alert = wizard.alerts["l10n_fr_chorus_efacture_two_routes"]
        self.assertEqual(alert["level"], "danger")
        self.assertIn("both deliver to Chorus Pro", alert["message"])
        self.assertIn(move.name, alert["message"])
        with self.assertRaisesRegex(UserError, "would be deposited twice"):
            wizard.action_send_and_print()
        self.assertEqual(self.deposits(), 0)
        self.assertFalse(move.chorus_state)
        wizard.sending_methods = ["chorus_pro"]
        self.assertNotIn("l10n_fr_chorus_efacture_two_routes", wizard.alerts)

    def test_customer_stays_on_chorus_pro_when_found_on_odoo_network(self):
        """account_peppol checks a customer (a click, or a change of its identifiers) and finds it on its network:
        it would make it "send by Peppol". Set to Chorus Pro by a user, it stays so; its chatter says why."""
        if "peppol_eas" not in self.env["res.partner"]._fields:
            self.skipTest("account_peppol is not installed (scripts/test.sh installs it beside the module)")
        Partner = type(self.env["res.partner"])
        # The network's directory, out of reach from the tests: it answers that the customer is there.
        with patch.object(Partner, "_get_peppol_verification_state", lambda *args, **kwargs: "valid"):
            self.hopital.write({"peppol_eas": "0009", "peppol_endpoint": HOPITAL_SIRET,
                                "invoice_edi_format": "ubl_bis3"})
            self.hopital.button_account_peppol_check_partner_endpoint()
            other = self.env["res.partner"].create({
                "name": "Société Privée", "is_company": True, "country_id": self.env.ref("base.fr").id,
                "invoice_sending_method": "email", "peppol_eas": "0009", "peppol_endpoint": "73282932000074",
                "invoice_edi_format": "ubl_bis3"})
            other.button_account_peppol_check_partner_endpoint()
        self.assertEqual(self.hopital.peppol_verification_state, "valid")
        self.assertEqual(self.hopital.invoice_sending_method, "chorus_pro")
        self.assertIn("stays on Chorus Pro", self.hopital.message_ids[0].body)
        self.assertEqual(other.invoice_sending_method, "peppol", "a customer not on Chorus Pro: Odoo's choice")
        # A user changing the method is obeyed.
        self.hopital.invoice_sending_method = "peppol"
        self.assertEqual(self.hopital.invoice_sending_method, "peppol")
