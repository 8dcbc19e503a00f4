from . import crypto
