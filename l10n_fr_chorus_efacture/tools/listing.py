"""What changed since: how a listing that asks Chorus Pro "what changed since" moves its window.

Both directions list this way: the supplier's follow-up (rechercher/fournisseur) and the public buyer's import
(rechercher/recipiendaire), by the time of each invoice's current status (periodeDateHeureEtatCourantDu). A
change is never missed:

- A status may be listed some time after the time it carries (Chorus Pro writes it, then its search shows it):
  the next window starts OVERLAP before Chorus Pro's clock at the start of the last complete run, never later
  than just after the latest status time that run listed. A burst of statuses that share one time is listed
  again only while it is within the overlap, not until something newer changes.
- A record the run left for later (a status push under way, a failure) holds the window at its status time.
- A run that does not complete (Chorus Pro down, a worker killed) does not move the window.
- Once a day, the listing is full: every invoice Chorus Pro has in a status that is not final. A record Odoo
  still follows that this full listing does not show has reached a final status since: the caller looks it up
  alone (ListingRun.missing). A full listing does not move the window on: the next short listing still asks
  for what changed since where it was (an invoice that became final meanwhile).

Plain Python: the models keep the window in chorus.listing.mark and give each run what it listed.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

OVERLAP = timedelta(minutes=15)
FULL_EVERY = timedelta(days=1)
ONE_SECOND = timedelta(seconds=1)


@dataclass
class ListingRun:
    """One run of a listing: its window (``since``; None for a full listing) and what it saw."""

    since: datetime | None
    started: datetime | None = None
    latest: datetime | None = None
    held: datetime | None = None
    listed_ids: set = field(default_factory=set)

    @property
    def full(self):
        return self.since is None

    def clock(self, moment):
        """Chorus Pro's clock at the first reply of the run (the Date of its HTTP reply), else ours."""
        if self.started is None and moment is not None:
            self.started = moment

    def listed(self, chorus_id, moment):
        """An invoice the listing showed, with the time of its current status."""
        self.listed_ids.add(str(chorus_id))
        if moment is not None and (self.latest is None or moment > self.latest):
            self.latest = moment

    def hold(self, moment):
        """A listed invoice left for later: the next window lists it again."""
        if moment is not None and (self.held is None or moment < self.held):
            self.held = moment

    def next_since(self, previous):
        """Where the next window starts once this run is complete."""
        if self.started is None:
            return previous
        if self.full:
            # It listed the open invoices only: what became final since ``previous`` (a new invoice rejected or
            # paid meanwhile) is for the next short listing, from where the window was.
            since = min(previous, self.started - OVERLAP) if previous else self.started - OVERLAP
        elif self.latest is None:
            since = previous  # nothing listed: nothing new is known
        else:
            since = min(self.started - OVERLAP, self.latest + ONE_SECOND)
        if self.held is not None:
            since = min(since, self.held) if since else self.held
        if previous and since and since < previous and self.held is None:
            since = previous  # never back, unless a record was left for later
        return since

    def missing(self, followed_ids):
        """After a full listing: the records Odoo follows that Chorus Pro no longer lists as not final."""
        if not self.full:
            return set()
        return {str(chorus_id) for chorus_id in followed_ids} - self.listed_ids
