from . import test_client
from . import test_company_account
from . import test_tour
from . import test_partner
from . import test_send
from . import test_translations
from . import test_inbound
from . import test_fault_matrix
