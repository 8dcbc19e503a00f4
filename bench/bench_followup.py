"""The hourly status follow-up of a supplier with a long history: HTTP calls per run with N invoices already
sent and followed (not yet paid), their statuses all set in one minute (a month-end batch, an hour before the
first run), and K of them changed later.

    bash bench/run.sh followup [N [K]]        (default: 10000 10)

The first run has no mark yet and lists every open invoice; the later ones, an hour apart on Chorus Pro's
clock, ask only for the invoices whose status changed since the last run (periodeDateHeureEtatCourantDu,
tools/listing.py): their cost follows K, not N, and the batch is not listed again.
The invoices are made directly in the state the follow-up looks at (integrated, status MISE_A_DISPOSITION) and
removed at the end.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
from bench_send import supplier_company  # noqa: E402


def make_followed_invoices(env, company, customer, sent):
    """One draft invoice per [idFacture, numeroFacture] of the sandbox, marked as integrated in Chorus Pro."""
    Move = env["account.move"].with_company(company).with_context(tracking_disable=True)
    moves = Move.browse()
    for start in range(0, len(sent), 1000):
        moves |= Move.create([{"move_type": "out_invoice", "partner_id": customer.id, "ref": number}
                              for _id, number in sent[start:start + 1000]])
    # The follow-up's starting point, written as the deposit would have left it.
    env.cr.execute("""
        UPDATE account_move m SET chorus_state = 'integrated', chorus_invoice_status = 'MISE_A_DISPOSITION',
               chorus_invoice_id = v.chorus_id, chorus_flux_number = 'CPPBENCH'
          FROM unnest(%s::int[], %s::text[]) AS v(move_id, chorus_id) WHERE m.id = v.move_id
    """, [moves.ids, [str(chorus_id) for chorus_id, _number in sent]])
    env.invalidate_all()
    env.cr.commit()
    return moves


def run(env, sandbox, label, moves):
    before = sandbox.calls()
    start = time.perf_counter()
    env["account.move"]._cron_chorus_follow_up()
    seconds = time.perf_counter() - start
    after = sandbox.calls()
    calls = {op: after[op] - before.get(op, 0) for op in after if after[op] != before.get(op, 0)
             and not op.startswith("api/oauth")}
    env.invalidate_all()
    return {"run": label, "followed": len(moves), "http_calls": sum(calls.values()),
            "searches": calls.get("factures/v1/rechercher/fournisseur", 0),
            "histories": calls.get("factures/v1/consulter/historique", 0),
            "updated": env["account.move"].search_count([("id", "in", moves.ids),
                                                         ("chorus_invoice_status", "!=", "MISE_A_DISPOSITION")]),
            "seconds": round(seconds, 2)}


def main(argv):
    count = int(argv[0]) if argv else 10000
    changed = int(argv[1]) if len(argv) > 1 else 10
    database = os.environ.get("BENCH_DB", "chorus_bench")
    sandbox = common.Sandbox()
    moves = None
    try:
        _registry, cr, env = common.odoo_env(database)
        company = supplier_company(env, sandbox, "Bench Fournisseur (suivi)")  # no other bench's invoices
        env = env(context=dict(env.context, allowed_company_ids=[company.id]))
        env["chorus.listing.mark"].sudo().search([("company_id", "=", company.id)]).unlink()
        # Invoices left by earlier benchmarks were deposited in sandboxes that no longer run: not followed here.
        cr.execute("""UPDATE account_move SET chorus_state = 'error' WHERE company_id != %s
                      AND chorus_state IN ('sending', 'deposited', 'unknown', 'integrated')""", [company.id])
        customer = env["res.partner"].search([("name", "=", "Commune (suivi)")], limit=1) or env[
            "res.partner"].create({"name": "Commune (suivi)", "is_company": True, "siret": common.COMMUNE_SIRET,
                                   "country_id": env.ref("base.fr").id})
        sent = sandbox.control("sent/generate", count=count, supplier_siret=common.SUPPLIER_SIRET,
                               buyer_siret=common.COMMUNE_SIRET, age=3600)["created"]
        moves = make_followed_invoices(env, company, customer, sent)
        rows = [run(env, sandbox, "first run (no mark yet)", moves)]
        for label in ("an hour later, nothing changed", "an hour later, nothing changed"):
            sandbox.control("advance", seconds=3600)
            rows.append(run(env, sandbox, label, moves))
        for chorus_id, _number in sent[:changed]:
            sandbox.control("invoice/status", idFacture=chorus_id, statut="MANDATEE")
        sandbox.control("advance", seconds=3600)
        rows.append(run(env, sandbox, "an hour later, %s changed" % changed, moves))
        common.print_table(rows, ["run", "followed", "http_calls", "searches", "histories", "updated", "seconds"])
        common.write_json(os.path.join(os.path.dirname(__file__), "results", "followup.json"),
                          {"date": time.strftime("%Y-%m-%d %H:%M"), "runs": rows})
    finally:
        if moves:
            cr.execute("DELETE FROM account_move WHERE id = ANY(%s)", [moves.ids])
            cr.commit()
            cr.close()
        sandbox.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
