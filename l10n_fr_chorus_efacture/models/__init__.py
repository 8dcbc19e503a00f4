from . import chorus_partner_service
from . import res_company
from . import res_config_settings
from . import res_partner
