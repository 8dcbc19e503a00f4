"""What a role must not change it cannot change, whatever the path; what a role is offered works for it."""

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import mute_logger

from .common import give_supplier
from .test_inbound import BuyerCase

# What comes from Chorus Pro or from the module's own steps, with a value a user might try to write.
PROTECTED = {
    "chorus_status": "MANDATEE", "chorus_status_date": "2026-01-01 00:00:00", "supplier_iban": "FR7600000000",
    "supplier_bic": "EVILFRPP", "supplier_siret": "11111111111111", "amount_total": 1.0, "amount_to_pay": 1.0,
    "validated_by_id": "validator", "validated_date": "2026-01-01 00:00:00", "date_due": "2099-12-31",
    "sync_state": "done", "sync_status": "MANDATEE", "mandate_state": "requested", "was_suspended": True,
    "match_method": "manual", "name": "FAUX-1", "availability_date": "2020-01-01", "documents_state": "done",
}


@tagged("post_install", "-at_install", "chorus_inbound")
class TestChorusInboundAccess(BuyerCase):

    def value(self, name):
        value = PROTECTED[name]
        return self.validator.id if value == "validator" else value

    def test_protected_fields_refused_to_users(self):
        self.run_import()
        invoice = self.received()[0]
        before = invoice.read(list(PROTECTED))[0]
        for user in (self.clerk, self.validator):
            for name in PROTECTED:
                with self.assertRaises(AccessError, msg="%s written by %s" % (name, user.name)):
                    invoice.with_user(user).write({name: self.value(name)})
        self.assertEqual(invoice.read(list(PROTECTED))[0], before)
        with self.assertRaises(AccessError):
            invoice.with_user(self.clerk).write({"internal_validated": True})
        # What a clerk may change: the supplier (validated for all its invoices) and the documents' names.
        partner = self.env["res.partner"].create({"name": "Fournisseur choisi", "is_company": True})
        invoice.with_user(self.clerk).write({"partner_id": partner.id})
        self.assertEqual(invoice.chorus_supplier_id.partner_id, partner)

    def test_history_and_vat_read_only(self):
        self.run_import()
        invoice = self.received()[0]
        with self.assertRaises(AccessError):
            self.env["chorus.inbound.invoice.status"].with_user(self.clerk).create({
                "inbound_id": invoice.id, "status": "SERVICE_FAIT", "date": fields.Datetime.now(),
                "user_id": self.validator.id})
        with self.assertRaises(AccessError):
            invoice.status_history_ids[0].with_user(self.clerk).write({"user_id": self.validator.id})
        with self.assertRaises(AccessError):
            invoice.tax_line_ids[0].with_user(self.clerk).write({"amount": 0.0})
        with self.assertRaises(AccessError):
            invoice.with_user(self.clerk).unlink()

    def test_documents_renamed_never_removed(self):
        self.run_import()
        invoice = self.received().filtered(lambda i: len(i.document_ids) > 1)[0].with_user(self.clerk)
        document = invoice.document_ids.filtered(lambda d: d != invoice.pdf_attachment_id)[0]
        invoice.write({"document_ids": [fields.Command.update(document.id, {"name": "PV de réception.pdf"})]})
        self.assertEqual(document.name, "PV de réception.pdf")
        content = document.raw
        for command in (fields.Command.delete(document.id), fields.Command.unlink(document.id),
                        fields.Command.update(document.id, {"raw": b"%PDF-forged"}),
                        fields.Command.create({"name": "faux.pdf", "raw": b"%PDF"})):
            with self.assertRaises(AccessError):
                invoice.write({"document_ids": [command]})
        with self.assertRaises(AccessError):
            document.with_user(self.clerk).unlink()
        with self.assertRaises(AccessError):
            document.with_user(self.clerk).write({"raw": b"%PDF-forged", "res_id": invoice.id})
        self.assertEqual(document.raw, content)

    def test_clerk_runs_the_check_and_every_menu(self):
        # "Check for new invoices" as an invoicing user: done, with its summary (the log is the managers').
        action = self.Inbound.with_user(self.clerk).action_import()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("30 new", action["params"]["message"])
        # Every Chorus Pro menu the clerk sees opens, and its list reads.
        # As the web client loads them: the buyer's clerk sees the receiving side, not the sending one.
        Menu = self.env["ir.ui.menu"].with_user(self.clerk)
        root = self.env.ref("l10n_fr_chorus_efacture.menu_chorus_pro")
        menus = Menu.browse([key for key in Menu.load_menus(False) if isinstance(key, int)]) & Menu.search(
            [("id", "child_of", root.id)])
        self.assertIn(self.env.ref("l10n_fr_chorus_efacture.menu_chorus_inbound_invoice"), menus)
        self.assertNotIn(self.env.ref("l10n_fr_chorus_efacture.menu_chorus_send_report"), menus)
        self.assertIn(self.env.ref("l10n_fr_chorus_efacture.menu_chorus_supplier"), menus)
        self.assertNotIn(self.env.ref("l10n_fr_chorus_efacture.menu_chorus_inbound_import_log"), menus)
        for menu in menus.filtered("action"):
            action = menu.action.sudo()
            if action._name == "ir.actions.server":
                continue  # "Check for new invoices", run above
            Model = self.env[action.res_model].with_user(self.clerk)
            result = Model.get_views([(False, "list"), (False, "form")])
            Model.web_search_read([], {name: {} for name in result["models"][Model._name]["fields"]})
            # Records only come from Chorus Pro: no "New" offered.
            self.assertIn('create="0"', result["views"]["list"]["arch"], menu.name)
        # The clerk mandates: process, supplier, mandate, as the buttons do.
        invoice = self.received()[0]
        give_supplier(invoice.with_user(self.clerk))
        self.process(invoice, "SERVICE_FAIT", "Service fait")
        self.mandate(invoice)
        self.assertEqual(invoice.move_id.state, "posted")


