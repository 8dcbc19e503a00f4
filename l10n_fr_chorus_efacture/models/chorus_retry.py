from datetime import timedelta

from odoo import _, api, fields, models

from ..tools.statuses import selection_labels

# The delay before the next attempt grows with each failure: 5 minutes, 10, 20... a day at most.
FIRST_DELAY = timedelta(minutes=5)
LONGEST_DELAY = timedelta(days=1)
OPERATIONS = [
    ("import", "Import a received invoice"),
    ("documents", "Download the documents of a received invoice"),
    ("push", "Send a status to Chorus Pro"),
    ("mandate", "Create a mandate"),
    ("follow_up", "Follow a sent invoice"),
]
# The scheduled action that does each operation: "Retry now" wakes it up.
OPERATION_CRONS = {
    "import": "l10n_fr_chorus_efacture.ir_cron_chorus_inbound_import",
    "documents": "l10n_fr_chorus_efacture.ir_cron_chorus_inbound_import",
    "push": "l10n_fr_chorus_efacture.ir_cron_chorus_inbound_push",
    "mandate": "l10n_fr_chorus_efacture.ir_cron_chorus_inbound_mandate",
    "follow_up": "l10n_fr_chorus_efacture.ir_cron_chorus_follow_up",
}


class ChorusRetry(models.Model):
    """Work on one invoice that failed, whatever the reason: the run went on with the others, and this one is
    tried again by every run once its delay is over, the delay growing with each failure. The users see what
    waits and why (Chorus Pro > To try again)."""

    _name = "chorus.retry"
    _description = "Chorus Pro: work to try again"
    _order = "next_try, id"

    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True, ondelete="cascade")
    operation = fields.Selection(OPERATIONS, required=True, readonly=True)
    # The invoice in Odoo (a sent invoice, a received invoice), or its Chorus Pro id when it is not imported yet.
    res_model = fields.Char(string="Document Model", readonly=True)
    res_id = fields.Many2oneReference(string="Document", model_field="res_model", readonly=True)
    chorus_invoice_id = fields.Char(string="Chorus Invoice ID", readonly=True)
    key = fields.Char(required=True, readonly=True, help="The invoice in Odoo, or its Chorus Pro id: one entry each.")
    name = fields.Char(string="Invoice", readonly=True)
    supplier_name = fields.Char(string="Supplier", readonly=True)
    reason = fields.Text(readonly=True)
    payment_request = fields.Char(readonly=True, help="An import's: the kind of payment request Chorus Pro listed it "
                                                      "as (typeDemandePaiement), which reading it by its id does not "
                                                      "tell.")
    attempts = fields.Integer(readonly=True, default=1)
    first_failed = fields.Datetime(string="First Failed On", readonly=True, default=fields.Datetime.now)
    last_tried = fields.Datetime(string="Last Tried On", readonly=True, default=fields.Datetime.now)
    next_try = fields.Datetime(string="Next Attempt", readonly=True, index=True)

    _sql_constraints = [
        ("retry_unique", "unique(company_id, operation, key)", "An invoice is listed once per operation to retry."),
    ]

    @staticmethod
    def _chorus_key(target):
        """A record (the invoice in Odoo) or a Chorus Pro invoice id (not imported yet)."""
        if isinstance(target, models.BaseModel):
            return "%s,%s" % (target._name, target.id)
        return "chorus,%s" % target

    @staticmethod
    def _chorus_delay(attempts):
        return min(FIRST_DELAY * 2 ** max(attempts - 1, 0), LONGEST_DELAY)

    @api.model
    def _chorus_failed(self, company, operation, target, reason, name=None, supplier_name=None,
                       payment_request=None):
        """Note that ``target`` failed for ``reason``: tried again after a delay that grows with each failure."""
        self = self.sudo()
        key = self._chorus_key(target)
        now = fields.Datetime.now()
        existing = self.search([("company_id", "=", company.id), ("operation", "=", operation), ("key", "=", key)])
        attempts = existing.attempts + 1 if existing else 1
        values = {"reason": reason, "last_tried": now, "attempts": attempts,
                  "next_try": now + self._chorus_delay(attempts)}
        if name:
            values["name"] = name
        if supplier_name:
            values["supplier_name"] = supplier_name
        if payment_request:
            values["payment_request"] = payment_request
        if existing:
            existing.write(values)
            return existing
        is_record = isinstance(target, models.BaseModel)
        return self.create(dict(
            values, company_id=company.id, operation=operation, key=key,
            res_model=target._name if is_record else False, res_id=target.id if is_record else False,
            chorus_invoice_id=False if is_record else str(target),
            name=values.get("name") or (target.display_name if is_record else str(target))))

    @api.model
    def _chorus_done(self, operation, targets):
        """These went through: nothing to retry for them."""
        keys = [self._chorus_key(target) for target in targets]
        if keys:
            self.sudo().search([("operation", "=", operation), ("key", "in", keys)]).unlink()

    @api.model
    def _chorus_waiting(self, operation, records):
        """Those of ``records`` whose delay is not over: this run leaves them."""
        if not records:
            return records
        keys = {self._chorus_key(record): record for record in records}
        waiting = self.sudo().search([("operation", "=", operation), ("key", "in", list(keys)),
                                      ("next_try", ">", fields.Datetime.now())])
        return records.browse([keys[entry.key].id for entry in waiting])

    @api.model
    def _chorus_due(self, company, operation):
        """The entries of this operation whose delay is over."""
        return self.sudo().search([("company_id", "=", company.id), ("operation", "=", operation),
                                   ("next_try", "<=", fields.Datetime.now())])

    def _compute_display_name(self):
        labels = selection_labels(self, "operation")
        for retry in self:
            retry.display_name = _("%(operation)s: %(invoice)s", operation=labels.get(retry.operation, ""),
                                   invoice=retry.name or retry.chorus_invoice_id or "?")

    def action_retry_now(self):
        """Try again at the next run, now: the scheduled action is woken up (a company whose import or follow-up
        ran in this round is due again: its entry became due after that run, see chorus.worker)."""
        self.sudo().write({"next_try": fields.Datetime.now()})
        for operation in set(self.mapped("operation")):
            cron = self.env.ref(OPERATION_CRONS[operation], raise_if_not_found=False)
            if cron:
                cron.sudo()._trigger()
        return True

    def action_open_record(self):
        self.ensure_one()
        if not self.res_model or not self.res_id:
            return False
        return self.env[self.res_model].browse(self.res_id)._get_records_action(name=self.name)
