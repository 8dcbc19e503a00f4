from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..chorus import exceptions as chorus_exc
from ..tools.statuses import known_status
from ..models.chorus_partner_service import RESERVED_SERVICE_CODE


class ChorusInvoiceUpdateWizard(models.TransientModel):
    """Answer Chorus Pro about an invoice already deposited: complete a SUSPENDUE one with supporting
    documents (completer), or change the routing data of an A_RECYCLER one (recycler)."""

    _name = "chorus.invoice.update.wizard"
    _description = "Complete or recycle an invoice in Chorus Pro"

    move_id = fields.Many2one("account.move", required=True, readonly=True, ondelete="cascade")
    mode = fields.Selection([("complete", "Complete"), ("recycle", "Recycle")], required=True, readonly=True)
    partner_id = fields.Many2one(related="move_id.commercial_partner_id")
    status_comment = fields.Char(related="move_id.chorus_status_comment", string="Chorus Pro's comment")
    comment = fields.Text(help="Sent to Chorus Pro with the supporting documents.")
    attachment_ids = fields.Many2many(
        "ir.attachment", "chorus_invoice_update_wizard_attachment_rel", "wizard_id", "attachment_id",
        string="Supporting documents", help="PDF, CSV or XML, 5 MB each at most, names of 50 characters at most.")
    service_id = fields.Many2one(
        "chorus.partner.service", string="Service exécutant",
        domain="[('partner_id', '=', partner_id), ('is_active', '=', True), ('code', '!=', '%s')]"
               % RESERVED_SERVICE_CODE)
    engagement = fields.Char(string="Engagement juridique")
    attachment_type_id = fields.Many2one(
        "chorus.attachment.type", string="Type of the documents",
        help="The type Chorus Pro records for the documents added (its own list).")

    @api.model
    def _open(self, move, mode):
        attachment_type = self.env["chorus.attachment.type"]
        if mode == "complete":
            # completer needs a document type from Chorus Pro's own list: read it now, not in the form.
            try:
                attachment_type._chorus_refresh(move.company_id._chorus_get_client())
            except chorus_exc.ChorusError as error:
                if not attachment_type.search_count([]):
                    raise UserError(self.env["res.company"]._chorus_error_message(error)) from None
        return {
            "type": "ir.actions.act_window",
            "name": _("Complete the invoice in Chorus Pro") if mode == "complete"
            else _("Recycle the invoice in Chorus Pro"),
            "res_model": self._name,
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_move_id": move.id, "default_mode": mode,
                "default_service_id": move.commercial_partner_id.chorus_service_ids.filtered(
                    lambda s: s.code == move.buyer_reference)[:1].id,
                "default_engagement": move.purchase_order_reference,
                "default_attachment_type_id": attachment_type._chorus_default().id,
            },
        }

    def _check(self):
        self.ensure_one()
        move = self.move_id
        expected = "SUSPENDUE" if self.mode == "complete" else "A_RECYCLER"
        if move.chorus_invoice_status != expected or not move.chorus_invoice_id:
            raise UserError(_("%(move)s is not %(status)s in Chorus Pro (refresh its status first).",
                              move=move.display_name,
                              status=move._chorus_status_label(expected)))
        errors = []
        if self.mode == "complete":
            if not self.attachment_ids:
                errors.append(_("Supporting documents: add at least one document asked for by the customer."))
            if not self.attachment_type_id:
                errors.append(_("Type of the documents: choose one of Chorus Pro's types."))
            errors += [self.env._("Attachment %(error)s", error=error) for error in
                       (move._chorus_check_attachment(a) for a in self.attachment_ids) if error]
        else:
            engagement = (self.engagement or "").strip()
            if not self.service_id and not engagement:
                errors.append(_("Service exécutant or engagement: give the corrected routing data."))
            # The new routing data must pass the checks of a first sending.
            errors += move._chorus_send_errors(pending={"buyer_reference": self.service_id.code or False,
                                                        "purchase_order_reference": engagement})
        if errors:
            raise UserError("\n".join(errors))

    def action_confirm(self):
        self.ensure_one()
        self._check()
        move = self.move_id
        client = move.company_id._chorus_get_client()
        invoice_id = int(move.chorus_invoice_id)
        try:
            if self.mode == "complete":
                reply = client.complete_invoice(invoice_id, comment=self.comment, attachments=[
                    (a.name, a.raw, a.mimetype or "application/octet-stream", self.attachment_type_id.code)
                    for a in self.attachment_ids])
            else:
                # Recycling keeps the customer (its SIRET): another customer is a credit note and a new invoice.
                reply = client.recycle_invoice(invoice_id, move.commercial_partner_id.siret,
                                               service_code=self.service_id.code or None,
                                               engagement=(self.engagement or "").strip() or None,
                                               comment=self.comment)
        except chorus_exc.ChorusError as error:
            # Chorus Pro refused or could not be reached: nothing changes on the invoice.
            raise UserError(self.env["res.company"]._chorus_error_message(error)) from None
        status = "COMPLETEE" if self.mode == "complete" else "MISE_A_DISPOSITION"
        values = {"chorus_invoice_status": known_status(reply.status) or status,
                  "chorus_status_date": fields.Datetime.now(), "chorus_status_comment": False}
        if self.mode == "complete":
            self.attachment_ids.write({"res_model": "account.move", "res_id": move.id})
            values["chorus_attachment_ids"] = [fields.Command.link(a.id) for a in self.attachment_ids]
            body = _("Completed in Chorus Pro with %(documents)s.",
                     documents=", ".join(self.attachment_ids.mapped("name")))
        else:
            # The invoice keeps the routing data Chorus Pro now has.
            values.update(buyer_reference=self.service_id.code or move.buyer_reference,
                          purchase_order_reference=(self.engagement or "").strip() or move.purchase_order_reference)
            body = _("Recycled in Chorus Pro: service %(service)s, engagement %(engagement)s.",
                     service=values["buyer_reference"] or "-", engagement=values["purchase_order_reference"] or "-")
        if self.comment:
            body = "%s %s" % (body, _("Comment: %(comment)s", comment=self.comment))
        # What Chorus Pro now has, recorded by the module (the invoice is definitive: only in sudo, and said so).
        move.sudo().with_context(chorus_allow_write=True).write(values)
        move.message_post(body=body)
        # The activities Chorus Pro's status created are answered ("Chorus Pro" is a name: not translated).
        move.activity_ids.filtered(lambda a: "Chorus Pro" in (a.summary or "")).action_feedback(feedback=body)
        return {"type": "ir.actions.act_window_close"}