@tagged("post_install", "-at_install", "chorus_rpc")
class TestChorusInboundRpc(HttpCase):
    """The same protections through JSON-RPC, as a billing user's browser or script would call them."""

    def setUp(self):
        super().setUp()
        company = self.env.company
        self.invoice = self.env["chorus.inbound.invoice"].sudo().create({
            "company_id": company.id, "chorus_invoice_id": "990001", "name": "RPC-0001",
            "supplier_name": "Fournisseur RPC", "supplier_siret": "39214567800018",
            "supplier_iban": "FR7630004008230001234567819", "amount_total": 120.0, "amount_untaxed": 100.0,
            "amount_tax": 20.0, "chorus_status": "MISE_A_DISPOSITION", "deposit_date": "2026-11-02",
        })
        self.billing = new_test_user(self.env, "chorus_billing", password="chorus_billing_pw",
                                     groups="account.group_account_invoice", company_id=company.id)
        self.validator = new_test_user(self.env, "chorus_rpc_validator", name="Validateur",
                                       groups="l10n_fr_chorus_efacture.group_chorus_inbound_validator",
                                       company_id=company.id)

    def call(self, model, method, args, kwargs=None):
        return self.make_jsonrpc_request("/web/dataset/call_kw/%s/%s" % (model, method), {
            "model": model, "method": method, "args": args, "kwargs": kwargs or {}})

    def value(self, name):
        value = PROTECTED[name]
        return self.validator.id if value == "validator" else value

    def test_protected_fields_refused_over_rpc(self):
        self.authenticate("chorus_billing", "chorus_billing_pw")
        before = self.invoice.read(list(PROTECTED) + ["internal_validated"])[0]
        with mute_logger("odoo.http"):
            for name in list(PROTECTED) + ["internal_validated"]:
                value = True if name == "internal_validated" else self.value(name)
                with self.assertRaises(JsonRpcException, msg=name) as refusal:
                    self.call("chorus.inbound.invoice", "write", [[self.invoice.id], {name: value}])
                self.assertEqual(str(refusal.exception), "odoo.exceptions.AccessError", name)
            # The context cannot open a way in either.
            with self.assertRaises(JsonRpcException):
                self.call("chorus.inbound.invoice", "write", [[self.invoice.id], {"chorus_status": "MANDATEE"}],
                          {"context": {"chorus_internal": True, "sudo": True}})
            with self.assertRaises(JsonRpcException) as refusal:
                self.call("chorus.inbound.invoice.status", "create", [{
                    "inbound_id": self.invoice.id, "status": "SERVICE_FAIT", "date": "2026-11-20 10:00:00",
                    "user_id": self.validator.id}])
            self.assertEqual(str(refusal.exception), "odoo.exceptions.AccessError")
            supplier = self.env["chorus.supplier"].sudo().create({
                "company_id": self.invoice.company_id.id, "code": "39214567800018", "name": "Fournisseur RPC"})
            with self.assertRaises(JsonRpcException):
                self.call("chorus.supplier", "write", [[supplier.id], {"state": "validated"}])
        self.invoice.invalidate_recordset()
        self.assertEqual(self.invoice.read(list(PROTECTED) + ["internal_validated"])[0], before)
        self.assertFalse(self.env["chorus.inbound.invoice.status"].search([("inbound_id", "=", self.invoice.id)]))
        self.assertEqual(supplier.state, "to_validate")
