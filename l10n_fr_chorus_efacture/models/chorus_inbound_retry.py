from odoo import _, api, fields, models


class ChorusInboundRetry(models.Model):
    """A received invoice Chorus Pro listed but that could not be imported (unreadable data, refused by the
    database...): the import moves on, and every following run tries it again until it comes in."""

    _name = "chorus.inbound.retry"
    _description = "Received invoice to import again"
    _order = "first_failed desc, id desc"
    _rec_name = "chorus_invoice_id"

    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    chorus_invoice_id = fields.Char(string="Chorus Invoice ID", required=True, readonly=True)
    invoice_number = fields.Char(readonly=True)
    supplier_name = fields.Char(string="Supplier", readonly=True)
    reason = fields.Text(readonly=True)
    attempts = fields.Integer(readonly=True, default=1)
    first_failed = fields.Datetime(string="First Failed On", readonly=True, default=fields.Datetime.now)
    last_tried = fields.Datetime(string="Last Tried On", readonly=True, default=fields.Datetime.now)

    _sql_constraints = [
        ("retry_unique", "unique(company_id, chorus_invoice_id)", "A received invoice is listed once to import again."),
    ]

    @api.model
    def _chorus_record(self, company, failures, summaries=None):
        """Note the failures ({Chorus id: reason}); ``summaries``: {Chorus id: what the list said}."""
        summaries = summaries or {}
        existing = {r.chorus_invoice_id: r for r in self.search([("company_id", "=", company.id),
                                                                 ("chorus_invoice_id", "in", list(failures))])}
        now = fields.Datetime.now()
        for chorus_id, reason in failures.items():
            item = summaries.get(chorus_id)
            values = {"reason": reason, "last_tried": now}
            if item is not None:
                values.update(invoice_number=item.number, supplier_name=item.supplier_name)
            if chorus_id in existing:
                existing[chorus_id].write(dict(values, attempts=existing[chorus_id].attempts + 1))
            else:
                self.create(dict(values, company_id=company.id, chorus_invoice_id=chorus_id))

    @api.model
    def _chorus_clear(self, company, chorus_ids):
        """These invoices came in: nothing to retry."""
        self.search([("company_id", "=", company.id), ("chorus_invoice_id", "in", list(chorus_ids))]).unlink()

    def _compute_display_name(self):
        for retry in self:
            retry.display_name = _("%(number)s (Chorus %(id)s)", number=retry.invoice_number or "?",
                                   id=retry.chorus_invoice_id)
