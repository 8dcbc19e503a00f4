from odoo import api, fields, models

from ..models.chorus_partner_service import RESERVED_SERVICE_CODE


class AccountMoveSendBatchChorusLine(models.TransientModel):
    """One invoice of a batch sent to Chorus Pro, with its routing data editable in the batch window."""

    _name = "account.move.send.batch.chorus.line"
    _description = "Invoice of a batch sent to Chorus Pro"

    wizard_id = fields.Many2one("account.move.send.batch.wizard", required=True, ondelete="cascade")
    move_id = fields.Many2one("account.move", string="Invoice", required=True, readonly=True)
    partner_id = fields.Many2one(related="move_id.commercial_partner_id", string="Customer")
    amount_total = fields.Monetary(related="move_id.amount_total", string="Total")
    currency_id = fields.Many2one(related="move_id.currency_id")
    service_code = fields.Char(string="Service code",
                               help="Picked from Chorus Pro's list of the customer's services, or typed as the "
                                    "customer gave it: Chorus Pro checks it at deposit.")
    service_id = fields.Many2one(
        "chorus.partner.service", string="Service exécutant", compute="_compute_service_id", readonly=False,
        domain="[('partner_id', '=', partner_id), ('is_active', '=', True), ('code', '!=', '%s')]"
               % RESERVED_SERVICE_CODE)
    engagement = fields.Char(string="Engagement juridique")

    @api.depends("service_code", "partner_id")
    def _compute_service_id(self):
        for line in self:
            line.service_id = line.partner_id._chorus_service(line.service_code)

    @api.onchange("service_id")
    def _onchange_service_id(self):
        if self.service_id:
            self.service_code = self.service_id.code

    def _pending(self):
        self.ensure_one()
        return {"buyer_reference": (self.service_code or "").strip() or False,
                "purchase_order_reference": (self.engagement or "").strip() or False}

    def _apply(self):
        """The values typed in the batch window, written on their invoices before sending."""
        for line in self:
            values = {name: value for name, value in line._pending().items()
                      if value != (line.move_id[name] or False)}
            if values:
                line.move_id.write(values)
