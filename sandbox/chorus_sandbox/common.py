"""What every part of the sandbox shares: Chorus Pro's constants, error replies, formats."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from . import shapes

PARIS = ZoneInfo("Europe/Paris")
SYNTAXES = {
    "IN_DP_E1_UBL_INVOICE", "IN_DP_E1_CII_16B", "IN_DP_E2_CII_FACTURX", "IN_DP_E2_UBL_INVOICE_MIN",
    "IN_DP_E2_CPP_FACTURE_MIN", "IN_DP_E2_CII_MIN_16B", "IN_DP_E3_UBL_INVOICE",
}
RESERVED_SERVICE = "FACTURES_PUBLIQUES"
CODE_NO_RESULT = 20000
LIBELLE_NO_RESULT = "TRA_MSG_00.015"
OK = {"codeRetour": 0, "libelle": "GCU_MSG_01_000"}
# Buyer statuses allowed after each status (traiter/recue). Suspension is allowed once (CCP R2192-27).
TRANSITIONS = {
    "MISE_A_DISPOSITION": ["A_RECYCLER", "REJETEE", "SUSPENDUE", "SERVICE_FAIT", "MANDATEE"],
    "COMPLETEE": ["REJETEE", "SERVICE_FAIT", "MANDATEE"],
    "SERVICE_FAIT": ["REJETEE", "SUSPENDUE", "MANDATEE"],
}
REASON_REQUIRED = {"REJETEE", "SUSPENDUE"}
REASON_MAX = 255
# Statuses that the comptable (Helios) pushes after MANDATEE, one per step.
ACCOUNTING_CHAIN = ["MANDATEE", "MISE_A_DISPOSITION_COMPTABLE", "COMPTABILISEE", "MISE_EN_PAIEMENT"]
# Types of supporting documents (transverses/v1/recuperer/typespj): the sandbox's own codes.
ATTACHMENT_TYPES = [("PIECE_JUSTIFICATIVE", "Pièce justificative"), ("BON_LIVRAISON", "Bon de livraison"),
                    ("DEVIS", "Devis"), ("AUTRE", "Autre pièce")]
ATTACHMENT_EXTENSIONS = {"BMP", "GIF", "FAX", "ODT", "PPT", "TIFF", "XLS", "BZ2", "GZ", "JPEG", "P7S", "RTF",
                         "TXT", "XML", "CSV", "GZIP", "JPG", "PDF", "SVG", "XHTML", "XLSX", "DOC", "HTM", "ODP",
                         "PNG", "TGZ", "XLC", "ZIP", "DOCX", "HTML", "ODS", "PPS", "TIF", "XLM", "PPTX"}
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
ATTACHMENT_NAME_MAX = 50
FAULT_KINDS = {"500", "502", "503", "504", "403", "413", "429", "slow", "malformed", "giant", "lost_reply", "token_expired",
               "password_expired", "bad_base64", "cut_body", "refused"}


class ApiError(Exception):
    """An error reply: HTTP status, JSON body and headers."""

    def __init__(self, status, body=None, headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def functional(code, libelle, status=400):
    return ApiError(status, shapes.build("*", {"codeRetour": code, "libelle": libelle}))


def no_result():
    return ApiError(200, shapes.build("*", {"codeRetour": CODE_NO_RESULT, "libelle": LIBELLE_NO_RESULT}))


# --------------------------------------------------------------- formats
def rfc3339(timestamp):
    """A time as go-choruspro's time.Time reads it, in French time with milliseconds."""
    moment = datetime.fromtimestamp(timestamp, PARIS)
    return moment.isoformat(timespec="milliseconds")


def local_minute(timestamp):
    """'YYYY-MM-DD HH:MM' in French time (go-choruspro date.go Datetime)."""
    return datetime.fromtimestamp(timestamp, PARIS).strftime("%Y-%m-%d %H:%M")


def parse_time(value):
    """A time filter of a request (RFC 3339, or a date) as a timestamp; ApiError when unreadable."""
    text = str(value or "").strip()
    try:
        if len(text) == 10:
            moment = datetime.fromisoformat(text).replace(tzinfo=PARIS)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=PARIS)
    except ValueError:
        raise functional(20005, "TRA_MSG_00.005 Date invalide : %s" % value) from None
    return moment.timestamp()


def descending(paging):
    return (paging.get("triSens") or paging.get("triSense") or "").strip() == "Descendant"


def as_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def safe_name(value):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(value))[:60]


def load_data(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def paged(items, size, number):
    """One page of ``items`` and its paging ({pageCourante, pages, nbResultatsParPage, total})."""
    size = max(1, min(as_int(size) or 10, 1000))
    number = max(1, as_int(number) or 1)
    pages = -(-len(items) // size)
    chunk = items[(number - 1) * size:number * size]
    return chunk, {"pageCourante": number, "pages": pages, "nbResultatsParPage": size, "total": len(items)}
