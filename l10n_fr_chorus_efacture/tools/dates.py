from datetime import timezone

from ..chorus.replies import PARIS


def paris_day(moment):
    """The French day of a naive UTC datetime."""
    return moment.replace(tzinfo=timezone.utc).astimezone(PARIS).date()
