from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from ..tools.iban import normalize_iban


class ResPartnerBank(models.Model):
    _inherit = "res.partner.bank"

    chorus_trusted_by_id = fields.Many2one(
        "res.users", string="Trusted By", readonly=True, copy=False,
        help="Who trusted this account for payments, by any path. When the company asks for a second person, that "
             "user does not mandate the received invoices paid to it.")

    @api.model
    def _chorus_of_iban(self, iban, company):
        """Every bank account of this IBAN that ``company`` sees, whoever holds it: the callers filter the holder
        and the trust they need. In sudo: a buyer's clerk checks an IBAN against accounts she cannot read."""
        iban = normalize_iban(iban)
        if not iban:
            return self.browse()
        return self.sudo().search([("sanitized_acc_number", "=", iban), ("company_id", "in", (False, company.id))])

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su and any("chorus_trusted_by_id" in vals for vals in vals_list):
            raise AccessError(_("Trusted By is recorded by Odoo when a user trusts the account."))
        accounts = super().create(vals_list)
        accounts.filtered("allow_out_payment").sudo().write({"chorus_trusted_by_id": self.env.uid})
        return accounts

    def write(self, vals):
        if not self.env.su and "chorus_trusted_by_id" in vals:
            raise AccessError(_("Trusted By is recorded by Odoo when a user trusts the account."))
        result = super().write(vals)
        if "allow_out_payment" in vals:
            self.sudo().write({"chorus_trusted_by_id": self.env.uid if vals["allow_out_payment"] else False})
        return result
