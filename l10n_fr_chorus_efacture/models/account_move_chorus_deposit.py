from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..chorus import exceptions as chorus_exc
from ..tools.statuses import known_status
from ..tools.transaction import commit_if_allowed, try_lock_row

# How long a deposit may be under way: past it, "sending" means the worker stopped (the call has a
# time-out), and the invoice is looked up in Chorus Pro like a lost reply.
SENDING_MARGIN = timedelta(minutes=5)
# After this, an invoice still not found after a lost reply, or a flux still not done, is given to a user.
WAIT_BEFORE_TELLING = timedelta(hours=24)


class AccountMove(models.Model):
    _inherit = "account.move"

    # -------------------------------------------------------------- deposit
    def _chorus_lock_row(self):
        """Take the move's row lock, or tell the user someone else is sending it."""
        if not try_lock_row(self):
            raise UserError(_("%(move)s is being sent to Chorus Pro by another user right now.",
                              move=self.display_name))

    def _chorus_commit(self):
        commit_if_allowed(self.env)

    def _chorus_prepare_flux(self, pdf_content=None, facturx_xml=None):
        """Lock, check and build this invoice's flux: (content, file name, syntaxeFlux); ``facturx_xml``: the
        Factur-X XML Odoo built for its PDF in this send, reused.

        Raises UserError with the reason when the invoice cannot be deposited.
        """
        self.ensure_one()
        self._chorus_lock_row()
        self.invalidate_recordset(["chorus_state", "chorus_flux_number", "chorus_sent_date"])
        if self.chorus_state == "sending" and self._chorus_sending_stale():
            self._chorus_mark_interrupted()
        if self.chorus_state == "unknown":
            self._chorus_resolve_unknown(from_user=True)
        self._chorus_check_not_definitive()
        self._chorus_ensure_structure()
        errors = self._chorus_send_errors()
        if errors:
            raise UserError(_("%(move)s cannot be sent to Chorus Pro:\n%(errors)s", move=self.display_name,
                              errors="\n".join("- %s" % e for e in errors)))
        return self._chorus_build_flux(pdf_content, facturx_xml)

    def _chorus_ensure_structure(self):
        """The customer's Chorus Pro structure, looked up now when it never was: whatever the customer's usual
        sending method, what is deposited carries routing data checked against Chorus Pro."""
        partner = self.commercial_partner_id
        if partner._chorus_siret_error(partner.siret):
            return  # reported by the checks
        if partner._chorus_structure_known():
            return
        try:
            partner._chorus_refresh_structure(self.company_id)
        except chorus_exc.ChorusError as error:
            raise UserError(_("%(move)s cannot be sent to Chorus Pro: the structure of %(partner)s could not be "
                              "looked up (%(error)s).", move=self.display_name, partner=partner.display_name,
                              error=self.env["res.company"]._chorus_error_message(error))) from None

    def _chorus_locked_fresh(self, state):
        """Its row lock taken and its state read again: still ``state`` (no other worker moved it since)."""
        self.ensure_one()
        if not try_lock_row(self):
            return False
        self.invalidate_recordset(["chorus_state", "chorus_sent_date"])
        return self.chorus_state == state

    def _chorus_sending_stale(self):
        """A deposit marked "sending" longer than a call can last: the worker stopped half-way."""
        self.ensure_one()
        limit = timedelta(seconds=self.company_id.chorus_timeout or 30) + SENDING_MARGIN
        return not self.chorus_sent_date or self.chorus_sent_date < fields.Datetime.now() - limit

    def _chorus_mark_interrupted(self):
        """A deposit that stopped half-way may have reached Chorus Pro: treat it as a lost reply."""
        for move in self:
            move._chorus_record({"chorus_state": "unknown", "chorus_waiting_told": False,
                        "chorus_error": _("The sending stopped half-way (the worker stopped, or the reply never "
                                          "came): the invoice is looked up in Chorus Pro before anything is sent "
                                          "again.")})
            move.message_post(body=move.chorus_error)

    def _chorus_send(self, pdf_content=None):
        """Deposit this invoice in Chorus Pro, at most once. Raises UserError with the reason when not sent."""
        self.ensure_one()
        failures, reply = self._chorus_send_many({self: pdf_content})
        if failures:
            raise UserError(failures[self])
        return reply

    @api.model
    def _chorus_send_many(self, pdf_by_move, authors=None, xml_by_move=None):
        """Deposit invoices in Chorus Pro, at most once each: one invoice as its own flux, several of a
        company as one archive flux. Each invoice is checked first; one that fails is left out.

        :param pdf_by_move: {move: its rendered PDF or None}
        :param authors: {move: partner id} who sent it, for the chatter (the worker's user otherwise)
        :param xml_by_move: {move: the Factur-X XML Odoo built for its PDF in this send}, reused for the flux
        :return: ({move: why it was not sent}, the reply of the last deposit)
        """
        failures = {}
        reply = None
        moves = self.env["account.move"].concat(*pdf_by_move)
        for company, company_moves in moves.grouped("company_id").items():
            try:
                client = company._chorus_get_client()
            except UserError as error:
                failures.update(dict.fromkeys(company_moves, error.args[0]))
                continue
            files = company_moves._chorus_prepare_files(pdf_by_move, failures, xml_by_move or {})
            if files:
                reply = self._chorus_deposit_files(company, client, files, failures, authors or {}) or reply
        return failures, reply

    def _chorus_prepare_files(self, pdf_by_move, failures, xml_by_move):
        """{move: (content, file name, syntaxeFlux)} of these invoices; those that cannot be sent go to
        ``failures`` with the reason."""
        files = {}
        for move in self:
            try:
                with self.env.cr.savepoint():
                    try:
                        files[move] = move._chorus_prepare_flux(pdf_by_move.get(move), xml_by_move.get(move))
                    except UserError as error:
                        # A reason for the user: what was learnt from Chorus Pro on the way (found there after
                        # a lost reply, its structure) is kept.
                        failures[move] = error.args[0]
            except Exception as error:  # noqa: BLE001 - one invoice's failure (whatever it is) leaves the others
                failures[move] = self.env["res.company"]._chorus_failure_reason(error)
        return files

    @api.model
    def _chorus_deposit_files(self, company, client, files, failures, authors):
        """Deposit the prepared files of a company's invoices as one flux (an archive when several); returns the
        reply, or None when it failed (the reason in ``failures``)."""
        ready = self.env["account.move"].concat(*files)
        if len(ready) == 1:
            content, filename, syntax = files[ready]
        else:
            content, filename = company._chorus_make_archive([files[move][:2] for move in ready])
            syntax = files[ready[0]][2]
        # Mark and commit before the call: a double click, a second user or a retry sees "sending".
        ready._chorus_record({
            "chorus_state": "sending", "chorus_sent_date": fields.Datetime.now(), "chorus_error": False,
            "chorus_flux_number": False, "chorus_invoice_id": False, "chorus_invoice_status": False,
            "chorus_flux_syntax": syntax, "chorus_flux_state": False, "chorus_waiting_told": False,
            "chorus_send_request": False,
        })
        self._chorus_commit()
        try:
            reply = client.deposit_flux(content, filename, syntax)
        except chorus_exc.ChorusOutcomeUnknownError as error:
            message = self.env["res.company"]._chorus_error_message(error)
            ready._chorus_record({"chorus_state": "unknown", "chorus_error": message})
            for move in ready:
                move.message_post(author_id=authors.get(move), body=_(
                    "The reply of Chorus Pro to the deposit was lost: the invoice will be looked up in Chorus Pro "
                    "before anything is sent again."))
            failures.update(dict.fromkeys(ready, message))
            self._chorus_commit()
            return None
        except chorus_exc.ChorusError as error:
            # Nothing reached Chorus Pro: the invoices can be sent again.
            message = self.env["res.company"]._chorus_error_message(error)
            ready._chorus_record({"chorus_state": "error", "chorus_error": message, "chorus_sent_date": False})
            failures.update(dict.fromkeys(ready, message))
            self._chorus_commit()
            return None
        ready._chorus_record_deposit(reply.flux_number, files, filename, syntax, authors)
        self._chorus_commit()
        return reply

    def _chorus_record_deposit(self, flux_number, files, filename, syntax, authors):
        """These invoices are in the flux ``flux_number``: each keeps its own file, even when it travelled in an
        archive, linked to the invoice (not to a message: Odoo would try to import it again)."""
        for move in self:
            move_content, move_filename, _syntax = files[move]
            attachment = self.env["ir.attachment"].create({
                "name": move_filename, "raw": move_content, "res_model": "account.move", "res_id": move.id,
                "mimetype": "application/pdf" if move_filename.endswith(".pdf") else "application/xml",
            })
            move._chorus_record({"chorus_state": "deposited", "chorus_flux_number": flux_number,
                        "chorus_flux_attachment_id": attachment.id})
            if len(self) == 1:
                body = _("Sent to Chorus Pro: flux %(flux)s (%(syntax)s, file %(file)s).",
                         flux=flux_number, syntax=syntax, file=filename)
            else:
                body = _("Sent to Chorus Pro with %(count)s other invoices in the archive flux %(flux)s "
                         "(%(syntax)s, file %(file)s).",
                         count=len(self) - 1, flux=flux_number, syntax=syntax, file=filename)
            move.message_post(body=body, author_id=authors.get(move))

    def _chorus_resolve_unknown(self, from_user=False):
        """After a lost reply, look the invoice up in Chorus Pro; True when found (then integrated).

        Not found, it stays "unknown": Chorus Pro may still be processing the flux. Only Chorus Pro listing
        it, or a user confirming that Chorus Pro does not have it (action_chorus_not_in_chorus), lets it
        out. ``from_user``: a user is sending it again now, and is told why not.
        """
        self.ensure_one()
        client = self.company_id._chorus_get_client()
        try:
            found = client.search_supplier_invoices(invoice_number=self.name)
        except chorus_exc.ChorusError as error:
            if not from_user:
                raise  # the follow-up tells an outage from this invoice's own failure
            raise UserError(_("%(move)s may already be in Chorus Pro (its last deposit got no reply), and Chorus "
                              "Pro cannot be asked right now: %(error)s", move=self.display_name,
                              error=self.env["res.company"]._chorus_error_message(error))) from None
        found = [i for i in found if i.status != "REJETEE"]
        if found:
            self._chorus_link_found(found[0], _("Found in Chorus Pro after a lost reply: it was deposited (flux "
                                                "%(flux)s); it is not sent again."))
            return True
        if from_user:
            raise UserError(_("%(move)s may already be in Chorus Pro: its last deposit got no reply and Chorus Pro "
                              "does not list it yet. It is looked up every hour. If Chorus Pro does not have it "
                              "(check the flux list in the Chorus Pro portal), use \"Not in Chorus Pro\" on the "
                              "invoice, then send it again.", move=self.display_name))
        if self.chorus_sent_date and self.chorus_sent_date < fields.Datetime.now() - WAIT_BEFORE_TELLING:
            self._chorus_tell_once(_("Chorus Pro: invoice not found after a lost reply"), _(
                "Chorus Pro still does not list %(move)s, whose deposit got no reply. Check the flux list in the "
                "Chorus Pro portal: if Chorus Pro does not have it, use \"Not in Chorus Pro\" on the invoice and "
                "send it again.", move=self.display_name))
        return False

    def _chorus_link_found(self, invoice, message):
        """Chorus Pro has this invoice (a SupplierInvoice): the move follows it."""
        self._chorus_record({
            "chorus_state": "integrated", "chorus_invoice_id": str(invoice.id),
            "chorus_flux_number": invoice.flux_number or self.chorus_flux_number,
            "chorus_invoice_status": known_status(invoice.status), "chorus_error": False,
            "chorus_status_date": invoice.status_time or fields.Datetime.now(),
            "chorus_status_comment": invoice.comment or False, "chorus_waiting_told": False,
        })
        self.message_post(body=message % {"flux": self.chorus_flux_number or "-"})
