"""One Odoo worker of the real-process suite: runs one operation on the database, with real commits,
as a cron or a user's request would, then prints ``RESULT <json>``.

    python worker.py <odoo.conf> <database> <operation> [arguments as JSON]

The harness (run.py) starts it, kills it when it has to, and checks what it left in the database.
"""

import base64
import io
import json
import sys
import threading

SUPPLIER_COMPANY = "Ateliers Numériques de Provence"
BUYER_COMPANY = "Mairie de Saint-Véran-les-Pins"
CLIENT = ("sandbox-client-id", "sandbox-client-secret")
SUPPLIER_ACCOUNT = ("TECH_1_ANP@cpro.fr", "Sandbox-Supplier-2026!")
BUYER_ACCOUNT = ("TECH_1_SVLP@cpro.fr", "Sandbox-Buyer-2026!")


def companies(env):
    Company = env["res.company"]
    return Company.search([("name", "=", SUPPLIER_COMPANY)]), Company.search([("name", "=", BUYER_COMPANY)])


def admin_env(env, company):
    """The administrator, in ``company``, with the groups a public accountant has."""
    admin = env.ref("base.user_admin")
    admin.sudo().groups_id |= env.ref("l10n_fr_chorus_efacture.group_chorus_inbound_validator")
    admin.sudo().company_ids |= company
    return env(user=admin.id, context={"allowed_company_ids": company.ids})


# ------------------------------------------------------------------ operations
def op_setup(env, args):
    """Point the demo supplier and buyer at this run's sandbox; PDFs rendered through this run's server."""
    supplier, buyer = companies(env)
    for company, (login, password) in ((supplier, SUPPLIER_ACCOUNT), (buyer, BUYER_ACCOUNT)):
        company.write({"chorus_environment": "custom", "chorus_api_url": args["sandbox"],
                       "chorus_oauth_url": args["sandbox"] + "/api/oauth/token", "chorus_client_id": CLIENT[0],
                       "chorus_client_secret": CLIENT[1], "chorus_timeout": 5})
        company._chorus_set_technical_account(login, company._chorus_encrypt(password), "2099-12-31")
    env["chorus.listing.mark"].sudo().search([("company_id", "in", (supplier | buyer).ids)]).unlink()
    # Every invoice the sandbox makes is Odoo's to mandate, whatever day the run is.
    buyer.chorus_inbound_start_date = "2000-01-01"
    # Unpaced: the suite looks at commits and crashes, not at the client's pace (tested on its own).
    env["ir.config_parameter"].sudo().set_param("l10n_fr_chorus_efacture.calls_per_second", "0")
    icp = env["ir.config_parameter"].sudo()
    icp.set_param("web.base.url", args["server"])
    icp.set_param("web.base.url.freeze", "True")
    icp.set_param("report.url", args["server"])
    return {"supplier": supplier.id, "buyer": buyer.id}


def op_make_invoices(env, args):
    """Posted customer invoices of the supplier to the commune (Chorus Pro, a service code), each with its
    printed PDF unless ``render`` (then Odoo renders it when sending, with wkhtmltopdf)."""
    supplier, _buyer = companies(env)
    env = admin_env(env, supplier)
    # The demo's commune (other customers may share its SIRET: the structure scenario makes some, with no address).
    commune = env.ref("l10n_fr_chorus_efacture.partner_commune_saint_veran")
    if args.get("method"):
        commune.with_company(supplier).invoice_sending_method = args["method"]
        commune.email = "mairie@saint-veran.example.fr"
    tax = env["account.tax"].search([("company_id", "=", supplier.id), ("type_tax_use", "=", "sale"),
                                     ("amount", "=", 20)], limit=1)
    moves = env["account.move"]
    for number in range(args["count"]):
        moves |= env["account.move"].create({
            "move_type": "out_invoice", "partner_id": commune.id, "company_id": supplier.id,
            "buyer_reference": "SERV_TECHNIQUES",
            "invoice_line_ids": [(0, 0, {"name": "Maintenance %s" % number, "quantity": 1,
                                         "price_unit": 500 + number, "tax_ids": [(6, 0, tax.ids)]})],
        })
    moves.action_post()
    if not args.get("render"):
        from chorus_sandbox.documents import make_pdf
        for move in moves:
            move.invoice_pdf_report_file = base64.b64encode(make_pdf(["Facture %s" % move.name]))
    return {"ids": moves.ids, "partner": commune.id}


