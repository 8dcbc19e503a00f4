import logging
from datetime import timedelta

from facturx import generate_from_binary, xml_check_xsd
from lxml import etree

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools.misc import format_datetime

from ..chorus import exceptions as chorus_exc
from ..tools.transaction import commit_if_allowed, try_lock_row
from .chorus_partner_service import RESERVED_SERVICE_CODE

_logger = logging.getLogger(__name__)

CHORUS_INVOICE_STATUSES = [
    ("DEPOSEE", "Deposited"),
    ("EN_COURS_ACHEMINEMENT", "Being routed"),
    ("MISE_A_DISPOSITION", "Made available"),
    ("A_RECYCLER", "To recycle"),
    ("SUSPENDUE", "Suspended"),
    ("COMPLETEE", "Completed"),
    ("REJETEE", "Rejected"),
    ("SERVICE_FAIT", "Service done"),
    ("MANDATEE", "Mandated"),
    ("MISE_A_DISPOSITION_COMPTABLE", "Made available to the accountant"),
    ("COMPTABILISEE", "Booked"),
    ("MISE_EN_PAIEMENT", "Payment issued"),
]
# Statuses after which Chorus Pro says nothing more about the invoice.
FINAL_STATUSES = {"MISE_EN_PAIEMENT", "REJETEE"}
# Statuses the salesperson must act on.
ACTION_STATUSES = {"REJETEE", "SUSPENDUE", "A_RECYCLER"}
# States in which the invoice is (or may be) in Chorus Pro: it is definitive.
DEFINITIVE_STATES = {"sending", "unknown", "deposited", "integrated"}
# Flux states (consulterCRDetaille's etatCourantDepotFlux, from the fact sheet).
FLUX_STATES = [
    ("IN_RECU", "Received"),
    ("IN_TRAITE_SE_CPP", "Processed by the exchange service"),
    ("IN_EN_ATTENTE_TRAITEMENT_CPP", "Waiting to be processed"),
    ("IN_EN_COURS_TRAITEMENT_CPP", "Being processed"),
    ("IN_INCIDENTE", "Incident"),
    ("IN_EN_ATTENTE_RETRAITEMENT_CPP", "Waiting to be processed again"),
    ("IN_REJETE", "Rejected"),
    ("IN_INTEGRE", "Integrated"),
    ("IN_INTEGRE_PARTIEL", "Partly integrated"),
    ("IN_DEPOT_PORTAIL_EN_ATTENTE_TRAITEMENT_SE_CPP", "Portal deposit waiting for the exchange service"),
]
FLUX_DONE = {"IN_INTEGRE", "IN_INTEGRE_PARTIEL", "IN_REJETE"}
# How long a deposit may be under way: past it, "sending" means the worker stopped (the call has a
# time-out), and the invoice is looked up in Chorus Pro like a lost reply.
SENDING_MARGIN = timedelta(minutes=5)
# After this, an invoice still not found after a lost reply, or a flux still not done, is given to a user.
WAIT_BEFORE_TELLING = timedelta(hours=24)
# Statuses are asked for from a little before the latest status time Chorus Pro listed (its own clock): a status
# written while the last run was asking may not have been listed yet. Once a day every status is listed, in case
# Chorus Pro records one with an earlier time than one already seen.
FOLLOW_UP_OVERLAP = timedelta(minutes=15)
FOLLOW_UP_FULL_EVERY = timedelta(days=1)
FLUX_SYNTAX_FACTURX = "IN_DP_E2_CII_FACTURX"
FLUX_SYNTAX_UBL = "IN_DP_E1_UBL_INVOICE"
ENGAGEMENT_MAX = 50
# Invoices sent to Chorus Pro together go as one flux; a flux holds 500 invoices at most (fact sheet).
FLUX_MAX_INVOICES = 500
ATTACHMENT_EXTENSIONS = {"pdf", "csv", "xml"}
ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
ATTACHMENT_NAME_MAX = 50
# Fields that make up the invoice sent to Chorus Pro: frozen once it is deposited.
LOCKED_FIELDS = {
    "partner_id", "commercial_partner_id", "invoice_date", "date", "invoice_date_due", "currency_id",
    "journal_id", "name", "ref", "payment_reference", "invoice_line_ids", "line_ids", "amount_total",
    "amount_untaxed", "amount_tax", "buyer_reference", "purchase_order_reference", "contract_reference",
    "invoice_payment_term_id", "fiscal_position_id", "partner_bank_id", "move_type", "company_id",
    "chorus_attachment_ids",
}
_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class AccountMove(models.Model):
    _inherit = "account.move"

    chorus_state = fields.Selection([
        ("sending", "Sending"),
        ("unknown", "Outcome unknown"),
        ("deposited", "Deposited"),
        ("integrated", "Integrated"),
        ("rejected", "Flux rejected"),
        ("error", "Not sent"),
    ], string="Chorus Pro", copy=False, readonly=True, tracking=True, index=True,
        help="Sending: being deposited (looked up in Chorus Pro if the deposit stopped half-way). Outcome unknown: "
             "the reply was lost; Chorus Pro is looked up every hour, and nothing is sent again until it lists the "
             "invoice or a user confirms it does not have it. Deposited: Chorus Pro received the flux and is "
             "processing it. Integrated: the invoice is in Chorus Pro. Flux rejected: Chorus Pro refused it; "
             "correct the invoice and send it again. Not sent: nothing reached Chorus Pro; send it again.")
    chorus_flux_number = fields.Char(string="Chorus Flux Number", copy=False, readonly=True, index=True)
    chorus_flux_state = fields.Selection(
        FLUX_STATES, string="Flux State", copy=False, readonly=True,
        help="The state of the deposited flux as Chorus Pro reports it (consulterCRDetaille).")
    chorus_waiting_told = fields.Boolean(
        copy=False, readonly=True, help="A user was told that Chorus Pro has not answered for long.")
    chorus_sent_date = fields.Datetime(string="Sent to Chorus Pro On", copy=False, readonly=True)
    chorus_flux_syntax = fields.Char(string="Chorus Flux Syntax", copy=False, readonly=True)
    chorus_flux_attachment_id = fields.Many2one("ir.attachment", string="Chorus Flux", copy=False, readonly=True)
    chorus_invoice_id = fields.Char(string="Chorus Invoice Number", copy=False, readonly=True, index=True,
                                    help="identifiantFactureCPP")
    chorus_invoice_status = fields.Selection(CHORUS_INVOICE_STATUSES, string="Chorus Status", copy=False,
                                             readonly=True, tracking=True)
    chorus_status_date = fields.Datetime(string="Chorus Status Date", copy=False, readonly=True)
    chorus_status_comment = fields.Char(string="Chorus Comment", copy=False, readonly=True)
    chorus_error = fields.Text(string="Chorus Pro Error", copy=False, readonly=True)
    chorus_send_report_line_ids = fields.One2many(
        "chorus.send.report.line", "move_id", string="Sending Reports", readonly=True,
        groups="account.group_account_invoice,account.group_account_readonly")
    chorus_attachment_ids = fields.Many2many(
        "ir.attachment", "account_move_chorus_attachment_rel", "move_id", "attachment_id",
        string="Chorus Pro Attachments", copy=False,
        help="Supporting documents sent with the invoice: PDF, CSV or XML, 5 MB each at most, names of 50 "
             "characters at most.")
    chorus_is_definitive = fields.Boolean(compute="_compute_chorus_is_definitive")
    chorus_inbound_id = fields.Many2one("chorus.inbound.invoice", string="Received through Chorus Pro",
                                        copy=False, readonly=True, index="btree_not_null",
                                        help="The invoice received through Chorus Pro this bill mandates.")

    _sql_constraints = [
        ("chorus_inbound_unique", "unique(chorus_inbound_id)",
         "An invoice received through Chorus Pro is mandated by one bill only."),
    ]

    @api.depends("chorus_state", "chorus_invoice_status")
    def _compute_chorus_is_definitive(self):
        for move in self:
            move.chorus_is_definitive = move._chorus_locked()

    def _chorus_locked(self):
        self.ensure_one()
        return self.chorus_state in DEFINITIVE_STATES and self.chorus_invoice_status != "REJETEE"

    def _chorus_is_chorus_move(self):
        """Whether its EDI is built for Chorus Pro: always while it is deposited there (the sending path
        decides, whatever the customer's usual method), or when its customer receives through Chorus Pro."""
        self.ensure_one()
        if not self.is_sale_document(include_receipts=False):
            return False
        if self.env.context.get("chorus_flux"):
            return True
        return self.commercial_partner_id.with_company(self.company_id).invoice_sending_method == "chorus_pro"

    # ---------------------------------------------------------------- lock
    def _chorus_already_sent_message(self):
        self.ensure_one()
        date = format_datetime(self.env, self.chorus_sent_date, dt_format=False) if self.chorus_sent_date else "?"
        return _("%(move)s was already sent to Chorus Pro on %(date)s, flux %(flux)s. It is definitive: "
                 "to correct it, issue a credit note.", move=self.display_name, date=date,
                 flux=self.chorus_flux_number or _("(being deposited)"))

    def _chorus_check_not_definitive(self):
        for move in self:
            if move._chorus_locked():
                raise UserError(move._chorus_already_sent_message())

    def button_draft(self, *args, **kwargs):
        self._chorus_check_not_definitive()
        return super().button_draft(*args, **kwargs)

    def button_cancel(self, *args, **kwargs):
        self._chorus_check_not_definitive()
        return super().button_cancel(*args, **kwargs)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_chorus_sent(self):
        self._chorus_check_not_definitive()

    def write(self, vals):
        if LOCKED_FIELDS.intersection(vals) and not self.env.context.get("chorus_allow_write"):
            # Only a real change: the send window writes its routing fields back even when untouched (emailing
            # an invoice already in Chorus Pro must work).
            self.filtered(lambda move: move._chorus_changes(vals))._chorus_check_not_definitive()
        return super().write(vals)

    def _chorus_changes(self, vals):
        """Whether ``vals`` changes a field that makes up this invoice. Values are compared as Odoo caches them
        (ids, dates, rounded amounts); lines, and records created or updated through a relation, always count."""
        self.ensure_one()
        for name in LOCKED_FIELDS.intersection(vals):
            field, value = self._fields[name], vals[name]
            if field.type == "one2many" or (field.type == "many2many" and any(
                    isinstance(command, (list, tuple)) and command[0] in (Command.CREATE, Command.UPDATE)
                    for command in value or ())):
                return True
            new, current = field.convert_to_cache(value, self), field.convert_to_cache(self[name], self)
            if field.type == "many2many":
                new, current = set(new), set(current)
            if (new or False) != (current or False):
                return True
        return False

    # --------------------------------------------------------------- checks
    def _chorus_check_attachment(self, attachment):
        """Why Chorus Pro would refuse this supporting document, or False."""
        name = attachment.name or ""
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if len(name) > ATTACHMENT_NAME_MAX:
            return _("%(name)s: the name has more than %(max)s characters; rename the file.",
                     name=name, max=ATTACHMENT_NAME_MAX)
        if extension not in ATTACHMENT_EXTENSIONS:
            return _("%(name)s: only PDF, CSV and XML files can be sent to Chorus Pro.", name=name)
        raw = attachment.raw or b""
        if len(raw) > ATTACHMENT_MAX_BYTES:
            return _("%(name)s: the file is larger than 5 MB; compress or split it.", name=name)
        if not raw:
            return _("%(name)s: the file is empty.", name=name)
        if extension == "pdf" and not raw.startswith(b"%PDF"):
            return _("%(name)s: the content is not a PDF.", name=name)
        if extension == "xml":
            try:
                root = etree.fromstring(raw, _SAFE_XML)
                if root.getroottree().docinfo.doctype:
                    raise ValueError("DTD")
            except (etree.XMLSyntaxError, ValueError):
                return _("%(name)s: the content is not well-formed XML (or declares a DTD).", name=name)
        if extension == "csv":
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            if "\x00" in text or raw.startswith(b"%PDF") or raw[:2] == b"PK":
                return _("%(name)s: the content is not a text CSV file.", name=name)
        return False

    def _chorus_send_errors(self, pending=None):
        """Every reason why this invoice cannot be deposited, each naming the fix.

        ``pending``: values not written yet (the send wizard's, while the user edits them):
        buyer_reference, purchase_order_reference, siret.
        """
        self.ensure_one()
        pending = pending or {}
        errors = []
        partner = self.commercial_partner_id
        if not self.is_sale_document(include_receipts=False):
            return [_("%(move)s is not a customer invoice or credit note.", move=self.display_name)]
        if self.state != "posted":
            return [_("%(move)s is %(state)s: only posted invoices and credit notes can be sent to Chorus Pro.",
                      move=self.display_name,
                      state=dict(self._fields["state"]._description_selection(self.env))[self.state])]
        siret_error = partner._chorus_siret_error(pending.get("siret", partner.siret))
        if siret_error:
            errors.append(_("Customer SIRET: %(error)s", error=siret_error))
        if not self.company_id.siret:
            errors.append(_("Your company has no SIRET: enter it on the company (Settings > Companies)."))
        code = (pending.get("buyer_reference", self.buyer_reference) or "").strip()
        engagement = (pending.get("purchase_order_reference", self.purchase_order_reference) or "").strip()
        service = partner._chorus_service(code)
        if code == RESERVED_SERVICE_CODE:
            errors.append(_("Service code: %(code)s is reserved for invoices between public bodies; choose the "
                            "service exécutant given by the customer.", code=code))
        elif service and not service.is_active:
            errors.append(_("Service code: the service %(code)s of %(partner)s is inactive in Chorus Pro; choose an "
                            "active service.", code=code, partner=partner.display_name))
        if partner.chorus_service_required and not code:
            errors.append(_("Service code: %(partner)s requires a service exécutant (buyer reference); ask the "
                            "customer for it.", partner=partner.display_name))
        engagement_required = partner.chorus_engagement_required or (service and service.engagement_required)
        if engagement_required and not engagement:
            errors.append(_("Engagement: %(partner)s requires the engagement juridique number (order reference) "
                            "of its purchase order.", partner=partner.display_name))
        if partner.chorus_service_or_engagement and not (code or engagement):
            errors.append(_("Service code or engagement: %(partner)s requires at least one of them.",
                            partner=partner.display_name))
        if len(engagement) > ENGAGEMENT_MAX:
            errors.append(_("Engagement: %(number)s has more than %(max)s characters.",
                            number=engagement, max=ENGAGEMENT_MAX))
        for attachment in self.chorus_attachment_ids:
            error = self._chorus_check_attachment(attachment)
            if error:
                errors.append(_("Attachment %(error)s", error=error))
        return errors

    def _chorus_send_notes(self, pending=None):
        """What the user should know before depositing, without stopping it: a service code typed by hand that
        the list read from Chorus Pro does not have (Chorus Pro itself checks it at deposit)."""
        self.ensure_one()
        pending = pending or {}
        partner = self.commercial_partner_id
        code = (pending.get("buyer_reference", self.buyer_reference) or "").strip()
        if code and code != RESERVED_SERVICE_CODE and partner.chorus_service_ids and \
                not partner._chorus_service(code):
            return [_("Service code %(code)s is not in the list of %(partner)s read from Chorus Pro: it is sent as "
                      "typed, and Chorus Pro checks it when the invoice is deposited (the sending report tells).",
                      code=code, partner=partner.display_name)]
        return []

    # ----------------------------------------------------------------- flux
    def _chorus_invoice_pdf(self, pdf_content=None):
        """The invoice's PDF: the one the send flow rendered, or a new rendering."""
        self.ensure_one()
        if pdf_content and pdf_content.startswith(b"%PDF"):
            return pdf_content
        if self.invoice_pdf_report_id and (self.invoice_pdf_report_id.raw or b"").startswith(b"%PDF"):
            return self.invoice_pdf_report_id.raw
        report = self.env["ir.actions.report"].with_context(force_report_rendering=True)
        content, _format = report._render_qweb_pdf("account.account_invoices", self.ids)
        return content

    def _chorus_build_flux(self, pdf_content=None):
        """(file content, file name, syntaxeFlux) of this invoice, checked against the XSD."""
        self.ensure_one()
        # Built for Chorus Pro, whatever the customer's usual sending method: exact routing references and
        # SIRETs with scheme 0009 (_chorus_is_chorus_move).
        self = self.with_context(chorus_flux=True)
        if self.company_id.chorus_flux_format == "ubl":
            xml, _errors = self.env["account.edi.xml.ubl_bis3"]._export_invoice(self)
            self._chorus_check_xsd(xml, "ubl")
            return xml, self._chorus_flux_filename("xml"), FLUX_SYNTAX_UBL
        xml, _errors = self.env["account.edi.xml.cii"]._export_invoice(self)
        self._chorus_check_xsd(xml, "factur-x")
        attachments = {att.name: {"filedata": att.raw, "filename": att.name} for att in self.chorus_attachment_ids}
        pdf = generate_from_binary(
            self._chorus_invoice_pdf(pdf_content), xml, flavor="factur-x", level="en16931", check_xsd=True,
            attachments=attachments or None,
            pdf_metadata={"author": self.company_id.name, "keywords": "Factur-X, Chorus Pro",
                          "title": self.name, "subject": self.name})
        return pdf, self._chorus_flux_filename("pdf"), FLUX_SYNTAX_FACTURX

    def _chorus_flux_filename(self, extension):
        return "%s.%s" % ("".join(c if c.isalnum() or c in "-_" else "_" for c in self.name)[:40], extension)

    def _chorus_check_xsd(self, xml, flavor):
        if flavor == "ubl":
            return  # UBL is checked by Chorus Pro itself; factur-x only ships CII schemas
        try:
            xml_check_xsd(xml, flavor=flavor, level="en16931")
        except Exception as error:  # the library raises a plain Exception with the XSD messages
            raise UserError(_("The Factur-X XML of %(move)s does not pass the EN 16931 schema: %(error)s",
                              move=self.display_name, error=str(error)[:500])) from None

    # -------------------------------------------------------------- deposit
    def _chorus_lock_row(self):
        """Take the move's row lock, or tell the user someone else is sending it."""
        if not try_lock_row(self):
            raise UserError(_("%(move)s is being sent to Chorus Pro by another user right now.",
                              move=self.display_name))

    def _chorus_commit(self):
        commit_if_allowed(self.env)

    def _chorus_prepare_flux(self, pdf_content=None):
        """Lock, check and build this invoice's flux: (content, file name, syntaxeFlux).

        Raises UserError with the reason when the invoice cannot be deposited.
        """
        self.ensure_one()
        self._chorus_lock_row()
        self.invalidate_recordset(["chorus_state", "chorus_flux_number", "chorus_sent_date"])
        if self.chorus_state == "sending" and self._chorus_sending_stale():
            self._chorus_mark_interrupted()
        if self.chorus_state == "unknown":
            self._chorus_resolve_unknown(from_user=True)
        self._chorus_check_not_definitive()
        self._chorus_ensure_structure()
        errors = self._chorus_send_errors()
        if errors:
            raise UserError(_("%(move)s cannot be sent to Chorus Pro:\n%(errors)s", move=self.display_name,
                              errors="\n".join("- %s" % e for e in errors)))
        return self._chorus_build_flux(pdf_content)

    def _chorus_ensure_structure(self):
        """The customer's Chorus Pro structure, looked up now when it never was: whatever the customer's usual
        sending method, what is deposited carries routing data checked against Chorus Pro."""
        partner = self.commercial_partner_id
        if partner._chorus_siret_error(partner.siret):
            return  # reported by the checks
        if partner._chorus_structure_known():
            return
        try:
            partner._chorus_refresh_structure(self.company_id)
        except chorus_exc.ChorusError as error:
            raise UserError(_("%(move)s cannot be sent to Chorus Pro: the structure of %(partner)s could not be "
                              "looked up (%(error)s).", move=self.display_name, partner=partner.display_name,
                              error=self.env["res.company"]._chorus_error_message(error))) from None

    def _chorus_locked_fresh(self, state):
        """Its row lock taken and its state read again: still ``state`` (no other worker moved it since)."""
        self.ensure_one()
        if not try_lock_row(self):
            return False
        self.invalidate_recordset(["chorus_state", "chorus_sent_date"])
        return self.chorus_state == state

    def _chorus_sending_stale(self):
        """A deposit marked "sending" longer than a call can last: the worker stopped half-way."""
        self.ensure_one()
        limit = timedelta(seconds=self.company_id.chorus_timeout or 30) + SENDING_MARGIN
        return not self.chorus_sent_date or self.chorus_sent_date < fields.Datetime.now() - limit

    def _chorus_mark_interrupted(self):
        """A deposit that stopped half-way may have reached Chorus Pro: treat it as a lost reply."""
        for move in self:
            move.write({"chorus_state": "unknown", "chorus_waiting_told": False,
                        "chorus_error": _("The sending stopped half-way (the worker stopped, or the reply never "
                                          "came): the invoice is looked up in Chorus Pro before anything is sent "
                                          "again.")})
            move.message_post(body=move.chorus_error)

    def _chorus_send(self, pdf_content=None):
        """Deposit this invoice in Chorus Pro, at most once. Raises UserError with the reason when not sent."""
        self.ensure_one()
        failures, reply = self._chorus_send_many({self: pdf_content})
        if failures:
            raise UserError(failures[self])
        return reply

    @api.model
    def _chorus_send_many(self, pdf_by_move):
        """Deposit invoices in Chorus Pro, at most once each: one invoice as its own flux, several of a
        company as one archive flux. Each invoice is checked first; one that fails is left out.

        :param pdf_by_move: {move: its rendered PDF or None}
        :return: ({move: why it was not sent}, the reply of the last deposit)
        """
        failures = {}
        reply = None
        moves = self.env["account.move"].concat(*pdf_by_move)
        for company, company_moves in moves.grouped("company_id").items():
            try:
                client = company._chorus_get_client()
            except UserError as error:
                failures.update(dict.fromkeys(company_moves, error.args[0]))
                continue
            files = {}
            for move in company_moves:
                try:
                    files[move] = move._chorus_prepare_flux(pdf_by_move[move])
                except UserError as error:
                    failures[move] = error.args[0]
            if not files:
                continue
            ready = self.env["account.move"].concat(*files)
            if len(ready) == 1:
                content, filename, syntax = files[ready]
            else:
                content, filename = company._chorus_make_archive([files[move][:2] for move in ready])
                syntax = files[ready[0]][2]
            # Mark and commit before the call: a double click, a second user or a retry sees "sending".
            ready.with_context(chorus_allow_write=True).write({
                "chorus_state": "sending", "chorus_sent_date": fields.Datetime.now(), "chorus_error": False,
                "chorus_flux_number": False, "chorus_invoice_id": False, "chorus_invoice_status": False,
                "chorus_flux_syntax": syntax, "chorus_flux_state": False, "chorus_waiting_told": False,
            })
            self._chorus_commit()
            try:
                reply = client.deposit_flux(content, filename, syntax)
            except chorus_exc.ChorusOutcomeUnknownError as error:
                message = self.env["res.company"]._chorus_error_message(error)
                ready.write({"chorus_state": "unknown", "chorus_error": message})
                for move in ready:
                    move.message_post(body=_("The reply of Chorus Pro to the deposit was lost: the invoice will be "
                                             "looked up in Chorus Pro before anything is sent again."))
                failures.update(dict.fromkeys(ready, message))
                self._chorus_commit()
                continue
            except chorus_exc.ChorusError as error:
                # Nothing reached Chorus Pro: the invoices can be sent again.
                message = self.env["res.company"]._chorus_error_message(error)
                ready.write({"chorus_state": "error", "chorus_error": message, "chorus_sent_date": False})
                failures.update(dict.fromkeys(ready, message))
                self._chorus_commit()
                continue
            flux_number = reply.flux_number
            for move in ready:
                move_content, move_filename, _syntax = files[move]
                # Each invoice keeps its own file, even when it travelled in an archive.
                attachment = self.env["ir.attachment"].create({
                    "name": move_filename, "raw": move_content, "res_model": "account.move", "res_id": move.id,
                    "mimetype": "application/pdf" if move_filename.endswith(".pdf") else "application/xml",
                })
                move.write({"chorus_state": "deposited", "chorus_flux_number": flux_number,
                            "chorus_flux_attachment_id": attachment.id})
                # The flux is linked to the invoice, not to the message: Odoo would try to import it again.
                if len(ready) == 1:
                    body = _("Sent to Chorus Pro: flux %(flux)s (%(syntax)s, file %(file)s).",
                             flux=flux_number, syntax=syntax, file=filename)
                else:
                    body = _("Sent to Chorus Pro with %(count)s other invoices in the archive flux %(flux)s "
                             "(%(syntax)s, file %(file)s).",
                             count=len(ready) - 1, flux=flux_number, syntax=syntax, file=filename)
                move.message_post(body=body)
            self._chorus_commit()
        return failures, reply

    def _chorus_resolve_unknown(self, from_user=False):
        """After a lost reply, look the invoice up in Chorus Pro; True when found (then integrated).

        Not found, it stays "unknown": Chorus Pro may still be processing the flux. Only Chorus Pro listing
        it, or a user confirming that Chorus Pro does not have it (action_chorus_not_in_chorus), lets it
        out. ``from_user``: a user is sending it again now, and is told why not.
        """
        self.ensure_one()
        client = self.company_id._chorus_get_client()
        try:
            found = client.search_supplier_invoices(invoice_number=self.name)
        except chorus_exc.ChorusError as error:
            raise UserError(_("%(move)s may already be in Chorus Pro (its last deposit got no reply), and Chorus "
                              "Pro cannot be asked right now: %(error)s", move=self.display_name,
                              error=self.env["res.company"]._chorus_error_message(error))) from None
        found = [i for i in found if i.status != "REJETEE"]
        if found:
            self._chorus_link_found(found[0], _("Found in Chorus Pro after a lost reply: it was deposited (flux "
                                                "%(flux)s); it is not sent again."))
            return True
        if from_user:
            raise UserError(_("%(move)s may already be in Chorus Pro: its last deposit got no reply and Chorus Pro "
                              "does not list it yet. It is looked up every hour. If Chorus Pro does not have it "
                              "(check the flux list in the Chorus Pro portal), use \"Not in Chorus Pro\" on the "
                              "invoice, then send it again.", move=self.display_name))
        if self.chorus_sent_date and self.chorus_sent_date < fields.Datetime.now() - WAIT_BEFORE_TELLING:
            self._chorus_tell_once(_("Chorus Pro: invoice not found after a lost reply"), _(
                "Chorus Pro still does not list %(move)s, whose deposit got no reply. Check the flux list in the "
                "Chorus Pro portal: if Chorus Pro does not have it, use \"Not in Chorus Pro\" on the invoice and "
                "send it again.", move=self.display_name))
        return False

    def _chorus_link_found(self, invoice, message):
        """Chorus Pro has this invoice (a SupplierInvoice): the move follows it."""
        self.write({
            "chorus_state": "integrated", "chorus_invoice_id": str(invoice.id),
            "chorus_flux_number": invoice.flux_number or self.chorus_flux_number,
            "chorus_invoice_status": _known_status(invoice.status), "chorus_error": False,
            "chorus_status_date": invoice.status_time or fields.Datetime.now(),
            "chorus_status_comment": invoice.comment or False, "chorus_waiting_told": False,
        })
        self.message_post(body=message % {"flux": self.chorus_flux_number or "-"})

    def _chorus_tell_once(self, summary, note):
        """Give a waiting invoice to its salesperson, once (an activity and a message)."""
        for move in self.filtered(lambda m: not m.chorus_waiting_told):
            move._chorus_schedule_activity(summary, note)
            move.message_post(body=note)
            move.chorus_waiting_told = True

    def action_chorus_not_in_chorus(self):
        """"Not in Chorus Pro": after a lost reply, a user checked in the Chorus Pro portal that it does not
        have the invoice; it may be sent again (looked up once more first)."""
        for move in self.filtered(lambda m: m.chorus_state == "unknown"):
            move._chorus_lock_row()
            if move._chorus_resolve_unknown():
                continue
            move.write({"chorus_state": "error", "chorus_waiting_told": False, "chorus_error": _(
                "Not in Chorus Pro, as %(user)s checked on %(date)s after a lost reply: it can be sent again.",
                user=self.env.user.name, date=format_datetime(self.env, fields.Datetime.now(), dt_format=False))})
            move.message_post(body=move.chorus_error)
            move.activity_ids.filtered(lambda a: "Chorus Pro" in (a.summary or "")).action_feedback(
                feedback=move.chorus_error)
        return True

    def action_chorus_open_inbound(self):
        """From a mandate, the invoice received through Chorus Pro it mandates."""
        self.ensure_one()
        return self.chorus_inbound_id._get_records_action(name=_("Received invoice"))

    def action_chorus_send(self):
        """"Send to Chorus Pro": the send wizard, on the Chorus Pro method."""
        self._chorus_check_not_definitive()
        for move in self:
            if not move.commercial_partner_id.is_company:
                raise UserError(_("%(partner)s is an individual: Chorus Pro only accepts invoices to companies.",
                                  partner=move.commercial_partner_id.display_name))
        action = self.action_send_and_print()
        action["context"] = dict(action.get("context") or {}, chorus_send=True)
        return action

    def action_chorus_open_send_report(self):
        """The report of the last sending of this invoice: what was deposited, refused, and why."""
        self.ensure_one()
        report = self.chorus_send_report_line_ids.sorted("id")[-1:].report_id
        if not report:
            raise UserError(_("%(move)s has no sending report: it was not sent from Odoo's send window.",
                              move=self.display_name))
        return report._chorus_action()

    def action_chorus_complete(self):
        """"Complete": add the supporting documents Chorus Pro's customer asked for (SUSPENDUE)."""
        self.ensure_one()
        return self.env["chorus.invoice.update.wizard"]._open(self, "complete")

    def action_chorus_recycle(self):
        """"Recycle": correct the routing data of an invoice Chorus Pro could not deliver (A_RECYCLER)."""
        self.ensure_one()
        return self.env["chorus.invoice.update.wizard"]._open(self, "recycle")

    @api.model
    def _cron_account_move_send(self, job_count=10, *args, **kwargs):
        # Odoo's background sending takes 10 invoices a run: invoices sent to Chorus Pro together are taken in
        # one run instead, so that they go as one flux per company.
        pending = self.search([("sending_data", "!=", False)], limit=FLUX_MAX_INVOICES)
        if any((move.sending_data or {}).get("chorus_pro") for move in pending):
            job_count = max(job_count, len(pending))
        return super()._cron_account_move_send(job_count, *args, **kwargs)

    # ------------------------------------------------------------ follow-up
    @api.model
    def _cron_chorus_follow_up(self):
        """Every state under way is taken on: a deposit that stopped half-way ("sending" for too long) and a
        lost reply are looked up, flux are followed until Chorus Pro is done with them, then invoice statuses
        until final."""
        domain = ["|", ("chorus_state", "in", ("sending", "deposited", "unknown")),
                  "&", ("chorus_state", "=", "integrated"), ("chorus_invoice_status", "not in", list(FINAL_STATUSES))]
        for company, moves in self.sudo().search(domain).grouped("company_id").items():
            try:
                client = company._chorus_get_client()
            except UserError as error:
                _logger.info("Chorus Pro follow-up skipped for company %s: %s", company.id, error.args[0])
                continue
            try:
                for move in moves.filtered(lambda m: m.chorus_state == "sending"):
                    # Another worker may be depositing it right now: only an old one, only when unlocked, and
                    # read again under the lock.
                    if move._chorus_sending_stale() and move._chorus_locked_fresh("sending"):
                        move._chorus_mark_interrupted()
                for move in moves.filtered(lambda m: m.chorus_state == "unknown"):
                    if move._chorus_locked_fresh("unknown"):
                        move._chorus_resolve_unknown()
                for flux_number, flux_moves in moves.filtered(
                        lambda m: m.chorus_state == "deposited").grouped("chorus_flux_number").items():
                    try:
                        flux_moves._chorus_follow_flux(client, flux_number)
                    except chorus_exc.ChorusFunctionalError as refusal:
                        # Chorus Pro refuses to report on this flux only: the other flux and the statuses go on.
                        flux_moves._chorus_tell_once(_("Chorus Pro: flux not found"), _(
                            "Chorus Pro does not report on the flux %(flux)s (%(error)s). Look it up in the Chorus "
                            "Pro portal; if it is not there, send the invoice again.", flux=flux_number,
                            error=self.env["res.company"]._chorus_error_message(refusal)))
                moves.filtered(lambda m: m.chorus_state == "integrated")._chorus_follow_statuses(client, company)
            except (chorus_exc.ChorusError, UserError) as error:
                # Chorus Pro down, slow or confused: nothing changes, the next run tries again.
                _logger.warning("Chorus Pro follow-up interrupted for company %s: %s", company.id,
                                error.__class__.__name__)
            self._chorus_commit()

    def _chorus_follow_flux(self, client, flux_number):
        """Follow a deposited flux as Chorus Pro reports it. An invoice is rejected only when the flux is
        rejected or Chorus Pro names an error for it; integrated but not listed yet, it waits."""
        report = client.get_flux_report(flux_number)
        state = report.state if report.state in dict(FLUX_STATES) else False
        if state != self[:1].chorus_flux_state:
            self.write({"chorus_flux_state": state})
        if report.state == "IN_INCIDENTE":
            self._chorus_tell_once(_("Chorus Pro: incident on the flux"), _(
                "Chorus Pro reports an incident on the flux %(flux)s. It usually processes it again by itself "
                "(state \"Waiting to be processed again\"); if it stays so, contact Chorus Pro's support with the "
                "flux number. The invoice stays as it is meanwhile.", flux=flux_number))
        if report.state not in FLUX_DONE:
            self._chorus_tell_if_long(_("Chorus Pro has not processed the flux %(flux)s yet (%(state)s).",
                                        flux=flux_number, state=report.state))
            return
        errors_by_number = {}
        for error in report.invoice_errors:
            errors_by_number.setdefault(error.invoice_number, []).append(error.message or "")
        technical = ["%s: %s" % (e.code, e.message) for e in report.technical_errors]
        found = {}
        if report.state != "IN_REJETE":
            found = {i.number: i for i in client.search_supplier_invoices(flux_number=flux_number)}
        for move in self:
            invoice = found.get(move.name)
            if invoice:
                move._chorus_link_found(invoice, _("Chorus Pro integrated the invoice (flux %(flux)s)."))
                continue
            own_errors = errors_by_number.get(move.name)
            if report.state != "IN_REJETE" and not own_errors:
                # Integrated, not listed yet, and no error for it: Chorus Pro is not done listing it.
                move._chorus_tell_if_long(_("Chorus Pro integrated the flux %(flux)s but does not list %(move)s "
                                            "yet.", flux=flux_number, move=move.display_name))
                continue
            # Refused; unless Chorus Pro already has this invoice from an earlier deposit (a lost reply).
            earlier = [i for i in client.search_supplier_invoices(invoice_number=move.name) if i.status != "REJETEE"]
            if earlier:
                move._chorus_link_found(earlier[0], _("Chorus Pro refused the new flux, but already had this "
                                                      "invoice from an earlier deposit (flux %(flux)s): the "
                                                      "invoice follows that one."))
                continue
            reasons = own_errors or technical or \
                [reason for reasons in errors_by_number.values() for reason in reasons] or [_("no reason given")]
            message = _("Chorus Pro rejected the flux %(flux)s: %(reasons)s. Correct the invoice (reset it to "
                        "draft if needed) and send it again.", flux=flux_number, reasons="; ".join(reasons))
            move.write({"chorus_state": "rejected", "chorus_error": message})
            move.message_post(body=message)
            move._chorus_schedule_activity(_("Chorus Pro rejected the invoice"), message)

    def _chorus_tell_if_long(self, note):
        """A deposit Chorus Pro has not finished with after a day is given to a user, once."""
        late = self.filtered(lambda m: m.chorus_sent_date
                             and m.chorus_sent_date < fields.Datetime.now() - WAIT_BEFORE_TELLING)
        late._chorus_tell_once(_("Chorus Pro: flux not processed yet"), note)

    def _chorus_status_label(self):
        return dict(CHORUS_INVOICE_STATUSES).get(self.chorus_invoice_status, self.chorus_invoice_status or "")

    def _chorus_follow_statuses(self, client, company):
        """The statuses of these integrated invoices, asking Chorus Pro only for the invoices whose status changed
        since the company's last complete run (every invoice on the first run): the cost follows what changed,
        not what was ever sent. The mark moves on only once the run is through."""
        if not self:
            return
        company = company.sudo()
        now = fields.Datetime.now()
        since = company.chorus_statuses_followed_until
        full = not since or not company.chorus_statuses_listed_on or \
            company.chorus_statuses_listed_on < now - FOLLOW_UP_FULL_EVERY
        listed = client.search_supplier_invoices(changed_since=None if full else since - FOLLOW_UP_OVERLAP)
        self._chorus_apply_statuses(client, {str(invoice.id): invoice for invoice in listed})
        times = [invoice.status_time for invoice in listed if invoice.status_time]
        # Chorus Pro's clock when it gives its times; ours only when it gives none.
        values = {"chorus_statuses_followed_until": max(times + [since] if since else times) if times else
                  (since or now)}
        if full:
            values["chorus_statuses_listed_on"] = now
        company.write(values)

    def _chorus_apply_statuses(self, client, current):
        """``current``: Chorus Pro's listed invoices by id; those whose status is not ours are read in full."""
        for move in self:
            invoice = current.get(move.chorus_invoice_id)
            if not invoice or invoice.status == move.chorus_invoice_status:
                continue
            history = client.get_invoice_history(invoice.id)
            latest = history.latest
            status = _known_status(history.current_status)
            comment = (latest and latest.comment) or invoice.comment or False
            move.write({
                "chorus_invoice_status": status, "chorus_status_comment": comment,
                "chorus_status_date": (latest and latest.time) or invoice.status_time or fields.Datetime.now(),
            })
            body = _("Chorus Pro status: %(status)s.", status=move._chorus_status_label())
            if comment:
                body = _("Chorus Pro status: %(status)s (%(comment)s).", status=move._chorus_status_label(),
                         comment=comment)
            move.message_post(body=body)
            if status in ACTION_STATUSES:
                move._chorus_schedule_activity(_("Chorus Pro: invoice %(status)s", status=move._chorus_status_label()),
                                               body)

    def _chorus_schedule_activity(self, summary, note):
        self.ensure_one()
        user = self.invoice_user_id or self.create_uid
        self.activity_schedule("mail.mail_activity_data_todo", summary=summary, note=note, user_id=user.id)


def _known_status(status):
    """A status of Chorus Pro as the selection knows it; another one (new in Chorus Pro) is logged, not stored."""
    if status in dict(CHORUS_INVOICE_STATUSES):
        return status
    _logger.warning("Chorus Pro status %r is unknown to this module", status)
    return False
