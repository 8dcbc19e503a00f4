"""Chorus Pro's published shapes (the fixtures of chorus_sandbox/shapes): the client reads them and
their variants, sends only published keys, and the sandbox answers exactly them."""

import copy
import io
import json
import urllib.parse
from datetime import date, datetime

import requests
from requests.adapters import BaseAdapter

from odoo.tests import BaseCase, tagged

from .. import chorus
from ..chorus import exceptions as exc
from .common import (BUYER_LOGIN, BUYER_PASSWORD, COMMUNE_SIRET, NeedsSandbox, SandboxMixin, cii_invoice,
                     shapes)

SYNTAX_CII = "IN_DP_E1_CII_16B"


class FixtureAdapter(BaseAdapter):
    """A transport that answers each operation with a given JSON body, as Chorus Pro would.

    The client's own HTTP code runs (token, headers, body reading, codeRetour); only the network is
    replaced. Requests are kept to check their keys against the published ones.
    """

    def __init__(self, bodies):
        super().__init__()
        self.bodies = bodies
        self.requests = []

    def send(self, request, **kwargs):
        path = urllib.parse.urlsplit(request.url).path
        if path == "/api/oauth/token":
            body = shapes.fixture("oauth/token")["reply"]
        else:
            operation = path[len("/cpro/"):]
            self.requests.append((operation, json.loads(request.body or b"{}")))
            body = self.bodies[operation]
            if isinstance(body, list):  # successive replies (pages)
                body = body.pop(0) if len(body) > 1 else body[0]
        data = json.dumps(body).encode()
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "application/json;charset=utf-8"
        response.headers["Content-Length"] = str(len(data))
        response.raw = io.BytesIO(data)
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


def published(operation):
    return shapes.fixture(operation)["reply"]


def variant_reply(operation, source_part):
    return next(v["reply"] for v in shapes.fixture(operation)["variants"]
                if "reply" in v and source_part in v["source"])


