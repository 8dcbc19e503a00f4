from . import chorus_account_wizard
from . import chorus_partner_sending_wizard
