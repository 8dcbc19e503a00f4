from lxml import etree

from odoo import models

from ..tools.xml_order import insert_before

CII_NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}
SIRET_SCHEME = "0009"
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
# BT-23 of a direct deposit: Chorus Pro's billing frame (cadre de facturation), A1 an invoice to pay, A2 one
# already paid; the reform's B1/S1/M1 (what Odoo's l10n_fr_pdp writes) are for approved platforms.
# The flux is Factur-X EN 16931 (its PDF says so): the XML says the same, not Odoo's "extended" (whose content it
# does not have), so that the EN 16931 rules Chorus Pro applies are the ones it is checked against.
EN16931_GUIDELINE = "urn:cen.eu:en16931:2017"
BILLING_FRAME_TO_PAY = "A1"
BILLING_FRAME_PAID = "A2"
# CII D16B order of the header agreement's children that the routing references sit between.
_AFTER_BUYER_REFERENCE = ("SellerTradeParty",)
_AFTER_ORDER = ("ContractReferencedDocument", "AdditionalReferencedDocument", "BuyerAgentTradeParty",
                "SpecifiedProcuringProject", "UltimateCustomerOrderReferencedDocument")
_AFTER_CONTRACT = _AFTER_ORDER[1:]


def _ram(tag):
    return "{%s}%s" % (CII_NS["ram"], tag)


class AccountEdiXmlCii(models.AbstractModel):
    _inherit = "account.edi.xml.cii"

    def _export_invoice(self, invoice, *args, **kwargs):
        xml, errors = super()._export_invoice(invoice, *args, **kwargs)
        if invoice._chorus_is_chorus_move():
            xml = self._chorus_adapt_xml(invoice, xml)
        return xml, errors

    def _chorus_adapt_xml(self, invoice, xml):
        """The CII as a direct deposit in Chorus Pro reads it, whatever Odoo or another module (l10n_fr_pdp: SIREN
        with 0002, the reform's BT-23, the invoice number as order reference) put in it."""
        root = etree.fromstring(xml, SAFE_PARSER)
        self._chorus_set_context(invoice, root)
        agreement = root.find("rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement", CII_NS)
        if agreement is not None:
            # BT-10 (service code), BT-13 (engagement), BT-12 (contract) exactly as on the invoice: Odoo falls back
            # to the partner's reference or the invoice number, which Chorus Pro would route on.
            self._chorus_set_reference(agreement, "BuyerReference", invoice.buyer_reference, _AFTER_BUYER_REFERENCE)
            self._chorus_set_reference(agreement, "BuyerOrderReferencedDocument", invoice.purchase_order_reference,
                                       _AFTER_ORDER, child="IssuerAssignedID")
            self._chorus_set_reference(agreement, "ContractReferencedDocument", invoice.contract_reference,
                                       _AFTER_CONTRACT, child="IssuerAssignedID")
            # Seller (BT-30) and buyer (BT-47): their SIRET with the scheme 0009 (SIRET-CODE), not a SIREN (0002).
            for role, partner in (("SellerTradeParty", invoice.company_id.partner_id),
                                  ("BuyerTradeParty", invoice.commercial_partner_id)):
                party = agreement.find("ram:%s" % role, CII_NS)
                if party is not None and partner.siret:
                    self._chorus_set_siret(party, partner.siret)
        # A gross price (BT-148) without the amount of a discount is refused by Chorus Pro (OCA/l10n-france #504);
        # Odoo writes one on every line: where there is no discount it is the net price, and optional.
        for gross in root.xpath("//ram:GrossPriceProductTradePrice[not(ram:AppliedTradeAllowanceCharge)]",
                                namespaces=CII_NS):
            gross.getparent().remove(gross)
        # A credit note carries no payment means (Chorus Pro's rule): nothing is paid to the supplier.
        if root.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=CII_NS) == "381":
            for means in root.xpath("//ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementPaymentMeans",
                                    namespaces=CII_NS):
                means.getparent().remove(means)
        # A line without product has a description but no item name (BT-153, mandatory): name it by its label.
        for product in root.xpath("//ram:SpecifiedTradeProduct[not(ram:Name)]", namespaces=CII_NS):
            description = product.find("ram:Description", CII_NS)
            if description is not None:
                description.tag = _ram("Name")
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    @staticmethod
    def _chorus_set_context(invoice, root):
        context = root.find("rsm:ExchangedDocumentContext", CII_NS)
        if context is None:
            return
        for node in context.findall("ram:BusinessProcessSpecifiedDocumentContextParameter", CII_NS):
            context.remove(node)
        for guideline in context.findall("ram:GuidelineSpecifiedDocumentContextParameter/ram:ID", CII_NS):
            guideline.text = EN16931_GUIDELINE
        paid = invoice.move_type == "out_invoice" and invoice.payment_state in ("paid", "in_payment")
        process = etree.Element(_ram("BusinessProcessSpecifiedDocumentContextParameter"))
        etree.SubElement(process, _ram("ID")).text = BILLING_FRAME_PAID if paid else BILLING_FRAME_TO_PAY
        # Schema order: TestIndicator, then BusinessProcess, then Guideline.
        test_indicator = context.find("ram:TestIndicator", CII_NS)
        context.insert(0 if test_indicator is None else 1, process)

    @staticmethod
    def _chorus_set_reference(agreement, tag, value, following, child=None):
        for node in agreement.findall("ram:%s" % tag, CII_NS):
            agreement.remove(node)
        value = (value or "").strip()
        if not value:
            return
        element = etree.Element(_ram(tag))
        if child:
            etree.SubElement(element, _ram(child)).text = value
        else:
            element.text = value
        insert_before(agreement, element, following)

    @staticmethod
    def _chorus_set_siret(party, siret):
        organization = party.find("ram:SpecifiedLegalOrganization", CII_NS)
        if organization is None:
            organization = etree.Element(_ram("SpecifiedLegalOrganization"))
            # Schema order: ID, GlobalID, Name, Description, then SpecifiedLegalOrganization.
            anchor = None
            for tag in ("Description", "Name", "GlobalID", "ID"):
                anchor = party.find("ram:%s" % tag, CII_NS)
                if anchor is not None:
                    break
            if anchor is not None:
                anchor.addnext(organization)
            else:
                party.insert(0, organization)
        identifier = organization.find("ram:ID", CII_NS)
        if identifier is None:
            identifier = etree.Element(_ram("ID"))
            organization.insert(0, identifier)
        identifier.text = siret
        identifier.set("schemeID", SIRET_SCHEME)
