from odoo import api, fields, models

from ..models.chorus_partner_service import RESERVED_SERVICE_CODE


class AccountMoveSendWizard(models.TransientModel):
    _inherit = "account.move.send.wizard"

    chorus_display = fields.Boolean(compute="_compute_chorus_display")
    chorus_partner_id = fields.Many2one(related="move_id.commercial_partner_id", string="Chorus Customer")
    chorus_siret = fields.Char(related="move_id.commercial_partner_id.siret", readonly=False,
                               string="Customer SIRET")
    # The code is what is sent: picked from Chorus Pro's list when it is known, typed when it is not (Chorus Pro
    # down when the customer was looked up, a service created since); Chorus Pro checks it at deposit.
    chorus_service_code = fields.Char(related="move_id.buyer_reference", readonly=False, string="Service code")
    chorus_service_known = fields.Boolean(compute="_compute_chorus_service_known")
    chorus_document = fields.Char(compute="_compute_chorus_document", string="Document sent")
    chorus_service_id = fields.Many2one(
        "chorus.partner.service", string="Service exécutant", compute="_compute_chorus_service_id",
        inverse="_inverse_chorus_service_id", readonly=False,
        domain="[('partner_id', '=', chorus_partner_id), ('is_active', '=', True), "
               "('code', '!=', '%s')]" % RESERVED_SERVICE_CODE)
    chorus_engagement = fields.Char(related="move_id.purchase_order_reference", readonly=False,
                                    string="Engagement juridique")
    chorus_contract = fields.Char(related="move_id.contract_reference", readonly=False, string="Contract")
    chorus_attachment_ids = fields.Many2many(related="move_id.chorus_attachment_ids", readonly=False,
                                             string="Supporting documents")
    chorus_service_required = fields.Boolean(related="move_id.commercial_partner_id.chorus_service_required")
    chorus_engagement_required = fields.Boolean(
        related="move_id.commercial_partner_id.chorus_engagement_required")

    @api.depends("sending_methods")
    def _compute_chorus_display(self):
        for wizard in self:
            wizard.chorus_display = "chorus_pro" in (wizard.sending_methods or [])

    def _compute_sending_method_checkboxes(self):
        # Account offers every method of the company; an invoice already in Chorus Pro does not get the Chorus Pro
        # box at all (the alerts say why), rather than a refusal after generating everything on submit.
        super()._compute_sending_method_checkboxes()
        for wizard in self:
            if wizard.move_id._chorus_locked() and "chorus_pro" in (wizard.sending_method_checkboxes or {}):
                wizard.sending_method_checkboxes = {
                    key: value for key, value in wizard.sending_method_checkboxes.items() if key != "chorus_pro"}

    @api.depends("chorus_partner_id")
    def _compute_chorus_service_known(self):
        for wizard in self:
            wizard.chorus_service_known = bool(wizard.chorus_partner_id.chorus_service_ids)

    @api.depends("move_id", "chorus_attachment_ids")
    def _compute_chorus_document(self):
        for wizard in self:
            move = wizard.move_id
            if move.company_id.chorus_flux_format == "ubl":
                document = self.env._("UBL 2.1 XML %(file)s", file=move._chorus_flux_filename("xml"))
            else:
                document = self.env._("Factur-X PDF %(file)s (the invoice PDF with its EN 16931 XML)",
                                      file=move._chorus_flux_filename("pdf"))
            if wizard.chorus_attachment_ids:
                document += self.env._(", with %(count)s supporting document(s)",
                                       count=len(wizard.chorus_attachment_ids))
            wizard.chorus_document = document

    @api.depends("chorus_service_code")
    def _compute_chorus_service_id(self):
        for wizard in self:
            wizard.chorus_service_id = wizard.chorus_partner_id._chorus_service(wizard.chorus_service_code)

    def _inverse_chorus_service_id(self):
        for wizard in self:
            if wizard.chorus_service_id and wizard.chorus_service_id.code != wizard.chorus_service_code:
                wizard.chorus_service_code = wizard.chorus_service_id.code

    @api.onchange("chorus_service_id")
    def _onchange_chorus_service_id(self):
        if self.chorus_service_id:
            self.chorus_service_code = self.chorus_service_id.code

    @api.depends("sending_methods")
    def _compute_invoice_edi_format(self):
        # Chorus Pro ticked in the window: the e-invoice is the flux, made from Odoo's Factur-X (see
        # account.move.send._get_default_invoice_edi_format), whatever the customer's own format.
        super()._compute_invoice_edi_format()
        for wizard in self:
            if "chorus_pro" in (wizard.sending_methods or []):
                wizard.invoice_edi_format = "facturx"

    # Odoo adds these to the dependencies of its own compute (they accumulate along the inheritance).
    @api.depends("chorus_siret", "chorus_service_code", "chorus_engagement", "chorus_contract", "chorus_attachment_ids")
    def _compute_alerts(self):
        # Odoo's own compute, told the Chorus values being edited (not yet written on the move).
        for wizard in self:
            pending = {wizard.move_id._origin.id: {
                "buyer_reference": (wizard.chorus_service_code or "").strip() or False,
                "purchase_order_reference": wizard.chorus_engagement,
                "siret": wizard.chorus_siret,
            }}
            super(AccountMoveSendWizard, wizard.with_context(chorus_pending=pending))._compute_alerts()

    def action_send_and_print(self, allow_fallback_pdf=False):
        if "chorus_pro" not in (self.sending_methods or []):
            return super().action_send_and_print(allow_fallback_pdf=allow_fallback_pdf)
        if self.alerts:
            self._raise_danger_alerts(self.alerts)  # refused before anything: no report of a sending that wasn't
        # Made before sending: committed with the deposit, it reports what a failure after it left behind.
        report = self.env["chorus.send.report"]._chorus_create(self.move_id)
        result = super().action_send_and_print(allow_fallback_pdf=allow_fallback_pdf)
        if result and result.get("type") == "ir.actions.act_url":
            return result  # "Download" asked for too: the download; the report stays on the invoice's Chorus tab
        # The closing screen: deposited (flux number), or why not.
        return report._chorus_action()