def op_send(env, args):
    move = env["account.move"].browse(args["id"])
    try:
        move._chorus_send()
    except Exception as error:  # the user would read it
        return {"error": str(error)[:300]}
    return {"state": move.chorus_state}


def watch_wkhtmltopdf():
    """The thread of each wkhtmltopdf run (Odoo's own _run_wkhtmltopdf, whatever calls it)."""
    from odoo.addons.base.models.ir_actions_report import IrActionsReport
    run, threads = IrActionsReport._run_wkhtmltopdf, []

    def watched(self, *args, **kwargs):
        threads.append(threading.current_thread().name)
        return run(self, *args, **kwargs)
    IrActionsReport._run_wkhtmltopdf = watched
    return threads


def page_contents(pdf):
    """What each page draws (the PDF's other parts, dates, embedded files, differ from one rendering to another)."""
    from odoo.tools.pdf import PdfFileReader
    return [page.get_contents().get_data() for page in PdfFileReader(io.BytesIO(pdf)).pages]


def own_pdfs(env, moves):
    """Whether each invoice's PDF draws what the invoice rendered alone draws."""
    report = env["ir.actions.report"].with_context(chorus_invoice_pdf=True, report_pdf_no_attachment=True)
    alone = {move: page_contents(report._pre_render_qweb_pdf("account.account_invoices", move.ids)[0][move.id]
                                 ["stream"].getvalue()) for move in moves}
    return [bool(alone[move]) and page_contents(move.invoice_pdf_report_id.raw) == alone[move] for move in moves]


def op_batch_send(env, args):
    """"Send to Chorus Pro" on the invoices, then a worker lane, chunk after chunk, as its cron runs it."""
    supplier, _buyer = companies(env)
    env = admin_env(env, supplier)
    moves = env["account.move"].browse(args["ids"])
    wkhtmltopdf_threads = watch_wkhtmltopdf()
    action = moves.action_chorus_send()
    wizard = env[action["res_model"]].with_context(action["context"]).create({})
    wizard.action_send_and_print()
    env.cr.commit()
    while env["chorus.worker"].sudo()._chorus_run(["send"]):
        env.cr.commit()
    moves.invalidate_recordset()
    return {"states": sorted(set(moves.mapped("chorus_state"))),
            "flux": sorted(set(moves.mapped("chorus_flux_number"))),
            "pdfs": [bool(m.invoice_pdf_report_id) and m.invoice_pdf_report_id.raw.startswith(b"%PDF")
                     for m in moves],
            "errors": [m.chorus_error for m in moves if m.chorus_error],
            "wkhtmltopdf_threads": list(wkhtmltopdf_threads),  # before own_pdfs renders again
            "own_pdfs": own_pdfs(env, moves) if args.get("check_pdfs") else None}


def op_queue_batch(env, args):
    """"Send to Chorus Pro" on the invoices from the batch window: queued for the worker lanes (which run in the
    servers' cron workers), ``chunk`` invoices a unit."""
    supplier, _buyer = companies(env)
    env["ir.config_parameter"].sudo().set_param("l10n_fr_chorus_efacture.send_chunk", str(args.get("chunk", 20)))
    env = admin_env(env, supplier)
    moves = env["account.move"].browse(args["ids"])
    action = moves.action_chorus_send()
    wizard = env[action["res_model"]].with_context(action["context"]).create({})
    wizard.action_send_and_print()
    lanes = [env.ref("l10n_fr_chorus_efacture.ir_cron_chorus_lane_%s" % n).id for n in (1, 2, 3, 4)]
    return {"queued": env["account.move"].search_count([("id", "in", moves.ids),
                                                         ("chorus_send_request", "!=", False)]), "lanes": lanes}


def op_send_window(env, args):
    """"Send to Chorus Pro" from the invoice: the send window, as a user clicks it (its sending report made)."""
    supplier, _buyer = companies(env)
    env = admin_env(env, supplier)
    move = env["account.move"].browse(args["id"])
    wizard = env["account.move.send.wizard"].with_context(move.action_chorus_send()["context"]).create({})
    return {"report": wizard.action_send_and_print().get("res_id")}


