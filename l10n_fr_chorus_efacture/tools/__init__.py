from . import crypto
from . import messages
