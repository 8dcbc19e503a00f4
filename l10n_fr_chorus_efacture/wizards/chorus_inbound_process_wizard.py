from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools.misc import format_date

from ..tools.statuses import CHORUS_INVOICE_STATUSES, selection_labels
from ..models.chorus_inbound_invoice import REASON_MAX, REASON_REQUIRED

PROCESSING_STATUSES = [(code, label) for code, label in CHORUS_INVOICE_STATUSES
                       if code in ("SERVICE_FAIT", "REJETEE", "SUSPENDUE", "A_RECYCLER")]


class ChorusInboundProcessWizard(models.TransientModel):
    """Set the buyer's status of received invoices (traiter recue)."""

    _name = "chorus.inbound.process.wizard"
    _description = "Process invoices received through Chorus Pro"

    inbound_ids = fields.Many2many("chorus.inbound.invoice", string="Invoices", required=True)
    allowed_statuses = fields.Char(compute="_compute_allowed_statuses")
    allow_service_done = fields.Boolean(compute="_compute_allowed_statuses")
    allow_rejected = fields.Boolean(compute="_compute_allowed_statuses")
    allow_suspended = fields.Boolean(compute="_compute_allowed_statuses")
    allow_recycle = fields.Boolean(compute="_compute_allowed_statuses")
    awaiting_validation = fields.Char(compute="_compute_allowed_statuses",
                                      help="Invoices to validate internally before they are processed.")
    new_status = fields.Selection(PROCESSING_STATUSES, string="New Status")
    reason = fields.Text(help="Sent to Chorus Pro, what the supplier reads: required to reject or suspend "
                              "(255 characters at most).")
    service_done_date = fields.Date(
        string="Service Done On", default=fields.Date.context_today,
        help="The day the goods or services were found received as ordered: when no reason is written, Service "
             "done sends \"Service done on\" this day.")

    @api.depends("inbound_ids")
    def _compute_allowed_statuses(self):
        for wizard in self:
            allowed = None
            for invoice in wizard.inbound_ids:
                statuses = set(invoice._chorus_allowed_statuses())
                allowed = statuses if allowed is None else allowed & statuses
            allowed = allowed or set()
            wizard.allowed_statuses = ",".join(sorted(allowed))
            wizard.allow_service_done = "SERVICE_FAIT" in allowed
            wizard.allow_rejected = "REJETEE" in allowed
            wizard.allow_suspended = "SUSPENDUE" in allowed
            wizard.allow_recycle = "A_RECYCLER" in allowed
            wizard.awaiting_validation = ", ".join(
                wizard.inbound_ids.filtered(lambda i: i._chorus_awaits_validation()).mapped("display_name")) or False

    def _check(self):
        self.ensure_one()
        labels = selection_labels(self, "new_status")
        if not self.new_status:
            raise UserError(_("New status: choose what to tell Chorus Pro."))
        refused = [invoice for invoice in self.inbound_ids if self.new_status not in invoice._chorus_allowed_statuses()]
        if refused:
            raise UserError(_("New status: %(status)s is not allowed for %(invoices)s (from %(current)s, Chorus Pro "
                              "allows %(allowed)s).", status=labels[self.new_status],
                              invoices=", ".join(i.display_name for i in refused),
                              current=", ".join(sorted({i._chorus_status_label() for i in refused})),
                              allowed=", ".join(labels[s] for s in refused[0]._chorus_allowed_statuses())
                              or _("nothing")))
        reason = (self.reason or "").strip()
        if self.new_status == "SERVICE_FAIT" and not reason:
            # Our rule, not Chorus Pro's: the certification of the service is what the mandate rests on.
            if not self.service_done_date:
                raise UserError(_("Service Done On: say when the service was found done, or write it in the reason."))
            # What the supplier reads: in the buyer's language, not the clicking user's.
            company = self.inbound_ids[:1].company_id
            reason = company._chorus_in_its_language(self)._service_done_reason()
        if self.new_status in REASON_REQUIRED and not reason:
            raise UserError(_("Reason: Chorus Pro requires a reason for the status %(status)s; write it for the "
                              "supplier.", status=labels[self.new_status]))
        if len(reason) > REASON_MAX:
            raise UserError(_("Reason: %(count)s characters, Chorus Pro accepts %(max)s at most; shorten it.",
                              count=len(reason), max=REASON_MAX))
        return reason

    def _service_done_reason(self):
        return _("Service done on %(date)s", date=format_date(self.env, self.service_done_date))

    # One button per status allowed from the current one: only those are offered.
    def action_service_done(self):
        self.new_status = "SERVICE_FAIT"
        return self.action_confirm()

    def action_reject(self):
        self.new_status = "REJETEE"
        return self.action_confirm()

    def action_suspend(self):
        self.new_status = "SUSPENDUE"
        return self.action_confirm()

    def action_to_recycle(self):
        self.new_status = "A_RECYCLER"
        return self.action_confirm()

    def action_confirm(self):
        self.ensure_one()
        reason = self._check()
        self.inbound_ids._chorus_request_status(self.new_status, reason=reason or None)
        # Not raised: the refusal or the wait is kept on the records, and the user reads it.
        failed = self.inbound_ids.filtered(lambda i: i.sync_state == "error")
        pending = self.inbound_ids.filtered(lambda i: i.sync_state == "pending")
        if not failed and not pending:
            return {"type": "ir.actions.act_window_close"}
        lines = ["%s: %s" % (i.display_name, i.sync_error) for i in failed]
        if pending:
            lines.append(_("%(count)s status changes wait for Chorus Pro and will be sent again automatically.",
                           count=len(pending)))
        return {"type": "ir.actions.client", "tag": "display_notification", "params": {
            "title": _("Chorus Pro refused some statuses") if failed else _("Chorus Pro cannot be reached"),
            "message": "\n".join(lines), "type": "danger" if failed else "warning", "sticky": bool(failed),
            "next": {"type": "ir.actions.act_window_close"}}}
