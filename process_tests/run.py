"""The real-process suite: Odoo workers in processes of their own against a real database, with real
commits, a Chorus Pro sandbox in its own process, and an Odoo HTTP server for PDF rendering.

Each scenario breaks something the way production breaks (a worker killed in the middle of a call or of
a transaction, a reply cut in its body, two workers on the same cron, a database error), then runs the
next cron, and checks that nothing is lost, nothing is done twice, and every record ends reconciled. It
prints the matrix (scenario -> state after the fault > after the next cron run) and exits 1 on any
failure.

    python process_tests/run.py --config <odoo.conf> --database <a copy of the test database>

scripts/test.sh runs it after the unit tests, on a copy of their database (module and demo data).
"""

import argparse
import configparser
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "bench"))
from common import OdooServer, Sandbox, free_port, lane_runs  # noqa: E402  (the sandbox in its own process, as the benchmarks run it)

DEPOSIT = "factures/v1/deposer/flux"
RECEIVED_GET = "factures/v1/consulter/recipiendaire"
ACTIVE_STRUCTURES = "transverses/v1/recuperer/structures/actives/destinataire"
PROCESS = "factures/v1/traiter/recue"
STRUCTURE_SEARCH = "structures/v1/rechercher"


def wait_for(predicate, timeout=60, what="a condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s" % what)


class Failed(AssertionError):
    pass


