"""Screenshots of the module's screens in the demo, as a French user sees them at 1 440 px.

Run against the demo (``bash scripts/run.sh`` in another terminal), with the venv's Python:

    $CHORUS_HOME/venv/bin/python scripts/screenshots.py [--url http://localhost:8069] [--db chorus_demo]

It logs in as admin (its language set to French), drives headless Chromium through the DevTools protocol
(websocket-client, a test requirement) and writes PNG files to ``l10n_fr_chorus_efacture/readme/screenshots``.
The walk clicks what a user clicks: it sends one demo invoice to the sandbox, so run it on the demo only.
"""
import argparse
import base64
import http.cookiejar
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "l10n_fr_chorus_efacture", "readme", "screenshots")
WIDTH, HEIGHT = 1440, 900


class Odoo:
    """JSON-RPC as the web client does it, with the session cookie the browser gets too."""

    def __init__(self, url, db, login, password):
        self.url = url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.uid = self._post("/web/session/authenticate", {"db": db, "login": login, "password": password})["uid"]
        self.session_id = next(cookie.value for cookie in self.cookies if cookie.name == "session_id")

    def _post(self, path, params):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params}).encode()
        request = urllib.request.Request(self.url + path, body, {"Content-Type": "application/json"})
        reply = json.load(self.opener.open(request))
        if reply.get("error"):
            raise RuntimeError(reply["error"]["data"]["message"])
        return reply["result"]

    def call(self, model, method, *args, **kwargs):
        return self._post("/web/dataset/call_kw", {"model": model, "method": method, "args": list(args),
                                                   "kwargs": kwargs})

    def ref(self, xmlid):
        module, name = xmlid.split(".")
        found = self.call("ir.model.data", "search_read", [("module", "=", module), ("name", "=", name)],
                          fields=["res_id"])
        return found[0]["res_id"]


