import logging
import math
from datetime import timedelta

from odoo import api, fields, models

from ..tools.transaction import advisory_lock, commit_if_allowed, lock_key

_INTERVALS = {"minutes": lambda n: timedelta(minutes=n), "hours": lambda n: timedelta(hours=n),
              "days": lambda n: timedelta(days=n), "weeks": lambda n: timedelta(weeks=n),
              "months": lambda n: timedelta(days=30 * n)}

_logger = logging.getLogger(__name__)

# The scheduled actions that share the work ("Chorus Pro: worker lane N"): an Odoo scheduled action runs in one
# cron worker at a time, so that work spreads over several workers of one or several Odoo servers through several
# of them. Each does one unit at a time (a chunk of invoices to send, one company's import or follow-up), committed,
# and tells Odoo's cron how much is left (it runs again at once while there is).
LANES = [f"l10n_fr_chorus_efacture.ir_cron_chorus_lane_{number}" for number in (1, 2, 3, 4)]
# The scheduled action that starts each round of a kind of work: a company is due when its last run of that
# kind ended before the round began.
HEADS = {
    "import": "l10n_fr_chorus_efacture.ir_cron_chorus_inbound_import",
    "follow_up": "l10n_fr_chorus_efacture.ir_cron_chorus_follow_up",
}
LISTINGS = {"import": "received_invoices", "follow_up": "supplier_statuses"}
# The retry list's operations each kind of work tries again.
RETRIED = {"import": ("import", "documents"), "follow_up": ("follow_up",)}


