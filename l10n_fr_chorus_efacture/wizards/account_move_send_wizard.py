from odoo import api, fields, models

from ..models.chorus_partner_service import RESERVED_SERVICE_CODE


class AccountMoveSendWizard(models.TransientModel):
    _inherit = "account.move.send.wizard"

    chorus_display = fields.Boolean(compute="_compute_chorus_display")
    chorus_partner_id = fields.Many2one(related="move_id.commercial_partner_id", string="Chorus Customer")
    chorus_siret = fields.Char(related="move_id.commercial_partner_id.siret", readonly=False,
                               string="Customer SIRET")
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

    @api.depends("move_id")
    def _compute_chorus_service_id(self):
        for wizard in self:
            code = wizard.move_id.buyer_reference
            wizard.chorus_service_id = code and wizard.chorus_partner_id.chorus_service_ids.filtered(
                lambda s: s.code == code)[:1]

    def _inverse_chorus_service_id(self):
        for wizard in self:
            if wizard.chorus_service_id.code != wizard.move_id.buyer_reference:
                wizard.move_id.buyer_reference = wizard.chorus_service_id.code or False

    @api.depends("sending_methods", "extra_edis", "chorus_siret", "chorus_service_id", "chorus_engagement",
                 "chorus_contract", "chorus_attachment_ids")
    def _compute_alerts(self):
        # As account's own compute, plus the Chorus values being edited (not yet written on the move).
        for wizard in self:
            move_data = {
                wizard.move_id: {
                    "sending_methods": wizard.sending_methods or {},
                    "invoice_edi_format": wizard.invoice_edi_format,
                    "extra_edis": wizard.extra_edis or {},
                    "chorus_pending": {
                        "buyer_reference": wizard.chorus_service_id.code or False,
                        "purchase_order_reference": wizard.chorus_engagement,
                        "siret": wizard.chorus_siret,
                    },
                }
            }
            wizard.alerts = self._get_alerts(wizard.move_id, move_data)
