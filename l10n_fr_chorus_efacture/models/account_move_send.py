import logging

from odoo import _, api, models
from odoo.http import request

from .ir_actions_report import SideBySide, wkhtmltopdf_patched

_logger = logging.getLogger(__name__)

# The sending method of Odoo's e-invoicing network (Peppol; "by the approved platform" once l10n_fr_pdp is there),
# which routes public buyers' invoices to Chorus Pro as well.
OTHER_ROUTE_TO_CHORUS = "peppol"


class AccountMoveSend(models.AbstractModel):
    _inherit = "account.move.send"

    # Every override takes and passes on what Odoo's 18.0 passes today or may pass tomorrow (*args, **kwargs):
    # _is_applicable_to_move receives the move's sending settings as keyword arguments (**move_data).
    @api.model
    def _get_default_sending_method(self, move, *args, **kwargs):
        # "Send to Chorus Pro" opens the usual flow on the Chorus Pro method.
        if self.env.context.get("chorus_send") and self._is_applicable_to_move("chorus_pro", move):
            return "chorus_pro"
        return super()._get_default_sending_method(move, *args, **kwargs)

    @api.model
    def _prepare_invoice_pdf_report(self, invoices_data, *args, **kwargs):
        """Odoo renders the PDFs of a batch in one wkhtmltopdf call, which Debian's wkhtmltopdf (unpatched Qt)
        cannot do ("Exit with code 1", then an empty file): with that build, or when the grouped call fails, each
        invoice is rendered alone, several wkhtmltopdf at once (each mostly waits after loading its page); one
        that still fails is reported on its own, the others go on."""
        if any("chorus_pro" in data.get("sending_methods", ()) for data in invoices_data.values()):
            # Rendered to be sent to Chorus Pro: a short wait after loading (ir_actions_report).
            self = self.with_context(chorus_invoice_pdf=True)

        def render(send, data):
            return super(AccountMoveSend, send)._prepare_invoice_pdf_report(data, *args, **kwargs)

        if len(invoices_data) == 1:
            return render(self, invoices_data)
        if wkhtmltopdf_patched():
            try:
                with self.env.cr.savepoint():
                    return render(self, invoices_data)
            except Exception as error:  # wkhtmltopdf and the PDF readers raise many kinds
                _logger.info("Rendering %s invoice PDFs in one call failed (%s): one call per invoice",
                             len(invoices_data), error.__class__.__name__)
        send = self._chorus_render_side_by_side(render, invoices_data)
        for invoice, invoice_data in invoices_data.items():
            invoice_data.pop("pdf_attachment_values", None)
            try:
                with self.env.cr.savepoint():
                    render(send, {invoice: invoice_data})
            except Exception as error:
                invoice_data["error"] = {"error_title": _("The PDF of the invoice could not be rendered"),
                                         "errors": [str(error)[:500]]}
        return None

    def _chorus_render_side_by_side(self, render, invoices_data):
        """Run the wkhtmltopdf calls of these invoices' usual rendering side by side (ir_actions_report's
        SideBySide): returns this model with them ready, for rendering each invoice the usual way again. Not
        inside a web request, whose session wkhtmltopdf is given and threads cannot see."""
        if request:
            return self
        side_by_side = SideBySide()
        collecting = self.with_context(chorus_side_by_side=side_by_side)
        for invoice, invoice_data in invoices_data.items():
            try:
                with self.env.cr.savepoint():
                    render(collecting, {invoice: invoice_data})
            except Exception:  # RenderingCollected; any other error is met (and reported) in the usual rendering
                pass
            invoice_data.pop("pdf_attachment_values", None)
        if len(side_by_side.calls) < 2:
            return self
        try:
            self.env["ir.actions.report"]._chorus_run_side_by_side(
                side_by_side, while_waiting=lambda: self._chorus_check_ahead(invoices_data))
        except Exception as error:  # no thread to be had...: each invoice rendered alone, its errors its own
            _logger.warning("Rendering %s invoice PDFs side by side failed (%s): one after the other",
                            len(side_by_side.calls), error)
            return self
        return collecting

    def _chorus_check_ahead(self, invoices_data):
        """The pre-flight check of the flux of each invoice going to Chorus Pro, run while their PDFs render (its
        Factur-X XML is built before the PDF): the deposit's own check then gets the answer at once (the validator
        keeps the last answers by content; a flux that changed in between is checked again)."""
        for invoice, invoice_data in invoices_data.items():
            xml = self._chorus_facturx_xml(invoice_data)
            if "chorus_pro" not in invoice_data.get("sending_methods", ()) or not xml or invoice_data.get("error") \
                    or invoice.company_id.chorus_flux_format == "ubl":
                continue
            invoice._chorus_check_flux_ahead(xml)

    @api.model
    def _is_applicable_to_company(self, method, company, *args, **kwargs):
        if method == "chorus_pro":
            return company.country_code == "FR" or bool(company.chorus_client_id)
        return super()._is_applicable_to_company(method, company, *args, **kwargs)

    @api.model
    def _is_applicable_to_move(self, method, move, *args, **move_data):
        if method == "chorus_pro":
            return (move.is_sale_document(include_receipts=False) and move.state == "posted"
                    and move.commercial_partner_id.is_company and not move._chorus_locked())
        return super()._is_applicable_to_move(method, move, *args, **move_data)

    def _get_alerts(self, moves, moves_data, *args, **kwargs):
        alerts = super()._get_alerts(moves, moves_data, *args, **kwargs)
        already_sent = moves.filtered(
            lambda m: m._chorus_locked() and "chorus_pro" not in moves_data[m]["sending_methods"]
            and m.commercial_partner_id.with_company(m.company_id).invoice_sending_method == "chorus_pro")
        if already_sent:
            # Not offered again (_is_applicable_to_move): said when the window opens, before anything is generated.
            alerts["l10n_fr_chorus_efacture_already_sent"] = {
                "level": "info",
                "message": "\n".join(move._chorus_already_sent_message() for move in already_sent),
            }
        chorus_moves = moves.filtered(lambda m: "chorus_pro" in moves_data[m]["sending_methods"])
        if not chorus_moves:
            return alerts
        twice = chorus_moves.filtered(lambda m: OTHER_ROUTE_TO_CHORUS in moves_data[m]["sending_methods"])
        if twice:
            # Odoo's approved platform (account_peppol, l10n_fr_pdp) hands public buyers' invoices to Chorus Pro too.
            platform = dict(self.env["res.partner"]._fields["invoice_sending_method"]._description_selection(
                self.env)).get(OTHER_ROUTE_TO_CHORUS, OTHER_ROUTE_TO_CHORUS)
            alerts["l10n_fr_chorus_efacture_two_routes"] = {
                "level": "danger",
                "message": _("Chorus Pro and \"%(platform)s\" both deliver to Chorus Pro: tick one of them, or "
                             "%(moves)s would be deposited twice.", platform=platform,
                             moves=", ".join(twice.mapped("display_name"))),
            }
        problems = {move: move._chorus_send_errors(self._chorus_pending(move)) for move in chorus_moves}
        problems = {move: errors for move, errors in problems.items() if errors}
        if len(moves) == 1 and problems:
            # Single send: refuse before anything is generated or deposited.
            alerts["l10n_fr_chorus_efacture_errors"] = {
                "level": "danger",
                "message": _("Cannot be sent to Chorus Pro:\n%(errors)s",
                             errors="\n".join("- %s" % e for e in problems[moves])),
            }
        elif problems:
            alerts["l10n_fr_chorus_efacture_errors"] = {
                "level": "warning",
                "message": _("These invoices will not be sent to Chorus Pro, the others will:\n%(errors)s",
                             errors="\n".join("- %s: %s" % (m.display_name, "; ".join(e))
                                              for m, e in problems.items())),
                "action_text": _("View invoices"),
                "action": self.env["account.move"].concat(*problems)._get_records_action(
                    name=_("Invoices to correct")),
            }
        notes = [note for move in chorus_moves
                 for note in move._chorus_send_notes(self._chorus_pending(move))]
        if notes:
            alerts["l10n_fr_chorus_efacture_service_typed"] = {"level": "warning", "message": "\n".join(notes)}
        not_looked_up = chorus_moves.commercial_partner_id.filtered(lambda p: not p._chorus_structure_known())
        if not_looked_up:
            alerts["l10n_fr_chorus_efacture_structure"] = {
                "level": "info",
                "message": _("The Chorus Pro structure of %(partners)s is looked up before depositing; its service "
                             "code and engagement rules are checked then.",
                             partners=", ".join(not_looked_up.mapped("display_name"))),
            }
        alerts["l10n_fr_chorus_efacture_definitive"] = {
            "level": "info",
            "message": _("Once deposited in Chorus Pro, an invoice is definitive: it can no longer be reset to "
                         "draft, cancelled or changed; a credit note is the way to correct it."),
        }
        return alerts

    @api.model
    def _chorus_pending(self, move):
        """The routing values a send window is editing for ``move``, not written yet (buyer_reference,
        purchase_order_reference, siret): the windows pass them in the context, so that Odoo builds its own
        sending settings and alerts as it does today."""
        return (self.env.context.get("chorus_pending") or {}).get(move._origin.id or move.id) or {}

    @api.model
    def _chorus_facturx_xml(self, invoice_data):
        """The Factur-X (CII) XML Odoo built in this send for the invoice's PDF, or None: the flux is made from it
        rather than built a second time."""
        options = invoice_data.get("ubl_cii_xml_options") or {}
        if options.get("ubl_cii_format") != "facturx":
            return None
        return (invoice_data.get("ubl_cii_xml_attachment_values") or {}).get("raw") or None

    @api.model
    def _get_default_invoice_edi_format(self, move, *args, **kwargs):
        # Sent through Chorus Pro, the e-invoice is the Chorus Pro flux, made from the Factur-X Odoo builds for the
        # PDF: another format the customer may have (l10n_fr_pdp's UBL for French customers) is not built, and its
        # errors cannot keep the invoice from Chorus Pro. Today's 18.0 passes the chosen methods.
        methods = kwargs.get("sending_methods")
        if methods is not None:
            chorus = "chorus_pro" in methods
        else:
            chorus = move._chorus_is_chorus_move() or self.env.context.get("chorus_send")
        if chorus:
            return "facturx"
        return super()._get_default_invoice_edi_format(move, *args, **kwargs)

    @api.model
    def _chorus_author(self, invoice_data):
        """The partner who sends, for the chatter (the queue sends on a user's behalf): only when the user and
        partner Odoo passes agree (Odoo 18.0 of early 2025 swaps them in the send window, where the current user
        is the sender anyway); None leaves the current user."""
        user = self.env["res.users"].browse(invoice_data.get("author_user_id") or []).exists()
        partner_id = invoice_data.get("author_partner_id")
        return partner_id if user and user.partner_id.id == partner_id else None

    def _call_web_service_after_invoice_pdf_render(self, invoices_data, *args, **kwargs):
        super()._call_web_service_after_invoice_pdf_render(invoices_data, *args, **kwargs)
        # Invoices sent together go as one archive flux per company.
        to_send = {
            invoice: (invoice_data.get("pdf_attachment_values") or {}).get("raw")
            for invoice, invoice_data in invoices_data.items()
            if "chorus_pro" in invoice_data["sending_methods"] and not invoice_data.get("error")
        }
        if not to_send:
            return
        failures, _reply = self.env["account.move"]._chorus_send_many(
            to_send, authors={invoice: self._chorus_author(invoices_data[invoice]) for invoice in to_send},
            xml_by_move={invoice: self._chorus_facturx_xml(invoices_data[invoice]) for invoice in to_send})
        self.env["chorus.send.report.line"]._chorus_record_refusals(failures)
        for invoice, message in failures.items():
            invoices_data[invoice]["error"] = {"error_title": _("Not sent to Chorus Pro"), "errors": [message]}
