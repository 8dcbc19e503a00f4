import logging
import math

from odoo import _, api, fields, models

from ..tools.transaction import advisory_locks, lock_key, run_isolated

_logger = logging.getLogger(__name__)

SEND_CHUNK_PARAM = "l10n_fr_chorus_efacture.send_chunk"
# Invoices sent in one unit of work: rendered (about a second each with wkhtmltopdf) and deposited as one flux per
# company, then committed. Small enough to stay far from a cron's time limit, large enough for few flux.
SEND_CHUNK_DEFAULT = 20


class AccountMove(models.Model):
    _inherit = "account.move"

    chorus_send_request = fields.Json(
        string="Queued for Chorus Pro", copy=False, readonly=True,
        help="Sent to Chorus Pro from the batch window: waits for a worker lane, which takes it with others in a "
             "chunk (who asked for it, and when).")

    @api.model
    def _chorus_send_chunk_size(self):
        value = self.env["ir.config_parameter"].sudo().get_param(SEND_CHUNK_PARAM)
        try:
            return max(int(value), 1) if value else SEND_CHUNK_DEFAULT
        except ValueError:
            return SEND_CHUNK_DEFAULT

    def _chorus_queue(self):
        """Queue these invoices for Chorus Pro (the batch window): worker lanes send them in chunks, in parallel,
        each invoice once."""
        if not self:
            return
        self._chorus_record({"chorus_send_request": {
            "author_user_id": self.env.user.id, "author_partner_id": self.env.user.partner_id.id,
            "queued": fields.Datetime.to_string(fields.Datetime.now())}})
        self.env["chorus.worker"]._chorus_wake_lanes(math.ceil(len(self) / self._chorus_send_chunk_size()))

    @api.model
    def _chorus_send_chunk(self):
        """Send one chunk of the queued invoices, those no other worker holds: True when there was one.

        Each invoice is held by an advisory lock while its worker renders and deposits it; once the locks are
        taken, a new transaction reads the queue again, so that an invoice another worker finished before
        releasing it is not sent twice (the deposit's own checks refuse it anyway).
        """
        size = self._chorus_send_chunk_size()
        for _attempt in range(3):
            candidates = self.sudo().search([("chorus_send_request", "!=", False)], order="id", limit=size * 5)
            if not candidates:
                return False
            with advisory_locks(self.env, {move.id: lock_key("send", move.id) for move in candidates}, size) as taken:
                self._chorus_commit()  # a new snapshot: what other workers committed before releasing their locks
                chunk = self.sudo().browse(taken)
                chunk.invalidate_recordset()
                chunk = chunk.filtered("chorus_send_request")
                for _author, moves in chunk.grouped(lambda m: m.chorus_send_request.get("author_user_id")).items():
                    run_isolated(self.env, moves._chorus_send_queued, moves._chorus_send_failed)
            if chunk:
                return True
            # Taken by other workers, or sent by them meanwhile: look at the queue again.
        return False

    def _chorus_send_queued(self):
        """Send these queued invoices (one author's) through Odoo's own sending, on the Chorus Pro method. Those
        that can no longer go (reset to draft, sent since by other means) are taken off the queue and said so.
        What is written (chatter, errors) is in the author's language, not the worker's."""
        request = self[:1].chorus_send_request or {}
        author = self.env["res.users"].browse(request.get("author_user_id")).exists() or self.env.user
        self = self.with_context(lang=author.lang or self.env.lang)
        Send = self.env["account.move.send"]
        gone = self.filtered(lambda move: not Send._is_applicable_to_move("chorus_pro", move))
        if gone:
            gone._chorus_not_sent(_("it is no longer a posted invoice waiting for Chorus Pro."))
        moves = self - gone
        if not moves:
            return
        Send._generate_and_send_invoices(
            moves, allow_raising=False, sending_methods={"chorus_pro"}, author_user_id=author.id,
            author_partner_id=request.get("author_partner_id") or author.partner_id.id)
        # Those Odoo could not make a PDF or an e-invoice for: the reason is in their chatter (and their report).
        moves.filtered("chorus_send_request")._chorus_record({"chorus_send_request": False})

    def _chorus_send_failed(self, error):
        """Sending these failed for a reason of Odoo's (a bug, a database error): those that did not reach Chorus
        Pro are not queued any more, said on each invoice and in its sending report."""
        self.invalidate_recordset()
        unsent = self.filtered(lambda move: move.chorus_state not in ("sending", "unknown", "deposited", "integrated"))
        unsent._chorus_not_sent(self.env["res.company"]._chorus_failure_reason(error))

    def _chorus_not_sent(self, reason):
        message = _("Not sent to Chorus Pro: %(reason)s Send it again once this is fixed.", reason=reason)
        self._chorus_record({"chorus_send_request": False})
        self.env["chorus.send.report.line"]._chorus_record_refusals(dict.fromkeys(self, message))
        for move in self:
            move.message_post(body=message)
