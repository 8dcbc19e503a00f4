"""Typed replies of the Chorus Pro API, read in one place.

Every reply the client receives is turned here into frozen dataclasses; nothing else reads raw
JSON. The shapes are Chorus Pro's published ones (see the fixtures of the sandbox package,
``chorus_sandbox/shapes``). Where the sources disagree, every reading is accepted:

- a key spelled two ways (``designationFournisseur`` / ``raisonSocialeFournisseur``,
  ``ligneTvaTauxManuel`` / ``ligneTvaTauxRefValeur``, ``identifiant`` / ``identifiantStructure``);
- numbers sent as JSON strings ("1440", "7000001");
- a list of one element sent as the object itself;
- dates as ``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM[:SS]`` (Paris time), RFC 3339 with or without
  milliseconds and offset, or epoch milliseconds.

A field the code needs that is missing raises :class:`ChorusMalformedReplyError` naming it; the
optional ones are ``None`` when absent or empty.
"""

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from .exceptions import ChorusMalformedReplyError

# Chorus Pro's times without an offset are French times.
PARIS = ZoneInfo("Europe/Paris")
MAX_AMOUNT = 10 ** 12
_LOCAL_MOMENT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$")


def to_utc(moment):
    """An aware datetime as the naive UTC datetime Odoo stores (to the second, as Odoo keeps it)."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)


def parse_moment(value):
    """A Chorus Pro date or time as a naive UTC datetime; ValueError when it is none."""
    if isinstance(value, bool):
        raise ValueError("not a date: %r" % (value,))
    if isinstance(value, (int, float)):
        seconds = value / 1000.0 if abs(value) > 10 ** 11 else float(value)
        return to_utc(datetime.fromtimestamp(seconds, timezone.utc))
    text = str(value).strip()
    match = _LOCAL_MOMENT.match(text)
    if match:
        year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
        return to_utc(datetime(year, month, day, hour, minute, second, tzinfo=PARIS))
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=PARIS)
    return to_utc(moment)


def parse_day(value):
    """A Chorus Pro date (the day as written, whatever the time after it)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = parse_moment(value).replace(tzinfo=timezone.utc)
        return moment.astimezone(PARIS).date()
    text = str(value).strip()
    return date.fromisoformat(text[:10])


def format_moment(moment):
    """A naive UTC datetime as the RFC 3339 text Chorus Pro's search filters take."""
    return moment.replace(microsecond=0).isoformat() + "Z"


class Fields:
    """One JSON object of a reply, read with the path of each field (for the error messages)."""

    def __init__(self, data, path, operation):
        if data is not None and not isinstance(data, dict):
            raise ChorusMalformedReplyError("%s is not an object" % (path or "the reply"), operation=operation)
        self.data = data or {}
        self.path = path
        self.operation = operation

    def _where(self, keys):
        return " or ".join("%s%s" % (self.path, key) for key in keys)

    def _error(self, keys, what):
        return ChorusMalformedReplyError("%s %s" % (self._where(keys), what), operation=self.operation)

    def raw(self, *keys, required=False):
        """The value of the first of ``keys`` present and not empty."""
        for key in keys:
            value = self.data.get(key)
            if value is not None and value != "":
                return value
        if required:
            raise self._error(keys, "is missing")
        return None

    def _read(self, keys, required, convert, what):
        value = self.raw(*keys, required=required)
        if value is None:
            return None
        try:
            return convert(value)
        except (TypeError, ValueError, OverflowError):
            raise self._error(keys, "is not %s (%r)" % (what, value)) from None

    def text(self, *keys, required=False):
        return self._read(keys, required, _text, "a text")

    def integer(self, *keys, required=False):
        return self._read(keys, required, _integer, "a whole number")

    def amount(self, *keys, required=False, limit=MAX_AMOUNT):
        number = self._read(keys, required, _number, "a number")
        if number is not None and abs(number) >= limit:
            raise self._error(keys, "is out of range (%r)" % (number,))
        return number

    def flag(self, *keys):
        return self._read(keys, False, _flag, "true or false")

    def day(self, *keys, required=False):
        value = self._read(keys, required, parse_day, "a date")
        if value is not None and not 1900 <= value.year <= 2200:
            raise self._error(keys, "is out of range (%s)" % value)
        return value

    def moment(self, *keys, required=False):
        value = self._read(keys, required, parse_moment, "a date and time")
        if value is not None and not 1900 <= value.year <= 2200:
            raise self._error(keys, "is out of range (%s)" % value)
        return value

    def obj(self, key, required=False):
        value = self.data.get(key)
        if value is None and required:
            raise self._error([key], "is missing")
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        return Fields(value, "%s%s." % (self.path, key), self.operation)

    def items(self, key, required=False):
        """The objects of a list; one object sent alone counts as a list of one."""
        value = self.data.get(key)
        if value is None:
            if required:
                raise self._error([key], "is missing")
            return []
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            raise self._error([key], "is not a list")
        return [Fields(item, "%s%s[%s]." % (self.path, key, index), self.operation)
                for index, item in enumerate(value)]


