"""The company's Chorus Pro account: encrypted write-only secrets, rights, connection check, expiry cron."""

import os
from datetime import date, timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, TransactionCase, new_test_user, tagged
from odoo.tools import config
from odoo.tools.misc import format_date

from .common import CLIENT_ID, CLIENT_SECRET, SUPPLIER_LOGIN, SUPPLIER_PASSWORD, SandboxMixin, free_port_url

CLEAR_PASSWORD = "Clear-Password-Never-Stored-7f3a"
CLEAR_SECRET = "Clear-Client-Secret-Never-Stored-91bc"


@tagged("post_install", "-at_install", "chorus_account")
class TestCompanyAccount(SandboxMixin, TransactionCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env["res.company"].create({"name": "Fournisseur Test SAS", "siret": "45217896500011"})
        cls.manager = new_test_user(
            cls.env, "chorus_manager",
            groups="base.group_user,base.group_system,l10n_fr_chorus_efacture.group_chorus_manager",
            company_id=cls.company.id, company_ids=[cls.company.id], email="manager@example.com")
        cls.accountant = new_test_user(
            cls.env, "chorus_accountant", groups="base.group_user,account.group_account_manager",
            company_id=cls.company.id, company_ids=[cls.company.id])
        # May change the settings, but is not a Chorus Pro manager.
        cls.settings_admin = new_test_user(
            cls.env, "settings_admin", groups="base.group_user,base.group_system",
            company_id=cls.company.id, company_ids=[cls.company.id])

    def configure(self, company=None, password=SUPPLIER_PASSWORD, secret=CLIENT_SECRET, expiry=None):
        company = (company or self.company).with_user(self.manager)
        company.write({
            "chorus_environment": "custom",
            "chorus_api_url": self.sandbox_url,
            "chorus_oauth_url": self.sandbox_url + "/api/oauth/token",
            "chorus_client_id": CLIENT_ID,
            "chorus_client_secret": secret,
        })
        wizard = self.env["chorus.account.wizard"].with_user(self.manager).with_company(company).create({
            "company_id": company.id, "login": SUPPLIER_LOGIN, "password": password,
            "expiry_date": expiry or fields.Date.today() + timedelta(days=400),
        })
        wizard.action_save()
        return company.sudo()

    # ------------------------------------------------------------ encryption
    def test_encryption_round_trip(self):
        company = self.configure(password=CLEAR_PASSWORD, secret=CLEAR_SECRET)
        self.assertTrue(company.chorus_password_encrypted)
        self.assertNotIn(CLEAR_PASSWORD, company.chorus_password_encrypted)
        self.assertEqual(company._chorus_decrypt("chorus_password_encrypted"), CLEAR_PASSWORD)
        self.assertEqual(company._chorus_decrypt("chorus_client_secret_encrypted"), CLEAR_SECRET)
        # Write-only: nothing reads the clear value back, not even a manager or the RPC read.
        as_manager = self.company.with_user(self.manager)
        values = as_manager.read(["chorus_password", "chorus_client_secret", "chorus_password_set"])[0]
        self.assertFalse(values["chorus_password"])
        self.assertFalse(values["chorus_client_secret"])
        self.assertTrue(values["chorus_password_set"])

    def test_clear_secrets_nowhere_in_database(self):
        self.configure(password=CLEAR_PASSWORD, secret=CLEAR_SECRET)
        self.env.flush_all()
        cr = self.env.cr
        cr.execute("""SELECT quote_ident(table_schema) || '.' || quote_ident(table_name)
                        FROM information_schema.tables
                       WHERE table_schema = 'public' AND table_type = 'BASE TABLE'""")
        tables = [row[0] for row in cr.fetchall()]
        self.assertGreater(len(tables), 100)
        leaks = []
        for table in tables:
            # The whole row as text, as a dump would write it (this transaction included).
            cr.execute("SELECT 1 FROM %s AS t WHERE t::text LIKE %%s OR t::text LIKE %%s LIMIT 1" % table,
                       ("%" + CLEAR_PASSWORD + "%", "%" + CLEAR_SECRET + "%"))
            if cr.fetchone():
                leaks.append(table)
        self.assertEqual(leaks, [], "clear Chorus Pro secrets found in these tables")

    def test_empty_secret_keeps_the_stored_one(self):
        company = self.configure(secret=CLEAR_SECRET)
        before = company.chorus_client_secret_encrypted
        settings = self.env["res.config.settings"].with_user(self.manager).with_company(self.company).create({})
        settings.execute()
        self.company.with_user(self.manager).write({"chorus_client_secret": False})
        self.assertEqual(company.chorus_client_secret_encrypted, before)

    def test_missing_encryption_key(self):
        with patch.dict(config.options, {"chorus_encryption_key": ""}), \
                patch.dict(os.environ, {"CHORUS_ENCRYPTION_KEY": ""}):
            with self.assertRaisesRegex(UserError, "chorus_encryption_key"):
                self.company.with_user(self.manager).chorus_password = "x"

    def test_changed_key_says_so(self):
        company = self.configure()
        with patch.dict(config.options, {"chorus_encryption_key": "another key entirely"}):
            with self.assertRaisesRegex(UserError, "encryption key changed"):
                company._chorus_get_client()

    # ---------------------------------------------------------------- rights
    def test_only_managers_set_secrets(self):
        with self.assertRaises(AccessError):
            self.company.with_user(self.accountant).write({"chorus_password": "x"})
        with self.assertRaises(AccessError):
            self.company.with_user(self.accountant).write({"chorus_client_secret": "x"})
        with self.assertRaises(AccessError):
            self.company.with_user(self.accountant).read(["chorus_password_encrypted"])
        with self.assertRaises(AccessError):
            self.company.with_user(self.settings_admin).write({"chorus_password": "x"})
        with self.assertRaises(AccessError):
            self.company.with_user(self.settings_admin).write({"chorus_client_secret": "x"})
        self.assertFalse(self.company.sudo().chorus_password_encrypted)
        with self.assertRaises(AccessError):
            self.env["chorus.account.wizard"].with_user(self.accountant).create(
                {"company_id": self.company.id, "login": "TECH_1_X@cpro.fr", "password": "x"})
        self.company.with_user(self.manager).write({"chorus_password": "allowed"})
        self.assertEqual(self.company._chorus_decrypt("chorus_password_encrypted"), "allowed")

    def test_settings_fields_hidden_from_non_managers(self):
        for user in (self.accountant, self.settings_admin):
            settings_fields = self.env["res.config.settings"].with_user(user).fields_get()
            self.assertNotIn("chorus_client_secret", settings_fields)
        self.assertIn("chorus_client_secret", self.env["res.config.settings"].with_user(self.manager).fields_get())

    # ---------------------------------------------------- status and wizard
    def test_account_status_and_wizard(self):
        self.assertEqual(self.company.chorus_account_status, "Not configured")
        Wizard = self.env["chorus.account.wizard"].with_user(self.manager).with_company(self.company)
        wizard_form = Form(Wizard)
        # Nothing stored: no guessed date to save without looking; the window says when a new password expires.
        self.assertFalse(wizard_form.expiry_date)
        self.assertIn(format_date(self.env, fields.Date.context_today(self.company) + timedelta(days=424)),
                      wizard_form.expiry_hint)
        wizard_form.login = SUPPLIER_LOGIN
        wizard_form.password = CLEAR_PASSWORD
        wizard_form.expiry_date = date(2027, 9, 30)
        wizard = wizard_form.save()
        self.assertNotIn(CLEAR_PASSWORD, wizard.password_encrypted or "")
        wizard.action_save()
        self.company.invalidate_recordset()
        self.assertEqual(self.company.chorus_login, SUPPLIER_LOGIN)
        self.assertRegex(self.company.chorus_account_status, r"^Last changed on \d\d/\d\d/\d{4} \d\d:\d\d:\d\d$")
        self.assertEqual(self.company.chorus_password_expiry_date, date(2027, 9, 30))
        # Opened again: the date as stored.
        self.assertEqual(Form(Wizard).expiry_date, date(2027, 9, 30))

    def test_wizard_requires_password_and_clean_login(self):
        wizard = self.env["chorus.account.wizard"].with_user(self.manager).create(
            {"company_id": self.company.id, "login": SUPPLIER_LOGIN, "expiry_date": date(2027, 9, 30)})
        with self.assertRaisesRegex(UserError, "Enter the password"):
            wizard.action_save()
        with self.assertRaisesRegex(Exception, "cannot contain spaces"):
            self.env["chorus.account.wizard"].with_user(self.manager).create(
                {"company_id": self.company.id, "login": "TECH 1", "password": "x", "expiry_date": date(2027, 9, 30)})

    def test_environment_fills_urls(self):
        self.company.chorus_environment = "production"
        self.assertEqual(self.company.chorus_api_url, "https://api.piste.gouv.fr")
        self.assertEqual(self.company.chorus_oauth_url, "https://oauth.piste.gouv.fr/api/oauth/token")
        self.company.chorus_environment = "qualification"
        self.assertEqual(self.company.chorus_api_url, "https://sandbox-api.piste.gouv.fr")

    # ------------------------------------------------------ connection check
    def check(self, company=None, lang="en_US"):
        company = (company or self.company).with_user(self.manager).with_context(lang=lang)
        return company.action_chorus_check_connection()["params"]

    def test_check_connection_good(self):
        self.configure()
        params = self.check()
        self.assertEqual(params["type"], "success", params["message"])
        self.assertIn(SUPPLIER_LOGIN, params["message"])

    def test_check_connection_unknown_siret(self):
        self.configure()
        self.company.siret = "39214567800018"
        params = self.check()
        self.assertEqual(params["type"], "warning")
        self.assertIn("39214567800018", params["message"])

    def test_check_connection_not_configured(self):
        params = self.check()
        self.assertEqual(params["type"], "danger")
        self.assertIn("PISTE Client ID", params["message"])
        self.assertIn("Settings > Invoicing > Chorus Pro", params["message"])

    def test_check_connection_bad_secret(self):
        self.configure(secret="wrong-secret")
        params = self.check()
        self.assertEqual(params["type"], "danger")
        self.assertIn("Client ID and Client Secret", params["message"])

    def test_check_connection_bad_password(self):
        self.configure(password="wrong-password")
        params = self.check()
        self.assertEqual(params["type"], "danger")
        self.assertIn("technical account was refused", params["message"])
        self.assertNotIn("wrong-password", params["message"])

    def test_check_connection_expired_password(self):
        self.configure()
        self.company.chorus_password_expiry_date = fields.Date.today() - timedelta(days=1)
        params = self.check()
        self.assertIn("has expired", params["message"])
        # Chorus Pro's own refusal of an expired password reads the same.
        self.company.chorus_password_expiry_date = fields.Date.today() + timedelta(days=100)
        self.control("accounts/password-expiry", login=SUPPLIER_LOGIN, date="2020-01-01")
        try:
            params = self.check()
        finally:
            self.reset_sandbox()
        self.assertIn("has expired", params["message"])

    def test_check_connection_down_and_slow(self):
        self.configure()
        self.company.chorus_api_url = free_port_url()
        self.company.chorus_oauth_url = self.company.chorus_api_url + "/api/oauth/token"
        params = self.check()
        self.assertEqual(params["type"], "danger")
        self.assertIn("unavailable", params["message"])
        self.configure()
        self.company.chorus_timeout = 1
        self.inject("slow", "transverses/v1/health-check", delay=2)
        params = self.check()
        self.assertIn("did not answer within 1 seconds", params["message"])

    def test_check_connection_in_french(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"].search([("name", "=", "l10n_fr_chorus_efacture")])._update_translations(
            ["fr_FR"])
        self.configure(password="wrong-password")
        params = self.check(lang="fr_FR")
        self.assertEqual(params["title"], "Échec de la connexion à Chorus Pro")
        self.assertIn("Le compte technique Chorus Pro a été refusé", params["message"])

    # ------------------------------------------------------------- expiry cron
    def test_password_expiry_warnings(self):
        company = self.configure(expiry=fields.Date.today() + timedelta(days=10))
        Activity = self.env["mail.activity"]
        Mail = self.env["mail.mail"]

        def warnings():
            activities = Activity.search([("res_model", "=", "res.partner"), ("res_id", "=", company.partner_id.id),
                                          ("user_id", "=", self.manager.id)])
            mails = Mail.search([("recipient_ids", "in", self.manager.partner_id.id),
                                 ("subject", "ilike", "Chorus Pro technical password")])
            return activities, mails

        self.env["res.company"]._cron_chorus_password_expiry()
        activities, mails = warnings()
        self.assertEqual(len(activities), 1)
        self.assertIn("expires in 10 days", activities.summary)
        expiry = fields.Date.today() + timedelta(days=10)
        self.assertIn("expires on %s." % expiry.strftime("%m/%d/%Y"), activities.note,
                      "the date in the user's format, not ISO")
        self.assertEqual(len(mails), 1)
        self.env["res.company"]._cron_chorus_password_expiry()
        self.assertEqual(len(warnings()[0]), 1, "warned once, not every day")

        company.chorus_password_expiry_date = fields.Date.today() - timedelta(days=1)
        self.env["res.company"]._cron_chorus_password_expiry()
        activities, mails = warnings()
        self.assertEqual(len(activities), 2)
        self.assertIn("expired", activities.sorted("id")[-1].summary)
        self.assertEqual(len(mails), 2)

        # A new password (far from expiry) clears the warning state.
        self.configure(expiry=fields.Date.today() + timedelta(days=400))
        self.assertEqual(company.chorus_password_warning, "none")
        self.env["res.company"]._cron_chorus_password_expiry()
        self.assertEqual(len(warnings()[0]), 2)

    def test_expiry_far_away_no_warning(self):
        self.configure(expiry=fields.Date.today() + timedelta(days=60))
        self.env["res.company"]._cron_chorus_password_expiry()
        self.assertFalse(self.env["mail.activity"].search([("user_id", "=", self.manager.id)]))
