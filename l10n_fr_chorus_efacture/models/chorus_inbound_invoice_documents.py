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
        while batches:
            batch = batches.pop(0)
            try:
                content = client.download_invoices([int(i.chorus_invoice_id) for i in batch])
                placement = downloads.place(content, batch._chorus_document_refs(), max_bytes=max_bytes)
            except Exception as error:  # noqa: BLE001 - one batch must not stop the others
                if len(batch) > 1 and isinstance(error, (chorus_exc.ChorusTooLargeError, downloads.DownloadError)):
                    # Too large, or unreadable: halve the batch until the invoice at fault stands alone,
                    # so that the others are downloaded.
                    batches[:0] = [batch[:len(batch) // 2], batch[len(batch) // 2:]]
                elif isinstance(error, chorus_exc.ChorusUnavailableError) and len(batch) > 1:
                    errors.append(_("Documents of %(count)s invoices not downloaded: %(error)s", count=len(batch),
                                    error=self.env["res.company"]._chorus_error_message(error)))
                else:
                    batch._chorus_documents_failed(self._chorus_documents_reason(batch, error), errors)
                continue
            unplaced = batch.filtered(lambda i: int(i.chorus_invoice_id) in placement.unplaced)
            batches[:0] = [invoice for invoice in unplaced]  # each alone
            done += (batch - unplaced)._chorus_attach_documents(placement.files, errors)
            self._chorus_commit()
        return done

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

    def _chorus_attach_documents(self, files_by_id, errors):
        """Attach each invoice's downloaded files ({Chorus id: [DownloadedFile]}).

        An invoice whose own file is not a PDF gets nothing and is reported; returns how many got their documents.
        """
        Attachment = self.env["ir.attachment"].sudo()
        accepted = self.browse()
        for invoice in self:
            files = files_by_id.get(int(invoice.chorus_invoice_id)) or []
            main = [f for f in files if f.is_invoice]
            message = None
            if not main:
                message = _("Invoice %(invoice)s: no PDF of the invoice among the %(count)s files Chorus Pro sent; its "
                            "documents are not attached.", invoice=invoice.name, count=len(files))
            elif not main[0].content.startswith(b"%PDF"):
                message = _("Invoice %(invoice)s: the invoice file %(file)s Chorus Pro sent is not a PDF; its "
                            "documents are not attached.", invoice=invoice.name, file=main[0].name)
            if message:
                invoice._chorus_documents_failed(message, errors)
                continue
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
        return len(accepted)

