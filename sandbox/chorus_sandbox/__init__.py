"""A local, stateful stand-in for the Chorus Pro API behind PISTE, for tests and demos."""

from .server import SandboxServer, load_default_data, start_in_thread
from .state import SandboxState

__all__ = ["SandboxServer", "SandboxState", "load_default_data", "start_in_thread"]
