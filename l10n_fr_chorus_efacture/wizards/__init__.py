from . import chorus_account_wizard
