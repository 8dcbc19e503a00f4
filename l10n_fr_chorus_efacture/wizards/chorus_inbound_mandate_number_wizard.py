from odoo import _, fields, models
from odoo.exceptions import UserError

from ..models.chorus_inbound_invoice import MANDATED


class ChorusInboundMandateNumberWizard(models.TransientModel):
    """A MANDATEE Chorus Pro refused (a mandate number it does not accept): corrected, then sent again."""

    _name = "chorus.inbound.mandate.number.wizard"
    _description = "Correct a mandate Chorus Pro refused"

    inbound_id = fields.Many2one("chorus.inbound.invoice", string="Invoice", required=True, readonly=True)
    refusal = fields.Text(related="inbound_id.sync_error", string="Chorus Pro's Reason")
    mandate_number = fields.Char(string="Mandate Number", required=True,
                                 help="The number of the mandate in your financial system (numeroDPMandat).")

    def action_confirm(self):
        self.ensure_one()
        invoice = self.inbound_id
        invoice.check_access("write")
        if invoice.sync_state != "error" or invoice.sync_status != MANDATED:
            raise UserError(_("Only a mandate Chorus Pro refused can be corrected here."))
        invoice._chorus_give_mandate_number(self.mandate_number)
        number = invoice.mandate_number
        invoice._chorus_push_statuses()
        if invoice.sync_state != "done":
            # Accepted, the push's own message says the number: one message per step.
            invoice.message_post(body=_("Mandate number corrected to %(number)s by %(user)s; Chorus Pro has not "
                                        "taken it yet.", number=number, user=self.env.user.name))
        return True
