"""State and rules of the Chorus Pro sandbox.

Everything lives in memory behind one lock. Time is the real clock plus an offset that
``advance()`` moves, so lifecycles advance by themselves or on command.

Replies are built from Chorus Pro's published shapes (``shapes``): every reply has exactly the
keys of its fixture. The rules (routing checks, allowed transitions, reasons) are the sandbox's
model of Chorus Pro's behaviour, listed in the README.
"""

import base64
import binascii
import copy
import secrets
import threading
import time
from datetime import date, datetime, timezone

from . import shapes
from .buyer import BuyerSide
from .common import ACCOUNTING_CHAIN, FAULT_KINDS, OK, PARIS, ApiError, as_int, functional, local_minute, paged
# The sandbox's rules, where tests and callers have always found them.
from .common import TRANSITIONS, load_data  # noqa: F401
from .controls import Controls
from .structures import Structures
from .supplier import SupplierSide


class SandboxState(Structures, SupplierSide, BuyerSide, Controls):
    def __init__(self, data=None, *, flux_delay=2.0, status_step=5.0, token_ttl=3600,
                 download_limit=120 * 1024 * 1024, request_limit=130 * 1024 * 1024):
        self.lock = threading.RLock()
        self.seed = copy.deepcopy(data or {})
        self.config = {
            "flux_delay": flux_delay,        # seconds before a flux is processed
            "status_step": status_step,      # seconds between automatic status steps
            "token_ttl": token_ttl,
            "download_limit": download_limit,
            "request_limit": request_limit,
            "auto_accounting": True,          # MANDATEE moves on to MISE_EN_PAIEMENT by itself
            # Folders of a multi-invoice download: "id_number" (<idFacture>_<numero>), "number", or
            # "opaque" (facture_1, facture_2...: names that say nothing of the invoice).
            "download_folders": "id_number",
            "strict": True,                   # check every reply against the published shapes
            "list_delay": 0,                  # seconds after integration before the supplier's search lists it
        }
        self.initial_config = dict(self.config)
        self.reset()

    def reset(self):
        """Back to the seed data and the configuration the sandbox started with."""
        with self.lock:
            self.config.update(self.initial_config)
            data = copy.deepcopy(self.seed)
            self.offset = 0.0
            self.clients = {c["client_id"]: c["client_secret"] for c in data.get("clients", [])}
            self.accounts = {a["login"]: a for a in data.get("accounts", [])}
            self.tokens = {}
            self.structures = {}
            self.services = {}
            for struct in data.get("structures", []):
                sid = int(struct["idStructureCPP"])
                struct["idStructureCPP"] = sid
                struct.setdefault("statut", "ACTIF")
                struct.setdefault("parametres", {})
                for service in struct.pop("services", []):
                    service["idStructure"] = sid
                    service.setdefault("estActif", True)
                    service.setdefault("parametres", {"numeroEngagement": False})
                    self.services[int(service["idService"])] = service
                self.structures[sid] = struct
            self.flux = {}
            self.invoices = {}
            self.files = {}
            self.next_invoice_id = 7000001
            self.next_flux = 1
            self.next_id = 1
            self.faults = []
            self.calls = {}
            self.received_payloads = []
            for item in data.get("inbox", []):
                self._add_inbox_invoice(item)
            generate = data.get("inbox_generate")
            if generate:
                self.generate_inbox(**generate)

    def now(self):
        return time.time() + self.offset

    def now_dt(self):
        return datetime.fromtimestamp(self.now(), timezone.utc)

    def today(self):
        return datetime.fromtimestamp(self.now(), PARIS).date()

    def advance(self, seconds):
        with self.lock:
            self.offset += float(seconds)
            self.tick()
            return self.now_dt().isoformat()

    def _new_id(self):
        self.next_id += 1
        return 88000000 + self.next_id

    def add_fault(self, kind, operation="*", count=1, delay=None, after=0, invoice=None):
        """Fail the next ``count`` calls of ``operation``, once ``after`` of them have gone through; with
        ``invoice``, only the calls about that invoice (its idFacture in the request)."""
        if kind not in FAULT_KINDS:
            raise ValueError("unknown fault kind %r" % kind)
        with self.lock:
            self.faults.append({"kind": kind, "operation": operation, "count": int(count), "delay": delay,
                                "after": int(after or 0), "invoice": as_int(invoice)})

    def take_fault(self, operation, invoices=()):
        """The fault this call gets, if any; ``invoices``: the invoice ids its request names."""
        with self.lock:
            for fault in self.faults:
                if fault["operation"] not in ("*", operation):
                    continue
                if fault.get("invoice") and fault["invoice"] not in invoices:
                    continue
                if fault.get("after", 0) > 0:
                    fault["after"] -= 1
                    continue
                if fault["count"] > 0:
                    fault["count"] -= 1
                    if fault["count"] <= 0:
                        self.faults.remove(fault)
                    return dict(fault)
        return None

    def give_back_fault(self, fault):
        """Put back a fault taken by a call that was refused before reaching the operation."""
        with self.lock:
            self.faults.insert(0, dict(fault, count=1, after=0))

    def count_call(self, operation):
        with self.lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1

    def issue_token(self, client_id, client_secret):
        with self.lock:
            if not client_id or self.clients.get(client_id) is None or \
                    not secrets.compare_digest(self.clients[client_id], client_secret or ""):
                raise ApiError(401, {"error": "invalid_client", "error_description": "Bad client credentials"})
            token = secrets.token_urlsafe(24)
            ttl = int(self.config["token_ttl"])
            self.tokens[token] = (client_id, self.now() + ttl)
            return shapes.build("oauth/token", {"access_token": token, "token_type": "Bearer", "expires_in": ttl,
                                                "scope": "openid"})

    def revoke_tokens(self):
        with self.lock:
            self.tokens.clear()

    def check_token(self, authorization):
        token = (authorization or "")[7:] if (authorization or "").startswith("Bearer ") else None
        with self.lock:
            entry = self.tokens.get(token) if token else None
            if not entry:
                raise ApiError(401, None, {"WWW-Authenticate":
                                           'Bearer realm="PISTE", error="invalid_token", '
                                           'error_description="The access token is missing or invalid"'})
            if entry[1] <= self.now():
                del self.tokens[token]
                raise ApiError(401, None, {"WWW-Authenticate":
                                           'Bearer realm="PISTE", error="invalid_token", '
                                           'error_description="The access token expired"'})

    def check_account(self, header):
        """The technical account of the ``cpro-account`` header, or a 401."""
        def refuse(error, description):
            return ApiError(401, None, {"WWW-Authenticate": 'cpro-account realm="ChorusPro", error="%s", '
                                                            'error_description="%s"' % (error, description)})
        try:
            login, password = base64.b64decode(header or "", validate=True).decode().split(":", 1)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise refuse("invalid_account", "The cpro-account header is missing or malformed") from None
        with self.lock:
            account = self.accounts.get(login)
            if not account or not secrets.compare_digest(account["password"], password):
                raise refuse("invalid_account", "Unknown technical account or wrong password")
            expiry = account.get("password_expiry")
            if expiry and date.fromisoformat(expiry) < self.today():
                raise refuse("expired_password", "The technical account password expired on %s" % expiry)
            return account

    def health(self):
        return shapes.build("transverses/v1/health-check", {"body": "OK", "statusCodeValue": 200,
                                                            "statusCode": "OK"})

    def _new_invoice(self, values):
        invoice_id = self.next_invoice_id
        self.next_invoice_id += 1
        today = self.today().isoformat()
        invoice = {
            "idFacture": invoice_id, "typeFacture": "FACTURE", "typeDemandePaiement": "FACTURE", "devise": "EUR",
            "montantHT": 0.0,
            "montantTTC": 0.0, "montantAPayer": None, "dateDepot": today, "dateFacture": today,
            "commentaire": "", "suspendue_une_fois": False, "pieces": [], "historique": [], "telechargee": False,
            "numeroDpMandat": None, "coordonneesBancaires": None, "lignesTva": [],
        }
        invoice.update(values)
        invoice["idFacture"] = invoice_id
        if invoice["montantAPayer"] is None:
            invoice["montantAPayer"] = invoice["montantTTC"]
        self.invoices[invoice_id] = invoice
        self._set_status(invoice, invoice["statut"], invoice.get("commentaire") or "")
        return invoice

    def _set_status(self, invoice, status, comment=""):
        invoice["statut"] = status
        invoice["commentaire"] = comment or ""
        invoice["changed"] = self.now()
        invoice["historique"].append({"code": status, "time": invoice["changed"], "comment": comment or "",
                                      "id": self._new_id()})

    def set_status(self, invoice_id, status, comment=""):
        with self.lock:
            invoice = self.invoices.get(as_int(invoice_id))
            if not invoice:
                raise KeyError(invoice_id)
            self._set_status(invoice, status, comment)
            return invoice

    def tick(self):
        """Move flux and invoices on according to the clock."""
        with self.lock:
            now = self.now()
            for flux in self.flux.values():
                if flux["etat"] == "IN_EN_ATTENTE_TRAITEMENT_CPP" and now >= flux["created"] + self.config["flux_delay"]:
                    self._process_flux(flux)
            step = self.config["status_step"]
            for invoice in self.invoices.values():
                if now < invoice["changed"] + step:
                    continue
                if invoice["statut"] in ("DEPOSEE", "EN_COURS_ACHEMINEMENT"):
                    self._set_status(invoice, "MISE_A_DISPOSITION")
                elif self.config["auto_accounting"] and invoice["statut"] in ACCOUNTING_CHAIN[:-1] and \
                        not self.structures.get(invoice.get("destinataire"), {}).get("parametres", {}).get(
                            "statutMiseEnPaiementNestPasRemonte"):
                    nxt = ACCOUNTING_CHAIN[ACCOUNTING_CHAIN.index(invoice["statut"]) + 1]
                    self._set_status(invoice, nxt)

    def history(self, account, payload):
        invoice = self.invoices.get(as_int(payload.get("idFacture")))
        if not invoice or not self._visible(account, invoice):
            raise functional(20020, "FAC_MSG_01_001 Facture inconnue : %s" % payload.get("idFacture"))
        paging = payload.get("paramRechercheHistoStatuts") or {}
        # In the order they happened: no source says which order Chorus Pro uses.
        entries, meta = paged(invoice["historique"], paging.get("nbResultatsParPageListeHistoStatut"),
                                   paging.get("pageResultatDemandeeListeHistoStatut"))
        return shapes.build("factures/v1/consulter/historique", dict(
            OK, idFacture=invoice["idFacture"], numeroFacture=invoice["numeroFacture"], modeDepot="DEPOT_API",
            statutCourantCode=invoice["statut"],
            derniereAction={"derniereActionCode": invoice["statut"], "derniereActionId": invoice["historique"][-1]["id"]},
            historiquesDesActionsUtilisateurs={"histoAction": [], "nbResultatsParPageHistoAction": 1,
                                               "pageCouranteHistoAction": 1, "pagesHistoAction": 0,
                                               "totalHistoAction": 0},
            historiquesDesEvenementsComplementaires={"evenement": [], "nbResultatsParPageEvenement": 1,
                                                     "pageCouranteEvenement": 1, "pagesEvenement": 0,
                                                     "totalEvenement": 0},
            historiquesDesStatuts={
                "histoStatut": [{"histoStatutCode": e["code"], "histoStatutCommentaire": e["comment"],
                                 "histoStatutDatePassage": local_minute(e["time"]), "histoStatutId": e["id"]}
                                for e in entries],
                "nbResultatsParPageHistoStatut": meta["nbResultatsParPage"],
                "pageCouranteHistoStatut": meta["pageCourante"], "pagesHistoStatut": meta["pages"],
                "totalHistoStatut": meta["total"]}))

    def _visible(self, account, invoice):
        ids = {s["idStructureCPP"] for s in self.account_structures(account)}
        return invoice.get("fournisseur") in ids or invoice.get("destinataire") in ids
