"""What the module records of Chorus Pro, on invoices, customers and their services, is refused to a billing user's
RPC write, field by field, whatever the context it sends."""

from odoo import Command, fields
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import mute_logger

from ..models.account_move import MODULE_FIELDS
from ..models.res_partner import STRUCTURE_FIELDS
from .common import COMMUNE_SIRET

# A value for each field, as a user would try to write it.
MOVE_VALUES = {
    "chorus_state": "error", "chorus_flux_number": "CPP2026FAUX", "chorus_flux_state": "IN_REJETE",
    "chorus_waiting_told": True, "chorus_sent_date": "2026-01-01 00:00:00", "chorus_flux_syntax": "IN_DP_E1_CII_16B",
    "chorus_flux_attachment_id": "attachment", "chorus_invoice_id": "4242", "chorus_invoice_status": "REJETEE",
    "chorus_status_date": "2026-01-01 00:00:00", "chorus_status_comment": "faux", "chorus_error": "faux",
    "chorus_inbound_id": "inbound", "chorus_send_request": {"author_user_id": 2},
}
# Each differs from the customer's own value (sending back a value already there changes nothing: accepted).
PARTNER_VALUES = {
    "chorus_structure_id": 4242, "chorus_structure_name": "Fausse structure", "chorus_service_required": False,
    "chorus_engagement_required": True, "chorus_service_or_engagement": True,
    "chorus_structure_checked": "2026-01-01 00:00:00", "chorus_structure_state": "error",
    "chorus_structure_error": "faux", "chorus_structure_company_id": "company",
    "chorus_service_ids": [(5, 0, 0)],
}


@tagged("post_install", "-at_install", "chorus_rpc")
class TestChorusFieldsRpc(HttpCase):

    def setUp(self):
        super().setUp()
        company = self.env.company
        self.billing = new_test_user(self.env, "chorus_rpc_billing", password="chorus_rpc_billing_pw",
                                     groups="account.group_account_invoice,base.group_partner_manager",
                                     company_id=company.id)
        self.customer = self.env["res.partner"].sudo().create({
            "name": "Commune RPC", "is_company": True, "siret": COMMUNE_SIRET, "chorus_structure_id": 25000101,
            "chorus_structure_state": "checked", "chorus_service_required": True,
            "chorus_service_ids": [Command.create({"chorus_service_id": 9100001, "code": "SERV_TECHNIQUES",
                                                   "name": "Services techniques"})]})
        self.move = self.env["account.move"].sudo().create({
            "move_type": "out_invoice", "partner_id": self.customer.id, "invoice_date": fields.Date.today(),
            "buyer_reference": "SERV_TECHNIQUES",
            "invoice_line_ids": [Command.create({"name": "Maintenance", "quantity": 1, "price_unit": 100.0})]})
        self.move.action_post()
        self.move.sudo().write({"chorus_state": "integrated", "chorus_flux_number": "CPP2026000000001",
                                "chorus_invoice_id": "7000001", "chorus_invoice_status": "MISE_A_DISPOSITION"})
        self.other_attachment = self.env["ir.attachment"].create({"name": "autre.pdf", "raw": b"%PDF-1.4"})
        self.inbound = self.env["chorus.inbound.invoice"].sudo().create({
            "company_id": company.id, "chorus_invoice_id": "990002", "name": "RPC-0002", "amount_total": 1.0,
            "deposit_date": "2026-11-02"})

    def call(self, model, method, args, kwargs=None):
        return self.make_jsonrpc_request("/web/dataset/call_kw/%s/%s" % (model, method), {
            "model": model, "method": method, "args": args, "kwargs": kwargs or {}})

    def value(self, value):
        return {"attachment": self.other_attachment.id, "inbound": self.inbound.id,
                "company": self.env.company.id}.get(value, value) if isinstance(value, str) else value

    def assertRefused(self, model, method, args, kwargs=None, exception="odoo.exceptions.AccessError"):
        with self.assertRaises(JsonRpcException, msg="%s.%s %s" % (model, method, args)) as refusal:
            self.call(model, method, args, kwargs)
        self.assertEqual(str(refusal.exception), exception, "%s.%s %s" % (model, method, args))

    def test_invoice_fields_refused(self):
        self.assertEqual(set(MOVE_VALUES), MODULE_FIELDS, "every field the module records is tried")
        self.authenticate("chorus_rpc_billing", "chorus_rpc_billing_pw")
        before = self.move.read(list(MODULE_FIELDS))[0]
        with mute_logger("odoo.http"):
            for name, value in MOVE_VALUES.items():
                self.assertRefused("account.move", "write", [[self.move.id], {name: self.value(value)}])
                self.assertRefused("account.move", "write", [[self.move.id], {name: self.value(value)}],
                                   {"context": {"chorus_allow_write": True}})
            # Created with it, through RPC: refused too.
            self.assertRefused("account.move", "create", [{"move_type": "out_invoice", "partner_id": self.customer.id,
                                                           "chorus_state": "integrated"}])
            # The invoice it makes up is definitive, whatever the context says.
            self.assertRefused("account.move", "write", [[self.move.id], {"ref": "changed"}],
                               {"context": {"chorus_allow_write": True}}, exception="odoo.exceptions.UserError")
        self.move.invalidate_recordset()
        self.assertEqual(self.move.read(list(MODULE_FIELDS))[0], before)
        self.assertNotEqual(self.move.ref, "changed")

    def test_customer_structure_and_services_refused(self):
        self.assertEqual(set(PARTNER_VALUES), STRUCTURE_FIELDS, "every structure field is tried")
        self.authenticate("chorus_rpc_billing", "chorus_rpc_billing_pw")
        before = self.customer.read(list(STRUCTURE_FIELDS))[0]
        service = self.customer.chorus_service_ids
        with mute_logger("odoo.http"):
            for name, value in PARTNER_VALUES.items():
                self.assertRefused("res.partner", "write", [[self.customer.id], {name: self.value(value)}])
            self.assertRefused("res.partner", "create", [{"name": "Nouveau", "is_company": True,
                                                          "chorus_structure_state": "checked"}])
            self.assertRefused("chorus.partner.service", "write", [[service.id], {"is_active": False}])
            self.assertRefused("chorus.partner.service", "write", [[service.id], {"engagement_required": False}])
            self.assertRefused("chorus.partner.service", "create", [{"partner_id": self.customer.id,
                                                                     "chorus_service_id": 1, "code": "FAUX"}])
            self.assertRefused("chorus.partner.service", "unlink", [[service.id]])
        # What a partner editor may do still works: its name, its SIRET (which asks for a new check); a form
        # saving the structure values it read changes nothing, so it is not refused.
        self.call("res.partner", "write", [[self.customer.id], {"name": "Commune RPC renommée"}])
        self.call("res.partner", "write", [[self.customer.id], {
            "chorus_structure_id": 25000101, "chorus_structure_state": "checked", "chorus_service_required": True,
            "chorus_engagement_required": False}])
        self.customer.invalidate_recordset()
        self.assertEqual(self.customer.read(list(STRUCTURE_FIELDS))[0], before)
        self.assertEqual((service.is_active, service.code), (True, "SERV_TECHNIQUES"))
