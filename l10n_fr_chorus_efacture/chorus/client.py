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
from email.utils import parsedate_to_datetime

import requests

from . import exceptions as exc
from . import replies

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
# rechercher/recipiendaire lists one kind of payment request at a time (typeDemandePaiement, Pastell's buyer
# connector asks both): invoices, and works invoices (marchés de travaux).
PAYMENT_REQUESTS = ("FACTURE", "FACTURE_TRAVAUX")
# Largest reply read: a download is at most 120 MB (HTTP 413 beyond), 160 MB once in base64 in JSON.
MAX_REPLY_BYTES = 200 * 1024 * 1024
# Renew a cached token this many seconds before it expires.
TOKEN_RENEW_MARGIN = 300
# PISTE's rate limits are not published: each process paces its calls per PISTE application (0: no pacing), and
# after a 429 waits what Retry-After says (within this bound), or RETRY_AFTER_DEFAULT when it says nothing.
DEFAULT_CALLS_PER_SECOND = 20
RETRY_AFTER_MAX = 60
RETRY_AFTER_DEFAULT = 2
# Gateway answers to a write that may have reached Chorus Pro: the gateway gave up waiting (504) or lost the
# backend's reply (502); the write may have been applied.
GATEWAY_UNSURE = {502, 504}
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


class Pacer:
    """Spaces the calls of one process to one PISTE application, and holds them all after a 429."""

    def __init__(self, sleep=time.sleep, clock=time.monotonic):
        self._lock = threading.Lock()
        self._next = {}
        self._sleep = sleep
        self._clock = clock

    def wait(self, key, calls_per_second):
        """Wait for this call's turn."""
        interval = 1.0 / calls_per_second if calls_per_second else 0.0
        with self._lock:
            now = self._clock()
            turn = max(now, self._next.get(key, now))
            self._next[key] = turn + interval
        if turn > now:
            self._sleep(turn - now)

    def hold(self, key, seconds):
        """Nobody calls before ``seconds`` from now (the gateway said so)."""
        with self._lock:
            self._next[key] = max(self._next.get(key, 0.0), self._clock() + seconds)


