"""The supplier's side: deposits, flux, its invoices, supporting documents, completing and recycling."""

import base64
import binascii

from . import documents, shapes
from .common import (ATTACHMENT_EXTENSIONS, ATTACHMENT_MAX_BYTES, ATTACHMENT_NAME_MAX, ATTACHMENT_TYPES, OK,
                     RESERVED_SERVICE, SYNTAXES, as_int, descending, functional, no_result, paged, parse_time,
                     rfc3339)


class SupplierSide:
    """Part of SandboxState: what a supplier's technical account does."""

    def deposit(self, account, payload):
        supplier = self.supplier_structure(account)
        for field in ("fichierFlux", "nomFichier", "syntaxeFlux"):
            if not payload.get(field):
                raise functional(20010, "DEP_MSG_01_001 Le champ %s est obligatoire" % field)
        if payload["syntaxeFlux"] not in SYNTAXES:
            raise functional(20011, "DEP_MSG_01_002 Syntaxe de flux inconnue : %s" % payload["syntaxeFlux"])
        try:
            content = base64.b64decode(payload["fichierFlux"], validate=True)
        except (ValueError, binascii.Error):
            raise functional(20012, "DEP_MSG_01_003 fichierFlux n'est pas du base64") from None
        with self.lock:
            number = "CPP%s%08d" % (self.today().strftime("%Y"), self.next_flux)
            self.next_flux += 1
            self.flux[number] = {
                "numeroFluxDepot": number, "dateDepot": self.today().isoformat(), "created": self.now(),
                "changed": self.now(), "nomFichier": payload["nomFichier"], "syntaxeFlux": payload["syntaxeFlux"],
                "content": content, "supplier": supplier["idStructureCPP"], "login": account["login"],
                "etat": "IN_EN_ATTENTE_TRAITEMENT_CPP", "erreursDP": [], "erreursTechniques": [],
                "invoices": [],
            }
            return shapes.build("factures/v1/deposer/flux", dict(
                OK, numeroFluxDepot=number, dateDepot=self.today().isoformat(), syntaxeFlux=payload["syntaxeFlux"]))

    def flux_report(self, account, payload):
        flux = self.flux.get(payload.get("numeroFluxDepot") or "")
        if not flux or flux["login"] != account["login"]:
            raise functional(20013, "TRA_MSG_00.020 Flux inconnu : %s" % payload.get("numeroFluxDepot"))
        return shapes.build("transverses/v1/consulterCRDetaille", dict(
            OK, libelle="TRA_MSG_00.000", codeInterfaceDepotFlux="FSO1100A",
            dateDepotFlux=rfc3339(flux["created"]), dateHeureEtatCourantFlux=rfc3339(flux["changed"]),
            etatCourantDepotFlux=flux["etat"], nomFichier=flux["nomFichier"],
            listeErreurDP=flux["erreursDP"], listeErreurTechnique=flux["erreursTechniques"]))

    def set_flux_state(self, number, state, errors=None):
        """Control API: put a flux in a state (IN_INCIDENTE, IN_EN_ATTENTE_RETRAITEMENT_CPP...)."""
        with self.lock:
            flux = self.flux[number]
            flux["etat"] = state
            flux["changed"] = self.now()
            if errors:
                flux["erreursTechniques"] = errors
            return flux

    def _process_flux(self, flux):
        flux["changed"] = self.now()
        try:
            parsed = documents.invoices_from_flux(flux["content"], flux["syntaxeFlux"])
        except documents.FluxError as e:
            flux["etat"] = "IN_REJETE"
            flux["erreursTechniques"].append({"codeErreur": e.code, "libelleErreur": e.message,
                                              "natureErreur": "TECHNIQUE"})
            return
        supplier = self.structures[flux["supplier"]]
        accepted = 0
        for number, item in enumerate(parsed, 1):
            error = self._routing_error(item, supplier)
            if error:
                flux["erreursDP"].append({"numeroDP": item.get("numeroFacture") or str(number),
                                          "identifiantFournisseur": item.get("siretFournisseur") or "",
                                          "identifiantDestinataire": item.get("siretDestinataire") or "",
                                          "libelleErreurDP": error})
                continue
            buyer = self.structure_by_siret(item["siretDestinataire"])
            self._new_invoice({
                **item, "fournisseur": supplier["idStructureCPP"], "destinataire": buyer["idStructureCPP"],
                "numeroFluxDepot": flux["numeroFluxDepot"],
                "designationFournisseur": supplier["designationStructure"],
                "statut": "DEPOSEE", "listed_at": self.now() + float(self.config["list_delay"]),
            })
            flux["invoices"].append(self.next_invoice_id - 1)
            accepted += 1
        flux["etat"] = ("IN_INTEGRE" if accepted == len(parsed) else
                        "IN_INTEGRE_PARTIEL" if accepted else "IN_REJETE")

    def _routing_error(self, item, supplier, check_duplicate=True):
        """Why Chorus Pro would refuse this invoice, or None."""
        if item.get("siretFournisseur") != supplier["identifiantStructure"]:
            return "Le SIRET du fournisseur (%s) ne correspond pas au compte déposant" % item.get("siretFournisseur")
        buyer = self.structure_by_siret(item.get("siretDestinataire") or "")
        if not buyer or buyer["statut"] != "ACTIF":
            return "Destinataire inconnu ou inactif : %s" % item.get("siretDestinataire")
        params = buyer["parametres"]
        code = item.get("codeServiceExecutant")
        engagement = item.get("numeroEngagement")
        service = None
        if code:
            if code == RESERVED_SERVICE:
                return "Le service %s est réservé aux échanges entre entités publiques" % RESERVED_SERVICE
            service = next((s for s in self.services.values()
                            if s["idStructure"] == buyer["idStructureCPP"] and s["codeService"] == code), None)
            if not service:
                return "Service exécutant inconnu pour ce destinataire : %s" % code
            if not service["estActif"]:
                return "Le service exécutant %s est inactif" % code
        if params.get("codeServiceDoitEtreRenseigne") and not code:
            return "Le code service est obligatoire pour ce destinataire"
        if params.get("gestionNumeroEJOuCodeService") and not (code or engagement):
            return "Le code service ou le numéro d'engagement est obligatoire pour ce destinataire"
        needs_ej = params.get("numeroEJDoitEtreRenseigne") or (service and service["parametres"].get("numeroEngagement"))
        if needs_ej and not engagement:
            return "Le numéro d'engagement juridique est obligatoire pour ce destinataire"
        if engagement and len(engagement) > 50:
            return "Le numéro d'engagement dépasse 50 caractères"
        if check_duplicate:
            for other in self.invoices.values():
                if other.get("fournisseur") == supplier["idStructureCPP"] and \
                        other["numeroFacture"] == item["numeroFacture"] and other["statut"] != "REJETEE" and \
                        other.get("typeFacture") == item.get("typeFacture"):
                    return "Facture en doublon : le numéro %s a déjà été déposé par ce fournisseur" % \
                        item["numeroFacture"]
        return None

    def _supplier_invoice(self, account, invoice_id):
        supplier = self.supplier_structure(account)
        invoice = self.invoices.get(as_int(invoice_id))
        if not invoice or invoice.get("fournisseur") != supplier["idStructureCPP"]:
            raise functional(20020, "FAC_MSG_01_001 Facture inconnue : %s" % invoice_id)
        return invoice

    def search_supplier(self, account, payload):
        supplier = self.supplier_structure(account)
        paging = payload.get("rechercheFactureParFournisseur") or {}
        statuses = payload.get("statutCourant") or []
        since = parse_time(payload["periodeDateHeureEtatCourantDu"]) \
            if payload.get("periodeDateHeureEtatCourantDu") else None
        found = [i for i in self.invoices.values() if i.get("fournisseur") == supplier["idStructureCPP"]
                 and (not payload.get("numeroFluxDepot") or i.get("numeroFluxDepot") == payload["numeroFluxDepot"])
                 and (not payload.get("numeroFacture") or i["numeroFacture"] == payload["numeroFacture"])
                 and (not statuses or i["statut"] in statuses)
                 and (since is None or i["changed"] >= since)
                 and i.get("listed_at", 0) <= self.now()]
        if not found:
            raise no_result()
        found.sort(key=lambda i: (i["dateDepot"], i["idFacture"]), reverse=descending(paging))
        page, meta = paged(found, paging.get("nbResultatsParPage"), paging.get("pageResultatDemandee"))
        items = []
        for i in page:
            buyer = self.structures[i["destinataire"]]
            items.append({
                "identifiantFactureCPP": i["idFacture"], "numeroFacture": i["numeroFacture"], "statut": i["statut"],
                "commentaireEtatCourant": i["commentaire"], "dateDepot": i["dateDepot"],
                "dateFacture": i["dateFacture"], "dateHeureEtatCourant": rfc3339(i["changed"]),
                "typeFacture": i["typeFacture"], "typeDemandePaiement": i.get("typeDemandePaiement", "FACTURE"),
                "montantHT": i["montantHT"],
                "montantTTC": i["montantTTC"], "montantAPayer": i["montantAPayer"], "devise": i["devise"],
                "numeroFluxDepot": i.get("numeroFluxDepot"), "codeDestinataire": buyer["identifiantStructure"],
                "idDestinataire": buyer["idStructureCPP"], "designationDestinataire": buyer["designationStructure"],
                "codeFournisseur": supplier["identifiantStructure"], "typeIdentifiantFournisseur": "SIRET",
                "designationFournisseur": supplier["designationStructure"], "modeDepot": "DEPOT_API",
                "codeServiceExecutant": i.get("codeServiceExecutant"), "numeroBonCommande": i.get("numeroEngagement"),
                "numeroMarche": i.get("numeroMarche"), "rejetTraite": False,
            })
        return shapes.build("factures/v1/rechercher/fournisseur", dict(OK, parametresRetour=meta,
                                                                       listeFactures=items))

    def attachment_types(self, payload):
        return shapes.build("transverses/v1/recuperer/typespj", dict(OK, libelle="TRA_MSG_00.000",
            listeTypePieceJointe=[{"codeTypePieceJointe": code, "libelleTypePieceJointe": label,
                                   "idTypePieceJointe": n, "typeObjet": "FACTURE"}
                                  for n, (code, label) in enumerate(ATTACHMENT_TYPES, 1)]))

    def add_file(self, account, payload):
        name = payload.get("pieceJointeNom") or ""
        extension = (payload.get("pieceJointeExtension") or "").upper()
        if not name or len(name) > ATTACHMENT_NAME_MAX:
            raise functional(20004, "GCU_MSG_05_001 pieceJointeNom est obligatoire (50 caractères au plus)")
        if extension not in ATTACHMENT_EXTENSIONS:
            raise functional(20005, "GCU_MSG_05_002 Extension non autorisée : %s" % extension)
        try:
            content = base64.b64decode(payload.get("pieceJointeFichier") or "", validate=True)
        except (ValueError, binascii.Error):
            raise functional(20012, "DEP_MSG_01_003 pieceJointeFichier n'est pas du base64") from None
        if len(content) > ATTACHMENT_MAX_BYTES:
            raise functional(20003, "GCU_MSG_05_003 Le fichier dépasse 10 Mo")
        with self.lock:
            piece_id = self._new_id()
            self.files[piece_id] = {"nom": name, "contenu": content, "login": account["login"]}
        return shapes.build("transverses/v1/ajouter/fichier", dict(OK, pieceJointeId=piece_id))

    def complete(self, account, payload):
        invoice = self._supplier_invoice(account, payload.get("identifiantFactureCPP"))
        if invoice["statut"] != "SUSPENDUE":
            raise functional(20002, "GDP_MSG_11.033 Le statut de la demande de paiement n'est pas défini à "
                                    "\"Suspendue\" (statut actuel : %s)" % invoice["statut"])
        codes = {code for code, _label in ATTACHMENT_TYPES}
        pieces = []
        for piece in payload.get("pieceJointeComplementaire") or []:
            stored = self.files.get(as_int(piece.get("pieceJointeComplementaireId")))
            if not stored or stored["login"] != account["login"]:
                raise functional(20024, "FAC_MSG_02_004 Pièce jointe inconnue : %s"
                                 % piece.get("pieceJointeComplementaireId"))
            if piece.get("pieceJointeComplementaireType") not in codes:
                raise functional(20025, "FAC_MSG_02_005 Type de pièce jointe inconnu : %s"
                                 % piece.get("pieceJointeComplementaireType"))
            if not piece.get("pieceJointeComplementaireDesignation"):
                raise functional(20026, "FAC_MSG_02_006 pieceJointeComplementaireDesignation est obligatoire")
            pieces.append({"nom": piece["pieceJointeComplementaireDesignation"], "contenu": stored["contenu"]})
        invoice["pieces"].extend(pieces)
        self._set_status(invoice, "COMPLETEE", payload.get("commentaire") or "")
        return shapes.build("factures/v1/completer", dict(
            OK, identifiantFactureCPP=invoice["idFacture"], numeroFacture=invoice["numeroFacture"],
            dateTraitement=self.today().isoformat()))

    def recycle(self, account, payload):
        invoice = self._supplier_invoice(account, payload.get("identifiantFactureCPP"))
        if invoice["statut"] != "A_RECYCLER":
            raise functional(20022, "FAC_MSG_02_002 Seule une facture A_RECYCLER peut être recyclée "
                                    "(statut actuel : %s)" % invoice["statut"])
        recipient = payload.get("destinataire") or {}
        reference = payload.get("reference") or {}
        buyer = self.structure_by_siret(recipient.get("codeDestinataire") or "") if recipient.get(
            "codeDestinataire") else self.structures[invoice["destinataire"]]
        if not buyer:
            raise functional(20023, "FAC_MSG_02_003 Destinataire inconnu : %s" % recipient.get("codeDestinataire"))
        item = dict(invoice, siretDestinataire=buyer["identifiantStructure"],
                    codeServiceExecutant=recipient.get("codeServiceExecutant") or invoice.get("codeServiceExecutant"),
                    numeroEngagement=reference.get("numeroBonCommande") or invoice.get("numeroEngagement"))
        error = self._routing_error(item, self.structures[invoice["fournisseur"]], check_duplicate=False)
        if error:
            raise functional(20023, "FAC_MSG_02_003 %s" % error)
        invoice.update(destinataire=buyer["idStructureCPP"], codeServiceExecutant=item["codeServiceExecutant"],
                       numeroEngagement=item["numeroEngagement"])
        self._set_status(invoice, "MISE_A_DISPOSITION", payload.get("commentaire") or "Facture recyclée")
        return shapes.build("factures/v1/recycler", dict(
            OK, identifiantFactureCPP=invoice["idFacture"], numeroFacture=invoice["numeroFacture"],
            statutFacture=invoice["statut"], dateDepot=invoice["dateDepot"]))
