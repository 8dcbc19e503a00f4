"""The sandbox's own controls: an inbox to import, a history to follow, a summary of the state."""

import random
from datetime import timedelta

from . import documents
from .common import RESERVED_SERVICE


class Controls:
    """Part of SandboxState: what the control API (/_sandbox/...) and the seed data add."""

    def _add_inbox_invoice(self, item):
        buyer = self.structure_by_siret(item["siretDestinataire"]) if "siretDestinataire" in item else \
            self.structures[int(item["destinataire"])]
        values = dict(item)
        values["destinataire"] = buyer["idStructureCPP"]
        values.setdefault("statut", "MISE_A_DISPOSITION")
        if values.get("codeServiceExecutant"):
            service = next((s for s in self.services.values() if s["idStructure"] == buyer["idStructureCPP"]
                            and s["codeService"] == values["codeServiceExecutant"]), None)
            values["idServiceExecutant"] = service["idService"] if service else None
        pieces = values.pop("piecesJointes", [])
        invoice = self._new_invoice(values)
        for name in pieces:
            invoice["pieces"].append({"nom": name, "contenu": documents.make_pdf(
                ["Piece justificative %s" % name, "Facture %s" % invoice["numeroFacture"]])})
        return invoice

    def list_late(self, invoice_id, seconds):
        """The search shows this invoice only ``seconds`` from now, whatever the time of its status (Chorus Pro's
        listing lagging behind its statuses)."""
        with self.lock:
            invoice = self.invoices[int(invoice_id)]
            invoice["listed_at"] = self.now() + float(seconds)
            return invoice

    def supplier_completes(self, invoice_id, names, comment=""):
        """The supplier completes a suspended invoice: new supporting documents, then the status COMPLETEE."""
        with self.lock:
            invoice = self.invoices[int(invoice_id)]
            for name in names:
                invoice["pieces"].append({"nom": name, "contenu": documents.make_pdf(
                    ["Piece justificative %s" % name, "Facture %s" % invoice["numeroFacture"]])})
            self._set_status(invoice, "COMPLETEE", comment)
            return invoice

    def clear_inbox(self):
        """Remove the received invoices that no flux deposited (the generated inbox)."""
        with self.lock:
            inbox = [i for i, invoice in self.invoices.items() if not invoice.get("numeroFluxDepot")]
            for invoice_id in inbox:
                del self.invoices[invoice_id]
            return len(inbox)

    def generate_inbox(self, count, buyer_siret=None, suppliers=None, seed=42, **_ignored):
        """Add ``count`` received invoices from the seeded suppliers (deterministic)."""
        rng = random.Random(seed + len(self.invoices))
        suppliers = suppliers or self.seed.get("inbox_suppliers") or []
        if not suppliers:
            raise ValueError("no inbox_suppliers in the sandbox data")
        buyers = [buyer_siret] if buyer_siret else [s["identifiantStructure"] for s in self.structures.values()
                                                    if s.get("recoitFactures")]
        created = []
        by_supplier = {}
        with self.lock:
            for n in range(int(count)):
                supplier = suppliers[n % len(suppliers)]
                previous = by_supplier.setdefault(supplier["siret"], [])
                buyer = self.structure_by_siret(buyers[n % len(buyers)])
                codes = [s["codeService"] for s in self.services.values()
                         if s["idStructure"] == buyer["idStructureCPP"] and s["estActif"]
                         and s["codeService"] != RESERVED_SERVICE]
                ht = round(rng.uniform(80, 25000), 2)
                rate = rng.choice([20.0, 20.0, 10.0, 5.5])
                tva = round(ht * rate / 100, 2)
                day = self.today() - timedelta(days=rng.randint(0, 20))
                invoice = self._add_inbox_invoice({
                    "destinataire": buyer["idStructureCPP"],
                    "numeroFacture": "%s-%s-%05d" % (supplier.get("prefixe", "FA"), day.year,
                                                     self.next_invoice_id % 100000),
                    "siretFournisseur": supplier["siret"], "designationFournisseur": supplier["nom"],
                    "typeDemandePaiement": supplier.get("typeDemandePaiement", "FACTURE"),
                    "coordonneesBancaires": {"iban": supplier.get("iban"), "bic": supplier.get("bic")},
                    "affactureur": supplier.get("affactureur"),
                    "dateFacture": day.isoformat(), "dateDepot": day.isoformat(),
                    "codeServiceExecutant": rng.choice(codes) if codes else None,
                    "numeroEngagement": "EJ%s%06d" % (day.year, rng.randint(1, 999999)) if rng.random() < .7 else None,
                    "montantHT": ht, "montantTTC": round(ht + tva, 2), "montantAPayer": round(ht + tva, 2),
                    "lignesTva": [{"tauxTva": rate, "montantBaseHtParTaux": ht, "montantTvaParTaux": tva}],
                    "piecesJointes": ["bon_de_livraison.pdf"] if n % 3 == 0 else
                                     (["devis_signe.pdf", "pv_reception.pdf"] if n % 3 == 1 else []),
                })
                # "avoirApres": N makes the supplier's invoice after its N-th a credit note of 10 % of that one.
                if supplier.get("avoirApres") and len(previous) == supplier["avoirApres"]:
                    self._make_credit_note(invoice, previous[-1])
                previous.append(invoice)
                created.append(invoice["idFacture"])
        return created

    @staticmethod
    def _make_credit_note(invoice, origin):
        """``invoice`` as a credit note (typeFacture AVOIR) of 10 % of ``origin``, naming it (numeroFactureOrigine)."""
        line = origin["lignesTva"][0]
        ht = round(origin["montantHT"] / 10, 2)
        tva = round(ht * line["tauxTva"] / 100, 2)
        invoice.update({
            "typeFacture": "AVOIR", "numeroFactureOrigine": origin["numeroFacture"],
            "numeroFacture": "AV-" + invoice["numeroFacture"], "montantHT": ht, "montantTTC": round(ht + tva, 2),
            "montantAPayer": round(ht + tva, 2),
            "lignesTva": [{"tauxTva": line["tauxTva"], "montantBaseHtParTaux": ht, "montantTvaParTaux": tva}],
        })

    def generate_sent(self, count, supplier_siret, buyer_siret, status="MISE_A_DISPOSITION", prefix="HIST",
                      age=30 * 86400, **_ignored):
        """Add ``count`` invoices a supplier deposited (a history to follow, for the benchmarks), their statuses all
        set at one moment, ``age`` seconds ago (a month by default); returns their [idFacture, numeroFacture]."""
        created = []
        with self.lock:
            supplier = self.structure_by_siret(supplier_siret)
            buyer = self.structure_by_siret(buyer_siret)
            if not supplier or not buyer:
                raise KeyError(supplier_siret if not supplier else buyer_siret)
            moment = int(self.now() - float(age))
            for n in range(int(count)):
                invoice = self._new_invoice({
                    "fournisseur": supplier["idStructureCPP"], "destinataire": buyer["idStructureCPP"],
                    "designationFournisseur": supplier["designationStructure"],
                    "siretFournisseur": supplier_siret, "numeroFacture": "%s-%06d" % (prefix, n + 1),
                    "numeroFluxDepot": "CPP%s%09d" % (self.today().year, n + 1), "montantHT": 100.0,
                    "montantTTC": 120.0, "statut": status, "listed_at": 0,
                })
                invoice["changed"] = moment
                invoice["historique"][-1]["time"] = moment
                created.append([invoice["idFacture"], invoice["numeroFacture"]])
        return created

    def summary(self):
        with self.lock:
            return {
                "now": self.now_dt().isoformat(), "config": self.config, "calls": dict(self.calls),
                "faults": list(self.faults),
                "flux": [{k: v for k, v in f.items() if k != "content"} for f in self.flux.values()],
                "invoices": [{k: v for k, v in i.items() if k not in ("pieces", "pdf", "historique")}
                             for i in self.invoices.values()],
            }
