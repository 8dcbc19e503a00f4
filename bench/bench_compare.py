"""This module against OCA's (l10n_fr_chorus_account + l10n_fr_chorus_facturx): the same invoices sent to the
Chorus Pro sandbox through each module's own send path, invoice PDF rendered by wkhtmltopdf included.

    bash bench/run.sh compare [N]        (default: 16)

Ours twice: with the module's defaults (a 100 ms wkhtmltopdf wait after loading an invoice), then at OCA's wait
(Odoo's report.print_delay, 1 s), so that both ratios are printed: defaults, and equal settings.
Ours: Odoo's send window on one invoice (account.move.send.wizard, Chorus Pro ticked, as "Send & Print"),
then "Send to Chorus Pro" on N: the batch window (account.move.send.batch.wizard) and a worker lane
(chorus.worker), which renders the PDFs (side by side: Debian's wkhtmltopdf renders one invoice per run) and
deposits them as one archive flux per chunk.
OCA: its window account.invoice.chorus.send on one invoice, then on N (one tar.gz flux).

Each module runs against its own database (BENCH_DB for ours, OCA_DB = chorus_bench_oca for OCA's, set up by
bench/compare_setup.sh), its own sandbox process and its own Odoo HTTP server (wkhtmltopdf fetches the report
assets from it); the measured code runs in a separate process per module and mode (registry + cursor). Before
the clock, one invoice is sent through the same path (templates compiled, assets built, token fetched).
Every invoice must be deposited (a flux in the sandbox) and read by the sandbox from its flux (Factur-X XML,
routing data), else the run fails. Prints a table, writes bench/results/compare.json.
"""

import functools
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import bench_send  # noqa: E402
import common  # noqa: E402

DEPOSIT = "factures/v1/deposer/flux"
# Ours again, waiting after each page what OCA's modules wait (Odoo's report.print_delay): equal settings.
SAME_WAIT = "ours, OCA's wait"
CUSTOMER_NAME = "Commune de Saint-Véran-les-Pins"
SERVICE_CODE = "SERV_TECHNIQUES"
# bench_send's FR7630004008230001234567842 fails the IBAN check digits, which OCA's module refuses ("Chorus Pro
# only accepts IBAN"): the same account with its right check digits.
IBAN = "FR3730004008230001234567842"
# Odoo's Factur-X (the invoice PDF of a French customer) wants the seller's phone and email, the buyer's zip.
SUPPLIER_CONTACT = {"phone": "+33 4 42 00 00 00", "email": "factures@bench-fournisseur.example.fr"}
CUSTOMER_ADDRESS = {"street": "1 place de la Mairie", "zip": "34120", "city": "Saint-Véran-les-Pins"}
COLUMNS = ["module", "mode", "invoices", "deposited", "flux", "integrated", "total_s", "ms_per_invoice",
           "render_ms", "wkhtmltopdf_ms", "renders", "js_delay_ms", "xml_ms", "preflight_ms", "facturx_ms",
           "deposit_ms", "other_ms"]


