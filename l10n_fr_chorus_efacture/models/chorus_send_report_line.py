from odoo import _, api, fields, models


class ChorusSendReportLine(models.Model):
    _name = "chorus.send.report.line"
    _description = "Chorus Pro sending report line"
    _order = "id"

    report_id = fields.Many2one("chorus.send.report", required=True, readonly=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="move_id.company_id", store=True)
    move_id = fields.Many2one("account.move", string="Invoice", required=True, readonly=True, ondelete="cascade",
                              index=True)
    partner_id = fields.Many2one(related="move_id.commercial_partner_id", string="Customer")
    amount_total = fields.Monetary(related="move_id.amount_total", string="Total")
    currency_id = fields.Many2one(related="move_id.currency_id")
    flux_number = fields.Char(related="move_id.chorus_flux_number", string="Flux")
    refusal = fields.Text(string="Refused because", readonly=True,
                          help="Why the invoice was not sent at that sending (checked before any deposit).")
    outcome = fields.Selection([
        ("refused", "Refused"), ("pending", "Waiting to be sent"), ("sending", "Being deposited"),
        ("unknown", "Outcome unknown"), ("deposited", "Deposited"), ("integrated", "Integrated"),
        ("rejected", "Rejected by Chorus Pro"),
    ], compute="_compute_outcome", string="Outcome", compute_sudo=True)
    detail = fields.Char(compute="_compute_outcome", string="Detail", compute_sudo=True)

    @api.depends("refusal", "move_id.chorus_state", "move_id.chorus_error", "move_id.chorus_send_request",
                 "move_id.chorus_flux_number", "move_id.chorus_sent_date")
    def _compute_outcome(self):
        for line in self:
            move = line.move_id
            state = move.chorus_state
            # Deposited since this report (corrected and sent again, or the refusal did not hold): what it is now.
            sent_since = move.chorus_sent_date and line.create_date and move.chorus_sent_date >= line.create_date
            if line.refusal and not (sent_since and state in ("deposited", "integrated")):
                line.outcome, line.detail = "refused", line.refusal
            elif state in ("sending", "unknown", "deposited", "integrated", "rejected"):
                line.outcome = state
                line.detail = {
                    "sending": _("Being deposited in Chorus Pro."),
                    "unknown": move.chorus_error or _("The reply was lost: Chorus Pro is looked up every hour."),
                    "deposited": _("Flux %(flux)s: Chorus Pro is processing it.", flux=move.chorus_flux_number),
                    "integrated": _("Flux %(flux)s: the invoice is in Chorus Pro.", flux=move.chorus_flux_number),
                    "rejected": move.chorus_error or _("Chorus Pro rejected the flux."),
                }[state]
            elif state == "error":
                line.outcome, line.detail = "refused", move.chorus_error or _("Not sent.")
            elif move.chorus_send_request:
                line.outcome, line.detail = "pending", _("Waiting for the background sending (a few minutes).")
            else:
                # The background sending is done with it and it never reached Chorus Pro (its PDF or its
                # e-invoice could not be made): the reason is in its chatter.
                line.outcome, line.detail = "refused", _("Not sent: see the invoice's chatter.")

    @api.model
    def _chorus_record_refusals(self, refusals):
        """Invoices refused by the background sending: the reason on their report line still waiting."""
        for move, reason in refusals.items():
            line = self.sudo().search([("move_id", "=", move.id)], order="id desc", limit=1)
            if line and not line.refusal and line.outcome == "pending":
                line.refusal = reason

    def action_open_move(self):
        self.ensure_one()
        return self.move_id._get_records_action()
