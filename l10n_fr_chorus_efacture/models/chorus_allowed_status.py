import psycopg2

from odoo import api, fields, models
from odoo.tools import mute_logger


# Answers this transaction got from Chorus Pro while another one stored them first (see _chorus_store).
CURSOR_CACHE_KEY = "l10n_fr_chorus_efacture.allowed_statuses"


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
        """{status: (next statuses, when asked)} as last asked for this company (with the answers this
        transaction got but another one stored first)."""
        known = {entry.status: (entry.next_statuses or [], entry.asked)
                 for entry in self.sudo().search([("company_id", "=", company.id)])}
        for (company_id, status), answer in self.env.cr.cache.get(CURSOR_CACHE_KEY, {}).items():
            if company_id == company.id:
                known.setdefault(status, answer)
        return known

    @api.model
    def _chorus_store(self, company, answers, asked):
        """Keep Chorus Pro's answers ({status: next statuses}), asked at ``asked``."""
        existing = {entry.status: entry for entry in self.sudo().search(
            [("company_id", "=", company.id), ("status", "in", list(answers))])}
        for status, allowed in answers.items():
            if status in existing:
                existing[status].write({"next_statuses": allowed, "asked": asked})
                continue
            try:
                with self.env.cr.savepoint(), mute_logger("odoo.sql_db"):
                    self.sudo().create({"company_id": company.id, "status": status, "next_statuses": allowed,
                                        "asked": asked})
            except psycopg2.IntegrityError:
                # Another user asked Chorus Pro at the same moment and stored its answer first: that one is kept.
                # This transaction's snapshot cannot see it: its own answer is used for the rest of it.
                self.env.cr.cache.setdefault(CURSOR_CACHE_KEY, {})[(company.id, status)] = (allowed, asked)
