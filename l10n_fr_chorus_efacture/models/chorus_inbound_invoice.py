import logging
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..tools.transaction import commit_if_allowed, try_lock_row
from ..tools.statuses import CHORUS_INVOICE_STATUSES, PAYMENT_REQUEST_TYPES, VAT_TYPES, selection_labels

_logger = logging.getLogger(__name__)

# The statuses the processing wizard offers, in this order, when Chorus Pro allows them
# (transverses/v1/recuperer/etats/traitement); MANDATEE comes from the mandate wizard.
PROCESSING_STATUSES = ["SERVICE_FAIT", "REJETEE", "SUSPENDUE", "A_RECYCLER"]
# A reason is required for these (Chorus Pro demands it for REJETEE and SUSPENDUE; the accountant's
# file wants the service fait justified too).
REASON_REQUIRED = {"REJETEE", "SUSPENDUE", "SERVICE_FAIT"}
REASON_MAX = 255
# A status push under way may last the call's time-out; past it and this margin, its worker stopped.
PUSH_MARGIN = timedelta(minutes=2)
MANDATED = "MANDATEE"
# Statuses at which an invoice may be validated internally: before or just after the service is declared done.
VALIDATION_STATUSES = ("MISE_A_DISPOSITION", "COMPLETEE", "SERVICE_FAIT")
# What a user may write on a received invoice (the rest comes from Chorus Pro or from its processing).
USER_WRITABLE = {"partner_id", "internal_validated", "document_ids", "message_main_attachment_id"}


