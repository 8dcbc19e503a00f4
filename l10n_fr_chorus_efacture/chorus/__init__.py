"""Chorus Pro API client: plain Python, no Odoo import."""

from . import exceptions
from .client import ENVIRONMENTS, GLOBAL_TOKEN_CACHE, ChorusProClient, TokenCache
from .exceptions import *  # noqa: F401,F403
