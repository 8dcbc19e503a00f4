from odoo import _, api, fields, models
from odoo.exceptions import AccessError

RECEIVED_INVOICE = "chorus.inbound.invoice"
# What a user may change on a document of a received invoice: how it is called, not what it is.
RENAMABLE = {"name", "description"}


class IrAttachment(models.Model):
    _inherit = "ir.attachment"

    chorus_downloaded = fields.Boolean(
        readonly=True, copy=False, help="Downloaded from Chorus Pro by the module: a new download of the received "
                                        "invoice's documents replaces it (the files users add stay).")

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su and any(vals.get("chorus_downloaded") for vals in vals_list):
            raise AccessError(_("Only the Chorus Pro module marks the files it downloaded."))
        return super().create(vals_list)

    def _chorus_received_documents(self):
        return self.sudo().filtered(lambda a: a.res_model == RECEIVED_INVOICE)

    def write(self, vals):
        # The documents Chorus Pro gave are evidence of the invoice: renamed at most, never replaced or moved.
        if not self.env.su and set(vals) - RENAMABLE and self._chorus_received_documents():
            raise AccessError(_("The documents of an invoice received through Chorus Pro come from Chorus Pro: only "
                                "their names can change."))
        return super().write(vals)

    def unlink(self):
        if not self.env.su and self._chorus_received_documents():
            raise AccessError(_("The documents of an invoice received through Chorus Pro come from Chorus Pro: they "
                                "cannot be deleted."))
        return super().unlink()
