from datetime import timedelta

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..chorus import exceptions as chorus_exc
from ..chorus.replies import Processed
from ..tools.dates import paris_day
from ..tools.transaction import run_isolated
from ..tools.statuses import known_status
from .chorus_inbound_invoice import MANDATED, PROCESSING_STATUSES, PUSH_MARGIN, VALIDATION_STATUSES


class ChorusInboundInvoice(models.Model):
    _inherit = "chorus.inbound.invoice"

    # -------------------------------------------------------------- due dates
    def _chorus_status_day(self, status, after=None):
        """The French day the invoice last entered ``status`` (after the day ``after``), from its history."""
        self.ensure_one()
        days = [paris_day(line.date) for line in self.status_history_ids if line.status == status and line.date]
        days = [day for day in days if after is None or day >= after]
        return max(days) if days else None

    def _chorus_compute_due_dates(self):
        """The end of the global payment delay, as the Code de la commande publique counts it.

        It starts when Chorus Pro makes the invoice available (R2192-12). An interruption (SUSPENDUE, once,
        R2192-27) stops it: no due date until the supplier completes the invoice; then a new delay opens: 30
        days, or what was left at the interruption if more (R2192-29). A mandated invoice keeps its due date
        (it is the bill's), whatever the company's delay becomes.
        """
        for invoice in self.filtered(lambda i: not i.move_id):
            start = invoice.availability_date or invoice.deposit_date
            delay = invoice.company_id.chorus_payment_delay_days or 30
            due = start and start + timedelta(days=delay)
            suspended = invoice._chorus_status_day("SUSPENDUE")
            if due and suspended:
                completed = invoice._chorus_status_day("COMPLETEE", after=suspended)
                if completed:
                    due = completed + timedelta(days=max(30, (due - suspended).days))
                else:
                    due = False  # interrupted: the delay runs again once the supplier completes it
            if invoice.date_due != due:
                invoice.sudo().date_due = due


    # ------------------------------------------------------ internal validation
    def _chorus_check_validator(self):
        if not self.env.user.has_group("l10n_fr_chorus_efacture.group_chorus_inbound_validator"):
            raise AccessError(_("Only the Chorus Pro inbound validators can validate received invoices."))

    def action_internal_validate(self):
        """"Validation interne": checked inside before anything is said to the supplier or mandated. From a list,
        the invoices that cannot be validated are reported and the others validated."""
        self._chorus_check_validator()
        refused = self.filtered(lambda i: i.move_id or i.chorus_status not in VALIDATION_STATUSES)
        if refused and len(self) == 1:
            raise UserError(_("%(invoice)s cannot be validated at the status %(status)s.",
                              invoice=self.display_name, status=self._chorus_status_label()))
        to_validate = (self - refused).filtered(lambda i: not i.internal_validated)
        to_validate.sudo().write({"internal_validated": True, "validated_by_id": self.env.user.id,
                                  "validated_date": fields.Datetime.now()})
        for invoice in to_validate:
            invoice.message_post(body=_("Validated internally by %(user)s.", user=self.env.user.name))
        if not refused:
            return True
        return {"type": "ir.actions.client", "tag": "display_notification", "params": {
            "title": _("%(count)s invoices validated", count=len(to_validate)),
            "message": _("Not validated (already mandated, rejected or waiting for the supplier): %(list)s",
                         list=", ".join(refused.mapped("display_name"))),
            "type": "warning", "sticky": True, "next": {"type": "ir.actions.client", "tag": "soft_reload"}}}

    def action_internal_unvalidate(self):
        self._chorus_check_validator()
        if self.filtered("move_id"):
            raise UserError(_("A mandated invoice keeps its validation."))
        self.sudo().write({"internal_validated": False, "validated_by_id": False, "validated_date": False})
        return True

    # ------------------------------------------------------------ statuses
    def _chorus_allowed_statuses(self):
        """The statuses the buyer may set now: those Chorus Pro allows after the current one (as last asked,
        see res.company._chorus_refresh_allowed_statuses), without a second suspension (CCP R2192-27)."""
        self.ensure_one()
        if self.sync_state == "pending" or self.move_id or self._chorus_awaits_validation():
            return []
        allowed = self.company_id._chorus_next_statuses(self.chorus_status) or []
        return [status for status in PROCESSING_STATUSES
                if status in allowed and not (status == "SUSPENDUE" and self.was_suspended)]

    def _chorus_awaits_validation(self):
        """The company checks its invoices inside before telling the supplier anything (validation interne)."""
        self.ensure_one()
        return self.company_id.chorus_inbound_validation and not self.internal_validated

    def _chorus_add_history(self, status, date=None, comment=None, origin="chorus"):
        self.ensure_one()
        self.env["chorus.inbound.invoice.status"].sudo().create({
            "inbound_id": self.id, "status": status, "date": date or fields.Datetime.now(),
            "comment": comment or False, "user_id": self.env.user.id if origin == "odoo" else False,
        })

    def _chorus_request_status(self, status, reason=None, mandate_number=None):
        """Queue a status for Chorus Pro, then try to push it at once."""
        self._chorus_queue_status(status, reason=reason, mandate_number=mandate_number)
        self._chorus_push_statuses()

    def _chorus_queue_status(self, status, reason=None, mandate_number=None):
        """Queue a status for Chorus Pro (sent by _chorus_push_statuses, now or by the cron).

        MANDATEE comes from the mandates, which check their own conditions; it is queued even while Chorus Pro
        is down.
        """
        if status != MANDATED:
            for company, invoices in self.grouped("company_id").items():
                company._chorus_refresh_allowed_statuses(invoices.mapped("chorus_status"))
        for invoice in self:
            if status != MANDATED and invoice._chorus_awaits_validation():
                raise UserError(_("%(invoice)s must be validated internally (Internal validation) before it is "
                                  "processed in Chorus Pro.", invoice=invoice.display_name))
            if status != MANDATED and status not in invoice._chorus_allowed_statuses():
                raise UserError(_("%(invoice)s cannot go from %(current)s to %(new)s in Chorus Pro.",
                                  invoice=invoice.display_name, current=invoice._chorus_status_label(),
                                  new=invoice._chorus_status_label(status)))
        self.sudo().write({"sync_state": "pending", "sync_status": status, "sync_reason": reason or False,
                    "sync_mandate_number": mandate_number or False, "sync_error": False,
                    "sync_attempt_date": False})


    def _chorus_push_statuses(self):
        """Send the pending statuses (traiter recue). Chorus Pro down: they stay pending for the cron.

        Each invoice in a transaction of its own; one another worker holds or has just changed is left to it
        (the next run looks at it again).
        """
        # Statuses come from the module's own steps: written in sudo (see write()), by the user who asked.
        self = self.sudo()
        # What the user set is kept whatever happens to one push: each push's failure drops only its own work.
        self._chorus_commit()
        for company, invoices in self.filtered(lambda i: i.sync_state == "pending").grouped("company_id").items():
            try:
                client = company._chorus_get_client()
            except UserError as error:
                invoices.write({"sync_error": error.args[0]})
                self._chorus_commit()
                continue
            for invoice in invoices:
                # Whatever happens to one invoice (a database error, a bug), the others are sent.
                run_isolated(self.env, lambda invoice=invoice: invoice._chorus_push_one(client),
                             invoice._chorus_push_failed)

    def _chorus_push_failed(self, error):
        """The push of this status failed for a reason of Odoo's (Chorus Pro's own answers are handled by the
        push): still pending, tried again after a delay that grows, the reason shown."""
        self.ensure_one()
        if isinstance(error, (psycopg2.errors.SerializationFailure, psycopg2.errors.LockNotAvailable)):
            return  # another worker was changing it: left to it, the next run looks again
        reason = self.env["res.company"]._chorus_failure_reason(error)
        self.sudo().write({"sync_error": reason})
        self.env["chorus.retry"]._chorus_failed(self.company_id, "push", self, reason, name=self.name,
                                                supplier_name=self.supplier_name)

    def _chorus_push_one(self, client):
        self.ensure_one()
        # Locked, then read again: another worker may have pushed it since this run listed it, or be pushing it
        # right now (its attempt is committed before its call, which releases the lock).
        if not self._chorus_lock() or self.sync_state != "pending" or self._chorus_push_in_flight():
            return
        try:
            reply = self._chorus_already_applied(client)
            if not reply:
                # Known before the call: a lost reply or a stopped worker is looked up next time.
                self.write({"sync_attempt_date": fields.Datetime.now(), "sync_error": False})
                self._chorus_commit()
                reply = client.process_received_invoice(
                    int(self.chorus_invoice_id), self.sync_status, reason=self.sync_reason or None,
                    mandate_number=self.sync_mandate_number or None)
        except chorus_exc.ChorusFunctionalError as error:
            # Chorus Pro refused: the status stays as it was; the user reads why.
            message = self.env["res.company"]._chorus_error_message(error)
            self.write({"sync_state": "error", "sync_error": message, "sync_attempt_date": False})
            self.message_post(body=_("Chorus Pro refused the status %(status)s: %(error)s",
                                     status=self._chorus_status_label(self.sync_status), error=message))
            self.env["chorus.retry"]._chorus_done("push", self)
            self._chorus_commit()
            return
        except chorus_exc.ChorusError as error:
            # Down, slow, or the reply lost: still pending; the retry first asks Chorus Pro whether the
            # status was applied (_chorus_already_applied), once its delay is over.
            message = self.env["res.company"]._chorus_error_message(error)
            self.write({"sync_error": message})
            self.env["chorus.retry"]._chorus_failed(self.company_id, "push", self, message, name=self.name,
                                                    supplier_name=self.supplier_name)
            self._chorus_commit()
            return
        status = known_status(reply.status) or self.sync_status
        changed = status != self.chorus_status
        # On Chorus Pro's clock (its reply's Date), as the listings give their times.
        values = {"chorus_status": status, "chorus_status_date": client.last_reply_time or fields.Datetime.now(),
                  "chorus_status_comment": self.sync_reason or False,
                  "sync_state": "done", "sync_error": False, "sync_attempt_date": False}
        if status == "SUSPENDUE":
            values["was_suspended"] = True
        self.write(values)
        self._chorus_add_history(status, values["chorus_status_date"], self.sync_reason, origin="odoo")
        self._chorus_compute_due_dates()
        body = _("Chorus Pro status set to %(status)s.", status=self._chorus_status_label())
        if self.sync_reason:
            body = _("Chorus Pro status set to %(status)s: %(reason)s", status=self._chorus_status_label(),
                     reason=self.sync_reason)
        if self.sync_mandate_number:
            body = _("Chorus Pro status set to %(status)s with the mandate %(number)s.",
                     status=self._chorus_status_label(), number=self.sync_mandate_number)
        if changed and not (self.env.context.get("tracking_disable") or self.env.context.get("mail_notrack")):
            # One chatter message for the step: the status's tracking, with the reason as its text.
            self._track_set_log_message(body)
        else:
            self.message_post(body=body)
        self.env["chorus.retry"]._chorus_done("push", self)
        self._chorus_commit()

    def _chorus_push_in_flight(self):
        """An attempt committed, not ended (no error written after it), and recent enough for its call to be
        under way: another worker is pushing this status. Past the call's time-out, it is over."""
        self.ensure_one()
        if not self.sync_attempt_date or self.sync_error:
            return False
        limit = timedelta(seconds=self.company_id.chorus_timeout or 30) + PUSH_MARGIN
        return self.sync_attempt_date > fields.Datetime.now() - limit

    def _chorus_already_applied(self, client):
        """After an attempt that got no clear answer (a lost reply, a stopped worker), Chorus Pro may already
        have the status: ask first."""
        self.ensure_one()
        if not (self.sync_error or self.sync_attempt_date):
            return None
        current = client.get_received_invoice(int(self.chorus_invoice_id))
        if current.status == self.sync_status:
            return Processed(invoice_id=current.id, number=current.number, status=current.status, date=None)
        return None


    @api.model
    def _cron_chorus_push_statuses(self):
        """The statuses waiting for Chorus Pro (mandates have a scheduled action of their own: neither waits for
        the other); those whose last failure's delay is not over wait for a later run."""
        pending = self.search([("sync_state", "=", "pending")])
        pending -= self.env["chorus.retry"]._chorus_waiting("push", pending)
        for company, invoices in pending.grouped("company_id").items():
            company._chorus_in_its_language(invoices)._chorus_push_statuses()


    def action_retry_sync(self):
        """Send the queued status again (after a refusal, once its cause is fixed in Chorus Pro)."""
        self.filtered(lambda i: i.sync_state == "error" and i.sync_status).sudo().write({"sync_state": "pending"})
        self.filtered(lambda i: i.sync_state == "pending")._chorus_push_statuses()
        return True

    def action_cancel_sync(self):
        """Give up the queued status that Chorus Pro refused: the invoice keeps the status Chorus Pro has.
        (Not a mandate's: its bill exists, Chorus Pro must be told.)"""
        self.filtered(lambda i: i.sync_state == "error" and i.sync_status != MANDATED).sudo().write({
            "sync_state": False, "sync_status": False, "sync_reason": False, "sync_mandate_number": False,
            "sync_error": False, "sync_attempt_date": False})
        return True

    def action_process(self):
        # Ask Chorus Pro now which statuses may follow: the wizard only reads the answer.
        for company, invoices in self.grouped("company_id").items():
            company._chorus_refresh_allowed_statuses(invoices.mapped("chorus_status"))
        return {
            "type": "ir.actions.act_window", "name": _("Process in Chorus Pro"),
            "res_model": "chorus.inbound.process.wizard", "view_mode": "form", "target": "new",
            "context": {"default_inbound_ids": self.ids},
        }

