"""The file of factures/v1/telecharger/groupe, placed on its invoices.

The layouts Chorus Pro documents (CPP-2017/ChorusPro TelechargerGroupeFacture.cs; go-choruspro
factures_misc.go):

- one invoice with one file: that PDF;
- one invoice with several files: a ZIP of the files, without folder;
- several invoices: a ZIP with one folder per invoice.

How the folders are named is not documented: a folder is placed on the invoice whose Chorus id is
one of the words of its name, or whose number it contains, when exactly one invoice fits. The
invoices nobody can place are returned as ``unplaced``: the caller downloads each of them alone,
where the layout leaves no doubt, so that no document is lost. Archives are size-checked before
anything is unpacked.
"""

import io
import re
import zipfile
from dataclasses import dataclass, field

MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_MEMBERS = 2000
_WORD = re.compile(r"[A-Za-z0-9]+")


class DownloadError(ValueError):
    """The downloaded file cannot be read (not a PDF nor a ZIP, damaged, too large unpacked)."""


@dataclass(frozen=True)
class InvoiceRef:
    """What is known of an invoice before its files come: its Chorus id, its number, and the names
    of its supporting documents (consulter recipiendaire's listeDesPiecesJointes)."""
    id: int
    number: str
    document_names: tuple = ()


@dataclass(frozen=True)
class DownloadedFile:
    name: str
    content: bytes
    is_invoice: bool


@dataclass
class Placement:
    files: dict = field(default_factory=dict)   # invoice id -> [DownloadedFile]
    unplaced: list = field(default_factory=list)  # invoice ids to download alone


def _normalized(text):
    return "".join(_WORD.findall(text or "")).lower()


def unpack(content, max_bytes=MAX_UNPACKED_BYTES, max_members=MAX_MEMBERS):
    """[(path, bytes)]: a lone PDF as ("", content), or the members of a ZIP, sizes checked first."""
    if content.startswith(b"%PDF"):
        return [("", content)]
    if not content.startswith(b"PK"):
        raise DownloadError("neither a PDF nor a ZIP file")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            infos = [info for info in archive.infolist() if not info.is_dir()]
            if len(infos) > max_members or sum(info.file_size for info in infos) > max_bytes:
                raise DownloadError("the archive is too large once unpacked")
            return [(info.filename.replace("\\", "/").lstrip("/"), archive.read(info)) for info in infos]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError):
        raise DownloadError("a damaged ZIP file") from None


def _folder_owner(folder, invoices):
    """The one invoice a folder's name designates, or None."""
    words = {word.lower() for word in _WORD.findall(folder)}
    by_id = [invoice for invoice in invoices if str(invoice.id) in words]
    if len(by_id) == 1:
        return by_id[0]
    name = _normalized(folder)
    by_number = [invoice for invoice in invoices if _normalized(invoice.number) and _normalized(invoice.number) in name]
    if len(by_number) > 1:
        # "FA-1" is in "FA-12": the longest number that fits is the one meant, when it is alone.
        longest = max(len(_normalized(invoice.number)) for invoice in by_number)
        by_number = [invoice for invoice in by_number if len(_normalized(invoice.number)) == longest]
    return by_number[0] if len(by_number) == 1 else None


def _mark_invoice_file(invoice, members):
    """The invoice's own PDF among its files; every file is kept, the others are supporting documents."""
    pdfs = [(path, content) for path, content in members if content.startswith(b"%PDF")
            or path.lower().endswith(".pdf")]
    number = _normalized(invoice.number)
    supporting = {_normalized(name.rsplit(".", 1)[0]) for name in invoice.document_names if name}

    def stem(path):
        return _normalized(path.rsplit("/", 1)[-1].rsplit(".", 1)[0])

    chosen = next((path for path, _c in pdfs if number and number in stem(path)), None)
    if chosen is None:
        candidates = [path for path, _c in pdfs if stem(path) not in supporting]
        candidates.sort(key=lambda path: path.count("/"))
        chosen = candidates[0] if candidates else (pdfs[0][0] if pdfs else None)
    return [DownloadedFile(name=path.rsplit("/", 1)[-1] or "%s.pdf" % (invoice.number or invoice.id),
                           content=content, is_invoice=path == chosen)
            for path, content in members]


def place(content, invoices, max_bytes=MAX_UNPACKED_BYTES, max_members=MAX_MEMBERS):
    """Place the downloaded file's members on ``invoices`` (InvoiceRef). Raises DownloadError."""
    members = unpack(content, max_bytes, max_members)
    placement = Placement()
    if len(invoices) == 1:
        # One invoice asked for: whatever the layout, every file is its own.
        placement.files[invoices[0].id] = _mark_invoice_file(invoices[0], members)
        return placement
    folders = {}
    for path, data in members:
        folder, _sep, rest = path.partition("/")
        if rest:
            folders.setdefault(folder, []).append((rest, data))
    claims = {}
    for folder, folder_members in folders.items():
        owner = _folder_owner(folder, invoices)
        if owner is not None:
            claims.setdefault(owner.id, []).append(folder_members)
    for invoice in invoices:
        owned = claims.get(invoice.id) or []
        if len(owned) == 1:
            placement.files[invoice.id] = _mark_invoice_file(invoice, owned[0])
        else:
            placement.unplaced.append(invoice.id)
    return placement
