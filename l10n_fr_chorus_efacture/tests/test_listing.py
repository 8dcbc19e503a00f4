"""How the window of a "what changed since" listing moves (tools/listing.py), case by case."""

from datetime import datetime, timedelta

from odoo.tests import BaseCase, tagged

from ..tools.listing import OVERLAP, ListingRun

T0 = datetime(2026, 11, 30, 17, 0, 0)


@tagged("post_install", "-at_install", "chorus_listing")
class TestListingWindow(BaseCase):

    def run_of(self, since, started, listed=(), held=()):
        run = ListingRun(since=since)
        run.clock(started)
        for number, moment in enumerate(listed):
            run.listed(number, moment)
        for moment in held:
            run.hold(moment)
        return run

    def test_nothing_listed_keeps_the_window(self):
        run = self.run_of(T0, T0 + timedelta(hours=5))
        self.assertEqual(run.next_since(T0), T0)

    def test_a_burst_is_listed_again_only_within_the_overlap(self):
        burst = T0 + timedelta(hours=1)
        # The run right after the burst: what Chorus Pro has not shown yet may be older than the burst.
        run = self.run_of(T0, burst + timedelta(minutes=2), listed=[burst] * 10000)
        self.assertEqual(run.next_since(T0), burst + timedelta(minutes=2) - OVERLAP)
        # An hour later, the burst listed again once; then the window starts after it.
        run = self.run_of(burst + timedelta(minutes=2) - OVERLAP, burst + timedelta(hours=1), listed=[burst] * 10000)
        self.assertEqual(run.next_since(None), burst + timedelta(seconds=1))

    def test_a_status_shown_late_is_within_the_next_window(self):
        """A status written at 17:00 but shown at 17:05, after a newer one (17:01) listed at 17:02."""
        run = self.run_of(T0 - timedelta(hours=1), T0 + timedelta(minutes=2), listed=[T0 + timedelta(minutes=1)])
        since = run.next_since(T0 - timedelta(hours=1))
        self.assertLessEqual(since, T0, "the next run still lists what carries 17:00")

    def test_a_record_left_for_later_holds_the_window(self):
        held = T0 + timedelta(minutes=5)
        run = self.run_of(T0, T0 + timedelta(hours=2), listed=[T0 + timedelta(hours=1)], held=[held])
        self.assertEqual(run.next_since(T0), held)

    def test_never_back_unless_held(self):
        run = self.run_of(T0, T0 + timedelta(minutes=5), listed=[T0 + timedelta(minutes=1)])
        self.assertEqual(run.next_since(T0), T0, "the overlap does not take the window back")

    def test_full_listing(self):
        run = self.run_of(None, T0, listed=[T0 - timedelta(days=300)])
        self.assertTrue(run.full)
        self.assertEqual(run.next_since(None), T0 - OVERLAP, "the first run")
        previous = T0 - timedelta(days=2)
        self.assertEqual(run.next_since(previous), previous,
                         "a daily full listing (open invoices only) leaves the short window where it was")
        self.assertEqual(run.missing(["0", "7", "8"]), {"7", "8"}, "followed, not listed as open any more")
        self.assertEqual(self.run_of(T0, T0).missing(["7"]), set(), "only a full listing tells")

    def test_a_run_without_a_reply_does_not_move(self):
        run = ListingRun(since=T0)
        self.assertEqual(run.next_since(T0), T0)
