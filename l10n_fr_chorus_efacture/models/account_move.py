from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools.misc import format_datetime

from ..tools.statuses import CHORUS_INVOICE_STATUSES, selection_labels

DEFINITIVE_STATES = {"sending", "unknown", "deposited", "integrated"}
# Flux states (consulterCRDetaille's etatCourantDepotFlux, from the fact sheet).
FLUX_STATES = [
    ("IN_RECU", "Received"),
    ("IN_TRAITE_SE_CPP", "Processed by the exchange service"),
    ("IN_EN_ATTENTE_TRAITEMENT_CPP", "Waiting to be processed"),
    ("IN_EN_COURS_TRAITEMENT_CPP", "Being processed"),
    ("IN_INCIDENTE", "Incident"),
    ("IN_EN_ATTENTE_RETRAITEMENT_CPP", "Waiting to be processed again"),
    ("IN_REJETE", "Rejected"),
    ("IN_INTEGRE", "Integrated"),
    ("IN_INTEGRE_PARTIEL", "Partly integrated"),
    ("IN_DEPOT_PORTAIL_EN_ATTENTE_TRAITEMENT_SE_CPP", "Portal deposit waiting for the exchange service"),
]
FLUX_DONE = {"IN_INTEGRE", "IN_INTEGRE_PARTIEL", "IN_REJETE"}
# What the invoice list shows of its way through Chorus Pro: the transmission, then the invoice's status there.
DISPLAY_STATES = [
    ("queued", "To send"),
    ("sending", "Sending"),
    ("unknown", "Outcome unknown"),
    ("deposited", "Deposited"),
    ("rejected", "Flux rejected"),
    ("error", "Not sent"),
] + CHORUS_INVOICE_STATUSES
# What the module records of an invoice's life in Chorus Pro: written by the module only.
MODULE_FIELDS = {
    "chorus_state", "chorus_flux_number", "chorus_flux_state", "chorus_waiting_told", "chorus_sent_date",
    "chorus_flux_syntax", "chorus_flux_attachment_id", "chorus_invoice_id", "chorus_invoice_status",
    "chorus_status_date", "chorus_status_comment", "chorus_error", "chorus_inbound_id", "chorus_send_request",
}
# Fields that make up the invoice sent to Chorus Pro: frozen once it is deposited.
LOCKED_FIELDS = {
    "partner_id", "commercial_partner_id", "invoice_date", "date", "invoice_date_due", "currency_id",
    "journal_id", "name", "ref", "payment_reference", "invoice_line_ids", "line_ids", "amount_total",
    "amount_untaxed", "amount_tax", "buyer_reference", "purchase_order_reference", "contract_reference",
    "invoice_payment_term_id", "fiscal_position_id", "partner_bank_id", "move_type", "company_id",
    "chorus_attachment_ids",
}


