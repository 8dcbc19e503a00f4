from . import crypto
from . import messages
from . import transaction
