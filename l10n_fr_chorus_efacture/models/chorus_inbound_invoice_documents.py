import json

from odoo import _, api, models

from ..chorus import downloads
from ..chorus import exceptions as chorus_exc

# Invoices downloaded together (telecharger groupe); halved when Chorus Pro says it is too large.
DOWNLOAD_BATCH = 25


class ChorusInboundInvoice(models.Model):
    _inherit = "chorus.inbound.invoice"

    def _chorus_document_refs(self):
        return [downloads.InvoiceRef(id=int(invoice.chorus_invoice_id), number=invoice.name,
                                     document_names=tuple(json.loads(invoice.chorus_document_names or "[]")))
                for invoice in self]

    def _chorus_download_documents(self, client, errors):
        """Download the PDFs with their supporting documents, several invoices per call.

        An invoice whose files cannot be placed (the folder naming of a multi-invoice ZIP is not documented)
        is downloaded again alone, where the layout leaves no doubt. An invoice whose documents cannot be had
        waits in the retry list with the reason; the others go on. Returns how many got their documents.
        """
        done = 0
        batches = [self[i:i + DOWNLOAD_BATCH] for i in range(0, len(self), DOWNLOAD_BATCH)]
        max_bytes = self._chorus_max_download_bytes()
        alone_unavailable = 0  # invoices in a row Chorus Pro was unavailable for, each alone
        while batches:
            batch = batches.pop(0)
            try:
                content = client.download_invoices([int(i.chorus_invoice_id) for i in batch])
                placement = downloads.place(content, batch._chorus_document_refs(), max_bytes=max_bytes)
            except Exception as error:  # noqa: BLE001 - one batch must not stop the others
                unavailable = isinstance(error, chorus_exc.ChorusUnavailableError)
                alone_unavailable = alone_unavailable + 1 if unavailable and len(batch) == 1 else 0
                # Nothing more can be had this run: the account refused, Chorus Pro down, or unavailable for
                # several invoices alone in a row (halving further would cost a call time-out each).
                if isinstance(error, chorus_exc.ChorusAuthenticationError) or alone_unavailable >= 3 or (
                        unavailable and len(batch) > 1 and not self._chorus_answers(client)):
                    # The rest waits for the next run (their documents stay missing).
                    left = len(batch) + sum(len(other) for other in batches)
                    errors.append(_("Documents of %(count)s invoices not downloaded: %(error)s", count=left,
                                    error=self.env["res.company"]._chorus_error_message(error)))
                    break
                if len(batch) > 1:
                    # Too large, unreadable, refused, or Chorus Pro failing on one invoice only: halve the batch
                    # until the invoice at fault stands alone, so that the others are downloaded.
                    batches[:0] = [batch[:len(batch) // 2], batch[len(batch) // 2:]]
                else:
                    batch._chorus_documents_failed(self._chorus_documents_reason(batch, error), errors)
                continue
            alone_unavailable = 0
            unplaced = batch.filtered(lambda i: int(i.chorus_invoice_id) in placement.unplaced)
            batches[:0] = [invoice for invoice in unplaced]  # each alone
            done += (batch - unplaced)._chorus_attach_safely(placement.files, errors)
            self._chorus_commit()
        return done

    @api.model
    def _chorus_answers(self, client):
        """Whether Chorus Pro answers at all (its health check): a failure on a download is then that download's."""
        try:
            client.health_check()
        except Exception:  # noqa: BLE001 - whatever the check meets, Chorus Pro is not answering
            return False
        return True

    def _chorus_attach_safely(self, files_by_id, errors):
        """Attach the downloaded files in one go or, when that fails, invoice by invoice: whatever the
        exception, the invoice at fault waits in the retry list and the others get their documents."""
        try:
            with self.env.cr.savepoint():
                accepted, refused = self._chorus_attach_documents(files_by_id)
        except Exception as error:  # noqa: BLE001 - one invoice must not stop the others
            if len(self) > 1:
                return sum(invoice._chorus_attach_safely(files_by_id, errors) for invoice in self)
            accepted, refused = self.browse(), [(self, self._chorus_documents_reason(self, error))]
        for invoice, message in refused:
            invoice._chorus_documents_failed(message, errors)
        return len(accepted)

    def _chorus_documents_reason(self, batch, error):
        if isinstance(error, downloads.DownloadError):
            return _("Documents of %(invoice)s not readable: %(error)s", invoice=batch.name, error=str(error))
        if isinstance(error, chorus_exc.ChorusTooLargeError):
            return _("Invoice %(invoice)s: its documents are too large for Chorus Pro to send.", invoice=batch.name)
        return self.env["res.company"]._chorus_failure_reason(error)

    def _chorus_documents_failed(self, message, errors):
        """These invoices' documents could not be had: said, and tried again once the delay is over."""
        errors.append(message)
        self.write({"documents_error": message})
        for invoice in self:
            self.env["chorus.retry"]._chorus_failed(invoice.company_id, "documents", invoice, message,
                                                    name=invoice.name, supplier_name=invoice.supplier_name)
        self._chorus_commit()

    @api.model
    def _chorus_max_download_bytes(self):
        """Largest download unpacked (MB in the system parameter l10n_fr_chorus_efacture.max_download_mb)."""
        megabytes = self.env["ir.config_parameter"].sudo().get_param("l10n_fr_chorus_efacture.max_download_mb")
        try:
            return int(megabytes) * 1024 * 1024 if megabytes else downloads.MAX_UNPACKED_BYTES
        except ValueError:
            return downloads.MAX_UNPACKED_BYTES

    def _chorus_attach_documents(self, files_by_id):
        """Attach each invoice's downloaded files ({Chorus id: [DownloadedFile]}).

        An invoice whose own file is not a PDF gets nothing. Returns (invoices attached, [(invoice, reason refused)]).
        """
        Attachment = self.env["ir.attachment"].sudo()
        accepted, refused = self.browse(), []
        for invoice in self:
            files = files_by_id.get(int(invoice.chorus_invoice_id)) or []
            main = [f for f in files if f.is_invoice]
            if not main:
                refused.append((invoice, _(
                    "Invoice %(invoice)s: no PDF of the invoice among the %(count)s files Chorus Pro sent; its "
                    "documents are not attached.", invoice=invoice.name, count=len(files))))
            elif not main[0].content.startswith(b"%PDF"):
                refused.append((invoice, _(
                    "Invoice %(invoice)s: the invoice file %(file)s Chorus Pro sent is not a PDF; its "
                    "documents are not attached.", invoice=invoice.name, file=main[0].name)))
            else:
                accepted |= invoice
        # Downloaded again (after a crash, after a completion): the files this module downloaded are replaced, not
        # doubled; the files users added (in the chatter) stay.
        accepted.downloaded_document_ids.unlink()
        invoice_label, piece_label = _("Invoice PDF from Chorus Pro"), _("Supporting document")
        vals_list, owners = [], []
        for invoice in accepted:
            for document in files_by_id[int(invoice.chorus_invoice_id)]:
                vals_list.append({
                    "name": document.name, "raw": document.content, "res_model": self._name, "res_id": invoice.id,
                    "mimetype": "application/pdf" if document.content.startswith(b"%PDF") else False,
                    "description": invoice_label if document.is_invoice else piece_label,
                    "chorus_downloaded": True,
                })
                owners.append((invoice, document.is_invoice))
        attachments = Attachment.create(vals_list)
        accepted.write({"documents_state": "done", "documents_error": False})
        for attachment, (invoice, is_invoice) in zip(attachments, owners):
            if is_invoice:
                invoice.write({"pdf_attachment_id": attachment.id, "message_main_attachment_id": attachment.id})
        self.env["chorus.retry"]._chorus_done("documents", accepted)
        return accepted, refused