class ChorusInboundInvoice(models.Model):
    _name = "chorus.inbound.invoice"
    _description = "Invoice received through Chorus Pro"
    _inherit = ["mail.thread.main.attachment", "mail.activity.mixin"]
    _order = "deposit_date desc, id desc"
    _check_company_auto = True

    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True,
                                 default=lambda self: self.env.company)
    chorus_invoice_id = fields.Char(string="Chorus Invoice Number", required=True, readonly=True,
                                    help="idFacture in Chorus Pro")
    name = fields.Char(string="Invoice Number", readonly=True, required=True)
    invoice_type = fields.Selection([("FACTURE", "Invoice"), ("AVOIR", "Credit note")], default="FACTURE",
                                    readonly=True, string="Type")
    vat_type = fields.Selection(
        VAT_TYPES, readonly=True, string="VAT Regime",
        help="typeTva in Chorus Pro: VAT due on debits or on receipts (services), exempt, or none. With VAT "
             "recoverable, the mandate's purchase tax follows it (exigibility on invoice or on payment).")
    origin_number = fields.Char(
        readonly=True, string="Corrected Invoice Number",
        help="A credit note's numeroFactureOrigine in Chorus Pro: the supplier's number of the invoice it corrects.")
    origin_id = fields.Many2one(
        "chorus.inbound.invoice", compute="_compute_origin_id", string="Corrected Invoice",
        help="The received invoice this credit note corrects (same number, same supplier SIRET), when it is in Odoo: "
             "the credit note's bill is linked to its mandate and reconciled with it.")
    payment_request_type = fields.Selection(
        PAYMENT_REQUEST_TYPES, default="FACTURE", required=True, readonly=True, string="Payment Request",
        help="Chorus Pro's kind of payment request (typeDemandePaiement): an invoice, or a works invoice (marché de "
             "travaux), which Chorus Pro lists apart.")
    chorus_supplier_id = fields.Many2one(
        "chorus.supplier", string="Supplier in Chorus Pro", readonly=True, index=True, check_company=True,
        help="The supplier as Chorus Pro knows it: the partner it is validated as applies to all its invoices.")
    supplier_name = fields.Char(readonly=True)
    supplier_siret = fields.Char(string="Supplier SIRET", readonly=True)
    supplier_iban = fields.Char(string="Supplier IBAN", readonly=True)
    supplier_bic = fields.Char(string="Supplier BIC", readonly=True)
    factor_name = fields.Char(string="Factor", readonly=True,
                              help="The factor (affactureur) Chorus Pro names for this invoice: the supplier assigned "
                                   "it, and the IBAN is the factor's.")
    factor_code = fields.Char(string="Factor SIRET", readonly=True)
    iban_other = fields.Boolean(compute="_compute_iban_warning",
                                help="The IBAN is another partner's in Odoo (a factor?).")
    recipient_siret = fields.Char(string="Recipient SIRET", readonly=True)
    recipient_structure_id = fields.Char(string="Recipient Structure", readonly=True, help="idStructureCPP")
    service_code = fields.Char(readonly=True, string="Service Code")
    engagement = fields.Char(readonly=True, string="Legal Commitment Number")
    contract = fields.Char(readonly=True, string="Contract Number")
    invoice_date = fields.Date(readonly=True)
    deposit_date = fields.Date(readonly=True)
    availability_date = fields.Date(
        readonly=True, help="The day Chorus Pro made the invoice available: the payment delay starts then.")
    currency_id = fields.Many2one("res.currency", readonly=True, required=True,
                                  default=lambda self: self.env.ref("base.EUR"))
    amount_untaxed = fields.Monetary(readonly=True, string="Untaxed Amount")
    amount_tax = fields.Monetary(readonly=True, string="VAT Amount")
    amount_total = fields.Monetary(readonly=True, string="Total incl. VAT")
    amount_to_pay = fields.Monetary(readonly=True, string="Amount to Pay")
    amount_discount = fields.Monetary(
        readonly=True, string="Global Discount incl. VAT",
        help="montantRemiseGlobaleTTC: a discount on the whole invoice, off the total including VAT (the total is "
             "after it; the untaxed amount, the VAT and Chorus Pro's VAT recap before it).")
    amount_to_pay_given = fields.Boolean(
        readonly=True, string="Amount to Pay Given",
        help="Chorus Pro gave the amount to pay (0 included: all paid before); when it does not, the total is due.")
    amount_paid_before = fields.Monetary(
        compute="_compute_amount_paid_before", string="Already Paid",
        help="The total less the amount to pay: advances, or deposit invoices paid before this one.")
    tax_line_ids = fields.One2many("chorus.inbound.invoice.tax", "inbound_id", readonly=True, string="VAT")
    chorus_status = fields.Selection(CHORUS_INVOICE_STATUSES, readonly=True, tracking=True, index=True,
                                     string="Chorus Status")
    chorus_status_date = fields.Datetime(readonly=True, string="Status Date")
    chorus_status_comment = fields.Char(readonly=True, string="Status Comment")
    status_history_ids = fields.One2many("chorus.inbound.invoice.status", "inbound_id", readonly=True,
                                         string="Status History")
    was_suspended = fields.Boolean(readonly=True, help="Chorus Pro allows one suspension only.")
    pdf_attachment_id = fields.Many2one("ir.attachment", readonly=True, string="Invoice PDF")
    document_ids = fields.One2many("ir.attachment", "res_id", string="Documents",
                                   domain=[("res_model", "=", "chorus.inbound.invoice")])
    chorus_document_names = fields.Text(
        readonly=True, help="Names of the supporting documents Chorus Pro lists (JSON): tells them apart from "
                            "the invoice PDF in a download.")
    downloaded_document_ids = fields.One2many(
        "ir.attachment", "res_id", readonly=True, string="Downloaded from Chorus Pro",
        domain=[("res_model", "=", "chorus.inbound.invoice"), ("chorus_downloaded", "=", True)],
        help="The files this module downloaded: a new download replaces them, and only them.")
    documents_state = fields.Selection([("missing", "To download"), ("done", "Downloaded")], default="missing",
                                       readonly=True, string="Documents Status")
    documents_error = fields.Char(readonly=True, string="Documents Error",
                                  help="Why the last download of the documents failed; every import tries again.")
    partner_id = fields.Many2one("res.partner", string="Supplier", tracking=True, check_company=True,
                                 domain="[('is_company', '=', True)]")
    match_method = fields.Selection([("iban", "IBAN"), ("siret", "SIRET"), ("siren", "SIREN"),
                                     ("manual", "Chosen by hand"), ("created", "Created from Chorus Pro")],
                                    readonly=True, string="Matched By")
    partner_siret = fields.Char(related="partner_id.siret", string="Partner SIRET")
    partner_candidate_ids = fields.Many2many("res.partner", compute="_compute_partner_candidates",
                                             string="Candidates")
    candidates_info = fields.Char(related="chorus_supplier_id.candidates_info", string="How They Were Found")
    iban_warning = fields.Char(compute="_compute_iban_warning")
    siret_warning = fields.Char(compute="_compute_siret_warning", string="SIRET Check")
    iban_new = fields.Boolean(compute="_compute_iban_warning", help="The IBAN is nobody's in Odoo: to confirm.")
    partner_inbound_count = fields.Integer(compute="_compute_partner_history")
    partner_bill_count = fields.Integer(compute="_compute_partner_history")
    internal_validated = fields.Boolean(string="Internal Validation", tracking=True, copy=False,
                                        help="Checked inside before it is processed in Chorus Pro and mandated, when "
                                             "the company asks for it.")
    validated_by_id = fields.Many2one("res.users", readonly=True, string="Validated By")
    validated_date = fields.Datetime(readonly=True, string="Validated On")
    date_due = fields.Date(
        readonly=True, string="Due Date",
        help="End of the global payment delay: from the day Chorus Pro made the invoice available, interrupted "
             "while it is suspended; frozen once mandated. A works invoice's delay may start at another event (the "
             "final statement's notification): it is counted the same way here; adjust the bill's due date if so.")
    days_left = fields.Integer(compute="_compute_days_left", help="Days left before the due date; negative: late.")
    move_id = fields.Many2one("account.move", readonly=True, string="Mandate Bill", copy=False, check_company=True)
    # A mandate asked for: its bill is made at once, or by the cron if the worker stopped before.
    mandate_state = fields.Selection([("requested", "Being created"), ("refused", "Not mandated")], readonly=True,
                                     copy=False, string="Mandate Request")
    mandate_error = fields.Text(readonly=True, copy=False, string="Why not mandated")
    mandate_journal_id = fields.Many2one("account.journal", readonly=True, copy=False, check_company=True)
    mandate_account_id = fields.Many2one("account.account", readonly=True, copy=False, string="Article")
    mandate_tax_ids = fields.Many2many(
        "account.tax", "chorus_inbound_invoice_mandate_tax_rel", "inbound_id", "tax_id", readonly=True, copy=False,
        string="Purchase Taxes", help="The purchase taxes the user chose in the mandate window (VAT recoverable).")
    mandate_analytic_distribution = fields.Json(readonly=True, copy=False)
    mandate_number = fields.Char(
        readonly=True, copy=False, string="Mandate Number",
        help="The number of the mandate in the body's financial system, which Chorus Pro receives with MANDATEE "
             "(numeroDPMandat): given in the mandate window or later on the bill, else the bill's number.")
    mandate_number_awaited = fields.Boolean(
        readonly=True, copy=False, string="Mandate Number Awaited",
        help="The bill is made; Chorus Pro is told the invoice is mandated once its mandate number is given on the "
             "bill.")
    mandate_user_id = fields.Many2one("res.users", readonly=True, copy=False, string="Mandated By")
    mandate_paid_part = fields.Selection(
        [("advance", "Advances paid: cleared from the advance account"),
         ("deposits", "Deposit invoices already mandated: only the rest is booked")],
        readonly=True, copy=False, string="Part Already Paid",
        help="How the mandate books the part of the total already paid, as the accountant said.")
    # Not tracked: the step's one chatter message is the status's (or the refusal's).
    sync_state = fields.Selection([("pending", "Pending"), ("done", "Done"), ("error", "Error")],
                                  readonly=True, string="Sync with Chorus Pro")
    sync_status = fields.Selection(CHORUS_INVOICE_STATUSES, readonly=True, string="Status to Send")
    sync_reason = fields.Char(readonly=True, string="Reason to Send")
    sync_mandate_number = fields.Char(readonly=True, string="Mandate Number to Send")
    sync_error = fields.Text(readonly=True, string="Sync Error")
    sync_attempt_date = fields.Datetime(
        readonly=True, copy=False, string="Last Attempt",
        help="When the queued status was last sent; set before the call, so that an attempt cut short (lost reply, "
             "stopped worker) is looked up in Chorus Pro before the status is sent again.")
    stage = fields.Selection([
        ("to_validate", "To validate"), ("to_process", "To process"), ("to_mandate", "To mandate"),
        ("mandated", "Mandated"), ("waiting", "Waiting for the supplier"), ("rejected", "Rejected"),
        ("outside", "Handled outside Odoo"), ("other", "Other"),
    ], compute="_compute_stage", store=True, index=True)
    handled_outside = fields.Boolean(
        compute="_compute_handled_outside", store=True, string="Handled Outside Odoo",
        help="Deposited before the day Odoo took over (Settings > Chorus Pro): handled outside Odoo, it is never "
             "offered for mandate here.")

    _sql_constraints = [
        ("chorus_invoice_unique", "unique(company_id, chorus_invoice_id)",
         "This Chorus Pro invoice is already imported in this company."),
    ]

    # ------------------------------------------------------------- computes
    def _compute_days_left(self):
        today = fields.Date.context_today(self)
        for invoice in self:
            invoice.days_left = (invoice.date_due - today).days if invoice.date_due else 0

    @api.depends("chorus_status", "move_id", "internal_validated", "sync_state", "handled_outside",
                 "company_id.chorus_inbound_validation")
    def _compute_stage(self):
        for invoice in self:
            status = invoice.chorus_status
            if invoice.handled_outside and not invoice.move_id:
                invoice.stage = "outside"
            elif invoice.move_id or status in ("MANDATEE", "MISE_A_DISPOSITION_COMPTABLE", "COMPTABILISEE",
                                              "MISE_EN_PAIEMENT"):
                invoice.stage = "mandated"
            elif status == "REJETEE":
                invoice.stage = "rejected"
            elif status in ("SUSPENDUE", "A_RECYCLER"):
                invoice.stage = "waiting"
            elif status in VALIDATION_STATUSES and \
                    invoice.company_id.chorus_inbound_validation and not invoice.internal_validated:
                # Checked inside before anything is said to the supplier ("validation interne").
                invoice.stage = "to_validate"
            elif status == "SERVICE_FAIT":
                invoice.stage = "to_mandate"
            elif status in ("MISE_A_DISPOSITION", "COMPLETEE"):
                invoice.stage = "to_process"
            else:
                invoice.stage = "other"

    @api.depends("deposit_date", "company_id.chorus_inbound_start_date")
    def _compute_handled_outside(self):
        for invoice in self:
            start = invoice.company_id.chorus_inbound_start_date
            invoice.handled_outside = bool(start and invoice.deposit_date and invoice.deposit_date < start)

    @api.depends("origin_number", "supplier_siret", "company_id")
    def _compute_origin_id(self):
        # Not stored: the corrected invoice may be imported after its credit note.
        for invoice in self:
            invoice.origin_id = invoice.origin_number and invoice.invoice_type == "AVOIR" and self.search([
                ("company_id", "=", invoice.company_id.id), ("supplier_siret", "=", invoice.supplier_siret),
                ("name", "=", invoice.origin_number), ("invoice_type", "=", "FACTURE"),
                ("id", "!=", invoice._origin.id or 0)], limit=1)

    @api.depends("amount_total", "amount_to_pay")
    def _compute_amount_paid_before(self):
        for invoice in self:
            invoice.amount_paid_before = invoice.currency_id.round(invoice.amount_total - invoice.amount_to_pay)

    @api.depends("chorus_supplier_id", "supplier_iban")
    def _compute_partner_candidates(self):
        for invoice in self:
            invoice.partner_candidate_ids = invoice.chorus_supplier_id.candidate_ids

    @api.depends("partner_id.siret", "supplier_siret")
    def _compute_siret_warning(self):
        for invoice in self:
            partner_siret = invoice.partner_id.commercial_partner_id.siret
            invoice.siret_warning = partner_siret and invoice.supplier_siret and \
                partner_siret.replace(" ", "") != invoice.supplier_siret.replace(" ", "") and _(
                    "The supplier's SIRET %(partner_siret)s differs from the invoicing SIRET %(siret)s: another "
                    "establishment of the same company, or another company? Check before mandating.",
                    partner_siret=partner_siret, siret=invoice.supplier_siret) or False

    @api.depends("partner_id", "partner_id.bank_ids", "partner_id.bank_ids.allow_out_payment", "supplier_iban")
    def _compute_iban_warning(self):
        for invoice in self:
            invoice.iban_warning, invoice.iban_new, invoice.iban_other = invoice._chorus_iban_warning()

    @api.depends("partner_id")
    def _compute_partner_history(self):
        for invoice in self:
            partner = invoice.partner_id.commercial_partner_id
            if not partner:
                invoice.partner_inbound_count = invoice.partner_bill_count = 0
                continue
            invoice.partner_inbound_count = self.search_count([
                ("partner_id", "child_of", partner.id), ("id", "!=", invoice._origin.id)])
            invoice.partner_bill_count = self.env["account.move"].search_count(
                partner._chorus_vendor_bill_domain(invoice.company_id))


    def action_open_chorus_supplier(self):
        self.ensure_one()
        return self.chorus_supplier_id._get_records_action(name=_("Supplier in Chorus Pro"))

    def action_open_partner_inbound(self):
        self.ensure_one()
        return self.search([("partner_id", "child_of", self.partner_id.commercial_partner_id.id),
                            ("id", "!=", self.id)])._get_records_action(name=_("Received invoices"))

    def action_open_partner_bills(self):
        self.ensure_one()
        return self.env["account.move"].search(self.partner_id._chorus_vendor_bill_domain(self.company_id)) \
            ._get_records_action(name=_("Vendor bills"))

    def action_view_pdf(self):
        """The invoice's PDF in a new tab (the eye of the list)."""
        self.ensure_one()
        if not self.pdf_attachment_id:
            raise UserError(_("The PDF of %(invoice)s is not downloaded yet: the next import fetches it.",
                              invoice=self.display_name))
        return {"type": "ir.actions.act_url", "target": "new",
                "url": "/web/content/%s?download=false" % self.pdf_attachment_id.id}

    # ------------------------------------------------------------ protection
    def write(self, vals):
        """What comes from Chorus Pro, or from the module's own steps (statuses, validation, mandates), is only
        changed by the module (in sudo), whatever the path (the form, RPC). A user changes the supplier (which
        validates it for all its invoices), the internal validation (validators) and the documents' names."""
        if self.env.su:
            return super().write(vals)
        blocked = [name for name in vals if name not in USER_WRITABLE and not name.startswith(("message_",
                                                                                             "activity_"))]
        if blocked:
            labels = ", ".join(self._fields[name].string if name in self._fields else name for name in blocked)
            raise AccessError(_("%(fields)s of a received invoice come from Chorus Pro or from its processing: they "
                                "cannot be changed directly.", fields=labels))
        vals = dict(vals)
        for command in vals.get("document_ids") or []:
            # The documents are Chorus Pro's: renamed in place, never added, replaced or removed here.
            if command[0] != fields.Command.UPDATE or set(command[2]) - {"name", "description"}:
                raise AccessError(_("Documents: only their names can change; they come from Chorus Pro."))
        if "internal_validated" in vals:
            if vals.pop("internal_validated"):
                self.action_internal_validate()
            else:
                self.action_internal_unvalidate()
        if "partner_id" in vals:
            partner = self.env["res.partner"].browse(vals.pop("partner_id"))
            for invoice in self:
                if invoice.move_id and invoice.partner_id != partner:
                    raise UserError(_("%(invoice)s is mandated: its supplier cannot change any more.",
                                      invoice=invoice.display_name))
                if not partner:
                    continue
                if invoice.chorus_supplier_id:
                    # Remembered for every invoice of this supplier ("Valider les tiers").
                    invoice.chorus_supplier_id.action_choose_partner(partner.id)
                else:
                    invoice.sudo().write({"partner_id": partner.id, "match_method": "manual"})
        return super().write(vals) if vals else True


    def _chorus_status_label(self, status=None):
        """The label of ``status`` (by default this invoice's) in the user's language."""
        status = status or self.chorus_status
        return selection_labels(self, "chorus_status").get(status, status or "")


    def _chorus_lock(self):
        """The row lock of this invoice (then its fresh values), or False when another worker holds it."""
        if not try_lock_row(self):
            return False
        self.invalidate_recordset()
        return True

    def _chorus_commit(self):
        commit_if_allowed(self.env)

