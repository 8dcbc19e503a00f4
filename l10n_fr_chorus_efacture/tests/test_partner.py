"""The customer's Chorus Pro contact method: companies only, SIRET checked, structure looked up."""

from odoo.exceptions import UserError, ValidationError
from odoo.tests import TransactionCase, tagged

from .common import COMMUNE_SIRET, HOPITAL_SIRET, SYNDICAT_SIRET, SandboxMixin


class ChorusCompanyMixin(SandboxMixin):
    """A supplier company configured against an in-process sandbox, as env.company."""

    @classmethod
    def setup_chorus_company(cls):
        company = cls.point_company_at_sandbox(cls.env.company)
        company.siret = "45217896500011"
        return company


@tagged("post_install", "-at_install", "chorus_partner")
class TestChorusPartner(ChorusCompanyMixin, TransactionCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_chorus_company()
        cls.Partner = cls.env["res.partner"]

    def test_individual_refused(self):
        with self.assertRaisesRegex(ValidationError, "is an individual"):
            self.Partner.create({"name": "Jean Dupont", "is_company": False, "siret": COMMUNE_SIRET,
                                 "invoice_sending_method": "chorus_pro"})
        partner = self.Partner.create({"name": "Marie Martin", "is_company": False})
        with self.assertRaisesRegex(ValidationError, "Marie Martin is an individual"):
            partner.invoice_sending_method = "chorus_pro"

    def test_siret_checked(self):
        with self.assertRaisesRegex(ValidationError, "SIRET is missing"):
            self.Partner.create({"name": "Mairie", "is_company": True, "invoice_sending_method": "chorus_pro"})
        with self.assertRaisesRegex(ValidationError, "must have 14 digits"):
            self.Partner.create({"name": "Mairie", "is_company": True, "siret": "123",
                                 "invoice_sending_method": "chorus_pro"})
        with self.assertRaisesRegex(ValidationError, "check digit is wrong"):
            self.Partner.create({"name": "Mairie", "is_company": True, "siret": "21340012000018",
                                 "invoice_sending_method": "chorus_pro"})

    def test_structure_looked_up(self):
        partner = self.Partner.create({"name": "Commune", "is_company": True, "siret": COMMUNE_SIRET})
        self.assertFalse(partner.chorus_structure_id)
        partner.invoice_sending_method = "chorus_pro"
        self.assertEqual(partner.chorus_structure_id, 25000101)
        self.assertEqual(partner.chorus_structure_name, "Commune de Saint-Véran-les-Pins")
        self.assertTrue(partner.chorus_service_required)
        self.assertFalse(partner.chorus_engagement_required)
        self.assertTrue(partner.chorus_structure_checked)
        services = {s.code: s for s in partner.chorus_service_ids}
        self.assertEqual(set(services), {"SERV_TECHNIQUES", "ECOLES", "ANCIEN_CCAS", "FACTURES_PUBLIQUES"})
        self.assertFalse(services["ANCIEN_CCAS"].is_active)

        hospital = self.Partner.create({"name": "CH", "is_company": True, "siret": HOPITAL_SIRET,
                                        "invoice_sending_method": "chorus_pro"})
        self.assertTrue(hospital.chorus_engagement_required)
        syndicat = self.Partner.create({"name": "SIE", "is_company": True, "siret": SYNDICAT_SIRET,
                                        "invoice_sending_method": "chorus_pro"})
        self.assertTrue(syndicat.chorus_service_or_engagement)
        self.assertTrue(syndicat.chorus_service_ids.filtered(lambda s: s.code == "EXPLOITATION").engagement_required)

    def test_refresh_button(self):
        partner = self.Partner.create({"name": "Commune", "is_company": True, "siret": COMMUNE_SIRET,
                                       "invoice_sending_method": "chorus_pro"})
        ecoles = partner.chorus_service_ids.filtered(lambda s: s.code == "ECOLES")
        self.sandbox.state.services[9100002]["estActif"] = False
        try:
            partner.action_chorus_refresh_structure()
        finally:
            self.reset_sandbox()
        self.assertFalse(partner.chorus_service_ids.filtered(lambda s: s.code == "ECOLES").is_active)
        self.assertEqual(len(partner.chorus_service_ids), 4, "refresh updates the list, never duplicates it")
        self.assertTrue(ecoles.exists(), "a service keeps its record (a wizard or invoice may point at it)")
        self.assertFalse(ecoles.is_active)
        # Writing the same SIRET again is no change: no new lookup.
        calls = self.calls("structures/v1/rechercher")
        partner.write({"siret": partner.siret, "invoice_sending_method": "chorus_pro"})
        self.assertEqual(self.calls("structures/v1/rechercher"), calls)

    def test_unknown_siret_and_outage(self):
        partner = self.Partner.create({"name": "Inconnue", "is_company": True, "siret": "39214567800018"})
        partner.invoice_sending_method = "chorus_pro"  # an unknown structure does not block the choice
        self.assertFalse(partner.chorus_structure_id)
        self.assertIn("No Chorus Pro structure has the SIRET 39214567800018", partner.message_ids[0].body)
        with self.assertRaisesRegex(UserError, "No Chorus Pro structure"):
            partner.action_chorus_refresh_structure()

        self.inject("503", "structures/v1/rechercher", count=10)
        other = self.Partner.create({"name": "Commune", "is_company": True, "siret": COMMUNE_SIRET,
                                     "invoice_sending_method": "chorus_pro"})
        self.assertEqual(other.invoice_sending_method, "chorus_pro", "an outage does not lose the choice")
        self.assertIn("unavailable", other.message_ids[0].body)
        with self.assertRaisesRegex(UserError, "unavailable"):
            other.action_chorus_refresh_structure()
        self.control("faults/clear")

    def test_mass_update_skips_individuals(self):
        commune = self.Partner.create({"name": "Commune", "is_company": True, "siret": COMMUNE_SIRET})
        person = self.Partner.create({"name": "Paul Personne", "is_company": False})
        no_siret = self.Partner.create({"name": "Sans SIRET", "is_company": True})
        wizard = self.env["chorus.partner.sending.wizard"].with_context(
            active_model="res.partner", active_ids=[commune.id, person.id, no_siret.id]).create(
            {"invoice_sending_method": "chorus_pro"})
        self.assertEqual(wizard.partner_ids, commune | person | no_siret)
        result = wizard.action_apply()
        self.assertEqual(commune.invoice_sending_method, "chorus_pro")
        self.assertEqual(commune.chorus_structure_id, 25000101)
        self.assertNotEqual(person.invoice_sending_method, "chorus_pro")
        self.assertNotEqual(no_siret.invoice_sending_method, "chorus_pro")
        message = result["params"]["message"]
        self.assertIn("1 partner(s) now use Chorus Pro", message)
        self.assertIn("Paul Personne: an individual, not a company", message)
        self.assertIn("Sans SIRET: The SIRET is missing", message)
        self.assertEqual(result["params"]["type"], "warning")

        wizard = self.env["chorus.partner.sending.wizard"].create(
            {"invoice_sending_method": "email", "partner_ids": [(6, 0, (person | commune).ids)]})
        result = wizard.action_apply()
        self.assertEqual(person.invoice_sending_method, "email")
        self.assertEqual(result["params"]["type"], "success")
