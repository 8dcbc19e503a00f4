"""Translatable copies of the Chorus Pro client's error sentences.

The client has no Odoo import, so Odoo's term extraction cannot see its templates; they are listed
here verbatim (a test checks that every exception class of the client is covered).
"""

from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

CLIENT_ERROR_TEMPLATES = (
    _lt("Chorus Pro returned an error: %(detail)s"),
    _lt("Chorus Pro refused the authentication: %(detail)s"),
    _lt("The PISTE application credentials were refused (%(detail)s). "
        "Check the Client ID and Client Secret of your PISTE application in the Chorus Pro settings."),
    _lt("The Chorus Pro technical account was refused (%(detail)s). "
        "Check its login and password with 'Configure my Chorus Pro account'."),
    _lt("The password of the Chorus Pro technical account has expired. "
        "Change it in the Chorus Pro portal, then enter the new one with 'Configure my Chorus Pro account'."),
    _lt("Chorus Pro refused the request: %(detail)s (code %(code_retour)s)."),
    _lt("Chorus Pro found no result: %(detail)s."),
    _lt("Chorus Pro is unavailable right now (%(detail)s). Nothing was lost: try again later; "
        "scheduled actions retry by themselves."),
    _lt("Chorus Pro did not answer within %(timeout)s seconds. Nothing was lost: try again later; "
        "scheduled actions retry by themselves."),
    _lt("The reply of Chorus Pro to '%(operation)s' was lost (%(detail)s): the request may have been applied. "
        "It will be looked up in Chorus Pro before anything is sent again."),
    _lt("Chorus Pro refused the request as too large (%(detail)s). "
        "Send smaller files or fewer documents at once."),
    _lt("Chorus Pro sent a reply that could not be read (%(detail)s). Try again later; "
        "if it persists, contact Chorus Pro support."),
)
