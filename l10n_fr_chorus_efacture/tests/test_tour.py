"""Browser tour: a manager configures the Chorus Pro account from Settings (needs Chromium)."""

import shutil

from odoo.tests import HttpCase, tagged

from .common import CLIENT_ID, CLIENT_SECRET, SandboxMixin


@tagged("post_install", "-at_install", "chorus_tour")
class TestChorusTour(SandboxMixin, HttpCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_sandbox()

    def setUp(self):
        super().setUp()
        # Odoo skips browser tests silently without these: here that is a failure.
        try:
            import websocket  # noqa: F401
        except ImportError:
            self.fail("the websocket-client package is missing: browser tests cannot run")
        if not any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")):
            self.fail("Chromium is missing: browser tests cannot run")

    def test_configure_account_from_settings(self):
        admin = self.env.ref("base.user_admin")
        company = self.env["res.company"].create({"name": "Tour Fournisseur", "siret": "45217896500011"})
        admin.write({"company_ids": [(4, company.id)], "company_id": company.id})
        company.write({
            "chorus_environment": "custom",
            "chorus_api_url": self.sandbox_url,
            "chorus_oauth_url": self.sandbox_url + "/api/oauth/token",
            "chorus_client_id": CLIENT_ID,
            "chorus_client_secret": CLIENT_SECRET,
        })
        self.start_tour("/odoo/settings", "l10n_fr_chorus_efacture_account_tour", login="admin")
        company.invalidate_recordset()
        self.assertEqual(company.chorus_login, "TECH_1_ANP@cpro.fr")
        self.assertEqual(company._chorus_decrypt("chorus_password_encrypted"), "Sandbox-Supplier-2026!")
