import contextlib
import json
import logging

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..chorus import exceptions as chorus_exc
from ..chorus.replies import ReceivedInvoiceSummary
from ..tools.dates import paris_day
from ..tools.transaction import rollback_if_allowed
from ..tools.statuses import known_status

_logger = logging.getLogger(__name__)

PAGE_SIZE = 100


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
        for company in self.env["res.company"].sudo().search([("chorus_receive", "=", True)]):
            self._chorus_import_company(company)

    @api.model
    def _chorus_import_company(self, company):
        """Import what Chorus Pro has for the company since the last complete run; commits page by page.

        One import per company at a time (a lock held on a connection of its own, so that it is released
        whatever happens to this transaction). An invoice that cannot be imported goes to the retry list and
        the import moves on; the window moves once every page was read.
        """
        # The import writes what Chorus Pro says, whoever triggers it.
        self = self.sudo().with_company(company)
        company = company.sudo()
        Log = self.env["chorus.inbound.import.log"]
        with self._chorus_import_lock(company) as locked:
            if not locked:
                log = Log.create({"company_id": company.id, "state": "error", "date_end": fields.Datetime.now(),
                                  "message": _("An import is already running for this company; this one stops "
                                               "without doing anything.")})
                self._chorus_commit()
                return log
            # This worker holds the company's lock: a log still "running" is one whose worker stopped.
            Log.search([("company_id", "=", company.id), ("state", "=", "running")]).write({
                "state": "interrupted", "date_end": fields.Datetime.now(),
                "message": _("The worker stopped during this import; the next import took over.")})
            log = Log.create({"company_id": company.id})
            self._chorus_commit()
            counts = {"found": 0, "created": 0, "updated": 0, "documents": 0, "retried": 0, "failed": 0}
            errors = []
            try:
                self._chorus_import_run(company, log, counts, errors)
            except (chorus_exc.ChorusError, UserError) as error:
                errors.append(error.args[0] if isinstance(error, UserError)
                              else self.env["res.company"]._chorus_error_message(error))
            except Exception as error:
                # A database error (or a bug): what was committed stays; this run's transaction is dropped.
                if not rollback_if_allowed(self.env):
                    raise
                _logger.exception("Chorus Pro import of company %s stopped", company.id)
                errors.append(_("The import stopped on an unexpected error (%(error)s); what was read before is "
                                "kept, the next import takes over.", error=str(error)[:300]))
            log.write({"state": "error" if errors else "done", "date_end": fields.Datetime.now(),
                       "count_found": counts["found"], "count_created": counts["created"],
                       "count_updated": counts["updated"], "count_documents": counts["documents"],
                       "count_retried": counts["retried"], "count_failed": counts["failed"],
                       "message": "\n".join(errors) or False})
            self._chorus_commit()
        return log

    @api.model
    def _chorus_import_run(self, company, log, counts, errors):
        client = company._chorus_get_client()
        Retry = self.env["chorus.inbound.retry"]
        # First what failed before.
        retries = Retry.search([("company_id", "=", company.id)])
        # Tried once a run: the pages below skip what the retry pass just tried.
        tried = set(retries.mapped("chorus_invoice_id"))
        if retries:
            counts["retried"] = self._chorus_import_retries(company, client, retries, counts)
            self._chorus_commit()
        structures = client.get_active_recipient_structures()
        watermark = company.chorus_inbound_watermark
        newest = watermark
        page_size = self.env.context.get("chorus_page_size") or PAGE_SIZE
        for structure in structures:
            for page in client.iter_received_invoice_pages(recipient_id=structure.id, changed_since=watermark,
                                                           page_size=page_size):
                counts["found"] += len(page)
                created, updated = self._chorus_import_page(company, client, page, counts, skip=tried)
                counts["created"] += created
                counts["updated"] += updated
                newest = max([moment for moment in [newest] + [i.status_time for i in page] if moment],
                             default=False)
                log.write({"count_found": counts["found"], "count_created": counts["created"],
                           "count_updated": counts["updated"], "count_failed": counts["failed"]})
                self._chorus_commit()
                # The page is saved: forget its records, so memory stays flat however many pages come.
                self.env.invalidate_all()
        # Every page was read: the next run starts from the latest status time listed. The invoices that
        # failed are in the retry list, tried again by every run.
        company.chorus_inbound_watermark = newest
        self._chorus_commit()
        failed = Retry.search([("company_id", "=", company.id)])
        if failed:
            errors.append(_("%(count)s invoices could not be imported; they are tried again by every import "
                            "(Chorus Pro > Invoices to import again):\n%(list)s", count=len(failed),
                            list="\n".join("- %s: %s" % (r.display_name, r.reason) for r in failed[:20])))
        # Invoices whose documents are still missing (a crash, a time-out, a bad file): downloaded now.
        missing = self.search([("company_id", "=", company.id), ("documents_state", "=", "missing")])
        counts["documents"] = missing._chorus_download_documents(client, errors)
        self._chorus_commit()

    @api.model
    def _chorus_import_retries(self, company, client, retries, counts):
        """Import again the invoices that failed before, read by their Chorus id."""
        failures = {}
        known = set(self.search([("company_id", "=", company.id),
                                 ("chorus_invoice_id", "in", retries.mapped("chorus_invoice_id"))])
                    .mapped("chorus_invoice_id"))
        items = []
        for retry in retries.filtered(lambda r: r.chorus_invoice_id not in known):
            try:
                detail = client.get_received_invoice(int(retry.chorus_invoice_id))
                history = client.get_invoice_history(detail.id)
                items.append((ReceivedInvoiceSummary.from_detail(detail, history), detail, history))
            except chorus_exc.ChorusMalformedReplyError as error:
                failures[retry.chorus_invoice_id] = _("unreadable data from Chorus Pro (%(error)s)",
                                                      error=error.detail)
            except chorus_exc.ChorusFunctionalError as error:
                failures[retry.chorus_invoice_id] = self.env["res.company"]._chorus_error_message(error)
        created = self._chorus_create_received(company, items, failures)
        Retry = self.env["chorus.inbound.retry"]
        Retry._chorus_clear(company, known | set(created.mapped("chorus_invoice_id")))
        Retry._chorus_record(company, failures, {str(item.id): item for item, _d, _h in items})
        counts["failed"] += len(failures)
        return len(created) + len(known)

    @api.model
    @contextlib.contextmanager
    def _chorus_import_lock(self, company):
        """The company's import lock (a PostgreSQL advisory lock), held on a connection of its own: a database
        error in the import's transaction cannot keep it, and it ends with the connection if the worker dies.
        Yields whether it was taken."""
        key = self._chorus_import_lock_key(company)
        with self.env.registry.cursor() as lock_cr:
            lock_cr.execute("SELECT pg_try_advisory_lock(%s)", [key])
            locked = lock_cr.fetchone()[0]
            lock_cr.commit()
            try:
                yield locked
            finally:
                if locked:
                    lock_cr.execute("SELECT pg_advisory_unlock(%s)", [key])
                    lock_cr.commit()

    @api.model
    def _chorus_import_lock_key(self, company):
        """The PostgreSQL advisory lock of the company's import: one worker at a time."""
        return 0x4350524F00000000 + company.id  # "CPRO" in the high bytes: apart from other advisory locks

    @api.model
    def _chorus_import_page(self, company, client, page, counts, skip=()):
        """Create the new invoices of a page of rechercher recipiendaire; update the known ones' status.

        An invoice that cannot be read or stored goes to the retry list; the others go on. ``skip``: Chorus ids
        already tried in this run.
        """
        existing = {i.chorus_invoice_id: i for i in self.search([
            ("company_id", "=", company.id), ("chorus_invoice_id", "in", [str(item.id) for item in page])])}
        updated = 0
        to_create = []
        failures = {}
        for item in page:
            record = existing.get(str(item.id))
            if record:
                if record._chorus_update_status(item):
                    updated += 1
                continue
            if str(item.id) in skip:
                continue
            try:
                detail = client.get_received_invoice(item.id)
                history = None
                if item.status != "MISE_A_DISPOSITION":
                    # The payment delay starts when Chorus Pro made the invoice available: the history says when.
                    history = client.get_invoice_history(item.id)
                to_create.append((item, detail, history))
            except chorus_exc.ChorusMalformedReplyError as error:
                # A field missing or out of range: this invoice is reported and tried again, the others go on.
                failures[str(item.id)] = _("unreadable data from Chorus Pro (%(error)s)", error=error.detail)
            except chorus_exc.ChorusFunctionalError as error:
                failures[str(item.id)] = self.env["res.company"]._chorus_error_message(error)
        created = self._chorus_create_received(company, to_create, failures)
        Retry = self.env["chorus.inbound.retry"]
        Retry._chorus_record(company, failures, {str(item.id): item for item in page})
        Retry._chorus_clear(company, created.mapped("chorus_invoice_id"))
        counts["failed"] += len(failures)
        return len(created), updated

    @api.model
    def _chorus_create_received(self, company, items, failures):
        """Create received invoices from (summary, detail, history) triples: one create for all, or, when the
        database refuses it, one per invoice so that only the one at fault fails (into ``failures``)."""
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
        # Their history as Chorus Pro gives it (the payment delay counts from it), else their current status.
        histories = {str(item.id): history for item, _detail, history in items if history}
        history_vals = []
        for record in new_records:
            history = histories.get(record.chorus_invoice_id)
            # Oldest first: steps at the same second keep their order (the history lists newest, then highest id).
            if history:
                entries = [(known_status(e.status), e.time, e.comment) for e in reversed(history.entries)]
            else:
                entries = [(record.chorus_status, record.chorus_status_date, record.chorus_status_comment)]
            history_vals += [{"inbound_id": record.id, "status": status, "date": when, "comment": comment or False}
                             for status, when, comment in entries if status and when]
        self.env["chorus.inbound.invoice.status"].sudo().create(history_vals)
        new_records._chorus_match_supplier()
        new_records._chorus_compute_due_dates()
        return new_records

    def _chorus_update_status(self, item):
        """The status Chorus Pro lists (a ReceivedInvoiceSummary), when it changed there (another user, the
        accountant)."""
        self.ensure_one()
        status = known_status(item.status)
        if not status or status == self.chorus_status or self.sync_state == "pending":
            return False
        when = item.status_time or fields.Datetime.now()
        self.write({"chorus_status": status, "chorus_status_date": when, "chorus_status_comment": item.comment,
                    "was_suspended": self.was_suspended or status == "SUSPENDUE"})
        self._chorus_add_history(status, when, item.comment)
        self._chorus_compute_due_dates()
        self.message_post(body=_("Chorus Pro status: %(status)s.", status=self._chorus_status_label()))
        return True

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
            "supplier_name": detail.supplier.name,
            "supplier_siret": detail.supplier.code,
            "supplier_iban": detail.supplier.iban or False,
            "supplier_bic": detail.supplier.bic or False,
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

