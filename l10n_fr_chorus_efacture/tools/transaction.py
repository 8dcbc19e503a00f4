"""Row locks and commits shared by the sending and the receiving sides."""

import contextlib
import logging

import psycopg2

from odoo.tools import mute_logger

from ..chorus.exceptions import ChorusOutcomeUnknownError, ChorusUnavailableError

_logger = logging.getLogger(__name__)


def try_lock_row(record):
    """Take ``record``'s row lock at once, or return False when another transaction holds it."""
    record.ensure_one()
    try:
        # The refusal is expected when another worker holds the row: not an SQL error worth logging.
        with record.env.cr.savepoint(flush=False), mute_logger("odoo.sql_db"):
            record.env.cr.execute('SELECT id FROM "%s" WHERE id = %%s FOR UPDATE NOWAIT' % record._table,
                                  [record.id])
    except (psycopg2.errors.LockNotAvailable, psycopg2.errors.SerializationFailure):
        # Held by another worker, or changed by one since this transaction began: left to it.
        return False
    return True


def commit_if_allowed(env):
    """Commit what is done so far, except where Odoo forbids it (tests, as account's send flow decides)."""
    if env["account.move.send"]._can_commit():
        env.cr.commit()


def rollback_if_allowed(env):
    """Drop the current transaction after an error it cannot go on from; False where Odoo forbids it (tests)."""
    if not env["account.move.send"]._can_commit():
        return False
    env.cr.rollback()
    env.invalidate_all()
    return True


# Advisory locks of the module: "CPRO" in the high bytes, apart from other advisory locks; then what is locked.
_LOCK_BASE = 0x4350524F00000000
LOCK_PURPOSES = {"import": 0, "follow_up": 1, "send": 2}


def lock_key(purpose, record_id):
    """The PostgreSQL advisory lock key of one piece of work (``purpose``) on one record (a company, an invoice):
    the purpose in the 4 high bits of the low 32, the record's id (below 2**28) under it."""
    return _LOCK_BASE + (LOCK_PURPOSES[purpose] << 28) + (record_id & 0x0FFFFFFF)


@contextlib.contextmanager
def advisory_lock(env, key):
    """Try the advisory lock ``key`` on a connection of its own: a database error in the work's transaction
    cannot keep it, and it ends with the connection if the worker dies. Yields whether it was taken; another
    worker (on this server or another one) holding it means the work is under way there."""
    with env.registry.cursor() as lock_cr:
        lock_cr.execute("SELECT pg_try_advisory_lock(%s)", [key])
        locked = lock_cr.fetchone()[0]
        lock_cr.commit()
        try:
            yield locked
        finally:
            if locked:
                lock_cr.execute("SELECT pg_advisory_unlock(%s)", [key])
                lock_cr.commit()


@contextlib.contextmanager
def advisory_locks(env, keys, limit):
    """Try the advisory locks of ``keys`` ({id: key}) on a connection of its own, until ``limit`` are taken; yields
    the ids taken (those other workers hold are left to them), all released at the end."""
    with env.registry.cursor() as lock_cr:
        taken = []
        try:
            for record_id, key in keys.items():
                if len(taken) >= limit:
                    break
                lock_cr.execute("SELECT pg_try_advisory_lock(%s)", [key])
                if lock_cr.fetchone()[0]:
                    taken.append(record_id)
            lock_cr.commit()
            yield taken
        finally:
            # Session locks outlive the transaction: released whatever happened, before the connection is reused.
            lock_cr.rollback()
            for record_id in taken:
                lock_cr.execute("SELECT pg_advisory_unlock(%s)", [keys[record_id]])
            lock_cr.commit()


def run_isolated(env, work, on_failure):
    """Do one record's ``work()`` and commit it; whatever it raises, what it left uncommitted is dropped,
    ``on_failure(error)`` is called and committed, and the caller goes on with the next record. Returns whether
    the work went through.

    The caller commits before its loop: what was done before this record stays. Where Odoo forbids commits
    (tests), a savepoint plays the part of the dropped transaction.
    """
    can_commit = env["account.move.send"]._can_commit()
    try:
        if can_commit:
            work()
            env.cr.commit()
        else:
            with env.cr.savepoint():
                work()
    except Exception as error:  # noqa: BLE001 - one record must not stop the others, whatever happened to it
        if can_commit:
            env.cr.rollback()
        env.invalidate_all()
        if not isinstance(error, (psycopg2.errors.SerializationFailure, psycopg2.errors.LockNotAvailable)):
            _logger.info("Chorus Pro work on one record failed, the others go on: %r", error)
        on_failure(error)
        commit_if_allowed(env)
        return False
    return True


# Chorus Pro unavailable for this many invoices in a row: an outage, the run stops (nothing is lost, the window
# does not move) rather than sending every invoice of the page to the retry list.
OUTAGE_IN_A_ROW = 3


class OutageGuard:
    """Tells a failure of one invoice from an outage of Chorus Pro. An invoice Chorus Pro was unavailable for is
    noted (``note()``: its retry entry) only once Chorus Pro answers for another one. Several in a row: Chorus Pro
    is asked whether it answers at all (``probe``, its health check); if it does, they were these invoices' own
    failures (noted, the run goes on: the same few invoices cannot stop every run); if not, it is an outage:
    nothing is noted, the run stops (nothing is lost, its window does not move)."""

    def __init__(self, probe=None):
        self.in_a_row = 0
        self.deferred = []
        self.probe = probe

    def failed(self, error, note):
        if isinstance(error, ChorusUnavailableError) and not isinstance(error, ChorusOutcomeUnknownError):
            self.in_a_row += 1
            self.deferred.append(note)
            if self.in_a_row >= OUTAGE_IN_A_ROW:
                if self._answers():
                    self.succeeded()
                    return
                self.deferred = []
                raise error
        else:
            self.succeeded()
            note()

    def _answers(self):
        if not self.probe:
            return False
        try:
            self.probe()
        except Exception:  # noqa: BLE001 - whatever the probe meets, Chorus Pro is not answering
            return False
        return True

    def succeeded(self):
        """Chorus Pro answered: the failures kept aside were the invoices' own."""
        self.in_a_row = 0
        deferred, self.deferred = self.deferred, []
        for note in deferred:
            note()

    def after(self, done, env):
        """After one invoice's isolated work: when it went through, the failures kept aside are noted, in a
        transaction of their own (a failure of the next invoice cannot drop them). Returns ``done``."""
        if done and self.deferred:
            self.succeeded()
            commit_if_allowed(env)
        elif done:
            self.in_a_row = 0
        return done

    def end(self):
        """The run is over with failures kept aside (the last calls failed): Chorus Pro is asked whether it
        answers; if it does, they were the invoices' own (noted; the caller commits); if not, Chorus Pro was
        going down: not noted, the next run tries them as if nothing happened."""
        if self.deferred and self._answers():
            self.succeeded()
        self.in_a_row = 0
        self.deferred = []
