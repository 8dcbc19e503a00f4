"""HTTP front of the sandbox: PISTE token endpoint, Chorus Pro operations and a control API.

Paths follow the real API: ``POST /api/oauth/token`` and ``POST /cpro/{api}/v1/{operation}``.
The control API under ``/_sandbox/`` (faults, clock, statuses, inbox) is the sandbox's own.
"""

import json
import logging
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import shapes
from .state import ApiError, SandboxState, functional

_logger = logging.getLogger("chorus_sandbox")

# operation path -> (method name on SandboxState, needs the account as first argument)
OPERATIONS = {
    "structures/v1/rechercher": ("search_structures", False),
    "structures/v1/consulter": ("get_structure", False),
    "structures/v1/rechercher/services": ("search_services", False),
    "structures/v1/consulter/service": ("get_service", False),
    "factures/v1/deposer/flux": ("deposit", True),
    "transverses/v1/consulterCRDetaille": ("flux_report", True),
    "factures/v1/rechercher/fournisseur": ("search_supplier", True),
    "factures/v1/consulter/historique": ("history", True),
    "transverses/v1/recuperer/typespj": ("attachment_types", False),
    "transverses/v1/ajouter/fichier": ("add_file", True),
    "factures/v1/completer": ("complete", True),
    "factures/v1/recycler": ("recycle", True),
    "transverses/v1/recuperer/structures/actives/destinataire": ("active_recipient_structures", "only"),
    "factures/v1/rechercher/recipiendaire": ("search_recipient", True),
    "factures/v1/consulter/recipiendaire": ("get_received", True),
    "factures/v1/telecharger/groupe": ("download", True),
    "factures/v1/traiter/recue": ("process_received", True),
    "transverses/v1/recuperer/etats/traitement": ("processing_states", False),
}


class _LostReply(Exception):
    """Close the connection without answering (the server applied the request)."""