def _text(value):
    if isinstance(value, (dict, list)):
        raise TypeError(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip() or None


def _integer(value):
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    return int(str(value).strip())


def _number(value):
    if isinstance(value, bool):
        raise TypeError(value)
    number = float(str(value).strip()) if isinstance(value, str) else float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return round(number, 6)


def _flag(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "oui", "1", "yes"):
        return True
    if text in ("false", "non", "0", "no"):
        return False
    raise ValueError(value)


def reply(data, operation):
    return Fields(data, "", operation)


# ------------------------------------------------------------------ paging
@dataclass(frozen=True)
class Paging:
    page: int
    pages: int
    total: int

    @classmethod
    def read(cls, fields, page_key="pageCourante", pages_key="pages", total_key="total"):
        """Paging as Chorus Pro gives it; an absent count means one page."""
        return cls(page=fields.integer(page_key) or 1, pages=fields.integer(pages_key) or 0,
                   total=fields.integer(total_key) or 0)


# -------------------------------------------------------------- structures
@dataclass(frozen=True)
class Structure:
    """structures/v1/rechercher, one of listeStructures."""
    id: int
    identifier: str
    identifier_type: str
    name: str
    status: str

    @classmethod
    def read(cls, item):
        return cls(id=item.integer("idStructureCPP", required=True),
                   identifier=item.text("identifiantStructure", "identifiant"),
                   identifier_type=item.text("typeIdentifiantStructure"),
                   name=item.text("designationStructure", "raisonSocialeStructure", "libelleStructure"),
                   status=item.text("statut"))


@dataclass(frozen=True)
class StructureDetail:
    """structures/v1/consulter."""
    id: int
    identifier: str
    name: str
    service_required: bool
    engagement_required: bool
    service_or_engagement: bool
    payment_status_not_reported: bool
    password_expiry: datetime

    @classmethod
    def read(cls, fields, structure_id):
        general = fields.obj("informationGenerales")
        params = fields.obj("parametres", required=True)
        return cls(
            id=general.integer("idStructureCPP") or structure_id,
            identifier=general.text("identifiantStructure"),
            name=general.text("raisonSocialeStructure", "libelleStructure"),
            service_required=bool(params.flag("codeServiceDoitEtreRenseigne")),
            engagement_required=bool(params.flag("numeroEJDoitEtreRenseigne")),
            service_or_engagement=bool(params.flag("gestionNumeroEJOuCodeService")),
            payment_status_not_reported=bool(params.flag("statutMiseEnPaiementNestPasRemonte")),
            password_expiry=general.moment("dateExpirationMotPasseCompteTech"),
        )


@dataclass(frozen=True)
class Service:
    """structures/v1/rechercher/services, one of listeServices."""
    id: int
    code: str
    name: str
    active: bool

    @classmethod
    def read(cls, item):
        active = item.flag("estActif")
        if active is None:
            status = item.text("statutService")
            active = status is None or status.upper() == "ACTIF"
        return cls(id=item.integer("idService", required=True), code=item.text("codeService", required=True),
                   name=item.text("libelleService", "nomService"), active=active)


@dataclass(frozen=True)
class ServiceDetail:
    """structures/v1/consulter/service."""
    code: str
    name: str
    engagement_required: bool

    @classmethod
    def read(cls, fields):
        info = fields.obj("informationsGenerales")
        return cls(code=info.text("codeService"), name=info.text("nomService", "descriptionService"),
                   engagement_required=bool(fields.obj("parametres").flag("numeroEngagement")))


@dataclass(frozen=True)
class ActiveStructure:
    """transverses/v1/recuperer/structures/actives/destinataire, one of listeStructures."""
    id: int
    identifier: str
    name: str

    @classmethod
    def read(cls, item):
        return cls(id=item.integer("idStructureCPP", required=True),
                   identifier=item.text("identifiant", "identifiantStructure"),
                   name=item.text("designationStructure"))


# -------------------------------------------------------------- supplier side
@dataclass(frozen=True)
class Deposit:
    """factures/v1/deposer/flux."""
    flux_number: str
    deposit_date: date
    syntax: str

    @classmethod
    def read(cls, fields):
        return cls(flux_number=fields.text("numeroFluxDepot", required=True), deposit_date=fields.day("dateDepot"),
                   syntax=fields.text("syntaxeFlux"))


@dataclass(frozen=True)
class FluxInvoiceError:
    invoice_number: str
    supplier: str
    recipient: str
    message: str


@dataclass(frozen=True)
class FluxTechnicalError:
    code: str
    message: str
    nature: str


@dataclass(frozen=True)
class FluxReport:
    """transverses/v1/consulterCRDetaille."""
    state: str
    deposit_time: datetime
    state_time: datetime
    file_name: str
    invoice_errors: tuple
    technical_errors: tuple

    @classmethod
    def read(cls, fields):
        return cls(
            state=fields.text("etatCourantDepotFlux", "etatCourantFlux", required=True),
            deposit_time=fields.moment("dateDepotFlux"),
            state_time=fields.moment("dateHeureEtatCourantFlux"),
            file_name=fields.text("nomFichier", "nomFichierFlux"),
            invoice_errors=tuple(FluxInvoiceError(
                invoice_number=item.text("numeroDP"), supplier=item.text("identifiantFournisseur"),
                recipient=item.text("identifiantDestinataire"), message=item.text("libelleErreurDP"),
            ) for item in fields.items("listeErreurDP")),
            technical_errors=tuple(FluxTechnicalError(
                code=item.text("codeErreur"), message=item.text("libelleErreur"), nature=item.text("natureErreur"),
            ) for item in fields.items("listeErreurTechnique")),
        )


@dataclass(frozen=True)
class SupplierInvoice:
    """factures/v1/rechercher/fournisseur, one of listeFactures."""
    id: int
    number: str
    status: str
    status_time: datetime
    comment: str
    flux_number: str
    deposit_date: date
    invoice_type: str
    recipient_code: str
    amount_total: float

    @classmethod
    def read(cls, item):
        return cls(id=item.integer("identifiantFactureCPP", "idFacture", required=True),
                   number=item.text("numeroFacture", required=True), status=item.text("statut", required=True),
                   status_time=item.moment("dateHeureEtatCourant"), comment=item.text("commentaireEtatCourant"),
                   flux_number=item.text("numeroFluxDepot"), deposit_date=item.day("dateDepot"),
                   invoice_type=item.text("typeFacture"), recipient_code=item.text("codeDestinataire"),
                   amount_total=item.amount("montantTTC"))


@dataclass(frozen=True)
class HistoryEntry:
    status: str
    time: datetime
    comment: str
    entry_id: int


@dataclass(frozen=True)
class InvoiceHistory:
    """factures/v1/consulter/historique: the statuses, newest first (sorted here: no source says the order)."""
    invoice_id: int
    current_status: str
    entries: tuple

    @property
    def latest(self):
        return self.entries[0] if self.entries else None

    def last_time_of(self, status):
        """When the invoice last entered ``status``, or None."""
        return next((entry.time for entry in self.entries if entry.status == status), None)

    @staticmethod
    def read_entries(fields):
        statuses = fields.obj("historiquesDesStatuts")
        entries = [HistoryEntry(status=item.text("histoStatutCode", required=True),
                                time=item.moment("histoStatutDatePassage", required=True),
                                comment=item.text("histoStatutCommentaire"), entry_id=item.integer("histoStatutId"))
                   for item in statuses.items("histoStatut")]
        return entries, Paging.read(statuses, "pageCouranteHistoStatut", "pagesHistoStatut", "totalHistoStatut")

    @classmethod
    def build(cls, fields, invoice_id, entries):
        ordered = sorted(entries, key=lambda e: (e.time, e.entry_id or 0), reverse=True)
        current = fields.text("statutCourantCode") or (ordered[0].status if ordered else None)
        if not current:
            raise ChorusMalformedReplyError("statutCourantCode is missing", operation=fields.operation)
        return cls(invoice_id=fields.integer("idFacture") or invoice_id, current_status=current,
                   entries=tuple(ordered))


@dataclass(frozen=True)
class AttachmentType:
    """transverses/v1/recuperer/typespj, one of listeTypePieceJointe."""
    code: str
    label: str

    @classmethod
    def read(cls, item):
        return cls(code=item.text("codeTypePieceJointe", required=True), label=item.text("libelleTypePieceJointe"))


@dataclass(frozen=True)
class Processed:
    """The reply of a change: completer, recycler, traiter/recue."""
    invoice_id: int
    number: str
    status: str
    date: datetime

    @classmethod
    def read(cls, fields, invoice_id):
        return cls(invoice_id=fields.integer("identifiantFactureCPP", "idFacture") or invoice_id,
                   number=fields.text("numeroFacture"), status=fields.text("nouveauStatut", "statutFacture"),
                   date=fields.moment("dateTraitement"))


# ------------------------------------------------------------- recipient side
@dataclass(frozen=True)
class ReceivedInvoiceSummary:
    """factures/v1/rechercher/recipiendaire, one of listeFactures.

    Only what the list is used for (which invoices, their status and its time); amounts and dates
    come from the detail (consulter recipiendaire), so that one odd item of a page stops nothing.
    """
    id: int
    number: str
    status: str
    status_time: datetime
    comment: str
    supplier_code: str
    supplier_name: str
    recipient_id: int
    recipient_code: str
    service_code: str
    payment_request: str = None  # FACTURE or FACTURE_TRAVAUX; None when read by its id (a retry)

    @classmethod
    def read(cls, item, payment_request=None):
        """``payment_request``: the kind the search asked for, when the item does not say it."""
        return cls(
            id=item.integer("idFacture", "identifiantFactureCPP", required=True),
            number=item.text("numeroFacture", required=True),
            status=item.text("statut", required=True),
            status_time=item.moment("dateHeureEtatCourant", required=True),
            comment=item.text("commentaireEtatCourant"),
            supplier_code=item.text("codeFournisseur"),
            supplier_name=item.text("designationFournisseur", "raisonSocialeFournisseur"),
            recipient_id=item.integer("idDestinataire"),
            recipient_code=item.text("codeDestinataire"),
            service_code=item.text("codeServiceExecutant"),
            payment_request=item.text("typeDemandePaiement") or payment_request,
        )


    @classmethod
    def from_detail(cls, detail, history, payment_request=None):
        """What the list would say of an invoice read by its id (a retry): its detail and its history; the kind of
        payment request, which the detail does not give, as it was listed before."""
        latest = history.latest
        if latest is None:
            raise ChorusMalformedReplyError("historiquesDesStatuts.histoStatut is empty",
                                            operation="factures/v1/consulter/historique")
        return cls(id=detail.id, number=detail.number, status=history.current_status, status_time=latest.time,
                   comment=latest.comment, supplier_code=detail.supplier.code, supplier_name=detail.supplier.name,
                   recipient_id=detail.recipient_id, recipient_code=detail.recipient_code,
                   service_code=detail.service_code, payment_request=payment_request)


@dataclass(frozen=True)
class Supplier:
    """facture.fournisseur of consulter/recipiendaire."""
    id: int
    code: str
    identifier_type: str
    name: str
    iban: str
    bic: str
    factor_code: str
    factor_name: str

    @classmethod
    def read(cls, fields):
        # The factor (affacturage) Chorus Pro names for a factored invoice: its IBAN is then the factor's.
        factor = fields.obj("affactureur")
        return cls(
            id=fields.integer("idFournisseur"),
            code=fields.text("codeFournisseur", required=True),
            identifier_type=fields.text("typeIdentifiantFournisseur"),
            # go-choruspro: designationFournisseur; CPP-2017/ChorusPro: raisonSocialeFournisseur.
            name=fields.text("designationFournisseur", "raisonSocialeFournisseur", required=True),
            iban=fields.text("coordBancairesFournisseurCompteBancaire"),
            bic=fields.text("coordBancairesBicSwift", "coordBancairesFournisseurBicSwift"),
            factor_code=factor.text("affactureurCode"),
            factor_name=factor.text("affactureurRaisonSociale"),
        )


@dataclass(frozen=True)
class VatLine:
    rate: float
    base: float
    amount: float

    @classmethod
    def read(cls, item):
        return cls(rate=item.amount("ligneTvaTauxManuel", "ligneTvaTauxRefValeur", required=True, limit=100),
                   base=item.amount("ligneTvaMontantBaseHtParTaux", required=True),
                   amount=item.amount("ligneTvaMontantTvaParTaux", required=True))


@dataclass(frozen=True)
class InvoiceDocument:
    """facture.listeDesPiecesJointes.pieceJointe[]."""
    id: int
    name: str
    extension: str
    type_code: str

    @classmethod
    def read(cls, item):
        return cls(id=item.integer("pieceJointeId"), name=item.text("pieceJointeDesignation"),
                   extension=item.text("pieceJointeExtension"), type_code=item.text("pieceJointeTypeCode"))


@dataclass(frozen=True)
class ReceivedInvoice:
    """factures/v1/consulter/recipiendaire: the invoice, nested under ``facture`` in the reply."""
    id: int
    number: str
    status: str
    comment: str
    supplier: Supplier
    recipient_id: int
    recipient_code: str
    service_code: str
    invoice_date: date
    deposit_date: date
    due_date: date
    currency: str
    engagement: str
    contract: str
    mandate_number: str
    invoice_type: str
    origin_number: str
    vat_type: str
    amount_untaxed: float
    amount_tax: float
    amount_total: float
    amount_to_pay: float
    amount_to_pay_given: bool
    amount_discount: float
    vat_lines: tuple
    documents: tuple
    main_document_id: int

    # The paged lists of the reply: (list key, its items' key, page key, pages key).
    VAT_PAGES = ("recapitulatifDeTva", "ligneTva", "pageCouranteLignesRecapitulativesTVA",
                 "pagesLignesRecapitulativesTVA")
    DOCUMENT_PAGES = ("listeDesPiecesJointes", "pieceJointe", "pageCouranteListePiecesJointe",
                      "pagesListePiecesJointe")

    @staticmethod
    def invoice(fields):
        return fields.obj("facture", required=True)

    @staticmethod
    def paged(invoice, spec):
        """(items, pages) of one of the invoice's paged lists."""
        container = invoice.obj(spec[0])
        return container.items(spec[1]), container.integer(spec[3]) or 1

    @classmethod
    def read(cls, invoice, vat_items, document_items):
        references = invoice.obj("references", required=True)
        totals = invoice.obj("montantTotal", required=True)
        recipient = invoice.obj("destinataire")
        untaxed = totals.amount("montantHtTotal", required=True)
        total = totals.amount("montantTtcTotal", required=True)
        tax = totals.amount("montantTVA")
        to_pay = totals.amount("montantAPayer")
        return cls(
            id=invoice.integer("identifiantFactureCPP", required=True),
            number=invoice.text("numeroFacture", required=True),
            status=invoice.text("statutFacture", required=True),
            comment=invoice.text("commentaire"),
            supplier=Supplier.read(invoice.obj("fournisseur", required=True)),
            recipient_id=recipient.integer("idDestinataire"),
            recipient_code=recipient.text("codeDestinataire"),
            service_code=recipient.text("codeServiceExecutant"),
            invoice_date=references.day("dateFacture", required=True),
            deposit_date=references.day("dateDepot"),
            due_date=references.day("dateEcheancePaiement"),
            currency=references.text("codeDeviseFacture", "deviseFacture", required=True),
            engagement=references.text("numeroBonCommande"),
            contract=references.text("numeroMarche"),
            mandate_number=references.text("numeroDpMandat"),
            invoice_type=references.text("typeFacture") or "FACTURE",
            # A credit note's: the number of the invoice it corrects.
            origin_number=references.text("numeroFactureOrigine"),
            vat_type=references.text("typeTva"),
            amount_untaxed=untaxed,
            amount_tax=tax if tax is not None else round(total - untaxed, 2),
            amount_total=total,
            # Absent: the total is due. 0 is an amount like any other (all paid before: nothing left to pay).
            amount_to_pay=to_pay if to_pay is not None else total,
            amount_to_pay_given=to_pay is not None,
            # A global discount comes off the total including VAT (montantTtcTotal is after it).
            amount_discount=totals.amount("montantRemiseGlobaleTTC") or 0.0,
            vat_lines=tuple(VatLine.read(item) for item in vat_items),
            documents=tuple(InvoiceDocument.read(item) for item in document_items),
            main_document_id=invoice.obj("pieceJointePrincipale").integer("idPieceJointePrincipale"),
        )
