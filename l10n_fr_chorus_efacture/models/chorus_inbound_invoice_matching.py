from odoo import _, models
from odoo.exceptions import UserError

from ..tools.iban import normalize_iban


class ChorusInboundInvoice(models.Model):
    _inherit = "chorus.inbound.invoice"

    # -------------------------------------------------------------- matching
    def _chorus_iban_warning(self):
        """(Why the invoice's IBAN is suspect, or False; whether it is nobody's in Odoo, to confirm; whether it is
        another partner's, a factor's perhaps)."""
        self.ensure_one()
        partner = self.partner_id.commercial_partner_id
        iban = normalize_iban(self.supplier_iban)
        # Nothing is paid on a credit note: its IBAN is not checked.
        if not partner or not iban or self.invoice_type == "AVOIR":
            return False, False, False
        accounts = self.env["res.partner.bank"]._chorus_of_iban(iban, self.company_id)
        holders = accounts.partner_id.commercial_partner_id
        if holders and partner not in holders:
            if self.factor_name:
                return _("The IBAN %(iban)s of this invoice belongs to %(holder)s, not to %(partner)s; Chorus Pro "
                         "names %(factor)s as its factor. If %(partner)s assigned its invoices (affacturage, with the "
                         "notification you received), confirm it as the factor's account; otherwise reject the "
                         "invoice: it is how invoice fraud starts.", iban=self.supplier_iban,
                         holder=", ".join(holders.mapped("display_name")), partner=partner.display_name,
                         factor=self.factor_name), False, True
            return _("The IBAN %(iban)s of this invoice belongs to %(holder)s, not to %(partner)s. Check it with "
                     "the supplier by phone, with a number you already had, before any payment: it is how invoice "
                     "fraud starts. A factor's account (affacturage notified to you) is confirmed as the factor's "
                     "account.", iban=self.supplier_iban, holder=", ".join(holders.mapped("display_name")),
                     partner=partner.display_name), False, True
        if not holders:
            return _("The IBAN %(iban)s of this invoice is none of %(partner)s's bank accounts. Check it with the "
                     "supplier by phone, with a number you already had, then confirm it (Confirm the IBAN): it is how "
                     "invoice fraud starts.", iban=self.supplier_iban, partner=partner.display_name), True, False
        if not accounts.filtered(lambda a: a.allow_out_payment and a.partner_id.commercial_partner_id == partner):
            return _("The IBAN %(iban)s of this invoice is a bank account of %(partner)s that nobody trusted yet. "
                     "Check it with the supplier by phone, with a number you already had, then confirm it (Confirm "
                     "the IBAN): only a trusted account is paid.", iban=self.supplier_iban,
                     partner=partner.display_name), True, False
        return False, False, False

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

    def _chorus_iban_holders(self):
        """Who holds this invoice's IBAN in Odoo (for the invoice's company)."""
        return self.env["res.partner.bank"]._chorus_of_iban(
            self.supplier_iban, self.company_id).partner_id.commercial_partner_id

    def action_confirm_factor_iban(self):
        """The invoice's IBAN is a factor's (the supplier assigned its invoices): declared as the account the
        supplier's mandates pay, held by the factor, once checked."""
        self.ensure_one()
        self.chorus_supplier_id._chorus_confirm_iban(self.supplier_iban, self.supplier_bic,
                                                     factor=self._chorus_iban_holders()[:1])
        return True

