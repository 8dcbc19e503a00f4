from odoo import fields, models

RESERVED_SERVICE_CODE = "FACTURES_PUBLIQUES"


class ChorusPartnerService(models.Model):
    """A service (service exécutant) of a public buyer's Chorus Pro structure, as last read."""

    _name = "chorus.partner.service"
    _description = "Chorus Pro service of a public buyer"
    _order = "code"
    _rec_names_search = ["code", "name"]

    partner_id = fields.Many2one("res.partner", required=True, ondelete="cascade", index=True)
    chorus_service_id = fields.Integer(string="Chorus Service ID", required=True)
    code = fields.Char(string="Service Code", required=True)
    name = fields.Char(string="Service")
    is_active = fields.Boolean(string="Active in Chorus Pro", default=True)
    engagement_required = fields.Boolean(string="Engagement Required")

    _sql_constraints = [
        ("partner_service_uniq", "unique(partner_id, chorus_service_id)",
         "A Chorus Pro service is listed once per partner."),
    ]

    def _compute_display_name(self):
        for service in self:
            service.display_name = "%s - %s" % (service.code, service.name) if service.name else service.code
