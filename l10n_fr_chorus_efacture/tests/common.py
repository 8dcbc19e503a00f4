"""Test helpers: a Chorus Pro sandbox started in-process on a free port, over real HTTP."""

import base64
import socket

import requests

from ..chorus import ChorusProClient, TokenCache
from ..chorus.client import Pacer

try:
    import chorus_sandbox
    from chorus_sandbox import shapes, start_in_thread
    from chorus_sandbox import state as sandbox_state
    from chorus_sandbox.documents import make_pdf
except ImportError:
    # A missing test requirement must not stop Odoo from loading the module: the tests that need the
    # sandbox fail with one clear line instead (NeedsSandbox).
    chorus_sandbox = shapes = start_in_thread = sandbox_state = make_pdf = None

SANDBOX_MISSING = ("The Chorus Pro sandbox (package chorus-pro-sandbox) is not installed: it is a test requirement, "
                   "install it with 'pip install -r test-requirements.txt' from the repository's root.")


class SandboxMissing(Exception):
    """The test requirement chorus-pro-sandbox is not installed."""


class NeedsSandbox:
    """Test classes that use the sandbox package: they fail at once, saying how to install it."""

    @classmethod
    def setUpClass(cls):
        if chorus_sandbox is None:
            raise SandboxMissing(SANDBOX_MISSING)
        super().setUpClass()

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
SUPPLIER_LOGIN = "TECH_1_ANP@cpro.fr"
SUPPLIER_PASSWORD = "Sandbox-Supplier-2026!"
BUYER_LOGIN = "TECH_1_SVLP@cpro.fr"
BUYER_PASSWORD = "Sandbox-Buyer-2026!"
SUPPLIER_SIRET = "45217896500011"
COMMUNE_SIRET = "21340012000019"      # service code required
HOPITAL_SIRET = "26830021700018"      # engagement required
SYNDICAT_SIRET = "25840901000018"     # service code or engagement


