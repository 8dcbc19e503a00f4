from odoo import fields, models

from .res_company import MANAGER_GROUP


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    chorus_environment = fields.Selection(related="company_id.chorus_environment", readonly=False,
                                          groups=MANAGER_GROUP)
    chorus_api_url = fields.Char(related="company_id.chorus_api_url", readonly=False, groups=MANAGER_GROUP)
    chorus_oauth_url = fields.Char(related="company_id.chorus_oauth_url", readonly=False, groups=MANAGER_GROUP)
    chorus_client_id = fields.Char(related="company_id.chorus_client_id", readonly=False, groups=MANAGER_GROUP)
    chorus_client_secret = fields.Char(related="company_id.chorus_client_secret", readonly=False,
                                       groups=MANAGER_GROUP)
    chorus_client_secret_set = fields.Boolean(related="company_id.chorus_client_secret_set", groups=MANAGER_GROUP)
    chorus_login = fields.Char(related="company_id.chorus_login", groups=MANAGER_GROUP)
    chorus_password_expiry_date = fields.Date(related="company_id.chorus_password_expiry_date",
                                              groups=MANAGER_GROUP)
    chorus_account_status = fields.Char(related="company_id.chorus_account_status", groups=MANAGER_GROUP)
    chorus_flux_format = fields.Selection(related="company_id.chorus_flux_format", readonly=False,
                                          groups=MANAGER_GROUP)
    chorus_archive_format = fields.Selection(related="company_id.chorus_archive_format", readonly=False,
                                             groups=MANAGER_GROUP)
    chorus_timeout = fields.Integer(related="company_id.chorus_timeout", readonly=False, groups=MANAGER_GROUP)

    def action_chorus_configure_account(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Configure my Chorus Pro account"),
            "res_model": "chorus.account.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_company_id": self.company_id.id},
        }

    def action_chorus_check_connection(self):
        self.ensure_one()
        return self.company_id.action_chorus_check_connection()