class AccountMove(models.Model):
    _inherit = "account.move"

    chorus_state = fields.Selection([
        ("sending", "Sending"),
        ("unknown", "Outcome unknown"),
        ("deposited", "Deposited"),
        ("integrated", "Integrated"),
        ("rejected", "Flux rejected"),
        ("error", "Not sent"),
    ], string="Chorus Pro Transmission", copy=False, readonly=True, tracking=True, index=True,
        help="Sending: being deposited (looked up in Chorus Pro if the deposit stopped half-way). Outcome unknown: "
             "the reply was lost; Chorus Pro is looked up every hour, and nothing is sent again until it lists the "
             "invoice or a user confirms it does not have it. Deposited: Chorus Pro received the flux and is "
             "processing it. Integrated: the invoice is in Chorus Pro. Flux rejected: Chorus Pro refused it; "
             "correct the invoice and send it again. Not sent: nothing reached Chorus Pro; send it again.")
    chorus_flux_number = fields.Char(string="Chorus Flux Number", copy=False, readonly=True, index=True)
    chorus_flux_state = fields.Selection(
        FLUX_STATES, string="Flux State", copy=False, readonly=True,
        help="The state of the deposited flux as Chorus Pro reports it (consulterCRDetaille).")
    chorus_waiting_told = fields.Boolean(
        copy=False, readonly=True, help="A user was told that Chorus Pro has not answered for long.")
    chorus_sent_date = fields.Datetime(string="Sent to Chorus Pro On", copy=False, readonly=True)
    chorus_flux_syntax = fields.Char(string="Chorus Flux Syntax", copy=False, readonly=True)
    chorus_flux_attachment_id = fields.Many2one("ir.attachment", string="Chorus Flux", copy=False, readonly=True)
    chorus_invoice_id = fields.Char(string="Chorus Invoice Number", copy=False, readonly=True, index=True,
                                    help="identifiantFactureCPP")
    chorus_invoice_status = fields.Selection(CHORUS_INVOICE_STATUSES, string="Chorus Status", copy=False,
                                             readonly=True, tracking=True)
    chorus_status_date = fields.Datetime(string="Chorus Status Date", copy=False, readonly=True)
    chorus_status_comment = fields.Char(string="Chorus Comment", copy=False, readonly=True)
    chorus_error = fields.Text(string="Chorus Pro Error", copy=False, readonly=True)
    chorus_send_report_line_ids = fields.One2many(
        "chorus.send.report.line", "move_id", string="Sending Reports", readonly=True,
        groups="account.group_account_invoice,account.group_account_readonly")
    chorus_attachment_ids = fields.Many2many(
        "ir.attachment", "account_move_chorus_attachment_rel", "move_id", "attachment_id",
        string="Chorus Pro Attachments", copy=False,
        help="Supporting documents sent with the invoice: PDF, CSV or XML, 5 MB each at most, names of 50 "
             "characters at most.")
    chorus_is_definitive = fields.Boolean(compute="_compute_chorus_is_definitive")
    chorus_customer = fields.Boolean(
        compute="_compute_chorus_customer", string="Chorus Pro Customer",
        help="Its customer receives invoices through Chorus Pro: sending it deposits it there.")
    chorus_display_state = fields.Selection(
        DISPLAY_STATES, string="Chorus Pro", compute="_compute_chorus_display",
        help="Where the invoice stands: its transmission until Chorus Pro integrates it, then its status there.")
    chorus_next_step = fields.Char(string="What happens next", compute="_compute_chorus_display")
    chorus_mandate_number = fields.Char(
        compute="_compute_chorus_mandate_number", inverse="_inverse_chorus_mandate_number", string="Mandate Number",
        help="The number of this mandate in your financial system, which Chorus Pro receives (numeroDPMandat). "
             "Typed here when it is awaited, or when Chorus Pro refused it.")
    chorus_mandate_number_editable = fields.Boolean(compute="_compute_chorus_mandate_number",
                                                    string="Mandate Number to Give")
    chorus_inbound_id = fields.Many2one("chorus.inbound.invoice", string="Received through Chorus Pro",
                                        copy=False, readonly=True, index="btree_not_null",
                                        help="The invoice received through Chorus Pro this bill mandates.")

    _sql_constraints = [
        ("chorus_inbound_unique", "unique(chorus_inbound_id)",
         "An invoice received through Chorus Pro is mandated by one bill only."),
    ]

    @api.depends("chorus_inbound_id.mandate_number", "chorus_inbound_id.mandate_number_awaited",
                 "chorus_inbound_id.sync_state", "chorus_inbound_id.sync_status")
    def _compute_chorus_mandate_number(self):
        for move in self:
            inbound = move.chorus_inbound_id
            move.chorus_mandate_number = inbound.mandate_number
            move.chorus_mandate_number_editable = bool(inbound) and inbound._chorus_mandate_number_to_give()

    def _inverse_chorus_mandate_number(self):
        for move in self.filtered("chorus_inbound_id"):
            inbound = move.chorus_inbound_id
            # Awaited or refused: given, even unchanged (a refused number may go again as it is); otherwise a change
            # is refused with the reason.
            if inbound._chorus_mandate_number_to_give() or move.chorus_mandate_number != inbound.mandate_number:
                inbound._chorus_give_mandate_number(move.chorus_mandate_number)

    @api.depends("chorus_state", "chorus_invoice_status")
    def _compute_chorus_is_definitive(self):
        for move in self:
            move.chorus_is_definitive = move._chorus_locked()

    @api.depends("partner_id", "move_type", "company_id")
    def _compute_chorus_customer(self):
        for move in self:
            move.chorus_customer = bool(move.partner_id) and \
                move.with_context(chorus_flux=False)._chorus_is_chorus_move()

    @api.depends("chorus_state", "chorus_invoice_status", "chorus_send_request")
    def _compute_chorus_display(self):
        next_steps = self._chorus_next_steps()
        for move in self:
            if move.chorus_send_request and move.chorus_state not in DEFINITIVE_STATES:
                state = "queued"
            elif move.chorus_state == "integrated" and move.chorus_invoice_status:
                state = move.chorus_invoice_status
            else:
                state = move.chorus_state or False
            move.chorus_display_state = state
            move.chorus_next_step = next_steps.get(state, False)

    def _chorus_next_steps(self):
        """What happens next, by displayed state (the form says it under the transmission)."""
        return {
            "queued": _("Queued: a background worker deposits it in Chorus Pro within minutes."),
            "sending": _("Being deposited. Should the worker stop, the invoice is looked up in Chorus Pro before "
                         "anything is sent again."),
            "unknown": _("The reply to the deposit was lost: Chorus Pro is asked every hour (or now: Update "
                         "status). If it never lists the invoice, check its portal, then Not in Chorus Pro."),
            "deposited": _("Chorus Pro is processing the flux; its outcome is read every hour (or now: Update "
                           "status)."),
            "rejected": _("Chorus Pro refused the flux (the reason is above): correct the invoice and send it "
                          "again."),
            "error": _("Nothing reached Chorus Pro (the reason is above): send it again once it is fixed."),
            "DEPOSEE": _("In Chorus Pro, on its way to the buyer."),
            "EN_COURS_ACHEMINEMENT": _("In Chorus Pro, on its way to the buyer."),
            "MISE_A_DISPOSITION": _("Made available to the buyer: its service fait, suspension or rejection is "
                                    "read every hour."),
            "COMPLETEE": _("Completed: the buyer processes it again."),
            "A_RECYCLER": _("The buyer sent it back to be routed again: Recycle, with the right service or "
                            "engagement."),
            "SUSPENDUE": _("Suspended by the buyer (the reason is in the chatter): Complete, with the documents "
                           "asked for."),
            "REJETEE": _("Rejected by the buyer (the reason is in the chatter): correct it by a credit note and a "
                         "new invoice."),
            "SERVICE_FAIT": _("Service fait: the buyer's accountant mandates it next."),
            "MANDATEE": _("Mandated: the public accountant pays it next."),
            "MISE_A_DISPOSITION_COMPTABLE": _("With the public accountant, who pays it next."),
            "COMPTABILISEE": _("Booked by the public accountant, who pays it next."),
            "MISE_EN_PAIEMENT": _("Payment issued: nothing more to follow."),
        }

    def _chorus_locked(self):
        """In Chorus Pro (or maybe): definitive, a rejection by the buyer included (French practice and Odoo's
        inalterability: a credit note and a new invoice). Only a flux Chorus Pro refused at integration (it never
        reached the buyer: not in DEFINITIVE_STATES) is corrected and sent again."""
        self.ensure_one()
        return self.chorus_state in DEFINITIVE_STATES

    def action_chorus_credit_and_copy(self):
        """A rejected invoice: Odoo's credit note window, whose "Reverse and Create Invoice" makes the credit note
        (reconciled) and the copy to correct and send anew."""
        self.ensure_one()
        if self.chorus_invoice_status != "REJETEE":
            raise UserError(_("Only an invoice the buyer rejected in Chorus Pro is corrected this way."))
        return self.action_reverse()

    def _chorus_is_chorus_move(self):
        """Whether its EDI is built for Chorus Pro: always while it is deposited there (the sending path
        decides, whatever the customer's usual method), or when its customer receives through Chorus Pro."""
        self.ensure_one()
        if not self.is_sale_document(include_receipts=False):
            return False
        if self.env.context.get("chorus_flux"):
            return True
        return self.commercial_partner_id.with_company(self.company_id).invoice_sending_method == "chorus_pro"

    # ---------------------------------------------------------------- lock
    def _chorus_already_sent_message(self):
        self.ensure_one()
        date = format_datetime(self.env, self.chorus_sent_date, dt_format=False) if self.chorus_sent_date else "?"
        return _("%(move)s was already sent to Chorus Pro on %(date)s, flux %(flux)s. It is definitive: "
                 "to correct it, issue a credit note.", move=self.display_name, date=date,
                 flux=self.chorus_flux_number or _("(being deposited)"))

    def _chorus_check_not_definitive(self):
        for move in self:
            if move._chorus_locked():
                raise UserError(move._chorus_already_sent_message())

    def button_draft(self, *args, **kwargs):
        self._chorus_check_not_definitive()
        self._chorus_unqueue()
        return super().button_draft(*args, **kwargs)

    def button_cancel(self, *args, **kwargs):
        self._chorus_check_not_definitive()
        self._chorus_unqueue()
        return super().button_cancel(*args, **kwargs)

    def _chorus_unqueue(self):
        """Reset to draft or cancelled while queued for Chorus Pro: not sent (it may be sent again once posted)."""
        queued = self.filtered("chorus_send_request")
        if queued:
            queued._chorus_record({"chorus_send_request": False})

    @api.ondelete(at_uninstall=False)
    def _unlink_except_chorus_sent(self):
        self._chorus_check_not_definitive()

    @api.model_create_multi
    def create(self, vals_list):
        self._chorus_check_module_fields({name for vals in vals_list for name, value in vals.items() if value})
        return super().create(vals_list)

    def write(self, vals):
        self._chorus_check_module_fields(vals)
        # The module's own change after Chorus Pro changed the invoice (recycled): in sudo and said so; a context
        # flag alone can come from anyone (RPC).
        if LOCKED_FIELDS.intersection(vals) and not (self.env.su and self.env.context.get("chorus_allow_write")):
            # Only a real change: the send window writes its routing fields back even when untouched (emailing
            # an invoice already in Chorus Pro must work).
            self.filtered(lambda move: move._chorus_changes(vals))._chorus_check_not_definitive()
        return super().write(vals)

    def _chorus_check_module_fields(self, names):
        """What the module records of an invoice's life in Chorus Pro is written by the module only (in sudo),
        whatever the path (a form, RPC, an import): a user making a deposited invoice "not sent" could send it
        again, or move a mandate to another received invoice."""
        if self.env.su:
            return
        blocked = MODULE_FIELDS.intersection(names)
        if blocked:
            labels = ", ".join(sorted(self._fields[name]._description_string(self.env) for name in blocked))
            raise AccessError(_("%(fields)s: recorded by the Chorus Pro module from what Chorus Pro says; they cannot "
                                "be changed by hand.", fields=labels))

    def _chorus_record(self, vals):
        """Record what happened in Chorus Pro (the module's own fields; see _chorus_check_module_fields)."""
        return self.sudo().write(vals)

    def _chorus_changes(self, vals):
        """Whether ``vals`` changes a field that makes up this invoice. Values are compared as Odoo caches them
        (ids, dates, rounded amounts); lines, and records created or updated through a relation, always count."""
        self.ensure_one()
        for name in LOCKED_FIELDS.intersection(vals):
            field, value = self._fields[name], vals[name]
            if field.type == "one2many" or (field.type == "many2many" and any(
                    isinstance(command, (list, tuple)) and command[0] in (Command.CREATE, Command.UPDATE)
                    for command in value or ())):
                return True
            new, current = field.convert_to_cache(value, self), field.convert_to_cache(self[name], self)
            if field.type == "many2many":
                new, current = set(new), set(current)
            if (new or False) != (current or False):
                return True
        return False


    def _chorus_tell_once(self, summary, note):
        """Give a waiting invoice to its salesperson, once (an activity and a message)."""
        for move in self.filtered(lambda m: not m.chorus_waiting_told):
            move._chorus_schedule_activity(summary, note)
            move.message_post(body=note)
            move._chorus_record({"chorus_waiting_told": True})

    def action_chorus_not_in_chorus(self):
        """"Not in Chorus Pro": after a lost reply, a user checked in the Chorus Pro portal that it does not
        have the invoice; it may be sent again (looked up once more first)."""
        for move in self.filtered(lambda m: m.chorus_state == "unknown"):
            move._chorus_lock_row()
            if move._chorus_resolve_unknown():
                continue
            move._chorus_record({"chorus_state": "error", "chorus_waiting_told": False, "chorus_error": _(
                "Not in Chorus Pro, as %(user)s checked on %(date)s after a lost reply: it can be sent again.",
                user=self.env.user.name, date=format_datetime(self.env, fields.Datetime.now(), dt_format=False))})
            move.message_post(body=move.chorus_error)
            move.activity_ids.filtered(lambda a: "Chorus Pro" in (a.summary or "")).action_feedback(
                feedback=move.chorus_error)
        return True

    def _compute_tax_totals(self, *args, **kwargs):
        super()._compute_tax_totals(*args, **kwargs)
        # A mandate of a body that does not recover VAT books amounts including VAT, without tax: Odoo would call
        # that total "Untaxed Amount".
        for move in self.filtered(lambda m: m.chorus_inbound_id and m.tax_totals
                                  and not m.tax_totals.get("has_tax_groups")):
            for subtotal in move.tax_totals.get("subtotals", []):
                subtotal["name"] = _("Total incl. VAT (VAT not recoverable)")

    def action_chorus_open_inbound(self):
        """From a mandate, the invoice received through Chorus Pro it mandates."""
        self.ensure_one()
        return self.chorus_inbound_id._get_records_action(name=_("Received invoice"))

    def action_chorus_send(self):
        """"Send to Chorus Pro": the send wizard, on the Chorus Pro method."""
        self._chorus_check_not_definitive()
        for move in self:
            if not move.commercial_partner_id.is_company:
                raise UserError(_("%(partner)s is an individual: Chorus Pro only accepts invoices to companies.",
                                  partner=move.commercial_partner_id.display_name))
        action = self.action_send_and_print()
        # The window says what it does: Odoo names it "Print & Send".
        action["name"] = _("Send to Chorus Pro")
        action["context"] = dict(action.get("context") or {}, chorus_send=True)
        return action

    def action_chorus_open_send_report(self):
        """The report of the last sending of this invoice: what was deposited, refused, and why."""
        self.ensure_one()
        report = self.chorus_send_report_line_ids.sorted("id")[-1:].report_id
        if not report:
            raise UserError(_("%(move)s has no sending report: it was not sent from Odoo's send window.",
                              move=self.display_name))
        return report._chorus_action()

    def action_chorus_complete(self):
        """"Complete": add the supporting documents Chorus Pro's customer asked for (SUSPENDUE)."""
        self.ensure_one()
        return self.env["chorus.invoice.update.wizard"]._open(self, "complete")

    def action_chorus_recycle(self):
        """"Recycle": correct the routing data of an invoice Chorus Pro could not deliver (A_RECYCLER)."""
        self.ensure_one()
        return self.env["chorus.invoice.update.wizard"]._open(self, "recycle")


    def _chorus_status_label(self, status=None):
        """The label of ``status`` (by default this invoice's Chorus Pro status) in the user's language."""
        status = status or self.chorus_invoice_status
        return selection_labels(self, "chorus_invoice_status").get(status, status or "")


    def _chorus_schedule_activity(self, summary, note):
        self.ensure_one()
        user = self.invoice_user_id or self.create_uid
        self.activity_schedule("mail.mail_activity_data_todo", summary=summary, note=note, user_id=user.id)