class SandboxMixin(NeedsSandbox):
    """Starts one sandbox per test class; ``reset_sandbox()`` puts its seed state back."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_sandbox()

    @classmethod
    def start_sandbox(cls, **config):
        config.setdefault("flux_delay", 0)
        config.setdefault("status_step", 3600)
        cls.sandbox = start_in_thread(**config)
        cls.sandbox_url = cls.sandbox.url
        cls.addClassCleanup(cls.sandbox.server_close)
        cls.addClassCleanup(cls.sandbox.shutdown)

    @classmethod
    def point_company_at_sandbox(cls, company, technical_account=True):
        """Configure ``company``'s Chorus Pro account against this sandbox (the supplier's account)."""
        company = company.sudo()
        # Unpaced: the pace is the client's own (test_client), not what these tests look at.
        company.env["ir.config_parameter"].set_param("l10n_fr_chorus_efacture.calls_per_second", "0")
        company.write({
            "chorus_environment": "custom",
            "chorus_api_url": cls.sandbox_url,
            "chorus_oauth_url": cls.sandbox_url + "/api/oauth/token",
            "chorus_client_id": CLIENT_ID,
            "chorus_client_secret": CLIENT_SECRET,
        })
        if technical_account:
            company._chorus_set_technical_account(
                SUPPLIER_LOGIN, company._chorus_encrypt(SUPPLIER_PASSWORD), "2099-12-31")
        return company

    @classmethod
    def point_buyer_at_sandbox(cls, company):
        """Configure ``company`` as the public buyer (commune and hospital account) of this sandbox."""
        company = cls.point_company_at_sandbox(company, technical_account=False)
        company._chorus_set_technical_account(BUYER_LOGIN, company._chorus_encrypt(BUYER_PASSWORD), "2099-12-31")
        # Odoo took over long ago: every invoice of the sandbox is Odoo's (tests of the take-over day set theirs).
        company.write({"chorus_receive": True, "siret": COMMUNE_SIRET, "chorus_inbound_start_date": "2000-01-01"})
        return company

    def reset_sandbox(self):
        self.sandbox.state.reset()

    def control(self, action, **payload):
        response = requests.post("%s/_sandbox/%s" % (self.sandbox_url, action), json=payload, timeout=10)
        response.raise_for_status()
        return response.json()

    def inject(self, kind, operation="*", count=1, delay=None, after=0, invoice=None):
        return self.control("faults", kind=kind, operation=operation, count=count, delay=delay, after=after,
                            invoice=invoice)

    def calls(self, operation):
        return self.sandbox.state.calls.get(operation, 0)

    def last_payload(self, operation):
        """The last request body the sandbox received for ``operation``."""
        return next(payload for op, payload in reversed(self.sandbox.state.received_payloads) if op == operation)

    def make_client(self, login=SUPPLIER_LOGIN, password=SUPPLIER_PASSWORD, client_secret=CLIENT_SECRET, **kw):
        kw.setdefault("timeout", 5)
        kw.setdefault("backoff", 0.01)
        kw.setdefault("token_cache", TokenCache())
        kw.setdefault("calls_per_second", 0)
        kw.setdefault("pacer", Pacer())  # a 429 of one test holds no other test's calls
        return ChorusProClient(self.sandbox_url, "%s/api/oauth/token" % self.sandbox_url, CLIENT_ID,
                               client_secret, login, password, **kw)


def give_supplier(invoice):
    """Give a received invoice its supplier: the one found by IBAN or SIRET, else one made from its data; its IBAN
    confirmed (by Odoo's root user, allowed to trust bank accounts), as a treasurer does after a phone call."""
    if not invoice.partner_id:
        invoice._chorus_match_supplier()
    if not invoice.partner_id:
        invoice.action_create_supplier()
    if invoice.iban_new:
        invoice.with_user(invoice.env.ref("base.user_root")).action_confirm_iban()
        invoice.invalidate_recordset(["iban_warning", "iban_new"])


def free_port_url():
    """The address of a local port nobody listens on (Chorus Pro down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return "http://127.0.0.1:%s" % port


def cii_invoice(number, seller=SUPPLIER_SIRET, buyer=COMMUNE_SIRET, service=None, engagement=None,
                contract=None, type_code="380", untaxed=100.0, tax=20.0):
    """A small EN 16931 CII invoice carrying the Chorus Pro routing data."""
    def ref(tag, value):
        return ("<ram:%s><ram:IssuerAssignedID>%s</ram:IssuerAssignedID></ram:%s>" % (tag, value, tag)
                if value else "")
    xml = """<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
 xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
 xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
 <rsm:ExchangedDocumentContext><ram:GuidelineSpecifiedDocumentContextParameter>
  <ram:ID>urn:cen.eu:en16931:2017</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter>
 </rsm:ExchangedDocumentContext>
 <rsm:ExchangedDocument><ram:ID>%(number)s</ram:ID><ram:TypeCode>%(type_code)s</ram:TypeCode>
  <ram:IssueDateTime><udt:DateTimeString format="102">20261120</udt:DateTimeString></ram:IssueDateTime>
 </rsm:ExchangedDocument>
 <rsm:SupplyChainTradeTransaction>
  <ram:ApplicableHeaderTradeAgreement>
   %(service)s
   <ram:SellerTradeParty><ram:Name>Seller</ram:Name>
    <ram:SpecifiedLegalOrganization><ram:ID schemeID="0009">%(seller)s</ram:ID></ram:SpecifiedLegalOrganization>
   </ram:SellerTradeParty>
   <ram:BuyerTradeParty><ram:Name>Buyer</ram:Name>
    <ram:SpecifiedLegalOrganization><ram:ID schemeID="0009">%(buyer)s</ram:ID></ram:SpecifiedLegalOrganization>
   </ram:BuyerTradeParty>
   %(engagement)s
   %(contract)s
  </ram:ApplicableHeaderTradeAgreement>
  <ram:ApplicableHeaderTradeSettlement>
   <ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
   <ram:SpecifiedTradeSettlementHeaderMonetarySummation>
    <ram:TaxBasisTotalAmount>%(untaxed).2f</ram:TaxBasisTotalAmount>
    <ram:GrandTotalAmount>%(total).2f</ram:GrandTotalAmount>
    <ram:DuePayableAmount>%(total).2f</ram:DuePayableAmount>
   </ram:SpecifiedTradeSettlementHeaderMonetarySummation>
  </ram:ApplicableHeaderTradeSettlement>
 </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>""" % {
        "number": number, "type_code": type_code, "seller": seller, "buyer": buyer,
        "service": "<ram:BuyerReference>%s</ram:BuyerReference>" % service if service else "",
        "engagement": ref("BuyerOrderReferencedDocument", engagement),
        "contract": ref("ContractReferencedDocument", contract),
        "untaxed": untaxed, "total": untaxed + tax,
    }
    return xml.encode()


def b64(data):
    return base64.b64encode(data).decode()
