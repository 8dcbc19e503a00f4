from odoo import _, api, fields, models
from odoo.exceptions import UserError

# The accounts a mandate books its expense on: charges, and fixed assets for an investment.
ARTICLE_TYPES = ("expense", "expense_direct_cost", "asset_fixed")


class ChorusInboundMandateWizard(models.TransientModel):
    """Turn received invoices into posted vendor bills (the mandates), and tell Chorus Pro."""

    _name = "chorus.inbound.mandate.wizard"
    _description = "Create the mandates of invoices received through Chorus Pro"
    _check_company_auto = True

    inbound_ids = fields.Many2many("chorus.inbound.invoice", string="Invoices", required=True)
    company_id = fields.Many2one("res.company", compute="_compute_company_id", store=True)
    journal_id = fields.Many2one(
        "account.journal", string="Journal", check_company=True,
        domain="[('type', '=', 'purchase'), ('company_id', '=', company_id)]",
        compute="_compute_journal_id", store=True, readonly=False)
    account_id = fields.Many2one(
        "account.account", string="Article (expense account)", check_company=True,
        compute="_compute_account_id", store=True, readonly=False,
        domain="[('account_type', 'in', %s), ('deprecated', '=', False), ('company_ids', 'in', company_id)]"
               % (ARTICLE_TYPES,))
    company_vat_recoverable = fields.Boolean(related="company_id.chorus_vat_recoverable")
    tax_ids = fields.Many2many(
        "account.tax", string="Purchase Taxes", check_company=True,
        domain="[('type_tax_use', '=', 'purchase'), ('company_id', 'parent_of', company_id)]",
        help="VAT recoverable: the purchase tax of each rate, when the article and Chorus Pro's VAT regime leave "
             "several (the mandate says which). Empty: chosen from the article's default taxes and the VAT regime.")
    analytic_distribution = fields.Json(string="Analytic")
    analytic_precision = fields.Integer(default=lambda self: self.env["decimal.precision"].precision_get(
        "Percentage Analytic"))
    paid_part = fields.Selection(
        lambda self: self.env["chorus.inbound.invoice"]._fields["mandate_paid_part"].selection,
        string="Part Already Paid",
        help="Advances (avances) paid without an invoice are on the advance account: the mandate books the whole "
             "expense and clears them. Deposit invoices (acomptes) were mandated already, expense included: the "
             "mandate books only the rest.")
    mandate_number = fields.Char(
        string="Mandate Number",
        help="The number your financial system gives this mandate: Chorus Pro receives it (numeroDPMandat). "
             "Empty: the bill's number. One invoice at a time.")
    number_later = fields.Boolean(
        string="Number given later on the bill", compute="_compute_number_later", store=True, readonly=False,
        help="Your financial system numbers the mandate after the bill is made: the bill asks for the number (an "
             "activity), and Chorus Pro is told the invoice is mandated once it is given.")
    paid_part_info = fields.Text(compute="_compute_paid_part_info", string="Already Paid")
    refusals = fields.Text(compute="_compute_refusals", string="Not mandated")
    state = fields.Selection([("draft", "To confirm"), ("done", "Done")], default="draft", required=True)
    report = fields.Text(readonly=True, help="What became of each invoice of the selection.")
    bill_ids = fields.Many2many("account.move", string="Mandates", readonly=True)

    @api.depends("inbound_ids")
    def _compute_company_id(self):
        for wizard in self:
            wizard.company_id = wizard.inbound_ids.company_id[:1] or self.env.company

    @api.depends("company_id")
    def _compute_journal_id(self):
        for wizard in self:
            wizard.journal_id = self.env["account.journal"].search([
                ("type", "=", "purchase"), ("company_id", "=", wizard.company_id.id)], limit=1)

    @api.depends("company_id")
    def _compute_number_later(self):
        for wizard in self:
            wizard.number_later = wizard.company_id.chorus_mandate_number_later

    @api.depends("company_id")
    def _compute_account_id(self):
        # The expense account of the main product category, as on a bill line without product.
        category = self.env.ref("product.product_category_all", raise_if_not_found=False)
        for wizard in self:
            if not wizard.account_id and category:
                wizard.account_id = category.with_company(wizard.company_id).property_account_expense_categ_id

    @api.depends("inbound_ids")
    def _compute_paid_part_info(self):
        for wizard in self:
            wizard.paid_part_info = "\n".join(
                _("- %(invoice)s: total %(total)s, already paid %(paid)s, to pay %(to_pay)s",
                  invoice=invoice.display_name, total=invoice.amount_total, paid=invoice.amount_paid_before,
                  to_pay=invoice.amount_to_pay)
                for invoice in wizard.inbound_ids if not invoice.currency_id.is_zero(invoice.amount_paid_before)
            ) or False

    @api.depends("inbound_ids", "paid_part")
    def _compute_refusals(self):
        for wizard in self:
            wizard.refusals = "\n".join("- %s: %s" % (invoice.display_name, reason)
                                        for invoice, reason in wizard._refusals().items()) or False

    def _refusals(self):
        refusals = {}
        for invoice in self.inbound_ids:
            reason = invoice._chorus_mandate_refusal(self.company_id) or invoice._chorus_paid_part_refusal(
                self.paid_part)
            if reason:
                refusals[invoice] = reason
        return refusals

    def action_confirm(self):
        """Mandate the invoices that can be; then report every invoice of the selection."""
        self.ensure_one()
        self._check_journal_and_article()
        refusals = self._refusals()
        to_mandate = self.inbound_ids.filtered(lambda i: i not in refusals)
        if not to_mandate:
            raise UserError(_("No invoice can be mandated:\n%(reasons)s", reasons=self.refusals))
        if self.mandate_number and len(self.inbound_ids) > 1:
            raise UserError(_("Mandate Number: one number is one mandate; select one invoice, or leave it empty (each "
                              "bill's number is sent)."))
        if self.mandate_number and self.number_later:
            raise UserError(_("Mandate Number: type it now, or untick \"Number given later on the bill\"; not "
                              "both."))
        results = to_mandate._chorus_request_mandates(self.journal_id, self.account_id, self.analytic_distribution,
                                                      self.paid_part, self.mandate_number, taxes=self.tax_ids,
                                                      number_later=self.number_later)
        results.update(refusals)
        lines = []
        bills = self.env["account.move"]
        for invoice in self.inbound_ids:
            result = results.get(invoice)
            if isinstance(result, models.BaseModel) and result:
                bills |= result
                if invoice.mandate_number_awaited:
                    told = _("Chorus Pro is told once its mandate number is given on the bill.")
                elif invoice.sync_state == "done":
                    told = _("Chorus Pro is told.")
                else:
                    told = _("Chorus Pro will be told as soon as it answers.")
                lines.append(_("%(invoice)s: mandated by %(bill)s. %(told)s", invoice=invoice.display_name,
                               bill=result.name, told=told))
            else:
                lines.append(_("%(invoice)s: not mandated, %(reason)s", invoice=invoice.display_name,
                               reason=result or _("no reason given")))
        self.write({"state": "done", "report": "\n".join(lines), "bill_ids": [fields.Command.set(bills.ids)]})
        return {"type": "ir.actions.act_window", "res_model": self._name, "res_id": self.id, "view_mode": "form",
                "target": "new", "name": _("Mandates")}

    def _check_journal_and_article(self):
        """What the form's domains offer, checked again here: a call through RPC gets no other choice."""
        if not self.journal_id or not self.account_id:
            raise UserError(_("Journal and article: choose the purchase journal and the expense account of the "
                              "mandates."))
        if self.journal_id.type != "purchase" or self.journal_id.company_id != self.company_id:
            raise UserError(_("Journal: %(journal)s is not a purchase journal of %(company)s; choose one that is.",
                              journal=self.journal_id.display_name, company=self.company_id.name))
        account = self.account_id
        if account.account_type not in ARTICLE_TYPES or account.deprecated or \
                self.company_id not in account.company_ids:
            raise UserError(_("Article: %(account)s is not an expense or fixed asset account of %(company)s; choose "
                              "one that is.", account=account.display_name, company=self.company_id.name))
        wrong = self.tax_ids.filtered(lambda tax: tax.type_tax_use != "purchase" or not tax.filtered_domain(
            tax._check_company_domain(self.company_id)))
        if wrong:
            raise UserError(_("Purchase Taxes: %(taxes)s are not purchase taxes of %(company)s; choose ones that are.",
                              taxes=", ".join(wrong.mapped("display_name")), company=self.company_id.name))

    def action_open_bills(self):
        self.ensure_one()
        return self.bill_ids._get_records_action(name=_("Mandates"))
