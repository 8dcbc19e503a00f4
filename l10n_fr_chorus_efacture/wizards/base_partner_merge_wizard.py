from odoo import models


class MergePartnerAutomatic(models.TransientModel):
    """Merging contacts: the destination keeps the Chorus Pro structure the module read for its own SIRET. A
    source's reading (its structure fields, its services) is of another record; a SIRET the destination takes from a
    source is looked up again, as any new SIRET."""

    _inherit = "base.partner.merge.automatic.wizard"

    def _update_foreign_keys(self, src_partners, dst_partner, *args, **kwargs):
        own_services = dst_partner.sudo().chorus_service_ids
        result = super()._update_foreign_keys(src_partners, dst_partner, *args, **kwargs)
        # Odoo moved the sources' services onto the destination (in SQL): only wizards point at services.
        dst_partner.invalidate_recordset(["chorus_service_ids"])
        (dst_partner.sudo().chorus_service_ids - own_services).unlink()
        return result

    def _update_values(self, src_partners, dst_partner, *args, **kwargs):
        return super()._update_values(src_partners, dst_partner.with_context(chorus_keep_structure=True),
                                      *args, **kwargs)
