from odoo import Command, _, api, fields, models
from odoo.tools.misc import format_datetime


class ChorusSendReport(models.Model):
    """What one sending (single or batch) did: each invoice deposited (flux number), refused (why, and where to fix
    it) or still under way. The lines read their invoice's live state, so the report opened later tells how it
    ended."""

    _name = "chorus.send.report"
    _description = "Chorus Pro sending report"
    _order = "id desc"

    name = fields.Char(compute="_compute_name")
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True,
                                 default=lambda self: self.env.company)
    user_id = fields.Many2one("res.users", string="Sent by", required=True, readonly=True,
                              default=lambda self: self.env.user)
    line_ids = fields.One2many("chorus.send.report.line", "report_id", string="Report Lines", readonly=True)
    invoice_count = fields.Integer(compute="_compute_counts", string="Invoices")
    deposited_count = fields.Integer(compute="_compute_counts", string="Deposited")
    refused_count = fields.Integer(compute="_compute_counts", string="Refused")
    pending_count = fields.Integer(compute="_compute_counts", string="Under way")
    summary = fields.Char(compute="_compute_counts")
    outcome = fields.Selection([("done", "Deposit done"), ("partial", "Partly sent"), ("refused", "Nothing sent"),
                                ("pending", "Under way")], compute="_compute_counts")

    @api.depends("create_date")
    @api.depends_context("tz", "lang")
    def _compute_name(self):
        for report in self:
            report.name = _("Sending of %(date)s", date=format_datetime(
                self.env, report.create_date or fields.Datetime.now(), dt_format=False))

    @api.depends("line_ids.outcome")
    def _compute_counts(self):
        for report in self:
            outcomes = report.line_ids.mapped("outcome")
            report.invoice_count = len(outcomes)
            report.deposited_count = sum(o in ("deposited", "integrated") for o in outcomes)
            report.refused_count = sum(o in ("refused", "rejected") for o in outcomes)
            report.pending_count = report.invoice_count - report.deposited_count - report.refused_count
            if report.pending_count:
                report.outcome = "pending"
            elif not report.refused_count:
                report.outcome = "done"
            else:
                report.outcome = "partial" if report.deposited_count else "refused"
            report.summary = _("%(deposited)s deposited, %(refused)s refused, %(pending)s under way",
                               deposited=report.deposited_count, refused=report.refused_count,
                               pending=report.pending_count)

    @api.model
    def _chorus_create(self, moves, refusals=None):
        """The report of these invoices, one per company (each company sees its own); ``refusals``: {move: reason}
        of those not sent. Created before sending, so that what a failure leaves behind is reported too."""
        refusals = refusals or {}
        reports = self.browse()
        for company, company_moves in moves.grouped("company_id").items():
            reports |= self.sudo().create({"company_id": company.id, "line_ids": [
                Command.create({"move_id": move.id, "refusal": refusals.get(move) or False})
                for move in company_moves]})
        return reports.sudo(False)

    def _chorus_action(self):
        """The closing screen of a sending (several companies: the list of their reports)."""
        if len(self) == 1:
            return {
                "type": "ir.actions.act_window", "res_model": self._name, "res_id": self.id, "view_mode": "form",
                "views": [(self.env.ref("l10n_fr_chorus_efacture.chorus_send_report_view_form").id, "form")],
                "target": "new", "name": _("Sending report"),
                # Invoice and flux numbers whole, the detail readable.
                "context": {"dialog_size": "extra-large"},
            }
        return {
            "type": "ir.actions.act_window", "res_model": self._name, "view_mode": "list,form",
            "views": [(False, "list"), (False, "form")], "domain": [("id", "in", self.ids)],
            "name": _("Sending reports"),
        }
