from odoo import api, fields, models


class ChorusPartnerSendingWizard(models.TransientModel):
    _name = "chorus.partner.sending.wizard"
    _description = "Set the invoice sending method of several partners"

    partner_ids = fields.Many2many("res.partner", string="Partners", required=True,
                                   default=lambda self: self._default_partner_ids())
    invoice_sending_method = fields.Selection(
        selection=lambda self: self.env["res.partner"]._fields["invoice_sending_method"].selection,
        string="Invoice sending", required=True)

    @api.model
    def _default_partner_ids(self):
        if self.env.context.get("active_model") == "res.partner":
            return [(6, 0, self.env.context.get("active_ids") or [])]
        return []

    def action_apply(self):
        self.ensure_one()
        updated = self.env["res.partner"]
        skipped = []
        for partner in self.partner_ids:
            reason = False
            if self.invoice_sending_method == "chorus_pro":
                if not partner.is_company:
                    reason = self.env._("an individual, not a company")
                else:
                    reason = partner._chorus_siret_error(partner.siret)
            if reason:
                skipped.append("%s: %s" % (partner.display_name, reason))
                continue
            partner.invoice_sending_method = self.invoice_sending_method
            updated |= partner
        method = dict(self._fields["invoice_sending_method"]._description_selection(self.env))[
            self.invoice_sending_method]
        message = self.env._("%(count)s partner(s) now use %(method)s.", count=len(updated), method=method)
        if skipped:
            message += "\n" + self.env._("Skipped:") + "\n" + "\n".join(skipped)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Invoice sending method"),
                "message": message,
                "type": "warning" if skipped else "success",
                "sticky": bool(skipped),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
