"""Shared set-up of the benchmarks: an Odoo environment on the bench database and a sandbox process.

Run them through ``bash bench/run.sh`` (it prepares the database and the Python path).
"""

import functools
import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
BUYER = ("TECH_1_SVLP@cpro.fr", "Sandbox-Buyer-2026!")
SUPPLIER = ("TECH_1_ANP@cpro.fr", "Sandbox-Supplier-2026!")
COMMUNE_SIRET = "21340012000019"
SUPPLIER_SIRET = "45217896500011"


def timing(function, record):
    """``function``, which gives ``record`` the seconds each of its calls took (exceptions included)."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            record(time.perf_counter() - start)
    return wrapper


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sandbox:
    """The sandbox in its own process, so that its work is not counted in Odoo's."""

    def __init__(self):
        self.port = free_port()
        self.url = "http://127.0.0.1:%s" % self.port
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chorus_sandbox", "--port", str(self.port), "--flux-delay", "0",
             "--status-step", "3600"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _attempt in range(100):
            try:
                urllib.request.urlopen(self.url + "/_sandbox/state", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the sandbox did not start")

    def control(self, action, **payload):
        request = urllib.request.Request(self.url + "/_sandbox/" + action, data=json.dumps(payload).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=600) as response:
            return json.loads(response.read())

    def calls(self):
        return self.control("calls")

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


class OdooServer:
    """An Odoo server in its own process on ``database``: HTTP (wkhtmltopdf fetches report assets from it) and
    ``cron_threads`` cron workers, logging to ``logfile``."""

    def __init__(self, config, database, cron_threads=0, logfile=None, log_level="warn", env=None):
        import odoo
        odoo_bin = os.path.join(os.path.dirname(os.path.dirname(odoo.__file__)), "odoo-bin")
        self.port = free_port()
        self.url = "http://127.0.0.1:%s" % self.port
        self.logfile = logfile
        command = [sys.executable, odoo_bin, "-c", config, "-d", database, "--db-filter", "^%s$" % database,
                   "--http-interface", "127.0.0.1", "--http-port", str(self.port),
                   "--max-cron-threads", str(cron_threads), "--workers", "0", "--log-level", log_level]
        if logfile:
            command += ["--logfile", logfile]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)

    def wait_ready(self, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the Odoo server stopped (exit %s, see %s)" % (self.process.returncode,
                                                                                 self.logfile))
            try:
                urllib.request.urlopen(self.url + "/web/health", timeout=2)
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the Odoo server did not answer (see %s)" % self.logfile)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)


def lane_runs(logfile):
    """What the worker lanes of one server did, from its log: the units each lane's runs report done."""
    done = 0
    with open(logfile, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if "Chorus Pro: worker lane" in line and " processed " in line:
                done += int(line.split(" processed ")[1].split()[0])
    return done


def quiet_logs():
    import logging
    for name in ("factur-x", "odoo.addons.l10n_fr_chorus_efacture"):
        logging.getLogger(name).setLevel(logging.WARNING)


def odoo_env(database):
    """(registry, an open cursor, env as superuser) on ``database``, with the config file of the project."""
    import odoo
    from odoo import api, SUPERUSER_ID
    odoo.tools.config.parse_config(["-c", os.environ["ODOO_CONF"], "-d", database, "--log-level=warn"])
    quiet_logs()
    registry = odoo.modules.registry.Registry(database)
    cr = registry.cursor()
    return registry, cr, api.Environment(cr, SUPERUSER_ID, {})


def point_at(company, sandbox, login, password):
    company.write({
        "chorus_environment": "custom", "chorus_api_url": sandbox.url,
        "chorus_oauth_url": sandbox.url + "/api/oauth/token",
        "chorus_client_id": CLIENT_ID, "chorus_client_secret": CLIENT_SECRET,
    })
    company._chorus_set_technical_account(login, company._chorus_encrypt(password), "2099-12-31")
    # Unpaced: the benchmarks measure the module's own cost, not the pace it keeps under PISTE's limits.
    company.env["ir.config_parameter"].sudo().set_param("l10n_fr_chorus_efacture.calls_per_second", "0")


def peak_memory_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def print_table(rows, columns):
    widths = [max(len(str(c)), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    print("  ".join(str(c).rjust(w) for c, w in zip(columns, widths)))
    for row in rows:
        print("  ".join(str(row.get(c, "")).rjust(w) for c, w in zip(columns, widths)))


def write_json(path, payload):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2)
