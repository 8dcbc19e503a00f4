from . import chorus_account_wizard
from . import chorus_partner_sending_wizard
from . import account_move_send_wizard
from . import account_move_send_batch_wizard
from . import account_move_send_batch_chorus_line
from . import chorus_invoice_update_wizard
from . import chorus_inbound_process_wizard
from . import chorus_inbound_mandate_wizard
