from dateutil.relativedelta import relativedelta
import io
import logging
import tarfile
import time
import zipfile
from datetime import timedelta

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import config
from odoo.tools.misc import format_date, format_datetime

from ..chorus import ENVIRONMENTS, ChorusProClient
from ..chorus.client import DEFAULT_CALLS_PER_SECOND
from ..chorus import exceptions as chorus_exc
from ..tools import crypto

_logger = logging.getLogger(__name__)

# The technical account's password must change every 14 months.
PASSWORD_LIFETIME_DAYS = 424
PASSWORD_WARNING_DAYS = 15
MANAGER_GROUP = "l10n_fr_chorus_efacture.group_chorus_manager"
# Legal payment delays of public buyers (CCP R2192-10, R2192-11).
PAYMENT_DELAYS = {"state": 30, "hospital": 50, "company": 60}
CALLS_PER_SECOND_PARAM = "l10n_fr_chorus_efacture.calls_per_second"
# Chorus Pro's answer on the statuses that may follow another is asked again after this.
ALLOWED_STATUSES_MAX_AGE = timedelta(days=1)


class ResCompany(models.Model):
    _inherit = "res.company"

    chorus_environment = fields.Selection(
        [("qualification", "Qualification (PISTE sandbox)"), ("production", "Production"), ("custom", "Custom")],
        string="Chorus Pro Environment", default="qualification", required=True,
        help="Qualification and production use the PISTE addresses; custom lets you enter them "
             "(for example a local Chorus Pro sandbox).")
    chorus_api_url = fields.Char(
        string="Chorus Pro API URL", compute="_compute_chorus_urls", store=True, readonly=False,
        help="Base address of the API; operations are called at <URL>/cpro/<api>/v1/<operation>.")
    chorus_oauth_url = fields.Char(
        string="PISTE Token URL", compute="_compute_chorus_urls", store=True, readonly=False)
    chorus_client_id = fields.Char(string="PISTE Client ID", copy=False)
    # Write-only secrets: the clear value is never read back; only the ciphertext is stored.
    chorus_client_secret = fields.Char(
        string="PISTE Client Secret", compute="_compute_chorus_secrets", inverse="_inverse_chorus_client_secret",
        groups=MANAGER_GROUP, copy=False)
    chorus_client_secret_encrypted = fields.Char(groups="base.group_system", copy=False, prefetch=False)
    chorus_client_secret_set = fields.Boolean(compute="_compute_chorus_secret_set", string="Client Secret Set")
    chorus_login = fields.Char(string="Technical Account Login", copy=False,
                               help="Login of the Chorus Pro technical account, like TECH_1_...@cpro.fr")
    chorus_password = fields.Char(
        string="Technical Account Password", compute="_compute_chorus_secrets",
        inverse="_inverse_chorus_password", groups=MANAGER_GROUP, copy=False)
    chorus_password_encrypted = fields.Char(groups="base.group_system", copy=False, prefetch=False)
    chorus_password_set = fields.Boolean(compute="_compute_chorus_secret_set", string="Password Set")
    chorus_password_expiry_date = fields.Date(
        string="Password Expiry Date", copy=False,
        help="The technical account's password must be changed in Chorus Pro every 14 months. "
             "Managers are warned 15 days before.")
    chorus_account_changed_date = fields.Datetime(string="Technical Account Changed On", copy=False)
    chorus_account_status = fields.Char(compute="_compute_chorus_account_status", string="Technical Account")
    chorus_password_warning = fields.Selection(
        [("none", "None"), ("soon", "Expires soon"), ("expired", "Expired")],
        default="none", copy=False, string="Password Warning Sent")
    chorus_flux_format = fields.Selection(
        [("facturx", "Factur-X (PDF/A-3 with CII XML)"), ("ubl", "UBL 2.1 XML")], string="Chorus Pro Flux Format",
        default="facturx", required=True,
        help="Factur-X (IN_DP_E2_CII_FACTURX) carries the PDF the customer reads; UBL (IN_DP_E1_UBL_INVOICE) "
             "sends the structured data only.")
    chorus_archive_format = fields.Selection(
        [("tar.gz", "tar.gz"), ("zip", "zip")], string="Chorus Pro Batch Archive", default="tar.gz", required=True,
        help="Invoices sent together go to Chorus Pro as one flux: an archive of their files in this format.")
    # Public-buyer side: invoices received through Chorus Pro.
    chorus_receive = fields.Boolean(
        string="Receive invoices through Chorus Pro",
        help="Import the invoices suppliers deposit in Chorus Pro for this public body, every hour.")
    chorus_public_body_type = fields.Selection(
        [("state", "State or local authority"), ("hospital", "Public hospital"), ("company", "Public company")],
        string="Kind of Public Body", default="state",
        help="Sets the legal payment delay: 30 days, 50 days for public hospitals, 60 days for public companies "
             "(Code de la commande publique, R2192-10 and R2192-11).")
    chorus_payment_delay_days = fields.Integer(
        string="Global Payment Delay (days)", default=30,
        help="Counted from the day Chorus Pro makes the invoice available; changing it moves the due dates of the "
             "invoices not mandated yet.")
    chorus_inbound_validation = fields.Boolean(
        string="Internal validation",
        help="A Chorus Pro inbound validator validates each received invoice before it is processed in Chorus Pro "
             "(service done, rejected...) and mandated.")
    chorus_vat_recoverable = fields.Boolean(
        string="VAT recoverable on expenses",
        help="Off (most public bodies): the mandates book the amounts including VAT as expenses. On: they book "
             "the VAT Chorus Pro gives, rate by rate, as deductible VAT.")
    chorus_mandate_number_later = fields.Boolean(
        string="Mandate numbers given on the bills",
        help="Your financial system numbers the mandates after the bills are made: the mandate window proposes to "
             "give each number later on its bill, and Chorus Pro is told the invoice is mandated (with that number) "
             "once it is given. Off: the number typed in the mandate window, else the bill's number.")
    chorus_advance_account_id = fields.Many2one(
        "account.account", string="Advances to Suppliers Account", check_company=True,
        domain="[('account_type', 'in', ('asset_current', 'asset_receivable', 'liability_current', "
               "'liability_payable'))]",
        help="Where the advances paid on orders of goods and services are (4091 in the French chart, found by "
             "its code when empty): a mandate that clears advances credits them there.")
    chorus_advance_asset_account_id = fields.Many2one(
        "account.account", string="Advances on Fixed Asset Orders Account", check_company=True,
        domain="[('account_type', 'in', ('asset_fixed', 'asset_non_current', 'asset_current'))]",
        help="Where the advances paid on orders of fixed assets are (238 in the French chart, found by its code "
             "when empty): used when the mandate's article is a fixed asset account.")
    chorus_inbound_start_date = fields.Date(
        string="Invoices Deposited From",
        help="The day Odoo takes over the received invoices: those deposited before were handled outside Odoo. "
             "The first import proposes the first day of the current month; change it before mandating.")
    chorus_inbound_before_start = fields.Selection(
        [("outside", "Imported, as handled outside Odoo"), ("skip", "Not imported")], default="outside",
        required=True, string="Invoices Deposited Before",
        help="Imported: visible (their statuses followed) but never offered for mandate, so that nothing is paid "
             "twice. Not imported: Chorus Pro is not asked for them.")
    chorus_iban_second_person = fields.Boolean(
        string="IBANs Trusted by a Second Person",
        help="The user who trusted a supplier's bank account (Confirm the IBAN, or Odoo's trusted flag) does not "
             "mandate the received invoices paid to it: another user does.")
    chorus_timeout = fields.Integer(string="Chorus Pro Time-out (s)", default=30,
                                    help="Seconds allowed for each call to Chorus Pro.")

    def write(self, vals):
        result = super().write(vals)
        if "chorus_payment_delay_days" in vals:
            # The new delay applies to the invoices not mandated yet; a mandate keeps its bill's due date.
            self.env["chorus.inbound.invoice"].sudo().search([
                ("company_id", "in", self.ids), ("move_id", "=", False)])._chorus_compute_due_dates()
        return result

    # ------------------------------------------------------------- computes
    @api.depends("chorus_environment")
    def _compute_chorus_urls(self):
        for company in self:
            urls = ENVIRONMENTS.get(company.chorus_environment)
            if urls:
                company.chorus_api_url = urls["api_url"]
                company.chorus_oauth_url = urls["oauth_url"]

    def _compute_chorus_secrets(self):
        for company in self:
            company.chorus_client_secret = False
            company.chorus_password = False

    @api.depends_context("uid")
    def _compute_chorus_secret_set(self):
        for company, stored in zip(self, self.sudo()):
            company.chorus_client_secret_set = bool(stored.chorus_client_secret_encrypted)
            company.chorus_password_set = bool(stored.chorus_password_encrypted)

    @api.depends("chorus_login", "chorus_account_changed_date")
    def _compute_chorus_account_status(self):
        for company in self:
            if not company.chorus_login and not company.sudo().chorus_password_encrypted:
                company.chorus_account_status = _("Not configured")
            elif company.chorus_account_changed_date:
                company.chorus_account_status = _("Last changed on %(date)s", date=format_datetime(
                    self.env, company.chorus_account_changed_date, dt_format=False))
            else:
                company.chorus_account_status = _("Configured")

    @api.onchange("chorus_public_body_type")
    def _onchange_chorus_public_body_type(self):
        self.chorus_payment_delay_days = PAYMENT_DELAYS.get(self.chorus_public_body_type, 30)

    def _chorus_make_archive(self, files):
        """One archive flux of several invoice files: (content, file name). ``files``: [(content, name)]."""
        self.ensure_one()
        buffer = io.BytesIO()
        stamp = fields.Datetime.now().strftime("%Y%m%d%H%M%S")
        if self.chorus_archive_format == "zip":
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for content, name in files:
                    archive.writestr(name, content)
            return buffer.getvalue(), "LOT_%s.zip" % stamp
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for content, name in files:
                info = tarfile.TarInfo(name)
                info.size = len(content)
                info.mtime = int(time.time())
                archive.addfile(info, io.BytesIO(content))
        return buffer.getvalue(), "LOT_%s.tar.gz" % stamp

    def _chorus_in_its_language(self, records):
        """``records`` in this company's language: what a scheduled action writes for the company's users (chatter,
        activities, errors kept on records) reads in their language, not in the cron user's."""
        self.ensure_one()
        return records.with_context(lang=self.partner_id.lang or records.env.lang)

    # ------------------------------------------------------- buyer statuses
    def _chorus_next_statuses(self, status):
        """The statuses Chorus Pro allows after ``status`` (as last asked), or None when never asked."""
        self.ensure_one()
        entry = self.env["chorus.allowed.status"]._chorus_known(self).get(status or "")
        return entry[0] if entry else None

    def _chorus_refresh_allowed_statuses(self, statuses):
        """Ask Chorus Pro which statuses may follow each of ``statuses``, unless asked within a day.

        Chorus Pro unreachable: a stale answer is kept and used; with none at all, the user is told.
        """
        self.ensure_one()
        known = self.env["chorus.allowed.status"]._chorus_known(self)
        now = fields.Datetime.now()
        stale = [status for status in set(filter(None, statuses))
                 if status not in known or known[status][1] < now - ALLOWED_STATUSES_MAX_AGE]
        if not stale:
            return
        answers = {}
        try:
            client = self._chorus_get_client()
            for status in stale:
                try:
                    answers[status] = client.get_allowed_statuses(status)
                except chorus_exc.ChorusNoResultError:
                    answers[status] = []
        except (chorus_exc.ChorusError, UserError) as error:
            missing = [status for status in stale if status not in known and status not in answers]
            if missing:
                message = error.args[0] if isinstance(error, UserError) else self._chorus_error_message(error)
                raise UserError(_("Chorus Pro cannot say now which statuses may follow %(statuses)s: %(error)s",
                                  statuses=", ".join(sorted(missing)), error=message)) from None
            _logger.info("Chorus Pro's allowed statuses kept from the last answer: %s", error)
        self.env["chorus.allowed.status"]._chorus_store(self, answers, now)

    # -------------------------------------------------------------- secrets
    @api.model
    def _chorus_fernet(self):
        try:
            return crypto.get_fernet(config.get(crypto.CONFIG_OPTION))
        except crypto.MissingKeyError:
            raise UserError(_(
                "The encryption key of the Chorus Pro secrets is missing. Set the option "
                "'chorus_encryption_key' in the Odoo configuration file (or the environment variable "
                "CHORUS_ENCRYPTION_KEY) and restart Odoo.")) from None

    def _chorus_check_manager(self):
        if not self.env.su and not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(_("Only a Chorus Pro manager may change the Chorus Pro credentials."))

    @api.model
    def _chorus_encrypt(self, clear):
        return crypto.encrypt(self._chorus_fernet(), clear)

    def _chorus_decrypt(self, field_name):
        self.ensure_one()
        token = self.sudo()[field_name]
        if not token:
            return False
        try:
            return crypto.decrypt(self._chorus_fernet(), token)
        except crypto.DecryptionError:
            raise UserError(_(
                "The Chorus Pro secrets of %(company)s cannot be decrypted: the encryption key changed. "
                "Enter the PISTE client secret and the technical account password again.",
                company=self.name)) from None

    def _inverse_chorus_client_secret(self):
        for company in self:
            # An empty value means "unchanged": the field is never read back.
            if company.chorus_client_secret:
                company._chorus_check_manager()
                company.sudo().chorus_client_secret_encrypted = self._chorus_encrypt(company.chorus_client_secret)

    def _inverse_chorus_password(self):
        for company in self:
            if company.chorus_password:
                company._chorus_check_manager()
                company.sudo().write({
                    "chorus_password_encrypted": self._chorus_encrypt(company.chorus_password),
                    "chorus_account_changed_date": fields.Datetime.now(),
                    "chorus_password_warning": "none",
                })

    def _chorus_set_technical_account(self, login, password_encrypted, expiry_date):
        """Store a technical account whose password is already encrypted (by the wizard)."""
        self.ensure_one()
        self._chorus_check_manager()
        self.sudo().write({
            "chorus_login": login,
            "chorus_password_encrypted": password_encrypted,
            "chorus_password_expiry_date": expiry_date,
            "chorus_account_changed_date": fields.Datetime.now(),
            "chorus_password_warning": "none",
        })

    # --------------------------------------------------------------- client
    def _chorus_missing_settings(self):
        self.ensure_one()
        stored = self.sudo()
        labels = [
            (stored.chorus_api_url, _("Chorus Pro API URL")),
            (stored.chorus_oauth_url, _("PISTE Token URL")),
            (stored.chorus_client_id, _("PISTE Client ID")),
            (stored.chorus_client_secret_encrypted, _("PISTE Client Secret")),
            (stored.chorus_login, _("Technical Account Login")),
            (stored.chorus_password_encrypted, _("Technical Account Password")),
        ]
        return [label for value, label in labels if not value]

    def _chorus_get_client(self):
        """A client of this company's Chorus Pro account; refuses early what cannot work."""
        self.ensure_one()
        missing = self._chorus_missing_settings()
        if missing:
            raise UserError(_(
                "Chorus Pro is not configured for %(company)s: %(fields)s missing. "
                "Complete it in Settings > Invoicing > Chorus Pro.",
                company=self.name, fields=", ".join(missing)))
        if self.chorus_password_expiry_date and self.chorus_password_expiry_date < fields.Date.context_today(self):
            raise UserError(self._chorus_error_message(chorus_exc.ChorusPasswordExpiredError()))
        stored = self.sudo()
        return ChorusProClient(
            stored.chorus_api_url, stored.chorus_oauth_url, stored.chorus_client_id,
            self._chorus_decrypt("chorus_client_secret_encrypted"), stored.chorus_login,
            self._chorus_decrypt("chorus_password_encrypted"), timeout=stored.chorus_timeout or 30,
            calls_per_second=self._chorus_calls_per_second(),
        )

    @api.model
    def _chorus_calls_per_second(self):
        """The pace of each Odoo process's calls to one PISTE application (system parameter
        l10n_fr_chorus_efacture.calls_per_second; 0: no pacing). PISTE does not publish its limits."""
        value = self.env["ir.config_parameter"].sudo().get_param(CALLS_PER_SECOND_PARAM)
        try:
            return max(float(value), 0.0) if value not in (None, False, "") else DEFAULT_CALLS_PER_SECOND
        except ValueError:
            _logger.warning("%s is not a number (%r): %s calls a second", CALLS_PER_SECOND_PARAM, value,
                            DEFAULT_CALLS_PER_SECOND)
            return DEFAULT_CALLS_PER_SECOND

    @api.model
    def _chorus_error_message(self, error):
        """The translated sentence of a client error (its template is listed in tools/messages.py)."""
        return self.env._(error.message_template, **error.params)

    @api.model
    def _chorus_failure_reason(self, error):
        """What a user reads of any failure on one record: Chorus Pro's refusal or outage, Odoo's message, or, for
        anything else (a database error, a bug), its kind and text, as the log has it with its traceback."""
        if isinstance(error, chorus_exc.ChorusError):
            return self._chorus_error_message(error)
        if isinstance(error, UserError):
            return error.args[0]
        if isinstance(error, (psycopg2.errors.SerializationFailure, psycopg2.errors.LockNotAvailable)):
            return _("another user or worker was changing it at the same time; tried again later.")
        _logger.error("Chorus Pro: unexpected error on one record", exc_info=error)
        return _("unexpected error (%(kind)s: %(error)s); tried again later.", kind=error.__class__.__name__,
                 error=str(error)[:300])

    def action_chorus_check_connection(self):
        """Check the token, the API and the technical account; say in plain words what is wrong."""
        self.ensure_one()
        try:
            client = self._chorus_get_client()
            client.get_token(force=True)
            client.health_check()
            if self.siret:
                structures = client.search_structures(self.siret)
                found = bool(structures)
            else:
                client.get_active_recipient_structures()
                found = True
        except chorus_exc.ChorusError as error:
            _logger.info("Chorus Pro connection check failed for company %s: %s", self.id, error.__class__.__name__)
            return self._chorus_notification(_("Chorus Pro connection failed"), self._chorus_error_message(error),
                                             "danger")
        except UserError as error:
            return self._chorus_notification(_("Chorus Pro connection failed"), error.args[0], "danger")
        if self.siret and not found:
            return self._chorus_notification(
                _("Chorus Pro connection works"),
                _("The credentials are accepted, but the company's SIRET %(siret)s is not known to Chorus Pro: "
                  "check it, or create the structure in the Chorus Pro portal.", siret=self.siret), "warning")
        return self._chorus_notification(
            _("Chorus Pro connection works"),
            _("The PISTE application, the technical account %(login)s and the Chorus Pro API all answer.",
              login=self.chorus_login), "success")

    @api.model
    def _chorus_notification(self, title, message, kind):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": title, "message": message, "type": kind, "sticky": kind != "success"},
        }

    # ----------------------------------------------------------------- cron
    @api.model
    def _cron_chorus_password_expiry(self):
        """Warn the Chorus Pro managers 15 days before the technical password expires, then once expired."""
        today = fields.Date.context_today(self)
        for company in self.sudo().search([("chorus_password_expiry_date", "!=", False)]):
            days_left = (company.chorus_password_expiry_date - today).days
            stage = "expired" if days_left < 0 else "soon" if days_left <= PASSWORD_WARNING_DAYS else "none"
            if stage == company.chorus_password_warning:
                continue
            if stage != "none":
                company._chorus_in_its_language(company)._chorus_warn_password_expiry(stage, days_left)
            company.chorus_password_warning = stage

    def _chorus_warn_password_expiry(self, stage, days_left):
        self.ensure_one()
        managers = self.env.ref(MANAGER_GROUP).users.filtered(lambda u: self in u.company_ids and u.active)
        if stage == "expired":
            summary = _("Chorus Pro technical password expired")
            body = _("The password of the Chorus Pro technical account %(login)s of %(company)s expired on "
                     "%(date)s. Nothing can be sent to or received from Chorus Pro until it is changed: change it "
                     "in the Chorus Pro portal, then use 'Configure my Chorus Pro account' in Settings.",
                     login=self.chorus_login, company=self.name,
                     date=format_date(self.env, self.chorus_password_expiry_date))
        else:
            summary = _("Chorus Pro technical password expires in %(days)s days", days=days_left)
            body = _("The password of the Chorus Pro technical account %(login)s of %(company)s expires on "
                     "%(date)s. Change it in the Chorus Pro portal before then, and enter the new one with "
                     "'Configure my Chorus Pro account' in Settings.",
                     login=self.chorus_login, company=self.name,
                     date=format_date(self.env, self.chorus_password_expiry_date))
        deadline = max(self.chorus_password_expiry_date - timedelta(days=1), fields.Date.context_today(self))
        for user in managers:
            self.partner_id.activity_schedule(
                "mail.mail_activity_data_todo", date_deadline=deadline, summary=summary, note=body,
                user_id=user.id)
        if managers:
            self.env["mail.mail"].sudo().create({
                "subject": summary,
                "body_html": "<p>%s</p>" % body,
                "recipient_ids": [(6, 0, managers.partner_id.ids)],
                "email_from": self.email_formatted or self.env.user.email_formatted,
                "auto_delete": False,
            })

    # ----------------------------------------------------------------- demo
    @api.model
    def _chorus_demo_configure_buyer(self, company, api_url, client_id, client_secret, login, password):
        """A demo public buyer with the French chart, receiving through the local sandbox (demo data only)."""
        company = self.browse(company)
        # chart_template is guessed from the country; the accounts tell whether the chart is loaded.
        # _load, as try_loading does it: try_loading warns when called during a module's installation.
        if not self.env["account.account"].search_count([("company_ids", "in", company.id)], limit=1):
            self.env["account.chart.template"]._load("fr", company, install_demo=False)
        self._chorus_demo_configure(company.id, api_url, client_id, client_secret, login, password)
        # Odoo took over two months ago: the sandbox's invoices (deposited within 20 days) are Odoo's to mandate.
        company.write({"chorus_receive": True, "chorus_public_body_type": "state", "chorus_payment_delay_days": 30,
                       "chorus_inbound_validation": True,
                       "chorus_inbound_start_date": fields.Date.today() - relativedelta(months=2)})
        self.env.ref("base.user_admin").company_ids |= company

    @api.model
    def _chorus_demo_configure(self, company, api_url, client_id, client_secret, login, password):
        """Point a demo company at the local Chorus Pro sandbox (called from demo data only)."""
        company = self.browse(company)
        company.write({
            "chorus_environment": "custom",
            "chorus_api_url": api_url,
            "chorus_oauth_url": "%s/api/oauth/token" % api_url.rstrip("/"),
            "chorus_client_id": client_id,
            "chorus_client_secret": client_secret,
        })
        company._chorus_set_technical_account(
            login, self._chorus_encrypt(password),
            fields.Date.context_today(self) + timedelta(days=PASSWORD_LIFETIME_DAYS))
