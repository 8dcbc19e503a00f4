"""Sending N invoices to the sandbox, one by one and in one batch: time per invoice split into XML
(CII export + XSD check), PDF (Factur-X embedding) and deposit (HTTP), the rest being checks, locks,
database writes and chatter.

    bash bench/run.sh send [N]        (default: 50)

The invoice's printed PDF is given (a small PDF, as the send flow passes the one it rendered), so
wkhtmltopdf's rendering, which Odoo does for any sending, is not counted.
"""

import base64
import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402

TIMES = collections.defaultdict(float)


def timed(category, function):
    def record(elapsed):
        TIMES[category] += elapsed
    return common.timing(function, record)


def instrument(env):
    from odoo.addons.l10n_fr_chorus_efacture.chorus import client as client_module
    from odoo.addons.l10n_fr_chorus_efacture.models import account_move_chorus_flux as move_module
    cii = type(env["account.edi.xml.cii"])
    cii._export_invoice = timed("xml", cii._export_invoice)
    move_module.xml_check_xsd = timed("xml", move_module.xml_check_xsd)
    move_module.generate_from_binary = timed("pdf", move_module.generate_from_binary)
    # The pre-flight check (EN 16931's rules in Saxon's process, Chorus Pro's own rules).
    from odoo.addons.l10n_fr_chorus_efacture.models import account_move_chorus_preflight as preflight_module
    preflight_module.VALIDATOR.check = timed("preflight", preflight_module.VALIDATOR.check)
    preflight_module.chorus_rule_failures = timed("preflight", preflight_module.chorus_rule_failures)
    client_module.ChorusProClient.deposit_flux = timed("deposit", client_module.ChorusProClient.deposit_flux)


def supplier_company(env, sandbox, name="Bench Fournisseur"):
    company = env["res.company"].search([("name", "=", name)], limit=1)
    if not company:
        company = env["res.company"].create({
            "name": name, "country_id": env.ref("base.fr").id, "currency_id": env.ref("base.EUR").id,
            "street": "12 avenue des Belges", "zip": "13100", "city": "Aix-en-Provence", "vat": "FR91746948785"})
        company.partner_id.siret = common.SUPPLIER_SIRET
        env["account.chart.template"]._load("fr", company, install_demo=False)
        env["res.partner.bank"].create({"acc_number": "FR7630004008230001234567842",
                                        "partner_id": company.partner_id.id, "allow_out_payment": True})
    common.point_at(company, sandbox, *common.SUPPLIER)
    return company


def make_invoices(env, company, customer, count, tag):
    from chorus_sandbox.documents import make_pdf
    Move = env["account.move"].with_company(company)
    tax = env["account.tax"].search([("company_id", "=", company.id), ("type_tax_use", "=", "sale"),
                                     ("amount", "=", 20.0)], limit=1)
    moves = Move.create([{
        "move_type": "out_invoice", "partner_id": customer.id, "buyer_reference": "SERV_TECHNIQUES",
        "invoice_line_ids": [(0, 0, {"name": "Maintenance %s" % i, "quantity": 3, "price_unit": 850.0,
                                     "tax_ids": [(6, 0, tax.ids)]}),
                             (0, 0, {"name": "Poste de travail", "quantity": 2, "price_unit": 420.0,
                                     "tax_ids": [(6, 0, tax.ids)]})],
    } for i in range(count)])
    moves.action_post()
    for move in moves:
        move.invoice_pdf_report_file = base64.b64encode(make_pdf(["Facture %s %s" % (move.name, tag)]))
    env.cr.commit()
    return moves


def measure(label, moves, send):
    TIMES.clear()
    start = time.perf_counter()
    send()
    total = time.perf_counter() - start
    count = len(moves)
    row = {"mode": label, "invoices": count, "sent": sum(1 for m in moves if m.chorus_state == "deposited"),
           "total_s": round(total, 2)}
    for category in ("xml", "preflight", "pdf", "deposit"):
        row[category + "_ms"] = round(TIMES[category] / count * 1000, 1)
    row["other_ms"] = round((total - sum(TIMES.values())) / count * 1000, 1)
    row["per_invoice_ms"] = round(total / count * 1000, 1)
    return row


def main(argv):
    count = int(argv[0]) if argv else 50
    database = os.environ.get("BENCH_DB", "chorus_bench")
    sandbox = common.Sandbox()
    try:
        _registry, cr, env = common.odoo_env(database)
        company = supplier_company(env, sandbox)
        env = env(context=dict(env.context, allowed_company_ids=[company.id]))
        customer = env["res.partner"].with_company(company).create({
            "name": "Commune de Saint-Véran-les-Pins", "is_company": True, "siret": common.COMMUNE_SIRET,
            "country_id": env.ref("base.fr").id, "invoice_sending_method": "chorus_pro"})
        customer._cron_chorus_check_structures()  # the background lookup, done before the clock starts
        cr.commit()
        instrument(env)
        one_by_one = make_invoices(env, company, customer, count, "a")
        rows = [measure("one by one", one_by_one, lambda: [move._chorus_send() for move in one_by_one])]
        batch = make_invoices(env, company, customer, count, "b")
        rows.append(measure("one batch", batch,
                            lambda: env["account.move"]._chorus_send_many({move: None for move in batch})))
        cr.commit()
        cr.close()
    finally:
        sandbox.stop()
    common.print_table(rows, ["mode", "invoices", "sent", "total_s", "xml_ms", "preflight_ms", "pdf_ms", "deposit_ms",
                              "other_ms", "per_invoice_ms"])
    path = os.path.join(os.path.dirname(__file__), "results", "send.json")
    common.write_json(path, {"date": time.strftime("%Y-%m-%d %H:%M"), "runs": rows})
    print("written to %s" % path)


if __name__ == "__main__":
    main(sys.argv[1:])
