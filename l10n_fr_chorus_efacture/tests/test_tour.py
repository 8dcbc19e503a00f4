"""Browser tour: a manager configures the Chorus Pro account from Settings (needs Chromium)."""

import base64
import shutil
from datetime import date

from odoo import Command, fields

from odoo.tests import HttpCase, tagged

from .common import COMMUNE_SIRET, SandboxMixin, make_pdf


@tagged("post_install", "-at_install", "chorus_tour")
class TestChorusTour(SandboxMixin, HttpCase):

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
        self.point_company_at_sandbox(company, technical_account=False)
        self.start_tour("/odoo/settings", "l10n_fr_chorus_efacture_account_tour", login="admin")
        company.invalidate_recordset()
        self.assertEqual(company.chorus_login, "TECH_1_ANP@cpro.fr")
        self.assertEqual(company._chorus_decrypt("chorus_password_encrypted"), "Sandbox-Supplier-2026!")
        self.assertEqual(company.chorus_password_expiry_date, date(2027, 9, 30))

    def test_send_invoice_from_its_form(self):
        company = self.env.ref("base.demo_company_fr")
        admin = self.env.ref("base.user_admin")
        admin.write({"company_ids": [(4, company.id)], "company_id": company.id})
        self.point_company_at_sandbox(company)
        commune = self.env.ref("l10n_fr_chorus_efacture.partner_commune_saint_veran").with_company(company)
        commune.invoice_sending_method = "chorus_pro"
        commune.action_chorus_refresh_structure()
        self.assertEqual(commune.siret, COMMUNE_SIRET)
        invoice = self.env["account.move"].with_company(company).create({
            "move_type": "out_invoice", "partner_id": commune.id, "invoice_date": fields.Date.today(),
            "invoice_line_ids": [Command.create({
                "name": "Maintenance", "quantity": 1, "price_unit": 850.0,
                "tax_ids": [Command.set(self.env.ref("account.%s_tva_normale" % company.id).ids)]})],
        })
        invoice.action_post()
        # The printed PDF (wkhtmltopdf is not used inside tests).
        invoice.invoice_pdf_report_file = base64.b64encode(make_pdf(["Facture %s" % invoice.name]))
        self.start_tour("/odoo/account.move/%s" % invoice.id, "l10n_fr_chorus_efacture_send_tour", login="admin")
        invoice.invalidate_recordset()
        self.assertEqual(invoice.chorus_state, "deposited")
        self.assertEqual(invoice.buyer_reference, "ECOLES")
        self.assertEqual(self.sandbox.state.calls.get("factures/v1/deposer/flux"), 1)

    def test_received_invoice_to_mandate(self):
        company = self.env.ref("l10n_fr_chorus_efacture.demo_company_buyer")
        admin = self.env.ref("base.user_admin")
        admin.write({"company_ids": [(4, company.id)], "company_id": company.id})
        self.point_buyer_at_sandbox(company)
        company.chorus_inbound_validation = True
        log = self.env["chorus.inbound.invoice"]._chorus_import_company(company)
        self.assertEqual(log.state, "done", log.message)
        invoices = self.env["chorus.inbound.invoice"].search([("company_id", "=", company.id)])
        # A supplier the demo knows by its IBAN: matched at import, nothing to confirm.
        invoice = invoices.filtered(lambda i: i.match_method == "iban" and not i.iban_warning)[:1]
        self.assertTrue(invoice, "the demo's suppliers are matched at import")
        self.start_tour("/odoo/action-l10n_fr_chorus_efacture.action_chorus_inbound_invoice/%s" % invoice.id,
                        "l10n_fr_chorus_efacture_inbound_tour", login="admin")
        invoice.invalidate_recordset()
        self.assertEqual(invoice.stage, "mandated")
        self.assertTrue(invoice.internal_validated)
        self.assertEqual(invoice.move_id.state, "posted")
        chorus = self.sandbox.state.invoices[int(invoice.chorus_invoice_id)]
        self.assertEqual((chorus["statut"], chorus["numeroDpMandat"]), ("MANDATEE", invoice.move_id.name))
        self.assertEqual(chorus["historique"][-2]["comment"], "Prestation réalisée et contrôlée")
