"""Internal validation ("validation interne") before anything is said to the supplier."""

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .test_inbound import PROCESS, BuyerCase


@tagged("post_install", "-at_install", "chorus_inbound")
class TestChorusInternalValidation(BuyerCase):

    def setUp(self):
        super().setUp()
        self.company.chorus_inbound_validation = True

    def test_validated_before_processing(self):
        self.run_import()
        first = self.received()[0]
        self.assertEqual(first.stage, "to_validate", "checked inside first")
        wizard = self.processing_wizard(first)
        self.assertFalse(wizard.allowed_statuses, "no status offered before the validation")
        self.assertEqual(wizard.awaiting_validation, first.display_name)
        with self.assertRaisesRegex(UserError, "is not allowed"):
            self.process(first, "SERVICE_FAIT", "Service fait")
        with self.assertRaisesRegex(UserError, "must be validated internally"):
            first.with_user(self.clerk)._chorus_request_status("SERVICE_FAIT", reason="Service fait")
        self.assertEqual(self.calls(PROCESS), 0, "the supplier is told nothing")
        # An invoicing user who is not a validator cannot validate, by the form or by a write.
        with self.assertRaises(AccessError):
            first.with_user(self.clerk).action_internal_validate()
        with self.assertRaises(AccessError):
            first.with_user(self.clerk).write({"internal_validated": True})
        self.assertFalse(first.internal_validated)
        # The validator ticks it in the list (the toggle writes the field).
        first.with_user(self.validator).write({"internal_validated": True})
        self.assertEqual((first.internal_validated, first.validated_by_id, first.stage),
                         (True, self.validator, "to_process"))
        self.assertIn("Validated internally by Ordonnateur", first.message_ids[0].body)
        self.process(first, "SERVICE_FAIT", "Service fait")
        self.assertEqual((first.chorus_status, first.stage, self.calls(PROCESS)), ("SERVICE_FAIT", "to_mandate", 1))
        # Unticked: back to validate, and nothing can be mandated.
        first.with_user(self.validator).write({"internal_validated": False})
        self.assertEqual((first.internal_validated, first.validated_by_id, first.stage),
                         (False, self.env["res.users"], "to_validate"))
        give = first._chorus_mandate_refusal()
        self.assertIn("not validated internally", give)

    def test_mass_validation(self):
        self.run_import()
        invoices = self.received()[:4]
        rejected = invoices[3]
        self.control("invoice/status", idFacture=int(rejected.chorus_invoice_id), statut="REJETEE",
                     commentaire="Rejetée depuis le portail")
        self.run_import()
        # The list's action "Validate internally" on a selection.
        action = self.env.ref("l10n_fr_chorus_efacture.action_chorus_inbound_validate").with_user(self.validator) \
            .with_context(active_model=rejected._name, active_ids=invoices.ids).run()
        self.assertEqual(invoices.mapped("internal_validated"), [True, True, True, False])
        self.assertEqual(set((invoices - rejected).mapped("stage")), {"to_process"})
        self.assertIn(rejected.display_name, action["params"]["message"], "the one left out is named")
        self.assertEqual(action["params"]["title"], "3 invoices validated")
        # A clerk cannot run it.
        with self.assertRaises(AccessError):
            self.env.ref("l10n_fr_chorus_efacture.action_chorus_inbound_validate").with_user(self.clerk) \
                .with_context(active_model=rejected._name, active_ids=invoices.ids).run()
