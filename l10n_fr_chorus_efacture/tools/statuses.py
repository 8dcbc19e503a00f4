"""Chorus Pro's invoice statuses, as both directions (sent and received invoices) use them."""

import logging

_logger = logging.getLogger(__name__)

CHORUS_INVOICE_STATUSES = [
    ("DEPOSEE", "Deposited"),
    ("EN_COURS_ACHEMINEMENT", "Being routed"),
    ("MISE_A_DISPOSITION", "Made available"),
    ("A_RECYCLER", "To recycle"),
    ("SUSPENDUE", "Suspended"),
    ("COMPLETEE", "Completed"),
    ("REJETEE", "Rejected"),
    ("SERVICE_FAIT", "Service done"),
    ("MANDATEE", "Mandated"),
    ("MISE_A_DISPOSITION_COMPTABLE", "Made available to the accountant"),
    ("COMPTABILISEE", "Booked"),
    ("MISE_EN_PAIEMENT", "Payment issued"),
]
# The mandate and what follows it in Chorus Pro: an invoice there has its mandate number.
MANDATED_STATUSES = {"MANDATEE", "MISE_A_DISPOSITION_COMPTABLE", "COMPTABILISEE", "MISE_EN_PAIEMENT"}
# Statuses after which Chorus Pro says nothing more about the invoice.
FINAL_STATUSES = {"MISE_EN_PAIEMENT", "REJETEE"}
# Statuses the salesperson must act on.
ACTION_STATUSES = {"REJETEE", "SUSPENDUE", "A_RECYCLER"}
# States in which the invoice is (or may be) in Chorus Pro: it is definitive.
# Chorus Pro's kinds of payment request (typeDemandePaiement), listed apart by the buyer's search.
# typeTva: how the supplier owes the VAT (Chorus Pro's enumeration, as Pastell's connector lists it).
VAT_TYPES = [
    ("TVA_SUR_DEBIT", "On debits"),
    ("TVA_SUR_ENCAISSEMENT", "On receipts"),
    ("EXONERATION", "Exempt"),
    ("SANS_TVA", "Without VAT"),
]

PAYMENT_REQUEST_TYPES = [
    ("FACTURE", "Invoice"),
    ("FACTURE_TRAVAUX", "Works invoice"),
]


def selection_labels(records, field_name):
    """{value: label} of a selection field in the language the module's messages are in (as Odoo's ``_()``: the
    context's, else the user's), so that a label formatted into a message is in the message's language."""
    env = records.env
    if not env.lang:
        env = env(context=dict(env.context, lang=env.user.lang))
    return dict(records._fields[field_name]._description_selection(env))


def known_status(status):
    """A status of Chorus Pro as the selection knows it; another one (new in Chorus Pro) is logged, not stored."""
    if status in dict(CHORUS_INVOICE_STATUSES):
        return status
    _logger.warning("Chorus Pro status %r is unknown to this module", status)
    return False


def known_payment_request(kind):
    """A kind of payment request as the selection knows it: an invoice when not said (read by its id)."""
    if kind in dict(PAYMENT_REQUEST_TYPES):
        return kind
    if kind:
        _logger.warning("Chorus Pro payment request type %r is unknown to this module", kind)
    return "FACTURE"


def known_vat_type(kind):
    """A typeTva as the selection knows it, else None (logged): never a guessed regime."""
    if kind in dict(VAT_TYPES):
        return kind
    if kind:
        _logger.warning("Chorus Pro VAT type %r is unknown to this module", kind)
    return None
