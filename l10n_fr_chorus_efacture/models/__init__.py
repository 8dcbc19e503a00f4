from . import chorus_partner_service
from . import res_company
from . import res_config_settings
from . import res_partner
from . import account_move
from . import account_move_send
from . import account_edi_xml_cii
from . import account_edi_xml_ubl_bis3
