from odoo import Command, api, fields, models


class AccountMoveSendBatchWizard(models.TransientModel):
    _inherit = "account.move.send.batch.wizard"

    chorus_line_ids = fields.One2many(
        "account.move.send.batch.chorus.line", "wizard_id", string="Sent to Chorus Pro",
        compute="_compute_chorus_line_ids", store=True, readonly=False)

    def _chorus_moves(self):
        self.ensure_one()
        return self.move_ids.filtered(lambda m: self._get_default_sending_method(m) == "chorus_pro")

    @api.depends("move_ids")
    def _compute_chorus_line_ids(self):
        for wizard in self:
            wizard.chorus_line_ids = [Command.clear()] + [
                Command.create({"move_id": move.id, "service_code": move.buyer_reference,
                                "engagement": move.purchase_order_reference})
                for move in wizard._chorus_moves()]

    @api.depends("summary_data", "chorus_line_ids.service_code", "chorus_line_ids.engagement")
    def _compute_alerts(self):
        # As account's own compute, with the routing data being typed in the batch window (not yet written).
        for wizard in self:
            pending = {line.move_id: line._pending() for line in wizard.chorus_line_ids}
            moves_data = {
                move: {
                    "sending_methods": {self._get_default_sending_method(move)},
                    "invoice_edi_format": self._get_default_invoice_edi_format(move),
                    "extra_edis": self._get_default_extra_edis(move),
                    "chorus_pending": pending.get(move, {}),
                }
                for move in wizard.move_ids
            }
            wizard.alerts = self._get_alerts(wizard.move_ids, moves_data)

    def action_send_and_print(self, force_synchronous=False, allow_fallback_pdf=False):
        self.ensure_one()
        self.chorus_line_ids._apply()
        chorus_moves = self._chorus_moves()
        # Those the checks refuse are not sent: the report says why, the others go on.
        refusals = {move: "\n".join(errors) for move in chorus_moves if (errors := move._chorus_send_errors())}
        result = super().action_send_and_print(force_synchronous=force_synchronous,
                                               allow_fallback_pdf=allow_fallback_pdf)
        if self.env.context.get("chorus_send") and not force_synchronous:
            # "Send to Chorus Pro" on several invoices: the background job must deposit them, not use each
            # customer's own method (account.move.send._get_default_sending_method reads this).
            for move in self.move_ids.filtered(lambda m: self._is_applicable_to_move("chorus_pro", m)):
                move.sending_data = dict(move.sending_data or {}, chorus_pro=True)
        if not chorus_moves:
            return result
        # The report opens at once: the invoices waiting for the background job show it, and the same report,
        # opened later from an invoice, tells how each one ended.
        return self.env["chorus.send.report"]._chorus_create(chorus_moves, refusals)._chorus_action()
