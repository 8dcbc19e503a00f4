"""Odoo's sending hooks called the way today's Odoo 18.0 calls them.

Odoo 18.0 kept adding arguments to account.move.send's hooks after the copy the other tests run on:
``_is_applicable_to_move(method, move, **move_data)`` receives the move's sending settings as keywords
(account's wizards, account_peppol, l10n_fr_pdp). An override that does not take them breaks every send in the
database; one that does not hand them on breaks the modules after it.
"""

from unittest.mock import patch

from odoo.tests import Form, tagged

from ..models.ir_actions_report import RenderingCollected, SideBySide
from .test_send import ChorusSendCommon

LATER = {"an_argument_of_a_later_18_0": "kept"}


def next_implementation(model, name):
    """The class that comes after this module's override of ``name`` in the model's inheritance chain."""
    mro = type(model).__mro__
    ours = next(index for index, cls in enumerate(mro)
                if cls.__module__.startswith("odoo.addons.l10n_fr_chorus_efacture.") and name in vars(cls))
    return next(cls for cls in mro[ours + 1:] if name in vars(cls))


@tagged("post_install", "-at_install", "chorus_send")
class TestChorusSendHooks(ChorusSendCommon):

    def recorded(self, model, name, answer):
        """Replace the implementation after ours with one that records what it was given."""
        calls = []

        def record(_self, *args, **kwargs):
            calls.append((args, kwargs))
            return answer

        patcher = patch.object(next_implementation(model, name), name, record)
        patcher.start()
        self.addCleanup(patcher.stop)
        return calls

    def test_applicable_with_the_sending_settings_as_keywords(self):
        Send = self.env["account.move.send"]
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        # What account's wizards and account_peppol pass today: the move's settings, as Odoo builds them.
        settings = Send._get_default_sending_settings(move)
        self.assertTrue(Send._is_applicable_to_move("chorus_pro", move, **settings, **LATER))
        move.sudo().write({"chorus_state": "integrated"})
        self.assertFalse(Send._is_applicable_to_move("chorus_pro", move, **settings, **LATER),
                         "an invoice already in Chorus Pro is not offered Chorus Pro again")
        alerts = Send._get_alerts(move, {move: dict(settings, sending_methods={"chorus_pro"})})
        self.assertIn("l10n_fr_chorus_efacture_definitive", alerts)

    def test_overrides_hand_on_what_they_receive(self):
        Send = self.env["account.move.send"]
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        data = {move: {"sending_methods": {"email"}}}
        company = self.env.company
        cases = [
            ("_is_applicable_to_move", True, lambda: Send._is_applicable_to_move("email", move, **LATER)),
            ("_is_applicable_to_company", True, lambda: Send._is_applicable_to_company("email", company, **LATER)),
            ("_get_default_sending_method", "email", lambda: Send._get_default_sending_method(move, **LATER)),
            # Today's 18.0 passes the chosen methods; not Chorus Pro: the base decides.
            ("_get_default_invoice_edi_format", "ubl_bis3", lambda: Send._get_default_invoice_edi_format(
                move, sending_methods={"email"}, **LATER)),
            ("_get_alerts", {}, lambda: Send._get_alerts(move, data, **LATER)),
            ("_prepare_invoice_pdf_report", None, lambda: Send._prepare_invoice_pdf_report(data, **LATER)),
            ("_call_web_service_after_invoice_pdf_render", None,
             lambda: Send._call_web_service_after_invoice_pdf_render(data, **LATER)),
        ]
        for name, answer, call in cases:
            with self.subTest(hook=name):
                calls = self.recorded(Send, name, answer)
                call()
                self.assertEqual(len(calls), 1, "%s was not handed on" % name)
                self.assertEqual(calls[0][1].get("an_argument_of_a_later_18_0"), "kept")

    def test_edi_and_report_overrides_hand_on_what_they_receive(self):
        move = self.make_invoice(buyer_reference="SERV_TECHNIQUES")
        cii, ubl = self.env["account.edi.xml.cii"], self.env["account.edi.xml.ubl_bis3"]
        report = self.env["ir.actions.report"]
        cases = [
            (cii, "_export_invoice", (b"<x/>", set()), lambda: cii._export_invoice(move, **LATER)),
            (ubl, "_export_invoice", (b"<x/>", set()), lambda: ubl._export_invoice(move, **LATER)),
            (report, "_build_wkhtmltopdf_args", [], lambda: report._build_wkhtmltopdf_args(False, False, **LATER)),
            # As Odoo's _render_qweb_pdf calls it, all keywords.
            (report, "_run_wkhtmltopdf", b"%PDF", lambda: report._run_wkhtmltopdf(
                ["<p>1</p>"], report_ref=False, header=None, footer=None, landscape=False,
                specific_paperformat_args={}, set_viewport_size=False, **LATER)),
        ]
        for model, name, answer, call in cases:
            with self.subTest(hook=name):
                calls = self.recorded(model, name, answer)
                call()
                self.assertEqual(calls[-1][1].get("an_argument_of_a_later_18_0"), "kept")

    def test_batch_rendering_hands_on_what_it_receives(self):
        """Several invoices (each rendered alone, side by side with Debian's wkhtmltopdf): every call of Odoo's
        rendering, and every wkhtmltopdf run made in the rendering threads, gets the later arguments."""
        Send, report = self.env["account.move.send"], self.env["ir.actions.report"]
        moves = self.make_invoice(buyer_reference="SERV_TECHNIQUES") | self.make_invoice()
        rendered = self.recorded(Send, "_prepare_invoice_pdf_report", None)
        Send._prepare_invoice_pdf_report({move: {"sending_methods": {"email"}} for move in moves}, **LATER)
        self.assertTrue(rendered)
        self.assertTrue(all(kwargs.get("an_argument_of_a_later_18_0") == "kept" for _args, kwargs in rendered))

        runs = self.recorded(report, "_run_wkhtmltopdf", b"%PDF-1.4 side by side")
        side_by_side = SideBySide()
        collecting = report.with_context(chorus_side_by_side=side_by_side)
        for body in ("<p>1</p>", "<p>2</p>"):
            with self.assertRaises(RenderingCollected):
                collecting._run_wkhtmltopdf([body], report_ref=False, landscape=False, **LATER)
        report._chorus_run_side_by_side(side_by_side)
        self.assertEqual([kwargs.get("an_argument_of_a_later_18_0") for _args, kwargs in runs], ["kept", "kept"])
        self.assertEqual(collecting._run_wkhtmltopdf(["<p>1</p>"], report_ref=False, landscape=False, **LATER),
                         b"%PDF-1.4 side by side")
        self.assertEqual(len(runs), 2, "served from its run in the threads, not run again")

    def test_send_window_keeps_odoo_alerts(self):
        """The window's alerts are Odoo's own compute, told the routing values being typed: Odoo's alerts stay."""
        move = self.make_invoice()  # no service code: the commune requires one
        wizard = Form(self.env["account.move.send.wizard"].with_context(active_model="account.move",
                                                                          active_ids=move.ids, chorus_send=True))
        self.assertIn("account_pdf_exist", wizard.alerts, "Odoo's own alert (the PDF already made) is kept")
        self.assertIn("requires a service exécutant", wizard.alerts["l10n_fr_chorus_efacture_errors"]["message"])
        # Its list of services is known: the service is chosen from it (the code is not a second field).
        wizard.chorus_service_id = move.commercial_partner_id.chorus_service_ids.filtered(
            lambda service: service.code == "SERV_TECHNIQUES")
        self.assertEqual(wizard.chorus_service_code, "SERV_TECHNIQUES", "the code sent is the service's")
        self.assertNotIn("l10n_fr_chorus_efacture_errors", wizard.alerts)
        self.assertIn("account_pdf_exist", wizard.alerts)
