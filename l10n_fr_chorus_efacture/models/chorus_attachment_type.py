from odoo import api, fields, models


class ChorusAttachmentType(models.Model):
    """A type of supporting document, as Chorus Pro lists them (transverses/v1/recuperer/typespj).

    completer needs one for each document; no source publishes the codes, so they are read from
    Chorus Pro itself, when a user completes an invoice.
    """

    _name = "chorus.attachment.type"
    _description = "Type of a supporting document in Chorus Pro"
    _order = "sequence, id"

    code = fields.Char(required=True, readonly=True)
    name = fields.Char(string="Type", required=True, readonly=True)
    sequence = fields.Integer(default=10, readonly=True)
    active = fields.Boolean(default=True, readonly=True)

    _sql_constraints = [("code_uniq", "unique(code)", "A Chorus Pro document type is listed once.")]

    @api.model
    def _chorus_refresh(self, client):
        """Make the list the one Chorus Pro gives (kept when Chorus Pro gives none)."""
        types = client.get_attachment_types()
        if not types:
            return self.search([])
        known = {t.code: t for t in self.sudo().with_context(active_test=False).search([])}
        for sequence, chorus_type in enumerate(types, 1):
            values = {"name": chorus_type.label or chorus_type.code, "sequence": sequence, "active": True}
            if chorus_type.code in known:
                known.pop(chorus_type.code).write(values)
            else:
                self.sudo().create(dict(values, code=chorus_type.code))
        self.browse([t.id for t in known.values()]).sudo().write({"active": False})
        return self.search([])

    @api.model
    def _chorus_default(self):
        """The type proposed for a document: a supporting document ("pièce justificative") when listed."""
        types = self.search([])
        return types.filtered(lambda t: "JUSTIF" in (t.code or "").upper())[:1] or types[:1]
