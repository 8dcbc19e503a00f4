import itertools
import json
import logging

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_date

from ..chorus import exceptions as chorus_exc
from ..chorus.client import PAYMENT_REQUESTS
from ..chorus.replies import ReceivedInvoiceSummary
from ..tools.dates import paris_day
from ..tools.statuses import (CHORUS_INVOICE_STATUSES, FINAL_STATUSES, MANDATED_STATUSES, known_payment_request,
                              known_status, known_vat_type)
from ..tools.transaction import OutageGuard, advisory_lock, lock_key, rollback_if_allowed, run_isolated

_logger = logging.getLogger(__name__)

PAGE_SIZE = 100
LISTING = "received_invoices"
# A daily full listing asks for every invoice in one of these (tools/listing.py).
OPEN_STATUSES = [status for status, _label in CHORUS_INVOICE_STATUSES if status not in FINAL_STATUSES]
class ChorusInboundInvoice(models.Model):
    _inherit = "chorus.inbound.invoice"

    # --------------------------------------------------------------- import
    def action_import(self):
        """"Check for new invoices" (the menu, and the list's button, which passes the selected ids: the selection
        plays no part): import for the current companies now."""
        if not self.env.user.has_group("account.group_account_invoice"):
            raise UserError(_("Only invoicing users can import invoices from Chorus Pro."))
        # The logs are the managers' (menu Imports); the import's summary is read here for the user.
        logs = self.env["chorus.inbound.import.log"].sudo()
        for company in self.env.companies.filtered("chorus_receive"):
            logs |= self._chorus_import_company(company)
        if not logs:
            raise UserError(_("No company of yours receives invoices through Chorus Pro: tick \"Receive invoices "
                              "through Chorus Pro\" in Settings > Invoicing > Chorus Pro."))
        lines = []
        for log in logs:
            lines.append(_("%(company)s: %(new)s new, %(updated)s status changes.", company=log.company_id.name,
                           new=log.count_created, updated=log.count_updated))
            if log.message:
                lines.append(log.message)
        message = "\n".join(lines)
        return {"type": "ir.actions.client", "tag": "display_notification", "params": {
            "title": _("Chorus Pro invoices checked"), "message": message, "sticky": False,
            "type": "warning" if "error" in logs.mapped("state") else "success",
            "next": {"type": "ir.actions.client", "tag": "soft_reload"}}}

    @api.model
    def _cron_chorus_inbound_import(self):
        """The hourly round of imports, shared with the worker lanes (chorus.worker)."""
        return self.env["chorus.worker"]._chorus_head("import")

    @api.model
    def _chorus_import_company(self, company, locked=False):
        """Import what changed in Chorus Pro for the company since its last complete run; commits page by page.

        One import per company at a time, on any worker of any server (an advisory lock; ``locked``: the caller
        holds it). An invoice that cannot be imported goes to the retry list and the import moves on; the window
        moves once every page was read.
        """
        if locked:
            return self._chorus_import_locked(company)
        with advisory_lock(self.env, lock_key("import", company.id)) as taken:
            if taken:
                return self._chorus_import_locked(company)
            log = self.env["chorus.inbound.import.log"].sudo().create({
                "company_id": company.id, "state": "error", "date_end": fields.Datetime.now(),
                "message": _("An import is already running for this company; this one stops without doing "
                             "anything.")})
            self._chorus_commit()
            return log

    @api.model
    def _chorus_import_locked(self, company):
        """The import of a company whose lock this worker holds."""
        # The import writes what Chorus Pro says, whoever triggers it.
        self = self.sudo().with_company(company)
        company = company.sudo()
        Log = self.env["chorus.inbound.import.log"]
        # This worker holds the company's lock: a log still "running" is one whose worker stopped.
        Log.search([("company_id", "=", company.id), ("state", "=", "running")]).write({
            "state": "interrupted", "date_end": fields.Datetime.now(),
            "message": _("The worker stopped during this import; the next import took over.")})
        log = Log.create({"company_id": company.id})
        notes = [self._chorus_propose_start(company)]
        self._chorus_commit()
        counts = {"found": 0, "created": 0, "updated": 0, "documents": 0, "retried": 0, "failed": 0}
        errors = self._chorus_import_guarded(company, log, counts)
        log.write({"state": "error" if errors else "done", "date_end": fields.Datetime.now(),
                   "count_found": counts["found"], "count_created": counts["created"],
                   "count_updated": counts["updated"], "count_documents": counts["documents"],
                   "count_retried": counts["retried"], "count_failed": counts["failed"],
                   "message": "\n".join(filter(None, notes + errors)) or False})
        self.env["chorus.listing.mark"]._chorus_get(company, LISTING)._chorus_ran()
        self._chorus_commit()
        return log

    @api.model
    def _chorus_propose_start(self, company):
        """The first import of a company with no take-over day: the first day of the current month (the buyer's
        procedure: the month's invoices processed before connecting). Returns what the log says of it, or None."""
        if company.chorus_inbound_start_date:
            return None
        start = paris_day(fields.Datetime.now()).replace(day=1)
        company.chorus_inbound_start_date = start
        if company.chorus_inbound_before_start == "skip":
            return _("Odoo takes over the invoices deposited from %(date)s: those deposited before are not imported "
                     "(change the day in Settings > Chorus Pro, Invoices Deposited From).",
                     date=format_date(self.env, start))
        return _("Odoo takes over the invoices deposited from %(date)s: those deposited before are imported as handled "
                 "outside Odoo, never offered for mandate (change the day in Settings > Chorus Pro, Invoices Deposited "
                 "From).", date=format_date(self.env, start))

    @api.model
    def _chorus_import_guarded(self, company, log, counts):
        """The run; what stops it (Chorus Pro down, a database error) is reported: returns the errors."""
        errors = []
        try:
            self._chorus_import_run(company, log, counts, errors)
        except (chorus_exc.ChorusError, UserError) as error:
            errors.append(self.env["res.company"]._chorus_failure_reason(error))
        except Exception as error:
            # A database error (or a bug): what was committed stays; this run's transaction is dropped.
            if not rollback_if_allowed(self.env):
                raise
            _logger.exception("Chorus Pro import of company %s stopped", company.id)
            errors.append(_("The import stopped on an unexpected error (%(error)s); what was read before is "
                            "kept, the next import takes over.", error=str(error)[:300]))
        return errors

    @api.model
    def _chorus_import_run(self, company, log, counts, errors):
        client = company._chorus_get_client()
        mark = self.env["chorus.listing.mark"]._chorus_get(company, LISTING)
        run = mark._chorus_start()
        self._chorus_commit()  # the mark, when new: an invoice's failure below drops only that invoice's work
        guard = OutageGuard(probe=client.health_check)
        # First what failed before and waited long enough; tried once a run (the pages below skip them).
        tried = self._chorus_import_retries(company, client, counts, guard)
        self._chorus_commit()
        structures = client.get_active_recipient_structures()
        run.clock(client.last_reply_time or fields.Datetime.now())
        page_size = self.env.context.get("chorus_page_size") or PAGE_SIZE
        # Invoices deposited before Odoo took over are not asked for, when the company says so.
        deposited_from = company.chorus_inbound_before_start == "skip" and company.chorus_inbound_start_date
        for structure, payment_request in itertools.product(structures, PAYMENT_REQUESTS):
            for page in client.iter_received_invoice_pages(
                    recipient_id=structure.id, changed_since=run.since, page_size=page_size,
                    statuses=OPEN_STATUSES if run.full else None, payment_request=payment_request,
                    deposited_from=deposited_from or None):
                self._chorus_import_page(company, client, page, counts, run, guard, skip=tried)
                log.write({"count_found": counts["found"], "count_created": counts["created"],
                           "count_updated": counts["updated"], "count_failed": counts["failed"]})
                self._chorus_commit()
                # The page is saved: forget its records, so memory stays flat however many pages come.
                self.env.invalidate_all()
        self._chorus_import_missing(company, client, run, counts, guard)
        guard.end()
        # Every page was read: the window moves (held where an invoice was left for later).
        mark._chorus_finish(run)
        self._chorus_commit()
        self._chorus_report_failures(company, errors)
        # Invoices whose documents are still missing (a crash, a time-out, a bad file, a completion): now.
        missing = self.search([("company_id", "=", company.id), ("documents_state", "=", "missing")])
        missing -= self.env["chorus.retry"]._chorus_waiting("documents", missing)
        counts["documents"] = missing._chorus_download_documents(client, errors)
        self._chorus_commit()

    @api.model
    def _chorus_report_failures(self, company, errors):
        failed = self.env["chorus.retry"].sudo().search([("company_id", "=", company.id),
                                                         ("operation", "in", ("import", "documents"))])
        if failed:
            errors.append(_("%(count)s invoices wait to be imported again; each is tried again once its delay is "
                            "over (Chorus Pro > To try again):\n%(list)s", count=len(failed),
                            list="\n".join("- %s: %s" % (r.name, r.reason) for r in failed[:20])))

    @api.model
    def _chorus_import_retries(self, company, client, counts, guard):
        """Import again the invoices that failed before, once their delay is over: read by their Chorus id, each
        on its own. Returns the Chorus ids tried."""
        Retry = self.env["chorus.retry"]
        due = Retry._chorus_due(company, "import")
        tried = {chorus_id for chorus_id in due.mapped("chorus_invoice_id") if chorus_id}
        for entry in due:
            if entry.res_id:
                # An invoice already imported whose update failed: its status and documents read again.
                record = self.browse(entry.res_id).exists()
                if record:
                    record._chorus_refresh_isolated(client, counts, guard)
                else:
                    entry.unlink()
                continue
            chorus_id = entry.chorus_invoice_id
            if self.search_count([("company_id", "=", company.id), ("chorus_invoice_id", "=", chorus_id)]):
                Retry._chorus_done("import", [chorus_id])
                continue

            def fetch(chorus_id=chorus_id, payment_request=entry.payment_request):
                detail = client.get_received_invoice(int(chorus_id))
                history = client.get_invoice_history(detail.id)
                return ReceivedInvoiceSummary.from_detail(detail, history, payment_request), detail, history

            items = self._chorus_fetch_isolated([chorus_id], fetch, company, guard, counts)
            created = self._chorus_create_received(company, items, counts)
            counts["retried"] += len(created)
            self._chorus_commit()
        return tried

    @api.model
    def _chorus_import_page(self, company, client, page, counts, run, guard, skip=()):
        """One page of rechercher recipiendaire: new invoices created, known ones updated, each on its own (one
        that fails goes to the retry list and holds the window; the others go on)."""
        counts["found"] += len(page)
        existing = {i.chorus_invoice_id: i for i in self.search([
            ("company_id", "=", company.id), ("chorus_invoice_id", "in", [str(item.id) for item in page])])}
        Retry = self.env["chorus.retry"]
        waiting = set(Retry.sudo().search([
            ("company_id", "=", company.id), ("operation", "=", "import"),
            ("chorus_invoice_id", "in", [str(item.id) for item in page]),
            ("next_try", ">", fields.Datetime.now())]).mapped("chorus_invoice_id"))
        new_items = []
        for item in page:
            run.listed(item.id, item.status_time)
            record = existing.get(str(item.id))
            if record:
                if not record._chorus_follow_listed(client, item, counts, guard, full=run.full):
                    run.hold(item.status_time)
            elif str(item.id) not in skip and str(item.id) not in waiting:
                new_items.append(item)
        items = []
        for item in new_items:
            fetched = self._chorus_fetch_isolated(
                [str(item.id)], lambda item=item: self._chorus_fetch_new(client, item), company, guard, counts,
                summary=item)
            if not fetched:
                run.hold(item.status_time)  # in the retry list, or listed again by the next run
            items += fetched
        self._chorus_create_received(company, items, counts)

    @api.model
    def _chorus_fetch_new(self, client, item):
        """(summary, detail, history) of a listed invoice not imported yet."""
        detail = client.get_received_invoice(item.id)
        history = None
        if item.status != "MISE_A_DISPOSITION":
            # The payment delay starts when Chorus Pro made the invoice available: the history says when.
            history = client.get_invoice_history(item.id)
        return item, detail, history

    @api.model
    def _chorus_fetch_isolated(self, chorus_ids, fetch, company, guard, counts, summary=None):
        """[fetch()] when it works, else [] and the invoice in the retry list with the reason, whatever failed
        (an outage of several invoices in a row stops the run instead)."""
        try:
            result = fetch()
        except Exception as error:  # noqa: BLE001 - one invoice must not stop the others
            reason = self.env["res.company"]._chorus_failure_reason(error)
            if isinstance(error, chorus_exc.ChorusMalformedReplyError):
                reason = _("unreadable data from Chorus Pro (%(error)s)", error=error.detail)

            def note():
                for chorus_id in chorus_ids:
                    self.env["chorus.retry"]._chorus_failed(
                        company, "import", chorus_id, reason, name=summary.number if summary else None,
                        supplier_name=summary.supplier_name if summary else None,
                        payment_request=summary.payment_request if summary else None)
                counts["failed"] += len(chorus_ids)

            guard.failed(error, note)
            return []
        guard.after(True, self.env)
        return [result]

    @api.model
    def _chorus_import_missing(self, company, client, run, counts, guard):
        """After a full listing: the invoices Odoo follows that Chorus Pro no longer lists as open reached a
        final status since a window missed it; each is read alone."""
        if not run.full:
            return
        # Only the ids (a buyer may follow tens of thousands of invoices): the records of those missing are read.
        followed = self.search_fetch([("company_id", "=", company.id),
                                      ("chorus_status", "not in", list(FINAL_STATUSES))], ["chorus_invoice_id"])
        chorus_ids = dict(zip(followed.mapped("chorus_invoice_id"), followed.ids))
        missing = [chorus_ids[chorus_id] for chorus_id in run.missing(chorus_ids)]
        self.env.invalidate_all()
        for record in self.browse(missing):
            record._chorus_refresh_isolated(client, counts, guard)

    def _chorus_refresh_isolated(self, client, counts, guard, listed_time=None):
        """Read this invoice's history (and, when its status changed, its documents) again from Chorus Pro, on its
        own: a failure puts it in the retry list. Returns whether it went through."""
        self.ensure_one()

        def work():
            history = client.get_invoice_history(int(self.chorus_invoice_id))
            if self._chorus_apply_history(client, history, listed_time):
                counts["updated"] += 1
            self.env["chorus.retry"]._chorus_done("import", self)  # committed with the work

        def failed(error):
            reason = self.env["res.company"]._chorus_failure_reason(error)

            def note():
                counts["failed"] += 1
                self.env["chorus.retry"]._chorus_failed(self.company_id, "import", self, reason, name=self.name,
                                                        supplier_name=self.supplier_name)

            guard.failed(error, note)

        return guard.after(run_isolated(self.env, work, failed), self.env)

    def _chorus_follow_listed(self, client, item, counts, guard, full=False):
        """The status Chorus Pro lists for this invoice (a ReceivedInvoiceSummary). Returns False when it is left
        for later (a status of ours is under way, or reading it failed): the window will list it again.

        A listed status older than Odoo's (a listing read before our own push committed) is ignored; the full
        listing reads any difference (the history it then reads is Chorus Pro's truth, whatever the clocks)."""
        self.ensure_one()
        if item.payment_request and item.payment_request != self.payment_request_type:
            self.sudo().payment_request_type = known_payment_request(item.payment_request)
        if self.sync_state == "pending":
            return False  # our own status is on its way: the push decides, the listing shows it later
        status = known_status(item.status)
        if not status or (status == self.chorus_status and item.status_time == self.chorus_status_date):
            return True
        older = self.chorus_status_date and item.status_time and item.status_time < self.chorus_status_date
        if older and not (full and status != self.chorus_status):
            return True
        if self.env["chorus.retry"]._chorus_waiting("import", self):
            return False
        return self._chorus_refresh_isolated(client, counts, guard, listed_time=item.status_time)

    def _chorus_apply_history(self, client, history, listed_time=None):
        """Chorus Pro's history of this invoice, read now (its truth, whatever was listed before): every step Odoo
        does not have yet is added (none is missed, the completion after a suspension included), the current status
        set, the due date counted again. A change of status reads the invoice again for its documents (a completion
        brings new ones). ``listed_time``: the status time the listing gave (to the second; the history gives the
        minute). True when the status changed."""
        self.ensure_one()
        latest = history.latest
        status = known_status(history.current_status)
        if not status or latest is None:
            return False
        moment = listed_time if listed_time and listed_time.replace(second=0) == latest.time.replace(second=0) \
            else latest.time
        self._chorus_add_missing_history(history, moment)
        changed = status != self.chorus_status
        self.write({"chorus_status": status, "chorus_status_date": moment,
                    "chorus_status_comment": latest.comment or False,
                    "was_suspended": self.was_suspended or any(e.status == "SUSPENDUE" for e in history.entries)})
        self._chorus_compute_due_dates()
        if changed:
            detail = client.get_received_invoice(int(self.chorus_invoice_id))
            self._chorus_check_documents(detail)
            self.message_post(body=_("Chorus Pro status: %(status)s.", status=self._chorus_status_label()))
            if status in MANDATED_STATUSES and self.mandate_number_awaited:
                self._chorus_mandated_in_chorus_pro(detail.mandate_number)
        return changed

    def _chorus_add_missing_history(self, history, latest_moment):
        """The steps of Chorus Pro's history Odoo does not have (same status in the same minute: the same step).
        The history gives minutes: a step of the minute of Odoo's last one is dated after it, and the latest step
        gets the listing's time to the second (``latest_moment``), so that the steps stay in their order."""
        known = {(line.status, line.date.replace(second=0)) for line in self.status_history_ids if line.date}
        latest_known = max((line.date for line in self.status_history_ids if line.date), default=None)
        for entry in reversed(history.entries):
            status = known_status(entry.status)
            minute = entry.time.replace(second=0)
            if not status or (status, minute) in known:
                continue
            if latest_known and minute < latest_known.replace(second=0):
                continue  # before the last step Odoo has: already seen, or only its time differs
            moment = latest_moment if entry is history.latest else entry.time
            self._chorus_add_history(status, max(moment, latest_known) if latest_known else moment, entry.comment)

    def _chorus_check_documents(self, detail):
        """The supporting documents Chorus Pro lists now: different from the ones downloaded, they are downloaded
        again (a completion brings new ones)."""
        names = json.dumps([document.name for document in detail.documents
                            if document.id != detail.main_document_id and document.name])
        if names != (self.chorus_document_names or "[]"):
            self.write({"chorus_document_names": names, "documents_state": "missing", "documents_error": False})

    @api.model
    def _chorus_create_received(self, company, items, counts):
        """Create received invoices from (summary, detail, history) triples: one create for all, or, when the
        database refuses it, one per invoice so that only the one at fault fails (into the retry list)."""
        failures = {}
        vals_list = self._chorus_values_list(company, items, failures)
        # No creation message per record (the import log says what came in).
        Inbound = self.with_context(mail_create_nolog=True, mail_create_nosubscribe=True, tracking_disable=True)
        try:
            with self.env.cr.savepoint():
                new_records = Inbound.create(vals_list)
        except psycopg2.Error:
            self.env.invalidate_all()
            new_records = self.browse()
            for vals in vals_list:
                try:
                    with self.env.cr.savepoint():
                        new_records |= Inbound.create([vals])
                except psycopg2.Error as error:
                    self.env.invalidate_all()
                    reason = getattr(error.diag, "message_primary", None) or str(error)
                    failures[vals["chorus_invoice_id"]] = _("the database refused it (%(error)s)",
                                                            error=reason.strip()[:300])
        new_records._chorus_create_history({str(item.id): history for item, _detail, history in items if history})
        new_records._chorus_match_supplier()
        new_records._chorus_compute_due_dates()
        summaries = {str(item.id): item for item, _detail, _history in items}
        Retry = self.env["chorus.retry"]
        for chorus_id, reason in failures.items():
            item = summaries.get(chorus_id)
            Retry._chorus_failed(company, "import", chorus_id, reason, name=item and item.number,
                                 supplier_name=item and item.supplier_name)
        Retry._chorus_done("import", new_records.mapped("chorus_invoice_id"))
        counts["created"] += len(new_records)
        counts["failed"] += len(failures)
        return new_records

    @api.model
    def _chorus_values_list(self, company, items, failures):
        vals_list = []
        # Each supplier once per company ("Valider les tiers"): what its invoices are matched by.
        suppliers = self.env["chorus.supplier"]._chorus_for(company, [detail.supplier for _i, detail, _h in items])
        for item, detail, history in items:
            try:
                vals = self._chorus_values(company, item, detail, history)
            except ValueError as error:
                failures[str(item.id)] = str(error)
                continue
            vals["chorus_supplier_id"] = suppliers[detail.supplier.code].id
            vals_list.append(vals)
        return vals_list

    def _chorus_create_history(self, histories):
        """Their history as Chorus Pro gives it (the payment delay counts from it), else their current status."""
        history_vals = []
        for record in self:
            history = histories.get(record.chorus_invoice_id)
            # Oldest first: steps at the same second keep their order (the history lists newest, then highest id).
            if history:
                entries = [(known_status(e.status), e.time, e.comment) for e in reversed(history.entries)]
            else:
                entries = [(record.chorus_status, record.chorus_status_date, record.chorus_status_comment)]
            history_vals += [{"inbound_id": record.id, "status": status, "date": when, "comment": comment or False}
                             for status, when, comment in entries if status and when]
        self.env["chorus.inbound.invoice.status"].sudo().create(history_vals)

    @api.model
    def _chorus_values(self, company, item, detail, history=None):
        """The values of a new received invoice: its summary in the list, its detail, its history (when its
        status is no longer MISE_A_DISPOSITION)."""
        currency = self.env["res.currency"].with_context(active_test=False).search(
            [("name", "=", detail.currency)], limit=1)
        if not currency:
            raise ValueError(_("the currency %(currency)s is unknown in Odoo: activate it.", currency=detail.currency))
        available = item.status_time if item.status == "MISE_A_DISPOSITION" else \
            (history and history.last_time_of("MISE_A_DISPOSITION"))
        main = detail.main_document_id
        return {
            "company_id": company.id,
            "chorus_invoice_id": str(detail.id),
            "name": detail.number,
            "invoice_type": "AVOIR" if detail.invoice_type == "AVOIR" else "FACTURE",
            "origin_number": detail.origin_number or False,
            "vat_type": known_vat_type(detail.vat_type) or False,
            "payment_request_type": known_payment_request(item.payment_request),
            "supplier_name": detail.supplier.name,
            "supplier_siret": detail.supplier.code,
            "supplier_iban": detail.supplier.iban or False,
            "supplier_bic": detail.supplier.bic or False,
            "factor_name": detail.supplier.factor_name or False,
            "factor_code": detail.supplier.factor_code or False,
            "recipient_siret": detail.recipient_code or item.recipient_code,
            "recipient_structure_id": str(detail.recipient_id or item.recipient_id or ""),
            "service_code": detail.service_code or item.service_code or False,
            "engagement": detail.engagement or False,
            "contract": detail.contract or False,
            "invoice_date": detail.invoice_date,
            "deposit_date": detail.deposit_date,
            # The day Chorus Pro made it available, in France; the deposit day when no history says it.
            "availability_date": paris_day(available) if available else detail.deposit_date,
            "currency_id": currency.id,
            "amount_untaxed": detail.amount_untaxed,
            "amount_tax": detail.amount_tax,
            "amount_total": detail.amount_total,
            "amount_to_pay": detail.amount_to_pay,
            "amount_to_pay_given": detail.amount_to_pay_given,
            "amount_discount": detail.amount_discount,
            "tax_line_ids": [fields.Command.create({"rate": line.rate, "base": line.base, "amount": line.amount})
                             for line in detail.vat_lines],
            "chorus_status": known_status(item.status),
            "chorus_status_date": item.status_time,
            "chorus_status_comment": item.comment or detail.comment or False,
            "was_suspended": item.status == "SUSPENDUE" or bool(
                history and any(entry.status == "SUSPENDUE" for entry in history.entries)),
            "documents_state": "missing",
            "chorus_document_names": json.dumps([document.name for document in detail.documents
                                                 if document.id != main and document.name]),
        }
