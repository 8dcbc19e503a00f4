"""Suppliers validated once ("Valider les tiers"): matched by IBAN or SIRET, chosen by hand once for all their
invoices, new IBANs held until a user confirms them."""

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import give_supplier
from .test_inbound import SUPPLIERS, BuyerCase


def new_treasurer(env, company, login):
    """An invoicing user allowed to trust bank accounts (Odoo's right)."""
    return new_test_user(env, login, name="Trésorier", company_id=company.id,
                         company_ids=[Command.set(company.ids)],
                         groups="account.group_account_invoice,base.group_partner_manager,"
                                "account.group_validate_bank_account")


def spaced(iban):
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4)).lower()


@tagged("post_install", "-at_install", "chorus_inbound")
class TestChorusSuppliers(BuyerCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The one who may trust bank accounts (Odoo's right), beside the clerk who may not.
        cls.treasurer = new_treasurer(cls.env, cls.company, "chorus_treasurer")

    def setUp(self):
        super().setUp()
        Partner = self.env["res.partner"]
        self.by_iban = Partner.create({"name": "Bureautique du Midi", "is_company": True})
        # Typed by hand with spaces and in lower case: still the same IBAN; trusted long ago.
        self.env["res.partner.bank"].with_user(self.treasurer).create({
            "partner_id": self.by_iban.id, "acc_number": spaced(SUPPLIERS["bureautique"][2]),
            "allow_out_payment": True})
        # Known by its SIRET, no bank account yet: its first IBAN is to confirm.
        self.by_siret = Partner.create({"name": "Nettoyage Azur", "is_company": True,
                                        "siret": SUPPLIERS["nettoyage"][1]})
        self.by_siren = Partner.create({"name": "TP Durance (siège)", "is_company": True,
                                        "siret": SUPPLIERS["travaux"][1][:9] + "00099"})
        # Known by its SIRET with another IBAN: Chorus Pro's IBAN is new for it.
        self.restauration = Partner.create({"name": "Restauration Alpilles", "is_company": True,
                                            "siret": SUPPLIERS["restauration"][1]})
        self.env["res.partner.bank"].with_user(self.treasurer).create({
            "partner_id": self.restauration.id, "acc_number": "FR7630004000031234567890143",
            "allow_out_payment": True})

    def supplier(self, key):
        return self.env["chorus.supplier"].search([("company_id", "=", self.company.id),
                                                   ("code", "=", SUPPLIERS[key][1])])

    def test_suppliers_listed_once_and_matched(self):
        self.run_import()
        suppliers = self.env["chorus.supplier"].search([("company_id", "=", self.company.id)])
        self.assertEqual(sorted(suppliers.mapped("code")), sorted(s[1] for s in SUPPLIERS.values()),
                         "one per supplier, however many invoices")
        self.assertEqual({i.chorus_supplier_id.code for i in self.received()}, set(suppliers.mapped("code")))
        bureautique = self.supplier("bureautique")
        self.assertEqual((bureautique.name, bureautique.iban), SUPPLIERS["bureautique"][::2])
        self.assertEqual((bureautique.state, bureautique.partner_id, bureautique.match_method,
                          bureautique.validated_by_id), ("validated", self.by_iban, "iban", self.env["res.users"]))
        self.assertEqual(set(self.of_supplier("bureautique").mapped("partner_id")), {self.by_iban})
        self.assertEqual(self.supplier("nettoyage").partner_id, self.by_siret)
        self.assertEqual(set(self.of_supplier("nettoyage").mapped("match_method")), {"siret"})
        self.assertIn("none of Nettoyage Azur's bank accounts", self.of_supplier("nettoyage")[0].iban_warning)
        self.assertEqual(self.of_supplier("nettoyage")[0].partner_siret, SUPPLIERS["nettoyage"][1])
        # A SIREN match (another establishment) is only proposed.
        travaux = self.supplier("travaux")
        self.assertEqual((travaux.state, travaux.partner_id, travaux.candidate_ids),
                         ("to_validate", self.env["res.partner"], self.by_siren))
        self.assertIn("SIREN", travaux.candidates_info)
        self.assertEqual(self.of_supplier("travaux")[0].partner_candidate_ids, self.by_siren)
        # Matched by SIRET, but Chorus Pro's IBAN is none of its accounts: flagged, not mandated.
        restauration = self.supplier("restauration")
        self.assertEqual((restauration.partner_id, restauration.iban_state), (self.restauration, "new"))
        invoice = self.of_supplier("restauration")[0]
        self.assertIn("none of Restauration Alpilles's bank accounts", invoice.iban_warning)
        self.assertTrue(invoice.iban_new)
        self.assertEqual(self.supplier("informatique").state, "to_validate")
        self.assertFalse(self.supplier("informatique").candidate_ids)

    def test_chosen_once_for_every_invoice(self):
        self.run_import()
        travaux = self.supplier("travaux")
        invoices = self.of_supplier("travaux")
        self.assertGreater(len(invoices), 1)
        # One click on the candidate ("Choose" in the list of candidates).
        self.by_siren.with_user(self.clerk).with_context(chorus_supplier_id=travaux.id) \
            .action_chorus_choose_for_supplier()
        self.assertEqual((travaux.state, travaux.partner_id, travaux.match_method, travaux.validated_by_id),
                         ("validated", self.by_siren, "manual", self.clerk))
        self.assertEqual(set(invoices.mapped("partner_id")), {self.by_siren}, "all its invoices")
        self.assertEqual(set(invoices.mapped("match_method")), {"manual"})
        # The next invoice of that supplier comes in with it.
        name, siret, iban = SUPPLIERS["travaux"]
        self.control("inbox/generate", count=1, suppliers=[{"siret": siret, "nom": name, "iban": iban,
                                                            "prefixe": "TPD"}])
        self.run_import()
        new = self.of_supplier("travaux") - invoices
        self.assertEqual((len(new), new.partner_id, new.match_method), (1, self.by_siren, "manual"))
        # Informatique Ventoux is nobody in Odoo: created from the Chorus Pro data, for all its invoices.
        informatique = self.supplier("informatique")
        informatique.with_user(self.clerk).action_create_partner()
        created = informatique.partner_id
        self.assertEqual((created.name, created.siret, created.bank_ids.sanitized_acc_number),
                         SUPPLIERS["informatique"])
        self.assertEqual(set(self.of_supplier("informatique").mapped("partner_id")), {created})
        # Its IBAN comes from the invoice: not trusted until someone allowed to trust accounts confirms it.
        self.assertFalse(created.bank_ids.allow_out_payment)
        self.assertEqual(informatique.iban_state, "new")
        self.assertIn("that nobody trusted yet", self.of_supplier("informatique")[0].iban_warning)
        informatique.with_user(self.treasurer).action_confirm_iban()
        self.assertEqual((created.bank_ids.allow_out_payment, created.bank_ids.chorus_trusted_by_id),
                         (True, self.treasurer))
        self.assertFalse(self.of_supplier("informatique")[0].iban_warning)
        # The partner's history is one click away.
        action = informatique.action_open_invoices()
        self.assertEqual(self.Inbound.search(action["domain"]), self.of_supplier("informatique"))

    def test_siret_mismatch_is_said(self):
        self.run_import()
        invoice = self.of_supplier("travaux")[0]
        invoice.with_user(self.clerk).partner_id = self.by_siren  # the head office: same SIREN, other SIRET
        self.assertIn("differs from the invoicing SIRET %s" % SUPPLIERS["travaux"][1], invoice.siret_warning)
        self.assertFalse(self.of_supplier("nettoyage")[0].siret_warning, "matched by its SIRET: nothing to say")

    def test_partner_chosen_on_an_invoice_applies_to_the_supplier(self):
        """Choosing the supplier in the invoice form (the partner field) validates the Chorus supplier."""
        self.run_import()
        first, *others = self.of_supplier("travaux")
        first.with_user(self.clerk).partner_id = self.by_siren
        self.assertEqual(self.supplier("travaux").partner_id, self.by_siren)
        self.assertEqual({i.partner_id for i in others}, {self.by_siren})
        # Wrong choice: cancelled on the supplier, its invoices not mandated are to match again.
        self.supplier("travaux").with_user(self.clerk).action_unvalidate()
        self.assertEqual(self.supplier("travaux").state, "to_validate")
        self.assertFalse(self.of_supplier("travaux").partner_id)

    def test_new_iban_needs_a_deliberate_confirmation(self):
        self.run_import()
        bureautique = self.supplier("bureautique")
        known = self.of_supplier("bureautique")
        # The supplier's next invoice comes with another IBAN (a fraud attempt looks exactly like this).
        name, siret, _iban = SUPPLIERS["bureautique"]
        new_iban = "FR6330004000039876543210943"
        self.control("inbox/generate", count=1, suppliers=[{"siret": siret, "nom": name, "iban": new_iban,
                                                            "bic": "BNPAFRPPXXX", "prefixe": "BDM"}])
        self.run_import()
        invoice = self.of_supplier("bureautique") - known
        self.assertEqual((invoice.partner_id, bureautique.iban, bureautique.iban_state),
                         (self.by_iban, new_iban, "new"), "still that partner, its new IBAN flagged")
        self.assertIn("fraud", invoice.iban_warning)
        self.assertFalse(known[0].iban_warning, "the invoices with the known IBAN are not flagged")
        self.process(invoice, "SERVICE_FAIT", "Service fait")
        with self.assertRaisesRegex(UserError, "its IBAN %s is not a trusted bank account of Bureautique du Midi: "
                                               "check it with the supplier, then confirm it" % new_iban):
            self.mandate(invoice)
        self.assertFalse(invoice.move_id)
        # The clerk may not trust a bank account (Odoo's right), through this button or any other path.
        with self.assertRaisesRegex(AccessError, "Only a user allowed to trust bank accounts"):
            invoice.with_user(self.clerk).action_confirm_iban()
        with self.assertRaises(UserError):
            self.env["res.partner.bank"].with_user(self.clerk).create({
                "partner_id": self.by_iban.id, "acc_number": new_iban, "allow_out_payment": True}
            ).with_user(self.clerk).write({"allow_out_payment": True})
        self.env["res.partner.bank"].search([("sanitized_acc_number", "=", new_iban)]).unlink()
        # Checked with the supplier, then confirmed by the treasurer: the partner's new IBAN, trusted by them.
        invoice.with_user(self.treasurer).action_confirm_iban()
        self.assertEqual(set(self.by_iban.bank_ids.mapped("sanitized_acc_number")),
                         {SUPPLIERS["bureautique"][2], new_iban})
        new_account = self.by_iban.bank_ids.filtered(lambda b: b.sanitized_acc_number == new_iban)
        self.assertEqual((new_account.bank_id.bic, new_account.allow_out_payment, new_account.chorus_trusted_by_id),
                         ("BNPAFRPPXXX", True, self.treasurer))
        self.assertIn("confirmed and trusted by Trésorier", bureautique.message_ids[0].body)
        self.assertEqual(bureautique.iban_state, "known")
        # The company asks for a second person: the treasurer who trusted it does not mandate it; the clerk does.
        self.company.chorus_iban_second_person = True
        with self.assertRaisesRegex(UserError, "you trusted its IBAN %s yourself" % new_iban):
            self.mandate(invoice, user=self.treasurer)
        self.mandate(invoice)
        self.assertEqual(invoice.move_id.partner_bank_id, new_account)

    def test_trusted_through_odoo_is_recorded_and_cannot_be_faked(self):
        # Trusted in Odoo's own bank account form: who did it is recorded all the same.
        account = self.env["res.partner.bank"].create({"partner_id": self.by_siret.id,
                                                       "acc_number": SUPPLIERS["nettoyage"][2]})
        self.assertEqual((account.allow_out_payment, account.chorus_trusted_by_id), (False, self.env["res.users"]))
        account.with_user(self.treasurer).allow_out_payment = True
        self.assertEqual(account.chorus_trusted_by_id, self.treasurer)
        account.with_user(self.treasurer).allow_out_payment = False
        self.assertFalse(account.chorus_trusted_by_id)
        # Nobody writes it by hand (the four-eyes rule would be bypassed).
        with self.assertRaises(AccessError):
            account.with_user(self.treasurer).write({"chorus_trusted_by_id": self.clerk.id})
        with self.assertRaises(AccessError):
            self.env["res.partner.bank"].with_user(self.treasurer).create({
                "partner_id": self.by_siret.id, "acc_number": "FR7630004000039876543210943",
                "chorus_trusted_by_id": self.clerk.id})

    def test_iban_of_another_partner_cannot_be_confirmed(self):
        self.run_import()
        restauration = self.supplier("restauration")
        # Chorus Pro's IBAN of Restauration is Bureautique's account in Odoo.
        self.env["res.partner.bank"].create({"partner_id": self.by_iban.id,
                                             "acc_number": SUPPLIERS["restauration"][2]})
        restauration.invalidate_recordset(["iban_state"])
        self.assertEqual(restauration.iban_state, "other")
        invoice = self.of_supplier("restauration")[0]
        self.assertIn("belongs to Bureautique du Midi, not to Restauration Alpilles", invoice.iban_warning)
        with self.assertRaisesRegex(UserError, "is the bank account of Bureautique du Midi"):
            restauration.with_user(self.treasurer).action_confirm_iban()

    def test_supplier_fields_are_not_written_directly(self):
        self.run_import()
        travaux = self.supplier("travaux").with_user(self.clerk)
        for values in ({"state": "validated"}, {"iban": "FR7600000000000000000000000"}, {"code": "12345678900011"},
                       {"validated_by_id": self.validator.id}, {"match_method": "iban"}):
            with self.assertRaises(AccessError, msg="%s written directly" % values):
                travaux.write(values)
        self.assertEqual((travaux.state, travaux.iban), ("to_validate", SUPPLIERS["travaux"][2]))
        # The partner may be chosen (the form's field): that is a validation, credited to the user.
        travaux.write({"partner_id": self.by_siren.id})
        self.assertEqual((travaux.state, travaux.validated_by_id), ("validated", self.clerk))
        # Nobody but the invoicing users validates.
        employee = self.env["res.users"].create({
            "name": "Employé", "login": "employe_chorus", "company_id": self.company.id,
            "company_ids": [(6, 0, self.company.ids)], "groups_id": [(6, 0, [self.env.ref("base.group_user").id])]})
        with self.assertRaises(AccessError):
            self.supplier("informatique").with_user(employee).action_create_partner()


@tagged("post_install", "-at_install", "chorus_inbound")
class TestChorusFactoredSupplier(BuyerCase):
    """Affacturage: Travaux Publics Durance assigned its invoices to a factor; Chorus Pro names the factor and gives
    the factor's IBAN. The supplier is matched by its SIRET, never taken for the factor, and its mandates pay the
    factor's account once a treasurer declared it."""

    FACTOR_IBAN = "FR6230076020211234567890189"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.treasurer = new_treasurer(cls.env, cls.company, "chorus_treasurer_factor")

    def setUp(self):
        super().setUp()
        Partner = self.env["res.partner"]
        self.factor = Partner.create({"name": "Factor Sud Financement", "is_company": True,
                                      "siret": "43219876000006"})
        self.env["res.partner.bank"].with_user(self.treasurer).create({
            "partner_id": self.factor.id, "acc_number": self.FACTOR_IBAN, "allow_out_payment": True})
        for chorus in self.inbox():
            if chorus["siretFournisseur"] == SUPPLIERS["travaux"][1]:
                chorus["coordonneesBancaires"] = {"iban": self.FACTOR_IBAN, "bic": "CEPAFRPP313"}
                chorus["affactureur"] = {"affactureurCode": "43219876000006", "affactureurCodePays": "FR",
                                         "affactureurId": 77, "affactureurRaisonSociale": "Factor Sud Financement",
                                         "affactureurTypeIdentifiant": "SIRET"}

    def supplier(self):
        return self.env["chorus.supplier"].search([("company_id", "=", self.company.id),
                                                   ("code", "=", SUPPLIERS["travaux"][1])])

    def test_never_taken_for_the_factor(self):
        # No partner with its SIRET: the factor holds the IBAN, but Chorus Pro names it as the factor: only proposed.
        self.run_import()
        supplier = self.supplier()
        self.assertEqual((supplier.state, supplier.partner_id), ("to_validate", self.env["res.partner"]))
        self.assertIn(self.factor, supplier.candidate_ids)
        invoice = self.of_supplier("travaux")[0]
        self.assertEqual((invoice.factor_name, invoice.factor_code), ("Factor Sud Financement", "43219876000006"))

    def test_matched_by_siret_and_paid_to_the_factor(self):
        durance = self.env["res.partner"].create({"name": "TP Durance", "is_company": True,
                                                  "siret": SUPPLIERS["travaux"][1]})
        self.run_import()
        supplier = self.supplier()
        self.assertEqual((supplier.partner_id, supplier.match_method, supplier.iban_state),
                         (durance, "siret", "other"), "the SIRET wins over the factor's IBAN")
        invoice = self.of_supplier("travaux")[0]
        self.assertIn("Chorus Pro names Factor Sud Financement as its factor", invoice.iban_warning)
        self.assertEqual((invoice.iban_other, invoice.iban_new), (True, False))
        give_supplier(invoice)  # the IBAN is not the supplier's: "Confirm the IBAN" is not offered
        self.process(invoice, "SERVICE_FAIT", "Service fait")
        with self.assertRaisesRegex(UserError, "is not a trusted bank account of TP Durance"):
            self.mandate(invoice)
        # Declared by a user allowed to trust bank accounts, after the notification of the assignment.
        with self.assertRaises(AccessError):
            invoice.with_user(self.clerk).action_confirm_factor_iban()
        invoice.with_user(self.treasurer).action_confirm_factor_iban()
        account = durance.bank_ids.filtered(lambda bank: bank.sanitized_acc_number == self.FACTOR_IBAN)
        self.assertEqual((account.acc_holder_name, account.allow_out_payment, account.chorus_trusted_by_id),
                         ("Factor Sud Financement", True, self.treasurer))
        invoice.invalidate_recordset(["iban_warning", "iban_other"])
        self.assertFalse(invoice.iban_warning)
        self.mandate(invoice)
        bill = invoice.move_id
        self.assertEqual((bill.partner_id, bill.partner_bank_id), (durance, account),
                         "the supplier's bill, paid to the factor's account")
        self.assertIn("Factor Sud Financement", supplier.message_ids[0].body)
