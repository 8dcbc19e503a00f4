from odoo import api, fields, models

from ..tools.statuses import selection_labels


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
        """One write for all (no call to Chorus Pro: the structures are looked up in the background), however
        many partners; individuals are left out, customers without a valid SIRET are set and flagged."""
        self.ensure_one()
        _ = self.env._
        chorus = self.invoice_sending_method == "chorus_pro"
        partners = self.partner_ids.filtered("is_company") if chorus else self.partner_ids
        individuals = self.partner_ids - partners
        partners.write({"invoice_sending_method": self.invoice_sending_method})
        method = selection_labels(self, "invoice_sending_method")[self.invoice_sending_method]
        lines = [_("%(count)s partner(s) now use %(method)s.", count=len(partners), method=method)]
        flagged = partners.filtered(lambda p: chorus and p.chorus_structure_state == "error")
        if chorus and partners - flagged:
            lines.append(_("Their Chorus Pro structures are looked up in the background: see each customer's "
                           "Chorus Pro check."))
        if flagged:
            lines.append(_("To fix before sending them an invoice:"))
            lines += ["%s: %s" % (p.display_name, p.chorus_structure_error) for p in flagged]
        if individuals:
            lines.append(_("Left out (Chorus Pro is for companies):"))
            lines += ["%s: %s" % (p.display_name, _("an individual, not a company")) for p in individuals]
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Invoice sending method"),
                "message": "\n".join(lines),
                "type": "warning" if flagged or individuals else "success",
                "sticky": bool(flagged or individuals),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
