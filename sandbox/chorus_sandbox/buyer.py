"""The public buyer's side: received invoices, their documents and their processing."""

import base64

from . import documents, shapes
from .common import (OK, REASON_MAX, REASON_REQUIRED, TRANSITIONS, ApiError, as_int, descending, functional,
                     no_result, paged, parse_time, rfc3339, safe_name)


class BuyerSide:
    """Part of SandboxState: what a public buyer's technical account does."""

    def _recipient_ids(self, account):
        return {s["idStructureCPP"] for s in self.account_structures(account)
                if s.get("typeStructure", "PUBLIQUE") == "PUBLIQUE"}

    def _received_invoice(self, account, invoice_id):
        invoice = self.invoices.get(as_int(invoice_id))
        if not invoice or invoice.get("destinataire") not in self._recipient_ids(account) or \
                invoice["statut"] in ("DEPOSEE", "EN_COURS_ACHEMINEMENT"):
            raise functional(20020, "FAC_MSG_01_001 Facture inconnue : %s" % invoice_id)
        return invoice

    def _supplier_of(self, invoice):
        supplier = self.structures.get(invoice.get("fournisseur")) or {}
        return (invoice.get("siretFournisseur") or supplier.get("identifiantStructure"),
                invoice.get("designationFournisseur") or supplier.get("designationStructure"))

    def search_recipient(self, account, payload):
        ids = self._recipient_ids(account)
        if payload.get("idDestinataire"):
            ids &= {as_int(payload["idDestinataire"])}
        statuses = payload.get("statutCourant") or []
        since = parse_time(payload["periodeDateHeureEtatCourantDu"]) \
            if payload.get("periodeDateHeureEtatCourantDu") else None
        until = parse_time(payload["periodeDateHeureEtatCourantAu"]) \
            if payload.get("periodeDateHeureEtatCourantAu") else None
        kind = payload.get("typeDemandePaiement")
        found = []
        for i in self.invoices.values():
            if i.get("destinataire") not in ids or i["statut"] in ("DEPOSEE", "EN_COURS_ACHEMINEMENT"):
                continue
            if i.get("listed_at", 0) > self.now():
                continue  # written, not shown by the search yet (its status time is already set)
            if kind and kind != i.get("typeDemandePaiement", "FACTURE"):
                continue  # works invoices (FACTURE_TRAVAUX) are listed only when asked for
            if statuses and i["statut"] not in statuses:
                continue
            if payload.get("numeroFacture") and i["numeroFacture"] != payload["numeroFacture"]:
                continue
            if payload.get("idServiceExecutant") and i.get("idServiceExecutant") != as_int(payload["idServiceExecutant"]):
                continue
            if payload.get("periodeDateDepotDu") and i["dateDepot"] < payload["periodeDateDepotDu"][:10]:
                continue
            if payload.get("periodeDateDepotAu") and i["dateDepot"] > payload["periodeDateDepotAu"][:10]:
                continue
            if since is not None and i["changed"] < since:
                continue
            if until is not None and i["changed"] > until:
                continue
            if payload.get("factureTelechargeeParDestinataire") is not None and \
                    bool(payload["factureTelechargeeParDestinataire"]) != i["telechargee"]:
                continue
            found.append(i)
        if not found:
            raise no_result()
        paging = payload.get("paramRecherche") or {}
        found.sort(key=lambda i: (i["dateDepot"], i["idFacture"]), reverse=descending(paging))
        page, meta = paged(found, paging.get("nbResultatsParPage"), paging.get("pageResultatDemandee"))
        items = []
        for i in page:
            supplier_code, supplier_name = self._supplier_of(i)
            buyer = self.structures[i["destinataire"]]
            items.append({
                "idFacture": i["idFacture"], "numeroFacture": i["numeroFacture"], "statut": i["statut"],
                "commentaireEtatCourant": i["commentaire"], "dateHeureEtatCourant": rfc3339(i["changed"]),
                "codeFournisseur": supplier_code, "designationFournisseur": supplier_name,
                "typeIdentifiantFournisseur": "SIRET", "codeDestinataire": buyer["identifiantStructure"],
                "idDestinataire": buyer["idStructureCPP"], "designationDestinataire": buyer["designationStructure"],
                "codeServiceExecutant": i.get("codeServiceExecutant"), "idServiceExecutant": i.get("idServiceExecutant"),
                "dateFacture": i["dateFacture"], "dateDepot": i["dateDepot"], "montantHT": i["montantHT"],
                "montantTTC": i["montantTTC"], "montantAPayer": i["montantAPayer"], "devise": i["devise"],
                "numeroBonCommande": i.get("numeroEngagement"), "numeroMarche": i.get("numeroMarche"),
                "typeFacture": i["typeFacture"], "typeDemandePaiement": i.get("typeDemandePaiement", "FACTURE"),
                "factureTelechargeeParDestinataire": i["telechargee"],
            })
        return shapes.build("factures/v1/rechercher/recipiendaire", dict(OK, listeFactures=items, **meta))

    def _vat_lines(self, invoice):
        if invoice.get("sansRecapTva"):  # a control of the sandbox: Chorus Pro gives no VAT recap for it
            return []
        return invoice.get("lignesTva") or [{"tauxTva": 20.0, "montantBaseHtParTaux": invoice["montantHT"],
                                             "montantTvaParTaux": round(invoice["montantTTC"] - invoice["montantHT"],
                                                                        2)}]

    def _documents(self, invoice):
        """The invoice's files as Chorus Pro lists them: its PDF first (the main one), then the others."""
        main = {"pieceJointeId": invoice["idFacture"] * 10, "pieceJointeDesignation": invoice["numeroFacture"],
                "pieceJointeExtension": "PDF", "pieceJointeTypeCode": "FACTURE",
                "pieceJointeTypeLibelle": "Facture", "pieceJointeIdLiaison": invoice["idFacture"] * 10 + 1,
                "pieceJointeNumeroLigneFacture": 0}
        others = [{"pieceJointeId": invoice["idFacture"] * 10 + 2 + n,
                   "pieceJointeDesignation": piece["nom"].rsplit(".", 1)[0],
                   "pieceJointeExtension": piece["nom"].rsplit(".", 1)[-1].upper() if "." in piece["nom"] else "",
                   "pieceJointeTypeCode": "PIECE_JUSTIFICATIVE", "pieceJointeTypeLibelle": "Pièce justificative",
                   "pieceJointeIdLiaison": 0, "pieceJointeNumeroLigneFacture": 0}
                  for n, piece in enumerate(invoice["pieces"])]
        return [main] + others

    def get_received(self, account, payload):
        i = self._received_invoice(account, payload.get("identifiantFactureCPP"))
        buyer = self.structures[i["destinataire"]]
        limit = as_int(payload.get("nbResultatsMaximum"))  # CPP-2017's reading: one size for every list
        vat_paging = payload.get("rechercheligneTvaRecap") or {}
        vat, vat_meta = paged(self._vat_lines(i), vat_paging.get("nbResultatsParPageListeListeRecapitulatifTVA")
                              or limit, vat_paging.get("pageResultatDemandeeListeRecapitulatifTVA"))
        doc_paging = payload.get("recherchePj") or {}
        docs, doc_meta = paged(self._documents(i), doc_paging.get("nbResultatsParPageListePieceJointe") or limit,
                               doc_paging.get("pageResultatDemandeeListePieceJointe"))
        line_paging = payload.get("rechercheLignePoste") or {}
        lines, line_meta = paged(i.get("lignesDePoste") or [], line_paging.get("nbResultatsParPageLignesPoste")
                                 or limit, line_paging.get("pageResultatDemandeeLignesPoste"))
        main = self._documents(i)[0]
        discount = i.get("montantRemiseGlobaleTTC") or 0.0
        facture = {
            "identifiantFactureCPP": i["idFacture"], "numeroFacture": i["numeroFacture"],
            "statutFacture": i["statut"], "commentaire": i["commentaire"], "modeDepot": "DEPOT_API",
            "cadreDeFacturation": {"codeCadreFacturation": "A1_FACTURE_FOURNISSEUR"},
            "fournisseur": self._received_supplier(i),
            "destinataire": {"idDestinataire": buyer["idStructureCPP"], "codeDestinataire": buyer["identifiantStructure"],
                             "libelleDestinataire": buyer["designationStructure"],
                             "codeServiceExecutant": i.get("codeServiceExecutant"),
                             "idServiceExecutant": i.get("idServiceExecutant"), "destinataireEtat": "ACTIF"},
            "references": self._received_references(i),
            # A global discount (remise globale TTC) comes off the total including VAT: HT and VAT are before it.
            "montantTotal": {"montantHtTotal": i["montantHT"],
                             "montantTVA": i.get("montantTVA", round(i["montantTTC"] + discount - i["montantHT"], 2)),
                             "montantTtcTotal": i["montantTTC"],
                             "montantTtcAvantRemiseGlobalTTC": round(i["montantTTC"] + discount, 2),
                             "montantAPayer": i["montantAPayer"], "montantRemiseGlobaleTTC": discount},
            "recapitulatifDeTva": {
                "ligneTva": [{"ligneTvaTauxManuel": line["tauxTva"],
                              "ligneTvaMontantBaseHtParTaux": line["montantBaseHtParTaux"],
                              "ligneTvaMontantTvaParTaux": line["montantTvaParTaux"]} for line in vat],
                **_paging(vat_meta, "LignesRecapitulativesTVA")},
            "lignesDePoste": {"lignePoste": lines, **_paging(line_meta, "LignesPoste")},
            "listeDesPiecesJointes": {"pieceJointe": docs, **_paging(doc_meta, "ListePiecesJointe")},
            "pieceJointePrincipale": {"idPieceJointePrincipale": main["pieceJointeId"],
                                      "idLiaisonPieceJointePrincipale": main["pieceJointeIdLiaison"]},
        }
        return shapes.build("factures/v1/consulter/recipiendaire", dict(OK, facture=facture))

    def _received_supplier(self, invoice):
        """consulter/recipiendaire's ``fournisseur``: who the supplier is, and the bank account it gave."""
        bank = invoice.get("coordonneesBancaires") or {}
        iban = bank.get("iban") or ""
        supplier_code, supplier_name = self._supplier_of(invoice)
        return {
            "idFournisseur": invoice.get("fournisseur"), "codeFournisseur": supplier_code,
            "typeIdentifiantFournisseur": "SIRET", "designationFournisseur": supplier_name,
            "coordBancairesFournisseurCompteBancaire": iban or None,
            "coordBancairesFournisseurCleIban": iban[2:4] or None,
            "coordBancairesFournisseurCodePays": iban[:2] or None,
            "coordBancairesFournisseurType": "IBAN" if iban else None,
            "coordBancairesBicSwift": bank.get("bic"),
            # A factored invoice names its factor; the IBAN is then the factor's.
            "affactureur": invoice.get("affactureur") or {
                "affactureurCode": "", "affactureurCodePays": "", "affactureurId": 0, "affactureurRaisonSociale": "",
                "affactureurTypeIdentifiant": ""},
        }

    @staticmethod
    def _received_references(invoice):
        """consulter/recipiendaire's ``references``."""
        return {
            "numeroBonCommande": invoice.get("numeroEngagement"), "numeroMarche": invoice.get("numeroMarche"),
            "numeroDpMandat": invoice.get("numeroDpMandat"), "dateEcheancePaiement": invoice.get("dateEcheance"),
            "dateFacture": invoice["dateFacture"], "dateDepot": invoice["dateDepot"],
            "typeFacture": invoice["typeFacture"], "typeTva": invoice.get("typeTva", "TVA_SUR_DEBIT"),
            "numeroFactureOrigine": invoice.get("numeroFactureOrigine"),
            "modePaiement": None if invoice["typeFacture"] == "AVOIR" else "VIREMENT",
            "codeDeviseFacture": invoice["devise"],
        }

    def invoice_pdf(self, invoice):
        if invoice.get("pdf"):
            return invoice["pdf"]
        supplier_code, supplier_name = self._supplier_of(invoice)
        return documents.make_pdf([
            "FACTURE %s" % invoice["numeroFacture"],
            "Fournisseur : %s (SIRET %s)" % (supplier_name or "", supplier_code),
            "Destinataire : %s" % self.structures[invoice["destinataire"]]["designationStructure"],
            "Date : %s" % invoice["dateFacture"],
            "Montant HT : %.2f %s" % (invoice["montantHT"], invoice["devise"]),
            "Montant TTC : %.2f %s" % (invoice["montantTTC"], invoice["devise"]),
            "Chorus Pro : %s" % invoice["idFacture"],
        ])

    def _folder(self, invoice, position):
        naming = self.config["download_folders"]
        if naming == "opaque":
            return "facture_%s" % position
        if naming == "number":
            return safe_name(invoice["numeroFacture"])
        return "%s_%s" % (invoice["idFacture"], safe_name(invoice["numeroFacture"]))

    def download(self, account, payload):
        ids = [as_int(x.get("idFacture")) for x in payload.get("listeFacture") or []]
        if not ids:
            raise functional(20030, "FAC_MSG_03_001 listeFacture est obligatoire")
        invoices = [self._received_invoice(account, x) for x in ids]
        if (payload.get("format") or "PDF") not in ("PDF", "PIVOT"):
            raise functional(20031, "FAC_MSG_03_002 Format inconnu : %s" % payload.get("format"))
        with_pieces = str(payload.get("avecPiecesJointesComplementaires") or "NON").upper() == "OUI"
        per_invoice = []
        for i in invoices:
            files = [("%s.pdf" % safe_name(i["numeroFacture"]), self.invoice_pdf(i))]
            if with_pieces:
                files += [(piece["nom"], piece["contenu"]) for piece in i["pieces"]]
            per_invoice.append(files)
        if sum(len(content) for files in per_invoice for _n, content in files) > self.config["download_limit"]:
            raise ApiError(413, None)
        # The documented layouts: one file alone; one invoice's files in a ZIP without folder;
        # several invoices in a ZIP with a folder each.
        if len(invoices) == 1 and len(per_invoice[0]) == 1:
            result = per_invoice[0][0][1]
        elif len(invoices) == 1:
            result = documents.make_zip(per_invoice[0])
        else:
            result = documents.make_zip([("%s/%s" % (self._folder(i, n), name), content)
                                         for n, (i, files) in enumerate(zip(invoices, per_invoice), 1)
                                         for name, content in files])
        for i in invoices:
            i["telechargee"] = True
        return shapes.build("factures/v1/telecharger/groupe", dict(
            OK, fichierResultat=base64.b64encode(result).decode()))

    def allowed_statuses(self, invoice=None, status=None):
        status = invoice["statut"] if invoice else status
        allowed = list(TRANSITIONS.get(status, []))
        if invoice and invoice["suspendue_une_fois"] and "SUSPENDUE" in allowed:
            allowed.remove("SUSPENDUE")
        return allowed

    def process_received(self, account, payload):
        invoice = self._received_invoice(account, payload.get("idFacture"))
        new = payload.get("nouveauStatut")
        reason = payload.get("motif") or ""
        if new not in self.allowed_statuses(invoice):
            raise functional(20040, "FAC_MSG_04_001 Transition interdite de %s vers %s" % (invoice["statut"], new))
        if new in REASON_REQUIRED and not reason.strip():
            raise functional(20041, "FAC_MSG_04_002 Le motif est obligatoire pour le statut %s" % new)
        if len(reason) > REASON_MAX:
            raise functional(20042, "FAC_MSG_04_003 Le motif dépasse %s caractères" % REASON_MAX)
        if new == "MANDATEE":
            if not payload.get("numeroDPMandat"):
                raise functional(20043, "FAC_MSG_04_004 numeroDPMandat est obligatoire pour le statut MANDATEE")
            invoice["numeroDpMandat"] = payload["numeroDPMandat"]
        if new == "SUSPENDUE":
            invoice["suspendue_une_fois"] = True
        self._set_status(invoice, new, reason)
        return shapes.build("factures/v1/traiter/recue", dict(
            OK, dateTraitement=self.today().isoformat(), idFacture=invoice["idFacture"], nouveauStatut=new,
            numeroFacture=invoice["numeroFacture"]))

    def processing_states(self, payload):
        current = payload.get("statutCourant")
        if not current:
            raise functional(20044, "FAC_MSG_04_005 statutCourant est obligatoire")
        allowed = self.allowed_statuses(status=current)
        if not allowed:
            raise no_result()
        return shapes.build("transverses/v1/recuperer/etats/traitement", dict(
            OK, libelle="TRA_MSG_00.000",
            listeStatutsPossiblesPourTraitement=[{"statutPossiblePourTraitement": s} for s in allowed]))


def _paging(meta, suffix):
    """The paging keys of a list nested in consulter/recipiendaire (nbResultatsParPage<suffix>...)."""
    return {"nbResultatsParPage" + suffix: meta["nbResultatsParPage"], "pageCourante" + suffix: meta["pageCourante"],
            "pages" + suffix: meta["pages"], "total" + suffix: meta["total"]}
