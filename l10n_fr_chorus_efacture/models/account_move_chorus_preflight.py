import logging

from odoo import _, models

from ..tools.en16931 import CHORUS_GROSS_PRICE, VALIDATOR, ValidatorUnavailable, chorus_rule_failures, line_names

_logger = logging.getLogger(__name__)
# EN 16931's rules asking the seller's VAT identifier of an invoice with VAT (standard, zero rated, exempt), on a
# line, an allowance or a charge.
SELLER_VAT_RULES = {"BR-%s-0%s" % (category, number) for category in ("S", "Z", "E") for number in (2, 3, 4)}


class AccountMove(models.Model):
    _inherit = "account.move"

    # ------------------------------------------------------------ pre-flight
    def _chorus_preflight(self, xml, syntax):
        """What Chorus Pro would refuse in this flux (EN 16931's business rules and its own), each said in the
        user's language with what to change on the invoice; [] when nothing. When the rules cannot be run, the
        invoice goes (Chorus Pro checks it anyway) and its chatter says so."""
        self.ensure_one()
        failures = chorus_rule_failures(xml, syntax)
        try:
            failures += VALIDATOR.check(xml, syntax)
        except ValidatorUnavailable as error:
            _logger.warning("EN 16931 check of %s not run: %s", self.display_name, error)
            self.message_post(body=_("The EN 16931 check could not run before sending (%(reason)s): Chorus Pro "
                                     "checks the invoice itself.", reason=str(error)[:300]))
            return []
        if not failures:
            return []
        names = line_names(xml, syntax)
        # A rule of the invoice checked on each line (the seller's VAT number...) is said once.
        return list(dict.fromkeys(self._chorus_preflight_message(failure, names) for failure in failures))

    def _chorus_preflight_message(self, failure, names):
        line = names[failure.line - 1] if 0 < failure.line <= len(names) else ""
        if failure.rule in ("BR-27", "BR-28"):
            return _("Line \"%(line)s\": its price is negative, which Chorus Pro refuses (rule %(rule)s): give a "
                     "discount as the line's Disc.%%, or make a credit note.", line=line, rule=failure.rule)
        if failure.rule == CHORUS_GROSS_PRICE:
            return _("Line \"%(line)s\": its gross price comes without the amount of its discount, which Chorus "
                     "Pro refuses: give the discount as the line's Disc.%%.", line=line)
        if failure.rule == "BR-49":
            return _("Payment: the payment means has no type (rule BR-49): choose the Recipient Bank of the "
                     "invoice (Other Info tab) for a bank transfer.")
        if failure.rule == "BR-CO-25":
            return _("Due date: an invoice with an amount to pay needs a due date or payment terms (rule "
                     "BR-CO-25): set the invoice's Due Date or Payment Terms.")
        if failure.rule in SELLER_VAT_RULES:
            return _("Your company's VAT number is missing, which an invoice with VAT needs (rule %(rule)s): enter "
                     "it on the company.", rule=failure.rule)
        if failure.rule in ("BR-10", "BR-11"):
            return _("Customer address: the customer's country is missing (rule %(rule)s): complete the "
                     "customer's address.", rule=failure.rule)
        if failure.rule in ("BR-08", "BR-09"):
            return _("Your company's address: its country is missing (rule %(rule)s): complete it in the "
                     "company's settings.", rule=failure.rule)
        if line:
            return _("Line \"%(line)s\": EN 16931 rule %(rule)s is not met (%(text)s).", line=line,
                     rule=failure.rule, text=failure.text)
        return _("EN 16931 rule %(rule)s is not met (%(text)s).", rule=failure.rule, text=failure.text)
