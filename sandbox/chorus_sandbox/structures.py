"""Structures (public buyers and suppliers) and their services."""

from . import shapes
from .common import OK, ApiError, as_int, functional, no_result, paged


class Structures:
    """Part of SandboxState: structures/v1 and the recipient's active structures."""

    def structure_by_siret(self, siret):
        for struct in self.structures.values():
            if struct.get("identifiantStructure") == siret:
                return struct
        return None

    def account_structures(self, account):
        return [s for s in (self.structure_by_siret(x) for x in account.get("structures", [])) if s]

    def supplier_structure(self, account):
        structs = self.account_structures(account)
        if not structs:
            raise ApiError(403, None)
        return structs[0]

    def _structure(self, sid):
        struct = self.structures.get(as_int(sid))
        if not struct:
            raise functional(20001, "GCU_MSG_01_001 Structure inconnue : %s" % sid)
        return struct

    def search_structures(self, payload):
        criteria = payload.get("structure") or {}
        identifier = criteria.get("identifiantStructure")
        if not identifier:
            raise functional(20002, "GCU_MSG_01_002 identifiantStructure est obligatoire")
        found = [s for s in self.structures.values() if s.get("identifiantStructure") == identifier]
        if payload.get("restreindreStructuresPrivees"):
            found = [s for s in found if s.get("typeStructure", "PUBLIQUE") == "PUBLIQUE"]
        if not found:
            raise no_result()
        paging = payload.get("parametres") or {}
        page, meta = paged(found, paging.get("nbResultatsParPage"), paging.get("pageResultatDemandee"))
        return shapes.build("structures/v1/rechercher", dict(OK, parametresRetour=meta, listeStructures=[
            {"idStructureCPP": s["idStructureCPP"], "identifiantStructure": s["identifiantStructure"],
             "typeIdentifiantStructure": s.get("typeIdentifiantStructure", "SIRET"),
             "designationStructure": s["designationStructure"], "statut": s["statut"]} for s in page]))

    def get_structure(self, payload):
        # idStructureCPP (fact sheet, OCA) or idStructure (go-choruspro): see shapes/structures.consulter.json.
        s = self._structure(payload.get("idStructureCPP") or payload.get("idStructure"))
        params = s["parametres"]
        flags = ("codeServiceDoitEtreRenseigne", "numeroEJDoitEtreRenseigne", "gestionNumeroEJOuCodeService",
                 "statutMiseEnPaiementNestPasRemonte", "connexionEDI", "recevoirDonneesViaEDI", "estMoaUniquement",
                 "estValideurDelegue", "getaMoa", "nonDiffusibleInsee")
        account = next((a for a in self.accounts.values() if s["identifiantStructure"] in a.get("structures", [])),
                       None)
        expiry = account.get("password_expiry") if account else None
        return shapes.build("structures/v1/consulter", dict(
            OK,
            adressePostaleDuSiege={"adresse": s.get("adresse", ""), "codePostal": s.get("codePostal", ""),
                                   "pays": "FR", "ville": s.get("ville", "")},
            informationGenerales={
                "idStructureCPP": s["idStructureCPP"], "identifiantStructure": s["identifiantStructure"],
                "typeIdentifiantStructure": s.get("typeIdentifiantStructure", "SIRET"),
                "libelleStructure": s["designationStructure"], "raisonSocialeStructure": s["designationStructure"],
                "structurePriveePublique": s.get("typeStructure", "PUBLIQUE"), "listeStructureDupliquees": [],
                "dateExpirationMotPasseCompteTech": "%sT00:00:00.000+01:00" % expiry if expiry else None,
                "estValideurDeleguee": False,
            },
            parametres={flag: bool(params.get(flag)) for flag in flags}))

    def search_services(self, payload):
        s = self._structure(payload.get("idStructure"))
        paging = payload.get("parametresRechercherServicesStructure") or {}
        services = [sv for sv in self.services.values() if sv["idStructure"] == s["idStructureCPP"]]
        if not services:
            raise no_result()
        page, meta = paged(services, paging.get("nbResultatsParPage"), paging.get("pageResultatDemandee"))
        return shapes.build("structures/v1/rechercher/services", dict(OK, parametresRetour=meta, listeServices=[
            {"idService": sv["idService"], "codeService": sv["codeService"], "libelleService": sv["libelleService"],
             "estActif": sv["estActif"], "statutService": "ACTIF" if sv["estActif"] else "INACTIF"}
            for sv in page]))

    def get_service(self, payload):
        s = self._structure(payload.get("idStructure"))
        service = self.services.get(as_int(payload.get("idService")))
        if not service or service["idStructure"] != s["idStructureCPP"]:
            raise functional(20003, "GCU_MSG_01_003 Service inconnu : %s" % payload.get("idService"))
        return shapes.build("structures/v1/consulter/service", dict(
            OK, informationsGenerales={"codeService": service["codeService"],
                                       "nomService": service["libelleService"],
                                       "descriptionService": service["libelleService"]},
            parametres={"numeroEngagement": bool(service["parametres"].get("numeroEngagement")),
                        "miseEnPaiement": False}))

    def active_recipient_structures(self, account):
        structs = [s for s in self.account_structures(account)
                   if s.get("typeStructure", "PUBLIQUE") == "PUBLIQUE" and s["statut"] == "ACTIF"]
        if not structs:
            raise no_result()
        return shapes.build("transverses/v1/recuperer/structures/actives/destinataire", dict(
            OK, libelle="TRA_MSG_00.000", listeStructures=[
                {"idStructureCPP": s["idStructureCPP"], "identifiant": s["identifiantStructure"],
                 "designationStructure": s["designationStructure"]} for s in structs]))
