from odoo import models


class AccountMoveSendBatchWizard(models.TransientModel):
    _inherit = "account.move.send.batch.wizard"

    def action_send_and_print(self, force_synchronous=False, allow_fallback_pdf=False):
        result = super().action_send_and_print(force_synchronous=force_synchronous,
                                               allow_fallback_pdf=allow_fallback_pdf)
        if self.env.context.get("chorus_send") and not force_synchronous:
            # "Send to Chorus Pro" on several invoices: the background job must deposit them, not use each
            # customer's own method (account.move.send._get_default_sending_method reads this).
            for move in self.move_ids.filtered(lambda m: self._is_applicable_to_move("chorus_pro", m)):
                move.sending_data = dict(move.sending_data or {}, chorus_pro=True)
        return result
