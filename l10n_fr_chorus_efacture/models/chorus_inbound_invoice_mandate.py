import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_compare, format_amount, format_date

from ..tools.transaction import run_isolated
from ..tools.statuses import MANDATED_STATUSES
from .chorus_inbound_invoice import MANDATED

MANDATE_NUMBER_ACTIVITY = "l10n_fr_chorus_efacture.mail_activity_type_chorus_mandate_number"


class ChorusInboundInvoice(models.Model):
    _inherit = "chorus.inbound.invoice"

    # -------------------------------------------------------------- mandates
    def _chorus_mandate_refusal(self, company=None):
        """Why this invoice cannot be mandated now, or False."""
        self.ensure_one()
        if self.move_id:
            return _("already mandated by %(bill)s.", bill=self.move_id.display_name)
        if self.handled_outside:
            return _("it was deposited on %(date)s, before %(start)s, the day Odoo took over (Settings > Chorus Pro): "
                     "handled outside Odoo, mandating it here could pay it twice.",
                     date=format_date(self.env, self.deposit_date),
                     start=format_date(self.env, self.company_id.chorus_inbound_start_date))
        if self.chorus_status != "SERVICE_FAIT":
            return _("its status is %(status)s; it must be Service done first.",
                     status=self._chorus_status_label() or _("unknown"))
        if self.sync_state == "pending":
            return _("a status is still waiting to be sent to Chorus Pro.")
        if self.company_id.chorus_inbound_validation and not self.internal_validated:
            return _("it is not validated internally yet.")
        if not self.partner_id:
            return _("it has no supplier: match or create it first.")
        # Nothing is paid on a credit note: no IBAN to check; it reduces the mandate of the invoice it corrects.
        credit_note = self.invoice_type == "AVOIR"
        if self.iban_warning and not credit_note:
            # Paying a new IBAN unchecked is how invoice fraud succeeds.
            return _("its IBAN %(iban)s is not a trusted bank account of %(partner)s: check it with the supplier, "
                     "then confirm it (Confirm the IBAN), or choose the right supplier.", iban=self.supplier_iban,
                     partner=self.partner_id.display_name)
        if not self.date_due:
            # A suspension whose completion was not read: the legal delay is unknown, the bill's due date too.
            return _("it has no due date: it was suspended and no completion was read since, so the payment delay, "
                     "and the bill's due date, are unknown. It can be mandated once the supplier completed it.")
        if not self.supplier_iban and not credit_note:
            # Money is never guessed: whom to pay is the IBAN the supplier put on this invoice.
            return _("Chorus Pro gives no IBAN for it: whom to pay is unknown. Suspend it and ask the supplier to "
                     "complete it with its bank details.")
        if company and self.company_id != company:
            return _("it belongs to another company; mandate it from that company.")
        if credit_note:
            return self._chorus_credit_note_refusal()
        if not self.env.su and self.company_id.chorus_iban_second_person and \
                self.env.user in self._chorus_payee_accounts().chorus_trusted_by_id:
            return _("you trusted its IBAN %(iban)s yourself, and %(company)s asks for a second person: another "
                     "user mandates it.", iban=self.supplier_iban, company=self.company_id.name)
        return False

    def _chorus_credit_note_refusal(self):
        """Why this credit note cannot be booked now, or False: the invoice it corrects, when Odoo has it, is booked
        first, so that both are linked and reconciled."""
        origin = self.origin_id
        if not origin or origin.handled_outside:
            return False
        if origin.chorus_status == "REJETEE":
            return _("the invoice it corrects, %(origin)s, was rejected: nothing was booked for it. Reject this credit "
                     "note as well.", origin=origin.display_name)
        if not origin.move_id:
            return _("the invoice it corrects, %(origin)s, is not mandated yet: mandate it first, then this credit "
                     "note, so that they are linked and reconciled.", origin=origin.display_name)
        return False

    def _chorus_origin_bill(self):
        """The posted bill of the invoice this credit note corrects, or an empty recordset."""
        bill = self.origin_id.move_id if self.invoice_type == "AVOIR" else self.env["account.move"]
        return bill if bill.state == "posted" else self.env["account.move"]

    def _chorus_reconcile_with_origin(self, credit_note, bill):
        """The credit note's payable against the bill's, as Odoo reconciles a supplier's credit note: what is left
        to pay on the bill is reduced; a bill already paid leaves the credit note open (the supplier owes it)."""
        payable = (credit_note | bill).line_ids.filtered(
            lambda line: line.account_id.account_type == "liability_payable" and not line.reconciled)
        if bill.payment_state in ("paid", "in_payment", "reversed") or len(payable.account_id) != 1 or \
                len(payable.move_id) != 2 or \
                credit_note.commercial_partner_id != bill.commercial_partner_id:
            credit_note.message_post(body=_(
                "Credit note of %(bill)s, not reconciled with it (already paid, or another supplier or account): "
                "%(amount)s to recover from the supplier.", bill=bill.display_name,
                amount=format_amount(self.env, credit_note.amount_residual, credit_note.currency_id)))
            return False
        payable.reconcile()
        credit_note.message_post(body=_(
            "Credit note of %(bill)s, reconciled with it: %(left)s left to pay on %(bill)s.", bill=bill.display_name,
            left=format_amount(self.env, bill.amount_residual, bill.currency_id)))
        return True

    def _chorus_paid_part_refusal(self, paid_part):
        """Why this invoice's part already paid cannot be booked as ``paid_part`` says, or False."""
        self.ensure_one()
        rounding = self.currency_id.rounding
        if float_compare(self.amount_to_pay, self.amount_total, precision_rounding=rounding) > 0 or \
                float_compare(self.amount_to_pay, 0.0, precision_rounding=rounding) < 0:
            return _("its amount to pay %(to_pay)s is not between 0 and its total %(total)s in Chorus Pro; reject it "
                     "or ask the supplier to correct it.", to_pay=self.amount_to_pay, total=self.amount_total)
        if not self.currency_id.is_zero(self.amount_paid_before) and not paid_part:
            return _("%(paid)s of its total %(total)s were already paid (amount to pay %(to_pay)s): say how they "
                     "were paid (advances, or deposit invoices already mandated) in the mandate window.",
                     paid=self.amount_paid_before, total=self.amount_total, to_pay=self.amount_to_pay)
        return False

    def _chorus_request_mandates(self, journal, account, analytic_distribution=None, paid_part=False,
                                 mandate_number=False, taxes=None, number_later=False):
        """Mandate these invoices: the request is saved first (the cron finishes it if the worker stops), then
        each bill is made in a transaction of its own. ``paid_part``: how the part already paid is booked, for the
        invoices that have one. ``number_later``: the mandate numbers are given on the bills afterwards (Chorus
        Pro is told then). Returns {invoice: its bill, or why not}."""
        user = self.env.user
        self = self.sudo()
        self.write({"mandate_state": "requested", "mandate_error": False, "mandate_journal_id": journal.id,
                    "mandate_user_id": user.id, "mandate_number_awaited": bool(number_later),
                    "mandate_number": False,
                    "mandate_account_id": account.id,
                    "mandate_tax_ids": [fields.Command.set(taxes.ids if taxes else [])],
                    "mandate_analytic_distribution": analytic_distribution or False})
        self.filtered(lambda i: not i.currency_id.is_zero(i.amount_paid_before)).write(
            {"mandate_paid_part": paid_part or False})
        if mandate_number:
            self.ensure_one()  # the financial system's number of one mandate
            self.mandate_number = mandate_number.strip()
        self._chorus_commit()
        return self._chorus_create_mandates()

    def _chorus_create_mandates(self, push=True):
        """The bill of each requested invoice, and its MANDATEE queued, committed together; then Chorus Pro is
        told (``push``; else by the push's scheduled action, woken up). A refusal, or any failure, stops only that
        invoice. Returns {invoice: its bill, or why not}."""
        self = self.sudo()
        results = {}
        for invoice in self.filtered(lambda i: i.mandate_state == "requested"):
            def work(invoice=invoice):
                results[invoice] = invoice._chorus_create_mandate()

            run_isolated(self.env, work, lambda error, invoice=invoice: results.update(
                {invoice: invoice._chorus_mandate_failed(error)}))
        mandated = self.filtered(lambda i: i.sync_state == "pending" and i.sync_status == MANDATED)
        if push:
            mandated._chorus_push_statuses()
        elif mandated:
            self.env.ref("l10n_fr_chorus_efacture.ir_cron_chorus_inbound_push")._trigger()
        return results

    def _chorus_mandate_failed(self, error):
        """The bill could not be made for a reason of Odoo's (a database error, a bug): the request stays, tried
        again once its delay is over; the reason is shown. Returns it."""
        self.ensure_one()
        if isinstance(error, (psycopg2.errors.SerializationFailure, psycopg2.errors.LockNotAvailable)):
            return _("another user is mandating it right now.")
        reason = self.env["res.company"]._chorus_failure_reason(error)
        self.sudo().write({"mandate_error": reason})
        self.env["chorus.retry"]._chorus_failed(self.company_id, "mandate", self, reason, name=self.name,
                                                supplier_name=self.supplier_name)
        return reason

    @api.model
    def _cron_chorus_inbound_mandates(self):
        """Mandates a stopped worker left half-done, or that failed for a reason of Odoo's once their delay is
        over; their MANDATEE goes with the push's own scheduled action."""
        requested = self.search([("mandate_state", "=", "requested")])
        requested -= self.env["chorus.retry"]._chorus_waiting("mandate", requested)
        for company, invoices in requested.grouped("company_id").items():
            company._chorus_in_its_language(invoices)._chorus_create_mandates(push=False)

    def _chorus_create_mandate(self):
        """The bill of this requested invoice and its queued MANDATEE, committed together: the bill, or why not."""
        self.ensure_one()
        if not self._chorus_lock():
            return _("another user is mandating it right now.")
        if self.mandate_state != "requested":  # read again under the lock: another worker may have done it
            return self.move_id or self.mandate_error
        reason = self._chorus_mandate_refusal() or self._chorus_paid_part_refusal(self.mandate_paid_part)
        if not reason:
            try:
                with self.env.cr.savepoint():
                    bill = self._chorus_create_bill()
                    if self.mandate_number_awaited:
                        self.write({"move_id": bill.id, "mandate_state": False, "mandate_error": False})
                        bill.activity_schedule(
                            MANDATE_NUMBER_ACTIVITY, user_id=self.mandate_user_id.id or self.env.uid,
                            note=_("Chorus Pro is told that %(invoice)s is mandated once its mandate number is "
                                   "given on this bill.", invoice=self.name))
                    else:
                        number = self.mandate_number or bill.name
                        self.write({"move_id": bill.id, "mandate_state": False, "mandate_error": False,
                                    "mandate_number": number})
                        self._chorus_queue_status(MANDATED, mandate_number=number)
            except UserError as error:
                reason = error.args[0]
        if reason:
            self.write({"mandate_state": "refused", "mandate_error": reason})
            self.message_post(body=_("Not mandated: %(reason)s", reason=reason))
        self.env["chorus.retry"]._chorus_done("mandate", self)
        self._chorus_commit()
        return reason or self.move_id

    def _chorus_company_purchase_taxes(self, domain):
        """The invoice's company's percent purchase taxes matching ``domain``; read as that company (accounts'
        codes are per company), whoever mandates."""
        Tax = self.env["account.tax"].with_company(self.company_id)
        return Tax.search([*Tax._check_company_domain(self.company_id), ("type_tax_use", "=", "purchase"),
                           ("amount_type", "=", "percent"), *domain])

    def _chorus_purchase_taxes(self, rate):
        """The purchase taxes that may book this invoice's VAT of ``rate`` (VAT recoverable), narrowed as an
        accountant would: the one chosen in the mandate window; the article's default taxes; a fixed asset's VAT
        (44562) for a fixed asset article, another's for an expense; the exigibility of Chorus Pro's typeTva (on
        receipts: on payment) when the company uses cash basis, on invoice when it does not; plain deductible VAT
        over reverse charge; the company's default purchase tax. One left is the tax; several: the user chooses
        (never the first)."""
        taxes = self._chorus_company_purchase_taxes([("amount", "=", rate), ("price_include", "=", False)])
        chosen = self.mandate_tax_ids & taxes
        if chosen:
            return chosen[:1]

        def narrow(candidates, keep):
            kept = candidates.filtered(keep)
            return kept or candidates

        taxes = narrow(taxes, lambda tax: tax in self.mandate_account_id.tax_ids)
        asset = self.mandate_account_id.account_type == "asset_fixed"
        taxes = narrow(taxes, lambda tax: asset == any(
            (line.account_id.code or "").startswith("44562") for line in tax.invoice_repartition_line_ids))
        if not self.company_id.tax_exigibility:
            # Without cash basis, a tax on payment is not booked as such: the VAT is deducted on the invoice.
            taxes = narrow(taxes, lambda tax: tax.tax_exigibility == "on_invoice")
        elif self.vat_type in ("TVA_SUR_DEBIT", "TVA_SUR_ENCAISSEMENT"):
            exigibility = "on_payment" if self.vat_type == "TVA_SUR_ENCAISSEMENT" else "on_invoice"
            taxes = narrow(taxes, lambda tax: tax.tax_exigibility == exigibility)
        taxes = narrow(taxes, lambda tax: len(tax.invoice_repartition_line_ids) == 2)
        if len(taxes) > 1:
            taxes = narrow(taxes, lambda tax: tax == self.company_id.account_purchase_tax_id)
        if len({self._chorus_tax_booking(tax) for tax in taxes}) == 1:
            # Taxes that book alike (same accounts, shares, exigibility): any of them is the same entry.
            taxes = taxes[:1]
        return taxes

    @staticmethod
    def _chorus_tax_booking(tax):
        """What a purchase tax books on a bill, whatever its name."""
        return tax.tax_exigibility, tuple(sorted(
            (line.repartition_type, line.factor_percent, line.account_id.id, line.use_in_tax_closing)
            for line in tax.invoice_repartition_line_ids))

    def _chorus_purchase_tax(self, rate):
        taxes = self._chorus_purchase_taxes(rate)
        if not taxes:
            raise UserError(_("%(invoice)s: no purchase tax of %(rate)s %% exists in %(company)s; create it "
                              "(Accounting > Configuration > Taxes).", invoice=self.display_name,
                              rate=rate, company=self.company_id.name))
        if len(taxes) > 1:
            raise UserError(_("%(invoice)s: %(count)s purchase taxes of %(rate)s %% fit (%(taxes)s): choose one in "
                              "the mandate window (Purchase Taxes), or make it the article's default tax.",
                              invoice=self.display_name, count=len(taxes), rate=rate,
                              taxes=", ".join(taxes.mapped("display_name"))))
        return taxes

    def _chorus_advance_account(self):
        """Where the advances of this mandate's article are: on orders of fixed assets (238 in the French chart)
        when the article is a fixed asset account, else on orders of goods and services (4091); the company's
        setting, else found by its code in the company's own chart."""
        company = self.company_id
        if self.mandate_account_id.account_type == "asset_fixed":
            account, code = company.chorus_advance_asset_account_id, "238%"
        else:
            account, code = company.chorus_advance_account_id, "4091%"
        # Codes are per company in Odoo 18: searched as the invoice's company, whoever runs the mandate.
        return account or self.env["account.account"].with_company(company).search([
            *self.env["account.account"]._check_company_domain(company), ("code", "=like", code),
            ("deprecated", "=", False)], order="code", limit=1)

    def _chorus_booked_vat(self):
        """{rate: [base, VAT]} the bill books: Chorus Pro's recap; only its part still to pay when the part paid
        before was deposit invoices already mandated (rate by rate, the last cent on the largest base)."""
        booked = {}
        for line in self.tax_line_ids:
            entry = booked.setdefault(line.rate, [0.0, 0.0])
            entry[0] += line.base
            entry[1] += line.amount
        if not booked:
            # No VAT recap from Chorus Pro: the VAT is one rate of the untaxed amount, or it cannot be booked.
            rate = self._chorus_rate_without_recap() if self.company_id.chorus_vat_recoverable else 0.0
            booked[rate] = [self.amount_untaxed, self.amount_tax]
        if self.mandate_paid_part != "deposits" or self.currency_id.is_zero(self.amount_paid_before):
            return booked
        ratio = self.amount_to_pay / self.amount_total if self.amount_total else 0.0
        rest = {rate: [self.currency_id.round(base * ratio), self.currency_id.round(vat * ratio)]
                for rate, (base, vat) in booked.items()}
        largest = max(rest, key=lambda rate: abs(booked[rate][0]))
        rest[largest][0] = self.currency_id.round(
            rest[largest][0] + self.amount_to_pay - sum(base + vat for base, vat in rest.values()))
        return rest

    def _chorus_rate_without_recap(self):
        """The one VAT rate of the company's purchase taxes that gives this invoice's VAT from its untaxed amount
        (to the cent), when Chorus Pro gives no VAT recap; refused with the figures otherwise."""
        if self.currency_id.is_zero(self.amount_tax):
            return 0.0
        rates = set(self._chorus_company_purchase_taxes([("amount", ">", 0)]).mapped("amount"))
        fitting = sorted(rate for rate in rates if self.currency_id.compare_amounts(
            self.currency_id.round(self.amount_untaxed * rate / 100), self.amount_tax) == 0)
        if len(fitting) != 1:
            raise UserError(_("%(invoice)s: Chorus Pro gives no VAT recap for it, and its VAT %(tax)s is not one rate "
                              "of its untaxed amount %(untaxed)s: which VAT to recover is unknown. Mandate it by hand "
                              "or ask the supplier for the VAT per rate.", invoice=self.display_name,
                              tax=self.amount_tax, untaxed=self.amount_untaxed))
        return fitting[0]

    def _chorus_discount_line(self, booked):
        """The global discount, off the expense including VAT, when Chorus Pro's recap is before it; refused with
        the reason where its VAT split is unknown."""
        discount = self.amount_discount
        if self.currency_id.is_zero(discount):
            return []
        unsplit = _("%(invoice)s: a global discount of %(discount)s incl. VAT, that Chorus Pro does not split by VAT "
                    "rate: the VAT to recover (or the part of each rate still to pay) is unknown. Mandate it by hand, "
                    "or ask the supplier for the VAT after the discount.", invoice=self.display_name,
                    discount=discount)
        if self.mandate_paid_part == "deposits":
            raise UserError(unsplit)
        recap = sum(base + vat for base, vat in booked.values())
        if self.currency_id.compare_amounts(recap, self.amount_total) == 0:
            return []  # the recap is after the discount already
        if self.currency_id.compare_amounts(recap, self.amount_total + discount):
            raise UserError(_("%(invoice)s: its VAT recap (%(recap)s) is neither its total %(total)s nor its total "
                              "before the global discount of %(discount)s: mandate it by hand.",
                              invoice=self.display_name, recap=recap, total=self.amount_total, discount=discount))
        if self.company_id.chorus_vat_recoverable:
            raise UserError(unsplit)
        return [fields.Command.create({
            "name": _("%(number)s - global discount incl. VAT", number=self.name),
            "account_id": self.mandate_account_id.id, "quantity": 1, "price_unit": -discount,
            "tax_ids": [fields.Command.clear()],
            "analytic_distribution": self.mandate_analytic_distribution or False,
        })]

    def _chorus_bill_lines(self, booked):
        """One line per VAT rate: the amount including VAT when the company does not recover VAT (most public
        bodies), the untaxed base with the purchase tax of the rate when it does; then the advances paid before,
        cleared from their account (or, for deposit invoices already mandated, only the rest booked)."""
        self.ensure_one()
        recoverable = self.company_id.chorus_vat_recoverable
        lines = []
        for rate, (base, amount) in booked.items():
            tax = self.env["account.tax"]
            if recoverable and rate:
                tax = self._chorus_purchase_tax(rate)
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
        lines += self._chorus_discount_line(booked)
        if self.mandate_paid_part == "advance" and not self.currency_id.is_zero(self.amount_paid_before):
            account = self._chorus_advance_account()
            if not account:
                raise UserError(_("%(invoice)s: %(advance)s were paid in advance; choose where advances are booked "
                                  "(Settings > Invoicing > Chorus Pro, advances accounts).",
                                  invoice=self.display_name, advance=self.amount_paid_before))
            lines.append(fields.Command.create({
                "name": _("%(number)s - advances already paid", number=self.name), "account_id": account.id,
                "quantity": 1, "price_unit": -self.amount_paid_before, "tax_ids": [fields.Command.clear()],
            }))
        return lines

    def _chorus_match_vat(self, bill, booked):
        """The bill's VAT as booked (Chorus Pro's, rate by rate), to the cent: Odoo's rounding may differ by a cent
        from the supplier's; the tax lines are adjusted (as a user does it in the bill's totals)."""
        self.ensure_one()
        booked_vat = {rate: vat for rate, (_base, vat) in booked.items()}
        totals = bill.tax_totals
        changed = False
        for subtotal in totals.get("subtotals", []):
            for group in subtotal.get("tax_groups", []):
                rates = set(self.env["account.tax"].browse(group.get("involved_tax_ids") or []).mapped("amount"))
                if not rates or not rates <= set(booked_vat):
                    continue
                wanted = self.currency_id.round(abs(sum(booked_vat[rate] for rate in rates)))
                if not self.currency_id.is_zero(group["tax_amount_currency"] - wanted):
                    group["tax_amount_currency"] = wanted
                    changed = True
        if changed:
            bill.tax_totals = totals

    def _chorus_payee_accounts(self):
        """The partner's trusted bank accounts of the IBAN on this invoice: the one checked, that the bill pays."""
        partner = self.partner_id.commercial_partner_id
        return self.env["res.partner.bank"]._chorus_of_iban(self.supplier_iban, self.company_id).filtered(
            lambda account: account.allow_out_payment and account.partner_id.commercial_partner_id == partner)

    def _chorus_payee_account(self):
        partner = self.partner_id.commercial_partner_id
        account = self._chorus_payee_accounts()[:1]
        if not account:
            raise UserError(_("%(invoice)s: its IBAN %(iban)s is not a trusted bank account of %(partner)s: "
                              "confirm it first (Confirm the IBAN).", invoice=self.display_name,
                              iban=self.supplier_iban, partner=partner.display_name))
        return account

    def _chorus_create_bill(self):
        """The posted vendor bill (credit note for an AVOIR) of this invoice: its lines per VAT rate, the VAT and the
        amount due of Chorus Pro, the due date of the legal delay, the documents attached."""
        self.ensure_one()
        booked = self._chorus_booked_vat()
        origin_bill = self._chorus_origin_bill()
        bill = self.env["account.move"].with_company(self.company_id).create({
            "move_type": "in_refund" if self.invoice_type == "AVOIR" else "in_invoice",
            "company_id": self.company_id.id,
            "journal_id": self.mandate_journal_id.id,
            "partner_id": self.partner_id.id,
            # A credit note pays nobody: the checked account when there is one, else none.
            "partner_bank_id": (self._chorus_payee_accounts()[:1] if self.invoice_type == "AVOIR"
                                else self._chorus_payee_account()).id,
            "reversed_entry_id": origin_bill.id,
            "invoice_date": self.invoice_date or self.deposit_date,
            "date": fields.Date.context_today(self),
            "ref": self.name,
            # What the comptable checks: the engagement and the contract the invoice refers to.
            "purchase_order_reference": self.engagement or False,
            "contract_reference": self.contract or False,
            "chorus_invoice_id": self.chorus_invoice_id,
            "chorus_inbound_id": self.id,
            "currency_id": self.currency_id.id,
            "invoice_line_ids": self._chorus_bill_lines(booked),
        })
        if self.company_id.chorus_vat_recoverable:
            self._chorus_match_vat(bill, booked)
        bill.write({"invoice_payment_term_id": False, "invoice_date_due": self.date_due})
        if float_compare(bill.amount_total, self.amount_to_pay, precision_rounding=self.currency_id.rounding):
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
        if origin_bill:
            self._chorus_reconcile_with_origin(bill, origin_bill)
        pdf = copies.filtered(lambda a: a.name == self.pdf_attachment_id.name)[:1] or copies[:1]
        if pdf:
            bill.message_main_attachment_id = pdf
        # The documents are the received invoice's, not an e-invoice to read into the bill (Odoo would say in the
        # chatter that a posted bill is not updated from them).
        bill.with_context(no_new_invoice=True).message_post(
            body=_("Mandate of the invoice %(number)s received through Chorus Pro (Chorus invoice number "
                   "%(chorus)s).", number=self.name, chorus=self.chorus_invoice_id),
            attachment_ids=copies.ids)
        self.message_post(body=_("Mandate %(bill)s created.", bill=bill.name))
        return bill

    def _chorus_mandate_number_to_give(self):
        """The mandate number Chorus Pro is to receive can be given now: awaited, or refused by Chorus Pro."""
        self.ensure_one()
        return bool(self.move_id) and self.chorus_status not in MANDATED_STATUSES and (
            self.mandate_number_awaited or (self.sync_state == "error" and self.sync_status == MANDATED))

    def _chorus_give_mandate_number(self, number):
        """The mandate number given after the bill was made (awaited, or refused by Chorus Pro): MANDATEE queued
        with it. Sent by the push's scheduled action, woken up: no call to Chorus Pro inside a form's save."""
        self.ensure_one()
        self.check_access("write")
        number = (number or "").strip()
        if not number:
            raise UserError(_("Mandate Number: give the number of the mandate in your financial system."))
        if not self._chorus_lock():
            raise UserError(_("%(invoice)s: another user is changing it right now; try again in a moment.",
                              invoice=self.display_name))
        refused = self.sync_state == "error" and self.sync_status == MANDATED
        if self.chorus_status in MANDATED_STATUSES:
            raise UserError(_("%(invoice)s is %(status)s in Chorus Pro, which has its mandate number %(number)s: it "
                              "cannot change.", invoice=self.display_name, status=self._chorus_status_label(),
                              number=self.mandate_number or ""))
        if not (self.move_id and self.mandate_number_awaited) and not refused:
            raise UserError(_("%(invoice)s: Chorus Pro has its mandate number %(number)s already; it cannot change.",
                              invoice=self.display_name, number=self.mandate_number or ""))
        self.sudo().write({"mandate_number": number, "mandate_number_awaited": False})
        self._chorus_queue_status(MANDATED, mandate_number=number)
        self.move_id.sudo().activity_feedback(
            [MANDATE_NUMBER_ACTIVITY], feedback=_("Mandate number %(number)s given by %(user)s.", number=number,
                                                  user=self.env.user.name))
        self.env.ref("l10n_fr_chorus_efacture.ir_cron_chorus_inbound_push")._trigger()

    def _chorus_mandated_in_chorus_pro(self, number):
        """Someone set MANDATEE in Chorus Pro's portal while the bill waited for its number: Chorus Pro's number is
        the mandate's, nothing is left to give."""
        self.ensure_one()
        self.sudo().write({"mandate_number": number or False, "mandate_number_awaited": False})
        self.move_id.sudo().activity_feedback(
            [MANDATE_NUMBER_ACTIVITY], feedback=_("Mandated in Chorus Pro directly, with the mandate number "
                                                  "%(number)s.", number=number or _("none")))

    def action_correct_mandate_number(self):
        """A MANDATEE Chorus Pro refused: its mandate number corrected, then sent again."""
        self.ensure_one()
        if self.sync_state != "error" or self.sync_status != MANDATED:
            raise UserError(_("Only a mandate Chorus Pro refused can be corrected here."))
        return {
            "type": "ir.actions.act_window", "name": _("Correct the mandate"),
            "res_model": "chorus.inbound.mandate.number.wizard", "view_mode": "form", "target": "new",
            "context": {"default_inbound_id": self.id, "default_mandate_number": self.sync_mandate_number},
        }

    def action_mandate(self):
        return {
            "type": "ir.actions.act_window", "name": _("Mandate"),
            "res_model": "chorus.inbound.mandate.wizard", "view_mode": "form", "target": "new",
            "context": {"default_inbound_ids": self.ids},
        }

