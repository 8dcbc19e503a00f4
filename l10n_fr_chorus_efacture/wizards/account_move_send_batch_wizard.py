from odoo import Command, _, api, fields, models


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

    # Odoo adds these to the dependencies of its own compute (they accumulate along the inheritance).
    @api.depends("chorus_line_ids.service_code", "chorus_line_ids.engagement")
    def _compute_alerts(self):
        # Odoo's own compute, told the routing data being typed in the batch window (not yet written).
        for wizard in self:
            # By id: in the form (onchange), the lines' and the wizard's invoices are distinct new records.
            pending = {line.move_id._origin.id: line._pending() for line in wizard.chorus_line_ids}
            super(AccountMoveSendBatchWizard, wizard.with_context(chorus_pending=pending))._compute_alerts()

    def action_send_and_print(self, force_synchronous=False, allow_fallback_pdf=False):
        self.ensure_one()
        self.chorus_line_ids._apply()
        chorus_moves = self._chorus_moves()
        # Those the checks refuse are not sent: the report says why, the others go on.
        refusals = {move: "\n".join(errors) for move in chorus_moves if (errors := move._chorus_send_errors())}
        if self.alerts:
            self._raise_danger_alerts(self.alerts)
        # Made before sending (see the single send window); opened at once, it shows the invoices waiting for the
        # background job, and opened later from an invoice, how each one ended.
        reports = self.env["chorus.send.report"]._chorus_create(chorus_moves, refusals) if chorus_moves else None
        result = super().action_send_and_print(force_synchronous=force_synchronous,
                                               allow_fallback_pdf=allow_fallback_pdf)
        if not force_synchronous:
            # Not Odoo's background sending: Chorus Pro's own queue, which worker lanes send in chunks, in
            # parallel, each chunk as one flux per company ("Send to Chorus Pro": whatever each customer's method).
            chorus_moves.sending_data = False
            chorus_moves.filtered(lambda m: m not in refusals)._chorus_queue()
            # The refused ones are not queued: the report and their chatter say why; corrected, they are sent again.
            for move, reason in refusals.items():
                move.message_post(body=_("Not sent to Chorus Pro:\n%(reasons)s", reasons=reason))
        if not reports or force_synchronous:
            return result
        return reports._chorus_action()
