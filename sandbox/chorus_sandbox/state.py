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
import json
import random
import secrets
import threading
import time
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from . import documents, shapes

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
FAULT_KINDS = {"500", "503", "403", "413", "429", "slow", "malformed", "giant", "lost_reply", "token_expired",
               "password_expired", "bad_base64", "cut_body"}


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


class SandboxState:
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

    # ----------------------------------------------------------------- setup
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

    # ---------------------------------------------------------------- faults
    def add_fault(self, kind, operation="*", count=1, delay=None, after=0):
        """Fail the next ``count`` calls of ``operation``, once ``after`` of them have gone through."""
        if kind not in FAULT_KINDS:
            raise ValueError("unknown fault kind %r" % kind)
        with self.lock:
            self.faults.append({"kind": kind, "operation": operation, "count": int(count), "delay": delay,
                                "after": int(after or 0)})

    def take_fault(self, operation):
        with self.lock:
            for fault in self.faults:
                if fault["operation"] in ("*", operation) and fault.get("after", 0) > 0:
                    fault["after"] -= 1
                    continue
                if fault["operation"] in ("*", operation) and fault["count"] > 0:
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

    # ------------------------------------------------------------------ auth
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

    # ------------------------------------------------------------ structures
    def structure_by_siret(self, siret):
        for struct in self.structures.values():
            if struct.get("identifiantStructure") == siret:
                return struct
        return None

    def account_structures(self, account):
        return [s for s in (self.structure_by_siret(x) for x in account.get("structures", [])) if s]

    def supplier_structure(self, account):
        structs = self.account_structures(account)
        if not structs:
            raise ApiError(403, None)
        return structs[0]

    def _structure(self, sid):
        struct = self.structures.get(_int(sid))
        if not struct:
            raise functional(20001, "GCU_MSG_01_001 Structure inconnue : %s" % sid)
        return struct

    def search_structures(self, payload):
        criteria = payload.get("structure") or {}
        identifier = criteria.get("identifiantStructure")
        if not identifier:
            raise functional(20002, "GCU_MSG_01_002 identifiantStructure est obligatoire")
        found = [s for s in self.structures.values() if s.get("identifiantStructure") == identifier]
        if payload.get("restreindreStructuresPrivees"):
            found = [s for s in found if s.get("typeStructure", "PUBLIQUE") == "PUBLIQUE"]
        if not found:
            raise no_result()
        paging = payload.get("parametres") or {}
        page, meta = self._page(found, paging.get("nbResultatsParPage"), paging.get("pageResultatDemandee"))
        return shapes.build("structures/v1/rechercher", dict(OK, parametresRetour=meta, listeStructures=[
            {"idStructureCPP": s["idStructureCPP"], "identifiantStructure": s["identifiantStructure"],
             "typeIdentifiantStructure": s.get("typeIdentifiantStructure", "SIRET"),
             "designationStructure": s["designationStructure"], "statut": s["statut"]} for s in page]))

    def get_structure(self, payload):
        # idStructureCPP (fact sheet, OCA) or idStructure (go-choruspro): see shapes/structures.consulter.json.
        s = self._structure(payload.get("idStructureCPP") or payload.get("idStructure"))
        params = s["parametres"]
        flags = ("codeServiceDoitEtreRenseigne", "numeroEJDoitEtreRenseigne", "gestionNumeroEJOuCodeService",
                 "statutMiseEnPaiementNestPasRemonte", "connexionEDI", "recevoirDonneesViaEDI", "estMoaUniquement",
                 "estValideurDelegue", "getaMoa", "nonDiffusibleInsee")
        account = next((a for a in self.accounts.values() if s["identifiantStructure"] in a.get("structures", [])),
                       None)
        expiry = account.get("password_expiry") if account else None
        return shapes.build("structures/v1/consulter", dict(
            OK,
            adressePostaleDuSiege={"adresse": s.get("adresse", ""), "codePostal": s.get("codePostal", ""),
                                   "pays": "FR", "ville": s.get("ville", "")},
            informationGenerales={
                "idStructureCPP": s["idStructureCPP"], "identifiantStructure": s["identifiantStructure"],
                "typeIdentifiantStructure": s.get("typeIdentifiantStructure", "SIRET"),
                "libelleStructure": s["designationStructure"], "raisonSocialeStructure": s["designationStructure"],
                "structurePriveePublique": s.get("typeStructure", "PUBLIQUE"), "listeStructureDupliquees": [],
                "dateExpirationMotPasseCompteTech": "%sT00:00:00.000+01:00" % expiry if expiry else None,
                "estValideurDeleguee": False,
            },
            parametres={flag: bool(params.get(flag)) for flag in flags}))

    def search_services(self, payload):
        s = self._structure(payload.get("idStructure"))
        paging = payload.get("parametresRechercherServicesStructure") or {}
        services = [sv for sv in self.services.values() if sv["idStructure"] == s["idStructureCPP"]]
        if not services:
            raise no_result()
        page, meta = self._page(services, paging.get("nbResultatsParPage"), paging.get("pageResultatDemandee"))
        return shapes.build("structures/v1/rechercher/services", dict(OK, parametresRetour=meta, listeServices=[
            {"idService": sv["idService"], "codeService": sv["codeService"], "libelleService": sv["libelleService"],
             "estActif": sv["estActif"], "statutService": "ACTIF" if sv["estActif"] else "INACTIF"}
            for sv in page]))

    def get_service(self, payload):
        s = self._structure(payload.get("idStructure"))
        service = self.services.get(_int(payload.get("idService")))
        if not service or service["idStructure"] != s["idStructureCPP"]:
            raise functional(20003, "GCU_MSG_01_003 Service inconnu : %s" % payload.get("idService"))
        return shapes.build("structures/v1/consulter/service", dict(
            OK, informationsGenerales={"codeService": service["codeService"],
                                       "nomService": service["libelleService"],
                                       "descriptionService": service["libelleService"]},
            parametres={"numeroEngagement": bool(service["parametres"].get("numeroEngagement")),
                        "miseEnPaiement": False}))

    def active_recipient_structures(self, account):
        structs = [s for s in self.account_structures(account)
                   if s.get("typeStructure", "PUBLIQUE") == "PUBLIQUE" and s["statut"] == "ACTIF"]
        if not structs:
            raise no_result()
        return shapes.build("transverses/v1/recuperer/structures/actives/destinataire", dict(
            OK, libelle="TRA_MSG_00.000", listeStructures=[
                {"idStructureCPP": s["idStructureCPP"], "identifiant": s["identifiantStructure"],
                 "designationStructure": s["designationStructure"]} for s in structs]))

    # ------------------------------------------------------------------ flux
    def deposit(self, account, payload):
        supplier = self.supplier_structure(account)
        for field in ("fichierFlux", "nomFichier", "syntaxeFlux"):
            if not payload.get(field):
                raise functional(20010, "DEP_MSG_01_001 Le champ %s est obligatoire" % field)
        if payload["syntaxeFlux"] not in SYNTAXES:
            raise functional(20011, "DEP_MSG_01_002 Syntaxe de flux inconnue : %s" % payload["syntaxeFlux"])
        try:
            content = base64.b64decode(payload["fichierFlux"], validate=True)
        except (ValueError, binascii.Error):
            raise functional(20012, "DEP_MSG_01_003 fichierFlux n'est pas du base64") from None
        with self.lock:
            number = "CPP%s%08d" % (self.today().strftime("%Y"), self.next_flux)
            self.next_flux += 1
            self.flux[number] = {
                "numeroFluxDepot": number, "dateDepot": self.today().isoformat(), "created": self.now(),
                "changed": self.now(), "nomFichier": payload["nomFichier"], "syntaxeFlux": payload["syntaxeFlux"],
                "content": content, "supplier": supplier["idStructureCPP"], "login": account["login"],
                "etat": "IN_EN_ATTENTE_TRAITEMENT_CPP", "erreursDP": [], "erreursTechniques": [],
                "invoices": [],
            }
            return shapes.build("factures/v1/deposer/flux", dict(
                OK, numeroFluxDepot=number, dateDepot=self.today().isoformat(), syntaxeFlux=payload["syntaxeFlux"]))

    def flux_report(self, account, payload):
        flux = self.flux.get(payload.get("numeroFluxDepot") or "")
        if not flux or flux["login"] != account["login"]:
            raise functional(20013, "TRA_MSG_00.020 Flux inconnu : %s" % payload.get("numeroFluxDepot"))
        return shapes.build("transverses/v1/consulterCRDetaille", dict(
            OK, libelle="TRA_MSG_00.000", codeInterfaceDepotFlux="FSO1100A",
            dateDepotFlux=rfc3339(flux["created"]), dateHeureEtatCourantFlux=rfc3339(flux["changed"]),
            etatCourantDepotFlux=flux["etat"], nomFichier=flux["nomFichier"],
            listeErreurDP=flux["erreursDP"], listeErreurTechnique=flux["erreursTechniques"]))

    def set_flux_state(self, number, state, errors=None):
        """Control API: put a flux in a state (IN_INCIDENTE, IN_EN_ATTENTE_RETRAITEMENT_CPP...)."""
        with self.lock:
            flux = self.flux[number]
            flux["etat"] = state
            flux["changed"] = self.now()
            if errors:
                flux["erreursTechniques"] = errors
            return flux

    def _process_flux(self, flux):
        flux["changed"] = self.now()
        try:
            parsed = documents.invoices_from_flux(flux["content"], flux["syntaxeFlux"])
        except documents.FluxError as e:
            flux["etat"] = "IN_REJETE"
            flux["erreursTechniques"].append({"codeErreur": e.code, "libelleErreur": e.message,
                                              "natureErreur": "TECHNIQUE"})
            return
        supplier = self.structures[flux["supplier"]]
        accepted = 0
        for number, item in enumerate(parsed, 1):
            error = self._routing_error(item, supplier)
            if error:
                flux["erreursDP"].append({"numeroDP": item.get("numeroFacture") or str(number),
                                          "identifiantFournisseur": item.get("siretFournisseur") or "",
                                          "identifiantDestinataire": item.get("siretDestinataire") or "",
                                          "libelleErreurDP": error})
                continue
            buyer = self.structure_by_siret(item["siretDestinataire"])
            self._new_invoice({
                **item, "fournisseur": supplier["idStructureCPP"], "destinataire": buyer["idStructureCPP"],
                "numeroFluxDepot": flux["numeroFluxDepot"],
                "designationFournisseur": supplier["designationStructure"],
                "statut": "DEPOSEE", "listed_at": self.now() + float(self.config["list_delay"]),
            })
            flux["invoices"].append(self.next_invoice_id - 1)
            accepted += 1
        flux["etat"] = ("IN_INTEGRE" if accepted == len(parsed) else
                        "IN_INTEGRE_PARTIEL" if accepted else "IN_REJETE")

    def _routing_error(self, item, supplier, check_duplicate=True):
        """Why Chorus Pro would refuse this invoice, or None."""
        if item.get("siretFournisseur") != supplier["identifiantStructure"]:
            return "Le SIRET du fournisseur (%s) ne correspond pas au compte déposant" % item.get("siretFournisseur")
        buyer = self.structure_by_siret(item.get("siretDestinataire") or "")
        if not buyer or buyer["statut"] != "ACTIF":
            return "Destinataire inconnu ou inactif : %s" % item.get("siretDestinataire")
        params = buyer["parametres"]
        code = item.get("codeServiceExecutant")
        engagement = item.get("numeroEngagement")
        service = None
        if code:
            if code == RESERVED_SERVICE:
                return "Le service %s est réservé aux échanges entre entités publiques" % RESERVED_SERVICE
            service = next((s for s in self.services.values()
                            if s["idStructure"] == buyer["idStructureCPP"] and s["codeService"] == code), None)
            if not service:
                return "Service exécutant inconnu pour ce destinataire : %s" % code
            if not service["estActif"]:
                return "Le service exécutant %s est inactif" % code
        if params.get("codeServiceDoitEtreRenseigne") and not code:
            return "Le code service est obligatoire pour ce destinataire"
        if params.get("gestionNumeroEJOuCodeService") and not (code or engagement):
            return "Le code service ou le numéro d'engagement est obligatoire pour ce destinataire"
        needs_ej = params.get("numeroEJDoitEtreRenseigne") or (service and service["parametres"].get("numeroEngagement"))
        if needs_ej and not engagement:
            return "Le numéro d'engagement juridique est obligatoire pour ce destinataire"
        if engagement and len(engagement) > 50:
            return "Le numéro d'engagement dépasse 50 caractères"
        if check_duplicate:
            for other in self.invoices.values():
                if other.get("fournisseur") == supplier["idStructureCPP"] and \
                        other["numeroFacture"] == item["numeroFacture"] and other["statut"] != "REJETEE" and \
                        other.get("typeFacture") == item.get("typeFacture"):
                    return "Facture en doublon : le numéro %s a déjà été déposé par ce fournisseur" % \
                        item["numeroFacture"]
        return None

    # -------------------------------------------------------------- invoices
    def _new_invoice(self, values):
        invoice_id = self.next_invoice_id
        self.next_invoice_id += 1
        today = self.today().isoformat()
        invoice = {
            "idFacture": invoice_id, "typeFacture": "FACTURE", "devise": "EUR", "montantHT": 0.0,
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
            invoice = self.invoices.get(_int(invoice_id))
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

    def _supplier_invoice(self, account, invoice_id):
        supplier = self.supplier_structure(account)
        invoice = self.invoices.get(_int(invoice_id))
        if not invoice or invoice.get("fournisseur") != supplier["idStructureCPP"]:
            raise functional(20020, "FAC_MSG_01_001 Facture inconnue : %s" % invoice_id)
        return invoice

    def search_supplier(self, account, payload):
        supplier = self.supplier_structure(account)
        paging = payload.get("rechercheFactureParFournisseur") or {}
        statuses = payload.get("statutCourant") or []
        since = parse_time(payload["periodeDateHeureEtatCourantDu"]) \
            if payload.get("periodeDateHeureEtatCourantDu") else None
        found = [i for i in self.invoices.values() if i.get("fournisseur") == supplier["idStructureCPP"]
                 and (not payload.get("numeroFluxDepot") or i.get("numeroFluxDepot") == payload["numeroFluxDepot"])
                 and (not payload.get("numeroFacture") or i["numeroFacture"] == payload["numeroFacture"])
                 and (not statuses or i["statut"] in statuses)
                 and (since is None or i["changed"] >= since)
                 and i.get("listed_at", 0) <= self.now()]
        if not found:
            raise no_result()
        found.sort(key=lambda i: (i["dateDepot"], i["idFacture"]), reverse=_descending(paging))
        page, meta = self._page(found, paging.get("nbResultatsParPage"), paging.get("pageResultatDemandee"))
        items = []
        for i in page:
            buyer = self.structures[i["destinataire"]]
            items.append({
                "identifiantFactureCPP": i["idFacture"], "numeroFacture": i["numeroFacture"], "statut": i["statut"],
                "commentaireEtatCourant": i["commentaire"], "dateDepot": i["dateDepot"],
                "dateFacture": i["dateFacture"], "dateHeureEtatCourant": rfc3339(i["changed"]),
                "typeFacture": i["typeFacture"], "typeDemandePaiement": "FACTURE", "montantHT": i["montantHT"],
                "montantTTC": i["montantTTC"], "montantAPayer": i["montantAPayer"], "devise": i["devise"],
                "numeroFluxDepot": i.get("numeroFluxDepot"), "codeDestinataire": buyer["identifiantStructure"],
                "idDestinataire": buyer["idStructureCPP"], "designationDestinataire": buyer["designationStructure"],
                "codeFournisseur": supplier["identifiantStructure"], "typeIdentifiantFournisseur": "SIRET",
                "designationFournisseur": supplier["designationStructure"], "modeDepot": "DEPOT_API",
                "codeServiceExecutant": i.get("codeServiceExecutant"), "numeroBonCommande": i.get("numeroEngagement"),
                "numeroMarche": i.get("numeroMarche"), "rejetTraite": False,
            })
        return shapes.build("factures/v1/rechercher/fournisseur", dict(OK, parametresRetour=meta,
                                                                       listeFactures=items))

    def history(self, account, payload):
        invoice = self.invoices.get(_int(payload.get("idFacture")))
        if not invoice or not self._visible(account, invoice):
            raise functional(20020, "FAC_MSG_01_001 Facture inconnue : %s" % payload.get("idFacture"))
        paging = payload.get("paramRechercheHistoStatuts") or {}
        # In the order they happened: no source says which order Chorus Pro uses.
        entries, meta = self._page(invoice["historique"], paging.get("nbResultatsParPageListeHistoStatut"),
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

    def attachment_types(self, payload):
        return shapes.build("transverses/v1/recuperer/typespj", dict(OK, libelle="TRA_MSG_00.000",
            listeTypePieceJointe=[{"codeTypePieceJointe": code, "libelleTypePieceJointe": label,
                                   "idTypePieceJointe": n, "typeObjet": "FACTURE"}
                                  for n, (code, label) in enumerate(ATTACHMENT_TYPES, 1)]))

    def add_file(self, account, payload):
        name = payload.get("pieceJointeNom") or ""
        extension = (payload.get("pieceJointeExtension") or "").upper()
        if not name or len(name) > ATTACHMENT_NAME_MAX:
            raise functional(20004, "GCU_MSG_05_001 pieceJointeNom est obligatoire (50 caractères au plus)")
        if extension not in ATTACHMENT_EXTENSIONS:
            raise functional(20005, "GCU_MSG_05_002 Extension non autorisée : %s" % extension)
        try:
            content = base64.b64decode(payload.get("pieceJointeFichier") or "", validate=True)
        except (ValueError, binascii.Error):
            raise functional(20012, "DEP_MSG_01_003 pieceJointeFichier n'est pas du base64") from None
        if len(content) > ATTACHMENT_MAX_BYTES:
            raise functional(20003, "GCU_MSG_05_003 Le fichier dépasse 10 Mo")
        with self.lock:
            piece_id = self._new_id()
            self.files[piece_id] = {"nom": name, "contenu": content, "login": account["login"]}
        return shapes.build("transverses/v1/ajouter/fichier", dict(OK, pieceJointeId=piece_id))

    def complete(self, account, payload):
        invoice = self._supplier_invoice(account, payload.get("identifiantFactureCPP"))
        if invoice["statut"] != "SUSPENDUE":
            raise functional(20002, "GDP_MSG_11.033 Le statut de la demande de paiement n'est pas défini à "
                                    "\"Suspendue\" (statut actuel : %s)" % invoice["statut"])
        codes = {code for code, _label in ATTACHMENT_TYPES}
        pieces = []
        for piece in payload.get("pieceJointeComplementaire") or []:
            stored = self.files.get(_int(piece.get("pieceJointeComplementaireId")))
            if not stored or stored["login"] != account["login"]:
                raise functional(20024, "FAC_MSG_02_004 Pièce jointe inconnue : %s"
                                 % piece.get("pieceJointeComplementaireId"))
            if piece.get("pieceJointeComplementaireType") not in codes:
                raise functional(20025, "FAC_MSG_02_005 Type de pièce jointe inconnu : %s"
                                 % piece.get("pieceJointeComplementaireType"))
            if not piece.get("pieceJointeComplementaireDesignation"):
                raise functional(20026, "FAC_MSG_02_006 pieceJointeComplementaireDesignation est obligatoire")
            pieces.append({"nom": piece["pieceJointeComplementaireDesignation"], "contenu": stored["contenu"]})
        invoice["pieces"].extend(pieces)
        self._set_status(invoice, "COMPLETEE", payload.get("commentaire") or "")
        return shapes.build("factures/v1/completer", dict(
            OK, identifiantFactureCPP=invoice["idFacture"], numeroFacture=invoice["numeroFacture"],
            dateTraitement=self.today().isoformat()))

    def recycle(self, account, payload):
        invoice = self._supplier_invoice(account, payload.get("identifiantFactureCPP"))
        if invoice["statut"] != "A_RECYCLER":
            raise functional(20022, "FAC_MSG_02_002 Seule une facture A_RECYCLER peut être recyclée "
                                    "(statut actuel : %s)" % invoice["statut"])
        recipient = payload.get("destinataire") or {}
        reference = payload.get("reference") or {}
        buyer = self.structure_by_siret(recipient.get("codeDestinataire") or "") if recipient.get(
            "codeDestinataire") else self.structures[invoice["destinataire"]]
        if not buyer:
            raise functional(20023, "FAC_MSG_02_003 Destinataire inconnu : %s" % recipient.get("codeDestinataire"))
        item = dict(invoice, siretDestinataire=buyer["identifiantStructure"],
                    codeServiceExecutant=recipient.get("codeServiceExecutant") or invoice.get("codeServiceExecutant"),
                    numeroEngagement=reference.get("numeroBonCommande") or invoice.get("numeroEngagement"))
        error = self._routing_error(item, self.structures[invoice["fournisseur"]], check_duplicate=False)
        if error:
            raise functional(20023, "FAC_MSG_02_003 %s" % error)
        invoice.update(destinataire=buyer["idStructureCPP"], codeServiceExecutant=item["codeServiceExecutant"],
                       numeroEngagement=item["numeroEngagement"])
        self._set_status(invoice, "MISE_A_DISPOSITION", payload.get("commentaire") or "Facture recyclée")
        return shapes.build("factures/v1/recycler", dict(
            OK, identifiantFactureCPP=invoice["idFacture"], numeroFacture=invoice["numeroFacture"],
            statutFacture=invoice["statut"], dateDepot=invoice["dateDepot"]))

    # ------------------------------------------------------------ recipient
    def _recipient_ids(self, account):
        return {s["idStructureCPP"] for s in self.account_structures(account)
                if s.get("typeStructure", "PUBLIQUE") == "PUBLIQUE"}

    def _received_invoice(self, account, invoice_id):
        invoice = self.invoices.get(_int(invoice_id))
        if not invoice or invoice.get("destinataire") not in self._recipient_ids(account) or \
                invoice["statut"] in ("DEPOSEE", "EN_COURS_ACHEMINEMENT"):
            raise functional(20020, "FAC_MSG_01_001 Facture inconnue : %s" % invoice_id)
        return invoice

    def _supplier_of(self, invoice):
        supplier = self.structures.get(invoice.get("fournisseur")) or {}
        return (invoice.get("siretFournisseur") or supplier.get("identifiantStructure"),
                invoice.get("designationFournisseur") or supplier.get("designationStructure"))

    def search_recipient(self, account, payload):
        ids = self._recipient_ids(account)
        if payload.get("idDestinataire"):
            ids &= {_int(payload["idDestinataire"])}
        statuses = payload.get("statutCourant") or []
        since = parse_time(payload["periodeDateHeureEtatCourantDu"]) \
            if payload.get("periodeDateHeureEtatCourantDu") else None
        until = parse_time(payload["periodeDateHeureEtatCourantAu"]) \
            if payload.get("periodeDateHeureEtatCourantAu") else None
        kind = payload.get("typeDemandePaiement")
        found = []
        for i in self.invoices.values():
            if i.get("destinataire") not in ids or i["statut"] in ("DEPOSEE", "EN_COURS_ACHEMINEMENT"):
                continue
            if kind and kind != "FACTURE":
                continue
            if statuses and i["statut"] not in statuses:
                continue
            if payload.get("numeroFacture") and i["numeroFacture"] != payload["numeroFacture"]:
                continue
            if payload.get("idServiceExecutant") and i.get("idServiceExecutant") != _int(payload["idServiceExecutant"]):
                continue
            if payload.get("periodeDateDepotDu") and i["dateDepot"] < payload["periodeDateDepotDu"][:10]:
                continue
            if payload.get("periodeDateDepotAu") and i["dateDepot"] > payload["periodeDateDepotAu"][:10]:
                continue
            if since is not None and i["changed"] < since:
                continue
            if until is not None and i["changed"] > until:
                continue
            if payload.get("factureTelechargeeParDestinataire") is not None and \
                    bool(payload["factureTelechargeeParDestinataire"]) != i["telechargee"]:
                continue
            found.append(i)
        if not found:
            raise no_result()
        paging = payload.get("paramRecherche") or {}
        found.sort(key=lambda i: (i["dateDepot"], i["idFacture"]), reverse=_descending(paging))
        page, meta = self._page(found, paging.get("nbResultatsParPage"), paging.get("pageResultatDemandee"))
        items = []
        for i in page:
            supplier_code, supplier_name = self._supplier_of(i)
            buyer = self.structures[i["destinataire"]]
            items.append({
                "idFacture": i["idFacture"], "numeroFacture": i["numeroFacture"], "statut": i["statut"],
                "commentaireEtatCourant": i["commentaire"], "dateHeureEtatCourant": rfc3339(i["changed"]),
                "codeFournisseur": supplier_code, "designationFournisseur": supplier_name,
                "typeIdentifiantFournisseur": "SIRET", "codeDestinataire": buyer["identifiantStructure"],
                "idDestinataire": buyer["idStructureCPP"], "designationDestinataire": buyer["designationStructure"],
                "codeServiceExecutant": i.get("codeServiceExecutant"), "idServiceExecutant": i.get("idServiceExecutant"),
                "dateFacture": i["dateFacture"], "dateDepot": i["dateDepot"], "montantHT": i["montantHT"],
                "montantTTC": i["montantTTC"], "montantAPayer": i["montantAPayer"], "devise": i["devise"],
                "numeroBonCommande": i.get("numeroEngagement"), "numeroMarche": i.get("numeroMarche"),
                "typeFacture": i["typeFacture"], "typeDemandePaiement": "FACTURE",
                "factureTelechargeeParDestinataire": i["telechargee"],
            })
        return shapes.build("factures/v1/rechercher/recipiendaire", dict(OK, listeFactures=items, **meta))

    def _vat_lines(self, invoice):
        return invoice.get("lignesTva") or [{"tauxTva": 20.0, "montantBaseHtParTaux": invoice["montantHT"],
                                             "montantTvaParTaux": round(invoice["montantTTC"] - invoice["montantHT"],
                                                                        2)}]

    def _documents(self, invoice):
        """The invoice's files as Chorus Pro lists them: its PDF first (the main one), then the others."""
        main = {"pieceJointeId": invoice["idFacture"] * 10, "pieceJointeDesignation": invoice["numeroFacture"],
                "pieceJointeExtension": "PDF", "pieceJointeTypeCode": "FACTURE",
                "pieceJointeTypeLibelle": "Facture", "pieceJointeIdLiaison": invoice["idFacture"] * 10 + 1,
                "pieceJointeNumeroLigneFacture": 0}
        others = [{"pieceJointeId": invoice["idFacture"] * 10 + 2 + n,
                   "pieceJointeDesignation": piece["nom"].rsplit(".", 1)[0],
                   "pieceJointeExtension": piece["nom"].rsplit(".", 1)[-1].upper() if "." in piece["nom"] else "",
                   "pieceJointeTypeCode": "PIECE_JUSTIFICATIVE", "pieceJointeTypeLibelle": "Pièce justificative",
                   "pieceJointeIdLiaison": 0, "pieceJointeNumeroLigneFacture": 0}
                  for n, piece in enumerate(invoice["pieces"])]
        return [main] + others

    def get_received(self, account, payload):
        i = self._received_invoice(account, payload.get("identifiantFactureCPP"))
        bank = i.get("coordonneesBancaires") or {}
        iban = bank.get("iban") or ""
        buyer = self.structures[i["destinataire"]]
        supplier_code, supplier_name = self._supplier_of(i)
        limit = _int(payload.get("nbResultatsMaximum"))  # CPP-2017's reading: one size for every list
        vat_paging = payload.get("rechercheligneTvaRecap") or {}
        vat, vat_meta = self._page(self._vat_lines(i), vat_paging.get("nbResultatsParPageListeListeRecapitulatifTVA")
                                   or limit, vat_paging.get("pageResultatDemandeeListeRecapitulatifTVA"))
        doc_paging = payload.get("recherchePj") or {}
        docs, doc_meta = self._page(self._documents(i), doc_paging.get("nbResultatsParPageListePieceJointe") or limit,
                                    doc_paging.get("pageResultatDemandeeListePieceJointe"))
        line_paging = payload.get("rechercheLignePoste") or {}
        lines, line_meta = self._page(i.get("lignesDePoste") or [], line_paging.get("nbResultatsParPageLignesPoste")
                                      or limit, line_paging.get("pageResultatDemandeeLignesPoste"))
        main = self._documents(i)[0]
        facture = {
            "identifiantFactureCPP": i["idFacture"], "numeroFacture": i["numeroFacture"],
            "statutFacture": i["statut"], "commentaire": i["commentaire"], "modeDepot": "DEPOT_API",
            "cadreDeFacturation": {"codeCadreFacturation": "A1_FACTURE_FOURNISSEUR"},
            "fournisseur": {
                "idFournisseur": i.get("fournisseur"), "codeFournisseur": supplier_code,
                "typeIdentifiantFournisseur": "SIRET", "designationFournisseur": supplier_name,
                "coordBancairesFournisseurCompteBancaire": iban or None,
                "coordBancairesFournisseurCleIban": iban[2:4] or None,
                "coordBancairesFournisseurCodePays": iban[:2] or None,
                "coordBancairesFournisseurType": "IBAN" if iban else None,
                "coordBancairesBicSwift": bank.get("bic"),
            },
            "destinataire": {"idDestinataire": buyer["idStructureCPP"], "codeDestinataire": buyer["identifiantStructure"],
                             "libelleDestinataire": buyer["designationStructure"],
                             "codeServiceExecutant": i.get("codeServiceExecutant"),
                             "idServiceExecutant": i.get("idServiceExecutant"), "destinataireEtat": "ACTIF"},
            "references": {
                "numeroBonCommande": i.get("numeroEngagement"), "numeroMarche": i.get("numeroMarche"),
                "numeroDpMandat": i.get("numeroDpMandat"), "dateEcheancePaiement": i.get("dateEcheance"),
                "dateFacture": i["dateFacture"], "dateDepot": i["dateDepot"], "typeFacture": i["typeFacture"],
                "typeTva": "TVA_SUR_DEBIT", "modePaiement": None if i["typeFacture"] == "AVOIR" else "VIREMENT",
                "codeDeviseFacture": i["devise"],
            },
            "montantTotal": {"montantHtTotal": i["montantHT"], "montantTVA": round(i["montantTTC"] - i["montantHT"], 2),
                             "montantTtcTotal": i["montantTTC"], "montantTtcAvantRemiseGlobalTTC": i["montantTTC"],
                             "montantAPayer": i["montantAPayer"], "montantRemiseGlobaleTTC": 0.0},
            "recapitulatifDeTva": {
                "ligneTva": [{"ligneTvaTauxManuel": line["tauxTva"],
                              "ligneTvaMontantBaseHtParTaux": line["montantBaseHtParTaux"],
                              "ligneTvaMontantTvaParTaux": line["montantTvaParTaux"]} for line in vat],
                "nbResultatsParPageLignesRecapitulativesTVA": vat_meta["nbResultatsParPage"],
                "pageCouranteLignesRecapitulativesTVA": vat_meta["pageCourante"],
                "pagesLignesRecapitulativesTVA": vat_meta["pages"],
                "totalLignesRecapitulativesTVA": vat_meta["total"]},
            "lignesDePoste": {"lignePoste": lines, "nbResultatsParPageLignesPoste": line_meta["nbResultatsParPage"],
                              "pageCouranteLignesPoste": line_meta["pageCourante"],
                              "pagesLignesPoste": line_meta["pages"], "totalLignesPoste": line_meta["total"]},
            "listeDesPiecesJointes": {
                "pieceJointe": docs, "nbResultatsParPageListePiecesJointe": doc_meta["nbResultatsParPage"],
                "pageCouranteListePiecesJointe": doc_meta["pageCourante"],
                "pagesListePiecesJointe": doc_meta["pages"], "totalListePiecesJointe": doc_meta["total"]},
            "pieceJointePrincipale": {"idPieceJointePrincipale": main["pieceJointeId"],
                                      "idLiaisonPieceJointePrincipale": main["pieceJointeIdLiaison"]},
        }
        return shapes.build("factures/v1/consulter/recipiendaire", dict(OK, facture=facture))

    def invoice_pdf(self, invoice):
        if invoice.get("pdf"):
            return invoice["pdf"]
        supplier_code, supplier_name = self._supplier_of(invoice)
        return documents.make_pdf([
            "FACTURE %s" % invoice["numeroFacture"],
            "Fournisseur : %s (SIRET %s)" % (supplier_name or "", supplier_code),
            "Destinataire : %s" % self.structures[invoice["destinataire"]]["designationStructure"],
            "Date : %s" % invoice["dateFacture"],
            "Montant HT : %.2f %s" % (invoice["montantHT"], invoice["devise"]),
            "Montant TTC : %.2f %s" % (invoice["montantTTC"], invoice["devise"]),
            "Chorus Pro : %s" % invoice["idFacture"],
        ])

    def _folder(self, invoice, position):
        naming = self.config["download_folders"]
        if naming == "opaque":
            return "facture_%s" % position
        if naming == "number":
            return _safe_name(invoice["numeroFacture"])
        return "%s_%s" % (invoice["idFacture"], _safe_name(invoice["numeroFacture"]))

    def download(self, account, payload):
        ids = [_int(x.get("idFacture")) for x in payload.get("listeFacture") or []]
        if not ids:
            raise functional(20030, "FAC_MSG_03_001 listeFacture est obligatoire")
        invoices = [self._received_invoice(account, x) for x in ids]
        if (payload.get("format") or "PDF") not in ("PDF", "PIVOT"):
            raise functional(20031, "FAC_MSG_03_002 Format inconnu : %s" % payload.get("format"))
        with_pieces = str(payload.get("avecPiecesJointesComplementaires") or "NON").upper() == "OUI"
        per_invoice = []
        for i in invoices:
            files = [("%s.pdf" % _safe_name(i["numeroFacture"]), self.invoice_pdf(i))]
            if with_pieces:
                files += [(piece["nom"], piece["contenu"]) for piece in i["pieces"]]
            per_invoice.append(files)
        if sum(len(content) for files in per_invoice for _n, content in files) > self.config["download_limit"]:
            raise ApiError(413, None)
        # The documented layouts: one file alone; one invoice's files in a ZIP without folder;
        # several invoices in a ZIP with a folder each.
        if len(invoices) == 1 and len(per_invoice[0]) == 1:
            result = per_invoice[0][0][1]
        elif len(invoices) == 1:
            result = documents.make_zip(per_invoice[0])
        else:
            result = documents.make_zip([("%s/%s" % (self._folder(i, n), name), content)
                                         for n, (i, files) in enumerate(zip(invoices, per_invoice), 1)
                                         for name, content in files])
        for i in invoices:
            i["telechargee"] = True
        return shapes.build("factures/v1/telecharger/groupe", dict(
            OK, fichierResultat=base64.b64encode(result).decode()))

    def allowed_statuses(self, invoice=None, status=None):
        status = invoice["statut"] if invoice else status
        allowed = list(TRANSITIONS.get(status, []))
        if invoice and invoice["suspendue_une_fois"] and "SUSPENDUE" in allowed:
            allowed.remove("SUSPENDUE")
        return allowed

    def process_received(self, account, payload):
        invoice = self._received_invoice(account, payload.get("idFacture"))
        new = payload.get("nouveauStatut")
        reason = payload.get("motif") or ""
        if new not in self.allowed_statuses(invoice):
            raise functional(20040, "FAC_MSG_04_001 Transition interdite de %s vers %s" % (invoice["statut"], new))
        if new in REASON_REQUIRED and not reason.strip():
            raise functional(20041, "FAC_MSG_04_002 Le motif est obligatoire pour le statut %s" % new)
        if len(reason) > REASON_MAX:
            raise functional(20042, "FAC_MSG_04_003 Le motif dépasse %s caractères" % REASON_MAX)
        if new == "MANDATEE":
            if not payload.get("numeroDPMandat"):
                raise functional(20043, "FAC_MSG_04_004 numeroDPMandat est obligatoire pour le statut MANDATEE")
            invoice["numeroDpMandat"] = payload["numeroDPMandat"]
        if new == "SUSPENDUE":
            invoice["suspendue_une_fois"] = True
        self._set_status(invoice, new, reason)
        return shapes.build("factures/v1/traiter/recue", dict(
            OK, dateTraitement=self.today().isoformat(), idFacture=invoice["idFacture"], nouveauStatut=new,
            numeroFacture=invoice["numeroFacture"]))

    def processing_states(self, payload):
        current = payload.get("statutCourant")
        if not current:
            raise functional(20044, "FAC_MSG_04_005 statutCourant est obligatoire")
        allowed = self.allowed_statuses(status=current)
        if not allowed:
            raise no_result()
        return shapes.build("transverses/v1/recuperer/etats/traitement", dict(
            OK, libelle="TRA_MSG_00.000",
            listeStatutsPossiblesPourTraitement=[{"statutPossiblePourTraitement": s} for s in allowed]))

    # ---------------------------------------------------------------- inbox
    def _add_inbox_invoice(self, item):
        buyer = self.structure_by_siret(item["siretDestinataire"]) if "siretDestinataire" in item else \
            self.structures[int(item["destinataire"])]
        values = dict(item)
        values["destinataire"] = buyer["idStructureCPP"]
        values.setdefault("statut", "MISE_A_DISPOSITION")
        if values.get("codeServiceExecutant"):
            service = next((s for s in self.services.values() if s["idStructure"] == buyer["idStructureCPP"]
                            and s["codeService"] == values["codeServiceExecutant"]), None)
            values["idServiceExecutant"] = service["idService"] if service else None
        pieces = values.pop("piecesJointes", [])
        invoice = self._new_invoice(values)
        for name in pieces:
            invoice["pieces"].append({"nom": name, "contenu": documents.make_pdf(
                ["Piece justificative %s" % name, "Facture %s" % invoice["numeroFacture"]])})
        return invoice

    def clear_inbox(self):
        """Remove the received invoices that no flux deposited (the generated inbox)."""
        with self.lock:
            inbox = [i for i, invoice in self.invoices.items() if not invoice.get("numeroFluxDepot")]
            for invoice_id in inbox:
                del self.invoices[invoice_id]
            return len(inbox)

    def generate_inbox(self, count, buyer_siret=None, suppliers=None, seed=42, **_ignored):
        """Add ``count`` received invoices from the seeded suppliers (deterministic)."""
        rng = random.Random(seed + len(self.invoices))
        suppliers = suppliers or self.seed.get("inbox_suppliers") or []
        if not suppliers:
            raise ValueError("no inbox_suppliers in the sandbox data")
        buyers = [buyer_siret] if buyer_siret else [s["identifiantStructure"] for s in self.structures.values()
                                                    if s.get("recoitFactures")]
        created = []
        with self.lock:
            for n in range(int(count)):
                supplier = suppliers[n % len(suppliers)]
                buyer = self.structure_by_siret(buyers[n % len(buyers)])
                codes = [s["codeService"] for s in self.services.values()
                         if s["idStructure"] == buyer["idStructureCPP"] and s["estActif"]
                         and s["codeService"] != RESERVED_SERVICE]
                ht = round(rng.uniform(80, 25000), 2)
                rate = rng.choice([20.0, 20.0, 10.0, 5.5])
                tva = round(ht * rate / 100, 2)
                day = self.today() - timedelta(days=rng.randint(0, 20))
                invoice = self._add_inbox_invoice({
                    "destinataire": buyer["idStructureCPP"],
                    "numeroFacture": "%s-%s-%05d" % (supplier.get("prefixe", "FA"), day.year,
                                                     self.next_invoice_id % 100000),
                    "siretFournisseur": supplier["siret"], "designationFournisseur": supplier["nom"],
                    "coordonneesBancaires": {"iban": supplier.get("iban"), "bic": supplier.get("bic")},
                    "dateFacture": day.isoformat(), "dateDepot": day.isoformat(),
                    "codeServiceExecutant": rng.choice(codes) if codes else None,
                    "numeroEngagement": "EJ%s%06d" % (day.year, rng.randint(1, 999999)) if rng.random() < .7 else None,
                    "montantHT": ht, "montantTTC": round(ht + tva, 2), "montantAPayer": round(ht + tva, 2),
                    "lignesTva": [{"tauxTva": rate, "montantBaseHtParTaux": ht, "montantTvaParTaux": tva}],
                    "piecesJointes": ["bon_de_livraison.pdf"] if n % 3 == 0 else
                                     (["devis_signe.pdf", "pv_reception.pdf"] if n % 3 == 1 else []),
                })
                created.append(invoice["idFacture"])
        return created

    def generate_sent(self, count, supplier_siret, buyer_siret, status="MISE_A_DISPOSITION", prefix="HIST",
                      **_ignored):
        """Add ``count`` invoices a supplier deposited long ago (a history to follow, for the benchmarks); returns
        their [idFacture, numeroFacture]."""
        created = []
        with self.lock:
            supplier = self.structure_by_siret(supplier_siret)
            buyer = self.structure_by_siret(buyer_siret)
            if not supplier or not buyer:
                raise KeyError(supplier_siret if not supplier else buyer_siret)
            for n in range(int(count)):
                invoice = self._new_invoice({
                    "fournisseur": supplier["idStructureCPP"], "destinataire": buyer["idStructureCPP"],
                    "designationFournisseur": supplier["designationStructure"],
                    "siretFournisseur": supplier_siret, "numeroFacture": "%s-%06d" % (prefix, n + 1),
                    "numeroFluxDepot": "CPP%s%09d" % (self.today().year, n + 1), "montantHT": 100.0,
                    "montantTTC": 120.0, "statut": status, "listed_at": 0,
                })
                invoice["changed"] -= 30 * 86400  # its status was set a month ago
                invoice["historique"][-1]["time"] = invoice["changed"]
                created.append([invoice["idFacture"], invoice["numeroFacture"]])
        return created

    # -------------------------------------------------------------- helpers
    @staticmethod
    def _page(items, size, page):
        size = max(1, min(_int(size) or 10, 1000))
        page = max(1, _int(page) or 1)
        pages = -(-len(items) // size)
        chunk = items[(page - 1) * size:page * size]
        return chunk, {"pageCourante": page, "pages": pages, "nbResultatsParPage": size, "total": len(items)}

    def summary(self):
        with self.lock:
            return {
                "now": self.now_dt().isoformat(), "config": self.config, "calls": dict(self.calls),
                "faults": list(self.faults),
                "flux": [{k: v for k, v in f.items() if k != "content"} for f in self.flux.values()],
                "invoices": [{k: v for k, v in i.items() if k not in ("pieces", "pdf", "historique")}
                             for i in self.invoices.values()],
            }


def _descending(paging):
    return (paging.get("triSens") or paging.get("triSense") or "").strip() == "Descendant"


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _safe_name(value):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(value))[:60]


def load_data(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
