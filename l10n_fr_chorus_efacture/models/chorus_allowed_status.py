from odoo import api, fields, models


class ChorusAllowedStatus(models.Model):
    """What Chorus Pro answered to transverses/v1/recuperer/etats/traitement for a company: the statuses a buyer
    may set after ``status``, and when it was asked (asked again after a day). A record of its own per company
    and status, not on res.company: users processing invoices write it, and would conflict with anyone editing
    the company."""

    _name = "chorus.allowed.status"
    _description = "Chorus Pro: statuses a buyer may set next"
    _rec_name = "status"

    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True, ondelete="cascade")
    status = fields.Char(required=True, readonly=True)
    next_statuses = fields.Json(readonly=True, help="The statuses Chorus Pro allows after this one.")
    asked = fields.Datetime(readonly=True, required=True)

    _sql_constraints = [
        ("status_unique", "unique(company_id, status)", "A status is asked once per company."),
    ]

    @api.model
    def _chorus_known(self, company):
        """{status: (next statuses, when asked)} as last asked for this company."""
        return {entry.status: (entry.next_statuses or [], entry.asked)
                for entry in self.sudo().search([("company_id", "=", company.id)])}

    @api.model
    def _chorus_store(self, company, answers, asked):
        """Keep Chorus Pro's answers ({status: next statuses}), asked at ``asked``."""
        existing = {entry.status: entry for entry in self.sudo().search(
            [("company_id", "=", company.id), ("status", "in", list(answers))])}
        for status, allowed in answers.items():
            if status in existing:
                existing[status].write({"next_statuses": allowed, "asked": asked})
            else:
                self.sudo().create({"company_id": company.id, "status": status, "next_statuses": allowed,
                                    "asked": asked})
