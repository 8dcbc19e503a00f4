"""18.0.1.2.0: one retry list for every operation, listing marks of their own, the downloaded documents known.

- The invoices waiting to be imported again (chorus.inbound.retry) join the retry list (chorus.retry), due now.
- The listing marks start from the old watermarks (on res.company), minus the overlap, never fully listed: the first
  run after the upgrade is a full listing of every invoice not final (which also brings in any invoice the old
  watermark had passed), and the next short listing starts where the old watermark was.
- The documents the module downloaded are told apart from those users added: the invoice's PDF, and the files
  described as the module describes them.
- Invoices waiting in Odoo's background sending for Chorus Pro move to Chorus Pro's own queue (worker lanes).
"""

from odoo import SUPERUSER_ID, api

DESCRIPTIONS = ("Invoice PDF from Chorus Pro", "Supporting document", "PDF de la facture reçu de Chorus Pro",
                "Pièce justificative")


def migrate(cr, version):
    if not version:
        return
    cr.execute("SELECT to_regclass('chorus_inbound_retry')")
    if cr.fetchone()[0]:
        cr.execute("""
            INSERT INTO chorus_retry (company_id, operation, chorus_invoice_id, key, name, supplier_name, reason,
                                      attempts, first_failed, last_tried, next_try, create_uid, create_date,
                                      write_uid, write_date)
            SELECT company_id, 'import', chorus_invoice_id, 'chorus,' || chorus_invoice_id,
                   COALESCE(invoice_number, chorus_invoice_id), supplier_name, reason, attempts, first_failed,
                   last_tried, now() AT TIME ZONE 'UTC', create_uid, create_date, write_uid, write_date
              FROM chorus_inbound_retry
            ON CONFLICT DO NOTHING
        """)
    for column, listing in (("chorus_inbound_watermark", "received_invoices"),
                            ("chorus_statuses_followed_until", "supplier_statuses")):
        cr.execute("SELECT 1 FROM information_schema.columns WHERE table_name = 'res_company' AND column_name = %s",
                   [column])
        if cr.fetchone():
            cr.execute("""
                INSERT INTO chorus_listing_mark (company_id, listing, changed_since, create_uid, create_date,
                                                 write_uid, write_date)
                SELECT id, %s, {column} - interval '15 minutes', 1, now() AT TIME ZONE 'UTC', 1,
                       now() AT TIME ZONE 'UTC'
                  FROM res_company WHERE {column} IS NOT NULL
                ON CONFLICT DO NOTHING
            """.format(column=column), [listing])
    cr.execute("""
        UPDATE ir_attachment a SET chorus_downloaded = TRUE
          FROM chorus_inbound_invoice i
         WHERE i.id = a.res_id AND a.res_model = 'chorus.inbound.invoice'
           AND (a.id = i.pdf_attachment_id OR a.description IN %s)
    """, [DESCRIPTIONS])
    cr.execute("""
        UPDATE account_move
           SET chorus_send_request = jsonb_build_object(
                   'author_user_id', sending_data->'author_user_id',
                   'author_partner_id', sending_data->'author_partner_id',
                   'queued', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')),
               sending_data = NULL
         WHERE sending_data ? 'chorus_pro' AND (sending_data->>'chorus_pro')::boolean
    """)
    env = api.Environment(cr, SUPERUSER_ID, {})
    push = env.ref("l10n_fr_chorus_efacture.ir_cron_chorus_inbound_push", raise_if_not_found=False)
    if push:
        push.name = "Chorus Pro: send the statuses of received invoices"
