"""A batch's PDFs rendered one wkhtmltopdf per invoice (Debian's build), several at once.

wkhtmltopdf itself cannot run inside a TransactionCase (it would load the report's assets from the test
server, which waits on this transaction): here Odoo's wkhtmltopdf run is replaced by one that writes a PDF
naming the invoice whose HTML it was given, and can fail. The real wkhtmltopdf runs side by side in the
real-process suite (process_tests: "batch of 20").
"""

import threading
import time
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.addons.base.models.ir_actions_report import IrActionsReport
from odoo.addons.l10n_fr_chorus_efacture.models.ir_actions_report import PDF_RENDERERS_PARAM, RENDERER_SLOTS
from odoo.addons.l10n_fr_chorus_efacture.tools.en16931 import VALIDATOR

from .common import make_pdf
from .test_send import ChorusSendCommon


@tagged("post_install", "-at_install", "chorus_send")
class TestPdfSideBySide(ChorusSendCommon):

    def setUp(self):
        super().setUp()
        self.moves = self.make_invoice() | self.make_invoice() | self.make_invoice()
        self.moves.invoice_pdf_report_file = False
        self.runs = []  # (invoice number, thread name)
        self.failing = set()
        self.companies = {}  # invoice number: the company its wkhtmltopdf ran for (its paper format's)
        self.running, self.most_at_once = 0, 0
        lock = threading.Lock()
        moves = self.moves

        def wkhtmltopdf(report, bodies, *args, **kwargs):
            name = next(move.name for move in moves if move.name in "".join(bodies))
            with lock:
                self.runs.append((name, threading.current_thread().name))
                self.companies[name] = report.env.company
                self.running += 1
                self.most_at_once = max(self.most_at_once, self.running)
            try:
                time.sleep(0.2)  # a run lasts (wkhtmltopdf waits after loading): the others start meanwhile
                if name in self.failing:
                    raise UserError("Wkhtmltopdf failed (error code: -11)")
                return make_pdf(["Facture %s" % name])
            finally:
                with lock:
                    self.running -= 1

        patcher = patch.object(IrActionsReport, "_run_wkhtmltopdf", wkhtmltopdf)
        patcher.start()
        self.addCleanup(patcher.stop)
        unpatched = patch("odoo.addons.l10n_fr_chorus_efacture.models.account_move_send.wkhtmltopdf_patched",
                          return_value=False)
        unpatched.start()
        self.addCleanup(unpatched.stop)

    def render(self, send=None, facturx=None):
        data = {move: {"sending_methods": {"chorus_pro"}, "pdf_report": self.env.ref("account.account_invoices")}
                for move in self.moves}
        for move, xml in (facturx or {}).items():  # the Factur-X XML Odoo builds before the PDF
            data[move].update(ubl_cii_xml_options={"ubl_cii_format": "facturx"},
                              ubl_cii_xml_attachment_values={"raw": xml})
        send = send or self.env["account.move.send"]
        send.with_context(force_report_rendering=True)._prepare_invoice_pdf_report(data)
        return data

    def test_each_invoice_rendered_once_in_threads_with_its_own_pdf(self):
        data = self.render()
        for move in self.moves:
            self.assertNotIn("error", data[move])
            self.assertEqual(data[move]["pdf_attachment_values"]["raw"], make_pdf(["Facture %s" % move.name]))
        self.assertCountEqual([name for name, _thread in self.runs], self.moves.mapped("name"),
                              "each invoice's wkhtmltopdf ran once")
        self.assertTrue(all(thread.startswith("chorus_pdf") for _name, thread in self.runs),
                        "side by side, not in the sending worker: %s" % self.runs)
        self.assertEqual(self.most_at_once, 3, "the three at once (4 renderers by default)")

    def test_the_renderers_are_shared_by_the_batches_of_the_process(self):
        # Two renderers; another cron worker of this server renders one invoice meanwhile: one left for these.
        self.env["ir.config_parameter"].sudo().set_param(PDF_RENDERERS_PARAM, "2")
        with RENDERER_SLOTS.slot(2):
            data = self.render()
        for move in self.moves:
            self.assertEqual(data[move]["pdf_attachment_values"]["raw"], make_pdf(["Facture %s" % move.name]))
        self.assertEqual(self.most_at_once, 1)
        self.assertEqual(RENDERER_SLOTS.running, 0, "every slot given back")

    def test_each_pdf_rendered_for_its_invoice_company(self):
        # The sending worker's current company is another one (a cron user's, a batch of several companies):
        # each run is its invoice's company's (the paper format is the company's).
        other = self.env["res.company"].create({"name": "Autre société",
                                                "paperformat_id": self.env.ref("base.paperformat_us").id})
        self.env.user.company_ids |= other
        self.render(self.env["account.move.send"].with_company(other))
        self.assertEqual({name: company for name, company in self.companies.items()},
                         {move.name: move.company_id for move in self.moves})
        self.assertTrue(all(thread.startswith("chorus_pdf") for _name, thread in self.runs))

    def test_flux_checked_while_the_pdfs_render(self):
        """The pre-flight check of each flux runs while the PDFs render; the deposit's check gets its answer."""
        VALIDATOR.forget()
        xmls = {move: self.env["account.edi.xml.cii"]._export_invoice(move)[0] for move in self.moves}
        asked_while_rendering = []
        ask = VALIDATOR._ask

        def watched_ask(request):
            asked_while_rendering.append(self.running > 0)
            return ask(request)

        with patch.object(VALIDATOR, "_ask", side_effect=watched_ask) as asked:
            self.render(facturx=xmls)
            self.assertEqual(asked.call_count, 3)
            self.assertTrue(any(asked_while_rendering), "asked while wkhtmltopdf ran")
            for move in self.moves:
                self.assertEqual(move._chorus_preflight(move._chorus_flux_cii(xmls[move]), "cii"), [])
            self.assertEqual(asked.call_count, 3, "the deposit's check is answered at once")

    def test_a_failing_invoice_is_rendered_again_alone_and_reported(self):
        failing = self.moves[1]
        self.failing.add(failing.name)
        data = self.render()
        self.assertEqual(data[failing]["error"]["error_title"], "The PDF of the invoice could not be rendered")
        self.assertIn("error code: -11", data[failing]["error"]["errors"][0])
        self.assertNotIn("pdf_attachment_values", data[failing])
        for move in self.moves - failing:
            self.assertEqual(data[move]["pdf_attachment_values"]["raw"], make_pdf(["Facture %s" % move.name]))
        # Its side-by-side run failed: run again the usual way, which reports its error; the others ran once.
        self.assertEqual([thread.startswith("chorus_pdf") for name, thread in self.runs if name == failing.name],
                         [True, False])
        self.assertEqual(len(self.runs), 4)

    def test_not_side_by_side_for_a_single_invoice(self):
        self.moves = self.moves[0]
        data = self.render()
        self.assertEqual(data[self.moves]["pdf_attachment_values"]["raw"], make_pdf(["Facture %s" % self.moves.name]))
        self.assertEqual([thread for _name, thread in self.runs], [threading.current_thread().name])