def op_report_outcomes(env, args):
    """What the sending reports of an invoice say of it now."""
    lines = env["chorus.send.report.line"].search([("move_id", "=", args["id"])])
    return {"outcomes": lines.mapped("outcome"), "details": lines.mapped("detail")}


def op_chorus_customers(env, args):
    """``count`` customers of the supplier set to Chorus Pro (their structures to look up in the background)."""
    supplier, _buyer = companies(env)
    env = admin_env(env, supplier)
    sirets = args["sirets"]
    partners = env["res.partner"].create([
        {"name": "Client public %s" % number, "is_company": True, "siret": sirets[number % len(sirets)],
         "invoice_sending_method": "chorus_pro"} for number in range(args["count"])])
    return {"ids": partners.ids}


def op_check_structures(env, args):
    env["res.partner"]._cron_chorus_check_structures()
    return {}


def op_follow_up(env, args):
    env["account.move"]._cron_chorus_follow_up()
    return {}


def op_import(env, args):
    _supplier, buyer = companies(env)
    Inbound = env["chorus.inbound.invoice"]
    if args.get("page_size"):
        Inbound = Inbound.with_context(chorus_page_size=args["page_size"])
    log = Inbound._chorus_import_company(buyer)
    return {"log": log.id, "state": log.state, "created": log.count_created, "message": log.message}


def op_prepare_mandates(env, args):
    """``count`` received invoices (not credit notes) validated, given their supplier (its new IBAN confirmed, or
    its factor's account declared), made SERVICE_FAIT (pushed)."""
    _supplier, buyer = companies(env)
    env = admin_env(env, buyer)
    invoices = env["chorus.inbound.invoice"].search([("company_id", "=", buyer.id),
                                                     ("chorus_status", "=", "MISE_A_DISPOSITION"),
                                                     ("invoice_type", "=", "FACTURE")],
                                                    limit=args["count"], order="id")
    for invoice in invoices:
        if not invoice.partner_id:
            invoice._chorus_match_supplier()
        if not invoice.partner_id:
            invoice.action_create_supplier()
        if invoice.iban_new:
            invoice.action_confirm_iban()
        if invoice.iban_other:  # the demo's factored supplier: its factor's account declared
            invoice.action_confirm_factor_iban()
    invoices.action_internal_validate()
    invoices.action_process()
    invoices._chorus_request_status("SERVICE_FAIT", reason="Service fait")
    return {"ids": invoices.ids, "statuses": invoices.mapped("chorus_status")}


def op_mandate(env, args):
    _supplier, buyer = companies(env)
    env = admin_env(env, buyer)
    invoices = env["chorus.inbound.invoice"].browse(args["ids"])
    wizard = env["chorus.inbound.mandate.wizard"].create({"inbound_ids": [(6, 0, invoices.ids)]})
    wizard.action_confirm()
    return {"report": wizard.report}


def op_queue_status(env, args):
    """Queue a status on received invoices without pushing it (as a push that Chorus Pro could not take)."""
    _supplier, buyer = companies(env)
    env = admin_env(env, buyer)
    invoices = env["chorus.inbound.invoice"].search([("company_id", "=", buyer.id),
                                                     ("chorus_status", "=", "MISE_A_DISPOSITION"),
                                                     ("sync_state", "=", False)], limit=args["count"], order="id")
    invoices.action_internal_validate()
    invoices.action_process()
    invoices._chorus_queue_status(args["status"], reason=args.get("reason"))
    return {"ids": invoices.ids}


def op_push(env, args):
    env["chorus.inbound.invoice"]._cron_chorus_push_statuses()
    return {}


def op_mandates(env, args):
    env["chorus.inbound.invoice"]._cron_chorus_inbound_mandates()
    return {}


OPERATIONS = {name[3:]: function for name, function in globals().items() if name.startswith("op_")}


def main(argv):
    config, database, operation = argv[:3]
    args = json.loads(argv[3]) if len(argv) > 3 else {}
    import odoo
    from odoo import SUPERUSER_ID, api
    odoo.tools.config.parse_config(["-c", config, "-d", database, "--log-level=warn"])
    registry = odoo.modules.registry.Registry(database)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        result = OPERATIONS[operation](env, args)
        cr.commit()
    print("RESULT " + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
