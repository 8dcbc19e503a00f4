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
        is downloaded again alone, where the layout leaves no doubt.
        """
        done = 0
        batches = [self[i:i + DOWNLOAD_BATCH] for i in range(0, len(self), DOWNLOAD_BATCH)]
        max_bytes = self._chorus_max_download_bytes()
        while batches:
            batch = batches.pop(0)
            try:
                content = client.download_invoices([int(i.chorus_invoice_id) for i in batch])
                placement = downloads.place(content, batch._chorus_document_refs(), max_bytes=max_bytes)
            except (chorus_exc.ChorusTooLargeError, downloads.DownloadError) as error:
                if len(batch) > 1:
                    # Too large, or unreadable: halve the batch until the invoice at fault stands alone,
                    # so that the others are downloaded.
                    half = len(batch) // 2
                    batches[:0] = [batch[:half], batch[half:]]
                else:
                    if isinstance(error, downloads.DownloadError):
                        message = _("Documents of %(invoice)s not readable: %(error)s", invoice=batch.name,
                                    error=str(error))
                    else:
                        message = _("Invoice %(invoice)s: its documents are too large for Chorus Pro to send.",
                                    invoice=batch.name)
                    errors.append(message)
                    batch.documents_error = message
                continue
            except chorus_exc.ChorusError as error:
                errors.append(_("Documents of %(count)s invoices not downloaded: %(error)s", count=len(batch),
                                error=self.env["res.company"]._chorus_error_message(error)))
                continue
            unplaced = batch.filtered(lambda i: int(i.chorus_invoice_id) in placement.unplaced)
            batches[:0] = [invoice for invoice in unplaced]  # each alone
            done += (batch - unplaced)._chorus_attach_documents(placement.files, errors)
            self._chorus_commit()
        return done

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
                errors.append(message)
                invoice.documents_error = message
                continue
            accepted |= invoice
        # Downloaded again after a crash: the documents already attached are replaced, not doubled.
        Attachment.search([("res_model", "=", self._name), ("res_id", "in", accepted.ids)]).unlink()
        invoice_label, piece_label = _("Invoice PDF from Chorus Pro"), _("Supporting document")
        vals_list, owners = [], []
        for invoice in accepted:
            for document in files_by_id[int(invoice.chorus_invoice_id)]:
                vals_list.append({
                    "name": document.name, "raw": document.content, "res_model": self._name, "res_id": invoice.id,
                    "mimetype": "application/pdf" if document.content.startswith(b"%PDF") else False,
                    "description": invoice_label if document.is_invoice else piece_label,
                })
                owners.append((invoice, document.is_invoice))
        attachments = Attachment.create(vals_list)
        accepted.write({"documents_state": "done", "documents_error": False})
        for attachment, (invoice, is_invoice) in zip(attachments, owners):
            if is_invoice:
                invoice.write({"pdf_attachment_id": attachment.id, "message_main_attachment_id": attachment.id})
        return len(accepted)