class Browser:
    def __init__(self, chromium):
        self.profile = tempfile.mkdtemp(prefix="chorus-shots-")
        self.process = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=9333",
             f"--user-data-dir={self.profile}", f"--window-size={WIDTH},{HEIGHT}", "--lang=fr-FR",
             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            try:
                targets = json.load(urllib.request.urlopen("http://127.0.0.1:9333/json"))
                page = next(t for t in targets if t["type"] == "page")
                break
            except (OSError, StopIteration):
                time.sleep(0.2)
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
        self.ids = itertools.count(1)
        self.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1,
                  mobile=False)

    def send(self, method, **params):
        message_id = next(self.ids)
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def js(self, expression):
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if result.get("exceptionDetails"):
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def wait_for(self, selector, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.js(f"!!document.querySelector({json.dumps(selector)})"):
                time.sleep(0.8)  # let the last RPCs and the fade-in of a dialog end
                return
            time.sleep(0.3)
        raise RuntimeError(f"{selector} never showed")

    def click(self, selector, wait_for=None):
        if not self.js(f"(() => {{ const el = document.querySelector({json.dumps(selector)}); "
                       f"if (!el) return false; el.click(); return true; }})()"):
            raise RuntimeError(f"nothing to click at {selector}")
        if wait_for:
            self.wait_for(wait_for)

    def go(self, url, wait_for):
        self.send("Page.navigate", url=url)
        self.wait_for(wait_for)

    def shot(self, name, selector=None):
        params = {"format": "png"}
        if selector:
            rect = self.js(f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                           f".getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }})()")
            params["clip"] = {"x": rect[0], "y": rect[1], "width": rect[2], "height": rect[3], "scale": 1}
        data = self.send("Page.captureScreenshot", **params)["data"]
        path = os.path.join(OUT, f"{name}.png")
        with open(path, "wb") as out:
            out.write(base64.b64decode(data))
        # 256 colours are plenty for Odoo's flat screens: a third of the size in the repository.
        with Image.open(path) as image:
            image.convert("RGB").quantize(colors=256).save(path, optimize=True)
        print(path)

    def close(self):
        self.ws.close()
        self.process.terminate()
        self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://localhost:8069")
    parser.add_argument("--db", default="chorus_demo")
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    odoo = Odoo(args.url, args.db, "admin", "admin")
    odoo.call("res.users", "write", [odoo.uid], {"lang": "fr_FR"})
    supplier = odoo.ref("base.demo_company_fr")
    buyer = odoo.ref("l10n_fr_chorus_efacture.demo_company_buyer")
    browser = Browser(args.chromium)
    try:
        host = args.url.split("//", 1)[1].split(":")[0]

        def as_company(company):
            for name, value in (("session_id", odoo.session_id), ("cids", str(company))):
                browser.send("Network.setCookie", name=name, value=value, domain=host, path="/")

        received = "/odoo/action-l10n_fr_chorus_efacture.action_chorus_inbound_invoice"
        as_company(buyer)
        browser.go(args.url + received, ".o_list_renderer")
        browser.shot("received_invoices")
        # A received invoice a user processes: made available, its supplier known.
        inbound = odoo.call("chorus.inbound.invoice", "search_read",
                            [("company_id", "=", buyer), ("chorus_status", "=", "MISE_A_DISPOSITION"),
                             ("partner_id", "!=", False)], fields=["id"], limit=1)[0]["id"]
        browser.go(f"{args.url}{received}/{inbound}", ".o_form_view .o_form_sheet")
        browser.shot("received_invoice")
        # Internal validation is on in the demo: validated first, as the validator does.
        if browser.js("!!document.querySelector('.o_statusbar_buttons button[name=action_internal_validate]')"):
            browser.click(".o_statusbar_buttons button[name=action_internal_validate]",
                          ".o_statusbar_buttons button[name=action_process]")
        browser.click(".o_statusbar_buttons button[name=action_process]", ".modal .o_form_view")
        browser.shot("process_window")
        # A factored supplier's invoice (Chorus Pro names the factor; its IBAN is the factor's) and a credit note.
        for name, domain in (("factored_invoice", [("factor_name", "!=", False)]),
                             ("credit_note", [("invoice_type", "=", "AVOIR")])):
            found = odoo.call("chorus.inbound.invoice", "search", [("company_id", "=", buyer)] + domain, limit=1)
            if found:
                browser.go(f"{args.url}{received}/{found[0]}", ".o_form_view .o_form_sheet")
                browser.shot(name)
        browser.go(args.url + "/odoo/action-l10n_fr_chorus_efacture.action_chorus_supplier", ".o_list_renderer")
        browser.shot("validate_suppliers")
        # The Chorus Pro menu, by side (the user has both companies: both sides).
        browser.js("Array.from(document.querySelectorAll('.o_menu_sections .dropdown-toggle'))"
                   ".find(b => b.textContent.trim() === 'Chorus Pro').click()")
        browser.wait_for(".o-dropdown--menu")
        browser.shot("menus")

        as_company(supplier)
        # A demo invoice not sent yet (each run sends one).
        candidates = [odoo.ref("l10n_fr_chorus_efacture.demo_invoice_%s" % name)
                      for name in ("commune", "hopital", "syndicat")]
        unsent = odoo.call("account.move", "search", [("id", "in", candidates), ("state", "=", "posted"),
                                                     ("chorus_state", "=", False)])
        if not unsent:
            sys.exit("every demo invoice was sent: make the demo again (CHORUS_FRESH_DEMO=1 bash scripts/run.sh)")
        invoice = unsent[0]
        browser.go(f"{args.url}/odoo/action-account.action_move_out_invoice_type/{invoice}",
                   ".o_form_view .o_form_sheet")
        browser.shot("customer_invoice")
        browser.click(".o_statusbar_buttons button[name=action_chorus_send]", ".modal .o_form_view")
        browser.shot("send_window")
        # Sent to the sandbox: the sending report opens, as after any send of the window.
        browser.click(".modal-footer button[name=action_send_and_print]", ".modal button[name=action_open_move]")
        browser.shot("sending_report")
        # The pre-flight check: a discount typed as a line with a negative price (EN 16931's BR-27), refused
        # before anything goes to Chorus Pro, naming the line and what to do.
        model = odoo.call("account.move", "read", [invoice], ["partner_id", "buyer_reference", "company_id",
                                                              "purchase_order_reference"])[0]
        tax = odoo.call("account.tax", "search", [("company_id", "=", model["company_id"][0]),
                                                  ("type_tax_use", "=", "sale"), ("amount", "=", 20.0)], limit=1)
        refused = odoo.call("account.move", "create", {
            "move_type": "out_invoice", "partner_id": model["partner_id"][0],
            "buyer_reference": model["buyer_reference"], "purchase_order_reference": model["purchase_order_reference"],
            "invoice_line_ids": [(0, 0, {"name": "Maintenance du parc informatique", "quantity": 1,
                                         "price_unit": 1200.0, "tax_ids": [(6, 0, tax)]}),
                                 (0, 0, {"name": "Remise fidélité", "quantity": 1, "price_unit": -120.0,
                                         "tax_ids": [(6, 0, tax)]})]})
        odoo.call("account.move", "action_post", [refused])
        browser.go(f"{args.url}/odoo/action-account.action_move_out_invoice_type/{refused}",
                   ".o_form_view .o_form_sheet")
        browser.click(".o_statusbar_buttons button[name=action_chorus_send]", ".modal .o_form_view")
        browser.click(".modal-footer button[name=action_send_and_print]", ".o_error_dialog")
        browser.shot("preflight_refusal")
        browser.go(args.url + "/odoo/settings#account", "[name=chorus_environment]")
        browser.js("document.querySelector('[name=chorus_environment]').closest('.o_settings_container')"
                   ".previousElementSibling.scrollIntoView()")
        time.sleep(0.5)
        browser.shot("settings")
    finally:
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
