"""Sending N invoices through Chorus Pro's queue with 1, 2 and 4 cron workers: invoices per minute.

    bash bench/run.sh workers [N]        (default: 60)

For each number of workers: N posted invoices without a PDF (wkhtmltopdf renders each one, as in production)
are queued from the batch window ("Send to Chorus Pro"), then an Odoo server runs with that many cron workers
(and its HTTP, whence wkhtmltopdf fetches the report's assets); the clock runs from the queueing until the queue
is empty. Only the worker lanes are active meanwhile. Chunks of CHUNK invoices (a smaller chunk than the
module's default of 20, so that N invoices make enough units for four workers).
"""

import math
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
from bench_compare import SERVICE_CODE, commune_customer, make_moves, set_report_url  # noqa: E402
from bench_send import supplier_company  # noqa: E402

WORKERS = (1, 2, 4)
CHUNK = 5


def lanes_only(env):
    """Only the worker lanes active (the rest restored afterwards): returns the ids that were active."""
    lanes = [env.ref("l10n_fr_chorus_efacture.ir_cron_chorus_lane_%s" % n).id for n in (1, 2, 3, 4)]
    env.cr.execute("SELECT id FROM ir_cron WHERE active")
    active = [row[0] for row in env.cr.fetchall()]
    env.cr.execute("UPDATE ir_cron SET active = (id = ANY(%s))", [lanes])
    env.cr.commit()
    return active


def run(env, company, customer, workers, count, database):
    moves = make_moves(env, company, customer, count, "w%s" % workers, buyer_reference=SERVICE_CODE)  # no PDF yet
    logfile = os.path.join(tempfile.mkdtemp(prefix="chorus_bench_"), "server.log")
    server = common.OdooServer(os.environ["ODOO_CONF"], database, cron_threads=workers, logfile=logfile,
                               log_level="info").wait_ready()
    before = set_report_url(env, server.url)
    try:
        action = moves.action_chorus_send()
        wizard = env[action["res_model"]].with_context(action["context"]).create({})
        start = time.perf_counter()
        wizard.action_send_and_print()
        env.cr.commit()
        while True:
            # Queued, or taken and being deposited ("sending" is committed before the call, the request cleared).
            env.cr.execute("SELECT count(*) FROM account_move WHERE id = ANY(%s) AND (chorus_send_request IS NOT NULL "
                           "OR chorus_state IS NULL OR chorus_state = 'sending')", [moves.ids])
            if not env.cr.fetchone()[0]:
                break
            env.cr.commit()
            time.sleep(0.2)
        seconds = time.perf_counter() - start
        # The lanes' last runs log what they did once their transaction is committed: let them.
        deadline = time.time() + 10
        while common.lane_runs(logfile) < math.ceil(count / CHUNK) and time.time() < deadline:
            time.sleep(0.2)
    finally:
        server.stop()
        params = env["ir.config_parameter"].sudo()
        for key, value in before.items():
            params.set_param(key, value or False)
        env.cr.commit()
    env.invalidate_all()
    sent = sum(1 for move in moves if move.chorus_state == "deposited")
    if sent != count:
        raise RuntimeError("%s of %s invoices deposited: see %s" % (sent, count, logfile))
    return {"cron_workers": workers, "invoices": count, "sent": sent, "seconds": round(seconds, 1),
            "invoices_per_minute": round(count / seconds * 60, 1), "chunks": common.lane_runs(logfile)}


def main(argv):
    count = int(argv[0]) if argv else 60
    database = os.environ.get("BENCH_DB", "chorus_bench")
    sandbox = common.Sandbox()
    _registry, cr, env = common.odoo_env(database)
    active = lanes_only(env)
    env["ir.config_parameter"].sudo().set_param("l10n_fr_chorus_efacture.send_chunk", str(CHUNK))
    cr.commit()
    try:
        company = supplier_company(env, sandbox, "Bench Fournisseur (workers)")
        env = env(context=dict(env.context, allowed_company_ids=[company.id]))
        customer = commune_customer(env, company, "chorus_pro")
        customer._cron_chorus_check_structures()
        env.cr.commit()
        rows = [run(env, company, customer, workers, count, database) for workers in WORKERS]
    finally:
        env["ir.config_parameter"].sudo().set_param("l10n_fr_chorus_efacture.send_chunk", False)
        cr.execute("UPDATE ir_cron SET active = (id = ANY(%s))", [active])
        cr.commit()
        cr.close()
        sandbox.stop()
    common.print_table(rows, ["cron_workers", "invoices", "sent", "seconds", "invoices_per_minute", "chunks"])
    path = os.path.join(os.path.dirname(__file__), "results", "workers.json")
    common.write_json(path, {"date": time.strftime("%Y-%m-%d %H:%M"), "runs": rows})
    print("written to %s" % path)


if __name__ == "__main__":
    main(sys.argv[1:])
