"""Row locks and commits shared by the sending and the receiving sides."""

import psycopg2

from odoo.tools import mute_logger


def try_lock_row(record):
    """Take ``record``'s row lock at once, or return False when another transaction holds it."""
    record.ensure_one()
    try:
        # The refusal is expected when another worker holds the row: not an SQL error worth logging.
        with record.env.cr.savepoint(flush=False), mute_logger("odoo.sql_db"):
            record.env.cr.execute('SELECT id FROM "%s" WHERE id = %%s FOR UPDATE NOWAIT' % record._table,
                                  [record.id])
    except psycopg2.errors.LockNotAvailable:
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
