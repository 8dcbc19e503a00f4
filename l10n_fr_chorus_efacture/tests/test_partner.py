"""The customer's Chorus Pro sending method: companies only, SIRET flagged, structure looked up in the background."""

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged

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
        # Customers of the demo data waiting for their lookup (another sandbox): not this class's queue.
        cls.Partner.search([("chorus_structure_state", "=", "to_check")]).sudo().chorus_structure_state = "checked"

    def test_individual_refused(self):
        with self.assertRaisesRegex(ValidationError, "is an individual"):
            self.Partner.create({"name": "Jean Dupont", "is_company": False, "siret": COMMUNE_SIRET,
                                 "invoice_sending_method": "chorus_pro"})
        partner = self.Partner.create({"name": "Marie Martin", "is_company": False})
        with self.assertRaisesRegex(ValidationError, "Marie Martin is an individual"):
            partner.invoice_sending_method = "chorus_pro"

    def structure_triggers(self):
        cron = self.env.ref("l10n_fr_chorus_efacture.ir_cron_chorus_structure_check")
        return self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])

    def assertCheckNowSays(self, partner, pattern):
        action = partner.action_chorus_refresh_structure()
        self.assertEqual(action["tag"], "display_notification")
        self.assertRegex(action["params"]["message"], pattern)

    def check_in_background(self):
        """What the cron does when its trigger fires."""
        self.Partner._cron_chorus_check_structures()

    def test_without_siret_set_and_flagged(self):
        partner = self.Partner.create({"name": "Mairie", "is_company": True, "invoice_sending_method": "chorus_pro"})
        self.assertEqual(partner.invoice_sending_method, "chorus_pro", "a customer without SIRET can be set")
        self.assertEqual(partner.chorus_structure_state, "error")
        self.assertIn("Error: The SIRET is missing", partner.chorus_structure_status)
        self.assertIn(partner, self.Partner.search([("chorus_structure_state", "=", "error")]),
                      "the 'Chorus Pro: to fix' filter finds it")
        for siret, error in (("123", "must have 14 digits"), ("21340012000018", "check digit is wrong")):
            partner.siret = siret
            self.assertEqual(partner.chorus_structure_state, "error")
            self.assertIn(error, partner.chorus_structure_error)
        self.assertCheckNowSays(partner, "Mairie: The SIRET 21340012000018 is not valid")
        partner.siret = COMMUNE_SIRET
        self.assertEqual(partner.chorus_structure_state, "to_check", "a SIRET entered: to check again")
        self.assertFalse(partner.chorus_structure_error)
        self.check_in_background()
        self.assertEqual(partner.chorus_structure_state, "checked")
        self.assertEqual(partner.chorus_structure_id, 25000101)

    def test_structure_looked_up_in_background(self):
        partner = self.Partner.create({"name": "Commune", "is_company": True, "siret": COMMUNE_SIRET})
        self.assertFalse(partner.chorus_structure_state)
        calls, triggers = self.calls("structures/v1/rechercher"), self.structure_triggers()
        partner.invoice_sending_method = "chorus_pro"
        self.assertEqual(self.calls("structures/v1/rechercher"), calls, "no call to Chorus Pro inside write")
        self.assertEqual(partner.chorus_structure_state, "to_check")
        self.assertIn("To check", partner.chorus_structure_status)
        self.assertFalse(partner.chorus_structure_id)
        self.assertGreater(self.structure_triggers(), triggers, "the background lookup is asked for at once")

        self.check_in_background()
        self.assertEqual(partner.chorus_structure_state, "checked")
        self.assertRegex(partner.chorus_structure_status, r"^Checked on \d\d/\d\d/\d{4} \d\d:\d\d:\d\d$",
                         "the date in the user's language format (English: MM/DD/YYYY)")
        self.env["res.lang"]._activate_lang("fr_FR")
        checked = fields.Datetime.context_timestamp(partner, partner.chorus_structure_checked)
        self.assertIn(checked.strftime("%d/%m/%Y %H:%M"), partner.with_context(lang="fr_FR").chorus_structure_status,
                      "in French: DD/MM/YYYY")
        self.assertEqual(partner.chorus_structure_id, 25000101)
        self.assertEqual(partner.chorus_structure_name, "Commune de Saint-Véran-les-Pins")
        self.assertTrue(partner.chorus_service_required)
        self.assertFalse(partner.chorus_engagement_required)
        services = {s.code: s for s in partner.chorus_service_ids}
        self.assertEqual(set(services), {"SERV_TECHNIQUES", "ECOLES", "ANCIEN_CCAS", "FACTURES_PUBLIQUES"})
        self.assertFalse(services["ANCIEN_CCAS"].is_active)

        hospital = self.Partner.create({"name": "CH", "is_company": True, "siret": HOPITAL_SIRET,
                                        "invoice_sending_method": "chorus_pro"})
        syndicat = self.Partner.create({"name": "SIE", "is_company": True, "siret": SYNDICAT_SIRET,
                                        "invoice_sending_method": "chorus_pro"})
        self.check_in_background()
        self.assertTrue(hospital.chorus_engagement_required)
        self.assertTrue(syndicat.chorus_service_or_engagement)
        self.assertTrue(syndicat.chorus_service_ids.filtered(lambda s: s.code == "EXPLOITATION").engagement_required)

    def test_background_runs_by_batches(self):
        partners = self.Partner.create([{"name": "Client %s" % i, "is_company": True, "siret": siret,
                                         "invoice_sending_method": "chorus_pro"}
                                        for i, siret in enumerate((COMMUNE_SIRET, HOPITAL_SIRET, SYNDICAT_SIRET))])
        triggers = self.structure_triggers()
        self.Partner._cron_chorus_check_structures(limit=2)
        self.assertEqual(sorted(partners.mapped("chorus_structure_state")), ["checked", "checked", "to_check"])
        self.assertGreater(self.structure_triggers(), triggers, "more to do: the job runs again at once")
        self.Partner._cron_chorus_check_structures(limit=2)
        self.assertEqual(set(partners.mapped("chorus_structure_state")), {"checked"})

    def test_refresh_button(self):
        partner = self.Partner.create({"name": "Commune", "is_company": True, "siret": COMMUNE_SIRET,
                                       "invoice_sending_method": "chorus_pro"})
        partner.action_chorus_refresh_structure()  # "Check now": at once, without waiting for the job
        self.assertEqual(partner.chorus_structure_state, "checked")
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
        self.check_in_background()
        self.assertFalse(partner.chorus_structure_id)
        self.assertEqual(partner.chorus_structure_state, "error")
        self.assertIn("Error: No Chorus Pro structure has the SIRET 39214567800018", partner.chorus_structure_status)
        self.assertCheckNowSays(partner, "Inconnue: No Chorus Pro structure")
        self.assertEqual(partner.chorus_structure_state, "error", "what Check now found is kept")

        self.inject("503", "structures/v1/rechercher", count=10)
        other = self.Partner.create({"name": "Commune", "is_company": True, "siret": COMMUNE_SIRET,
                                     "invoice_sending_method": "chorus_pro"})
        self.check_in_background()
        self.assertEqual(other.invoice_sending_method, "chorus_pro", "an outage does not lose the choice")
        self.assertEqual(other.chorus_structure_state, "to_check", "an outage is tried again, not an error")
        self.assertIn("the last attempt failed", other.chorus_structure_status)
        self.assertIn("unavailable", other.chorus_structure_status)
        self.assertCheckNowSays(other, "unavailable")
        self.control("faults/clear")
        self.check_in_background()
        self.assertEqual(other.chorus_structure_state, "checked", "the next run after the outage succeeds")
        self.assertEqual(other.chorus_structure_id, 25000101)

    def test_company_account_unusable_is_not_the_customers_fault(self):
        self.env.company.chorus_login = False
        partner = self.Partner.create({"name": "Commune", "is_company": True, "siret": COMMUNE_SIRET,
                                       "invoice_sending_method": "chorus_pro"})
        self.check_in_background()
        self.assertEqual(partner.chorus_structure_state, "to_check")
        self.assertIn("the last attempt failed", partner.chorus_structure_status)

    def test_stuck_customers_do_not_loop(self):
        """No usable Chorus Pro account anywhere: the customers stay to check (tried again every hour), and the job
        does not run again at once for nothing."""
        self.env["res.company"].search([]).write({"chorus_login": False})
        partners = self.Partner.create([{"name": "Client %s" % i, "is_company": True, "siret": COMMUNE_SIRET,
                                         "invoice_sending_method": "chorus_pro"} for i in range(3)])
        triggers = self.structure_triggers()
        self.Partner._cron_chorus_check_structures(limit=2)
        self.assertEqual(set(partners.mapped("chorus_structure_state")), {"to_check"})
        self.assertEqual(self.structure_triggers(), triggers, "no progress: no immediate new run")

    def test_check_now_from_a_company_with_an_account(self):
        """Chorus Pro chosen in a company without an account: the job says what to set; "Check now" from a company
        with an account looks it up."""
        other = self.env["res.company"].create({"name": "Filiale sans compte Chorus"})
        self.env.user.company_ids |= other
        partner = self.Partner.with_company(other).create({
            "name": "Commune", "is_company": True, "siret": COMMUNE_SIRET, "invoice_sending_method": "chorus_pro"})
        self.check_in_background()
        self.assertEqual(partner.chorus_structure_state, "to_check")
        self.assertIn("Chorus Pro is not configured for Filiale sans compte Chorus", partner.chorus_structure_status)
        self.assertIs(partner.with_company(self.env.company).action_chorus_refresh_structure(), True)
        self.assertEqual(partner.chorus_structure_state, "checked")
        self.assertEqual(partner.chorus_structure_id, 25000101)

    def test_new_siret_checked_again_from_any_company(self):
        partner = self.Partner.create({"name": "Commune", "is_company": True, "siret": HOPITAL_SIRET,
                                       "invoice_sending_method": "chorus_pro"})
        self.check_in_background()
        self.assertEqual(partner.chorus_structure_id, 25000202)
        other = self.env["res.company"].create({"name": "Autre société"})
        self.env.user.company_ids |= other
        partner.with_company(other).siret = COMMUNE_SIRET  # not set to Chorus Pro in that company
        self.assertEqual(partner.chorus_structure_state, "to_check")
        self.check_in_background()
        self.assertEqual(partner.chorus_structure_id, 25000101)

    def test_mass_update_returns_at_once(self):
        commune = self.Partner.create({"name": "Commune", "is_company": True, "siret": COMMUNE_SIRET})
        person = self.Partner.create({"name": "Paul Personne", "is_company": False})
        no_siret = self.Partner.create({"name": "Sans SIRET", "is_company": True})
        many = self.Partner.create([{"name": "Collectivité %s" % i, "is_company": True, "siret": COMMUNE_SIRET}
                                    for i in range(200)])
        wizard = self.env["chorus.partner.sending.wizard"].with_context(
            active_model="res.partner", active_ids=[commune.id, person.id, no_siret.id] + many.ids).create(
            {"invoice_sending_method": "chorus_pro"})
        self.assertEqual(wizard.partner_ids, commune | person | no_siret | many)
        calls = dict(self.sandbox.state.calls)
        result = wizard.action_apply()
        self.assertEqual(dict(self.sandbox.state.calls), calls, "no call to Chorus Pro, however many customers")
        self.assertEqual(set((commune | no_siret | many).mapped("invoice_sending_method")), {"chorus_pro"})
        self.assertEqual(set((commune | many).mapped("chorus_structure_state")), {"to_check"})
        self.assertNotEqual(person.invoice_sending_method, "chorus_pro")
        self.assertEqual(no_siret.chorus_structure_state, "error")
        message = result["params"]["message"]
        self.assertIn("202 partner(s) now use Chorus Pro", message)
        self.assertIn("looked up in the background", message)
        self.assertIn("Paul Personne: an individual, not a company", message)
        self.assertIn("Sans SIRET: The SIRET is missing", message)
        self.assertEqual(result["params"]["type"], "warning")

        wizard = self.env["chorus.partner.sending.wizard"].create(
            {"invoice_sending_method": "email", "partner_ids": [(6, 0, (person | commune).ids)]})
        result = wizard.action_apply()
        self.assertEqual(person.invoice_sending_method, "email")
        self.assertEqual(result["params"]["type"], "success")

    def test_duplicates_merged_by_a_partner_editor(self):
        """A partner editor merges two records of one public customer: the merge goes through, the destination
        keeps the structure the module read for it; a source's SIRET it takes is looked up again."""
        editor = new_test_user(self.env, "chorus_partner_editor", groups="base.group_user,base.group_partner_manager")
        commune = self.Partner.create({"name": "Commune", "is_company": True, "siret": COMMUNE_SIRET,
                                       "invoice_sending_method": "chorus_pro"})
        duplicate = self.Partner.create({"name": "Commune (doublon)", "is_company": True, "siret": HOPITAL_SIRET,
                                         "invoice_sending_method": "chorus_pro"})
        self.check_in_background()
        self.assertEqual((commune.chorus_structure_id, duplicate.chorus_structure_id), (25000101, 25000202))
        services = commune.chorus_service_ids
        # Sending back the values already there (a form, an import) changes nothing, so it is not refused.
        commune.with_user(editor).write({"name": "Commune de Saint-Véran", "chorus_structure_id": 25000101,
                                         "chorus_structure_state": "checked"})
        with self.assertRaisesRegex(AccessError, "Chorus Structure ID: read from Chorus Pro by the module"):
            commune.with_user(editor).write({"chorus_structure_id": 25000202})
        wizard = self.env["base.partner.merge.automatic.wizard"].with_user(editor).create({
            "partner_ids": [fields.Command.set((commune | duplicate).ids)], "dst_partner_id": commune.id})
        wizard.action_merge()
        self.assertFalse(duplicate.exists())
        self.assertEqual((commune.chorus_structure_id, commune.chorus_structure_state), (25000101, "checked"))
        self.assertEqual((commune.chorus_service_required, commune.chorus_engagement_required), (True, False),
                         "not the hospital's flags")
        self.assertEqual(commune.chorus_service_ids, services)

        empty = self.Partner.create({"name": "Hôpital", "is_company": True})
        hospital = self.Partner.create({"name": "CH", "is_company": True, "siret": HOPITAL_SIRET,
                                        "invoice_sending_method": "chorus_pro"})
        self.check_in_background()
        wizard = self.env["base.partner.merge.automatic.wizard"].with_user(editor).create({
            "partner_ids": [fields.Command.set((empty | hospital).ids)], "dst_partner_id": empty.id})
        wizard.action_merge()
        self.assertEqual((empty.siret, empty.invoice_sending_method, empty.chorus_structure_state),
                         (HOPITAL_SIRET, "chorus_pro", "to_check"), "the SIRET taken over is looked up again")
        self.check_in_background()
        self.assertEqual((empty.chorus_structure_id, empty.chorus_structure_state), (25000202, "checked"))
