"""Files the sandbox reads and writes: invoice XML (CII, UBL), Factur-X PDFs, archives, PDFs."""

import io
import tarfile
import zipfile
from datetime import date

from lxml import etree

# Outside XML is parsed without entities, DTDs or network access.
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_ARCHIVE_MEMBERS = 500


class FluxError(Exception):
    """A flux that cannot be read: becomes a technical error of the flux report."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def parse_xml(data):
    try:
        root = etree.fromstring(data, SAFE_PARSER)
    except etree.XMLSyntaxError as e:
        raise FluxError("FLUX_XML_INVALIDE", "Le fichier XML est mal formé : %s" % e) from None
    if root is None:
        raise FluxError("FLUX_XML_INVALIDE", "Le fichier XML est vide")
    if root.getroottree().docinfo.doctype:
        raise FluxError("FLUX_XML_INVALIDE", "Les DTD et entités XML sont interdites")
    return root


def _first(root, xpath):
    found = root.xpath(xpath)
    if not found:
        return None
    value = found[0]
    if isinstance(value, etree._Element):
        value = value.text
    return (value or "").strip() or None


def _siret(root, party):
    """The 14-digit SIRET of a party (scheme 0009, or 0002 as some producers write it)."""
    for scheme in ("0009", "0002"):
        value = _first(root, "//*[local-name()='%s']//*[(local-name()='ID' or local-name()='GlobalID' or "
                             "local-name()='CompanyID' or local-name()='EndpointID') and @schemeID='%s']"
                       % (party, scheme))
        if value and value.isdigit() and len(value) == 14:
            return value
    return None


def _amount(root, name):
    value = _first(root, "//*[local-name()='%s']" % name)
    try:
        return round(float(value), 2) if value is not None else 0.0
    except ValueError:
        raise FluxError("FLUX_MONTANT_INVALIDE", "Montant %s invalide : %s" % (name, value)) from None


def invoice_from_xml(data):
    """Read the routing data and totals of one CII or UBL invoice."""
    root = parse_xml(data)
    tag = etree.QName(root).localname
    if tag == "CrossIndustryInvoice":
        type_code = _first(root, "//*[local-name()='ExchangedDocument']/*[local-name()='TypeCode']")
        issue = _first(root, "//*[local-name()='IssueDateTime']/*[local-name()='DateTimeString']")
        invoice = {
            "numeroFacture": _first(root, "//*[local-name()='ExchangedDocument']/*[local-name()='ID']"),
            "typeFacture": "AVOIR" if type_code == "381" else "FACTURE",
            "dateFacture": "%s-%s-%s" % (issue[:4], issue[4:6], issue[6:8]) if issue and len(issue) >= 8 else None,
            "siretFournisseur": _siret(root, "SellerTradeParty"),
            "siretDestinataire": _siret(root, "BuyerTradeParty"),
            "codeServiceExecutant": _first(root, "//*[local-name()='BuyerReference']"),
            "numeroEngagement": _first(
                root, "//*[local-name()='BuyerOrderReferencedDocument']/*[local-name()='IssuerAssignedID']"),
            "numeroMarche": _first(
                root, "//*[local-name()='ContractReferencedDocument']/*[local-name()='IssuerAssignedID']"),
            "devise": _first(root, "//*[local-name()='InvoiceCurrencyCode']") or "EUR",
            "montantHT": _amount(root, "TaxBasisTotalAmount"),
            "montantTTC": _amount(root, "GrandTotalAmount"),
            "montantAPayer": _amount(root, "DuePayableAmount"),
        }
    elif tag in ("Invoice", "CreditNote"):
        invoice = {
            "numeroFacture": _first(root, "/*/*[local-name()='ID']"),
            "typeFacture": "AVOIR" if tag == "CreditNote" else "FACTURE",
            "dateFacture": _first(root, "/*/*[local-name()='IssueDate']"),
            "siretFournisseur": _siret(root, "AccountingSupplierParty"),
            "siretDestinataire": _siret(root, "AccountingCustomerParty"),
            "codeServiceExecutant": _first(root, "/*/*[local-name()='BuyerReference']"),
            "numeroEngagement": _first(root, "/*/*[local-name()='OrderReference']/*[local-name()='ID']"),
            "numeroMarche": _first(root, "/*/*[local-name()='ContractDocumentReference']/*[local-name()='ID']"),
            "devise": _first(root, "/*/*[local-name()='DocumentCurrencyCode']") or "EUR",
            "montantHT": _amount(root, "TaxExclusiveAmount"),
            "montantTTC": _amount(root, "TaxInclusiveAmount"),
            "montantAPayer": _amount(root, "PayableAmount"),
        }
    else:
        raise FluxError("FLUX_SYNTAXE_INCONNUE", "Racine XML inattendue : %s" % tag)
    if not invoice["numeroFacture"]:
        raise FluxError("FLUX_NUMERO_ABSENT", "Le numéro de facture est absent")
    return invoice


def xml_from_facturx(pdf_bytes):
    if not pdf_bytes.startswith(b"%PDF"):
        raise FluxError("FLUX_PDF_INVALIDE", "Le fichier n'est pas un PDF")
    try:
        from facturx import get_xml_from_pdf
        _name, xml = get_xml_from_pdf(pdf_bytes, check_xsd=False)
    except Exception as e:  # the library raises many kinds on a broken PDF
        raise FluxError("FLUX_PDF_INVALIDE", "PDF Factur-X illisible : %s" % e.__class__.__name__) from None
    if not xml:
        raise FluxError("FLUX_FACTURX_SANS_XML", "Le PDF ne contient pas de XML Factur-X")
    return xml


def unpack_archive(data, max_bytes=MAX_UNPACKED_BYTES):
    """Members of a zip or tar.gz flux as (name, bytes); sizes are checked before unpacking."""
    members = []
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = [i for i in archive.infolist() if not i.is_dir()]
            _check_sizes([(i.filename, i.file_size) for i in infos], max_bytes)
            for info in infos:
                members.append((info.filename, archive.read(info)))
    elif data[:2] == b"\x1f\x8b":
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            infos = [m for m in archive.getmembers() if m.isfile()]
            _check_sizes([(m.name, m.size) for m in infos], max_bytes)
            for info in infos:
                members.append((info.name, archive.extractfile(info).read()))
    else:
        raise FluxError("FLUX_ARCHIVE_INVALIDE", "L'archive n'est ni un zip ni un tar.gz")
    return members


def _check_sizes(entries, max_bytes):
    if len(entries) > MAX_ARCHIVE_MEMBERS:
        raise FluxError("FLUX_ARCHIVE_TROP_DE_FICHIERS", "L'archive contient trop de fichiers")
    if sum(size for _name, size in entries) > max_bytes:
        raise FluxError("FLUX_ARCHIVE_TROP_GRANDE", "L'archive décompressée dépasse la taille autorisée")


def invoices_from_flux(data, syntax):
    """The invoices of a deposited flux: one file, or an archive of several."""
    if data[:2] in (b"PK", b"\x1f\x8b"):
        files = unpack_archive(data)
    else:
        files = [("flux", data)]
    invoices = []
    for _name, content in files:
        if syntax == "IN_DP_E2_CII_FACTURX" or content.startswith(b"%PDF"):
            content = xml_from_facturx(content)
        invoices.append(invoice_from_xml(content))
    if not invoices:
        raise FluxError("FLUX_VIDE", "Le flux ne contient aucune facture")
    return invoices


def _pdf_escape(text):
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(lines):
    """A small valid one-page PDF showing ``lines`` (Latin-1 text)."""
    stream_lines = ["BT", "/F1 11 Tf", "50 790 Td", "14 TL"]
    for line in lines:
        stream_lines.append("(%s) '" % _pdf_escape(line))
    stream_lines.append("ET")
    stream = "\n".join(stream_lines).encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def make_zip(files):
    """A zip archive of (path, bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in files:
            archive.writestr(path, content)
    return buffer.getvalue()


def iso_date(value):
    return value.isoformat() if isinstance(value, date) else value
