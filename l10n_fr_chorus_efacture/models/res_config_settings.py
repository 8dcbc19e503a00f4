from odoo import api, fields, models

from .res_company import MANAGER_GROUP, PAYMENT_DELAYS


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
    chorus_receive = fields.Boolean(related="company_id.chorus_receive", readonly=False)
    chorus_public_body_type = fields.Selection(related="company_id.chorus_public_body_type", readonly=False)
    chorus_payment_delay_days = fields.Integer(related="company_id.chorus_payment_delay_days", readonly=False)
    chorus_inbound_validation = fields.Boolean(related="company_id.chorus_inbound_validation", readonly=False)
    chorus_vat_recoverable = fields.Boolean(related="company_id.chorus_vat_recoverable", readonly=False)
    chorus_mandate_number_later = fields.Boolean(related="company_id.chorus_mandate_number_later", readonly=False)
    chorus_advance_account_id = fields.Many2one(related="company_id.chorus_advance_account_id", readonly=False)
    chorus_inbound_start_date = fields.Date(related="company_id.chorus_inbound_start_date", readonly=False)
    chorus_inbound_before_start = fields.Selection(related="company_id.chorus_inbound_before_start", readonly=False)
    chorus_iban_second_person = fields.Boolean(related="company_id.chorus_iban_second_person", readonly=False)
    chorus_advance_asset_account_id = fields.Many2one(related="company_id.chorus_advance_asset_account_id",
                                                      readonly=False)
    # Not stored: the technical options stay folded each time the settings open.
    chorus_show_advanced = fields.Boolean(string="Advanced options")
    chorus_timeout = fields.Integer(related="company_id.chorus_timeout", readonly=False, groups=MANAGER_GROUP)

    @api.onchange("chorus_public_body_type")
    def _onchange_chorus_public_body_type(self):
        self.chorus_payment_delay_days = PAYMENT_DELAYS.get(self.chorus_public_body_type, 30)

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
