import functools
import logging
import subprocess

from odoo import models
from odoo.addons.base.models.ir_actions_report import _get_wkhtmltopdf_bin

_logger = logging.getLogger(__name__)

# Odoo waits report.print_delay (1 s by default) after each page loads, for reports whose JavaScript draws late
# (charts). An invoice has none: the invoices rendered to be sent to Chorus Pro wait this instead (ms).
PRINT_DELAY_PARAM = "l10n_fr_chorus_efacture.print_delay"
PRINT_DELAY_DEFAULT = "100"


@functools.cache
def wkhtmltopdf_patched():
    """Whether wkhtmltopdf is the build with patched Qt, the only one that renders several documents in one call
    (Debian's is not: "wkhtmltopdf 0.12.6" without "(with patched qt)")."""
    try:
        out = subprocess.run([_get_wkhtmltopdf_bin(), "--version"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return b"patched qt" in out.stdout.lower()


class IrActionsReport(models.Model):
    _inherit = "ir.actions.report"

    def _build_wkhtmltopdf_args(self, *args, **kwargs):
        args = super()._build_wkhtmltopdf_args(*args, **kwargs)
        if self.env.context.get("chorus_invoice_pdf") and "--javascript-delay" in args:
            delay = self.env["ir.config_parameter"].sudo().get_param(PRINT_DELAY_PARAM, PRINT_DELAY_DEFAULT)
            if not str(delay).strip().isdigit():
                _logger.warning("%s is not a number of milliseconds (%r): %s ms used", PRINT_DELAY_PARAM, delay,
                                PRINT_DELAY_DEFAULT)
                delay = PRINT_DELAY_DEFAULT
            args[args.index("--javascript-delay") + 1] = str(int(delay))
        return args
