from odoo import fields, models


class ChorusInboundImportLog(models.Model):
    """What one import of received invoices did: managers read it to see that imports run."""

    _name = "chorus.inbound.import.log"
    _description = "Import of invoices received through Chorus Pro"
    _order = "date_start desc, id desc"
    _rec_name = "date_start"

    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    date_start = fields.Datetime(string="Started On", default=fields.Datetime.now, required=True, readonly=True)
    date_end = fields.Datetime(string="Ended On", readonly=True)
    state = fields.Selection([("running", "Running"), ("done", "Done"), ("error", "Done with errors"),
                              ("interrupted", "Interrupted")],
                             default="running", required=True, readonly=True,
                             help="Interrupted: the worker stopped during the import (the next import takes over "
                                  "from where the last complete one ended).")
    count_found = fields.Integer(string="Listed", readonly=True, help="Invoices Chorus Pro listed for this run.")
    count_created = fields.Integer(string="New", readonly=True)
    count_updated = fields.Integer(string="Status Changes", readonly=True)
    count_documents = fields.Integer(string="Documents Downloaded", readonly=True,
                                     help="Invoices whose PDF and supporting documents were downloaded.")
    count_retried = fields.Integer(string="Imported Again", readonly=True,
                                   help="Invoices that had failed before and came in during this run.")
    count_failed = fields.Integer(string="To Import Again", readonly=True,
                                  help="Invoices that could not be imported: listed under Invoices to import again, "
                                       "and tried again by the next runs.")
    message = fields.Text(string="Errors", readonly=True)