class ChorusWorker(models.AbstractModel):
    """How the Chorus Pro work is shared between cron workers (README, "Many workers, many servers").

    Units of work: a chunk of the invoices queued for Chorus Pro (account.move._chorus_send_chunk), the import of
    one company, the follow-up of one company. A unit is taken under a PostgreSQL advisory lock (another worker,
    on this server or another one, holding it means the unit is under way there: the next one is taken), and
    committed before the next. A worker killed in a unit releases its lock with its connection; what it left is
    picked up by the next run, whose own checks prevent any double deposit, creation or mandate.
    """

    _name = "chorus.worker"
    _description = "Chorus Pro: work shared between cron workers"

    # ------------------------------------------------------------ the units
    @api.model
    def _chorus_companies(self, kind):
        """The companies this kind of work concerns, least recently done first."""
        Company = self.env["res.company"].sudo()
        if kind == "import":
            companies = Company.search([("chorus_receive", "=", True)])
        else:
            from .account_move_chorus_follow_up import FOLLOWED
            companies = Company.browse([company.id for (company,) in self.env["account.move"].sudo()._read_group(
                FOLLOWED, ["company_id"])])
        marks = {mark.company_id.id: mark.last_run for mark in self.env["chorus.listing.mark"].sudo().search([
            ("company_id", "in", companies.ids), ("listing", "=", LISTINGS[kind])])}
        return companies.sorted(lambda company: marks.get(company.id) or fields.Datetime.from_string("1970-01-01"))

    @api.model
    def _chorus_round_start(self, kind):
        """When the current round of this kind began: the latest time its scheduled action was due."""
        head = self.env.ref(HEADS[kind], raise_if_not_found=False)
        if not head or not head.sudo().active:
            return None  # the scheduled action is off: no round, nothing of this kind to do
        head = head.sudo()
        now = fields.Datetime.now()
        interval = _INTERVALS[head.interval_type](head.interval_number)
        # Never in the future (a next execution set far ahead by hand): the round would never end.
        return head.nextcall if head.nextcall <= now else min(head.nextcall - interval, now)

    @api.model
    def _chorus_due_companies(self, kind):
        """The companies whose work of this kind was not done since the round began."""
        round_start = self._chorus_round_start(kind)
        if round_start is None:
            return self.env["res.company"]
        companies = self._chorus_companies(kind)
        marks = {mark.company_id.id: mark.last_run for mark in self.env["chorus.listing.mark"].sudo().search([
            ("company_id", "in", companies.ids), ("listing", "=", LISTINGS[kind])])}
        retries = self._chorus_retries_due(kind, companies)
        return companies.filtered(lambda company: not marks.get(company.id) or marks[company.id] < round_start or (
            retries.get(company.id) and retries[company.id] >= marks[company.id]))

    @api.model
    def _chorus_retries_due(self, kind, companies):
        """{company id: the latest time one of its entries in the retry list became due}: a company whose entry
        became due after its last run (its delay over, or "Try again now") is due again, within the round (at
        the second: both times are stored to the second)."""
        return {company.id: latest for company, latest in self.env["chorus.retry"].sudo()._read_group(
            [("company_id", "in", companies.ids), ("operation", "in", RETRIED[kind]),
             ("next_try", "<=", fields.Datetime.now())], ["company_id"], ["next_try:max"])}

    @api.model
    def _chorus_do_company(self, kind, company, round_start=None):
        """This kind of work for one company, unless another worker has it now (or, ``round_start`` given, did it
        since the round began: read again in a new transaction once the lock is held). True when done here."""
        with advisory_lock(self.env, lock_key(kind, company.id)) as locked:
            if not locked:
                return False
            if round_start:
                commit_if_allowed(self.env)
                mark = self.env["chorus.listing.mark"]._chorus_get(company, LISTINGS[kind])
                mark.invalidate_recordset(["last_run"])
                retried = self._chorus_retries_due(kind, company).get(company.id)
                if mark.last_run and mark.last_run >= round_start and not (retried and retried >= mark.last_run):
                    return False
            if kind == "import":
                company._chorus_in_its_language(self.env["chorus.inbound.invoice"])._chorus_import_company(
                    company, locked=True)
            else:
                company._chorus_in_its_language(self.env["account.move"])._chorus_follow_up_company(company)
        return True

    @api.model
    def _chorus_do_one(self, kinds):
        """One unit of the first of ``kinds`` that has one free; True when one was done."""
        for kind in kinds:
            if kind == "send":
                if self.env["account.move"]._chorus_send_chunk():
                    return True
                continue
            round_start = self._chorus_round_start(kind)
            for company in self._chorus_due_companies(kind):
                if self._chorus_do_company(kind, company, round_start):
                    return True
        return False

    @api.model
    def _chorus_remaining(self, kinds):
        """Units left to do of these kinds (chunks of queued invoices count one each)."""
        remaining = 0
        for kind in kinds:
            if kind == "send":
                queued = self.env["account.move"].sudo().search_count([("chorus_send_request", "!=", False)])
                remaining += math.ceil(queued / self.env["account.move"]._chorus_send_chunk_size())
            else:
                remaining += len(self._chorus_due_companies(kind))
        return remaining

    # ---------------------------------------------------------------- crons
    @api.model
    def _chorus_run(self, kinds):
        """A cron's run: one unit, then Odoo's cron is told what is left (it runs again at once while there is)."""
        done = self._chorus_do_one(kinds)
        self.env["ir.cron"]._notify_progress(done=int(done), remaining=self._chorus_remaining(kinds) if done else 0)
        return done

    @api.model
    def _cron_chorus_lane(self):
        """A worker lane: sending first (a user waits for it), then imports, then follow-ups."""
        return self._chorus_run(["send", "import", "follow_up"])

    @api.model
    def _chorus_head(self, kind):
        """A round (the hourly import or follow-up). Run by Odoo's cron: the lanes are woken up to share it, and
        each run does one unit. Called directly (a shell, a test): every company, now, one after the other."""
        if not self.env.context.get("ir_cron_progress_id"):
            for company in self._chorus_companies(kind):
                self._chorus_do_company(kind, company)
            return True
        self._chorus_wake_lanes(len(self._chorus_due_companies(kind)) - 1)
        return self._chorus_run([kind])

    @api.model
    def _chorus_wake_lanes(self, units):
        """Wake up as many lanes as there are units to share (at most all of them)."""
        for xmlid in LANES[:max(0, min(units, len(LANES)))]:
            # Whoever asks (an accountant sending a batch): the lanes are scheduled actions, read in sudo.
            lane = self.env.ref(xmlid, raise_if_not_found=False)
            if lane and lane.sudo().active:
                lane.sudo()._trigger()