class Handler(BaseHTTPRequestHandler):
    server_version = "ChorusProSandbox/0.1"
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms per call.
    disable_nagle_algorithm = True

    @property
    def state(self) -> SandboxState:
        return self.server.state

    def log_message(self, fmt, *args):
        _logger.debug("%s - %s", self.address_string(), fmt % args)

    def date_time_string(self, timestamp=None):
        # The Date header tells the sandbox's own clock (which the control API can move), as Chorus Pro's tells its.
        return super().date_time_string(self.state.now() if timestamp is None else timestamp)

    # -------------------------------------------------------------- replies
    def _send(self, status, body=None, headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        self.send_response(status)
        if body is not None and raw is None:
            self.send_header("Content-Type", "application/json;charset=utf-8")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > self.state.config["request_limit"]:
            # Drain nothing: answer 413 and drop the connection.
            self.close_connection = True
            raise ApiError(413, None)
        return self.rfile.read(length) if length else b""

    def _apply_fault(self, fault):
        """Apply a fault taken for an authenticated call; returns the kinds applied after the operation."""
        kind = fault["kind"] if fault else None
        if kind == "429" and fault.get("delay") is not None:
            # The gateway's rate limit, saying when to come back (RFC 6585, Retry-After).
            raise ApiError(429, None, {"Retry-After": str(int(fault["delay"]))})
        if kind in ("500", "502", "503", "403", "413", "429"):
            raise ApiError(int(kind), None)
        if kind == "refused":
            # A functional refusal in Chorus Pro's error shape ({codeRetour, libelle}); code and text are the
            # sandbox's own: which rule Chorus Pro applies to a field is not what this control tests.
            raise functional(29999, "SANDBOX refus injecté : %s" % (fault.get("message") or "donnée refusée"))
        if kind == "slow":
            time.sleep(float(fault.get("delay") or 3))
            return None
        return kind  # malformed, giant, lost_reply, 504, bad_base64: applied after the operation

    def _authenticate(self, operation, check_account=True, body=b""):
        """Check the token (and the technical account) like the PISTE gateway, before any fault.

        A fault is only used up by a call that passed authentication; the auth faults themselves
        (token_expired, password_expired) act here. A fault about one invoice applies to the calls naming it.
        """
        fault = self.state.take_fault(operation, _invoices_named(body))
        kind = fault["kind"] if fault else None
        if kind == "token_expired":
            self.state.revoke_tokens()
        try:
            self.state.check_token(self.headers.get("Authorization"))
        except ApiError:
            # Refused for its token (which token_expired itself caused): any other fault waits for the retry.
            if fault and kind != "token_expired":
                self.state.give_back_fault(fault)
            raise
        if kind == "password_expired":
            raise ApiError(401, None, {"WWW-Authenticate": 'cpro-account realm="ChorusPro", '
                                                           'error="expired_password", error_description='
                                                           '"The technical account password expired"'})
        try:
            account = self.state.check_account(self.headers.get("cpro-account")) if check_account else None
        except ApiError:
            if fault and kind != "token_expired":
                self.state.give_back_fault(fault)
            raise
        if kind in ("token_expired", "password_expired"):
            fault = None
        return account, fault

    # -------------------------------------------------------------- routing
    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method):
        try:
            self._route(method)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its time-out): nobody is left to answer.
            self.close_connection = True

    def _route(self, method):
        path = urllib.parse.urlsplit(self.path).path
        try:
            if path.startswith("/_sandbox/"):
                body = self._read_body()
                return self._send(200, self._control(method, path[len("/_sandbox/"):], body))
            if path == "/api/oauth/token" and method == "POST":
                return self._token()
            if path.startswith("/cpro/"):
                return self._operation(method, path[len("/cpro/"):])
            raise ApiError(404, {"codeRetour": 404, "libelle": "Ressource inconnue : %s" % path})
        except _LostReply:
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
        except ApiError as e:
            self._send(e.status, e.body, e.headers)
        except (BrokenPipeError, ConnectionResetError):
            # The client stopped waiting (its time-out, or a reply it refused to read): nobody to answer.
            self.close_connection = True
            _logger.info("client gone before the reply to %s", path)
        except Exception:  # a sandbox bug must still answer, as a 500
            _logger.exception("sandbox error on %s", path)
            self._send(500, {"codeRetour": 500, "libelle": "Erreur interne du bac à sable"})

    def _token(self):
        body = self._read_body()
        fault = self.state.take_fault("token")
        after = self._apply_fault(fault) if fault else None
        if after == "malformed":
            return self._send(200, raw=b"<html>Gateway</html>")
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        if (form.get("grant_type") or [""])[0] != "client_credentials":
            raise ApiError(400, {"error": "unsupported_grant_type", "error_description": "grant_type must be "
                                                                                        "client_credentials"})
        reply = self.state.issue_token((form.get("client_id") or [""])[0], (form.get("client_secret") or [""])[0])
        self._send(200, reply)

    def _operation(self, method, operation):
        body = self._read_body() if method == "POST" else b""
        if operation == "transverses/v1/health-check" and method == "GET":
            _account, fault = self._authenticate(operation, check_account=False)
            self.state.count_call(operation)
            self._apply_fault(fault)
            return self._send(200, self.state.health())
        if operation not in OPERATIONS or method != "POST":
            raise ApiError(404, {"codeRetour": 404, "libelle": "Opération inconnue : %s" % operation})
        account, fault = self._authenticate(operation, body=body)
        # Calls are counted once they pass the gateway (a call refused for its token never reached Chorus Pro).
        self.state.count_call(operation)
        fault = self._apply_fault(fault)
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            raise ApiError(400, {"codeRetour": 400, "libelle": "Corps JSON invalide"}) from None
        if not isinstance(payload, dict):
            raise ApiError(400, {"codeRetour": 400, "libelle": "Corps JSON invalide"})
        # A key the published request does not have is refused: a client written from a guess fails here.
        unknown = shapes.unknown_request_keys(operation, payload)
        if unknown:
            raise functional(400, "Requête invalide : champ(s) inconnu(s) %s" % ", ".join(unknown))
        with self.state.lock:
            self.state.received_payloads.append((operation, payload))
            del self.state.received_payloads[:-50]
            self.state.tick()
            name, with_account = OPERATIONS[operation]
            handler = getattr(self.state, name)
            if with_account == "only":
                reply = handler(account)
            elif with_account:
                reply = handler(account, payload)
            else:
                reply = handler(payload)
        if self.state.config.get("strict"):
            differences = shapes.reply_differences(operation, reply)
            if differences:
                # A sandbox bug: it must answer exactly the published shape.
                _logger.error("reply of %s differs from the published shape: %s", operation, differences)
                raise ApiError(500, {"codeRetour": 500, "libelle": "Réponse hors du format publié : %s"
                                     % "; ".join(differences[:5])})
        if fault == "lost_reply":
            raise _LostReply()
        if fault == "504":
            # The gateway gave up waiting after Chorus Pro applied the call.
            raise ApiError(504, None)
        if fault == "cut_body":
            return self._send_cut(reply)
        if fault == "malformed":
            return self._send(200, raw=json.dumps(reply).encode()[: max(10, len(json.dumps(reply)) // 2)])
        if fault == "giant":
            return self._send_giant(reply)
        if fault == "bad_base64" and "fichierResultat" in reply:
            reply["fichierResultat"] = "@@not base64@@"
        self._send(200, reply)

    def _send_cut(self, reply):
        """Announce the whole reply, send half of it, close: the client reads a body cut in the middle."""
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def _send_giant(self, reply, size=64 * 1024 * 1024):
        """A valid JSON reply padded to ``size`` bytes, streamed: the client must refuse it, not swallow it."""
        head = json.dumps(dict(reply, remplissage="")).encode()[:-2]  # ...,"remplissage": "  (left open)
        tail = b'"}'
        padding = size - len(head) - len(tail)
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        try:
            self.wfile.write(head)
            chunk = b" " * (1024 * 1024)
            while padding > 0:
                self.wfile.write(chunk[:padding])
                padding -= len(chunk)
            self.wfile.write(tail)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -------------------------------------------------------------- control
    def _control(self, method, action, body):
        state = self.state
        data = json.loads(body or b"{}") if body else {}
        if action == "state":
            state.tick()
            return state.summary()
        if action == "calls":
            with state.lock:
                return dict(state.calls)
        if action == "reset":
            state.reset()
            return {"ok": True}
        if action == "config":
            with state.lock:
                state.config.update({k: v for k, v in data.items() if k in state.config})
            return state.config
        if action == "advance":
            return {"now": state.advance(data.get("seconds", 0))}
        if action == "faults":
            state.add_fault(data["kind"], data.get("operation", "*"), data.get("count", 1), data.get("delay"),
                            data.get("after", 0), data.get("invoice"))
            return {"faults": state.faults}
        if action == "faults/clear":
            with state.lock:
                state.faults.clear()
            return {"faults": []}
        if action == "invoice/status":
            invoice = state.set_status(data["idFacture"], data["statut"], data.get("commentaire", ""))
            return {"idFacture": invoice["idFacture"], "statut": invoice["statut"]}
        if action == "invoice/listed-late":
            invoice = state.list_late(data["idFacture"], data.get("seconds", 300))
            return {"idFacture": invoice["idFacture"], "listed_at": invoice["listed_at"]}
        if action == "invoice/complete":
            invoice = state.supplier_completes(data["idFacture"], data.get("pieces") or [], data.get("commentaire", ""))
            return {"idFacture": invoice["idFacture"], "statut": invoice["statut"],
                    "pieces": [piece["nom"] for piece in invoice["pieces"]]}
        if action == "flux/state":
            flux = state.set_flux_state(data["numeroFluxDepot"], data["etat"], data.get("erreurs"))
            return {"numeroFluxDepot": flux["numeroFluxDepot"], "etat": flux["etat"]}
        if action == "inbox/clear":
            return {"removed": state.clear_inbox()}
        if action == "inbox/generate":
            return {"created": state.generate_inbox(**data)}
        if action == "sent/generate":
            return {"created": state.generate_sent(**data)}
        if action == "accounts/password-expiry":
            with state.lock:
                state.accounts[data["login"]]["password_expiry"] = data["date"]
            return {"ok": True}
        raise ApiError(404, {"error": "unknown control action %s" % action})


def _invoices_named(body):
    """The invoice ids a request names (idFacture, identifiantFactureCPP, listeFacture[].idFacture)."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return set()
    if not isinstance(payload, dict):
        return set()
    values = [payload.get("idFacture"), payload.get("identifiantFactureCPP")]
    values += [item.get("idFacture") for item in payload.get("listeFacture") or [] if isinstance(item, dict)]
    named = set()
    for value in values:
        try:
            named.add(int(value))
        except (TypeError, ValueError):
            continue
    return named


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, state):
        self.state = state
        super().__init__(address, Handler)

    @property
    def url(self):
        host, port = self.server_address[:2]
        return "http://%s:%s" % (host, port)


def start_in_thread(state=None, host="127.0.0.1", port=0, data=None, **config):
    """Start a sandbox on a free port in a background thread; returns the server (``server.url``)."""
    if state is None:
        state = SandboxState(data if data is not None else load_default_data(), **config)
    server = SandboxServer((host, port), state)
    thread = threading.Thread(target=server.serve_forever, name="chorus-sandbox", daemon=True)
    thread.start()
    return server


def load_default_data():
    from importlib import resources
    return json.loads(resources.files("chorus_sandbox").joinpath("data/demo.json").read_text("utf-8"))
