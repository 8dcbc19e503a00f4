"""HTTP client of the Chorus Pro API behind the PISTE gateway.

No Odoo import here: the Odoo models ask this client, the client speaks HTTP. One method per
API operation; OAuth client-credentials tokens are cached per (token URL, client id) and shared
by every client instance of the process.
"""

import base64
import logging
import re
import threading
import time

import requests

from . import exceptions as exc

_logger = logging.getLogger(__name__)

ENVIRONMENTS = {
    "qualification": {
        "api_url": "https://sandbox-api.piste.gouv.fr",
        "oauth_url": "https://sandbox-oauth.piste.gouv.fr/api/oauth/token",
    },
    "production": {
        "api_url": "https://api.piste.gouv.fr",
        "oauth_url": "https://oauth.piste.gouv.fr/api/oauth/token",
    },
}

CODE_NO_RESULT = 20000
DEFAULT_PAGE_SIZE = 100
# Largest reply read: a download is at most 120 MB (HTTP 413 beyond), 160 MB once in base64 in JSON.
MAX_REPLY_BYTES = 200 * 1024 * 1024
# Renew a cached token this many seconds before it expires.
TOKEN_RENEW_MARGIN = 300
_WWW_AUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')


class TokenCache:
    """Thread-safe cache of OAuth tokens, keyed by (token URL, client id)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._tokens = {}

    def get(self, key, now):
        with self._lock:
            entry = self._tokens.get(key)
        if entry and entry[1] - TOKEN_RENEW_MARGIN > now:
            return entry[0]
        return None

    def set(self, key, token, expires_at):
        with self._lock:
            self._tokens[key] = (token, expires_at)

    def invalidate(self, key, token=None):
        with self._lock:
            entry = self._tokens.get(key)
            if entry and (token is None or entry[0] == token):
                del self._tokens[key]


GLOBAL_TOKEN_CACHE = TokenCache()


def _parse_www_authenticate(value):
    return dict(_WWW_AUTH_PARAM.findall(value or ""))


class ChorusProClient:
    """Client of the Chorus Pro API.

    :param api_url: base of the API (``https://api.piste.gouv.fr``); paths are ``/cpro/{api}/v1/{op}``
    :param oauth_url: the PISTE token endpoint
    :param client_id, client_secret: the PISTE application
    :param login, password: the Chorus Pro technical account (``cpro-account`` header)
    :param timeout: seconds allowed for each HTTP call
    :param read_attempts: attempts of a read operation on an unavailable service (writes get one)
    """

    def __init__(self, api_url, oauth_url, client_id, client_secret, login, password, *,
                 timeout=30, read_attempts=3, backoff=1.0, token_cache=None, session=None,
                 clock=time.time, max_reply_bytes=MAX_REPLY_BYTES):
        self.api_url = (api_url or "").rstrip("/")
        self.oauth_url = oauth_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.login = login
        self._password = password
        self.timeout = timeout
        self.read_attempts = max(1, read_attempts)
        self.backoff = backoff
        self.token_cache = token_cache or GLOBAL_TOKEN_CACHE
        self.session = session or requests.Session()
        self.clock = clock
        self.stats = {"http_calls": 0, "token_requests": 0}
        self.max_reply_bytes = max_reply_bytes

    def __repr__(self):
        # Never show secrets, even in a traceback.
        return "<ChorusProClient %s login=%s>" % (self.api_url, self.login)

    # ------------------------------------------------------------------ auth
    @property
    def _token_key(self):
        return (self.oauth_url, self.client_id)

    def get_token(self, force=False):
        """Return a valid access token, from the cache unless ``force``."""
        now = self.clock()
        if not force:
            token = self.token_cache.get(self._token_key, now)
            if token:
                return token
        if not (self.client_id and self._client_secret):
            raise exc.ChorusClientCredentialsError("no client id or secret is set")
        try:
            self.stats["http_calls"] += 1
            self.stats["token_requests"] += 1
            response = self.session.post(
                self.oauth_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self._client_secret,
                    "scope": "openid",
                },
                timeout=self.timeout,
            )
        except requests.Timeout as e:
            raise exc.ChorusTimeoutError(str(e.__class__.__name__), timeout=self.timeout, operation="token") from None
        except requests.RequestException as e:
            raise exc.ChorusUnavailableError("token endpoint unreachable: %s" % e.__class__.__name__,
                                             operation="token") from None
        if response.status_code >= 500:
            raise exc.ChorusUnavailableError("HTTP %s from the token endpoint" % response.status_code,
                                             http_status=response.status_code, operation="token")
        try:
            payload = response.json()
        except ValueError:
            raise exc.ChorusMalformedReplyError("the token endpoint did not answer JSON",
                                                http_status=response.status_code, operation="token") from None
        if not isinstance(payload, dict):
            raise exc.ChorusMalformedReplyError("the token endpoint answered an unexpected shape", operation="token")
        if response.status_code != 200 or "access_token" not in payload:
            error = payload.get("error") or "HTTP %s" % response.status_code
            description = payload.get("error_description") or ""
            detail = "%s: %s" % (error, description) if description else error
            if error in ("invalid_client", "unauthorized_client") or response.status_code in (400, 401):
                raise exc.ChorusClientCredentialsError(detail, http_status=response.status_code, operation="token")
            raise exc.ChorusAuthenticationError(detail, http_status=response.status_code, operation="token")
        token = payload["access_token"]
        try:
            expires_in = int(payload.get("expires_in") or 3600)
        except (TypeError, ValueError):
            raise exc.ChorusMalformedReplyError("expires_in is not a number", operation="token") from None
        self.token_cache.set(self._token_key, token, now + expires_in)
        return token

    def _cpro_account(self):
        if not (self.login and self._password):
            raise exc.ChorusTechnicalAccountError("no technical account login or password is set")
        raw = ("%s:%s" % (self.login, self._password)).encode()
        return base64.b64encode(raw).decode()

    # --------------------------------------------------------------- transport
    def _url(self, path):
        return "%s/cpro/%s" % (self.api_url, path)

    def _call(self, path, payload=None, *, write=False, method="POST"):
        """Call an operation and return its JSON reply (a dict).

        Reads are retried with back-off when Chorus Pro is unavailable; writes never are, and a
        write whose reply is lost raises :class:`ChorusOutcomeUnknownError`.
        """
        attempts = 1 if write else self.read_attempts
        for attempt in range(1, attempts + 1):
            try:
                return self._call_once(path, payload, write=write, method=method)
            except exc.ChorusOutcomeUnknownError:
                raise
            except exc.ChorusUnavailableError as e:
                if attempt >= attempts:
                    raise
                delay = self.backoff * (2 ** (attempt - 1))
                _logger.info("Chorus Pro %s unavailable (%s), retry %s/%s in %.1fs",
                             path, e.detail, attempt, attempts - 1, delay)
                time.sleep(delay)

    def _call_once(self, path, payload, *, write, method):
        renewed = False
        while True:
            token = self.get_token()
            headers = {
                "Authorization": "Bearer %s" % token,
                "cpro-account": self._cpro_account(),
                "Content-Type": "application/json;charset=utf-8",
                "Accept": "application/json",
            }
            try:
                self.stats["http_calls"] += 1
                response = self.session.request(
                    method, self._url(path), json=payload if method == "POST" else None,
                    headers=headers, timeout=self.timeout, stream=True,
                )
                self._read_body(response, path, write)
            except requests.ConnectTimeout:
                raise exc.ChorusTimeoutError("connection time-out", timeout=self.timeout, operation=path) from None
            except requests.ConnectionError as e:
                # Refused before anything was sent: safe. Broken after sending: the outcome is unknown.
                if write and not _is_connect_refused(e):
                    raise exc.ChorusOutcomeUnknownError("connection lost", operation=path) from None
                raise exc.ChorusUnavailableError("connection failed", operation=path) from None
            except requests.Timeout:
                if write:
                    raise exc.ChorusOutcomeUnknownError("no reply within %s seconds" % self.timeout,
                                                        operation=path) from None
                raise exc.ChorusTimeoutError("read time-out", timeout=self.timeout, operation=path) from None
            if response.status_code == 401:
                info = _parse_www_authenticate(response.headers.get("WWW-Authenticate"))
                error = info.get("error", "")
                if error in ("invalid_token", "expired_token") and not renewed:
                    # The token expired or was revoked early: renew it once.
                    self.token_cache.invalidate(self._token_key, token)
                    renewed = True
                    continue
                raise self._auth_error(info, path)
            try:
                return self._parse_reply(response, path)
            except exc.ChorusMalformedReplyError as e:
                # A write answered 2xx but unreadably: Chorus Pro applied it or not, nobody can tell.
                if write and response.status_code < 400:
                    raise exc.ChorusOutcomeUnknownError("unreadable reply: %s" % e.detail, operation=path) from None
                raise

    def _read_body(self, response, path, write):
        """Read the reply, refusing one larger than ``max_reply_bytes`` before it fills the memory."""
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_reply_bytes:
            response.close()
            self._too_large_reply(int(declared), path, write)
        chunks, size = [], 0
        for chunk in response.iter_content(1024 * 1024):
            size += len(chunk)
            if size > self.max_reply_bytes:
                response.close()
                self._too_large_reply(size, path, write)
            chunks.append(chunk)
        response._content = b"".join(chunks)

    def _too_large_reply(self, size, path, write):
        detail = "a reply of %s bytes or more, over the limit of %s" % (size, self.max_reply_bytes)
        if write:
            # The request was sent and answered: it may have been applied.
            raise exc.ChorusOutcomeUnknownError(detail, operation=path)
        raise exc.ChorusMalformedReplyError(detail, operation=path)

    def _auth_error(self, info, path):
        error = info.get("error", "")
        description = info.get("error_description") or error or "HTTP 401"
        if error == "expired_password":
            return exc.ChorusPasswordExpiredError(description, http_status=401, operation=path)
        if error in ("invalid_account", "invalid_cpro_account"):
            return exc.ChorusTechnicalAccountError(description, http_status=401, operation=path)
        if error in ("invalid_token", "expired_token", "invalid_client"):
            return exc.ChorusClientCredentialsError(description, http_status=401, operation=path)
        return exc.ChorusAuthenticationError(description, http_status=401, operation=path)

    def _parse_reply(self, response, path):
        status = response.status_code
        if status == 413:
            raise exc.ChorusTooLargeError("HTTP 413", http_status=413, operation=path)
        if status == 403:
            raise exc.ChorusAuthenticationError(
                "access forbidden (HTTP 403): the technical account has no right on this operation or structure",
                http_status=403, operation=path)
        if status >= 500:
            raise exc.ChorusUnavailableError("HTTP %s" % status, http_status=status, operation=path)
        try:
            data = response.json()
        except ValueError:
            raise exc.ChorusMalformedReplyError("HTTP %s, not JSON" % status, http_status=status,
                                                operation=path) from None
        if not isinstance(data, dict):
            raise exc.ChorusMalformedReplyError("HTTP %s, not a JSON object" % status, http_status=status,
                                                operation=path)
        code = data.get("codeRetour", 0)
        try:
            code = int(code or 0)
        except (TypeError, ValueError):
            raise exc.ChorusMalformedReplyError("codeRetour %r is not a number" % (code,), operation=path) from None
        if code == CODE_NO_RESULT:
            raise exc.ChorusNoResultError(data.get("libelle") or "", code_retour=code,
                                          libelle=data.get("libelle"), http_status=status, operation=path)
        if code != 0 or status >= 400:
            raise exc.ChorusFunctionalError(data.get("libelle") or "HTTP %s" % status, code_retour=code,
                                            libelle=data.get("libelle"), http_status=status, operation=path)
        return data

    def _pages(self, fetch_page, page_size):
        """Yield the replies of every page; ``fetch_page(page)`` returns (reply, pages)."""
        page = 1
        while True:
            try:
                reply, pages = fetch_page(page)
            except exc.ChorusNoResultError:
                return
            yield reply
            if page >= (pages or 1):
                return
            page += 1

    @staticmethod
    def _int(value, field, path):
        try:
            return int(value or 0)
        except (TypeError, ValueError):
            raise exc.ChorusMalformedReplyError("%s is not a number" % field, operation=path) from None

    # ------------------------------------------------------------ operations
    def health_check(self):
        """Check that the API answers (token only, no technical account needed)."""
        path = "transverses/v1/health-check"
        token = self.get_token()
        try:
            self.stats["http_calls"] += 1
            response = self.session.get(self._url(path), headers={"Authorization": "Bearer %s" % token},
                                        timeout=self.timeout)
        except requests.Timeout:
            raise exc.ChorusTimeoutError("read time-out", timeout=self.timeout, operation=path) from None
        except requests.RequestException:
            raise exc.ChorusUnavailableError("connection failed", operation=path) from None
        if response.status_code == 401:
            raise self._auth_error(_parse_www_authenticate(response.headers.get("WWW-Authenticate")), path)
        if response.status_code != 200:
            raise exc.ChorusUnavailableError("HTTP %s" % response.status_code, http_status=response.status_code,
                                             operation=path)
        return True

    # structures
    def search_structures(self, identifier, identifier_type="SIRET", restrict_private=False, page_size=10):
        """structures/v1/rechercher: the structures with this identifier (a SIRET by default)."""
        try:
            reply = self._call("structures/v1/rechercher", {
                "structure": {"identifiantStructure": identifier, "typeIdentifiantStructure": identifier_type},
                "restreindreStructuresPrivees": restrict_private,
                "parametres": {"nbResultatsParPage": page_size},
            })
        except exc.ChorusNoResultError:
            return []
        return reply.get("listeStructures") or []

    def get_structure(self, id_structure):
        """structures/v1/consulter: a structure with its ``parametres`` flags."""
        return self._call("structures/v1/consulter", {"idStructureCPP": id_structure, "codeLangue": "FR"})

    def search_services(self, id_structure, page_size=DEFAULT_PAGE_SIZE):
        """structures/v1/rechercher/services: every service of a structure (all pages)."""
        path = "structures/v1/rechercher/services"

        def fetch(page):
            reply = self._call(path, {
                "idStructure": id_structure,
                "parametresRechercherServicesStructure": {"nbResultatsParPage": page_size,
                                                          "pageResultatDemandee": page},
            })
            return reply, self._int((reply.get("parametresRetour") or {}).get("pages"), "pages", path)

        services = []
        for reply in self._pages(fetch, page_size):
            services.extend(reply.get("listeServices") or [])
        return services

    def get_service(self, id_structure, id_service):
        """structures/v1/consulter/service: a service with ``parametres.numeroEngagement``."""
        return self._call("structures/v1/consulter/service", {"idStructure": id_structure, "idService": id_service})

    def search_engagements(self, id_structure, engagement_number=None, state="COMMANDE"):
        """engagementsJuridiques/v1/rechercher: the legal commitments of a structure."""
        payload = {"structureReceptriceEngagementJuridique": id_structure,
                   "etatCourantEngagementJuridique": state}
        if engagement_number:
            payload["numeroEngagementJuridique"] = engagement_number
        try:
            reply = self._call("engagementsJuridiques/v1/rechercher", payload)
        except exc.ChorusNoResultError:
            return []
        return reply.get("listeEngagementJuridique") or []

    # supplier side
    def deposit_flux(self, content, filename, syntax, with_signature=False):
        """factures/v1/deposer/flux: deposit a flux; never retried (see ChorusOutcomeUnknownError)."""
        reply = self._call("factures/v1/deposer/flux", {
            "fichierFlux": base64.b64encode(content).decode(),
            "nomFichier": filename,
            "syntaxeFlux": syntax,
            "avecSignature": with_signature,
        }, write=True)
        if not reply.get("numeroFluxDepot"):
            raise exc.ChorusMalformedReplyError("no numeroFluxDepot in the deposit reply",
                                                operation="factures/v1/deposer/flux")
        return reply

    def get_flux_report(self, flux_number):
        """transverses/v1/consulterCRDetaille: state and errors of a deposited flux."""
        return self._call("transverses/v1/consulterCRDetaille", {"numeroFluxDepot": flux_number})

    def search_supplier_invoices(self, flux_number=None, invoice_number=None, page_size=DEFAULT_PAGE_SIZE,
                                 **filters):
        """factures/v1/rechercher/fournisseur: the supplier's invoices, every page."""
        path = "factures/v1/rechercher/fournisseur"
        payload = dict(filters)
        if flux_number:
            payload["numeroFluxDepot"] = flux_number
        if invoice_number:
            payload["numeroFacture"] = invoice_number

        def fetch(page):
            reply = self._call(path, dict(payload, rechercheFactureParFournisseur={
                "nbResultatsParPage": page_size, "pageResultatDemandee": page}))
            return reply, self._int((reply.get("parametresRetour") or {}).get("pages"), "pages", path)

        invoices = []
        for reply in self._pages(fetch, page_size):
            invoices.extend(reply.get("listeFactures") or [])
        return invoices

    def get_supplier_invoice(self, id_invoice):
        """factures/v1/consulter/fournisseur: one of the supplier's invoices."""
        return self._call("factures/v1/consulter/fournisseur", {"identifiantFactureCPP": id_invoice})

    def get_invoice_history(self, id_invoice):
        """factures/v1/consulter/historique: current status and the history of statuses."""
        return self._call("factures/v1/consulter/historique", {"idFacture": id_invoice})

    def complete_invoice(self, id_invoice, comment=None, attachments=()):
        """factures/v1/completer: add supporting documents to a SUSPENDUE invoice.

        ``attachments``: iterable of (file name, bytes).
        """
        return self._call("factures/v1/completer", {
            "idFacture": id_invoice,
            "commentaire": comment or "",
            "listePiecesJointes": [
                {"pieceJointeNom": name, "pieceJointeContenu": base64.b64encode(data).decode()}
                for name, data in attachments
            ],
        }, write=True)

    def recycle_invoice(self, id_invoice, id_recipient=None, service_code=None, engagement_number=None):
        """factures/v1/recycler: change the routing data of an A_RECYCLER invoice."""
        payload = {"idFacture": id_invoice}
        if id_recipient:
            payload["idDestinataire"] = id_recipient
        if service_code:
            payload["codeServiceExecutant"] = service_code
        if engagement_number:
            payload["numeroEngagement"] = engagement_number
        return self._call("factures/v1/recycler", payload, write=True)

    # recipient side
    def get_active_recipient_structures(self):
        """transverses/v1/recuperer/structures/actives/destinataire."""
        try:
            reply = self._call("transverses/v1/recuperer/structures/actives/destinataire", {})
        except exc.ChorusNoResultError:
            return []
        return reply.get("listeStructures") or []

    def iter_received_invoice_pages(self, page_size=DEFAULT_PAGE_SIZE, **filters):
        """factures/v1/rechercher/recipiendaire, one list of invoices per page."""
        path = "factures/v1/rechercher/recipiendaire"

        def fetch(page):
            reply = self._call(path, dict(filters, paramRecherche={
                "nbResultatsParPage": page_size, "pageResultatDemandee": page,
                "triSens": "Ascendant", "triColonne": "DateDepot"}))
            return reply, self._int(reply.get("pages"), "pages", path)

        for reply in self._pages(fetch, page_size):
            yield reply.get("listeFactures") or []

    def search_received_invoices(self, page_size=DEFAULT_PAGE_SIZE, **filters):
        """factures/v1/rechercher/recipiendaire: every page."""
        invoices = []
        for page in self.iter_received_invoice_pages(page_size=page_size, **filters):
            invoices.extend(page)
        return invoices

    def get_received_invoice(self, id_invoice):
        """factures/v1/consulter/recipiendaire: an invoice received by the buyer, in detail."""
        return self._call("factures/v1/consulter/recipiendaire", {"identifiantFactureCPP": id_invoice})

    def download_invoices(self, id_invoices, fmt="PDF", with_attachments=True):
        """factures/v1/telecharger/groupe: the file (PDF, or ZIP with a folder per invoice), as bytes."""
        path = "factures/v1/telecharger/groupe"
        reply = self._call(path, {
            "format": fmt,
            "avecPiecesJointesComplementaires": "OUI" if with_attachments else "NON",
            "listeFacture": [{"idFacture": i} for i in id_invoices],
        })
        try:
            return base64.b64decode(reply.get("fichierResultat") or "", validate=True)
        except (ValueError, TypeError):
            raise exc.ChorusMalformedReplyError("fichierResultat is not base64", operation=path) from None

    def process_received_invoice(self, id_invoice, new_status, reason=None, mandate_number=None):
        """factures/v1/traiter/recue: set the buyer's status of an invoice."""
        payload = {"idFacture": id_invoice, "nouveauStatut": new_status}
        if reason:
            payload["motif"] = reason
        if mandate_number:
            payload["numeroDPMandat"] = mandate_number
        return self._call("factures/v1/traiter/recue", payload, write=True)

    def get_allowed_statuses(self, current_status):
        """transverses/v1/recuperer/etats/traitement: the statuses allowed after ``current_status``."""
        reply = self._call("transverses/v1/recuperer/etats/traitement", {"statutCourant": current_status})
        return [item.get("statut") for item in reply.get("listeStatutsPossibles") or [] if item.get("statut")]


def _is_connect_refused(error):
    """True when the connection was never established (nothing was sent)."""
    text = repr(error)
    return "NewConnectionError" in text or "Connection refused" in text or "Failed to establish" in text
