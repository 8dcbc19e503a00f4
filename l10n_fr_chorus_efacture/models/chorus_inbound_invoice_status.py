from odoo import fields, models

from ..tools.statuses import CHORUS_INVOICE_STATUSES


class ChorusInboundInvoiceStatus(models.Model):
    """One step of a received invoice's history in Chorus Pro."""

    _name = "chorus.inbound.invoice.status"
    _description = "Status history of an invoice received through Chorus Pro"
    _order = "date desc, id desc"

    inbound_id = fields.Many2one("chorus.inbound.invoice", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="inbound_id.company_id", store=True)
    status = fields.Selection(CHORUS_INVOICE_STATUSES, required=True)
    date = fields.Datetime(required=True)
    comment = fields.Char(string="Reason")
    user_id = fields.Many2one("res.users", string="Set By", help="Empty when the status came from Chorus Pro.")
