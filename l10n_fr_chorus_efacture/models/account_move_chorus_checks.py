from lxml import etree

from odoo import _, models

from .chorus_partner_service import RESERVED_SERVICE_CODE
from ..tools.statuses import selection_labels

ENGAGEMENT_MAX = 50
ATTACHMENT_EXTENSIONS = {"pdf", "csv", "xml"}
ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
ATTACHMENT_NAME_MAX = 50
_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class AccountMove(models.Model):
    _inherit = "account.move"

    # --------------------------------------------------------------- checks
    def _chorus_check_attachment(self, attachment):
        """Why Chorus Pro would refuse this supporting document, or False."""
        name = attachment.name or ""
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if len(name) > ATTACHMENT_NAME_MAX:
            return _("%(name)s: the name has more than %(max)s characters; rename the file.",
                     name=name, max=ATTACHMENT_NAME_MAX)
        if extension not in ATTACHMENT_EXTENSIONS:
            return _("%(name)s: only PDF, CSV and XML files can be sent to Chorus Pro.", name=name)
        raw = attachment.raw or b""
        if len(raw) > ATTACHMENT_MAX_BYTES:
            return _("%(name)s: the file is larger than 5 MB; compress or split it.", name=name)
        if not raw:
            return _("%(name)s: the file is empty.", name=name)
        if extension == "pdf" and not raw.startswith(b"%PDF"):
            return _("%(name)s: the content is not a PDF.", name=name)
        if extension == "xml":
            try:
                root = etree.fromstring(raw, _SAFE_XML)
                if root.getroottree().docinfo.doctype:
                    raise ValueError("DTD")
            except (etree.XMLSyntaxError, ValueError):
                return _("%(name)s: the content is not well-formed XML (or declares a DTD).", name=name)
        if extension == "csv":
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            if "\x00" in text or raw.startswith(b"%PDF") or raw[:2] == b"PK":
                return _("%(name)s: the content is not a text CSV file.", name=name)
        return False

    def _chorus_send_errors(self, pending=None):
        """Every reason why this invoice cannot be deposited, each naming the fix.

        ``pending``: values not written yet (the send wizard's, while the user edits them):
        buyer_reference, purchase_order_reference, siret.
        """
        self.ensure_one()
        pending = pending or {}
        errors = []
        partner = self.commercial_partner_id
        if not self.is_sale_document(include_receipts=False):
            return [_("%(move)s is not a customer invoice or credit note.", move=self.display_name)]
        if self.state != "posted":
            return [_("%(move)s is %(state)s: only posted invoices and credit notes can be sent to Chorus Pro.",
                      move=self.display_name,
                      state=selection_labels(self, "state")[self.state])]
        siret_error = partner._chorus_siret_error(pending.get("siret", partner.siret))
        if siret_error:
            errors.append(_("Customer SIRET: %(error)s", error=siret_error))
        if not self.company_id.siret:
            errors.append(_("Your company has no SIRET: enter it on the company (Settings > Companies)."))
        code = (pending.get("buyer_reference", self.buyer_reference) or "").strip()
        engagement = (pending.get("purchase_order_reference", self.purchase_order_reference) or "").strip()
        service = partner._chorus_service(code)
        if code == RESERVED_SERVICE_CODE:
            errors.append(_("Service code: %(code)s is reserved for invoices between public bodies; choose the "
                            "service exécutant given by the customer.", code=code))
        elif service and not service.is_active:
            errors.append(_("Service code: the service %(code)s of %(partner)s is inactive in Chorus Pro; choose an "
                            "active service.", code=code, partner=partner.display_name))
        if partner.chorus_service_required and not code:
            errors.append(_("Service code: %(partner)s requires a service exécutant (buyer reference); ask the "
                            "customer for it.", partner=partner.display_name))
        engagement_required = partner.chorus_engagement_required or (service and service.engagement_required)
        if engagement_required and not engagement:
            errors.append(_("Engagement: %(partner)s requires the engagement juridique number (order reference) "
                            "of its purchase order.", partner=partner.display_name))
        if partner.chorus_service_or_engagement and not (code or engagement):
            errors.append(_("Service code or engagement: %(partner)s requires at least one of them.",
                            partner=partner.display_name))
        if len(engagement) > ENGAGEMENT_MAX:
            errors.append(_("Engagement: %(number)s has more than %(max)s characters.",
                            number=engagement, max=ENGAGEMENT_MAX))
        for attachment in self.chorus_attachment_ids:
            error = self._chorus_check_attachment(attachment)
            if error:
                errors.append(_("Attachment %(error)s", error=error))
        return errors

    def _chorus_send_notes(self, pending=None):
        """What the user should know before depositing, without stopping it: a service code typed by hand that
        the list read from Chorus Pro does not have (Chorus Pro itself checks it at deposit)."""
        self.ensure_one()
        pending = pending or {}
        partner = self.commercial_partner_id
        code = (pending.get("buyer_reference", self.buyer_reference) or "").strip()
        if code and code != RESERVED_SERVICE_CODE and partner.chorus_service_ids and \
                not partner._chorus_service(code):
            return [_("Service code %(code)s is not in the list of %(partner)s read from Chorus Pro: it is sent as "
                      "typed, and Chorus Pro checks it when the invoice is deposited (the sending report tells).",
                      code=code, partner=partner.display_name)]
        return []