# ---------------------------------------------------------------- timing
class Clock:
    """Time spent in instrumented calls of the measuring thread, by category (a call inside one of the same
    category is not counted twice), at its outermost level (to get "other"); and wkhtmltopdf's runs, in
    whatever thread they run (ours runs a batch's side by side): their count and summed time."""

    def __init__(self):
        self.lock = threading.Lock()
        self.clear()

    def clear(self):
        self.times, self.calls, self.depth, self.outer, self.js_delays, self.active = {}, {}, 0, 0.0, [], set()

    def add(self, category, elapsed):
        with self.lock:
            self.times[category] = self.times.get(category, 0.0) + elapsed
            self.calls[category] = self.calls.get(category, 0) + 1

    def timed(self, category, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if threading.current_thread() is not threading.main_thread() or category in self.active:
                return function(*args, **kwargs)
            self.depth += 1
            self.active.add(category)
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                self.depth -= 1
                self.active.discard(category)
                self.add(category, elapsed)
                if category != "render" and "render" in self.active:  # made while the PDFs render (batch)
                    self.add(category + "_in_render", elapsed)
                if not self.depth:
                    self.outer += elapsed
        return wrapper

    def runs(self, category, function):
        return common.timing(function, functools.partial(self.add, category))


CLOCK = Clock()


def instrument_report(env):
    """Both modules render the invoice through ir.actions.report._pre_render_qweb_pdf (QWeb HTML, wkhtmltopdf;
    OCA's Factur-X embedding happens inside it too); wkhtmltopdf runs in Odoo's _run_wkhtmltopdf."""
    from odoo.addons.base.models.ir_actions_report import IrActionsReport
    report = type(env["ir.actions.report"])
    report._pre_render_qweb_pdf = CLOCK.timed("render", report._pre_render_qweb_pdf)
    IrActionsReport._run_wkhtmltopdf = CLOCK.runs("wkhtmltopdf", IrActionsReport._run_wkhtmltopdf)
    build_args = report._build_wkhtmltopdf_args

    def record_delay(self, *args, **kwargs):
        command = build_args(self, *args, **kwargs)
        if "--javascript-delay" in command:
            CLOCK.js_delays.append(int(command[command.index("--javascript-delay") + 1]))
        return command
    report._build_wkhtmltopdf_args = record_delay


def instrument_ours(env):
    # bench_send's instrumentation (CII export + XSD check: "xml"; Factur-X embedding: "pdf"; deposit), on this
    # clock.
    bench_send.timed = CLOCK.timed
    bench_send.instrument(env)
    instrument_report(env)
    # A batch's PDFs rendered side by side (wkhtmltopdf runs in threads): its wall time is rendering.
    send = type(env["account.move.send"])
    send._chorus_render_side_by_side = CLOCK.timed("render", send._chorus_render_side_by_side)


def instrument_oca(env):
    from odoo.addons.account_invoice_facturx.models import account_move as facturx_move
    move = type(env["account.move"])
    move.generate_facturx_xml = CLOCK.timed("xml", move.generate_facturx_xml)  # its XSD check included
    facturx_move.generate_from_file = CLOCK.timed("pdf", facturx_move.generate_from_file)
    company = type(env["res.company"])
    company._chorus_post = CLOCK.timed("deposit", company._chorus_post)
    instrument_report(env)


# ------------------------------------------------------------------ data
def tax_20(env, company):
    return env["account.tax"].search([("company_id", "=", company.id), ("type_tax_use", "=", "sale"),
                                      ("amount", "=", 20.0), ("price_include", "=", False)], limit=1)


def make_moves(env, company, partner, count, tag, **values):
    """``count`` posted invoices of the same two lines as bench_send.make_invoices (20 % VAT); no PDF yet."""
    tax = tax_20(env, company)
    moves = env["account.move"].with_company(company).create([{
        "move_type": "out_invoice", "partner_id": partner.id, **values,
        "invoice_line_ids": [(0, 0, {"name": "Maintenance %s %s" % (tag, i), "quantity": 3, "price_unit": 850.0,
                                     "tax_ids": [(6, 0, tax.ids)]}),
                             (0, 0, {"name": "Poste de travail", "quantity": 2, "price_unit": 420.0,
                                     "tax_ids": [(6, 0, tax.ids)]})],
    } for i in range(count)])
    moves.action_post()
    env.cr.commit()
    return moves


def commune_customer(env, company, sending_method):
    """The public customer of the invoices, set to each module's Chorus Pro method, and the contact details its
    Factur-X needs on both sides."""
    Partner = env["res.partner"].with_company(company)
    customer = Partner.search([("name", "=", CUSTOMER_NAME), ("siret", "=", common.COMMUNE_SIRET),
                               ("is_company", "=", True), ("parent_id", "=", False)], limit=1)
    if not customer:
        customer = Partner.create({"name": CUSTOMER_NAME, "is_company": True, "siret": common.COMMUNE_SIRET,
                                   "country_id": env.ref("base.fr").id})
    company.write(SUPPLIER_CONTACT)
    customer.write(dict(CUSTOMER_ADDRESS, invoice_sending_method=sending_method))
    return customer


class Ours:
    name = "ours"
    setup_refusals = ()

    def __init__(self, env, sandbox):
        company = bench_send.supplier_company(env, sandbox)
        self.env = env = env(context=dict(env.context, allowed_company_ids=[company.id]))
        self.company = company
        customer = commune_customer(env, company, "chorus_pro")
        if not customer.chorus_structure_id or customer.chorus_structure_state == "to_check":
            customer._cron_chorus_check_structures()
        self.customer = customer
        env.cr.commit()
        instrument_ours(env)

    def make(self, count, tag):
        return make_moves(self.env, self.company, self.customer, count, tag, buyer_reference=SERVICE_CODE)

    def send_one(self, move):
        """"Send & Print" on the invoice: the window opens on the customer's method, Chorus Pro."""
        wizard = self.env["account.move.send.wizard"].with_context(move.action_send_and_print()["context"]).create({})
        if wizard.sending_methods != ["chorus_pro"]:
            raise RuntimeError("the send window offers %s, not Chorus Pro" % wizard.sending_methods)
        wizard.action_send_and_print()
        self.env.cr.commit()

    def send_batch(self, moves):
        """"Send to Chorus Pro" on the N invoices: the batch window, then a worker lane (as its cron runs it) until
        all are processed."""
        action = moves.action_chorus_send()
        wizard = self.env[action["res_model"]].with_context(action["context"]).create({})
        wizard.action_send_and_print()
        self.env.cr.commit()
        while self.env(context={})["chorus.worker"]._chorus_run(["send"]):  # as a worker lane's cron runs it
            self.env.cr.commit()

    def check_ready(self):
        others = self.env["account.move"].sudo().search_count([("chorus_send_request", "!=", False)])
        if others:
            raise RuntimeError("%s invoices of %s wait in Chorus Pro's queue: they would be sent with the batch "
                               "and skew it" % (others, self.env.cr.dbname))

    def outcome(self, moves):
        moves.invalidate_recordset()
        deposited = moves.filtered(lambda m: m.chorus_state == "deposited")
        return len(deposited), set(deposited.mapped("chorus_flux_number"))


class Oca:
    name = "OCA"

    def __init__(self, env, sandbox):
        from odoo.addons.l10n_fr_chorus_account.models import res_company as oca_company
        from odoo.exceptions import UserError
        # PISTE and Chorus Pro of the sandbox: the token at /api/oauth/token, the API under /cpro/.
        oca_company.API_URL = oca_company.QUALIF_API_URL = sandbox.url
        oca_company.TOKEN_URL = oca_company.QUALIF_TOKEN_URL = sandbox.url + "/api/oauth/token"
        self.env = env
        company = env["res.company"].search([("name", "=", "Bench Fournisseur")], limit=1)
        if not company:
            company = env["res.company"].create({
                "name": "Bench Fournisseur", "country_id": env.ref("base.fr").id,
                "currency_id": env.ref("base.EUR").id, "street": "12 avenue des Belges", "zip": "13100",
                # bench_send's VAT number (FR91746948785) is not the one of SIREN 452178965, which OCA's
                # l10n_fr_siret refuses.
                "city": "Aix-en-Provence", "vat": "FR55452178965"})
            company.partner_id.siret = common.SUPPLIER_SIRET
            env["account.chart.template"]._load("fr", company, install_demo=False)
            env.cr.commit()
        company.write({"fr_chorus_api_login": common.SUPPLIER[0], "fr_chorus_api_password": common.SUPPLIER[1],
                       "fr_chorus_invoice_format": "pdf_factur-x", "xml_format_in_pdf_invoice": "factur-x"})
        self.env = env = env(context=dict(env.context, allowed_company_ids=[company.id]))
        self.company = company
        tax_20(env, company).write({"unece_type_id": env.ref("account_tax_unece.tax_type_vat").id,
                                    "unece_categ_id": env.ref("account_tax_unece.tax_categ_s").id})
        journal = env["account.journal"].search([("company_id", "=", company.id), ("type", "=", "bank")], limit=1)
        self.payment_line = journal.inbound_payment_method_line_ids.filtered(
            lambda line: line.payment_method_id.code == "manual")[:1]
        self.payment_line.payment_method_id.unece_id = env.ref("account_payment_unece.payment_means_30")
        self.bank = company.partner_id.bank_ids.filtered(lambda bank: bank.sanitized_acc_number == IBAN)[:1]
        if not self.bank:
            self.bank = env["res.partner.bank"].create({"acc_number": IBAN, "partner_id": company.partner_id.id,
                                                        "allow_out_payment": True})
        customer = commune_customer(env, company, "fr_chorus")
        Partner = env["res.partner"].with_company(company)
        self.setup_refusals = []
        try:
            with env.cr.savepoint():
                customer.fr_chorus_identifier_and_required_button()  # structure, its rules, its services
        except UserError as error:
            # Reported at the end (the sandbox refused a request of OCA's set-up). Not measured: the rule it
            # would read (codeServiceDoitEtreRenseigne) is set by hand.
            self.setup_refusals.append(" ".join(str(error.args[0]).split()))
            customer.fr_chorus_identifier_get()
            customer.fr_chorus_required = "service"
            customer.fr_chorus_services_get()
            customer.fr_chorus_service_ids.service_update()
        service = customer.fr_chorus_service_ids.filtered(lambda s: s.code == SERVICE_CODE)
        if not service:
            raise RuntimeError("OCA's module did not read the service %s of %s from the sandbox"
                               % (SERVICE_CODE, CUSTOMER_NAME))
        # OCA routes to a service through a contact of the customer carrying it.
        contact = customer.child_ids.filtered(lambda c: c.fr_chorus_service_id == service)[:1]
        if not contact:
            contact = Partner.create({"name": service.name, "parent_id": customer.id,
                                      "fr_chorus_service_id": service.id})
        contact.write(dict(CUSTOMER_ADDRESS, type="contact", country_id=env.ref("base.fr").id))
        self.contact = contact
        env.cr.commit()
        instrument_oca(env)

    def make(self, count, tag):
        return make_moves(self.env, self.company, self.contact, count, tag, partner_bank_id=self.bank.id,
                          preferred_payment_method_line_id=self.payment_line.id)

    def _wizard(self, moves):
        return self.env["account.invoice.chorus.send"].with_context(
            active_model="account.move", active_ids=moves.ids).create({})

    def send_one(self, move):
        self._wizard(move).run()
        self.env.cr.commit()

    def send_batch(self, moves):
        self._wizard(moves).run()
        self.env.cr.commit()

    def check_ready(self):
        pass

    def outcome(self, moves):
        moves.invalidate_recordset()
        deposited = moves.filtered("chorus_flow_id")
        return len(deposited), set(deposited.mapped("chorus_flow_id.name"))


def set_report_url(env, url):
    """wkhtmltopdf fetches the report's assets from report.url (else web.base.url): this database's server."""
    params = env["ir.config_parameter"].sudo()
    before = {key: params.get_param(key) for key in ("report.url", "web.base.url", "web.base.url.freeze")}
    for key, value in (("report.url", url), ("web.base.url", url), ("web.base.url.freeze", "True")):
        params.set_param(key, value)
    env.cr.commit()
    return before


def set_print_delay(env, delay):
    """Ours made to wait ``delay`` ms after loading each invoice page, as Odoo waits for other reports (OCA's
    modules render with Odoo's report.print_delay): the same wait for both."""
    from odoo.addons.l10n_fr_chorus_efacture.models.ir_actions_report import PRINT_DELAY_PARAM
    params = env["ir.config_parameter"].sudo()
    before = params.get_param(PRINT_DELAY_PARAM)
    params.set_param(PRINT_DELAY_PARAM, delay or params.get_param("report.print_delay", "1000"))
    env.cr.commit()
    return before


def run_child(side, mode, count, sandbox_url, odoo_url, out_path):
    """One measured run, in a process of its own: set up, warm up, send ``count`` invoices, check."""
    sandbox = common.Sandbox.__new__(common.Sandbox)  # the orchestrator's sandbox, reached by its address
    sandbox.url = sandbox_url
    database = os.environ["COMPARE_DB"]
    _registry, cr, env = common.odoo_env(database)
    # Said once per rendering or line (unpatched wkhtmltopdf's ignored switches, lines without unit): noise here;
    # OCA's refused requests are reported by this script.
    for name in ("odoo.addons.base.models.ir_actions_report", "odoo.addons.account_invoice_facturx",
                 "odoo.addons.l10n_fr_chorus_account"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    before = set_report_url(env, odoo_url)
    if side == SAME_WAIT:
        from odoo.addons.l10n_fr_chorus_efacture.models.ir_actions_report import PRINT_DELAY_PARAM
        before[PRINT_DELAY_PARAM] = set_print_delay(env, None)
    try:
        driver = (Oca if side == "OCA" else Ours)(env, sandbox)
        measured = measure_sending(driver, side, mode, count, sandbox)
    finally:
        cr.rollback()  # what a failed run left half-done is not kept
        params = env["ir.config_parameter"].sudo()
        for key, value in before.items():
            params.set_param(key, value or False)
        cr.commit()
        cr.close()
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(result_row(side, mode, count, driver, measured), handle)


def measure_sending(driver, side, mode, count, sandbox):
    """Warm up, then send ``count`` invoices in ``mode``: the times, calls and what Chorus Pro (the sandbox) got."""
    driver.check_ready()
    warm = driver.make(1, "warm-up %s" % mode)
    driver.send_one(warm)
    if driver.outcome(warm)[0] != 1:
        raise RuntimeError("%s: the warm-up invoice was not deposited" % side)
    moves = driver.make(count, mode)
    deposits_before = sandbox.calls().get(DEPOSIT, 0)
    CLOCK.clear()
    start = time.perf_counter()
    if mode == "one by one":
        for move in moves:
            driver.send_one(move)
    else:
        driver.send_batch(moves)
    total = time.perf_counter() - start
    deposited, flux_numbers = driver.outcome(moves)
    # The sandbox reads each flux (Factur-X XML, routing data) when asked for its state (flux delay 0).
    flux = [f for f in sandbox.control("state")["flux"] if f["numeroFluxDepot"] in flux_numbers]
    return {
        "total": total, "times": dict(CLOCK.times), "calls": dict(CLOCK.calls), "outer": CLOCK.outer,
        "delays": list(CLOCK.js_delays), "deposit_calls": sandbox.calls().get(DEPOSIT, 0) - deposits_before,
        "deposited": deposited, "flux": len(flux), "integrated": sum(len(f["invoices"]) for f in flux),
        "refusals": sorted({e.get("libelleErreurDP") or e.get("libelleErreur") or json.dumps(e)
                            for f in flux for e in f["erreursDP"] + f["erreursTechniques"]}),
    }


def result_row(side, mode, count, driver, measured):
    """The row of one run, with what went wrong in it (``problems``)."""
    import odoo
    per = 1000.0 / count
    times, calls, total = measured["times"], measured["calls"], measured["total"]
    row = {
        "module": side, "mode": mode, "invoices": count, "deposited": measured["deposited"],
        "flux": measured["deposit_calls"], "integrated": measured["integrated"], "total_s": round(total, 2),
        "ms_per_invoice": round(total * per, 1), "render_ms": round(times.get("render", 0) * per, 1),
        "wkhtmltopdf_ms": round(times.get("wkhtmltopdf", 0) * per, 1),
        "renders": round(calls.get("wkhtmltopdf", 0) / count, 2),
        "js_delay_ms": "/".join(str(d) for d in sorted(set(measured["delays"]))) or "-",
        "xml_ms": round(times.get("xml", 0) * per, 1), "xml_calls": round(calls.get("xml", 0) / count, 2),
        "facturx_ms": round(times.get("pdf", 0) * per, 1), "deposit_ms": round(times.get("deposit", 0) * per, 1),
        "preflight_ms": round(times.get("preflight", 0) * per, 1),
        "preflight_while_rendering_ms": round(times.get("preflight_in_render", 0) * per, 1),
        "preflight_share": "%.1f %%" % (100.0 * times.get("preflight", 0) / total) if total else "-",
        "preflight_waited_share": "%.1f %%" % (100.0 * (times.get("preflight", 0) - times.get(
            "preflight_in_render", 0)) / total) if total else "-",
        "other_ms": round((total - measured["outer"]) * per, 1), "sandbox_refusals": measured["refusals"],
        "setup_refusals": list(driver.setup_refusals), "odoo": odoo.release.version,
    }
    expected_flux = count if mode == "one by one" else 1
    problems = []
    if measured["deposited"] != count:
        problems.append("%s of %s invoices recorded as deposited" % (measured["deposited"], count))
    if measured["deposit_calls"] != expected_flux or measured["flux"] != expected_flux:
        problems.append("%s deposit calls reached the sandbox, %s flux found, %s expected"
                        % (measured["deposit_calls"], measured["flux"], expected_flux))
    if measured["integrated"] != count:
        problems.append("the sandbox read %s of %s invoices from the flux: %s"
                        % (measured["integrated"], count, "; ".join(measured["refusals"]) or "no reason given"))
    row["problems"] = problems
    return row


# ---------------------------------------------------------- orchestrator
def side_settings():
    odoo_conf = os.environ["ODOO_CONF"]
    home = os.path.dirname(odoo_conf)
    oca_home = os.path.join(home, "oca")
    ours_env = dict(os.environ, COMPARE_DB=os.environ.get("BENCH_DB", "chorus_bench"))
    oca_env = dict(os.environ, ODOO_CONF=os.environ.get("OCA_CONF", os.path.join(oca_home, "odoo.conf")),
                   COMPARE_DB=os.environ.get("OCA_DB", "chorus_bench_oca"), OAUTHLIB_INSECURE_TRANSPORT="1",
                   PYTHONPATH=os.pathsep.join(filter(None, [os.path.join(oca_home, "pylib"),
                                                            os.environ.get("PYTHONPATH")])))
    return {"ours": ours_env, SAME_WAIT: ours_env, "OCA": oca_env}, home


def main(argv):
    count = int(argv[0]) if argv else 16
    envs, home = side_settings()
    sandboxes, servers = {}, {}
    rows = []
    started = time.time()
    try:
        for side, env in envs.items():
            # A sandbox each: both databases number their invoices alike, and Chorus Pro refuses a number twice.
            sandboxes[side] = common.Sandbox()
            if env["COMPARE_DB"] in servers:  # ours at OCA's wait: the same database, the same server
                servers[side] = servers[env["COMPARE_DB"]]
                continue
            servers[side] = servers[env["COMPARE_DB"]] = common.OdooServer(
                env["ODOO_CONF"], env["COMPARE_DB"], env=env,
                logfile=os.path.join(home, "bench-compare-%s.log" % env["COMPARE_DB"])).wait_ready(timeout=120)
        for mode in ("one by one", "one batch"):
            for side, env in envs.items():
                with tempfile.NamedTemporaryFile(suffix=".json") as out:
                    subprocess.run([sys.executable, __file__, "--child", side, mode, str(count),
                                    sandboxes[side].url, servers[side].url, out.name], env=env, check=True)
                    with open(out.name, encoding="utf-8") as handle:
                        rows.append(json.load(handle))
    finally:
        for server in set(servers.values()):
            server.stop()
        for sandbox in sandboxes.values():
            sandbox.stop()
    common.print_table(rows, COLUMNS)
    ratios = []
    for settings, side in (("defaults", "ours"), ("same wait", SAME_WAIT)):
        for mode in ("one by one", "one batch"):
            ours, oca = (next(r for r in rows if r["module"] == name and r["mode"] == mode) for name in (side, "OCA"))
            ratio = {"settings": settings, "mode": mode, "ours_ms": ours["ms_per_invoice"],
                     "OCA_ms": oca["ms_per_invoice"],
                     "ours/OCA": round(ours["ms_per_invoice"] / oca["ms_per_invoice"], 2),
                     "js_delay ours/OCA": "%s/%s" % (ours["js_delay_ms"], oca["js_delay_ms"])}
            for key in ("render_ms", "wkhtmltopdf_ms"):
                ratio[key.replace("_ms", "") + " ours/OCA"] = round(ours[key] / oca[key], 2) if oca[key] else "-"
            rest_ours = ours["ms_per_invoice"] - ours["render_ms"]
            rest_oca = oca["ms_per_invoice"] - oca["render_ms"]
            ratio["rest ours/OCA"] = round(rest_ours / rest_oca, 2) if rest_oca else "-"
            ratios.append(ratio)
    print()
    common.print_table(ratios, ["settings", "mode", "ours_ms", "OCA_ms", "ours/OCA", "js_delay ours/OCA",
                                "render ours/OCA", "wkhtmltopdf ours/OCA", "rest ours/OCA"])
    print()
    common.print_table([r for r in rows if r["module"] != "OCA"],
                        ["module", "mode", "ms_per_invoice", "preflight_ms", "preflight_while_rendering_ms",
                         "preflight_share", "preflight_waited_share"])
    print("(preflight = the check before sending: EN 16931's rules in Saxon's process and Chorus Pro's own rules; "
          "its share of a send, target under 5 %; while_rendering = the part a batch makes while its PDFs render, "
          "in wkhtmltopdf's shadow; waited = the rest, which the send waits for)")
    wkhtmltopdf = subprocess.run(["wkhtmltopdf", "--version"], capture_output=True, text=True).stdout.strip()
    print("(ms per invoice; render = the invoice report, QWeb + wkhtmltopdf (+ OCA's Factur-X embedding), wall time;"
          " wkhtmltopdf = its runs' times added up (ours runs a batch's side by side: more than their wall time);"
          " renders = wkhtmltopdf runs per invoice; js_delay = its --javascript-delay; %s; %.0f s in all)"
          % (wkhtmltopdf, time.time() - started))
    path = os.path.join(os.path.dirname(__file__), "results", "compare.json")
    common.write_json(path, {"date": time.strftime("%Y-%m-%d %H:%M"), "invoices": count,
                             "wkhtmltopdf": wkhtmltopdf, "runs": rows, "ratios": ratios})
    print("written to %s" % path)
    for refusal in sorted({(r["module"], text) for r in rows for text in r["setup_refusals"]}):
        print("sandbox refused during %s's set-up (not measured): %s" % refusal)
    problems = ["%s %s: %s" % (r["module"], r["mode"], p) for r in rows for p in r["problems"]]
    if problems:
        print("FAILED:\n" + "\n".join("  " + p for p in problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        side, mode, count, sandbox_url, odoo_url, out_path = sys.argv[2:8]
        run_child(side, mode, int(count), sandbox_url, odoo_url, out_path)
    else:
        main(sys.argv[1:])
