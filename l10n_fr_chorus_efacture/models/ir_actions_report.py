import contextlib
import functools
import hashlib
import logging
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

from odoo import api, models
from odoo.addons.base.models.ir_actions_report import _get_wkhtmltopdf_bin

_logger = logging.getLogger(__name__)

# Odoo waits report.print_delay (1 s by default) after each page loads, for reports whose JavaScript draws late
# (charts). An invoice has none: the invoices rendered to be sent to Chorus Pro wait this instead (ms).
PRINT_DELAY_PARAM = "l10n_fr_chorus_efacture.print_delay"
PRINT_DELAY_DEFAULT = "100"
# How many wkhtmltopdf run at once in one Odoo process (a threaded server's cron workers together) for batches of
# invoices rendered one per call (each mostly waits its delay).
PDF_RENDERERS_PARAM = "l10n_fr_chorus_efacture.pdf_renderers"
PDF_RENDERERS_DEFAULT = "4"


def digits_param(env, key, default):
    """A system parameter that must be a whole number: its value, else the default (and a warning)."""
    value = env["ir.config_parameter"].sudo().get_param(key, default)
    if not str(value).strip().isdigit():
        _logger.warning("%s is not a whole number (%r): %s used", key, value, default)
        value = default
    return int(value)


class RenderingCollected(Exception):
    """Raised instead of running wkhtmltopdf while a batch's calls are collected (SideBySide)."""


class SideBySide:
    """The wkhtmltopdf calls of a batch of invoices rendered one per call, run side by side.

    Collecting: Odoo's usual rendering of each invoice goes as far as its wkhtmltopdf call, which is kept
    (HTML, arguments, and the context it was made in: the invoice's company decides the paper format) instead
    of run. The kept calls then run in threads, each with a cursor of its own (wkhtmltopdf only reads the paper
    format and the parameters). Serving: Odoo's usual rendering again, whose wkhtmltopdf call returns the PDF
    made from the very same HTML, arguments and company; any other call runs as usual.
    """

    def __init__(self):
        self.collecting = True
        self.calls = {}  # key: (uid, su, context, bodies, args, kwargs)
        self.pdfs = {}  # key: PDF bytes

    @staticmethod
    def key(env, bodies, args, kwargs):
        call = (env.company.id, list(bodies), args, sorted(kwargs.items()))
        return hashlib.sha256(repr(call).encode()).hexdigest()


class RendererSlots:
    """The side-by-side wkhtmltopdf runs under way in this process, whichever batches they belong to: the cron
    workers of a threaded server share the limit (each run holds a database connection, and its page's assets
    are fetched from this server, whose connection pool its threads share). With --workers each cron worker is
    a process of its own, with its own limit."""

    def __init__(self):
        self._condition = threading.Condition()
        self.running = 0

    @contextlib.contextmanager
    def slot(self, limit):
        with self._condition:
            self._condition.wait_for(lambda: self.running < limit)
            self.running += 1
        try:
            yield
        finally:
            with self._condition:
                self.running -= 1
                self._condition.notify_all()  # the limit is read per batch: every waiter checks it again


RENDERER_SLOTS = RendererSlots()


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
            delay = digits_param(self.env, PRINT_DELAY_PARAM, PRINT_DELAY_DEFAULT)
            args[args.index("--javascript-delay") + 1] = str(delay)
        return args

    def _run_wkhtmltopdf(self, bodies, *args, **kwargs):
        side_by_side = self.env.context.get("chorus_side_by_side")
        if not isinstance(side_by_side, SideBySide):
            return super()._run_wkhtmltopdf(bodies, *args, **kwargs)
        key = side_by_side.key(self.env, bodies, args, kwargs)
        if side_by_side.collecting:
            context = {k: v for k, v in self.env.context.items() if k != "chorus_side_by_side"}
            side_by_side.calls[key] = (self.env.uid, self.env.su, context, list(bodies), args, kwargs)
            raise RenderingCollected()
        pdf = side_by_side.pdfs.pop(key, None)
        if pdf is None:  # not collected (an HTML that changed), or its run failed: Odoo's own run says why
            return super()._run_wkhtmltopdf(bodies, *args, **kwargs)
        return pdf

    def _chorus_run_side_by_side(self, side_by_side, while_waiting=None):
        """Run the collected wkhtmltopdf calls, several at once; a call that fails is left to the serving pass
        (which runs it again the usual way, and reports its error). ``while_waiting``: done meanwhile, in this
        thread (its failure is only logged: it must not stop the rendering)."""
        registry = self.env.registry
        dbname = self.env.cr.dbname
        renderers = max(1, digits_param(self.env, PDF_RENDERERS_PARAM, PDF_RENDERERS_DEFAULT))

        def run(call):
            uid, su, context, bodies, args, kwargs = call
            threading.current_thread().dbname = dbname  # for the log lines
            # The slot before the cursor: a run waiting for its turn holds no database connection.
            with RENDERER_SLOTS.slot(renderers), registry.cursor() as cr:
                # This registry, not Registry(dbname): its lock may be held by the thread that waits for these
                # (Odoo's test runner and module loading hold it).
                cr.transaction = api.Transaction(registry)
                env = api.Environment(cr, uid, context, su=su)
                return env["ir.actions.report"]._run_wkhtmltopdf(bodies, *args, **kwargs)

        with ThreadPoolExecutor(max_workers=min(renderers, len(side_by_side.calls)),
                                thread_name_prefix="chorus_pdf") as pool:
            futures = {key: pool.submit(run, call) for key, call in side_by_side.calls.items()}
            if while_waiting:
                try:
                    while_waiting()
                except Exception:
                    _logger.exception("Work done while the PDFs render failed (it is done again later)")
        for key, future in futures.items():
            try:
                side_by_side.pdfs[key] = future.result()
            except Exception as error:  # wkhtmltopdf raises UserError, OSError...: the serving pass reports it
                _logger.info("A PDF rendered side by side failed (%s): rendered again alone",
                             error.__class__.__name__)
        side_by_side.collecting = False
        side_by_side.calls.clear()
