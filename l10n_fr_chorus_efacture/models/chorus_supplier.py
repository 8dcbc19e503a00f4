from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..tools.statuses import selection_labels


class ChorusSupplier(models.Model):
    """A supplier as Chorus Pro knows it (its SIRET, its name, its IBAN), linked once to an Odoo partner.

    "Valider les tiers": the link, made once (found by IBAN or SIRET, or chosen by a user), applies to every
    invoice of that supplier, past and to come. An IBAN Chorus Pro gives that is none of the partner's bank
    accounts is flagged until a user confirms it deliberately: that is how invoice fraud starts.
    """

    _name = "chorus.supplier"
    _description = "Supplier in Chorus Pro"
    _inherit = ["mail.thread"]
    _order = "state desc, name, id"
    _check_company_auto = True

    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    code = fields.Char(string="SIRET", required=True, readonly=True,
                       help="The supplier's identifier in Chorus Pro (codeFournisseur): its SIRET for a French "
                            "supplier.")
    identifier_type = fields.Char(string="Identifier Type", readonly=True)
    chorus_id = fields.Char(string="Chorus Supplier ID", readonly=True, help="idFournisseur in Chorus Pro")
    name = fields.Char(string="Name in Chorus Pro", readonly=True)
    iban = fields.Char(string="IBAN in Chorus Pro", readonly=True, help="The IBAN of its latest invoice.")
    bic = fields.Char(string="BIC in Chorus Pro", readonly=True)
    state = fields.Selection([("to_validate", "To validate"), ("validated", "Validated")], default="to_validate",
                             required=True, readonly=True, tracking=True, index=True)
    partner_id = fields.Many2one("res.partner", string="Partner", tracking=True, check_company=True,
                                 domain="[('is_company', '=', True)]",
                                 help="The Odoo partner its invoices are mandated to.")
    partner_siret = fields.Char(related="partner_id.siret", string="Partner SIRET")
    match_method = fields.Selection([("iban", "IBAN"), ("siret", "SIRET"), ("manual", "Chosen by hand"),
                                     ("created", "Created from Chorus Pro")], readonly=True, string="Matched By")
    validated_by_id = fields.Many2one("res.users", readonly=True, string="Validated By",
                                      help="Empty when found by its IBAN or SIRET, without a user.")
    validated_date = fields.Datetime(readonly=True, string="Validated On")
    iban_state = fields.Selection([("known", "Trusted"), ("new", "IBAN to confirm"),
                                   ("other", "IBAN of another partner")], compute="_compute_iban_state",
                                  search="_search_iban_state", string="IBAN Check")
    candidate_ids = fields.Many2many("res.partner", compute="_compute_candidates", string="Candidates")
    candidates_info = fields.Char(compute="_compute_candidates", string="How they were found")
    invoice_ids = fields.One2many("chorus.inbound.invoice", "chorus_supplier_id", string="Invoices")
    invoice_count = fields.Integer(compute="_compute_invoice_count", string="Received Invoices")

    _sql_constraints = [
        ("code_company_uniq", "unique(company_id, code)", "A Chorus Pro supplier is listed once per company."),
    ]

    # ------------------------------------------------------------- computes
    def _bank_accounts(self, iban):
        """Every bank account of this IBAN in Odoo, whoever holds it."""
        return self.env["res.partner.bank"]._chorus_of_iban(iban, self.company_id)

    def _bank_holders(self, iban):
        return self._bank_accounts(iban).partner_id.commercial_partner_id

    @api.depends("iban", "partner_id", "partner_id.bank_ids", "partner_id.bank_ids.allow_out_payment")
    def _compute_iban_state(self):
        for supplier in self:
            if not supplier.iban or not supplier.partner_id:
                supplier.iban_state = False
                continue
            accounts = supplier._bank_accounts(supplier.iban)
            partner = supplier.partner_id.commercial_partner_id
            own = accounts.filtered(lambda account: account.partner_id.commercial_partner_id == partner)
            # Only an account trusted in Odoo's sense is paid: one typed in, or made from Chorus Pro, is to confirm.
            supplier.iban_state = "known" if own.filtered("allow_out_payment") else "new" if own or not accounts \
                else "other"

    def _search_iban_state(self, operator, value):
        # Suppliers are few (hundreds per public body): their IBANs are checked here rather than stored, so that a
        # bank account added or removed on any partner counts at once.
        if operator not in ("=", "!=", "in", "not in"):
            raise UserError(_("IBAN Check: only = and in can be searched."))
        values = {value} if operator in ("=", "!=") else set(value)
        suppliers = self.search([("iban", "!=", False), ("partner_id", "!=", False)])
        ids = suppliers.filtered(lambda s: s.iban_state in values).ids
        return [("id", "in" if operator in ("=", "in") else "not in", ids)]

    @api.depends("iban", "code", "company_id")
    def _compute_candidates(self):
        labels = selection_labels(self, "match_method")
        labels["siren"] = _("SIREN (another establishment)")
        for supplier in self:
            found = supplier._chorus_candidates()
            supplier.candidate_ids = [(6, 0, [partner.id for partner, _method in found])]
            supplier.candidates_info = ", ".join("%s (%s)" % (partner.display_name, labels[method])
                                                 for partner, method in found) or False

    def _compute_invoice_count(self):
        counts = dict(self.env["chorus.inbound.invoice"]._read_group(
            [("chorus_supplier_id", "in", self.ids)], ["chorus_supplier_id"], ["__count"]))
        for supplier in self:
            supplier.invoice_count = counts.get(supplier, 0)

    def _compute_display_name(self):
        for supplier in self:
            supplier.display_name = "%s (%s)" % (supplier.name or "?", supplier.code)

    # ------------------------------------------------------------- matching
    def _chorus_candidates(self):
        """The partners this supplier may be, with how each was found: SIRET first, then IBAN, then SIREN."""
        self.ensure_one()
        found, seen = [], set()

        def add(partners, method):
            for partner in partners:
                partner = partner.commercial_partner_id
                if partner.id not in seen and partner.active:
                    seen.add(partner.id)
                    found.append((partner, method))

        # SIRET first: the IBAN may be a factor's (affacturage), the SIRET is the supplier's own.
        company_domain = [("company_id", "in", (False, self.company_id.id))]
        code = (self.code or "").strip()
        siret = len(code) == 14 and code.isdigit()
        Partner = self.env["res.partner"]
        if siret:
            add(Partner.search([("siret", "=", code)] + company_domain, limit=10), "siret")
        if self.iban:
            add(self._bank_holders(self.iban), "iban")
        if siret:
            add(Partner.search([("siret", "=like", code[:9] + "%")] + company_domain, limit=10), "siren")
        return found

    @api.model
    def _chorus_for(self, company, suppliers):
        """The Chorus suppliers of these typed Supplier replies (found or created, kept up to date), by code."""
        codes = {s.code for s in suppliers if s and s.code}
        records = {r.code: r for r in self.sudo().search([("company_id", "=", company.id), ("code", "in", list(codes))])}
        for supplier in suppliers:
            if not supplier or not supplier.code:
                continue
            values = {"name": supplier.name, "identifier_type": supplier.identifier_type or False,
                      "chorus_id": str(supplier.id) if supplier.id else False}
            if supplier.iban:
                values.update(iban=supplier.iban, bic=supplier.bic or False)
            record = records.get(supplier.code)
            if record is None:
                records[supplier.code] = self.sudo().with_context(mail_create_nolog=True).create(
                    dict(values, company_id=company.id, code=supplier.code))
            elif any((record[key] or False) != value for key, value in values.items()):
                record.sudo().write(values)
        return records

    def _chorus_auto_match(self):
        """Suppliers never validated: linked at once when one partner has their SIRET, else their IBAN (a factored
        supplier's IBAN is its factor's). A SIREN match (another establishment of the same company) is only
        proposed."""
        for supplier in self.filtered(lambda s: s.state == "to_validate"):
            for partner, method in supplier._chorus_candidates():
                if method == "siret" or method == "iban" and supplier._chorus_iban_match_is_safe(partner):
                    supplier._chorus_validate(partner, method, by_user=False)
                    break

    def _chorus_iban_match_is_safe(self, partner):
        """Whether the partner holding the IBAN may be taken for this supplier without a user: not when Chorus Pro
        names a factor for its invoices (the IBAN is the factor's), nor when the partner's SIRET is another
        company's."""
        if any(self.invoice_ids.mapped("factor_name")):
            return False
        return not partner.siret or (self.code or "")[:9] == partner.siret[:9]

    def _chorus_validate(self, partner, method, by_user=True):
        """Link this supplier to ``partner`` for good: its invoices not mandated yet get it, and the next ones.
        (Mandated ones keep the partner of their bill.)"""
        self.ensure_one()
        partner = partner.commercial_partner_id
        self.sudo().write({"state": "validated", "partner_id": partner.id, "match_method": method,
                           "validated_by_id": self.env.user.id if by_user else False,
                           "validated_date": fields.Datetime.now()})
        self.invoice_ids.filtered(lambda i: not i.move_id).sudo().write(
            {"partner_id": partner.id, "match_method": method})
        if by_user:
            self.message_post(body=_("Validated as %(partner)s by %(user)s.", partner=partner.display_name,
                                     user=self.env.user.name))

    def _chorus_check_may_validate(self):
        if not self.env.user.has_group("account.group_account_invoice"):
            raise AccessError(_("Only invoicing users can validate the suppliers of Chorus Pro invoices."))

    def write(self, vals):
        """Everything comes from Chorus Pro or from validation: a user only chooses the partner, which validates
        the supplier (whatever the path: the form, RPC)."""
        if self.env.su:
            return super().write(vals)
        vals = dict(vals)
        partner_id = vals.pop("partner_id", None)
        blocked = [name for name in vals if not name.startswith(("message_", "activity_"))]
        if blocked:
            raise AccessError(_("%(fields)s of a Chorus Pro supplier come from Chorus Pro or from its validation: "
                                "they cannot be changed directly.",
                                fields=", ".join(self._fields[n].string if n in self._fields else n for n in blocked)))
        if partner_id is not None:
            if partner_id:
                for supplier in self:
                    supplier.action_choose_partner(partner_id)
            else:
                self.action_unvalidate()
        return super().write(vals) if vals else True

    def action_choose_partner(self, partner_id):
        """A candidate chosen by a user: validated as this supplier, for every one of its invoices not mandated."""
        self.ensure_one()
        self._chorus_check_may_validate()
        partner = self.env["res.partner"].browse(partner_id).exists()
        if not partner:
            raise UserError(_("Partner: the chosen partner does not exist any more; choose another."))
        partner.check_access("read")
        self._chorus_validate(partner, "manual")
        return True

    def action_create_partner(self):
        """Create the partner from what Chorus Pro says (name, SIRET, bank account), validated at once."""
        self.ensure_one()
        self._chorus_check_may_validate()
        if self.partner_id:
            raise UserError(_("%(supplier)s already has a partner.", supplier=self.display_name))
        if not self.name:
            raise UserError(_("Chorus Pro gave no name for %(supplier)s.", supplier=self.code))
        is_siret = len(self.code or "") == 14 and self.code.isdigit()
        partner = self.env["res.partner"].create({
            "name": self.name, "is_company": True, "siret": self.code if is_siret else False,
            "country_id": self.env.ref("base.fr").id if is_siret else False,
            "supplier_rank": 1, "company_id": False,
        })
        if self.iban:
            self._chorus_add_bank_account(partner)
        self._chorus_validate(partner, "created")
        self.message_post(body=_("Partner %(partner)s created from the Chorus Pro data.", partner=partner.display_name))
        return True

    def _chorus_add_bank_account(self, partner, iban=None, bic=None, trusted=False, holder=None):
        """The partner's bank account of this IBAN, created with the user's own rights; trusted only when asked
        (a user allowed to trust bank accounts confirming it); ``holder``: the name of who holds it (a factor)."""
        iban, bic = iban or self.iban, bic if iban else self.bic
        bank = self.env["res.bank"]
        if bic:
            # The bank directory entry of the BIC: shared reference data, not the supplier's account.
            bank = bank.sudo().search([("bic", "=", bic)], limit=1) or bank.sudo().create({"name": bic, "bic": bic})
        return self.env["res.partner.bank"].create({"acc_number": iban, "partner_id": partner.id,
                                                    "acc_holder_name": holder or False,
                                                    "bank_id": bank.id or False, "allow_out_payment": trusted})

    def action_confirm_iban(self):
        """The new IBAN, checked with the supplier (by phone, on a number already known), added to its partner."""
        self.ensure_one()
        self._chorus_confirm_iban(self.iban, self.bic)
        return True

    def action_confirm_factor_iban(self):
        """Chorus Pro's IBAN is a factor's: declared as the account this supplier's mandates pay."""
        self.ensure_one()
        self._chorus_confirm_iban(self.iban, self.bic, factor=self._bank_holders(self.iban)[:1])
        return True

    def _chorus_confirm_iban(self, iban, bic, factor=None):
        """The IBAN, checked with the supplier, becomes the partner's trusted bank account: the one its mandates
        pay. Only a user Odoo allows to trust bank accounts does it. ``factor``: the IBAN is that partner's, the
        supplier's factor (affacturage): the account is the supplier's in Odoo, held by the factor, so that Odoo
        pays it for the supplier's bills."""
        self.ensure_one()
        self._chorus_check_may_validate()
        if not self.env.user.has_group("account.group_validate_bank_account"):
            raise AccessError(_("Only a user allowed to trust bank accounts (the \"Validate bank account\" right, "
                                "in the user's settings) confirms an IBAN: ask one."))
        if not self.partner_id or not iban:
            raise UserError(_("%(supplier)s has no partner or no IBAN to confirm.", supplier=self.display_name))
        partner = self.partner_id.commercial_partner_id
        accounts = self._bank_accounts(iban)
        own = accounts.filtered(lambda account: account.partner_id.commercial_partner_id == partner)
        if own.filtered("allow_out_payment"):
            raise UserError(_("The IBAN %(iban)s is already a trusted bank account of %(partner)s.", iban=iban,
                              partner=partner.display_name))
        if accounts and not own:
            if not factor or factor not in accounts.partner_id.commercial_partner_id:
                raise UserError(_("The IBAN %(iban)s is the bank account of %(holder)s: if the invoices are theirs, "
                                  "choose them as the partner; if they are the supplier's factor, confirm it as the "
                                  "factor's account; otherwise the IBAN is wrong, reject the invoice.",
                                  iban=iban, holder=", ".join(accounts.partner_id.mapped("display_name"))))
            self._chorus_add_bank_account(partner, iban, bic, trusted=True, holder=factor.name)
            self.message_post(body=_("IBAN %(iban)s of the factor %(factor)s declared as the account the mandates of "
                                     "%(partner)s pay, and trusted by %(user)s.", iban=iban, factor=factor.display_name,
                                     partner=partner.display_name, user=self.env.user.name))
            return
        if own:
            own.with_env(self.env).write({"allow_out_payment": True})
        else:
            self._chorus_add_bank_account(partner, iban, bic, trusted=True)
        self.message_post(body=_("IBAN %(iban)s of %(partner)s confirmed and trusted by %(user)s.",
                                 iban=iban, user=self.env.user.name, partner=partner.display_name))

    def action_unvalidate(self):
        """Undo a wrong link: the supplier is to validate again; its invoices not mandated lose the partner (the
        mandated ones keep their bill's)."""
        self._chorus_check_may_validate()
        for supplier in self.filtered(lambda s: s.state == "validated"):
            supplier.invoice_ids.filtered(lambda i: not i.move_id).sudo().write(
                {"partner_id": False, "match_method": False})
            supplier.sudo().write({"state": "to_validate", "partner_id": False, "match_method": False,
                                   "validated_by_id": False, "validated_date": False})
            supplier.message_post(body=_("Validation cancelled by %(user)s.", user=self.env.user.name))
        return True

    def action_open_invoices(self):
        self.ensure_one()
        return self.invoice_ids._get_records_action(name=_("Received invoices"))

    def action_open_partner_history(self):
        """The partner's bills: its history, one click away."""
        self.ensure_one()
        return self.env["account.move"].search(self.partner_id._chorus_vendor_bill_domain(self.company_id)) \
            ._get_records_action(name=_("Vendor bills"))
