import re

_IBAN_CLEAN = re.compile(r"[^0-9A-Za-z]")


def normalize_iban(value):
    """An IBAN as res.partner.bank's sanitized_acc_number has it: letters and digits, upper case."""
    return _IBAN_CLEAN.sub("", value or "").upper()
