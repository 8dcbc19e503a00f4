"""Chorus Pro's menus by side: a user sees the side a company of theirs uses."""

from odoo.tests import tagged
from odoo.addons.account.tests.common import AccountTestInvoicingCommon

SENDING = "l10n_fr_chorus_efacture.menu_chorus_send_report"
RECEIVING = "l10n_fr_chorus_efacture.menu_chorus_inbound_invoice"


@tagged("post_install", "-at_install")
class TestChorusMenusBySide(AccountTestInvoicingCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = cls.env["res.users"].create({
            "name": "Comptable", "login": "comptable_menus", "company_id": cls.env.company.id,
            "company_ids": [(6, 0, cls.env.company.ids)],
            "groups_id": [(6, 0, [cls.env.ref("account.group_account_invoice").id])]})

    def shown(self):
        """The menus the web client gets for the user, as xml ids of ours."""
        Menu = self.env["ir.ui.menu"].with_user(self.user)
        ids = {key for key in Menu.load_menus(False) if isinstance(key, int)}
        return {xmlid for xmlid in (SENDING, RECEIVING) if self.env.ref(xmlid).id in ids}

    def test_each_side_to_the_companies_that_use_it(self):
        company = self.env.company
        company.chorus_receive = False
        self.assertEqual(self.shown(), {SENDING}, "a supplier: sending only")
        company.chorus_receive = True
        self.assertEqual(self.shown(), {RECEIVING}, "a public body that never sent: receiving only")
        invoice = self.init_invoice("out_invoice", amounts=[100.0], post=True)
        invoice.sudo().chorus_state = "deposited"
        self.assertEqual(self.shown(), {SENDING, RECEIVING}, "it sent one: both sides")
        # A second company of the user that only sends: both sides, whatever the first does.
        invoice.sudo().chorus_state = False
        supplier = self.env["res.company"].create({"name": "Fournisseur du groupe"})
        self.user.company_ids = [(4, supplier.id)]
        self.assertEqual(self.shown(), {SENDING, RECEIVING})
