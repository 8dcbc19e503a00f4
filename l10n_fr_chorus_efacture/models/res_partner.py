import logging

from stdnum.fr import siret as stdnum_siret

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools.misc import format_datetime

from ..chorus import exceptions as chorus_exc
from ..tools.transaction import commit_if_allowed, try_lock_row
from .chorus_partner_service import RESERVED_SERVICE_CODE

_logger = logging.getLogger(__name__)


# What the module reads of a customer's Chorus Pro structure: written by the module only.
STRUCTURE_FIELDS = {
    "chorus_structure_id", "chorus_structure_name", "chorus_service_required", "chorus_engagement_required",
    "chorus_service_or_engagement", "chorus_structure_checked", "chorus_structure_state", "chorus_structure_error",
    "chorus_structure_company_id", "chorus_service_ids",
}


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
    # The lookup runs in the background (ir_cron_chorus_structure_check), never inside create/write.
    chorus_structure_state = fields.Selection(
        [("to_check", "To check"), ("checked", "Checked"), ("error", "Error")], string="Chorus Pro Check",
        copy=False, readonly=True, index=True,
        help="To check: the structure is looked up in Chorus Pro in the background. Checked: its structure, flags "
             "and services are known. Error: what to fix is shown (no SIRET, no such structure).")
    chorus_structure_error = fields.Char(string="Chorus Pro Check Error", copy=False, readonly=True)
    chorus_structure_company_id = fields.Many2one(
        "res.company", string="Checked With", copy=False, readonly=True,
        help="The company whose Chorus Pro account looks the structure up.")
    chorus_structure_status = fields.Char(compute="_compute_chorus_structure_status", string="Chorus Pro Structure")
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

    @api.depends("chorus_structure_state", "chorus_structure_checked", "chorus_structure_error")
    @api.depends_context("tz", "lang")
    def _compute_chorus_structure_status(self):
        for partner in self:
            state = partner.chorus_structure_state
            if state == "checked" and partner.chorus_structure_checked:
                partner.chorus_structure_status = _("Checked on %(date)s", date=format_datetime(
                    self.env, partner.chorus_structure_checked, dt_format=False))
            elif state == "error":
                partner.chorus_structure_status = _("Error: %(error)s", error=partner.chorus_structure_error)
            elif state == "to_check" and partner.chorus_structure_error:
                partner.chorus_structure_status = _("To check: the last attempt failed (%(error)s); tried again "
                                                    "every hour", error=partner.chorus_structure_error)
            elif state == "to_check":
                partner.chorus_structure_status = _("To check (in the background, within a few minutes)")
            else:
                partner.chorus_structure_status = False

    def _chorus_service(self, code):
        """The service of this customer's structure with this code (as read from Chorus Pro), or an empty record."""
        code = (code or "").strip()
        return self.chorus_service_ids.filtered(lambda service: service.code == code)[:1] if code else \
            self.chorus_service_ids.browse()

    def _chorus_structure_known(self):
        """Its structure was read from Chorus Pro and its SIRET has not changed since (nor was the last lookup
        an error): the routing rules read then can be trusted."""
        self.ensure_one()
        return bool(self.chorus_structure_id) and self.chorus_structure_state not in ("to_check", "error")

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

    def _chorus_check_structure_fields(self, names):
        """The structure data is read from Chorus Pro by the module only (in sudo), whatever the path (a form, RPC,
        an import): a partner editor who could write it would turn off the checks made before each deposit."""
        if self.env.su:
            return
        blocked = STRUCTURE_FIELDS.intersection(names)
        if blocked:
            labels = ", ".join(sorted(self._fields[name]._description_string(self.env) for name in blocked))
            raise AccessError(_("%(fields)s: read from Chorus Pro by the module; they cannot be changed by hand. Use "
                                "\"Check now\" on the customer to read them again.", fields=labels))

    def _chorus_structure_changes(self, vals):
        """The structure fields ``vals`` would change on one of these partners (a form or an import sending the
        values already there changes nothing)."""
        changed = set()
        for name in STRUCTURE_FIELDS.intersection(vals):
            field = self._fields[name]
            if field.type == "one2many":
                changed.add(name)
                continue
            new = field.convert_to_cache(vals[name], self[:1]) if self else None
            if any((new or False) != (field.convert_to_cache(partner[name], partner) or False) for partner in self):
                changed.add(name)
        return changed

    def write(self, vals):
        if self.env.context.get("chorus_keep_method") and vals.get("invoice_sending_method", "chorus_pro") != \
                "chorus_pro":
            # A network lookup (account_peppol) choosing another method: Chorus Pro, chosen by a user, is kept.
            kept = self.filtered(lambda p: p.invoice_sending_method == "chorus_pro")
            if kept:
                others = {name: value for name, value in vals.items() if name != "invoice_sending_method"}
                if others:
                    kept.write(others)
                for partner in kept:
                    partner.message_post(body=_(
                        "%(partner)s can also be reached through Odoo's e-invoicing network; it stays on Chorus "
                        "Pro for %(company)s. Change its invoice sending method to use the other route.",
                        partner=partner.display_name, company=self.env.company.name))
                return (self - kept).write(vals) if self - kept else True
        if self.env.context.get("chorus_keep_structure"):
            # Partners merged (by a user or in sudo): the destination keeps the structure the module read for it,
            # not a source's. Dropping values gives nobody a way round the checks.
            vals = {name: value for name, value in vals.items() if name not in STRUCTURE_FIELDS}
        self._chorus_check_structure_fields(self._chorus_structure_changes(vals))
        # Only a real change (Chorus Pro newly chosen, or another SIRET) asks for a new check.
        changed = self.browse()
        if "invoice_sending_method" in vals or "siret" in vals:
            # The method is per company, the structure per partner: a new SIRET of a customer Chorus Pro was ever
            # chosen for is checked again, whichever company the user works in.
            changed = self.filtered(lambda p: (
                (vals.get("invoice_sending_method", p.invoice_sending_method) == "chorus_pro"
                 and p.invoice_sending_method != "chorus_pro")
                or ("siret" in vals and vals["siret"] != p.siret
                    and (p.chorus_structure_state or p.invoice_sending_method == "chorus_pro"))))
        res = super().write(vals)
        changed.with_context(chorus_keep_structure=False)._chorus_on_method_set()
        return res

    def button_account_peppol_check_partner_endpoint(self, *args, **kwargs):
        """account_peppol (and l10n_fr_pdp, "by the approved platform") makes a customer found on its network
        "send by Peppol" when it checks the customer, on a user's click or after any change of its identifiers:
        a customer set to Chorus Pro stays so (see write), and its chatter says the other route exists."""
        check = getattr(super(ResPartner, self.with_context(chorus_keep_method=True)),
                        "button_account_peppol_check_partner_endpoint", None)
        if check is None:  # account_peppol is not installed
            return False
        return check(*args, **kwargs)

    @api.model_create_multi
    def create(self, vals_list):
        self._chorus_check_structure_fields({name for vals in vals_list for name, value in vals.items() if value})
        partners = super().create(vals_list)
        partners.filtered(lambda p: p.invoice_sending_method == "chorus_pro")._chorus_on_method_set()
        return partners

    def _chorus_on_method_set(self):
        """Chorus Pro chosen (or a new SIRET): the structure is to check, in the background. No call to Chorus
        Pro here: a form, a mass update or an import of customers returns at once. A customer without a valid
        SIRET is flagged, not refused."""
        if not self:
            return
        valid = self.filtered(lambda p: not self._chorus_siret_error(p.siret))
        for partner in self - valid:
            partner.sudo().write({"chorus_structure_state": "error",
                                  "chorus_structure_error": self._chorus_siret_error(partner.siret)})
        if valid:
            # Looked up with the account of the company the user works in; without one there, the company that
            # looked it up before keeps doing it.
            current = self.env.company
            usable = not current._chorus_missing_settings()
            # One write per company, however many customers (a mass update).
            for company, partners in valid.grouped(
                    lambda p: current if usable else p.chorus_structure_company_id or current).items():
                partners.sudo().write({"chorus_structure_state": "to_check", "chorus_structure_error": False,
                                       "chorus_structure_company_id": company.id})
            self.env.ref("l10n_fr_chorus_efacture.ir_cron_chorus_structure_check")._trigger()

    @api.model
    def _cron_chorus_check_structures(self, limit=50):
        """Look up the structures to check, each in a transaction of its own; Chorus Pro down leaves them to
        check (the next hourly run tries again, the oldest attempt first); when more are waiting and this run
        made progress, the job runs again at once."""
        partners = self.sudo().search([("chorus_structure_state", "=", "to_check")], limit=limit + 1,
                                      order="write_date, id")
        progress = False
        for partner in partners[:limit]:
            if not try_lock_row(partner):
                continue
            # Its state and errors are read by the users of the company that looks it up: in their language.
            partner = (partner.chorus_structure_company_id or self.env.company)._chorus_in_its_language(partner)
            try:
                with self.env.cr.savepoint():
                    partner._chorus_check_structure()
            except Exception as error:  # noqa: BLE001 - one customer must not stop the others, nor the job
                _logger.exception("Chorus Pro structure lookup of partner %s failed", partner.id)
                # Written after the savepoint's rollback: dated now, it goes to the end of the queue.
                partner.sudo().chorus_structure_error = partner.env._("unexpected error (%(error)s)",
                                                                      error=error.__class__.__name__)
            progress |= partner.chorus_structure_state != "to_check"
            commit_if_allowed(self.env)
        if len(partners) > limit and progress:
            self.env.ref("l10n_fr_chorus_efacture.ir_cron_chorus_structure_check")._trigger()

    def _chorus_lookup_company(self):
        """The company whose Chorus Pro account looks the structure up: for "Check now", the user's when its
        account is set, else the one Chorus Pro was chosen in (an account of another company, maybe a public
        buyer's, is never borrowed: its refusals would be taken for the customer's)."""
        self.ensure_one()
        if self.env.context.get("chorus_check_now") and not self.env.company._chorus_missing_settings():
            return self.env.company
        return self.chorus_structure_company_id or self.env.company

    def _chorus_check_structure(self):
        """Look the structure up now and record the outcome on the partner (what the cron and "Check now" do).
        Returns the error message, or False."""
        self.ensure_one()
        error = self._chorus_siret_error(self.siret)
        if not error:
            company = self._chorus_lookup_company()
            try:
                company._chorus_get_client()
            except UserError as unusable:
                # The company's account is not usable (settings, password): not the customer's fault, still to
                # check; the message says which company and what to set.
                self.sudo().chorus_structure_error = unusable.args[0]
                return unusable.args[0]
            try:
                self._chorus_refresh_structure(company)
            except chorus_exc.ChorusFunctionalError as refusal:
                error = self.env["res.company"]._chorus_error_message(refusal)
            except chorus_exc.ChorusError as failure:
                # Down, slow or a lost reply: still to check, the next run tries again.
                message = self.env["res.company"]._chorus_error_message(failure)
                self.sudo().chorus_structure_error = message
                return message
            except UserError as refusal:
                error = refusal.args[0]
        if error:
            self.sudo().write({"chorus_structure_state": "error", "chorus_structure_error": error})
            return error
        return False

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
            "chorus_structure_state": "checked", "chorus_structure_error": False,
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
        """"Check now": the lookup the background job would do, at once; its outcome is kept and shown (a
        notification, not an error that would undo it)."""
        problems = ["%s: %s" % (partner.display_name, error) for partner in self.with_context(chorus_check_now=True)
                    if (error := partner._chorus_check_structure())]
        if not problems:
            return True
        return {
            "type": "ir.actions.client", "tag": "display_notification",
            "params": {"title": _("Chorus Pro structure"), "message": "\n".join(problems), "type": "warning",
                       "sticky": True, "next": {"type": "ir.actions.client", "tag": "soft_reload"}},
        }

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