GLOBAL_PACER = Pacer()


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
                 clock=time.time, max_reply_bytes=MAX_REPLY_BYTES, calls_per_second=DEFAULT_CALLS_PER_SECOND,
                 pacer=None):
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
        self.calls_per_second = calls_per_second
        self.pacer = pacer or GLOBAL_PACER
        # Chorus Pro's clock at its last reply (the HTTP Date header, naive UTC), or None.
        self.last_reply_time = None

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
        write whose reply is lost raises :class:`ChorusOutcomeUnknownError`. A call the gateway refused for its
        rate limit (429) reached nothing: it is made again once the wait the gateway asks for is over.
        """
        attempts = self.read_attempts
        for attempt in range(1, attempts + 1):
            try:
                return self._call_once(path, payload, write=write, method=method)
            except exc.ChorusOutcomeUnknownError:
                raise
            except exc.ChorusUnavailableError as e:
                limited = e.http_status == 429
                if attempt >= attempts or (write and not limited):
                    raise
                delay = e.params.get("retry_after") if limited else self.backoff * (2 ** (attempt - 1))
                _logger.info("Chorus Pro %s unavailable (%s), retry %s/%s in %.1fs",
                             path, e.detail, attempt, attempts - 1, delay)
                if not limited:
                    time.sleep(delay)

    def _call_once(self, path, payload, *, write, method):
        renewed = False
        while True:
            token = self.get_token()
            self.pacer.wait(self._token_key, self.calls_per_second)
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
                self._read_clock(response)
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
            except requests.RequestException as e:
                # A reply cut in the middle of its body, undecodable content...: the request was sent.
                if write:
                    raise exc.ChorusOutcomeUnknownError("reply broken (%s)" % e.__class__.__name__,
                                                        operation=path) from None
                raise exc.ChorusUnavailableError("reply broken (%s)" % e.__class__.__name__,
                                                 operation=path) from None
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
                return self._parse_reply(response, path, write)
            except exc.ChorusMalformedReplyError as e:
                # A write answered 2xx but unreadably: Chorus Pro applied it or not, nobody can tell.
                if write and response.status_code < 400:
                    raise exc.ChorusOutcomeUnknownError("unreadable reply: %s" % e.detail, operation=path) from None
                raise

    def _read_clock(self, response):
        """Chorus Pro's clock, from the reply's Date header (RFC 9110), when it gives one."""
        try:
            moment = parsedate_to_datetime(response.headers.get("Date") or "")
        except (TypeError, ValueError, IndexError):
            return
        if moment.tzinfo is not None:
            self.last_reply_time = replies.to_utc(moment)

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
        if declared and declared.isdigit() and size < int(declared) \
                and not response.headers.get("Content-Encoding"):
            # The connection broke in the middle of the body (urllib3 1.x does not check the length).
            raise requests.exceptions.ChunkedEncodingError("reply cut after %s of %s bytes" % (size, declared))
        response._content = b"".join(chunks)

    def _too_large_reply(self, size, path, write):
        detail = "a reply of %s bytes or more, over the limit of %s" % (size, self.max_reply_bytes)
        if write:
            # The request was sent and answered: it may have been applied.
            raise exc.ChorusOutcomeUnknownError(detail, operation=path)
        raise exc.ChorusMalformedReplyError(detail, operation=path)

    @staticmethod
    def _retry_after(value):
        """Seconds to wait from a Retry-After header (seconds, or an HTTP date), within RETRY_AFTER_MAX."""
        text = (value or "").strip()
        seconds = None
        if text.isdigit():
            seconds = int(text)
        elif text:
            try:
                seconds = (parsedate_to_datetime(text).timestamp() - time.time())
            except (TypeError, ValueError, IndexError):
                seconds = None
        if seconds is None:
            return RETRY_AFTER_DEFAULT
        return min(max(float(seconds), 0.0), RETRY_AFTER_MAX)

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

    def _parse_reply(self, response, path, write=False):
        status = response.status_code
        if status == 413:
            raise exc.ChorusTooLargeError("HTTP 413", http_status=413, operation=path)
        if status == 403:
            raise exc.ChorusAuthenticationError(
                "access forbidden (HTTP 403): the technical account has no right on this operation or structure",
                http_status=403, operation=path)
        if status == 429:
            # PISTE's rate limit (its body is not documented): nothing was done; every call of this process to this
            # application waits what Retry-After says.
            wait = self._retry_after(response.headers.get("Retry-After"))
            self.pacer.hold(self._token_key, wait)
            raise exc.ChorusUnavailableError("HTTP 429, rate limit", http_status=429, operation=path,
                                             retry_after=wait)
        if write and status in GATEWAY_UNSURE:
            raise exc.ChorusOutcomeUnknownError("HTTP %s from the gateway" % status, http_status=status,
                                                operation=path)
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

    @staticmethod
    def _pages(fetch_page):
        """Yield the items of every page; ``fetch_page(page)`` returns (items, number of pages).

        Chorus Pro's "no result" (codeRetour 20000) ends the paging with nothing more.
        """
        page = 1
        while True:
            try:
                items, pages = fetch_page(page)
            except exc.ChorusNoResultError:
                return
            yield items
            if page >= (pages or 1) or not items:
                return
            page += 1

    # ------------------------------------------------------------ operations
    # Each returns typed replies (replies.py); the request shapes are the published ones
    # (chorus_sandbox/shapes, which names their sources).
    def health_check(self):
        """GET transverses/v1/health-check: the API answers (token only, no technical account needed)."""
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

    def _read(self, path, payload, parse, *, write=False):
        """Call ``path`` and turn its reply into typed objects with ``parse(fields)``."""
        return parse(replies.reply(self._call(path, payload, write=write), path))

    # structures
    def search_structures(self, identifier, identifier_type="SIRET", restrict_private=False):
        """structures/v1/rechercher: the structures with this identifier (a SIRET by default)."""
        path = "structures/v1/rechercher"
        try:
            return self._read(path, {
                "structure": {"identifiantStructure": identifier, "typeIdentifiantStructure": identifier_type},
                "restreindreStructuresPrivees": restrict_private,
                "parametres": {"nbResultatsParPage": 10, "pageResultatDemandee": 1},
            }, lambda fields: [replies.Structure.read(item) for item in fields.items("listeStructures")])
        except exc.ChorusNoResultError:
            return []

    def get_structure(self, structure_id):
        """structures/v1/consulter: a structure with its ``parametres`` flags."""
        return self._read("structures/v1/consulter", {"idStructureCPP": structure_id, "codeLangue": "FR"},
                          lambda fields: replies.StructureDetail.read(fields, structure_id))

    def search_services(self, structure_id, page_size=DEFAULT_PAGE_SIZE):
        """structures/v1/rechercher/services: every service of a structure, every page."""
        path = "structures/v1/rechercher/services"

        def fetch(page):
            fields = replies.reply(self._call(path, {
                "idStructure": structure_id,
                "parametresRechercherServicesStructure": {"nbResultatsParPage": page_size,
                                                          "pageResultatDemandee": page},
            }), path)
            return ([replies.Service.read(item) for item in fields.items("listeServices")],
                    replies.Paging.read(fields.obj("parametresRetour")).pages)

        return [service for services in self._pages(fetch) for service in services]

    def get_service(self, structure_id, service_id):
        """structures/v1/consulter/service: whether the service requires an engagement."""
        return self._read("structures/v1/consulter/service",
                          {"idStructure": structure_id, "idService": service_id, "codeLangue": "FR"},
                          replies.ServiceDetail.read)

    # supplier side
    def deposit_flux(self, content, filename, syntax, with_signature=False):
        """factures/v1/deposer/flux: deposit a flux; never retried (see ChorusOutcomeUnknownError)."""
        path = "factures/v1/deposer/flux"
        payload = {"fichierFlux": base64.b64encode(content).decode(), "nomFichier": filename,
                   "syntaxeFlux": syntax, "avecSignature": with_signature}
        try:
            return self._read(path, payload, replies.Deposit.read, write=True)
        except exc.ChorusMalformedReplyError as error:
            # Accepted (codeRetour 0) but without a flux number: it may be in Chorus Pro.
            raise exc.ChorusOutcomeUnknownError(error.detail, operation=path) from None

    def get_flux_report(self, flux_number):
        """transverses/v1/consulterCRDetaille: state and errors of a deposited flux."""
        return self._read("transverses/v1/consulterCRDetaille", {"numeroFluxDepot": flux_number},
                          replies.FluxReport.read)

    def iter_supplier_invoice_pages(self, flux_number=None, invoice_number=None, statuses=None, changed_since=None,
                                    page_size=DEFAULT_PAGE_SIZE):
        """factures/v1/rechercher/fournisseur, one list of SupplierInvoice per page.

        ``changed_since``: a naive UTC datetime; only the invoices whose status changed since then.
        """
        path = "factures/v1/rechercher/fournisseur"
        payload = {}
        if flux_number:
            payload["numeroFluxDepot"] = flux_number
        if invoice_number:
            payload["numeroFacture"] = invoice_number
        if statuses:
            payload["statutCourant"] = list(statuses)
        if changed_since:
            payload["periodeDateHeureEtatCourantDu"] = replies.format_moment(changed_since)

        def fetch(page):
            fields = replies.reply(self._call(path, dict(payload, rechercheFactureParFournisseur={
                "nbResultatsParPage": page_size, "pageResultatDemandee": page,
                "triColonne": "dateDepot", "triSens": "Ascendant"})), path)
            return ([replies.SupplierInvoice.read(item) for item in fields.items("listeFactures")],
                    replies.Paging.read(fields.obj("parametresRetour")).pages)

        yield from self._pages(fetch)

    def search_supplier_invoices(self, **filters):
        """factures/v1/rechercher/fournisseur: the supplier's invoices, every page."""
        return [invoice for page in self.iter_supplier_invoice_pages(**filters) for invoice in page]

    def get_invoice_history(self, invoice_id, page_size=DEFAULT_PAGE_SIZE):
        """factures/v1/consulter/historique: current status and every status, newest first."""
        path = "factures/v1/consulter/historique"
        first = {}

        def fetch(page):
            fields = replies.reply(self._call(path, {
                "idFacture": invoice_id,
                "paramRechercheHistoStatuts": {"nbResultatsParPageListeHistoStatut": page_size,
                                               "pageResultatDemandeeListeHistoStatut": page},
            }), path)
            first.setdefault("fields", fields)
            entries, paging = replies.InvoiceHistory.read_entries(fields)
            return entries, paging.pages

        entries = [entry for page in self._pages(fetch) for entry in page]
        if "fields" not in first:
            raise exc.ChorusMalformedReplyError("historiquesDesStatuts is missing", operation=path)
        return replies.InvoiceHistory.build(first["fields"], invoice_id, entries)

    def get_attachment_types(self):
        """transverses/v1/recuperer/typespj: the codes a supporting document of an invoice may have."""
        return self._read("transverses/v1/recuperer/typespj", {"codeLangue": "FR", "typeObjet": "FACTURE"},
                          lambda fields: [replies.AttachmentType.read(item)
                                          for item in fields.items("listeTypePieceJointe")])

    def upload_file(self, name, content, mimetype, extension):
        """transverses/v1/ajouter/fichier: put a file in Chorus Pro; returns its pieceJointeId.

        Retried like a read: a file uploaded twice is only an unused file in Chorus Pro.
        """
        return self._read("transverses/v1/ajouter/fichier", {
            "pieceJointeFichier": base64.b64encode(content).decode(), "pieceJointeNom": name,
            "pieceJointeTypeMime": mimetype, "pieceJointeExtension": extension.upper(),
        }, lambda fields: fields.integer("pieceJointeId", required=True))

    def complete_invoice(self, invoice_id, comment=None, attachments=()):
        """factures/v1/completer: add supporting documents to a SUSPENDUE invoice.

        ``attachments``: (file name, bytes, mimetype, Chorus Pro type code) each; the files are first
        added to Chorus Pro (ajouter/fichier), then referenced by their id.
        """
        pieces = []
        for name, data, mimetype, type_code in attachments:
            extension = name.rsplit(".", 1)[-1] if "." in name else ""
            piece_id = self.upload_file(name, data, mimetype, extension)
            pieces.append({"pieceJointeComplementaireId": piece_id, "pieceJointeComplementaireDesignation": name,
                           "pieceJointeComplementaireType": type_code})
        payload = {"identifiantFactureCPP": invoice_id, "commentaire": comment or ""}
        if pieces:
            payload["pieceJointeComplementaire"] = pieces
        return self._read("factures/v1/completer", payload,
                          lambda fields: replies.Processed.read(fields, invoice_id), write=True)

    def recycle_invoice(self, invoice_id, recipient_code, service_code=None, engagement=None, comment=None):
        """factures/v1/recycler: send an A_RECYCLER invoice again with other routing data."""
        recipient = {"codeDestinataire": recipient_code}
        if service_code:
            recipient["codeServiceExecutant"] = service_code
        payload = {"identifiantFactureCPP": invoice_id, "destinataire": recipient, "commentaire": comment or ""}
        if engagement:
            payload["reference"] = {"numeroBonCommande": engagement}
        return self._read("factures/v1/recycler", payload,
                          lambda fields: replies.Processed.read(fields, invoice_id), write=True)

    # recipient side
    def get_active_recipient_structures(self):
        """transverses/v1/recuperer/structures/actives/destinataire: the structures this account receives for."""
        try:
            return self._read("transverses/v1/recuperer/structures/actives/destinataire", {},
                              lambda fields: [replies.ActiveStructure.read(item)
                                              for item in fields.items("listeStructures")])
        except exc.ChorusNoResultError:
            return []

    def iter_received_invoice_pages(self, recipient_id=None, changed_since=None, statuses=None, invoice_number=None,
                                    page_size=DEFAULT_PAGE_SIZE, payment_request="FACTURE", deposited_from=None):
        """factures/v1/rechercher/recipiendaire, one list of ReceivedInvoiceSummary per page.

        ``changed_since``: a naive UTC datetime; only the invoices whose status changed since then.
        ``payment_request``: one of PAYMENT_REQUESTS; Chorus Pro lists invoices and works invoices apart.
        ``deposited_from``: a date; only the invoices deposited since that day (periodeDateDepotDu).
        """
        path = "factures/v1/rechercher/recipiendaire"
        payload = {"typeDemandePaiement": payment_request}
        if recipient_id:
            payload["idDestinataire"] = recipient_id
        if changed_since:
            payload["periodeDateHeureEtatCourantDu"] = replies.format_moment(changed_since)
        if statuses:
            payload["statutCourant"] = list(statuses)
        if invoice_number:
            payload["numeroFacture"] = invoice_number
        if deposited_from:
            payload["periodeDateDepotDu"] = deposited_from.isoformat()

        def fetch(page):
            fields = replies.reply(self._call(path, dict(payload, paramRecherche={
                "nbResultatsParPage": page_size, "pageResultatDemandee": page,
                "triColonne": "dateDepot", "triSens": "Ascendant"})), path)
            # Paging at the top level here (not in parametresRetour).
            return ([replies.ReceivedInvoiceSummary.read(item, payment_request)
                     for item in fields.items("listeFactures")],
                    replies.Paging.read(fields).pages)

        yield from self._pages(fetch)

    def search_received_invoices(self, **filters):
        """factures/v1/rechercher/recipiendaire: every page."""
        return [invoice for page in self.iter_received_invoice_pages(**filters) for invoice in page]

    def get_received_invoice(self, invoice_id, page_size=DEFAULT_PAGE_SIZE):
        """factures/v1/consulter/recipiendaire: an invoice received by the buyer, in detail.

        Its VAT lines and its supporting documents are paged inside the reply: every page is read.
        The invoice lines are not used: one is asked for.
        """
        path = "factures/v1/consulter/recipiendaire"
        spec = replies.ReceivedInvoice

        def call(vat_page, document_page):
            return spec.invoice(replies.reply(self._call(path, {
                "identifiantFactureCPP": invoice_id, "codeLangue": "FR",
                "rechercheLignePoste": {"nbResultatsParPageLignesPoste": 1, "pageResultatDemandeeLignesPoste": 1},
                "recherchePj": {"nbResultatsParPageListePieceJointe": page_size,
                                "pageResultatDemandeeListePieceJointe": document_page},
                "rechercheligneTvaRecap": {"nbResultatsParPageListeListeRecapitulatifTVA": page_size,
                                           "pageResultatDemandeeListeRecapitulatifTVA": vat_page},
            }), path))

        invoice = call(1, 1)
        vat_items, vat_pages = spec.paged(invoice, spec.VAT_PAGES)
        document_items, document_pages = spec.paged(invoice, spec.DOCUMENT_PAGES)
        for page in range(2, max(vat_pages, document_pages) + 1):
            more = call(min(page, vat_pages), min(page, document_pages))
            if page <= vat_pages:
                vat_items += spec.paged(more, spec.VAT_PAGES)[0]
            if page <= document_pages:
                document_items += spec.paged(more, spec.DOCUMENT_PAGES)[0]
        return spec.read(invoice, vat_items, document_items)

    def download_invoices(self, invoice_ids, with_attachments=True):
        """factures/v1/telecharger/groupe: the PDFs (and supporting documents) as one file, in bytes.

        ``downloads.place`` reads its documented layouts.
        """
        path = "factures/v1/telecharger/groupe"
        reply = replies.reply(self._call(path, {
            "format": "PDF",
            "avecPiecesJointesComplementaires": "OUI" if with_attachments else "NON",
            "listeFacture": [{"idFacture": invoice_id} for invoice_id in invoice_ids],
        }), path)
        encoded = reply.text("fichierResultat", required=True)
        try:
            return base64.b64decode(encoded, validate=True)
        except (ValueError, TypeError):
            raise exc.ChorusMalformedReplyError("fichierResultat is not base64", operation=path) from None

    def process_received_invoice(self, invoice_id, new_status, reason=None, mandate_number=None):
        """factures/v1/traiter/recue: set the buyer's status of an invoice."""
        payload = {"idFacture": invoice_id, "nouveauStatut": new_status}
        if reason:
            payload["motif"] = reason
        if mandate_number:
            payload["numeroDPMandat"] = mandate_number
        return self._read("factures/v1/traiter/recue", payload,
                          lambda fields: replies.Processed.read(fields, invoice_id), write=True)

    def get_allowed_statuses(self, current_status):
        """transverses/v1/recuperer/etats/traitement: the statuses a buyer may set after ``current_status``."""
        return self._read("transverses/v1/recuperer/etats/traitement", {"statutCourant": current_status},
                          lambda fields: [item.text("statutPossiblePourTraitement", required=True)
                                          for item in fields.items("listeStatutsPossiblesPourTraitement")])


def _is_connect_refused(error):
    """True when the connection was never established (nothing was sent)."""
    text = repr(error)
    return "NewConnectionError" in text or "Connection refused" in text or "Failed to establish" in text
