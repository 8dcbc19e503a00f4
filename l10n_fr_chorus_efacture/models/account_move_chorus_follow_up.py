import logging
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..chorus import exceptions as chorus_exc
from ..tools.statuses import ACTION_STATUSES, FINAL_STATUSES, known_status
from .account_move import FLUX_DONE, FLUX_STATES
from .account_move_chorus_deposit import WAIT_BEFORE_TELLING

_logger = logging.getLogger(__name__)

# Statuses are asked for from a little before the latest status time Chorus Pro listed (its own clock): a status
# written while the last run was asking may not have been listed yet. Once a day every status is listed, in case
# Chorus Pro records one with an earlier time than one already seen.
FOLLOW_UP_OVERLAP = timedelta(minutes=15)
FOLLOW_UP_FULL_EVERY = timedelta(days=1)


class AccountMove(models.Model):
    _inherit = "account.move"

    # ------------------------------------------------------------ follow-up
    @api.model
    def _cron_chorus_follow_up(self):
        """Every state under way is taken on: a deposit that stopped half-way ("sending" for too long) and a
        lost reply are looked up, flux are followed until Chorus Pro is done with them, then invoice statuses
        until final."""
        domain = ["|", ("chorus_state", "in", ("sending", "deposited", "unknown")),
                  "&", ("chorus_state", "=", "integrated"), ("chorus_invoice_status", "not in", list(FINAL_STATUSES))]
        for company, moves in self.sudo().search(domain).grouped("company_id").items():
            try:
                client = company._chorus_get_client()
            except UserError as error:
                _logger.info("Chorus Pro follow-up skipped for company %s: %s", company.id, error.args[0])
                continue
            try:
                for move in moves.filtered(lambda m: m.chorus_state == "sending"):
                    # Another worker may be depositing it right now: only an old one, only when unlocked, and
                    # read again under the lock.
                    if move._chorus_sending_stale() and move._chorus_locked_fresh("sending"):
                        move._chorus_mark_interrupted()
                for move in moves.filtered(lambda m: m.chorus_state == "unknown"):
                    if move._chorus_locked_fresh("unknown"):
                        move._chorus_resolve_unknown()
                for flux_number, flux_moves in moves.filtered(
                        lambda m: m.chorus_state == "deposited").grouped("chorus_flux_number").items():
                    try:
                        flux_moves._chorus_follow_flux(client, flux_number)
                    except chorus_exc.ChorusFunctionalError as refusal:
                        # Chorus Pro refuses to report on this flux only: the other flux and the statuses go on.
                        flux_moves._chorus_tell_once(_("Chorus Pro: flux not found"), _(
                            "Chorus Pro does not report on the flux %(flux)s (%(error)s). Look it up in the Chorus "
                            "Pro portal; if it is not there, send the invoice again.", flux=flux_number,
                            error=self.env["res.company"]._chorus_error_message(refusal)))
                moves.filtered(lambda m: m.chorus_state == "integrated")._chorus_follow_statuses(client, company)
            except (chorus_exc.ChorusError, UserError) as error:
                # Chorus Pro down, slow or confused: nothing changes, the next run tries again.
                _logger.warning("Chorus Pro follow-up interrupted for company %s: %s", company.id,
                                error.__class__.__name__)
            self._chorus_commit()

    def _chorus_follow_flux(self, client, flux_number):
        """Follow a deposited flux as Chorus Pro reports it. An invoice is rejected only when the flux is
        rejected or Chorus Pro names an error for it; integrated but not listed yet, it waits."""
        report = client.get_flux_report(flux_number)
        state = report.state if report.state in dict(FLUX_STATES) else False
        if state != self[:1].chorus_flux_state:
            self.write({"chorus_flux_state": state})
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
            move.write({"chorus_state": "rejected", "chorus_error": message})
            move.message_post(body=message)
            move._chorus_schedule_activity(_("Chorus Pro rejected the invoice"), message)

    def _chorus_tell_if_long(self, note):
        """A deposit Chorus Pro has not finished with after a day is given to a user, once."""
        late = self.filtered(lambda m: m.chorus_sent_date
                             and m.chorus_sent_date < fields.Datetime.now() - WAIT_BEFORE_TELLING)
        late._chorus_tell_once(_("Chorus Pro: flux not processed yet"), note)


    def _chorus_follow_statuses(self, client, company):
        """The statuses of these integrated invoices, asking Chorus Pro only for the invoices whose status changed
        since the company's last complete run (every invoice on the first run): the cost follows what changed,
        not what was ever sent. The mark moves on only once the run is through."""
        if not self:
            return
        company = company.sudo()
        now = fields.Datetime.now()
        since = company.chorus_statuses_followed_until
        full = not since or not company.chorus_statuses_listed_on or \
            company.chorus_statuses_listed_on < now - FOLLOW_UP_FULL_EVERY
        listed = client.search_supplier_invoices(changed_since=None if full else since - FOLLOW_UP_OVERLAP)
        self._chorus_apply_statuses(client, {str(invoice.id): invoice for invoice in listed})
        times = [invoice.status_time for invoice in listed if invoice.status_time]
        # Chorus Pro's clock when it gives its times; ours only when it gives none.
        values = {"chorus_statuses_followed_until": max(times + [since] if since else times) if times else
                  (since or now)}
        if full:
            values["chorus_statuses_listed_on"] = now
        company.write(values)

    def _chorus_apply_statuses(self, client, current):
        """``current``: Chorus Pro's listed invoices by id; those whose status is not ours are read in full."""
        for move in self:
            invoice = current.get(move.chorus_invoice_id)
            if not invoice or invoice.status == move.chorus_invoice_status:
                continue
            history = client.get_invoice_history(invoice.id)
            latest = history.latest
            status = known_status(history.current_status)
            comment = (latest and latest.comment) or invoice.comment or False
            move.write({
                "chorus_invoice_status": status, "chorus_status_comment": comment,
                "chorus_status_date": (latest and latest.time) or invoice.status_time or fields.Datetime.now(),
            })
            body = _("Chorus Pro status: %(status)s.", status=move._chorus_status_label())
            if comment:
                body = _("Chorus Pro status: %(status)s (%(comment)s).", status=move._chorus_status_label(),
                         comment=comment)
            move.message_post(body=body)
            if status in ACTION_STATUSES:
                move._chorus_schedule_activity(_("Chorus Pro: invoice %(status)s", status=move._chorus_status_label()),
                                               body)

