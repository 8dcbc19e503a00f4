import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..chorus import exceptions as chorus_exc
from ..tools.statuses import ACTION_STATUSES, CHORUS_INVOICE_STATUSES, FINAL_STATUSES, known_status, selection_labels
from ..tools.transaction import OutageGuard, rollback_if_allowed, run_isolated
from .account_move import FLUX_DONE, FLUX_STATES
from .account_move_chorus_deposit import WAIT_BEFORE_TELLING

_logger = logging.getLogger(__name__)

LISTING = "supplier_statuses"
# A daily full listing asks for every invoice in one of these (tools/listing.py).
OPEN_STATUSES = [status for status, _label in CHORUS_INVOICE_STATUSES if status not in FINAL_STATUSES]
FOLLOWED = ["|", ("chorus_state", "in", ("sending", "deposited", "unknown")),
            "&", ("chorus_state", "=", "integrated"), ("chorus_invoice_status", "not in", list(FINAL_STATUSES))]


class AccountMove(models.Model):
    _inherit = "account.move"

    # ------------------------------------------------------------ follow-up
    @api.model
    def _cron_chorus_follow_up(self):
        """Every state under way is taken on: a deposit that stopped half-way ("sending" for too long) and a
        lost reply are looked up, flux are followed until Chorus Pro is done with them, then invoice statuses
        until final. The hourly round, shared with the worker lanes: one worker per company at a time, on any
        server; each invoice on its own."""
        return self.env["chorus.worker"]._chorus_head("follow_up")

    @api.model
    def _chorus_follow_up_company(self, company):
        """The follow-up of a company whose lock this worker holds (chorus.worker)."""
        self = self.sudo().with_company(company)
        try:
            self._chorus_follow_up_run(company)
        except Exception:
            # A database error (or a bug): what was committed stays, the company's next run takes over; the round
            # goes on with the other companies.
            if not rollback_if_allowed(self.env):
                raise
            _logger.exception("Chorus Pro follow-up of company %s stopped", company.id)
        self.env["chorus.listing.mark"]._chorus_get(company, LISTING)._chorus_ran()
        self._chorus_commit()

    @api.model
    def _chorus_follow_up_run(self, company):
        try:
            client = company._chorus_get_client()
        except UserError as error:
            _logger.info("Chorus Pro follow-up skipped for company %s: %s", company.id, error.args[0])
            return
        moves = self.search(FOLLOWED + [("company_id", "=", company.id)])
        waiting = self.env["chorus.retry"]._chorus_waiting("follow_up", moves)
        guard = OutageGuard(probe=client.health_check)
        self._chorus_commit()
        try:
            for move in (moves - waiting).filtered(lambda m: m.chorus_state in ("sending", "unknown")):
                move._chorus_isolated(move._chorus_follow_lost, guard)
            for flux_number, flux_moves in (moves - waiting).filtered(
                    lambda m: m.chorus_state == "deposited").grouped("chorus_flux_number").items():
                flux_moves._chorus_isolated(lambda flux_moves=flux_moves, number=flux_number:
                                            flux_moves._chorus_follow_flux_or_tell(client, number), guard)
            moves.filtered(lambda m: m.chorus_state == "integrated")._chorus_follow_statuses(
                client, company, waiting, guard)
            guard.end()
        except chorus_exc.ChorusError as error:
            # Chorus Pro down, or its listing refused: nothing changes (the window stays), the next run tries again.
            _logger.warning("Chorus Pro follow-up interrupted for company %s: %s", company.id, error.__class__.__name__)
        self._chorus_commit()

    def action_chorus_refresh_status(self):
        """"Update status": what the hourly follow-up reads for these invoices, now."""
        self.check_access("write")
        moves = self.filtered(lambda m: m.chorus_state in ("sending", "unknown", "deposited", "integrated"))
        if not moves:
            raise UserError(_("Only an invoice sent to Chorus Pro has a status there to update."))
        for company, company_moves in moves.sudo().grouped("company_id").items():
            client = company._chorus_get_client()
            for move in company_moves:
                try:
                    if move.chorus_state in ("sending", "unknown"):
                        move._chorus_follow_lost()
                    elif move.chorus_state == "deposited":
                        move._chorus_follow_flux_or_tell(client, move.chorus_flux_number)
                    else:
                        move._chorus_read_status(client)
                except chorus_exc.ChorusError as error:
                    raise UserError(_("%(move)s: Chorus Pro could not be asked (%(error)s).", move=move.display_name,
                                      error=company._chorus_error_message(error))) from None
        moves.invalidate_recordset()
        lines = ["%s: %s" % (move.display_name, selection_labels(move, "chorus_display_state").get(
            move.chorus_display_state, "")) for move in moves]
        return {"type": "ir.actions.client", "tag": "display_notification", "params": {
            "title": _("Chorus Pro status updated"), "message": "\n".join(lines), "type": "success",
            "next": {"type": "ir.actions.client", "tag": "soft_reload"}}}

    def _chorus_isolated(self, work, guard):
        """Do ``work()`` for these invoices on their own: whatever it raises, they wait in the retry list with the
        reason, and the run goes on (Chorus Pro unavailable for several in a row is an outage: the run stops).
        True when it went through."""
        def failed(error):
            reason = self.env["res.company"]._chorus_failure_reason(error)

            def note():
                for move in self:
                    self.env["chorus.retry"]._chorus_failed(move.company_id, "follow_up", move, reason,
                                                            name=move.name, supplier_name=move.partner_id.display_name)

            guard.failed(error, note)

        def work_done():
            work()
            self.env["chorus.retry"]._chorus_done("follow_up", self)  # committed with the work

        return guard.after(run_isolated(self.env, work_done, failed), self.env)

    def _chorus_follow_lost(self):
        """A deposit that stopped half-way, or whose reply was lost: looked up in Chorus Pro."""
        self.ensure_one()
        # Another worker may be depositing it right now: only an old one, only when unlocked, read again under the
        # lock; then looked up like a lost reply.
        if self.chorus_state == "sending":
            if not (self._chorus_sending_stale() and self._chorus_locked_fresh("sending")):
                return
            self._chorus_mark_interrupted()
        elif not self._chorus_locked_fresh("unknown"):
            return
        self._chorus_resolve_unknown()

    def _chorus_follow_flux_or_tell(self, client, flux_number):
        try:
            self._chorus_follow_flux(client, flux_number)
        except chorus_exc.ChorusFunctionalError as refusal:
            # Chorus Pro refuses to report on this flux only: the other flux and the statuses go on.
            self._chorus_tell_once(_("Chorus Pro: flux not found"), _(
                "Chorus Pro does not report on the flux %(flux)s (%(error)s). Look it up in the Chorus Pro portal; "
                "if it is not there, send the invoice again.", flux=flux_number,
                error=self.env["res.company"]._chorus_error_message(refusal)))

    def _chorus_follow_flux(self, client, flux_number):
        """Follow a deposited flux as Chorus Pro reports it. An invoice is rejected only when the flux is
        rejected or Chorus Pro names an error for it; integrated but not listed yet, it waits."""
        report = client.get_flux_report(flux_number)
        state = report.state if report.state in dict(FLUX_STATES) else False
        if state != self[:1].chorus_flux_state:
            self._chorus_record({"chorus_flux_state": state})
        if report.state == "IN_INCIDENTE":
            self._chorus_tell_once(_("Chorus Pro: incident on the flux"), _(
                "Chorus Pro reports an incident on the flux %(flux)s. It usually processes it again by itself "
                "(state \"Waiting to be processed again\"); if it stays so, contact Chorus Pro's support with the "
                "flux number. The invoice stays as it is meanwhile.", flux=flux_number))
        if report.state not in FLUX_DONE:
            self._chorus_tell_if_long(_("Chorus Pro has not processed the flux %(flux)s yet (%(state)s).",
                                        flux=flux_number, state=report.state))
            return
        errors_by_number = {}
        for error in report.invoice_errors:
            errors_by_number.setdefault(error.invoice_number, []).append(error.message or "")
        technical = ["%s: %s" % (e.code, e.message) for e in report.technical_errors]
        found = {}
        if report.state != "IN_REJETE":
            found = {i.number: i for i in client.search_supplier_invoices(flux_number=flux_number)}
        for move in self:
            invoice = found.get(move.name)
            if invoice:
                move._chorus_link_found(invoice, _("Chorus Pro integrated the invoice (flux %(flux)s)."))
                continue
            own_errors = errors_by_number.get(move.name)
            if report.state != "IN_REJETE" and not own_errors:
                # Integrated, not listed yet, and no error for it: Chorus Pro is not done listing it.
                move._chorus_tell_if_long(_("Chorus Pro integrated the flux %(flux)s but does not list %(move)s "
                                            "yet.", flux=flux_number, move=move.display_name))
                continue
            # Refused; unless Chorus Pro already has this invoice from an earlier deposit (a lost reply).
            earlier = [i for i in client.search_supplier_invoices(invoice_number=move.name) if i.status != "REJETEE"]
            if earlier:
                move._chorus_link_found(earlier[0], _("Chorus Pro refused the new flux, but already had this "
                                                      "invoice from an earlier deposit (flux %(flux)s): the "
                                                      "invoice follows that one."))
                continue
            reasons = own_errors or technical or \
                [reason for reasons in errors_by_number.values() for reason in reasons] or [_("no reason given")]
            message = _("Chorus Pro rejected the flux %(flux)s: %(reasons)s. Correct the invoice (reset it to "
                        "draft if needed) and send it again.", flux=flux_number, reasons="; ".join(reasons))
            move._chorus_record({"chorus_state": "rejected", "chorus_error": message})
            move.message_post(body=message)
            move._chorus_schedule_activity(_("Chorus Pro rejected the invoice"), message)

    def _chorus_tell_if_long(self, note):
        """A deposit Chorus Pro has not finished with after a day is given to a user, once."""
        late = self.filtered(lambda m: m.chorus_sent_date
                             and m.chorus_sent_date < fields.Datetime.now() - WAIT_BEFORE_TELLING)
        late._chorus_tell_once(_("Chorus Pro: flux not processed yet"), note)

    def _chorus_follow_statuses(self, client, company, waiting, guard):
        """The statuses of these integrated invoices: Chorus Pro is asked only for what changed since the last
        complete run (tools/listing.py), each changed invoice is read and updated on its own; once a day every
        invoice not final is listed, and those Chorus Pro no longer lists so are read alone. ``waiting``: invoices
        whose last failure's delay is not over (they hold the window)."""
        if not self:
            return
        mark = self.env["chorus.listing.mark"]._chorus_get(company, LISTING)
        run = mark._chorus_start()
        self._chorus_commit()  # the mark, when new: an invoice's failure below drops only that invoice's work
        current = {}
        for page in client.iter_supplier_invoice_pages(changed_since=run.since,
                                                       statuses=OPEN_STATUSES if run.full else None):
            run.clock(client.last_reply_time or fields.Datetime.now())
            for invoice in page:
                run.listed(invoice.id, invoice.status_time)
                current[str(invoice.id)] = invoice
        missing = run.missing(self.mapped("chorus_invoice_id"))
        for move in self:
            invoice = current.get(move.chorus_invoice_id)
            if move in waiting:
                run.hold(invoice and invoice.status_time)
            elif invoice and invoice.status != move.chorus_invoice_status and (run.full or not move._chorus_older(invoice)):
                if not move._chorus_isolated(lambda move=move: move._chorus_read_status(client), guard):
                    run.hold(invoice.status_time)
            elif move.chorus_invoice_id in missing:
                move._chorus_isolated(lambda move=move: move._chorus_read_status(client), guard)
        guard.end()
        mark._chorus_finish(run)
        self._chorus_commit()

    def _chorus_older(self, invoice):
        """Whether Chorus Pro's listed status is older than the one this invoice holds (listed before it changed)."""
        return bool(self.chorus_status_date and invoice.status_time and invoice.status_time < self.chorus_status_date)

    def _chorus_read_status(self, client):
        """This invoice's status from its history in Chorus Pro; a new one is said in the chatter, and one that
        asks something of the salesperson is given to them."""
        self.ensure_one()
        history = client.get_invoice_history(int(self.chorus_invoice_id))
        latest = history.latest
        status = known_status(history.current_status)
        if not status or status == self.chorus_invoice_status:
            return
        comment = (latest and latest.comment) or False
        self._chorus_record({
            "chorus_invoice_status": status, "chorus_status_comment": comment,
            "chorus_status_date": (latest and latest.time) or fields.Datetime.now(),
        })
        body = _("Chorus Pro status: %(status)s.", status=self._chorus_status_label())
        if comment:
            body = _("Chorus Pro status: %(status)s (%(comment)s).", status=self._chorus_status_label(),
                     comment=comment)
        self.message_post(body=body)
        if status in ACTION_STATUSES:
            self._chorus_schedule_activity(_("Chorus Pro: invoice %(status)s", status=self._chorus_status_label()),
                                           body)