class Suite:
    def __init__(self, config, database):
        self.config = config
        self.database = database
        options = configparser.ConfigParser()
        options.read(config)
        self.options = dict(options["options"])
        self.rows = []
        self.processes = []
        self.tmp = tempfile.mkdtemp(prefix="chorus_process_")

    # ---------------------------------------------------------------- plumbing
    def db(self):
        return psycopg2.connect(dbname=self.database, user=self.options.get("db_user"),
                                password=self.options.get("db_password"),
                                host=self.options.get("db_host") or "localhost",
                                port=self.options.get("db_port") or 5432)

    def sql(self, query, params=None, fetch=True):
        with self.db() as connection, connection.cursor() as cr:
            cr.execute(query, params or [])
            return cr.fetchall() if fetch and cr.description else None

    def value(self, query, params=None):
        rows = self.sql(query, params)
        return rows[0][0] if rows else None

    def control(self, action, **payload):
        return self.sandbox.control(action, **payload)

    def calls(self, operation):
        return self.control("calls").get(operation, 0)

    def start(self, operation, **args):
        """A worker doing ``operation``, in a process of its own (not waited for)."""
        process = subprocess.Popen([sys.executable, os.path.join(HERE, "worker.py"), self.config, self.database,
                                    operation, json.dumps(args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        self.processes.append(process)
        return process

    def finish(self, process, timeout=600):
        out, err = process.communicate(timeout=timeout)
        results = [line[7:] for line in out.splitlines() if line.startswith("RESULT ")]
        if process.returncode or not results:
            raise Failed("the worker failed (exit %s): %s" % (process.returncode, (err or out)[-1500:]))
        return json.loads(results[-1])

    def run(self, operation, **args):
        return self.finish(self.start(operation, **args))

    def kill(self, process):
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        # The killed worker's connections close with it; wait until PostgreSQL saw them go.
        wait_for(lambda: not self.sql("SELECT 1 FROM pg_stat_activity WHERE datname = %s AND pid <> "
                                      "pg_backend_pid() AND state = 'active' AND backend_type = 'client backend'",
                                      [self.database]), 30, "the killed worker's connections to end")

    def lock_is_free(self, company):
        key = 0x4350524F00000000 + company
        with self.db() as connection, connection.cursor() as cr:
            cr.execute("SELECT pg_try_advisory_lock(%s)", [key])
            taken = cr.fetchone()[0]
            if taken:
                cr.execute("SELECT pg_advisory_unlock(%s)", [key])
            return taken

    def check(self, condition, message):
        if not condition:
            raise Failed(message)

    # ------------------------------------------------------------ environment
    def start_services(self):
        self.sandbox = Sandbox()
        self.processes.append(self.sandbox.process)
        self.sandbox_url = self.sandbox.url
        import odoo
        odoo_bin = os.path.join(os.path.dirname(os.path.dirname(odoo.__file__)), "odoo-bin")
        http_port = free_port()
        self.server_url = "http://127.0.0.1:%s" % http_port
        # The HTTP server wkhtmltopdf fetches the report assets from; no cron in it: workers run them here.
        self.server = subprocess.Popen(
            [sys.executable, odoo_bin, "-c", self.config, "-d", self.database, "--db-filter", "^%s$" % self.database,
             "--http-port", str(http_port), "--max-cron-threads", "0", "--workers", "0", "--log-level", "warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(self.server)
        wait_for(lambda: self._answers(self.server_url + "/web/login"), 120, "the Odoo server")
        ids = self.run("setup", sandbox=self.sandbox_url, server=self.server_url)
        self.supplier, self.buyer = ids["supplier"], ids["buyer"]

    @staticmethod
    def _answers(url):
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            return False

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(30)

    def fresh_buyer(self):
        """The buyer's received invoices, mandates, logs and retries removed; the sandbox back to its seed."""
        self.control("reset")
        self.sql("DELETE FROM account_move WHERE chorus_inbound_id IS NOT NULL", fetch=False)
        for table in ("chorus_inbound_invoice", "chorus_inbound_import_log", "chorus_retry", "chorus_listing_mark",
                      "chorus_allowed_status"):
            self.sql("DELETE FROM %s WHERE company_id = %%s" % table, [self.buyer], fetch=False)

    def received(self):
        return self.value("SELECT count(*) FROM chorus_inbound_invoice WHERE company_id = %s", [self.buyer])

    def distinct_received(self):
        return self.value("SELECT count(DISTINCT chorus_invoice_id) FROM chorus_inbound_invoice WHERE company_id = %s",
                          [self.buyer])

    # -------------------------------------------------------------- scenarios
    def scenario(self, name, function):
        started = time.time()
        try:
            after_fault, after_recovery = function()
            self.rows.append((name, after_fault, after_recovery, "ok", ""))
        except Exception as error:
            self.rows.append((name, "-", "-", "FAILED", "%s: %s" % (error.__class__.__name__, error)))
            traceback.print_exc()
        finally:
            self.control("faults/clear")
            print("  %s: %.1fs" % (name, time.time() - started), file=sys.stderr, flush=True)

    def deposit_killed(self):
        self.control("reset")
        move = self.run("make_invoices", count=1)["ids"][0]
        self.control("faults", kind="slow", operation=DEPOSIT, delay=3)
        worker = self.start("send", id=move)
        wait_for(lambda: self.calls(DEPOSIT) == 1, 60, "the deposit call")
        self.kill(worker)
        state = self.value("SELECT chorus_state FROM account_move WHERE id = %s", [move])
        self.check(state == "sending", "the killed deposit left %r, not 'sending'" % state)
        wait_for(lambda: len(self.control("state")["flux"]) == 1, 30, "Chorus Pro to apply the deposit")
        self.run("follow_up")
        self.check(self.value("SELECT chorus_state FROM account_move WHERE id = %s", [move]) == "sending",
                   "looked up while the deposit might still be under way")
        # Time passes beyond the call's time-out: the next cron looks it up.
        self.sql("UPDATE account_move SET chorus_sent_date = chorus_sent_date - interval '10 minutes' WHERE id = %s",
                 [move], fetch=False)
        self.run("follow_up")
        final, invoice = self.sql("SELECT chorus_state, chorus_invoice_id FROM account_move WHERE id = %s", [move])[0]
        self.check(final == "integrated" and invoice, "after the cron: %r" % final)
        self.check(self.calls(DEPOSIT) == 1, "deposited %s times" % self.calls(DEPOSIT))
        return state, "%s (1 deposit)" % final

    def send_window_killed(self):
        """The sending report is made before the deposit and committed with its "sending" state: a worker killed
        in the call leaves both, and the report follows the invoice to its end."""
        self.control("reset")
        move = self.run("make_invoices", count=1)["ids"][0]
        self.control("faults", kind="slow", operation=DEPOSIT, delay=3)
        worker = self.start("send_window", id=move)
        wait_for(lambda: self.calls(DEPOSIT) == 1, 60, "the deposit call")
        self.kill(worker)
        state = self.value("SELECT chorus_state FROM account_move WHERE id = %s", [move])
        lines = self.value("SELECT count(*) FROM chorus_send_report_line WHERE move_id = %s", [move])
        self.check(state == "sending" and lines == 1, "the killed send left %r with %s report line(s)"
                   % (state, lines))
        self.check(self.run("report_outcomes", id=move)["outcomes"] == ["sending"], "the report of a killed send")
        wait_for(lambda: len(self.control("state")["flux"]) == 1, 30, "Chorus Pro to apply the deposit")
        self.sql("UPDATE account_move SET chorus_sent_date = chorus_sent_date - interval '10 minutes' WHERE id = %s",
                 [move], fetch=False)
        self.run("follow_up")
        outcomes = self.run("report_outcomes", id=move)["outcomes"]
        self.check(outcomes == ["integrated"], "the report after the cron: %s" % outcomes)
        self.check(self.calls(DEPOSIT) == 1, "deposited %s times" % self.calls(DEPOSIT))
        return "%s, report: sending" % state, "report: %s (1 deposit)" % outcomes[0]

    def deposit_cut_reply(self):
        self.control("reset")
        move = self.run("make_invoices", count=1)["ids"][0]
        self.control("faults", kind="cut_body", operation=DEPOSIT)
        self.run("send", id=move)
        state = self.value("SELECT chorus_state FROM account_move WHERE id = %s", [move])
        self.check(state == "unknown", "a reply cut in its body left %r" % state)
        self.run("follow_up")
        final = self.value("SELECT chorus_state FROM account_move WHERE id = %s", [move])
        self.check(final == "integrated", "after the cron: %r" % final)
        self.check(self.calls(DEPOSIT) == 1, "deposited %s times" % self.calls(DEPOSIT))
        return state, "%s (1 deposit)" % final

    def import_killed(self):
        self.fresh_buyer()
        # Killed on the second page's second invoice (the commune's invoices: a page of 10, then one of 2).
        self.control("faults", kind="slow", operation=RECEIVED_GET, delay=30, after=11)
        worker = self.start("import", page_size=10)
        wait_for(lambda: self.calls(RECEIVED_GET) >= 12, 120, "the second page")
        self.kill(worker)
        kept = self.received()
        log_state = self.value("SELECT state FROM chorus_inbound_import_log WHERE company_id = %s ORDER BY id DESC "
                               "LIMIT 1", [self.buyer])
        self.check(kept == 10, "the first page (10 invoices) is kept, found %s" % kept)
        self.check(log_state == "running", "the stopped import's log: %r" % log_state)
        self.check(self.lock_is_free(self.buyer), "the killed worker kept the company's import lock")
        self.control("faults/clear")
        result = self.run("import", page_size=10)
        states = [row[0] for row in self.sql("SELECT state FROM chorus_inbound_import_log WHERE company_id = %s "
                                             "ORDER BY id", [self.buyer])]
        self.check(states == ["interrupted", "done"], "logs: %s" % states)
        self.check(self.received() == self.distinct_received() == 30, "%s invoices, %s distinct"
                   % (self.received(), self.distinct_received()))
        return "%s kept, log %s" % (kept, log_state), "%s (30, none twice)" % result["state"]

    def import_twice_at_once(self):
        self.fresh_buyer()
        self.control("faults", kind="slow", operation=ACTIVE_STRUCTURES, delay=10)
        first = self.start("import")
        wait_for(lambda: self.calls(ACTIVE_STRUCTURES) >= 1, 60, "the first import")
        second = self.finish(self.start("import"))
        first = self.finish(first)
        self.check(second["state"] == "error" and "already running" in second["message"],
                   "the second import: %r" % second)
        self.check(first["state"] == "done", "the first import: %r" % first)
        self.check(self.received() == self.distinct_received() == 30, "%s invoices" % self.received())
        self.check(self.calls(RECEIVED_GET) == 30, "%s detail calls" % self.calls(RECEIVED_GET))
        return "one runs, one stops", "30, none twice"

    def import_database_error_in_a_page(self):
        self.fresh_buyer()
        refused = "NAS-2026-00002"
        self.sql("""CREATE OR REPLACE FUNCTION chorus_process_refuse() RETURNS trigger AS $$
                    BEGIN IF NEW.name = '%s' THEN RAISE EXCEPTION 'refused for the process test'; END IF;
                    RETURN NEW; END $$ LANGUAGE plpgsql;
                    CREATE TRIGGER chorus_process_refuse BEFORE INSERT ON chorus_inbound_invoice
                    FOR EACH ROW EXECUTE FUNCTION chorus_process_refuse()""" % refused, fetch=False)
        try:
            result = self.run("import")
        finally:
            self.sql("DROP TRIGGER chorus_process_refuse ON chorus_inbound_invoice", fetch=False)
        retry = self.value("SELECT reason FROM chorus_retry WHERE company_id = %s", [self.buyer])
        self.check(self.received() == 29, "%s imported" % self.received())
        self.check(retry and "refused for the process test" in retry, "retry list: %r" % retry)
        self.check(result["state"] == "error" and self.lock_is_free(self.buyer), "log %r" % result["state"])
        # Its delay over ("Try again now"): the next run brings it in.
        self.sql("UPDATE chorus_retry SET next_try = now() AT TIME ZONE 'UTC' - interval '1 second'", fetch=False)
        result = self.run("import")
        self.check(self.received() == 30 and not self.value("SELECT count(*) FROM chorus_retry"),
                   "after the next run: %s" % self.received())
        return "29 + 1 to retry", "%s (30)" % result["state"]

    def import_database_error_aborting(self):
        self.fresh_buyer()
        self.sql("""CREATE OR REPLACE FUNCTION chorus_process_abort() RETURNS trigger AS $$
                    BEGIN RAISE EXCEPTION 'history refused for the process test'; END $$ LANGUAGE plpgsql;
                    CREATE TRIGGER chorus_process_abort BEFORE INSERT ON chorus_inbound_invoice_status
                    FOR EACH ROW EXECUTE FUNCTION chorus_process_abort()""", fetch=False)
        try:
            result = self.run("import")
        finally:
            self.sql("DROP TRIGGER chorus_process_abort ON chorus_inbound_invoice_status", fetch=False)
        self.check(result["state"] == "error" and "unexpected error" in (result["message"] or ""),
                   "the log says %r" % result)
        self.check(self.lock_is_free(self.buyer), "the lock stayed after the database error")
        self.check(self.received() == 0, "the aborted page left %s invoices" % self.received())
        result = self.run("import")
        self.check(result["state"] == "done" and self.received() == 30, "after the next run: %r" % result)
        return "log error, lock free", "%s (30)" % result["state"]

    def received_ids(self):
        return {row[0] for row in self.sql("SELECT chorus_invoice_id FROM chorus_inbound_invoice WHERE company_id = %s",
                                           [self.buyer])}

    def import_listed_late(self):
        """Chorus Pro's search shows invoices after the time of their status, behind a newer one: 5 minutes late
        (within the window's overlap: the next run), 40 minutes late with a run in between (past the overlap:
        the daily full listing). Each is imported, once."""
        self.fresh_buyer()
        self.run("import")
        late, later = self.control("inbox/generate", count=2)["created"]
        self.control("invoice/listed-late", idFacture=late, seconds=300)
        self.control("invoice/listed-late", idFacture=later, seconds=2400)
        self.control("advance", seconds=60)
        newer = self.control("inbox/generate", count=1)["created"][0]
        self.run("import")
        imported = self.received_ids()
        self.check(str(newer) in imported and not {str(late), str(later)} & imported,
                   "after the first run: %s" % sorted({str(late), str(later), str(newer)} & imported))
        self.control("advance", seconds=1200)
        self.run("import")
        self.check(str(late) in self.received_ids(), "the invoice listed 5 minutes late was not imported")
        # A day later (Odoo's clock: the mark's last full listing moved back; Chorus Pro's: advanced).
        self.control("advance", seconds=86400)
        self.sql("UPDATE chorus_listing_mark SET full_listed_on = full_listed_on - interval '1 day' "
                 "WHERE company_id = %s", [self.buyer], fetch=False)
        result = self.run("import")
        self.check(str(later) in self.received_ids(), "the invoice listed 40 minutes late was never imported")
        self.check(self.received() == self.distinct_received() == 33, "%s invoices" % self.received())
        return "newer in, late ones not shown yet", "%s: both late ones imported (33, none twice)" % result["state"]

    def import_one_invoice_failing(self):
        """A persistent HTTP 500 on one invoice's detail among 100: the 99 others are imported, it waits in the
        retry list with its reason, and comes in once Chorus Pro answers for it."""
        self.fresh_buyer()
        self.control("inbox/clear")
        target = self.control("inbox/generate", count=100)["created"][41]
        self.control("faults", kind="500", operation=RECEIVED_GET, count=100000, invoice=target)
        result = self.run("import")
        reason = self.value("SELECT reason FROM chorus_retry WHERE company_id = %s AND chorus_invoice_id = %s",
                            [self.buyer, str(target)])
        self.check(self.received() == 99 and str(target) not in self.received_ids(), "%s imported" % self.received())
        self.check(reason and "500" in reason, "its retry entry: %r" % reason)
        self.check(result["state"] == "error" and "wait to be imported again" in (result["message"] or ""),
                   "the log says %r" % result)
        self.control("faults/clear")
        self.sql("UPDATE chorus_retry SET next_try = now() AT TIME ZONE 'UTC' - interval '1 second'", fetch=False)
        result = self.run("import")
        left = self.value("SELECT count(*) FROM chorus_retry WHERE company_id = %s", [self.buyer])
        self.check(self.received() == self.distinct_received() == 100 and not left,
                   "after the next run: %s imported, %s to retry" % (self.received(), left))
        return "99 imported, 1 to retry (HTTP 500)", "%s (100, none twice)" % result["state"]

    def mandate_raising_does_not_delay_pushes(self):
        """Every bill of a mandate run fails in the database, the first one held until the harness lets it go:
        the status pushes, a scheduled action of their own, go through meanwhile; the mandates wait in the
        retry list and are made once it is fixed."""
        ids = self.prepared_mandates(3)
        rejected = self.run("queue_status", count=2, status="REJETEE", reason="Facture en double")["ids"]
        self.sql("""CREATE OR REPLACE FUNCTION chorus_process_refuse_bill() RETURNS trigger AS $$
                    BEGIN IF NEW.move_type = 'in_invoice' THEN
                    PERFORM pg_advisory_lock(4242); PERFORM pg_advisory_unlock(4242);
                    RAISE EXCEPTION 'bill refused for the process test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
                    CREATE TRIGGER chorus_process_refuse_bill BEFORE INSERT ON account_move
                    FOR EACH ROW EXECUTE FUNCTION chorus_process_refuse_bill()""", fetch=False)
        holder = self.db()
        holder.autocommit = True
        try:
            holder.cursor().execute("SELECT pg_advisory_lock(4242)")
            mandating = self.start("mandate", ids=ids)
            wait_for(lambda: self.sql("SELECT 1 FROM pg_stat_activity WHERE datname = %s AND wait_event = "
                                      "'advisory'", [self.database]), 60, "the first bill to be under way")
            # The mandate run cannot end while the lock is held: a push waiting for it would never finish.
            self.finish(self.start("push"), timeout=120)
            pushed = self.value("SELECT count(*) FROM chorus_inbound_invoice WHERE id = ANY(%s) AND sync_state = "
                                "'done' AND chorus_status = 'REJETEE'", [rejected])
            self.check(pushed == 2, "%s of 2 REJETEE pushed while a mandate was under way" % pushed)
            self.check(mandating.poll() is None, "the mandate run ended while its bill was held")
            holder.cursor().execute("SELECT pg_advisory_unlock(4242)")
            report = self.finish(mandating)["report"]
        finally:
            holder.close()
            self.sql("DROP TRIGGER IF EXISTS chorus_process_refuse_bill ON account_move; "
                     "DROP FUNCTION IF EXISTS chorus_process_refuse_bill()", fetch=False)
        waiting = self.value("SELECT count(*) FROM chorus_retry WHERE operation = 'mandate' AND res_id = ANY(%s) AND "
                             "reason LIKE '%%bill refused for the process test%%'", [ids])
        self.check(waiting == 3 and self.bills(ids) == 0, "%s mandates waiting, %s bills" % (waiting, self.bills(ids)))
        self.check(report.count("not mandated") == 3, "the user's report: %s" % report)
        self.sql("UPDATE chorus_retry SET next_try = now() AT TIME ZONE 'UTC' - interval '1 second'", fetch=False)
        self.run("mandates")
        self.run("push")
        self.check(self.bills(ids) == 3 and self.mandated_in_chorus(ids), "%s bills after the fix" % self.bills(ids))
        return "2 pushes done during 3 failing mandates", "3 bills, 3 MANDATEE"

    def completion_brings_documents(self):
        """The supplier completes a suspended invoice with a new document: the next import downloads its
        documents again (the module's files replaced, a user's note kept)."""
        self.fresh_buyer()
        self.run("import")
        invoice = self.run("queue_status", count=1, status="SUSPENDUE", reason="Bon de livraison manquant")["ids"][0]
        self.run("push")
        chorus_id = self.value("SELECT chorus_invoice_id FROM chorus_inbound_invoice WHERE id = %s", [invoice])

        def downloaded():
            return sorted(row[0] for row in self.sql(
                "SELECT name FROM ir_attachment WHERE res_model = 'chorus.inbound.invoice' AND res_id = %s AND "
                "chorus_downloaded", [invoice]))
        before = downloaded()
        self.sql("INSERT INTO ir_attachment (name, res_model, res_id, type, mimetype) VALUES "
                 "('note_interne.txt', 'chorus.inbound.invoice', %s, 'binary', 'text/plain')", [invoice], fetch=False)
        self.control("invoice/complete", idFacture=int(chorus_id), pieces=["bon_de_livraison_signe.pdf"],
                     commentaire="Bon de livraison joint")
        self.run("import")
        after = downloaded()
        status, documents = self.sql("SELECT chorus_status, documents_state FROM chorus_inbound_invoice WHERE id = %s",
                                     [invoice])[0]
        self.check((status, documents) == ("COMPLETEE", "done"), "after the import: %s, documents %s"
                   % (status, documents))
        self.check(after == sorted(before + ["bon_de_livraison_signe.pdf"]), "documents %s, before %s"
                   % (after, before))
        self.check(self.value("SELECT count(*) FROM ir_attachment WHERE res_model = 'chorus.inbound.invoice' AND "
                              "res_id = %s AND name = 'note_interne.txt'", [invoice]) == 1, "the user's note is gone")
        return "%s documents, then COMPLETEE" % len(before), "%s documents, the note kept" % len(after)

    def prepared_mandates(self, count):
        self.fresh_buyer()
        self.run("import")
        ids = self.run("prepare_mandates", count=count)["ids"]
        return ids

    def bills(self, ids):
        return self.value("SELECT count(*) FROM account_move WHERE chorus_inbound_id = ANY(%s)", [ids])

    def mandated_in_chorus(self, ids):
        chorus_ids = {int(row[0]) for row in self.sql(
            "SELECT chorus_invoice_id FROM chorus_inbound_invoice WHERE id = ANY(%s)", [ids])}
        bills = {row[0]: row[1] for row in self.sql(
            "SELECT i.chorus_invoice_id, m.name FROM account_move m JOIN chorus_inbound_invoice i "
            "ON i.id = m.chorus_inbound_id WHERE i.id = ANY(%s)", [ids])}
        invoices = [i for i in self.control("state")["invoices"] if i["idFacture"] in chorus_ids]
        return all(i["statut"] == "MANDATEE" and i["numeroDpMandat"] == bills.get(str(i["idFacture"]))
                   for i in invoices) and len(invoices) == len(ids)

    def mandate_killed_making_a_bill(self):
        ids = self.prepared_mandates(3)
        pushes = self.calls(PROCESS)
        # Another transaction holds the table of moves: the worker waits in the middle of the first bill.
        blocker = self.db()
        blocker.cursor().execute("LOCK TABLE account_move IN SHARE MODE")
        worker = self.start("mandate", ids=ids)
        wait_for(lambda: self.sql("SELECT 1 FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                                  [self.database]), 60, "the worker to wait on the bill's insert")
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
        blocker.rollback()
        blocker.close()
        self.kill(worker)
        requested = self.value("SELECT count(*) FROM chorus_inbound_invoice WHERE id = ANY(%s) AND "
                               "mandate_state = 'requested'", [ids])
        self.check(self.bills(ids) == 0 and requested == 3, "%s bills, %s requested" % (self.bills(ids), requested))
        self.run("mandates")  # the mandates' scheduled action makes the bills, then the push's tells Chorus Pro
        self.check(self.bills(ids) == 3, "%s bills after the cron" % self.bills(ids))
        self.run("push")
        self.check(self.mandated_in_chorus(ids), "Chorus Pro does not have the three mandates")
        self.check(self.calls(PROCESS) - pushes == 3, "%s MANDATEE sent" % (self.calls(PROCESS) - pushes))
        self.run("mandates")
        self.run("push")
        self.check(self.bills(ids) == 3 and self.calls(PROCESS) - pushes == 3, "the next cron did something again")
        return "0 bills, 3 requested", "3 bills, 3 MANDATEE"

    def mandate_killed_during_push(self):
        ids = self.prepared_mandates(3)
        pushes = self.calls(PROCESS)
        self.control("faults", kind="slow", operation=PROCESS, delay=3)
        worker = self.start("mandate", ids=ids)
        wait_for(lambda: self.calls(PROCESS) > pushes, 60, "the first MANDATEE")
        self.kill(worker)
        pending = self.value("SELECT count(*) FROM chorus_inbound_invoice WHERE id = ANY(%s) AND sync_state = "
                             "'pending' AND sync_status = 'MANDATEE'", [ids])
        self.check(self.bills(ids) == 3 and pending == 3, "%s bills, %s pending" % (self.bills(ids), pending))
        time.sleep(4)  # Chorus Pro applies the call the killed worker made
        self.run("push")
        done_query = ("SELECT count(*) FROM chorus_inbound_invoice WHERE id = ANY(%s) AND sync_state = 'done' "
                      "AND chorus_status = 'MANDATEE'")
        self.check(self.value(done_query, [ids]) == 2, "the push the killed worker had under way was not left "
                                                       "alone while it could still be under way")
        # Time passes beyond the call's time-out: the next cron looks that one up (Chorus Pro has it).
        self.sql("UPDATE chorus_inbound_invoice SET sync_attempt_date = sync_attempt_date - interval '10 minutes' "
                 "WHERE id = ANY(%s) AND sync_state = 'pending'", [ids], fetch=False)
        self.run("push")
        done = self.value(done_query, [ids])
        self.check(done == 3 and self.mandated_in_chorus(ids), "%s done" % done)
        self.check(self.calls(PROCESS) - pushes == 3, "%s MANDATEE sent for 3 invoices"
                   % (self.calls(PROCESS) - pushes))
        return "3 bills, 3 pending", "3 MANDATEE, none twice"

    def push_twice_at_once(self):
        self.fresh_buyer()
        self.run("import")
        ids = self.run("queue_status", count=10, status="SERVICE_FAIT", reason="Service fait")["ids"]
        pushes = self.calls(PROCESS)
        self.control("faults", kind="slow", operation=PROCESS, delay=0.5, count=10)
        first, second = self.start("push"), self.start("push")
        self.finish(first)
        self.finish(second)
        done = self.value("SELECT count(*) FROM chorus_inbound_invoice WHERE id = ANY(%s) AND sync_state = 'done' "
                          "AND chorus_status = 'SERVICE_FAIT'", [ids])
        self.check(self.calls(PROCESS) - pushes == 10, "%s pushes for 10 statuses" % (self.calls(PROCESS) - pushes))
        self.check(done == 10, "%s done" % done)
        return "two workers", "10 pushed once each"

    def structure_lookup_killed(self):
        """The lookup job commits customer by customer: killed on the third, the first two are checked, the others
        still to check (nothing half-written); the next run checks them, every service listed once."""
        self.control("reset")
        self.sql("UPDATE res_partner SET chorus_structure_state = 'checked' WHERE chorus_structure_state = 'to_check'",
                 fetch=False)  # the demo data's customers: not this scenario's queue
        ids = self.run("chorus_customers", count=5, sirets=["21340012000019", "26830021700018"])["ids"]

        def states():
            return dict(self.sql("SELECT chorus_structure_state, count(*) FROM res_partner WHERE id = ANY(%s) "
                                 "GROUP BY 1", [ids]))
        self.control("faults", kind="slow", operation=STRUCTURE_SEARCH, delay=30, after=2)
        worker = self.start("check_structures")
        wait_for(lambda: self.calls(STRUCTURE_SEARCH) >= 3, 60, "the third customer's lookup")
        self.kill(worker)
        after_kill = states()
        self.check(after_kill == {"checked": 2, "to_check": 3}, "the killed job left %s" % after_kill)
        half = self.value("SELECT count(*) FROM res_partner WHERE id = ANY(%s) AND chorus_structure_state = "
                          "'to_check' AND (chorus_structure_id > 0 OR id IN (SELECT partner_id FROM "
                          "chorus_partner_service))", [ids])
        self.check(half == 0, "%s customers half looked up" % half)
        self.control("faults/clear")
        self.run("check_structures")
        final = states()
        self.check(final == {"checked": 5}, "after the next run: %s" % final)
        twice = self.sql("SELECT partner_id, code FROM chorus_partner_service WHERE partner_id = ANY(%s) "
                         "GROUP BY 1, 2 HAVING count(*) > 1", [ids])
        self.check(not twice, "services listed twice: %s" % twice)
        return "2 checked, 3 to check", "5 checked, services once"

    def batch_of_twenty(self):
        self.control("reset")
        made = self.run("make_invoices", count=20, render=True, method="email")
        mails = self.value("SELECT count(*) FROM mail_mail")
        result = self.run("batch_send", ids=made["ids"], check_pdfs=True)
        self.check(result["states"] == ["deposited"], "after the batch: %r" % result)
        # Debian's wkhtmltopdf renders one invoice per call: the 20 calls ran side by side, in threads, each once.
        threads = result["wkhtmltopdf_threads"]
        self.check(len(threads) == 20 and all(name.startswith("chorus_pdf") for name in threads),
                   "wkhtmltopdf ran in %s" % threads)
        self.check(result["own_pdfs"] == [True] * 20, "each invoice's PDF is its own: %s" % result["own_pdfs"])
        self.check(self.calls(DEPOSIT) == 1 and len(result["flux"]) == 1, "%s flux for 20 invoices"
                   % self.calls(DEPOSIT))
        self.check(result["pdfs"] == [True] * 20, "each invoice's own PDF: %s" % result["pdfs"])
        flux = self.control("state")["flux"][0]
        self.check(flux["nomFichier"].endswith(".tar.gz"), "flux %s" % flux["nomFichier"])
        self.check(self.value("SELECT count(*) FROM mail_mail") == mails, "somebody was emailed")
        return "20 PDFs rendered side by side", "1 flux of 20, nobody emailed"

    def two_servers_share_a_batch(self):
        """200 invoices sent from the batch window while two Odoo servers run on the database, two cron workers
        each: the worker lanes of both servers take chunks of 10, each invoice is deposited once."""
        self.control("reset")
        ids = self.run("make_invoices", count=200)["ids"]
        lanes = [row[0] for row in self.sql("SELECT res_id FROM ir_model_data WHERE module = "
                                             "'l10n_fr_chorus_efacture' AND name LIKE 'ir_cron_chorus_lane_%%'")]
        active = [row[0] for row in self.sql("SELECT id FROM ir_cron WHERE active")]
        # Only the lanes: the other scheduled actions are not this scenario's (the imports, the follow-up).
        self.sql("UPDATE ir_cron SET active = (id = ANY(%s))", [lanes], fetch=False)
        logs = [os.path.join(self.tmp, "server_%s.log" % n) for n in (1, 2)]
        servers = [OdooServer(self.config, self.database, cron_threads=2, logfile=log, log_level="info")
                   for log in logs]
        self.processes += [server.process for server in servers]
        try:
            for server in servers:
                server.wait_ready()
            deposits = self.calls(DEPOSIT)
            queued = self.run("queue_batch", ids=ids, chunk=10)["queued"]
            self.check(queued == 200, "%s queued" % queued)
            wait_for(lambda: not self.value("SELECT count(*) FROM account_move WHERE id = ANY(%s) AND "
                                            "(chorus_send_request IS NOT NULL OR chorus_state IS NULL OR "
                                            "chorus_state = 'sending')", [ids]), 600, "every invoice deposited")
            # A lane logs what its run did once the run ends, after its last deposit is committed: stopped too
            # early, a server has not written it yet.
            deposited_flux = self.value("SELECT count(DISTINCT chorus_flux_number) FROM account_move "
                                        "WHERE id = ANY(%s)", [ids])
            wait_for(lambda: sum(lane_runs(log) for log in logs) >= deposited_flux, 60, "the lanes' runs logged")
        finally:
            for server in servers:
                server.stop()
            self.sql("UPDATE ir_cron SET active = (id = ANY(%s))", [active], fetch=False)
        states = dict(self.sql("SELECT chorus_state, count(*) FROM account_move WHERE id = ANY(%s) GROUP BY 1",
                               [ids]))
        flux = self.value("SELECT count(DISTINCT chorus_flux_number) FROM account_move WHERE id = ANY(%s)", [ids])
        self.check(states == {"deposited": 200}, "after the queue: %s" % states)
        # One flux per chunk; a chunk can be smaller than 10 when another worker took some of its invoices first.
        self.check(self.calls(DEPOSIT) - deposits == flux >= 20, "%s deposits, %s flux for chunks of 10"
                   % (self.calls(DEPOSIT) - deposits, flux))
        self.control("advance", seconds=1)  # Chorus Pro reads the flux
        numbers = [i["numeroFacture"] for i in self.control("state")["invoices"]]
        names = [row[0] for row in self.sql("SELECT name FROM account_move WHERE id = ANY(%s)", [ids])]
        self.check(all(numbers.count(name) == 1 for name in names), "an invoice is twice in Chorus Pro")
        split = [lane_runs(log) for log in logs]
        self.check(all(split) and sum(split) == flux, "chunks per server: %s, %s flux" % (split, flux))
        return "200 queued, 2 servers x 2 cron workers", "%s chunks (%s + %s), each invoice once" % (flux, *split)

    def report(self):
        width = max(len(str(value)) for row in self.rows for value in row[:4]) + 2
        lines = ["Real-process matrix (scenario -> after the fault > after the next cron run):"]
        for name, after_fault, after_recovery, verdict, detail in self.rows:
            lines.append("%s %s > %s  %s%s" % (name.ljust(42), after_fault.ljust(width), after_recovery.ljust(width),
                                               verdict, ("  " + detail) if detail else ""))
        return "\n".join(lines)


SCENARIOS = [
    ("deposit: worker killed in the call", "deposit_killed"),
    ("send window: worker killed in the call", "send_window_killed"),
    ("deposit: reply cut in its body", "deposit_cut_reply"),
    ("import: worker killed in a page", "import_killed"),
    ("import: two workers at once", "import_twice_at_once"),
    ("import: database error in a page", "import_database_error_in_a_page"),
    ("import: database error aborting the run", "import_database_error_aborting"),
    ("import: an invoice listed late", "import_listed_late"),
    ("import: HTTP 500 on 1 invoice of 100", "import_one_invoice_failing"),
    ("import: a completion's new documents", "completion_brings_documents"),
    ("mandate: worker killed making a bill", "mandate_killed_making_a_bill"),
    ("mandate: worker killed in the push", "mandate_killed_during_push"),
    ("mandates failing, pushes go on", "mandate_raising_does_not_delay_pushes"),
    ("status push: two workers at once", "push_twice_at_once"),
    ("structure lookup: worker killed mid-run", "structure_lookup_killed"),
    ("batch of 20 (wkhtmltopdf), email customer", "batch_of_twenty"),
    ("batch of 200: two servers, four workers", "two_servers_share_a_batch"),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--only", help="run the scenarios whose method name contains one of these (comma-separated)")
    args = parser.parse_args()
    suite = Suite(args.config, args.database)
    try:
        suite.start_services()
        for name, method in SCENARIOS:
            if not args.only or any(part in method for part in args.only.split(",")):
                suite.scenario(name, getattr(suite, method))
    finally:
        suite.stop()
    print(suite.report())
    failed = [row for row in suite.rows if row[3] != "ok"]
    print("%d scenarios passed, %d failed" % (len(suite.rows) - len(failed), len(failed)))
    sys.exit(1 if failed or not suite.rows else 0)


if __name__ == "__main__":
    main()
