import contextlib
import json
import logging
from datetime import timedelta, timezone

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import float_compare

from ..chorus import downloads
from ..chorus import exceptions as chorus_exc
from ..chorus.replies import PARIS, Processed, ReceivedInvoiceSummary
from ..tools.iban import normalize_iban
from ..tools.transaction import commit_if_allowed, concurrent_update_skipped, rollback_if_allowed, try_lock_row
from .account_move import CHORUS_INVOICE_STATUSES, _known_status

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
# Invoices downloaded together (telecharger groupe); halved when Chorus Pro says it is too large.
DOWNLOAD_BATCH = 25
PAGE_SIZE = 100
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
    chorus_supplier_id = fields.Many2one(
        "chorus.supplier", string="Supplier in Chorus Pro", readonly=True, index=True, check_company=True,
        help="The supplier as Chorus Pro knows it: the partner it is validated as applies to all its invoices.")
    supplier_name = fields.Char(readonly=True)
    supplier_siret = fields.Char(string="Supplier SIRET", readonly=True)
    supplier_iban = fields.Char(string="Supplier IBAN", readonly=True)
    supplier_bic = fields.Char(string="Supplier BIC", readonly=True)
    recipient_siret = fields.Char(string="Recipient SIRET", readonly=True)
    recipient_structure_id = fields.Char(string="Recipient Structure", readonly=True, help="idStructureCPP")
    service_code = fields.Char(readonly=True, string="Service Code")
    engagement = fields.Char(readonly=True, string="Engagement")
    contract = fields.Char(readonly=True, string="Contract")
    invoice_date = fields.Date(readonly=True)
    deposit_date = fields.Date(readonly=True)
    availability_date = fields.Date(
        readonly=True, help="The day Chorus Pro made the invoice available: the payment delay starts then.")
    currency_id = fields.Many2one("res.currency", readonly=True, required=True,
                                  default=lambda self: self.env.ref("base.EUR"))
    amount_untaxed = fields.Monetary(readonly=True, string="Untaxed Amount")
    amount_tax = fields.Monetary(readonly=True, string="Taxes")
    amount_total = fields.Monetary(readonly=True, string="Total")
    amount_to_pay = fields.Monetary(readonly=True, string="Amount to Pay")
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
             "while it is suspended; frozen once mandated.")
    days_left = fields.Integer(compute="_compute_days_left", help="Days left before the due date; negative: late.")
    move_id = fields.Many2one("account.move", readonly=True, string="Mandate Bill", copy=False, check_company=True)
    # A mandate asked for: its bill is made at once, or by the cron if the worker stopped before.
    mandate_state = fields.Selection([("requested", "Being created"), ("refused", "Not mandated")], readonly=True,
                                     copy=False, string="Mandate Request")
    mandate_error = fields.Text(readonly=True, copy=False, string="Why not mandated")
    mandate_journal_id = fields.Many2one("account.journal", readonly=True, copy=False, check_company=True)
    mandate_account_id = fields.Many2one("account.account", readonly=True, copy=False, string="Article")
    mandate_analytic_distribution = fields.Json(readonly=True, copy=False)
    sync_state = fields.Selection([("pending", "Pending"), ("done", "Done"), ("error", "Error")],
                                  readonly=True, string="Sync with Chorus Pro", tracking=True)
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
        ("other", "Other"),
    ], compute="_compute_stage", store=True, index=True)

    _sql_constraints = [
        ("chorus_invoice_unique", "unique(company_id, chorus_invoice_id)",
         "This Chorus Pro invoice is already imported in this company."),
    ]

    # ------------------------------------------------------------- computes
    def _compute_days_left(self):
        today = fields.Date.context_today(self)
        for invoice in self:
            invoice.days_left = (invoice.date_due - today).days if invoice.date_due else 0

    @api.depends("chorus_status", "move_id", "internal_validated", "sync_state",
                 "company_id.chorus_inbound_validation")
    def _compute_stage(self):
        for invoice in self:
            status = invoice.chorus_status
            if invoice.move_id or status in ("MANDATEE", "MISE_A_DISPOSITION_COMPTABLE", "COMPTABILISEE",
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

    @api.depends("chorus_supplier_id", "supplier_iban")
    def _compute_partner_candidates(self):
        for invoice in self:
            invoice.partner_candidate_ids = invoice.chorus_supplier_id.candidate_ids

    @api.depends("partner_id", "partner_id.bank_ids", "supplier_iban")
    def _compute_iban_warning(self):
        for invoice in self:
            invoice.iban_warning, invoice.iban_new = invoice._chorus_iban_warning()

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

    # -------------------------------------------------------------- due dates
    def _chorus_status_day(self, status, after=None):
        """The French day the invoice last entered ``status`` (after the day ``after``), from its history."""
        self.ensure_one()
        days = [_paris_day(line.date) for line in self.status_history_ids if line.status == status and line.date]
        days = [day for day in days if after is None or day >= after]
        return max(days) if days else None

    def _chorus_compute_due_dates(self):
        """The end of the global payment delay, as the Code de la commande publique counts it.

        It starts when Chorus Pro makes the invoice available (R2192-12). An interruption (SUSPENDUE, once,
        R2192-27) stops it: no due date until the supplier completes the invoice; then a new delay opens: 30
        days, or what was left at the interruption if more (R2192-29). A mandated invoice keeps its due date
        (it is the bill's), whatever the company's delay becomes.
        """
        for invoice in self.filtered(lambda i: not i.move_id):
            start = invoice.availability_date or invoice.deposit_date
            delay = invoice.company_id.chorus_payment_delay_days or 30
            due = start and start + timedelta(days=delay)
            suspended = invoice._chorus_status_day("SUSPENDUE")
            if due and suspended:
                completed = invoice._chorus_status_day("COMPLETEE", after=suspended)
                if completed:
                    due = completed + timedelta(days=max(30, (due - suspended).days))
                else:
                    due = False  # interrupted: the delay runs again once the supplier completes it
            if invoice.date_due != due:
                invoice.sudo().date_due = due

    # -------------------------------------------------------------- matching
    def _chorus_iban_warning(self):
        """(Why the invoice's IBAN is suspect, or False; whether it is nobody's in Odoo)."""
        self.ensure_one()
        partner = self.partner_id.commercial_partner_id
        iban = normalize_iban(self.supplier_iban)
        if not partner or not iban:
            return False, False
        holders = self.env["res.partner.bank"].sudo().search([
            ("sanitized_acc_number", "=", iban), ("company_id", "in", (False, self.company_id.id)),
        ]).partner_id.commercial_partner_id
        if holders and partner not in holders:
            return _("The IBAN %(iban)s of this invoice belongs to %(holder)s, not to %(partner)s. Check it with "
                     "the supplier by phone, with a number you already had, before any payment: it is how invoice "
                     "fraud starts.", iban=self.supplier_iban, holder=", ".join(holders.mapped("display_name")),
                     partner=partner.display_name), False
        if not holders:
            return _("The IBAN %(iban)s of this invoice is none of %(partner)s's bank accounts. Check it with the "
                     "supplier by phone, with a number you already had, then confirm it (Confirm the IBAN): it is how "
                     "invoice fraud starts.", iban=self.supplier_iban, partner=partner.display_name), True
        return False, False

    def _chorus_match_supplier(self):
        """Each invoice gets the partner its Chorus supplier was validated as; a supplier never validated is
        linked at once when one partner has its IBAN or its SIRET (a SIREN match is only proposed)."""
        self.chorus_supplier_id._chorus_auto_match()
        for supplier, invoices in self.filtered(lambda i: not i.partner_id and i.chorus_supplier_id).grouped(
                "chorus_supplier_id").items():
            if supplier.state == "validated" and supplier.partner_id:
                invoices.sudo().write({"partner_id": supplier.partner_id.id, "match_method": supplier.match_method})

    def action_match_supplier(self):
        self._chorus_match_supplier()
        if len(self) == 1 and not self.partner_id:
            raise UserError(_("No supplier has the IBAN or SIRET of %(invoice)s: pick one among the candidates or "
                              "create it from the Chorus Pro data.", invoice=self.display_name))
        return True

    def action_create_supplier(self):
        """Create the supplier from the Chorus Pro data (with its SIRET and bank account), for all its invoices."""
        self.ensure_one()
        if self.partner_id:
            raise UserError(_("%(invoice)s already has a supplier.", invoice=self.display_name))
        self.chorus_supplier_id.action_create_partner()
        return True

    def action_confirm_iban(self):
        """The invoice's new IBAN, checked with the supplier, added to its partner's bank accounts."""
        self.ensure_one()
        self.chorus_supplier_id._chorus_confirm_iban(self.supplier_iban, self.supplier_bic)
        return True

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

    # ------------------------------------------------------ internal validation
    def _chorus_check_validator(self):
        if not self.env.user.has_group("l10n_fr_chorus_efacture.group_chorus_inbound_validator"):
            raise AccessError(_("Only the Chorus Pro inbound validators can validate received invoices."))

    def action_internal_validate(self):
        """"Validation interne": checked inside before anything is said to the supplier or mandated. From a list,
        the invoices that cannot be validated are reported and the others validated."""
        self._chorus_check_validator()
        refused = self.filtered(lambda i: i.move_id or i.chorus_status not in VALIDATION_STATUSES)
        if refused and len(self) == 1:
            raise UserError(_("%(invoice)s cannot be validated at the status %(status)s.",
                              invoice=self.display_name, status=self._chorus_status_label()))
        to_validate = (self - refused).filtered(lambda i: not i.internal_validated)
        to_validate.sudo().write({"internal_validated": True, "validated_by_id": self.env.user.id,
                                  "validated_date": fields.Datetime.now()})
        for invoice in to_validate:
            invoice.message_post(body=_("Validated internally by %(user)s.", user=self.env.user.name))
        if not refused:
            return True
        return {"type": "ir.actions.client", "tag": "display_notification", "params": {
            "title": _("%(count)s invoices validated", count=len(to_validate)),
            "message": _("Not validated (already mandated, rejected or waiting for the supplier): %(list)s",
                         list=", ".join(refused.mapped("display_name"))),
            "type": "warning", "sticky": True, "next": {"type": "ir.actions.client", "tag": "soft_reload"}}}

    def action_internal_unvalidate(self):
        self._chorus_check_validator()
        if self.filtered("move_id"):
            raise UserError(_("A mandated invoice keeps its validation."))
        self.sudo().write({"internal_validated": False, "validated_by_id": False, "validated_date": False})
        return True

    # ------------------------------------------------------------ statuses
    def _chorus_allowed_statuses(self):
        """The statuses the buyer may set now: those Chorus Pro allows after the current one (as last asked,
        see res.company._chorus_refresh_allowed_statuses), without a second suspension (CCP R2192-27)."""
        self.ensure_one()
        if self.sync_state == "pending" or self.move_id or self._chorus_awaits_validation():
            return []
        allowed = self.company_id._chorus_next_statuses(self.chorus_status) or []
        return [status for status in PROCESSING_STATUSES
                if status in allowed and not (status == "SUSPENDUE" and self.was_suspended)]

    def _chorus_awaits_validation(self):
        """The company checks its invoices inside before telling the supplier anything (validation interne)."""
        self.ensure_one()
        return self.company_id.chorus_inbound_validation and not self.internal_validated

    def _chorus_add_history(self, status, date=None, comment=None, origin="chorus"):
        self.ensure_one()
        self.env["chorus.inbound.invoice.status"].sudo().create({
            "inbound_id": self.id, "status": status, "date": date or fields.Datetime.now(),
            "comment": comment or False, "user_id": self.env.user.id if origin == "odoo" else False,
        })

    def _chorus_request_status(self, status, reason=None, mandate_number=None):
        """Queue a status for Chorus Pro, then try to push it at once."""
        self._chorus_queue_status(status, reason=reason, mandate_number=mandate_number)
        self._chorus_push_statuses()

    def _chorus_queue_status(self, status, reason=None, mandate_number=None):
        """Queue a status for Chorus Pro (sent by _chorus_push_statuses, now or by the cron).

        MANDATEE comes from the mandates, which check their own conditions; it is queued even while Chorus Pro
        is down.
        """
        if status != MANDATED:
            for company, invoices in self.grouped("company_id").items():
                company._chorus_refresh_allowed_statuses(invoices.mapped("chorus_status"))
        for invoice in self:
            if status != MANDATED and invoice._chorus_awaits_validation():
                raise UserError(_("%(invoice)s must be validated internally (Internal validation) before it is "
                                  "processed in Chorus Pro.", invoice=invoice.display_name))
            if status != MANDATED and status not in invoice._chorus_allowed_statuses():
                raise UserError(_("%(invoice)s cannot go from %(current)s to %(new)s in Chorus Pro.",
                                  invoice=invoice.display_name, current=invoice._chorus_status_label(),
                                  new=dict(CHORUS_INVOICE_STATUSES)[status]))
        self.sudo().write({"sync_state": "pending", "sync_status": status, "sync_reason": reason or False,
                    "sync_mandate_number": mandate_number or False, "sync_error": False,
                    "sync_attempt_date": False})

    def _chorus_status_label(self):
        return dict(CHORUS_INVOICE_STATUSES).get(self.chorus_status, self.chorus_status or "")

    def _chorus_push_statuses(self):
        """Send the pending statuses (traiter recue). Chorus Pro down: they stay pending for the cron.

        Each invoice in a transaction of its own; one another worker holds or has just changed is left to it
        (the next run looks at it again).
        """
        # Statuses come from the module's own steps: written in sudo (see write()), by the user who asked.
        self = self.sudo()
        for company, invoices in self.filtered(lambda i: i.sync_state == "pending").grouped("company_id").items():
            try:
                client = company._chorus_get_client()
            except UserError as error:
                invoices.write({"sync_error": error.args[0]})
                continue
            for invoice in invoices:
                with concurrent_update_skipped(self.env):
                    invoice._chorus_push_one(client)

    def _chorus_push_one(self, client):
        self.ensure_one()
        # Locked, then read again: another worker may have pushed it since this run listed it, or be pushing it
        # right now (its attempt is committed before its call, which releases the lock).
        if not self._chorus_lock() or self.sync_state != "pending" or self._chorus_push_in_flight():
            return
        try:
            reply = self._chorus_already_applied(client)
            if not reply:
                # Known before the call: a lost reply or a stopped worker is looked up next time.
                self.write({"sync_attempt_date": fields.Datetime.now(), "sync_error": False})
                self._chorus_commit()
                reply = client.process_received_invoice(
                    int(self.chorus_invoice_id), self.sync_status, reason=self.sync_reason or None,
                    mandate_number=self.sync_mandate_number or None)
        except chorus_exc.ChorusFunctionalError as error:
            # Chorus Pro refused: the status stays as it was; the user reads why.
            message = self.env["res.company"]._chorus_error_message(error)
            self.write({"sync_state": "error", "sync_error": message, "sync_attempt_date": False})
            self.message_post(body=_("Chorus Pro refused the status %(status)s: %(error)s",
                                     status=dict(CHORUS_INVOICE_STATUSES)[self.sync_status], error=message))
            self._chorus_commit()
            return
        except chorus_exc.ChorusError as error:
            # Down, slow, or the reply lost: still pending; the retry first asks Chorus Pro whether the
            # status was applied (_chorus_already_applied).
            self.write({"sync_error": self.env["res.company"]._chorus_error_message(error)})
            self._chorus_commit()
            return
        status = _known_status(reply.status) or self.sync_status
        values = {"chorus_status": status, "chorus_status_date": fields.Datetime.now(),
                  "chorus_status_comment": self.sync_reason or False,
                  "sync_state": "done", "sync_error": False, "sync_attempt_date": False}
        if status == "SUSPENDUE":
            values["was_suspended"] = True
        self.write(values)
        self._chorus_add_history(status, values["chorus_status_date"], self.sync_reason, origin="odoo")
        self._chorus_compute_due_dates()
        body = _("Chorus Pro status set to %(status)s.", status=self._chorus_status_label())
        if self.sync_reason:
            body = _("Chorus Pro status set to %(status)s: %(reason)s", status=self._chorus_status_label(),
                     reason=self.sync_reason)
        if self.sync_mandate_number:
            body = _("Chorus Pro status set to %(status)s with the mandate %(number)s.",
                     status=self._chorus_status_label(), number=self.sync_mandate_number)
        self.message_post(body=body)
        self._chorus_commit()

    def _chorus_push_in_flight(self):
        """An attempt committed, not ended (no error written after it), and recent enough for its call to be
        under way: another worker is pushing this status. Past the call's time-out, it is over."""
        self.ensure_one()
        if not self.sync_attempt_date or self.sync_error:
            return False
        limit = timedelta(seconds=self.company_id.chorus_timeout or 30) + PUSH_MARGIN
        return self.sync_attempt_date > fields.Datetime.now() - limit

    def _chorus_already_applied(self, client):
        """After an attempt that got no clear answer (a lost reply, a stopped worker), Chorus Pro may already
        have the status: ask first."""
        self.ensure_one()
        if not (self.sync_error or self.sync_attempt_date):
            return None
        current = client.get_received_invoice(int(self.chorus_invoice_id))
        if current.status == self.sync_status:
            return Processed(invoice_id=current.id, number=current.number, status=current.status, date=None)
        return None

    def _chorus_lock(self):
        """The row lock of this invoice (then its fresh values), or False when another worker holds it."""
        if not try_lock_row(self):
            return False
        self.invalidate_recordset()
        return True

    def _chorus_commit(self):
        commit_if_allowed(self.env)

    @api.model
    def _cron_chorus_push_statuses(self):
        """What received invoices have under way: mandates a stopped worker left half-done, then the statuses
        waiting for Chorus Pro."""
        self.search([("mandate_state", "=", "requested")])._chorus_create_mandates()
        self.search([("sync_state", "=", "pending")])._chorus_push_statuses()

    # -------------------------------------------------------------- mandates
    def _chorus_mandate_refusal(self, company=None):
        """Why this invoice cannot be mandated now, or False."""
        self.ensure_one()
        if self.move_id:
            return _("already mandated by %(bill)s.", bill=self.move_id.display_name)
        if self.chorus_status != "SERVICE_FAIT":
            return _("its status is %(status)s; it must be Service done first.",
                     status=self._chorus_status_label() or _("unknown"))
        if self.sync_state == "pending":
            return _("a status is still waiting to be sent to Chorus Pro.")
        if self.company_id.chorus_inbound_validation and not self.internal_validated:
            return _("it is not validated internally yet.")
        if not self.partner_id:
            return _("it has no supplier: match or create it first.")
        if self.iban_warning:
            # Paying a new IBAN unchecked is how invoice fraud succeeds.
            return _("its IBAN %(iban)s is none of %(partner)s's bank accounts: check it with the supplier, then "
                     "confirm it (Confirm the IBAN), or choose the right supplier.", iban=self.supplier_iban,
                     partner=self.partner_id.display_name)
        if company and self.company_id != company:
            return _("it belongs to another company; mandate it from that company.")
        return False

    def _chorus_request_mandates(self, journal, account, analytic_distribution=None):
        """Mandate these invoices: the request is saved first (the cron finishes it if the worker stops), then
        each bill is made in a transaction of its own. Returns {invoice: its bill, or why not}."""
        self = self.sudo()
        self.write({"mandate_state": "requested", "mandate_error": False, "mandate_journal_id": journal.id,
                    "mandate_account_id": account.id,
                    "mandate_analytic_distribution": analytic_distribution or False})
        self._chorus_commit()
        return self._chorus_create_mandates()

    def _chorus_create_mandates(self):
        """The bill of each requested invoice, and its MANDATEE queued, committed together; then Chorus Pro is
        told. A refusal stops only that invoice. Returns {invoice: its bill, or why not}."""
        self = self.sudo()
        results = {}
        for invoice in self.filtered(lambda i: i.mandate_state == "requested"):
            with concurrent_update_skipped(self.env):
                results[invoice] = invoice._chorus_create_mandate()
        self.filtered(lambda i: i.sync_state == "pending" and i.sync_status == MANDATED)._chorus_push_statuses()
        return results

    def _chorus_create_mandate(self):
        """The bill of this requested invoice and its queued MANDATEE, committed together: the bill, or why not."""
        self.ensure_one()
        if not self._chorus_lock():
            return _("another user is mandating it right now.")
        if self.mandate_state != "requested":  # read again under the lock: another worker may have done it
            return self.move_id or self.mandate_error
        reason = self._chorus_mandate_refusal()
        if not reason:
            try:
                with self.env.cr.savepoint():
                    bill = self._chorus_create_bill()
                    self.write({"move_id": bill.id, "mandate_state": False, "mandate_error": False})
                    self._chorus_queue_status(MANDATED, mandate_number=bill.name)
            except UserError as error:
                reason = error.args[0]
        if reason:
            self.write({"mandate_state": "refused", "mandate_error": reason})
            self.message_post(body=_("Not mandated: %(reason)s", reason=reason))
        self._chorus_commit()
        return reason or self.move_id

    def _chorus_purchase_tax(self, rate):
        taxes = self.env["account.tax"].search([
            ("company_id", "=", self.company_id.id), ("type_tax_use", "=", "purchase"),
            ("amount_type", "=", "percent"), ("amount", "=", rate), ("price_include", "=", False),
        ])
        # Prefer the plain deductible VAT on goods and services over reverse charge or immobilisation taxes.
        plain = taxes.filtered(lambda t: len(t.invoice_repartition_line_ids) == 2)
        return (plain or taxes)[:1]

    def _chorus_advance_account(self):
        """Where the advances already paid to suppliers are: the company's setting, else 4091 of the French chart."""
        company = self.company_id
        return company.chorus_advance_account_id or self.env["account.account"].search([
            ("company_ids", "in", company.id), ("code", "=like", "4091%")], limit=1)

    def _chorus_bill_lines(self):
        """One line per VAT rate: the amount including VAT when the company does not recover VAT (most public
        bodies), the untaxed base with the purchase tax of the rate when it does; then the advances already paid
        (amount to pay below the total), deducted."""
        self.ensure_one()
        recoverable = self.company_id.chorus_vat_recoverable
        lines = []
        for tax_line in self.tax_line_ids or [False]:
            rate = tax_line.rate if tax_line else 0.0
            base = tax_line.base if tax_line else self.amount_untaxed
            amount = tax_line.amount if tax_line else self.amount_tax
            tax = self.env["account.tax"]
            if recoverable and rate:
                tax = self._chorus_purchase_tax(rate)
                if not tax:
                    raise UserError(_("%(invoice)s: no purchase tax of %(rate)s %% exists in %(company)s; create it "
                                      "(Accounting > Configuration > Taxes).", invoice=self.display_name,
                                      rate=rate, company=self.company_id.name))
            if recoverable:
                name = _("%(number)s - VAT %(rate)s %%", number=self.name, rate=rate)
            else:
                name = _("%(number)s - VAT %(rate)s %% included", number=self.name, rate=rate)
            lines.append(fields.Command.create({
                "name": name, "account_id": self.mandate_account_id.id, "quantity": 1,
                "price_unit": base if recoverable else base + amount,
                "tax_ids": [fields.Command.set(tax.ids)],
                "analytic_distribution": self.mandate_analytic_distribution or False,
            }))
        rounding = self.currency_id.rounding
        to_pay = self.amount_to_pay
        if to_pay and float_compare(to_pay, self.amount_total, precision_rounding=rounding) > 0:
            raise UserError(_("%(invoice)s: its amount to pay %(to_pay)s is above its total %(total)s in Chorus Pro; "
                              "reject it or ask the supplier to correct it.", invoice=self.display_name,
                              to_pay=to_pay, total=self.amount_total))
        if to_pay and float_compare(to_pay, self.amount_total, precision_rounding=rounding) < 0:
            account = self._chorus_advance_account()
            if not account:
                raise UserError(_("%(invoice)s: %(advance)s were already paid in advance; choose where advances "
                                  "are booked (Settings > Invoicing > Chorus Pro, Advances to Suppliers Account).",
                                  invoice=self.display_name, advance=self.amount_total - to_pay))
            lines.append(fields.Command.create({
                "name": _("%(number)s - advances already paid", number=self.name), "account_id": account.id,
                "quantity": 1, "price_unit": -(self.amount_total - to_pay), "tax_ids": [fields.Command.clear()],
            }))
        return lines

    def _chorus_match_vat(self, bill):
        """The bill's VAT as Chorus Pro gives it, rate by rate, to the cent: Odoo's rounding may differ by a cent
        from the supplier's; the tax lines are adjusted (as a user does it in the bill's totals)."""
        self.ensure_one()
        chorus_vat = {}
        for line in self.tax_line_ids:
            chorus_vat[line.rate] = chorus_vat.get(line.rate, 0.0) + abs(line.amount)
        totals = bill.tax_totals
        changed = False
        for subtotal in totals.get("subtotals", []):
            for group in subtotal.get("tax_groups", []):
                rates = set(self.env["account.tax"].browse(group.get("involved_tax_ids") or []).mapped("amount"))
                if not rates or not rates <= set(chorus_vat):
                    continue
                wanted = self.currency_id.round(sum(chorus_vat[rate] for rate in rates))
                if not self.currency_id.is_zero(group["tax_amount_currency"] - wanted):
                    group["tax_amount_currency"] = wanted
                    changed = True
        if changed:
            bill.tax_totals = totals

    def _chorus_create_bill(self):
        """The posted vendor bill (credit note for an AVOIR) of this invoice: its lines per VAT rate, the VAT and the
        amount due of Chorus Pro, the due date of the legal delay, the documents attached."""
        self.ensure_one()
        bill = self.env["account.move"].with_company(self.company_id).create({
            "move_type": "in_refund" if self.invoice_type == "AVOIR" else "in_invoice",
            "company_id": self.company_id.id,
            "journal_id": self.mandate_journal_id.id,
            "partner_id": self.partner_id.id,
            "invoice_date": self.invoice_date or self.deposit_date,
            "date": fields.Date.context_today(self),
            "ref": self.name,
            "chorus_invoice_id": self.chorus_invoice_id,
            "chorus_inbound_id": self.id,
            "currency_id": self.currency_id.id,
            "invoice_line_ids": self._chorus_bill_lines(),
        })
        if self.company_id.chorus_vat_recoverable:
            self._chorus_match_vat(bill)
        bill.write({"invoice_payment_term_id": False, "invoice_date_due": self.date_due})
        expected = self.amount_to_pay or self.amount_total
        if float_compare(bill.amount_total, expected, precision_rounding=self.currency_id.rounding):
            # Only when Chorus Pro's own amounts do not add up (bases + VAT != total).
            raise UserError(_("%(invoice)s: its amounts in Chorus Pro do not add up (untaxed %(untaxed)s + VAT "
                              "%(tax)s, total %(total)s): the bill would be %(bill)s. Mandate it by hand, or reject "
                              "it.", invoice=self.display_name, untaxed=self.amount_untaxed, tax=self.amount_tax,
                              total=self.amount_total, bill=bill.amount_total))
        attachments = self.env["ir.attachment"].search([("res_model", "=", self._name), ("res_id", "=", self.id)])
        copies = self.env["ir.attachment"]
        for attachment in attachments:
            copies |= attachment.copy({"res_model": "account.move", "res_id": bill.id})
        bill.action_post()
        # Posting can move the due date to the payment term's: the legal delay from Chorus Pro wins.
        if bill.invoice_date_due != self.date_due:
            bill.line_ids.filtered(lambda l: l.display_type == "payment_term").date_maturity = self.date_due
        pdf = copies.filtered(lambda a: a.name == self.pdf_attachment_id.name)[:1] or copies[:1]
        if pdf:
            bill.message_main_attachment_id = pdf
        bill.message_post(
            body=_("Mandate of the invoice %(number)s received through Chorus Pro (Chorus invoice number "
                   "%(chorus)s).", number=self.name, chorus=self.chorus_invoice_id),
            attachment_ids=copies.ids)
        self.message_post(body=_("Mandate %(bill)s created.", bill=bill.name))
        return bill

    def action_retry_sync(self):
        """Send the queued status again (after a refusal, once its cause is fixed in Chorus Pro)."""
        self.filtered(lambda i: i.sync_state == "error" and i.sync_status).sudo().write({"sync_state": "pending"})
        self.filtered(lambda i: i.sync_state == "pending")._chorus_push_statuses()
        return True

    def action_cancel_sync(self):
        """Give up the queued status that Chorus Pro refused: the invoice keeps the status Chorus Pro has.
        (Not a mandate's: its bill exists, Chorus Pro must be told.)"""
        self.filtered(lambda i: i.sync_state == "error" and i.sync_status != MANDATED).sudo().write({
            "sync_state": False, "sync_status": False, "sync_reason": False, "sync_mandate_number": False,
            "sync_error": False, "sync_attempt_date": False})
        return True

    def action_process(self):
        # Ask Chorus Pro now which statuses may follow: the wizard only reads the answer.
        for company, invoices in self.grouped("company_id").items():
            company._chorus_refresh_allowed_statuses(invoices.mapped("chorus_status"))
        return {
            "type": "ir.actions.act_window", "name": _("Process in Chorus Pro"),
            "res_model": "chorus.inbound.process.wizard", "view_mode": "form", "target": "new",
            "context": {"default_inbound_ids": self.ids},
        }

    def action_mandate(self):
        return {
            "type": "ir.actions.act_window", "name": _("Mandate"),
            "res_model": "chorus.inbound.mandate.wizard", "view_mode": "form", "target": "new",
            "context": {"default_inbound_ids": self.ids},
        }

    # --------------------------------------------------------------- import
    def action_import(self):
        """"Check for new invoices" (the menu, and the list's button, which passes the selected ids: the selection
        plays no part): import for the current companies now."""
        if not self.env.user.has_group("account.group_account_invoice"):
            raise UserError(_("Only invoicing users can import invoices from Chorus Pro."))
        # The logs are the managers' (menu Imports); the import's summary is read here for the user.
        logs = self.env["chorus.inbound.import.log"].sudo()
        for company in self.env.companies.filtered("chorus_receive"):
            logs |= self._chorus_import_company(company)
        if not logs:
            raise UserError(_("No company of yours receives invoices through Chorus Pro: tick \"Receive invoices "
                              "through Chorus Pro\" in Settings > Invoicing > Chorus Pro."))
        lines = []
        for log in logs:
            lines.append(_("%(company)s: %(new)s new, %(updated)s status changes.", company=log.company_id.name,
                           new=log.count_created, updated=log.count_updated))
            if log.message:
                lines.append(log.message)
        message = "\n".join(lines)
        return {"type": "ir.actions.client", "tag": "display_notification", "params": {
            "title": _("Chorus Pro invoices checked"), "message": message, "sticky": False,
            "type": "warning" if "error" in logs.mapped("state") else "success",
            "next": {"type": "ir.actions.client", "tag": "soft_reload"}}}

    @api.model
    def _cron_chorus_inbound_import(self):
        for company in self.env["res.company"].sudo().search([("chorus_receive", "=", True)]):
            self._chorus_import_company(company)

    @api.model
    def _chorus_import_company(self, company):
        """Import what Chorus Pro has for the company since the last complete run; commits page by page.

        One import per company at a time (a lock held on a connection of its own, so that it is released
        whatever happens to this transaction). An invoice that cannot be imported goes to the retry list and
        the import moves on; the window moves once every page was read.
        """
        # The import writes what Chorus Pro says, whoever triggers it.
        self = self.sudo().with_company(company)
        company = company.sudo()
        Log = self.env["chorus.inbound.import.log"]
        with self._chorus_import_lock(company) as locked:
            if not locked:
                log = Log.create({"company_id": company.id, "state": "error", "date_end": fields.Datetime.now(),
                                  "message": _("An import is already running for this company; this one stops "
                                               "without doing anything.")})
                self._chorus_commit()
                return log
            # This worker holds the company's lock: a log still "running" is one whose worker stopped.
            Log.search([("company_id", "=", company.id), ("state", "=", "running")]).write({
                "state": "interrupted", "date_end": fields.Datetime.now(),
                "message": _("The worker stopped during this import; the next import took over.")})
            log = Log.create({"company_id": company.id})
            self._chorus_commit()
            counts = {"found": 0, "created": 0, "updated": 0, "documents": 0, "retried": 0, "failed": 0}
            errors = []
            try:
                self._chorus_import_run(company, log, counts, errors)
            except (chorus_exc.ChorusError, UserError) as error:
                errors.append(error.args[0] if isinstance(error, UserError)
                              else self.env["res.company"]._chorus_error_message(error))
            except Exception as error:
                # A database error (or a bug): what was committed stays; this run's transaction is dropped.
                if not rollback_if_allowed(self.env):
                    raise
                _logger.exception("Chorus Pro import of company %s stopped", company.id)
                errors.append(_("The import stopped on an unexpected error (%(error)s); what was read before is "
                                "kept, the next import takes over.", error=str(error)[:300]))
            log.write({"state": "error" if errors else "done", "date_end": fields.Datetime.now(),
                       "count_found": counts["found"], "count_created": counts["created"],
                       "count_updated": counts["updated"], "count_documents": counts["documents"],
                       "count_retried": counts["retried"], "count_failed": counts["failed"],
                       "message": "\n".join(errors) or False})
            self._chorus_commit()
        return log

    @api.model
    def _chorus_import_run(self, company, log, counts, errors):
        client = company._chorus_get_client()
        Retry = self.env["chorus.inbound.retry"]
        # First what failed before.
        retries = Retry.search([("company_id", "=", company.id)])
        # Tried once a run: the pages below skip what the retry pass just tried.
        tried = set(retries.mapped("chorus_invoice_id"))
        if retries:
            counts["retried"] = self._chorus_import_retries(company, client, retries, counts)
            self._chorus_commit()
        structures = client.get_active_recipient_structures()
        watermark = company.chorus_inbound_watermark
        newest = watermark
        page_size = self.env.context.get("chorus_page_size") or PAGE_SIZE
        for structure in structures:
            for page in client.iter_received_invoice_pages(recipient_id=structure.id, changed_since=watermark,
                                                           page_size=page_size):
                counts["found"] += len(page)
                created, updated = self._chorus_import_page(company, client, page, counts, skip=tried)
                counts["created"] += created
                counts["updated"] += updated
                newest = max([moment for moment in [newest] + [i.status_time for i in page] if moment],
                             default=False)
                log.write({"count_found": counts["found"], "count_created": counts["created"],
                           "count_updated": counts["updated"], "count_failed": counts["failed"]})
                self._chorus_commit()
                # The page is saved: forget its records, so memory stays flat however many pages come.
                self.env.invalidate_all()
        # Every page was read: the next run starts from the latest status time listed. The invoices that
        # failed are in the retry list, tried again by every run.
        company.chorus_inbound_watermark = newest
        self._chorus_commit()
        failed = Retry.search([("company_id", "=", company.id)])
        if failed:
            errors.append(_("%(count)s invoices could not be imported; they are tried again by every import "
                            "(Chorus Pro > Invoices to import again):\n%(list)s", count=len(failed),
                            list="\n".join("- %s: %s" % (r.display_name, r.reason) for r in failed[:20])))
        # Invoices whose documents are still missing (a crash, a time-out, a bad file): downloaded now.
        missing = self.search([("company_id", "=", company.id), ("documents_state", "=", "missing")])
        counts["documents"] = missing._chorus_download_documents(client, errors)
        self._chorus_commit()

    @api.model
    def _chorus_import_retries(self, company, client, retries, counts):
        """Import again the invoices that failed before, read by their Chorus id."""
        failures = {}
        known = set(self.search([("company_id", "=", company.id),
                                 ("chorus_invoice_id", "in", retries.mapped("chorus_invoice_id"))])
                    .mapped("chorus_invoice_id"))
        items = []
        for retry in retries.filtered(lambda r: r.chorus_invoice_id not in known):
            try:
                detail = client.get_received_invoice(int(retry.chorus_invoice_id))
                history = client.get_invoice_history(detail.id)
                items.append((ReceivedInvoiceSummary.from_detail(detail, history), detail, history))
            except chorus_exc.ChorusMalformedReplyError as error:
                failures[retry.chorus_invoice_id] = _("unreadable data from Chorus Pro (%(error)s)",
                                                      error=error.detail)
            except chorus_exc.ChorusFunctionalError as error:
                failures[retry.chorus_invoice_id] = self.env["res.company"]._chorus_error_message(error)
        created = self._chorus_create_received(company, items, failures)
        Retry = self.env["chorus.inbound.retry"]
        Retry._chorus_clear(company, known | set(created.mapped("chorus_invoice_id")))
        Retry._chorus_record(company, failures, {str(item.id): item for item, _d, _h in items})
        counts["failed"] += len(failures)
        return len(created) + len(known)

    @api.model
    @contextlib.contextmanager
    def _chorus_import_lock(self, company):
        """The company's import lock (a PostgreSQL advisory lock), held on a connection of its own: a database
        error in the import's transaction cannot keep it, and it ends with the connection if the worker dies.
        Yields whether it was taken."""
        key = self._chorus_import_lock_key(company)
        with self.env.registry.cursor() as lock_cr:
            lock_cr.execute("SELECT pg_try_advisory_lock(%s)", [key])
            locked = lock_cr.fetchone()[0]
            lock_cr.commit()
            try:
                yield locked
            finally:
                if locked:
                    lock_cr.execute("SELECT pg_advisory_unlock(%s)", [key])
                    lock_cr.commit()

    @api.model
    def _chorus_import_lock_key(self, company):
        """The PostgreSQL advisory lock of the company's import: one worker at a time."""
        return 0x4350524F00000000 + company.id  # "CPRO" in the high bytes: apart from other advisory locks

    @api.model
    def _chorus_import_page(self, company, client, page, counts, skip=()):
        """Create the new invoices of a page of rechercher recipiendaire; update the known ones' status.

        An invoice that cannot be read or stored goes to the retry list; the others go on. ``skip``: Chorus ids
        already tried in this run.
        """
        existing = {i.chorus_invoice_id: i for i in self.search([
            ("company_id", "=", company.id), ("chorus_invoice_id", "in", [str(item.id) for item in page])])}
        updated = 0
        to_create = []
        failures = {}
        for item in page:
            record = existing.get(str(item.id))
            if record:
                if record._chorus_update_status(item):
                    updated += 1
                continue
            if str(item.id) in skip:
                continue
            try:
                detail = client.get_received_invoice(item.id)
                history = None
                if item.status != "MISE_A_DISPOSITION":
                    # The payment delay starts when Chorus Pro made the invoice available: the history says when.
                    history = client.get_invoice_history(item.id)
                to_create.append((item, detail, history))
            except chorus_exc.ChorusMalformedReplyError as error:
                # A field missing or out of range: this invoice is reported and tried again, the others go on.
                failures[str(item.id)] = _("unreadable data from Chorus Pro (%(error)s)", error=error.detail)
            except chorus_exc.ChorusFunctionalError as error:
                failures[str(item.id)] = self.env["res.company"]._chorus_error_message(error)
        created = self._chorus_create_received(company, to_create, failures)
        Retry = self.env["chorus.inbound.retry"]
        Retry._chorus_record(company, failures, {str(item.id): item for item in page})
        Retry._chorus_clear(company, created.mapped("chorus_invoice_id"))
        counts["failed"] += len(failures)
        return len(created), updated

    @api.model
    def _chorus_create_received(self, company, items, failures):
        """Create received invoices from (summary, detail, history) triples: one create for all, or, when the
        database refuses it, one per invoice so that only the one at fault fails (into ``failures``)."""
        vals_list = []
        # Each supplier once per company ("Valider les tiers"): what its invoices are matched by.
        suppliers = self.env["chorus.supplier"]._chorus_for(company, [detail.supplier for _i, detail, _h in items])
        for item, detail, history in items:
            try:
                vals = self._chorus_values(company, item, detail, history)
            except ValueError as error:
                failures[str(item.id)] = str(error)
                continue
            vals["chorus_supplier_id"] = suppliers[detail.supplier.code].id
            vals_list.append(vals)
        # No creation message per record (the import log says what came in).
        Inbound = self.with_context(mail_create_nolog=True, mail_create_nosubscribe=True, tracking_disable=True)
        try:
            with self.env.cr.savepoint():
                new_records = Inbound.create(vals_list)
        except psycopg2.Error:
            self.env.invalidate_all()
            new_records = self.browse()
            for vals in vals_list:
                try:
                    with self.env.cr.savepoint():
                        new_records |= Inbound.create([vals])
                except psycopg2.Error as error:
                    self.env.invalidate_all()
                    reason = getattr(error.diag, "message_primary", None) or str(error)
                    failures[vals["chorus_invoice_id"]] = _("the database refused it (%(error)s)",
                                                            error=reason.strip()[:300])
        # Their history as Chorus Pro gives it (the payment delay counts from it), else their current status.
        histories = {str(item.id): history for item, _detail, history in items if history}
        history_vals = []
        for record in new_records:
            history = histories.get(record.chorus_invoice_id)
            # Oldest first: steps at the same second keep their order (the history lists newest, then highest id).
            if history:
                entries = [(_known_status(e.status), e.time, e.comment) for e in reversed(history.entries)]
            else:
                entries = [(record.chorus_status, record.chorus_status_date, record.chorus_status_comment)]
            history_vals += [{"inbound_id": record.id, "status": status, "date": when, "comment": comment or False}
                             for status, when, comment in entries if status and when]
        self.env["chorus.inbound.invoice.status"].sudo().create(history_vals)
        new_records._chorus_match_supplier()
        new_records._chorus_compute_due_dates()
        return new_records

    def _chorus_update_status(self, item):
        """The status Chorus Pro lists (a ReceivedInvoiceSummary), when it changed there (another user, the
        accountant)."""
        self.ensure_one()
        status = _known_status(item.status)
        if not status or status == self.chorus_status or self.sync_state == "pending":
            return False
        when = item.status_time or fields.Datetime.now()
        self.write({"chorus_status": status, "chorus_status_date": when, "chorus_status_comment": item.comment,
                    "was_suspended": self.was_suspended or status == "SUSPENDUE"})
        self._chorus_add_history(status, when, item.comment)
        self._chorus_compute_due_dates()
        self.message_post(body=_("Chorus Pro status: %(status)s.", status=self._chorus_status_label()))
        return True

    @api.model
    def _chorus_values(self, company, item, detail, history=None):
        """The values of a new received invoice: its summary in the list, its detail, its history (when its
        status is no longer MISE_A_DISPOSITION)."""
        currency = self.env["res.currency"].with_context(active_test=False).search(
            [("name", "=", detail.currency)], limit=1)
        if not currency:
            raise ValueError(_("the currency %(currency)s is unknown in Odoo: activate it.", currency=detail.currency))
        available = item.status_time if item.status == "MISE_A_DISPOSITION" else \
            (history and history.last_time_of("MISE_A_DISPOSITION"))
        main = detail.main_document_id
        return {
            "company_id": company.id,
            "chorus_invoice_id": str(detail.id),
            "name": detail.number,
            "invoice_type": "AVOIR" if detail.invoice_type == "AVOIR" else "FACTURE",
            "supplier_name": detail.supplier.name,
            "supplier_siret": detail.supplier.code,
            "supplier_iban": detail.supplier.iban or False,
            "supplier_bic": detail.supplier.bic or False,
            "recipient_siret": detail.recipient_code or item.recipient_code,
            "recipient_structure_id": str(detail.recipient_id or item.recipient_id or ""),
            "service_code": detail.service_code or item.service_code or False,
            "engagement": detail.engagement or False,
            "contract": detail.contract or False,
            "invoice_date": detail.invoice_date,
            "deposit_date": detail.deposit_date,
            # The day Chorus Pro made it available, in France; the deposit day when no history says it.
            "availability_date": _paris_day(available) if available else detail.deposit_date,
            "currency_id": currency.id,
            "amount_untaxed": detail.amount_untaxed,
            "amount_tax": detail.amount_tax,
            "amount_total": detail.amount_total,
            "amount_to_pay": detail.amount_to_pay,
            "tax_line_ids": [fields.Command.create({"rate": line.rate, "base": line.base, "amount": line.amount})
                             for line in detail.vat_lines],
            "chorus_status": _known_status(item.status),
            "chorus_status_date": item.status_time,
            "chorus_status_comment": item.comment or detail.comment or False,
            "was_suspended": item.status == "SUSPENDUE" or bool(
                history and any(entry.status == "SUSPENDUE" for entry in history.entries)),
            "documents_state": "missing",
            "chorus_document_names": json.dumps([document.name for document in detail.documents
                                                 if document.id != main and document.name]),
        }

    def _chorus_document_refs(self):
        return [downloads.InvoiceRef(id=int(invoice.chorus_invoice_id), number=invoice.name,
                                     document_names=tuple(json.loads(invoice.chorus_document_names or "[]")))
                for invoice in self]

    def _chorus_download_documents(self, client, errors):
        """Download the PDFs with their supporting documents, several invoices per call.

        An invoice whose files cannot be placed (the folder naming of a multi-invoice ZIP is not documented)
        is downloaded again alone, where the layout leaves no doubt.
        """
        done = 0
        batches = [self[i:i + DOWNLOAD_BATCH] for i in range(0, len(self), DOWNLOAD_BATCH)]
        max_bytes = self._chorus_max_download_bytes()
        while batches:
            batch = batches.pop(0)
            try:
                content = client.download_invoices([int(i.chorus_invoice_id) for i in batch])
                placement = downloads.place(content, batch._chorus_document_refs(), max_bytes=max_bytes)
            except (chorus_exc.ChorusTooLargeError, downloads.DownloadError) as error:
                if len(batch) > 1:
                    # Too large, or unreadable: halve the batch until the invoice at fault stands alone,
                    # so that the others are downloaded.
                    half = len(batch) // 2
                    batches[:0] = [batch[:half], batch[half:]]
                else:
                    if isinstance(error, downloads.DownloadError):
                        message = _("Documents of %(invoice)s not readable: %(error)s", invoice=batch.name,
                                    error=str(error))
                    else:
                        message = _("Invoice %(invoice)s: its documents are too large for Chorus Pro to send.",
                                    invoice=batch.name)
                    errors.append(message)
                    batch.documents_error = message
                continue
            except chorus_exc.ChorusError as error:
                errors.append(_("Documents of %(count)s invoices not downloaded: %(error)s", count=len(batch),
                                error=self.env["res.company"]._chorus_error_message(error)))
                continue
            unplaced = batch.filtered(lambda i: int(i.chorus_invoice_id) in placement.unplaced)
            batches[:0] = [invoice for invoice in unplaced]  # each alone
            done += (batch - unplaced)._chorus_attach_documents(placement.files, errors)
            self._chorus_commit()
        return done

    @api.model
    def _chorus_max_download_bytes(self):
        """Largest download unpacked (MB in the system parameter l10n_fr_chorus_efacture.max_download_mb)."""
        megabytes = self.env["ir.config_parameter"].sudo().get_param("l10n_fr_chorus_efacture.max_download_mb")
        try:
            return int(megabytes) * 1024 * 1024 if megabytes else downloads.MAX_UNPACKED_BYTES
        except ValueError:
            return downloads.MAX_UNPACKED_BYTES

    def _chorus_attach_documents(self, files_by_id, errors):
        """Attach each invoice's downloaded files ({Chorus id: [DownloadedFile]}).

        An invoice whose own file is not a PDF gets nothing and is reported; returns how many got their documents.
        """
        Attachment = self.env["ir.attachment"].sudo()
        accepted = self.browse()
        for invoice in self:
            files = files_by_id.get(int(invoice.chorus_invoice_id)) or []
            main = [f for f in files if f.is_invoice]
            message = None
            if not main:
                message = _("Invoice %(invoice)s: no PDF of the invoice among the %(count)s files Chorus Pro sent; its "
                            "documents are not attached.", invoice=invoice.name, count=len(files))
            elif not main[0].content.startswith(b"%PDF"):
                message = _("Invoice %(invoice)s: the invoice file %(file)s Chorus Pro sent is not a PDF; its "
                            "documents are not attached.", invoice=invoice.name, file=main[0].name)
            if message:
                errors.append(message)
                invoice.documents_error = message
                continue
            accepted |= invoice
        # Downloaded again after a crash: the documents already attached are replaced, not doubled.
        Attachment.search([("res_model", "=", self._name), ("res_id", "in", accepted.ids)]).unlink()
        invoice_label, piece_label = _("Invoice PDF from Chorus Pro"), _("Supporting document")
        vals_list, owners = [], []
        for invoice in accepted:
            for document in files_by_id[int(invoice.chorus_invoice_id)]:
                vals_list.append({
                    "name": document.name, "raw": document.content, "res_model": self._name, "res_id": invoice.id,
                    "mimetype": "application/pdf" if document.content.startswith(b"%PDF") else False,
                    "description": invoice_label if document.is_invoice else piece_label,
                })
                owners.append((invoice, document.is_invoice))
        attachments = Attachment.create(vals_list)
        accepted.write({"documents_state": "done", "documents_error": False})
        for attachment, (invoice, is_invoice) in zip(attachments, owners):
            if is_invoice:
                invoice.write({"pdf_attachment_id": attachment.id, "message_main_attachment_id": attachment.id})
        return len(accepted)


class ChorusInboundInvoiceTax(models.Model):
    _name = "chorus.inbound.invoice.tax"
    _description = "VAT of an invoice received through Chorus Pro"
    _order = "rate desc"

    inbound_id = fields.Many2one("chorus.inbound.invoice", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="inbound_id.company_id", store=True)
    currency_id = fields.Many2one(related="inbound_id.currency_id")
    rate = fields.Float(string="VAT Rate (%)", digits=(5, 2))
    base = fields.Monetary(string="Untaxed Base")
    amount = fields.Monetary(string="VAT Amount")


# ---------------------------------------------------------------- helpers
def _paris_day(moment):
    """The French day of a naive UTC datetime."""
    return moment.replace(tzinfo=timezone.utc).astimezone(PARIS).date()
