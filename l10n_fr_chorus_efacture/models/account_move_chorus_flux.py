from facturx import generate_from_binary, xml_check_xsd

from odoo import _, models
from odoo.exceptions import UserError

from ..tools.en16931 import VALIDATOR, ValidatorUnavailable

FLUX_SYNTAX_FACTURX = "IN_DP_E2_CII_FACTURX"
FLUX_SYNTAX_UBL = "IN_DP_E1_UBL_INVOICE"


class AccountMove(models.Model):
    _inherit = "account.move"

    # ----------------------------------------------------------------- flux
    def _chorus_invoice_pdf(self, pdf_content=None):
        """The invoice's PDF: the one the send flow rendered, or a new rendering."""
        self.ensure_one()
        if pdf_content and pdf_content.startswith(b"%PDF"):
            return pdf_content
        if self.invoice_pdf_report_id and (self.invoice_pdf_report_id.raw or b"").startswith(b"%PDF"):
            return self.invoice_pdf_report_id.raw
        report = self.env["ir.actions.report"].with_context(force_report_rendering=True)
        content, _format = report._render_qweb_pdf("account.account_invoices", self.ids)
        return content

    def _chorus_build_flux(self, pdf_content=None, facturx_xml=None):
        """(file content, file name, syntaxeFlux) of this invoice, checked against the XSD. ``facturx_xml``: the
        Factur-X XML Odoo built for the invoice's PDF in this send, made the flux's rather than built again."""
        self.ensure_one()
        # Built for Chorus Pro, whatever the customer's usual sending method: exact routing references and
        # SIRETs with scheme 0009 (_chorus_is_chorus_move).
        self = self.with_context(chorus_flux=True)
        if self.company_id.chorus_flux_format == "ubl":
            xml, _errors = self.env["account.edi.xml.ubl_bis3"]._export_invoice(self)
            self._chorus_check_rules(xml, "ubl")
            self._chorus_check_xsd(xml, "ubl")
            return xml, self._chorus_flux_filename("xml"), FLUX_SYNTAX_UBL
        if not facturx_xml:
            facturx_xml, _errors = self.env["account.edi.xml.cii"]._export_invoice(self)
        xml = self._chorus_flux_cii(facturx_xml)
        # The rules first: what they find is said in the user's words; the schema's messages are not.
        self._chorus_check_rules(xml, "cii")
        self._chorus_check_xsd(xml, "factur-x")
        attachments = {att.name: {"filedata": att.raw, "filename": att.name} for att in self.chorus_attachment_ids}
        pdf = generate_from_binary(
            self._chorus_invoice_pdf(pdf_content), xml, flavor="factur-x", level="en16931",
            check_xsd=False,  # just checked, with a message naming the invoice
            attachments=attachments or None,
            pdf_metadata={"author": self.company_id.name, "keywords": "Factur-X, Chorus Pro",
                          "title": self.name, "subject": self.name})
        return pdf, self._chorus_flux_filename("pdf"), FLUX_SYNTAX_FACTURX

    def _chorus_flux_cii(self, facturx_xml):
        """The flux's CII: the Factur-X XML made Chorus Pro's here whatever built it (Odoo's send before the flux
        context was known, or a module whose override of the export comes after this module's; the adaptation
        is idempotent)."""
        self = self.with_context(chorus_flux=True)
        return self.env["account.edi.xml.cii"]._chorus_adapt_xml(self, facturx_xml)

    def _chorus_check_flux_ahead(self, facturx_xml):
        """The EN 16931 check of the flux this Factur-X XML makes, asked now (a batch asks while its PDFs render:
        account.move.send's _chorus_check_ahead); the validator keeps the answer for the deposit's own check,
        which says what it finds."""
        try:
            VALIDATOR.check(self._chorus_flux_cii(facturx_xml), "cii")
        except ValidatorUnavailable:
            pass  # the deposit's own check tells

    def _chorus_flux_filename(self, extension):
        return "%s.%s" % ("".join(c if c.isalnum() or c in "-_" else "_" for c in self.name)[:40], extension)

    def _chorus_check_xsd(self, xml, flavor):
        if flavor == "ubl":
            return  # UBL is checked by Chorus Pro itself; factur-x only ships CII schemas
        try:
            xml_check_xsd(xml, flavor=flavor, level="en16931")
        except Exception as error:  # the library raises a plain Exception with the XSD messages
            raise UserError(_("The Factur-X XML of %(move)s does not pass the EN 16931 schema: %(error)s",
                              move=self.display_name, error=str(error)[:500])) from None


    def _chorus_check_rules(self, xml, syntax):
        """Refused before any call to Chorus Pro when the flux breaks a rule Chorus Pro applies (pre-flight)."""
        problems = self._chorus_preflight(xml, syntax)
        if problems:
            raise UserError(_("%(move)s would be refused by Chorus Pro; correct it first:\n%(problems)s",
                              move=self.display_name, problems="\n".join("- %s" % p for p in problems)))
