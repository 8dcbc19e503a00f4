import psycopg2

from odoo import api, fields, models

from ..tools.listing import FULL_EVERY, ListingRun

LISTINGS = [("supplier_statuses", "Statuses of the invoices sent"), ("received_invoices", "Invoices received")]


class ChorusListingMark(models.Model):
    """Where a company's listing of what changed in Chorus Pro stands (tools/listing.py says how it moves).

    A record of its own per company and listing, written by the crons only: not on res.company, which users edit
    (a cron writing it would conflict with them).
    """

    _name = "chorus.listing.mark"
    _description = "Chorus Pro listing: what changed since"
    _rec_name = "listing"

    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True, ondelete="cascade")
    listing = fields.Selection(LISTINGS, required=True, readonly=True)
    changed_since = fields.Datetime(
        readonly=True, help="The next run asks Chorus Pro for the invoices whose status changed since then (Chorus "
                            "Pro's clock).")
    full_listed_on = fields.Datetime(readonly=True, help="The last complete listing of every invoice not final.")
    last_run = fields.Datetime(readonly=True, help="When the company's last run of this work ended (done or not): "
                                                   "the worker lanes take the companies not run since the round began.")

    _sql_constraints = [
        ("listing_unique", "unique(company_id, listing)", "A company has one mark per listing."),
    ]

    @api.model
    def _chorus_get(self, company, listing):
        mark = self.sudo().search([("company_id", "=", company.id), ("listing", "=", listing)])
        if mark:
            return mark
        try:
            with self.env.cr.savepoint():
                return self.sudo().create({"company_id": company.id, "listing": listing})
        except psycopg2.IntegrityError:
            # Created by another worker meanwhile.
            return self.sudo().search([("company_id", "=", company.id), ("listing", "=", listing)])

    def _chorus_start(self):
        """The run to make now: full once a day (and the first time), else what changed since the mark."""
        self.ensure_one()
        now = fields.Datetime.now()
        full = not self.changed_since or not self.full_listed_on or self.full_listed_on < now - FULL_EVERY
        return ListingRun(since=None if full else self.changed_since)

    def _chorus_ran(self):
        """This company's run of the work ended (whatever came of it)."""
        self.ensure_one()
        self.write({"last_run": fields.Datetime.now()})

    def _chorus_finish(self, run):
        """The run went through: the window moves (held where a record was left for later)."""
        self.ensure_one()
        values = {"changed_since": run.next_since(self.changed_since)}
        if run.full and run.started:
            values["full_listed_on"] = fields.Datetime.now()
        self.write(values)
