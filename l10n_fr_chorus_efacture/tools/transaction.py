"""Row locks and commits shared by the sending and the receiving sides."""

import contextlib
import logging

import psycopg2

from odoo.tools import mute_logger

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


@contextlib.contextmanager
def concurrent_update_skipped(env):
    """Work on one record in a transaction of its own, leaving it to the next run when another worker changed
    it meanwhile (PostgreSQL's REPEATABLE READ refuses the update): that worker's change stands."""
    try:
        yield
    except psycopg2.errors.SerializationFailure:
        if not rollback_if_allowed(env):
            raise
        _logger.info("A record changed by another worker meanwhile is left to the next run")
