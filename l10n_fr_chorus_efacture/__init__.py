from . import chorus
from . import tools
from . import models
from . import wizards
