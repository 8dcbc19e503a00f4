from odoo import fields, models


class ChorusInboundInvoiceTax(models.Model):
    _name = "chorus.inbound.invoice.tax"
    _description = "VAT of an invoice received through Chorus Pro"
    _order = "rate desc"

    inbound_id = fields.Many2one("chorus.inbound.invoice", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="inbound_id.company_id", store=True)
    currency_id = fields.Many2one(related="inbound_id.currency_id")
    rate = fields.Float(string="VAT Rate (%)", digits=(5, 2))
    base = fields.Monetary(string="Untaxed Base")
    amount = fields.Monetary(string="VAT Amount")

