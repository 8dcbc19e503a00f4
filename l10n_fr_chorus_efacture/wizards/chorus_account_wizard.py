from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools.misc import format_date

from ..models.res_company import PASSWORD_LIFETIME_DAYS


class ChorusAccountWizard(models.TransientModel):
    _name = "chorus.account.wizard"
    _description = "Configure the Chorus Pro technical account"

    company_id = fields.Many2one("res.company", required=True, default=lambda self: self._default_company(),
                                 readonly=True)
    login = fields.Char(string="Technical Account Login", required=True,
                        default=lambda self: self._default_company().chorus_login,
                        help="Login of the technical account created in the Chorus Pro portal "
                             "(Connection > Technical accounts), like TECH_1_...@cpro.fr")
    # Never stored in clear, even in this transient table: the inverse encrypts it at once.
    password = fields.Char(string="Password", compute="_compute_password", inverse="_inverse_password")
    password_encrypted = fields.Char()
    # The date stored, as stored: never a guess the user would save without looking (none stored: to type).
    expiry_date = fields.Date(
        string="Password Expiry Date", required=True,
        default=lambda self: self._default_company().chorus_password_expiry_date,
        help="As the Chorus Pro portal shows it for the technical account. Chorus Pro makes a password expire 14 "
             "months after it is set.")
    expiry_hint = fields.Char(default=lambda self: self._default_expiry_hint(), readonly=True)

    @api.model
    def _default_expiry_hint(self):
        today = fields.Date.context_today(self)
        return self.env._("A password set today in Chorus Pro expires on %(date)s.",
                          date=format_date(self.env, today + timedelta(days=PASSWORD_LIFETIME_DAYS)))

    @api.model
    def _default_company(self):
        """The company the settings opened the window for (else the current one): its account as stored."""
        company_id = self.env.context.get("default_company_id")
        return self.env["res.company"].browse(company_id) if company_id else self.env.company

    def _compute_password(self):
        self.password = False

    def _inverse_password(self):
        for wizard in self:
            if wizard.password:
                wizard.password_encrypted = self.env["res.company"]._chorus_encrypt(wizard.password)

    @api.constrains("login")
    def _check_login(self):
        for wizard in self:
            if wizard.login and (" " in wizard.login.strip() or ":" in wizard.login):
                raise ValidationError(self.env._(
                    "The technical account login cannot contain spaces or ':'. Copy it from the Chorus Pro portal, "
                    "like TECH_1_...@cpro.fr."))

    def action_save(self):
        self.ensure_one()
        if not self.password_encrypted:
            raise UserError(self.env._(
                "Enter the password of the technical account: it is never shown again once saved."))
        self.company_id._chorus_set_technical_account(self.login.strip(), self.password_encrypted, self.expiry_date)
        self.password_encrypted = False
        return {"type": "ir.actions.act_window_close"}