@tagged("post_install", "-at_install", "chorus_client", "chorus_shapes")
class TestPublishedReplies(NeedsSandbox, BaseCase):
    """The client against the published replies themselves, without the sandbox."""

    def client(self, bodies):
        adapter = FixtureAdapter(bodies)
        session = requests.Session()
        session.mount("http://", adapter)
        # A loopback address: Odoo blocks any other host in tests; the adapter answers before any network.
        client = chorus.ChorusProClient("http://127.0.0.1:9", "http://127.0.0.1:9/api/oauth/token", "id", "secret",
                                        "TECH_1@cpro.fr", "password", token_cache=chorus.TokenCache(), session=session,
                                        backoff=0)
        return client, adapter

    def tearDown(self):
        super().tearDown()
        # Every request the client sent has only keys the published request has.
        for operation, payload in getattr(self, "_sent", []):
            self.assertEqual(shapes.unknown_request_keys(operation, payload), [], operation)

    def run_op(self, bodies, call):
        client, adapter = self.client(bodies)
        result = call(client)
        self._sent = getattr(self, "_sent", []) + adapter.requests
        return result

    def test_structures(self):
        found = self.run_op({"structures/v1/rechercher": published("structures/v1/rechercher")},
                            lambda c: c.search_structures(COMMUNE_SIRET))
        self.assertEqual([(s.id, s.identifier, s.name, s.status) for s in found],
                         [(25000101, COMMUNE_SIRET, "Commune de Saint-Véran-les-Pins", "ACTIF")])
        # Pastell reads listeStructures sent as one object too.
        found = self.run_op({"structures/v1/rechercher": variant_reply("structures/v1/rechercher", "pastell")},
                            lambda c: c.search_structures(COMMUNE_SIRET))
        self.assertEqual([s.id for s in found], [25000101])
        detail = self.run_op({"structures/v1/consulter": published("structures/v1/consulter")},
                             lambda c: c.get_structure(25000101))
        self.assertEqual((detail.name, detail.service_required, detail.engagement_required,
                          detail.service_or_engagement, detail.password_expiry),
                         ("Commune de Saint-Véran-les-Pins", True, False, False, datetime(2027, 12, 30, 23, 0)))
        services = self.run_op({"structures/v1/rechercher/services": published("structures/v1/rechercher/services")},
                               lambda c: c.search_services(25000101))
        self.assertEqual([(s.code, s.active) for s in services], [("SERV_TECHNIQUES", True), ("ANCIEN_CCAS", False)])
        service = self.run_op({"structures/v1/consulter/service": published("structures/v1/consulter/service")},
                              lambda c: c.get_service(25000303, 9300001))
        self.assertEqual((service.code, service.engagement_required), ("EXPLOITATION", True))

    def test_sending_and_follow_up(self):
        deposit = self.run_op({"factures/v1/deposer/flux": published("factures/v1/deposer/flux")},
                              lambda c: c.deposit_flux(b"%PDF-1.4", "FAC_2026_00042.pdf", "IN_DP_E2_CII_FACTURX"))
        self.assertEqual((deposit.flux_number, deposit.deposit_date), ("CPP2026000000042", date(2026, 11, 23)))
        report = self.run_op({"transverses/v1/consulterCRDetaille": published("transverses/v1/consulterCRDetaille")},
                             lambda c: c.get_flux_report("CPP2026000000042"))
        self.assertEqual(report.state, "IN_INTEGRE_PARTIEL")
        self.assertEqual([(e.invoice_number, e.message) for e in report.invoice_errors],
                         [("FAC/2026/00043", "Le code service est obligatoire pour ce destinataire")])
        self.assertEqual(report.technical_errors[0].code, "FLUX_XML_INVALIDE")
        self.assertEqual(report.state_time, datetime(2026, 11, 23, 9, 17, 40), "RFC 3339, +01:00")
        invoices = self.run_op({"factures/v1/rechercher/fournisseur": published("factures/v1/rechercher/fournisseur")},
                               lambda c: c.search_supplier_invoices(flux_number="CPP2026000000042"))
        self.assertEqual([(i.id, i.number, i.status, i.comment, i.flux_number) for i in invoices],
                         [(7000042, "FAC/2026/00042", "SUSPENDUE", "Bon de livraison manquant", "CPP2026000000042")])
        history = self.run_op({"factures/v1/consulter/historique": published("factures/v1/consulter/historique")},
                              lambda c: c.get_invoice_history(7000042))
        # Given out of order: sorted newest first, French times read as such.
        self.assertEqual([(e.status, e.time) for e in history.entries],
                         [("SUSPENDUE", datetime(2026, 11, 24, 8, 12)),
                          ("MISE_A_DISPOSITION", datetime(2026, 11, 23, 9, 25)),
                          ("DEPOSEE", datetime(2026, 11, 23, 9, 17))])
        self.assertEqual((history.current_status, history.latest.comment), ("SUSPENDUE", "Bon de livraison manquant"))
        self.assertEqual(history.last_time_of("MISE_A_DISPOSITION"), datetime(2026, 11, 23, 9, 25))
        history = self.run_op({"factures/v1/consulter/historique": variant_reply(
            "factures/v1/consulter/historique", "CPP-2017")}, lambda c: c.get_invoice_history(7000042))
        self.assertEqual([e.status for e in history.entries], ["MISE_A_DISPOSITION", "DEPOSEE"])

    def test_complete_and_recycle(self):
        bodies = {"transverses/v1/ajouter/fichier": published("transverses/v1/ajouter/fichier"),
                  "factures/v1/completer": published("factures/v1/completer")}
        reply = self.run_op(bodies, lambda c: c.complete_invoice(
            7000042, "BL signé", [("bl.pdf", b"%PDF-1.4", "application/pdf", "PIECE_JUSTIFICATIVE")]))
        self.assertEqual((reply.invoice_id, reply.number), (7000042, "FAC/2026/00042"))
        sent = dict(self._sent)
        self.assertEqual(sent["factures/v1/completer"]["pieceJointeComplementaire"], [{
            "pieceJointeComplementaireId": 5500012, "pieceJointeComplementaireDesignation": "bl.pdf",
            "pieceJointeComplementaireType": "PIECE_JUSTIFICATIVE"}])
        # CPP-2017 writes dateTraitement with the time.
        bodies["factures/v1/completer"] = variant_reply("factures/v1/completer", "CPP-2017")
        reply = self.run_op(bodies, lambda c: c.complete_invoice(7000042, "BL", []))
        self.assertEqual(reply.date, datetime(2026, 11, 24, 9, 2))
        types = self.run_op({"transverses/v1/recuperer/typespj": published("transverses/v1/recuperer/typespj")},
                            lambda c: c.get_attachment_types())
        self.assertEqual([t.code for t in types], ["PIECE_JUSTIFICATIVE", "BON_LIVRAISON"])
        reply = self.run_op({"factures/v1/recycler": published("factures/v1/recycler")},
                            lambda c: c.recycle_invoice(7000042, COMMUNE_SIRET, service_code="ECOLES"))
        self.assertEqual(reply.status, "MISE_A_DISPOSITION")

    def test_received_invoices(self):
        structures = self.run_op({"transverses/v1/recuperer/structures/actives/destinataire": published(
            "transverses/v1/recuperer/structures/actives/destinataire")},
            lambda c: c.get_active_recipient_structures())
        self.assertEqual([(s.id, s.identifier) for s in structures],
                         [(25000101, COMMUNE_SIRET), (25000202, "26830021700018")])
        for reply in (published("factures/v1/rechercher/recipiendaire"),
                      variant_reply("factures/v1/rechercher/recipiendaire", "pastell")):
            found = self.run_op({"factures/v1/rechercher/recipiendaire": reply},
                                lambda c: c.search_received_invoices(recipient_id=25000101))
            item = found[0]
            self.assertEqual((item.id, item.number, item.status, item.supplier_code, item.recipient_id,
                              item.status_time),
                             (7000001, "BDM-2026-00001", "MISE_A_DISPOSITION", "39214567800018", 25000101,
                              datetime(2026, 11, 20, 13, 5, 31)))
        self.assertEqual(self._sent[-1][1]["typeDemandePaiement"], "FACTURE")

    def test_received_invoice_detail_every_reading(self):
        for reply in (published("factures/v1/consulter/recipiendaire"),
                      variant_reply("factures/v1/consulter/recipiendaire", "CPP-2017")):
            detail = self.run_op({"factures/v1/consulter/recipiendaire": reply},
                                 lambda c: c.get_received_invoice(7000001))
            self.assertEqual((detail.number, detail.supplier.code, detail.supplier.name, detail.supplier.iban),
                             ("BDM-2026-00001", "39214567800018", "Bureautique du Midi SARL",
                              "FR7630004008230001234567819"))
            self.assertEqual((detail.amount_untaxed, detail.amount_tax, detail.amount_total, detail.amount_to_pay),
                             (1200.0, 240.0, 1440.0, 1440.0))
            # ligneTvaTauxRefValeur (go-choruspro) or ligneTvaTauxManuel (both): every reading.
            self.assertEqual([(v.rate, v.base, v.amount) for v in detail.vat_lines],
                             [(20.0, 1000.0, 200.0), (10.0, 200.0, 20.0)])
            self.assertEqual((detail.currency, detail.invoice_date, detail.engagement, detail.contract),
                             ("EUR", date(2026, 11, 18), "EJ2026000123", "M2025-014"))
            self.assertEqual([d.name for d in detail.documents], ["BDM-2026-00001", "bon_de_livraison"])
            self.assertEqual(detail.main_document_id, 5400001)
        self.assertEqual(detail.supplier.bic, None, "CPP-2017 has no BIC")

    def test_received_invoice_detail_nested_pages(self):
        page1 = published("factures/v1/consulter/recipiendaire")
        vat = page1["facture"]["recapitulatifDeTva"]
        vat.update(pagesLignesRecapitulativesTVA=2, totalLignesRecapitulativesTVA=3)
        page2 = copy.deepcopy(page1)
        page2["facture"]["recapitulatifDeTva"]["ligneTva"] = [{"ligneTvaMontantBaseHtParTaux": 10.0,
                                                               "ligneTvaMontantTvaParTaux": 0.55,
                                                               "ligneTvaTauxManuel": 5.5}]
        client, adapter = self.client({"factures/v1/consulter/recipiendaire": [page1, page2]})
        detail = client.get_received_invoice(7000001)
        self.assertEqual([v.rate for v in detail.vat_lines], [20.0, 10.0, 5.5])
        pages = [payload["rechercheligneTvaRecap"]["pageResultatDemandeeListeRecapitulatifTVA"]
                 for _op, payload in adapter.requests]
        self.assertEqual(pages, [1, 2])

    def test_processing(self):
        reply = self.run_op({"factures/v1/traiter/recue": published("factures/v1/traiter/recue")},
                            lambda c: c.process_received_invoice(7000001, "MANDATEE", mandate_number="B/1"))
        self.assertEqual((reply.status, reply.number), ("MANDATEE", "BDM-2026-00001"))
        self.assertEqual(self._sent[-1][1], {"idFacture": 7000001, "nouveauStatut": "MANDATEE",
                                             "numeroDPMandat": "B/1"})
        allowed = self.run_op({"transverses/v1/recuperer/etats/traitement": published(
            "transverses/v1/recuperer/etats/traitement")}, lambda c: c.get_allowed_statuses("MISE_A_DISPOSITION"))
        self.assertEqual(allowed, ["A_RECYCLER", "REJETEE", "SUSPENDUE", "SERVICE_FAIT", "MANDATEE"])

    def test_missing_fields_are_named(self):
        """A field the code needs that is missing is an error naming it, never an empty value."""
        reply = published("factures/v1/consulter/recipiendaire")
        del reply["facture"]["fournisseur"]["codeFournisseur"]
        with self.assertRaisesRegex(exc.ChorusMalformedReplyError, r"facture\.fournisseur\.codeFournisseur is missing"):
            self.run_op({"factures/v1/consulter/recipiendaire": reply}, lambda c: c.get_received_invoice(7000001))
        reply = published("factures/v1/consulter/recipiendaire")
        line = reply["facture"]["recapitulatifDeTva"]["ligneTva"][0]
        line["ligneTvaTauxManuel"] = line["ligneTvaTauxRefValeur"] = None
        with self.assertRaisesRegex(exc.ChorusMalformedReplyError, r"facture\.recapitulatifDeTva\.ligneTva\[0\]\."
                                                                   r"ligneTvaTauxManuel or .*ligneTvaTauxRefValeur"):
            self.run_op({"factures/v1/consulter/recipiendaire": reply}, lambda c: c.get_received_invoice(7000001))
        reply = published("factures/v1/consulter/recipiendaire")
        del reply["facture"]
        with self.assertRaisesRegex(exc.ChorusMalformedReplyError, "facture is missing"):
            self.run_op({"factures/v1/consulter/recipiendaire": reply}, lambda c: c.get_received_invoice(7000001))
        reply = published("factures/v1/consulter/recipiendaire")
        reply["facture"]["montantTotal"]["montantTtcTotal"] = "beaucoup"
        with self.assertRaisesRegex(exc.ChorusMalformedReplyError,
                                    r"facture\.montantTotal\.montantTtcTotal is not a number"):
            self.run_op({"factures/v1/consulter/recipiendaire": reply}, lambda c: c.get_received_invoice(7000001))
        reply = published("factures/v1/rechercher/recipiendaire")
        reply["listeFactures"][0]["dateHeureEtatCourant"] = None
        with self.assertRaisesRegex(exc.ChorusMalformedReplyError, r"listeFactures\[0\]\.dateHeureEtatCourant is "
                                                                   r"missing"):
            self.run_op({"factures/v1/rechercher/recipiendaire": reply}, lambda c: c.search_received_invoices())
        reply = published("factures/v1/deposer/flux")
        del reply["numeroFluxDepot"]
        with self.assertRaisesRegex(exc.ChorusOutcomeUnknownError, "numeroFluxDepot is missing"):
            self.run_op({"factures/v1/deposer/flux": reply},
                        lambda c: c.deposit_flux(b"%PDF", "a.pdf", "IN_DP_E2_CII_FACTURX"))


