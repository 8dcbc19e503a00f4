"""Import of N received invoices from the sandbox: wall time, invoices per second, SQL queries and
HTTP calls per invoice, peak memory of the Odoo process.

    bash bench/run.sh import [N ...]        (default: 100 1000 10000)

Each N runs in its own process (peak memory is per run) against a fresh sandbox inbox.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402


def run_one(size, database):
    sandbox = common.Sandbox()
    try:
        sandbox.control("inbox/clear")
        sandbox.control("inbox/generate", count=size, buyer_siret=common.COMMUNE_SIRET)
        registry, cr, env = common.odoo_env(database)
        company = env.ref("base.main_company")
        common.point_at(company, sandbox, *common.BUYER)
        company.write({"chorus_receive": True})
        cr.execute("DELETE FROM chorus_inbound_invoice WHERE company_id = %s", [company.id])
        cr.execute("DELETE FROM ir_attachment WHERE res_model = 'chorus.inbound.invoice'")
        env["chorus.listing.mark"].sudo().search([("company_id", "=", company.id)]).unlink()
        env["chorus.retry"].sudo().search([("company_id", "=", company.id)]).unlink()
        cr.commit()
        calls_before = sandbox.calls()
        memory_before = common.peak_memory_mb()
        queries_before = cr.sql_log_count
        start = time.perf_counter()
        log = env["chorus.inbound.invoice"]._chorus_import_company(company)
        elapsed = time.perf_counter() - start
        queries = cr.sql_log_count - queries_before
        calls_after = sandbox.calls()
        http = sum(calls_after.values()) - sum(calls_before.values())
        imported = log.count_created
        result = {
            "invoices": size, "imported": imported, "documents": log.count_documents, "state": log.state,
            "seconds": round(elapsed, 2), "invoices_per_second": round(imported / elapsed, 1) if elapsed else None,
            "sql_per_invoice": round(queries / max(imported, 1), 1),
            "http_per_invoice": round(http / max(imported, 1), 2),
            "http_calls": {k: calls_after.get(k, 0) - calls_before.get(k, 0) for k in calls_after
                           if calls_after.get(k, 0) != calls_before.get(k, 0)},
            "memory_before_mb": round(memory_before, 1), "peak_memory_mb": round(common.peak_memory_mb(), 1),
        }
        cr.commit()
        cr.close()
        return result
    finally:
        sandbox.stop()


def main(argv):
    database = os.environ.get("BENCH_DB", "chorus_bench")
    if argv[:1] == ["--one"]:
        print("RESULT " + json.dumps(run_one(int(argv[1]), database)))
        return
    sizes = [int(a) for a in argv] or [100, 1000, 10000]
    rows = []
    for size in sizes:
        output = subprocess.run([sys.executable, __file__, "--one", str(size)], check=True, capture_output=True,
                                text=True).stdout
        rows.append(json.loads([line for line in output.splitlines() if line.startswith("RESULT ")][-1][7:]))
        print("N=%s done in %ss" % (size, rows[-1]["seconds"]), file=sys.stderr)
    common.print_table(rows, ["invoices", "imported", "seconds", "invoices_per_second", "sql_per_invoice",
                              "http_per_invoice", "memory_before_mb", "peak_memory_mb"])
    path = os.path.join(os.path.dirname(__file__), "results", "import.json")
    common.write_json(path, {"date": time.strftime("%Y-%m-%d %H:%M"), "runs": rows})
    print("written to %s" % path)


if __name__ == "__main__":
    main(sys.argv[1:])
