import base64
import mimetypes

from lxml import etree

from odoo import models

from ..tools.xml_order import insert_before
from .account_edi_xml_cii import SIRET_SCHEME

UBL_NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
# UBL 2.1 document order: the references Chorus Pro reads come before the parties, in this order.
_REFERENCES_AFTER_CONTRACT = ("AdditionalDocumentReference", "ProjectReference", "Signature",
                              "AccountingSupplierParty")
_REFERENCES_AFTER_ORDER = ("DespatchDocumentReference", "ReceiptDocumentReference", "StatementDocumentReference",
                           "OriginatorDocumentReference", "ContractDocumentReference", *_REFERENCES_AFTER_CONTRACT)


def _ubl(tag, prefix="cbc"):
    return "{%s}%s" % (UBL_NS[prefix], tag)


class AccountEdiXmlUblBis3(models.AbstractModel):
    _inherit = "account.edi.xml.ubl_bis3"

    def _export_invoice(self, invoice, *args, **kwargs):
        xml, errors = super()._export_invoice(invoice, *args, **kwargs)
        if invoice._chorus_is_chorus_move():
            xml = self._chorus_adapt_ubl(invoice, xml)
        return xml, errors

    def _chorus_adapt_ubl(self, invoice, xml):
        """The UBL invoice as Chorus Pro routes it (IN_DP_E1_UBL_INVOICE)."""
        root = etree.fromstring(xml)
        # BT-10 and BT-13 exactly as on the invoice: Odoo falls back to the partner ref and the
        # invoice number, which Chorus Pro would take for a service code and an engagement.
        for node in root.xpath("/*/cbc:BuyerReference", namespaces=UBL_NS):
            node.getparent().remove(node)
        for node in root.xpath("/*/cac:OrderReference", namespaces=UBL_NS):
            node.getparent().remove(node)
        if invoice.buyer_reference:
            buyer_reference = etree.Element(_ubl("BuyerReference"))
            buyer_reference.text = invoice.buyer_reference
            insert_before(root, buyer_reference, ("InvoicePeriod", "DiscrepancyResponse", "OrderReference",
                                                  "BillingReference", *_REFERENCES_AFTER_ORDER))
        if invoice.purchase_order_reference:
            order = etree.Element(_ubl("OrderReference", "cac"))
            etree.SubElement(order, _ubl("ID")).text = invoice.purchase_order_reference
            insert_before(root, order, ("BillingReference", *_REFERENCES_AFTER_ORDER))
        if invoice.contract_reference:
            contract = etree.Element(_ubl("ContractDocumentReference", "cac"))
            etree.SubElement(contract, _ubl("ID")).text = invoice.contract_reference
            insert_before(root, contract, _REFERENCES_AFTER_CONTRACT)
        # Supporting documents travel inside the UBL file (BG-24).
        for attachment in invoice.chorus_attachment_ids:
            reference = etree.Element(_ubl("AdditionalDocumentReference", "cac"))
            etree.SubElement(reference, _ubl("ID")).text = attachment.name
            document = etree.SubElement(reference, _ubl("Attachment", "cac"))
            binary = etree.SubElement(document, _ubl("EmbeddedDocumentBinaryObject"))
            binary.set("mimeCode", mimetypes.guess_type(attachment.name)[0] or "application/octet-stream")
            binary.set("filename", attachment.name)
            binary.text = base64.b64encode(attachment.raw or b"").decode()
            insert_before(root, reference, ("ProjectReference", "Signature", "AccountingSupplierParty"))
        # Seller and buyer SIRETs with the scheme 0009 (SIRET-CODE).
        for role, partner in (("AccountingSupplierParty", invoice.company_id.partner_id),
                              ("AccountingCustomerParty", invoice.commercial_partner_id)):
            if not partner.siret:
                continue
            for party in root.xpath("/*/cac:%s/cac:Party" % role, namespaces=UBL_NS):
                legal = party.find("cac:PartyLegalEntity", UBL_NS)
                if legal is None:
                    legal = etree.Element(_ubl("PartyLegalEntity", "cac"))
                    etree.SubElement(legal, _ubl("RegistrationName")).text = partner.name
                    contact = party.find("cac:Contact", UBL_NS)
                    if contact is not None:
                        contact.addprevious(legal)
                    else:
                        party.append(legal)
                company_id = legal.find("cbc:CompanyID", UBL_NS)
                if company_id is None:
                    company_id = etree.Element(_ubl("CompanyID"))
                    name = legal.find("cbc:RegistrationName", UBL_NS)
                    legal.insert(1 if name is not None else 0, company_id)
                company_id.text = partner.siret
                company_id.set("schemeID", SIRET_SCHEME)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
