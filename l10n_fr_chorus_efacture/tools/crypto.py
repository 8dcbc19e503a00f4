"""Encryption at rest of the Chorus Pro secrets (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from the Odoo configuration option ``chorus_encryption_key`` or the environment
variable ``CHORUS_ENCRYPTION_KEY``. Any passphrase is accepted: it is stretched with HKDF.
"""

import base64
import binascii
import os

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CONFIG_OPTION = "chorus_encryption_key"
ENV_VARIABLE = "CHORUS_ENCRYPTION_KEY"
_HKDF_INFO = b"l10n_fr_chorus_efacture secrets"


class MissingKeyError(Exception):
    pass


class DecryptionError(Exception):
    pass


def _fernet_key(passphrase):
    raw = passphrase.encode()
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32 and len(raw) == 44:
            return raw  # already a Fernet key
    except (binascii.Error, ValueError):
        pass
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO,
                   backend=default_backend()).derive(raw)
    return base64.urlsafe_b64encode(derived)


def get_fernet(config_value=None):
    passphrase = (config_value or os.environ.get(ENV_VARIABLE) or "").strip()
    if not passphrase:
        raise MissingKeyError()
    return Fernet(_fernet_key(passphrase))


def encrypt(fernet, clear):
    return fernet.encrypt(clear.encode()).decode()


def decrypt(fernet, token):
    try:
        return fernet.decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        raise DecryptionError() from None
