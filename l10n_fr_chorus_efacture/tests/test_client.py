"""The Chorus Pro client against the sandbox, over real HTTP: every operation and error class."""

import io
import time
import zipfile
from datetime import datetime, timedelta, timezone

from odoo.tests import BaseCase, tagged

from .. import chorus
from ..chorus import exceptions as exc
from .common import (BUYER_LOGIN, BUYER_PASSWORD, COMMUNE_SIRET, HOPITAL_SIRET, SandboxMixin,
                     cii_invoice, free_port_url)

DEPOSIT = "factures/v1/deposer/flux"
SYNTAX_CII = "IN_DP_E1_CII_16B"


@tagged("post_install", "-at_install", "chorus_client")
class TestChorusClient(SandboxMixin, BaseCase):

    def setUp(self):
        super().setUp()
        self.reset_sandbox()
        self.client = self.make_client()
        self.buyer = self.make_client(login=BUYER_LOGIN, password=BUYER_PASSWORD)

    def deposit(self, number, **kw):
        kw.setdefault("service", "SERV_TECHNIQUES")
        reply = self.client.deposit_flux(cii_invoice(number, **kw), "%s.xml" % number, SYNTAX_CII)
        return reply.flux_number

    # ------------------------------------------------------------------ token
    def test_token_is_cached_and_shared(self):
        self.client.search_structures(COMMUNE_SIRET)
        self.client.search_structures(COMMUNE_SIRET)
        self.assertEqual(self.client.stats["token_requests"], 1)
        other = self.make_client(token_cache=self.client.token_cache)
        other.search_structures(COMMUNE_SIRET)
        self.assertEqual(other.stats["token_requests"], 0, "a second client of the process reuses the token")

    def test_token_renewed_before_expiry(self):
        now = [1_000_000.0]
        client = self.make_client(clock=lambda: now[0])
        first = client.get_token()
        now[0] += 3600 - 200  # less than the renewal margin before expiry
        second = client.get_token()
        self.assertNotEqual(first, second)
        self.assertEqual(client.stats["token_requests"], 2)

    def test_token_renewed_once_on_401(self):
        self.client.search_structures(COMMUNE_SIRET)
        self.inject("token_expired", "structures/v1/consulter")
        reply = self.client.get_structure(25000101)
        self.assertEqual(reply.name, "Commune de Saint-Véran-les-Pins")
        self.assertEqual(self.client.stats["token_requests"], 2)

    def test_bad_client_secret(self):
        client = self.make_client(client_secret="wrong")
        with self.assertRaises(exc.ChorusClientCredentialsError) as caught:
            client.search_structures(COMMUNE_SIRET)
        self.assertIn("Client Secret", caught.exception.message)
        self.assertIn("invalid_client", caught.exception.message)

    def test_bad_technical_account(self):
        client = self.make_client(password="wrong-password")
        with self.assertRaises(exc.ChorusTechnicalAccountError) as caught:
            client.search_structures(COMMUNE_SIRET)
        self.assertNotIsInstance(caught.exception, exc.ChorusPasswordExpiredError)
        self.assertIn("technical account", caught.exception.message)

    def test_expired_technical_password(self):
        self.control("accounts/password-expiry", login=self.client.login, date="2020-01-01")
        with self.assertRaises(exc.ChorusPasswordExpiredError) as caught:
            self.client.search_structures(COMMUNE_SIRET)
        self.assertIn("expired", caught.exception.message)

    def test_secrets_not_in_repr(self):
        self.assertNotIn("Sandbox-Supplier", repr(self.client))
        self.assertNotIn("sandbox-client-secret", repr(self.client))

    # ------------------------------------------------------------- structures
    def test_structures(self):
        found = self.client.search_structures(HOPITAL_SIRET)
        self.assertEqual([(s.id, s.name) for s in found], [(25000202, "Centre Hospitalier de Valbonne")])
        self.assertEqual(self.client.search_structures("11111111111111"), [], "no result is an empty list")
        details = self.client.get_structure(25000202)
        self.assertTrue(details.engagement_required)
        self.assertFalse(details.service_required)
        self.assertEqual(details.identifier, HOPITAL_SIRET)
        payload = self.last_payload("structures/v1/consulter")
        self.assertEqual(payload, {"idStructureCPP": 25000202, "codeLangue": "FR"},
                         "the fact sheet's and OCA's idStructureCPP")
        # go-choruspro's reading is accepted by the sandbox as well (the sources disagree).
        self.assertEqual(self.client._call("structures/v1/consulter", {"idStructure": 25000202, "codeLangue": "FR"})
                         ["informationGenerales"]["identifiantStructure"], HOPITAL_SIRET)

    def test_services_all_pages(self):
        services = self.client.search_services(25000101, page_size=1)
        self.assertEqual(len(services), 4)
        self.assertGreaterEqual(self.calls("structures/v1/rechercher/services"), 4)
        codes = {s.code: s.active for s in services}
        self.assertEqual(codes["ANCIEN_CCAS"], False)
        service = self.client.get_service(25000303, 9300001)
        self.assertTrue(service.engagement_required)
        self.assertFalse(self.client.get_service(25000303, 9300002).engagement_required)

    def test_unknown_structure_is_functional_error(self):
        with self.assertRaises(exc.ChorusFunctionalError) as caught:
            self.client.get_structure(999)
        self.assertEqual(caught.exception.code_retour, 20001)
        self.assertIn("Structure inconnue", caught.exception.message)

    # -------------------------------------------------------------- supplier
    def test_deposit_and_flux_report(self):
        flux = self.deposit("FA-001")
        report = self.client.get_flux_report(flux)
        self.assertEqual(report.state, "IN_INTEGRE")
        self.assertEqual(report.invoice_errors, ())
        self.assertTrue(report.deposit_time)

    def test_flux_rejected_with_errors(self):
        flux = self.deposit("FA-002", service=None)  # the commune requires a service code
        report = self.client.get_flux_report(flux)
        self.assertEqual(report.state, "IN_REJETE")
        self.assertIn("code service", report.invoice_errors[0].message)
        self.assertEqual(report.invoice_errors[0].invoice_number, "FA-002")

    def test_duplicate_number_rejected(self):
        self.deposit("FA-003")
        report = self.client.get_flux_report(self.deposit("FA-003"))
        self.assertEqual(report.state, "IN_REJETE")
        self.assertIn("doublon", report.invoice_errors[0].message)

    def test_flux_with_doctype_rejected(self):
        xml = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
        reply = self.client.deposit_flux(xml, "evil.xml", SYNTAX_CII)
        report = self.client.get_flux_report(reply.flux_number)
        self.assertEqual(report.state, "IN_REJETE")
        self.assertTrue(report.technical_errors)
        self.assertNotIn("root:", str(report))

    def test_supplier_invoices_all_pages_history_complete_recycle(self):
        flux = self.deposit("FA-010")
        self.deposit("FA-011")
        self.deposit("FA-012")
        invoices = self.client.search_supplier_invoices(page_size=1)
        self.assertEqual(sorted(i.number for i in invoices), ["FA-010", "FA-011", "FA-012"])
        self.assertEqual(self.calls("factures/v1/rechercher/fournisseur"), 3, "one call per page")
        by_flux = self.client.search_supplier_invoices(flux_number=flux)
        self.assertEqual([i.number for i in by_flux], ["FA-010"])
        invoice_id = by_flux[0].id
        self.assertEqual((by_flux[0].status, by_flux[0].flux_number), ("DEPOSEE", flux))
        self.assertEqual(self.client.search_supplier_invoices(statuses=["MISE_A_DISPOSITION"]), [])

        self.control("advance", seconds=3601)
        history = self.client.get_invoice_history(invoice_id, page_size=1)
        self.assertEqual(history.current_status, "MISE_A_DISPOSITION")
        self.assertEqual([h.status for h in history.entries], ["MISE_A_DISPOSITION", "DEPOSEE"], "newest first")
        self.assertEqual(self.calls("factures/v1/consulter/historique"), 2, "every page of the history")

        with self.assertRaises(exc.ChorusFunctionalError):
            self.client.complete_invoice(invoice_id, "too early")
        self.control("invoice/status", idFacture=invoice_id, statut="SUSPENDUE", commentaire="PV manquant")
        reply = self.client.complete_invoice(invoice_id, "PV joint", [("pv.pdf", b"%PDF-1.4 pv", "application/pdf",
                                                                        "PIECE_JUSTIFICATIVE")])
        self.assertEqual(reply.invoice_id, invoice_id)
        # The published payloads: the file added first, then referenced by its id.
        upload = self.last_payload("transverses/v1/ajouter/fichier")
        self.assertEqual((upload["pieceJointeNom"], upload["pieceJointeExtension"]), ("pv.pdf", "PDF"))
        completed = self.last_payload("factures/v1/completer")
        self.assertEqual(completed["identifiantFactureCPP"], invoice_id)
        self.assertEqual(completed["pieceJointeComplementaire"][0]["pieceJointeComplementaireType"],
                         "PIECE_JUSTIFICATIVE")
        self.assertIn(completed["pieceJointeComplementaire"][0]["pieceJointeComplementaireId"],
                      self.sandbox.state.files)
        chorus_invoice = self.sandbox.state.invoices[invoice_id]
        self.assertEqual((chorus_invoice["statut"], chorus_invoice["pieces"][0]["contenu"]),
                         ("COMPLETEE", b"%PDF-1.4 pv"))

        other = self.client.search_supplier_invoices(invoice_number="FA-011")[0].id
        self.control("invoice/status", idFacture=other, statut="A_RECYCLER", commentaire="Mauvais service")
        with self.assertRaises(exc.ChorusFunctionalError) as caught:
            self.client.recycle_invoice(other, COMMUNE_SIRET, service_code="ANCIEN_CCAS")
        self.assertIn("inactif", caught.exception.message)
        reply = self.client.recycle_invoice(other, COMMUNE_SIRET, service_code="ECOLES", engagement="EJ-77")
        self.assertEqual(reply.status, "MISE_A_DISPOSITION")
        recycled = self.last_payload("factures/v1/recycler")
        self.assertEqual(recycled["destinataire"], {"codeDestinataire": COMMUNE_SIRET, "codeServiceExecutant": "ECOLES"})
        self.assertEqual(recycled["reference"], {"numeroBonCommande": "EJ-77"})
        self.assertEqual(self.sandbox.state.invoices[other]["codeServiceExecutant"], "ECOLES")

    # ------------------------------------------------------------- recipient
    def test_recipient_structures_and_inbox_pages(self):
        structures = self.buyer.get_active_recipient_structures()
        self.assertEqual(sorted(s.identifier for s in structures), [COMMUNE_SIRET, HOPITAL_SIRET])
        invoices = self.buyer.search_received_invoices(page_size=10)
        works = self.buyer.search_received_invoices(page_size=10, payment_request="FACTURE_TRAVAUX")
        self.assertEqual((len(invoices), len(works)), (24, 6), "the seed's 30: 6 works invoices listed apart")
        self.assertEqual(len({i.id for i in invoices + works}), 30)
        self.assertEqual({i.payment_request for i in invoices}, {"FACTURE"})
        self.assertEqual({i.payment_request for i in works}, {"FACTURE_TRAVAUX"})
        self.assertEqual(self.calls("factures/v1/rechercher/recipiendaire"), 3 + 1)
        self.assertEqual(self.last_payload("factures/v1/rechercher/recipiendaire")["typeDemandePaiement"],
                         "FACTURE_TRAVAUX")
        self.assertEqual(self.buyer.search_received_invoices(invoice_number="nope"), [])
        # Only what changed since a time: the filter is an RFC 3339 time.
        latest = max(i.status_time for i in invoices)
        self.assertEqual({i.id for i in self.buyer.search_received_invoices(changed_since=latest)},
                         {i.id for i in invoices if i.status_time >= latest})

    def test_received_invoice_detail_download_and_processing(self):
        first = self.buyer.search_received_invoices(page_size=5)[0]
        detail = self.buyer.get_received_invoice(first.id)
        chorus_invoice = self.sandbox.state.invoices[first.id]
        self.assertEqual(detail.supplier.iban, chorus_invoice["coordonneesBancaires"]["iban"])
        self.assertEqual(detail.supplier.bic, chorus_invoice["coordonneesBancaires"]["bic"])
        self.assertEqual((detail.amount_total, detail.amount_to_pay), (chorus_invoice["montantTTC"],
                                                                      chorus_invoice["montantAPayer"]))
        self.assertEqual([(v.rate, v.base, v.amount) for v in detail.vat_lines],
                         [(v["tauxTva"], v["montantBaseHtParTaux"], v["montantTvaParTaux"])
                          for v in chorus_invoice["lignesTva"]])
        self.assertEqual(detail.currency, "EUR")

        ids = [i.id for i in self.buyer.search_received_invoices()[:3]]
        content = self.buyer.download_invoices(ids)
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            folders = {name.split("/")[0] for name in archive.namelist()}
            self.assertEqual(len(folders), 3, "one folder per invoice")
            pdfs = [n for n in archive.namelist() if n.endswith(".pdf")]
            self.assertTrue(all(archive.read(n).startswith(b"%PDF") for n in pdfs))

        self.assertEqual(self.buyer.get_allowed_statuses("COMPLETEE"), ["REJETEE", "SERVICE_FAIT", "MANDATEE"])
        with self.assertRaises(exc.ChorusFunctionalError) as caught:
            self.buyer.process_received_invoice(first.id, "REJETEE")
        self.assertIn("motif", caught.exception.message)
        reply = self.buyer.process_received_invoice(first.id, "SERVICE_FAIT", "Livraison conforme")
        self.assertEqual(reply.status, "SERVICE_FAIT")
        with self.assertRaises(exc.ChorusFunctionalError):
            self.buyer.process_received_invoice(first.id, "MANDATEE")  # numeroDPMandat missing
        self.buyer.process_received_invoice(first.id, "MANDATEE", mandate_number="BILL/2026/0001")
        self.assertEqual(self.buyer.get_received_invoice(first.id).mandate_number, "BILL/2026/0001")

    def test_nested_lists_read_on_every_page(self):
        """VAT lines and supporting documents are paged inside consulter recipiendaire: all pages are read."""
        invoice = next(i for i in self.sandbox.state.invoices.values() if len(i["pieces"]) == 2)
        invoice["lignesTva"] = [{"tauxTva": 20.0, "montantBaseHtParTaux": 100.0, "montantTvaParTaux": 20.0},
                                {"tauxTva": 10.0, "montantBaseHtParTaux": 50.0, "montantTvaParTaux": 5.0},
                                {"tauxTva": 5.5, "montantBaseHtParTaux": 10.0, "montantTvaParTaux": 0.55}]
        detail = self.buyer.get_received_invoice(invoice["idFacture"], page_size=1)
        self.assertEqual([v.rate for v in detail.vat_lines], [20.0, 10.0, 5.5])
        self.assertEqual(len(detail.documents), 3, "the invoice PDF and its two supporting documents")
        self.assertEqual(self.calls("factures/v1/consulter/recipiendaire"), 3, "one call per page of the longest list")

    def test_health_check(self):
        self.assertTrue(self.client.health_check())

    # ----------------------------------------------------------------- faults
    def test_read_retried_after_503(self):
        self.inject("503", "structures/v1/consulter", count=2)
        reply = self.client.get_structure(25000101)
        self.assertEqual(reply.id, 25000101)
        self.assertEqual(self.calls("structures/v1/consulter"), 3)

    def test_rate_limit_is_unavailable_not_a_refusal(self):
        self.inject("429", "structures/v1/consulter", count=1, delay=0)
        self.assertEqual(self.client.get_structure(25000101).id, 25000101, "a read is retried after a 429")
        self.inject("429", "structures/v1/consulter", count=10, delay=0)
        with self.assertRaises(exc.ChorusUnavailableError) as caught:
            self.client.get_structure(25000101)
        self.assertEqual(caught.exception.http_status, 429)

    def test_rate_limit_waits_what_the_gateway_says(self):
        waits = []
        client = self.make_client(pacer=chorus.client.Pacer(sleep=waits.append, clock=lambda: 1000.0),
                                  calls_per_second=0)
        self.inject("429", "structures/v1/consulter", count=1, delay=7)
        self.assertEqual(client.get_structure(25000101).id, 25000101)
        self.assertEqual(waits, [7.0], "Retry-After: 7 is waited, by every call of the process")
        self.assertEqual(self.calls("structures/v1/consulter"), 2)

    def test_rate_limit_on_a_write_is_made_again(self):
        """A 429 comes from the gateway before anything is done: the deposit is made again, once."""
        waits = []
        client = self.make_client(pacer=chorus.client.Pacer(sleep=waits.append, clock=lambda: 1000.0))
        self.inject("429", DEPOSIT, count=1)
        reply = client.deposit_flux(cii_invoice("FA-029", service="SERV_TECHNIQUES"), "FA-029.xml", SYNTAX_CII)
        self.assertTrue(reply.flux_number)
        self.assertEqual((self.calls(DEPOSIT), len(self.sandbox.state.flux)), (2, 1))
        self.assertEqual(waits, [chorus.client.RETRY_AFTER_DEFAULT], "no Retry-After: the default wait")

    def test_gateway_unsure_on_a_write_is_outcome_unknown(self):
        """502 and 504 on a write: it may have reached Chorus Pro, nobody knows (looked up before sending again)."""
        self.inject("504", DEPOSIT)
        with self.assertRaises(exc.ChorusOutcomeUnknownError) as caught:
            self.deposit("FA-030")
        self.assertEqual(caught.exception.http_status, 504)
        self.assertEqual(len(self.sandbox.state.flux), 1, "the gateway gave up after Chorus Pro applied it")
        self.inject("502", DEPOSIT)
        with self.assertRaises(exc.ChorusOutcomeUnknownError):
            self.deposit("FA-031")
        self.assertEqual((self.calls(DEPOSIT), len(self.sandbox.state.flux)), (2, 1))
        self.inject("502", "structures/v1/consulter")
        self.assertEqual(self.client.get_structure(25000101).id, 25000101, "a read is simply made again")

    def test_calls_paced(self):
        clock, waits = [1000.0], []

        def sleep(seconds):
            waits.append(seconds)
            clock[0] += seconds

        client = self.make_client(pacer=chorus.client.Pacer(sleep=sleep, clock=lambda: clock[0]),
                                  calls_per_second=4)
        for _call in range(3):
            client.get_structure(25000101)
        self.assertEqual(waits, [0.25, 0.25], "4 calls a second at most, from this process")

    def test_chorus_clock_read_from_its_replies(self):
        self.control("advance", seconds=86400)
        self.client.get_structure(25000101)
        ahead = self.client.last_reply_time - datetime.now(timezone.utc).replace(tzinfo=None)
        self.assertGreater(ahead, timedelta(hours=23), "Chorus Pro's clock (its Date header), not ours")

    def test_read_gives_up_when_down(self):
        self.inject("500", "structures/v1/consulter", count=10)
        with self.assertRaises(exc.ChorusUnavailableError) as caught:
            self.client.get_structure(25000101)
        self.assertEqual(caught.exception.http_status, 500)
        self.assertEqual(self.calls("structures/v1/consulter"), 3)

    def test_unreachable(self):
        client = chorus.ChorusProClient(free_port_url(), free_port_url() + "/api/oauth/token", "id", "secret",
                                        "login", "password", timeout=2, backoff=0.01)
        with self.assertRaises(exc.ChorusUnavailableError) as caught:
            client.search_structures(COMMUNE_SIRET)
        self.assertIn("unavailable", caught.exception.message)

    def test_read_timeout(self):
        client = self.make_client(timeout=0.5, read_attempts=1)
        client.get_token()
        self.inject("slow", "structures/v1/consulter", delay=1.5)
        with self.assertRaises(exc.ChorusTimeoutError) as caught:
            client.get_structure(25000101)
        self.assertIn("0.5 seconds", caught.exception.message)

    def test_deposit_never_retried_on_503(self):
        self.inject("503", DEPOSIT)
        with self.assertRaises(exc.ChorusUnavailableError) as caught:
            self.deposit("FA-020")
        self.assertNotIsInstance(caught.exception, exc.ChorusOutcomeUnknownError)
        self.assertEqual(self.calls(DEPOSIT), 1)
        self.assertEqual(self.sandbox.state.flux, {})

    def test_deposit_lost_reply_is_outcome_unknown(self):
        self.inject("lost_reply", DEPOSIT)
        with self.assertRaises(exc.ChorusOutcomeUnknownError):
            self.deposit("FA-021")
        self.assertEqual(self.calls(DEPOSIT), 1, "a deposit is never retried blindly")
        self.assertEqual(len(self.sandbox.state.flux), 1, "the sandbox applied the deposit")

    def test_deposit_timeout_is_outcome_unknown(self):
        client = self.make_client(timeout=0.5)
        client.get_token()
        self.inject("slow", DEPOSIT, delay=1.5)
        with self.assertRaises(exc.ChorusOutcomeUnknownError):
            client.deposit_flux(cii_invoice("FA-022", service="SERV_TECHNIQUES"), "FA-022.xml", SYNTAX_CII)
        self.assertEqual(self.calls(DEPOSIT), 1)
        # Chorus Pro goes on with the deposit the client gave up waiting for: it is there once the delay is over
        # (waited for here, so that it does not land in the next test's sandbox).
        deadline = time.monotonic() + 10
        while not self.sandbox.state.flux and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(len(self.sandbox.state.flux), 1, "applied although the client saw no reply")

    def test_reply_cut_in_the_middle(self):
        """A reply cut in its body (the connection broke): a read is retried, a write is an unknown outcome."""
        self.inject("cut_body", "structures/v1/consulter")
        self.assertEqual(self.client.get_structure(25000101).id, 25000101)
        self.assertEqual(self.calls("structures/v1/consulter"), 2)
        self.inject("cut_body", DEPOSIT)
        with self.assertRaises(exc.ChorusOutcomeUnknownError):
            self.deposit("FA-040")
        self.assertEqual((self.calls(DEPOSIT), len(self.sandbox.state.flux)), (1, 1), "applied, never sent twice")

    def test_too_large(self):
        self.sandbox.state.config["download_limit"] = 100
        first = self.buyer.search_received_invoices()[0]
        with self.assertRaises(exc.ChorusTooLargeError):
            self.buyer.download_invoices([first.id])

    def test_malformed_reply(self):
        self.inject("malformed", "structures/v1/consulter")
        with self.assertRaises(exc.ChorusMalformedReplyError):
            self.client.get_structure(25000101)
        self.inject("bad_base64", "factures/v1/telecharger/groupe")
        first = self.buyer.search_received_invoices()[0]
        with self.assertRaises(exc.ChorusMalformedReplyError):
            self.buyer.download_invoices([first.id])

    def test_giant_reply_refused(self):
        client = self.make_client(max_reply_bytes=1024 * 1024)
        self.inject("giant", "structures/v1/consulter")
        with self.assertRaisesRegex(exc.ChorusMalformedReplyError, "over the limit of 1048576"):
            client.get_structure(25000101)
        self.assertEqual(client.get_structure(25000101).id, 25000101, "the next call works")
        # A giant reply to a write: it was answered, so it may have been applied.
        self.inject("giant", "factures/v1/deposer/flux")
        with self.assertRaises(exc.ChorusOutcomeUnknownError):
            client.deposit_flux(b"%PDF-1.4 x", "a.pdf", "IN_DP_E2_CII_FACTURX")
        self.assertEqual(len(self.sandbox.state.flux), 1)

    def test_forbidden(self):
        self.inject("403", "structures/v1/consulter")
        with self.assertRaises(exc.ChorusAuthenticationError) as caught:
            self.client.get_structure(25000101)
        self.assertIn("403", caught.exception.message)

    def test_supplier_siret_must_match_account(self):
        flux = self.deposit("FA-030", seller="39214567800018")
        report = self.client.get_flux_report(flux)
        self.assertEqual(report.state, "IN_REJETE")
        self.assertIn("ne correspond pas au compte déposant", report.invoice_errors[0].message)


@tagged("post_install", "-at_install", "chorus_client")
class TestClientMessages(BaseCase):

    def test_every_client_error_is_translatable(self):
        from ..tools.messages import CLIENT_ERROR_TEMPLATES
        listed = {term._source for term in CLIENT_ERROR_TEMPLATES}
        classes = [cls for cls in vars(exc).values() if isinstance(cls, type) and issubclass(cls, exc.ChorusError)]
        self.assertGreaterEqual(len(classes), 12)
        for cls in classes:
            self.assertIn(cls.message_template, listed, "%s's message is missing from tools/messages.py" % cls)
