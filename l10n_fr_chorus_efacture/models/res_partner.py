import logging

from stdnum.fr import siret as stdnum_siret

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..chorus import exceptions as chorus_exc
from .chorus_partner_service import RESERVED_SERVICE_CODE

_logger = logging.getLogger(__name__)


class ResPartner(models.Model):
    _inherit = "res.partner"

    invoice_sending_method = fields.Selection(
        selection_add=[("chorus_pro", "Chorus Pro")], ondelete={"chorus_pro": "set null"})
    chorus_structure_id = fields.Integer(string="Chorus Structure ID", copy=False,
                                         help="idStructureCPP of the public buyer in Chorus Pro")
    chorus_structure_name = fields.Char(string="Chorus Structure", copy=False)
    chorus_service_required = fields.Boolean(string="Service Code Required", copy=False)
    chorus_engagement_required = fields.Boolean(string="Engagement Required", copy=False)
    chorus_service_or_engagement = fields.Boolean(string="Service Code or Engagement Required", copy=False)
    chorus_structure_checked = fields.Datetime(string="Chorus Structure Checked On", copy=False)
    chorus_service_ids = fields.One2many("chorus.partner.service", "partner_id", string="Chorus Services",
                                         copy=False)

    @api.constrains("invoice_sending_method", "is_company")
    def _check_chorus_pro_company(self):
        for partner in self:
            if partner.invoice_sending_method == "chorus_pro" and not partner.is_company:
                raise ValidationError(_(
                    "%(partner)s is an individual: Chorus Pro is for invoices to public bodies, which are "
                    "companies. Choose another invoice sending method, or mark the contact as a company.",
                    partner=partner.display_name))

    @api.model
    def _chorus_siret_error(self, siret):
        """Why this SIRET cannot be used with Chorus Pro, or False."""
        if not siret:
            return _("The SIRET is missing: enter the customer's 14-digit SIRET.")
        compact = stdnum_siret.compact(siret)
        if not compact.isdigit() or len(compact) != 14:
            return _("The SIRET %(siret)s must have 14 digits.", siret=siret)
        if not stdnum_siret.is_valid(compact):
            return _("The SIRET %(siret)s is not valid (its check digit is wrong): check it against the "
                     "customer's Kbis or the public directory.", siret=siret)
        return False

    def write(self, vals):
        # Only a real change (Chorus Pro newly chosen, or another SIRET) triggers a new check and lookup.
        changed = self.browse()
        if "invoice_sending_method" in vals or "siret" in vals:
            changed = self.filtered(lambda p: (
                (vals.get("invoice_sending_method", p.invoice_sending_method) == "chorus_pro")
                and (p.invoice_sending_method != "chorus_pro" or ("siret" in vals and vals["siret"] != p.siret))))
        res = super().write(vals)
        changed._chorus_on_method_set()
        return res

    @api.model_create_multi
    def create(self, vals_list):
        partners = super().create(vals_list)
        partners.filtered(lambda p: p.invoice_sending_method == "chorus_pro")._chorus_on_method_set()
        return partners

    def _chorus_on_method_set(self):
        """Check the SIRET and look the structure up; a Chorus Pro outage does not block the change."""
        for partner in self:
            error = self._chorus_siret_error(partner.siret)
            if error:
                raise ValidationError(_("%(partner)s cannot use Chorus Pro: %(error)s",
                                        partner=partner.display_name, error=error))
            company = self.env.company
            if company._chorus_missing_settings():
                continue
            try:
                partner._chorus_refresh_structure(company)
            except (chorus_exc.ChorusError, UserError) as error:
                message = error.args[0] if isinstance(error, UserError) else \
                    self.env["res.company"]._chorus_error_message(error)
                partner.message_post(body=_("The Chorus Pro structure could not be looked up: %(error)s "
                                            "Use 'Refresh from Chorus Pro' later.", error=message))

    def _chorus_refresh_structure(self, company=None):
        """Read the partner's structure, its flags and its services from Chorus Pro."""
        self.ensure_one()
        company = company or self.env.company
        client = company._chorus_get_client()
        siret = stdnum_siret.compact(self.siret or "")
        structures = client.search_structures(siret)
        if not structures:
            raise UserError(_(
                "No Chorus Pro structure has the SIRET %(siret)s: check the SIRET of %(partner)s, or ask the "
                "customer for the SIRET it uses in Chorus Pro.", siret=siret, partner=self.display_name))
        structure = structures[0]
        details = client.get_structure(structure.id)
        services = client.search_services(structure.id)
        # Update in place: a service chosen on an invoice or in a wizard keeps its record.
        known = {s.chorus_service_id: s for s in self.chorus_service_ids}
        seen = set()
        service_commands = []
        for service in services:
            engagement_required = False
            if service.active and service.code != RESERVED_SERVICE_CODE:
                engagement_required = client.get_service(structure.id, service.id).engagement_required
            values = {
                "chorus_service_id": service.id,
                "code": service.code,
                "name": service.name,
                "is_active": service.active,
                "engagement_required": engagement_required,
            }
            seen.add(service.id)
            if service.id in known:
                service_commands.append((1, known[service.id].id, values))
            else:
                service_commands.append((0, 0, values))
        service_commands += [(2, record.id) for sid, record in known.items() if sid not in seen]
        self.sudo().write({
            "chorus_structure_id": structure.id,
            "chorus_structure_name": details.name or structure.name,
            "chorus_service_required": details.service_required,
            "chorus_engagement_required": details.engagement_required,
            "chorus_service_or_engagement": details.service_or_engagement,
            "chorus_structure_checked": fields.Datetime.now(),
            "chorus_service_ids": service_commands,
        })

    @api.model
    def _chorus_demo_use_chorus_pro(self, partner_ids, company_id):
        """Demo data: these customers receive their invoices through Chorus Pro in that company."""
        self.browse(partner_ids).with_company(company_id).invoice_sending_method = "chorus_pro"

    def action_chorus_refresh_structure(self):
        for partner in self:
            error = self._chorus_siret_error(partner.siret)
            if error:
                raise UserError(error)
            try:
                partner._chorus_refresh_structure()
            except chorus_exc.ChorusError as error:
                raise UserError(self.env["res.company"]._chorus_error_message(error)) from None
        return True

    def _chorus_vendor_bill_domain(self, company):
        """The partner's vendor bills and credit notes in ``company``: its history as a supplier."""
        self.ensure_one()
        return [("partner_id", "child_of", self.commercial_partner_id.id),
                ("move_type", "in", ("in_invoice", "in_refund")), ("company_id", "=", company.id)]

    def action_chorus_choose_for_supplier(self):
        """A candidate's "Choose" button on a Chorus Pro supplier (or on one of its invoices): this partner is
        the supplier, for all its invoices."""
        self.ensure_one()
        supplier = self.env["chorus.supplier"].browse(self.env.context.get("chorus_supplier_id")).exists()
        if not supplier:
            raise UserError(_("Choose the partner from a supplier in Chorus Pro (Chorus Pro > Validate suppliers)."))
        supplier.action_choose_partner(self.id)
        return True
