"""Typed errors of the Chorus Pro client.

Each error carries ``message``: an English sentence a user can act on, built from
``message_template`` and ``params`` so that the Odoo layer can translate the template.
"""


class ChorusError(Exception):
    """Base class of every error raised by the client."""

    message_template = "Chorus Pro returned an error: %(detail)s"

    def __init__(self, detail="", *, http_status=None, operation=None, **params):
        self.detail = detail or ""
        self.http_status = http_status
        self.operation = operation
        self.params = {"detail": self.detail, "operation": operation or "", **params}
        super().__init__(self.message)

    @property
    def message(self):
        return self.message_template % self.params

    def __str__(self):
        return self.message


class ChorusAuthenticationError(ChorusError):
    """Chorus Pro (PISTE) refused the credentials."""

    message_template = "Chorus Pro refused the authentication: %(detail)s"


class ChorusClientCredentialsError(ChorusAuthenticationError):
    """The PISTE application (OAuth client id / secret) was refused."""

    message_template = (
        "The PISTE application credentials were refused (%(detail)s). "
        "Check the Client ID and Client Secret of your PISTE application in the Chorus Pro settings."
    )


class ChorusTechnicalAccountError(ChorusAuthenticationError):
    """The Chorus Pro technical account (cpro-account header) was refused."""

    message_template = (
        "The Chorus Pro technical account was refused (%(detail)s). "
        "Check its login and password with 'Configure my Chorus Pro account'."
    )


class ChorusPasswordExpiredError(ChorusTechnicalAccountError):
    """The technical account's password has expired (it must change every 14 months)."""

    message_template = (
        "The password of the Chorus Pro technical account has expired. "
        "Change it in the Chorus Pro portal, then enter the new one with 'Configure my Chorus Pro account'."
    )


class ChorusFunctionalError(ChorusError):
    """Chorus Pro processed the request and answered with a non-zero codeRetour."""

    message_template = "Chorus Pro refused the request: %(detail)s (code %(code_retour)s)."

    def __init__(self, detail="", *, code_retour=None, libelle=None, **kw):
        self.code_retour = code_retour
        self.libelle = libelle
        super().__init__(detail or libelle or "", code_retour=code_retour, **kw)


class ChorusNoResultError(ChorusFunctionalError):
    """codeRetour 20000 / TRA_MSG_00.015: the search found nothing."""

    message_template = "Chorus Pro found no result: %(detail)s."


class ChorusUnavailableError(ChorusError):
    """Chorus Pro could not be reached or answered with a server error."""

    message_template = (
        "Chorus Pro is unavailable right now (%(detail)s). Nothing was lost: try again later; "
        "scheduled actions retry by themselves."
    )


class ChorusTimeoutError(ChorusUnavailableError):
    """Chorus Pro did not answer within the time-out."""

    message_template = (
        "Chorus Pro did not answer within %(timeout)s seconds. Nothing was lost: try again later; "
        "scheduled actions retry by themselves."
    )


class ChorusOutcomeUnknownError(ChorusUnavailableError):
    """A write operation was sent but its reply was lost: Chorus Pro may have applied it.

    Never retry such an operation blindly; look the result up first.
    """

    message_template = (
        "The reply of Chorus Pro to '%(operation)s' was lost (%(detail)s): the request may have been applied. "
        "It will be looked up in Chorus Pro before anything is sent again."
    )


class ChorusTooLargeError(ChorusError):
    """HTTP 413: the request or the requested download is too large."""

    message_template = (
        "Chorus Pro refused the request as too large (%(detail)s). "
        "Send smaller files or fewer documents at once."
    )


class ChorusMalformedReplyError(ChorusError):
    """Chorus Pro answered something that is not the expected JSON."""

    message_template = (
        "Chorus Pro sent a reply that could not be read (%(detail)s). Try again later; "
        "if it persists, contact Chorus Pro support."
    )
