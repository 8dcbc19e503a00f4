from lxml import etree

from odoo import models

CII_NS = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}
SIRET_SCHEME = "0009"


class AccountEdiXmlCii(models.AbstractModel):
    _inherit = "account.edi.xml.cii"

    def _export_invoice_vals(self, invoice, *args, **kwargs):
        vals = super()._export_invoice_vals(invoice, *args, **kwargs)
        if invoice._chorus_is_chorus_move():
            # Chorus Pro routes on these: never fall back to the partner's ref or the invoice number
            # as Odoo does for other customers (an invented engagement is rejected).
            vals["buyer_reference"] = invoice.buyer_reference or None
            vals["purchase_order_reference"] = invoice.purchase_order_reference or None
            vals["contract_reference"] = invoice.contract_reference or None
        return vals

    def _export_invoice(self, invoice, *args, **kwargs):
        xml, errors = super()._export_invoice(invoice, *args, **kwargs)
        if invoice._chorus_is_chorus_move():
            xml = self._chorus_adapt_xml(xml)
        return xml, errors

    def _chorus_adapt_xml(self, xml):
        """What Chorus Pro's EN 16931 checks need beyond Odoo's CII."""
        root = etree.fromstring(xml)
        # Seller (BT-30) and buyer (BT-47) SIRETs carry the scheme 0009 (SIRET-CODE), not 0002 (SIREN).
        for node in root.xpath("//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID"
                               " | //ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID", namespaces=CII_NS):
            value = (node.text or "").strip()
            if len(value) == 14 and value.isdigit():
                node.set("schemeID", SIRET_SCHEME)
        # A line without product has a description but no item name (BT-153, mandatory): name it by its label.
        for product in root.xpath("//ram:SpecifiedTradeProduct[not(ram:Name)]", namespaces=CII_NS):
            description = product.find("ram:Description", CII_NS)
            if description is not None:
                description.tag = "{%s}Name" % CII_NS["ram"]
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