@tagged("post_install", "-at_install", "chorus_client", "chorus_shapes")
class TestSandboxShapes(SandboxMixin, BaseCase):
    """The sandbox answers exactly the published shapes, and refuses unpublished request keys."""

    def setUp(self):
        super().setUp()
        self.reset_sandbox()
        # Differences are asserted here rather than turned into 500s by the sandbox.
        self.sandbox.state.config["strict"] = False
        self.replies = {}
        self.supplier = self.recording(self.make_client())
        self.buyer = self.recording(self.make_client(login=BUYER_LOGIN, password=BUYER_PASSWORD))

    def recording(self, client):
        call = client._call

        def recorded(path, payload=None, **kw):
            reply = call(path, payload, **kw)
            self.replies.setdefault(path, []).append(reply)
            return reply

        client._call = recorded
        return client

    def test_shape_check_sees_missing_and_extra_keys(self):
        reply = published("factures/v1/consulter/recipiendaire")
        del reply["facture"]["fournisseur"]["coordBancairesBicSwift"]
        reply["facture"]["dateMiseADisposition"] = "2026-11-20"
        reply["facture"]["recapitulatifDeTva"]["ligneTva"][1]["tauxTva"] = 10.0
        self.assertEqual(shapes.reply_differences("factures/v1/consulter/recipiendaire", reply), [
            "extra facture.dateMiseADisposition",
            "missing facture.fournisseur.coordBancairesBicSwift",
            "extra facture.recapitulatifDeTva.ligneTva[1].tauxTva",
        ])

    def test_every_operation_answers_the_published_shape(self):
        supplier, buyer = self.supplier, self.buyer
        structures = supplier.search_structures(COMMUNE_SIRET)
        supplier.get_structure(structures[0].id)
        supplier.search_services(structures[0].id)
        supplier.get_service(25000303, 9300001)
        flux = supplier.deposit_flux(cii_invoice("SHAPE-1", service="SERV_TECHNIQUES"), "SHAPE-1.xml", SYNTAX_CII)
        supplier.deposit_flux(cii_invoice("SHAPE-2"), "SHAPE-2.xml", SYNTAX_CII)  # rejected: errors listed
        supplier.get_flux_report(flux.flux_number)
        supplier.get_flux_report(supplier.deposit_flux(b"<x/>", "bad.xml", SYNTAX_CII).flux_number)
        invoice = supplier.search_supplier_invoices(flux_number=flux.flux_number)[0]
        supplier.get_invoice_history(invoice.id)
        supplier.get_attachment_types()
        self.control("invoice/status", idFacture=invoice.id, statut="SUSPENDUE", commentaire="BL")
        supplier.complete_invoice(invoice.id, "BL", [("bl.pdf", b"%PDF-1.4", "application/pdf", "PIECE_JUSTIFICATIVE")])
        self.control("invoice/status", idFacture=invoice.id, statut="A_RECYCLER")
        supplier.recycle_invoice(invoice.id, COMMUNE_SIRET, service_code="ECOLES")
        received = buyer.search_received_invoices()
        buyer.get_active_recipient_structures()
        buyer.get_received_invoice(received[0].id)
        buyer.download_invoices([received[0].id])
        buyer.download_invoices([i.id for i in received[:3]])
        buyer.get_allowed_statuses("MISE_A_DISPOSITION")
        buyer.process_received_invoice(received[0].id, "SERVICE_FAIT", "Livré")
        for operation, replies in self.replies.items():
            for reply in replies:
                self.assertEqual(shapes.reply_differences(operation, reply), [], operation)
        # The special ones: the token, the health check, an error.
        token = requests.post(self.sandbox_url + "/api/oauth/token", data={
            "grant_type": "client_credentials", "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret", "scope": "openid"}, timeout=5).json()
        self.assertEqual(shapes.reply_differences("oauth/token", token), [])
        health = requests.get(self.sandbox_url + "/cpro/transverses/v1/health-check", timeout=5,
                              headers={"Authorization": "Bearer %s" % token["access_token"]}).json()
        self.assertEqual(shapes.reply_differences("transverses/v1/health-check", health), [])
        with self.assertRaises(exc.ChorusFunctionalError):
            supplier.get_structure(999)
        error = requests.post(self.sandbox_url + "/cpro/structures/v1/consulter", json={"idStructure": 999}, headers={
            "Authorization": "Bearer %s" % token["access_token"],
            "cpro-account": supplier._cpro_account()}, timeout=5).json()
        self.assertEqual(shapes.reply_differences("*", error), [])
        # Every published operation was exercised: a new fixture needs its case here.
        covered = set(self.replies) | {"oauth/token", "transverses/v1/health-check", "*"}
        self.assertEqual(set(shapes.operations()) - covered, set())

    def test_unpublished_request_keys_refused(self):
        """The sandbox refuses what Chorus Pro's published requests do not have (the old guesses included)."""
        self.control("invoice/status", idFacture=7000001, statut="SUSPENDUE")
        with self.assertRaisesRegex(exc.ChorusFunctionalError, "idFacture, listePiecesJointes"):
            self.supplier._call("factures/v1/completer", {"idFacture": 7000001, "listePiecesJointes": []}, write=True)
        with self.assertRaisesRegex(exc.ChorusFunctionalError, "siretStructure"):
            self.supplier._call("structures/v1/consulter", {"siretStructure": "21340012000019"})
        with self.assertRaisesRegex(exc.ChorusFunctionalError, "numeroEngagement"):
            self.supplier._call("factures/v1/recycler", {"identifiantFactureCPP": 1, "numeroEngagement": "x"},
                                write=True)
