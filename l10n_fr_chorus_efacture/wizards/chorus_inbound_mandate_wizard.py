from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_compare

from ..models.chorus_inbound_invoice import MANDATED


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
        domain="[('account_type', 'in', ('expense', 'expense_direct_cost', 'asset_fixed')), "
               "('company_ids', 'in', company_id)]")
    analytic_distribution = fields.Json(string="Analytic")
    analytic_precision = fields.Integer(default=lambda self: self.env["decimal.precision"].precision_get(
        "Percentage Analytic"))
    refusals = fields.Text(compute="_compute_refusals", string="Not mandated")

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
    def _compute_account_id(self):
        # The expense account of the main product category, as on a bill line without product.
        category = self.env.ref("product.product_category_all", raise_if_not_found=False)
        for wizard in self:
            if not wizard.account_id and category:
                wizard.account_id = category.with_company(wizard.company_id).property_account_expense_categ_id

    @api.depends("inbound_ids")
    def _compute_refusals(self):
        for wizard in self:
            wizard.refusals = "\n".join("- %s: %s" % (invoice.display_name, reason)
                                        for invoice, reason in wizard._refusals().items()) or False

    def _refusals(self):
        refusals = {}
        for invoice in self.inbound_ids:
            if invoice.move_id:
                reason = _("already mandated by %(bill)s.", bill=invoice.move_id.display_name)
            elif invoice.chorus_status != "SERVICE_FAIT":
                reason = _("its status is %(status)s; it must be Service done first.",
                           status=invoice._chorus_status_label() or _("unknown"))
            elif invoice.sync_state == "pending":
                reason = _("a status is still waiting to be sent to Chorus Pro.")
            elif invoice.company_id.chorus_inbound_validation and not invoice.internal_validated:
                reason = _("it is not validated internally yet.")
            elif not invoice.partner_id:
                reason = _("it has no supplier: match or create it first.")
            elif len(invoice.company_id) and invoice.company_id != self.company_id:
                reason = _("it belongs to another company; mandate it from that company.")
            else:
                continue
            refusals[invoice] = reason
        return refusals

    def action_confirm(self):
        self.ensure_one()
        if not self.journal_id or not self.account_id:
            raise UserError(_("Journal and article: choose the purchase journal and the expense account of the "
                              "mandates."))
        refusals = self._refusals()
        to_mandate = self.inbound_ids.filtered(lambda i: i not in refusals)
        if not to_mandate:
            raise UserError(_("No invoice can be mandated:\n%(reasons)s", reasons=self.refusals))
        bills = self.env["account.move"]
        for invoice in to_mandate:
            if not invoice._chorus_lock():
                continue  # another user is mandating it right now
            if invoice.move_id:
                continue
            bill = self._create_bill(invoice)
            invoice.move_id = bill
            invoice._chorus_commit()
            invoice._chorus_request_status(MANDATED, mandate_number=bill.name)
            bills |= bill
        return bills._get_records_action(name=_("Mandates"))

    def _purchase_tax(self, invoice, rate):
        taxes = self.env["account.tax"].search([
            ("company_id", "=", invoice.company_id.id), ("type_tax_use", "=", "purchase"),
            ("amount_type", "=", "percent"), ("amount", "=", rate), ("price_include", "=", False),
        ])
        # Prefer the plain deductible VAT on goods and services over reverse charge or immobilisation taxes.
        plain = taxes.filtered(lambda t: len(t.invoice_repartition_line_ids) == 2)
        return (plain or taxes)[:1]

    def _create_bill(self, invoice):
        lines = []
        for tax_line in invoice.tax_line_ids or [False]:
            rate = tax_line.rate if tax_line else 0.0
            base = tax_line.base if tax_line else invoice.amount_untaxed
            tax = self._purchase_tax(invoice, rate) if rate else self.env["account.tax"]
            if rate and not tax:
                raise UserError(_("%(invoice)s: no purchase tax of %(rate)s %% exists in %(company)s; create it "
                                  "(Accounting > Configuration > Taxes).", invoice=invoice.display_name,
                                  rate=rate, company=invoice.company_id.name))
            lines.append(fields.Command.create({
                "name": _("%(number)s - VAT %(rate)s %%", number=invoice.name, rate=rate),
                "account_id": self.account_id.id, "quantity": 1, "price_unit": base,
                "tax_ids": [fields.Command.set(tax.ids)],
                "analytic_distribution": self.analytic_distribution or False,
            }))
        bill = self.env["account.move"].with_company(invoice.company_id).create({
            "move_type": "in_refund" if invoice.invoice_type == "AVOIR" else "in_invoice",
            "company_id": invoice.company_id.id,
            "journal_id": self.journal_id.id,
            "partner_id": invoice.partner_id.id,
            "invoice_date": invoice.invoice_date or invoice.deposit_date,
            "date": fields.Date.context_today(self),
            "ref": invoice.name,
            "chorus_invoice_id": invoice.chorus_invoice_id,
            "chorus_inbound_id": invoice.id,
            "currency_id": invoice.currency_id.id,
            "invoice_line_ids": lines,
        })
        bill.write({"invoice_payment_term_id": False, "invoice_date_due": invoice.date_due})
        if float_compare(bill.amount_total, invoice.amount_total, precision_rounding=invoice.currency_id.rounding):
            raise UserError(_("%(invoice)s: the bill's total %(bill)s differs from Chorus Pro's %(chorus)s; check "
                              "the VAT rates of the invoice.", invoice=invoice.display_name,
                              bill=bill.amount_total, chorus=invoice.amount_total))
        attachments = self.env["ir.attachment"].search([
            ("res_model", "=", invoice._name), ("res_id", "=", invoice.id)])
        copies = self.env["ir.attachment"]
        for attachment in attachments:
            copies |= attachment.copy({"res_model": "account.move", "res_id": bill.id})
        bill.action_post()
        # Posting can move the due date to the payment term's: the legal delay from Chorus Pro wins.
        if bill.invoice_date_due != invoice.date_due:
            bill.line_ids.filtered(lambda l: l.display_type == "payment_term").date_maturity = invoice.date_due
        pdf = copies.filtered(lambda a: a.name == invoice.pdf_attachment_id.name)[:1] or copies[:1]
        if pdf:
            bill.message_main_attachment_id = pdf
        bill.message_post(
            body=_("Mandate of the invoice %(number)s received through Chorus Pro (Chorus number %(chorus)s).",
                   number=invoice.name, chorus=invoice.chorus_invoice_id),
            attachment_ids=copies.ids)
        invoice.message_post(body=_("Mandate %(bill)s created.", bill=bill.name))
        return bill
