# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Commits, rollbacks and advisory locks of the addon's long jobs, in one place.

A sync run and an activity pull commit chunk by chunk (a job cut off resumes
from its last chunk); under tests they commit nothing, as Odoo's own batch crons
do. Two jobs of one sync (or of one account's activity) never run at once: each
holds a PostgreSQL advisory lock made of two int4 keys, a constant naming the
kind of job and the record's id.
"""

import logging
import random
import threading
import time

from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY

from ..utils.locks import LOCK_ACTIVITY, LOCK_SYNC  # noqa: F401 (the keys, named once)

_logger = logging.getLogger(__name__)

CONCURRENT_TRIES = 5  # a write meeting a concurrent one is tried again this many times


def testing():
    return getattr(threading.current_thread(), "testing", False)


def commit(cr):
    """Commit unless running under tests, as Odoo's own batch crons do."""
    if not testing():
        cr.commit()  # pylint: disable=invalid-commit


def rollback(cr):
    """Back to the last commit, unless running under tests (where the chunks'
    savepoints have already undone the unfinished one)."""
    if not testing():
        cr.rollback()


def without_jit(cr):
    """Plan the rest of the current transaction without JIT compilation.

    A sync's chunks and an activity pull's pages are made of index probes, but
    on tables that grew since their last ANALYZE (a first pull, a first sync;
    autovacuum off or not caught up yet) PostgreSQL's estimates run into the
    millions, and each statement spent up to half a second compiling itself
    (the activity pull at 100,000 contacts: more than half its database time).
    ``SET LOCAL``: it ends with the transaction, and the pooled connection
    goes back as it was."""
    cr.execute("SET LOCAL jit = off")


def try_lock(cr, key, record_id):
    """A session-level advisory lock: it survives the job's chunk commits (a row
    lock would not) and PostgreSQL drops it if the process dies."""
    cr.execute("SELECT pg_try_advisory_lock(%s, %s)", (key, record_id))
    return cr.fetchone()[0]


def unlock(cr, key, record_id):
    cr.execute("SELECT pg_advisory_unlock(%s, %s)", (key, record_id))


def try_transaction_lock(cr, key, record_id):
    """The same lock, held until the current transaction ends."""
    cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", (key, record_id))
    return cr.fetchone()[0]


def is_locked(cr, key, record_id):
    """Whether any session holds the lock right now (read from pg_locks, nothing
    is locked)."""
    cr.execute(
        """
        SELECT 1
          FROM pg_locks
         WHERE locktype = 'advisory' AND granted
           AND database = (
               SELECT oid FROM pg_database WHERE datname = current_database())
           AND classid = %s AND objid = %s AND objsubid = 2
         LIMIT 1
        """,
        (key, record_id),
    )
    return bool(cr.fetchone())


def write_concurrently(env, function, ids):
    """Run ``function``, which writes rows that people (the sync's form, Sync Now,
    the account's form) or other jobs also write, in a transaction of its own:
    what was pending is committed first, and the writes are committed at once and
    tried again on a concurrency error (a save at that instant), as Odoo's HTTP
    layer tries a request again. A run's work can therefore never fail on them.
    ``ids``: the syncs concerned, for the log. Returns False when every try met a
    concurrent write (logged)."""
    commit(env.cr)
    for attempt in range(1, CONCURRENT_TRIES + 1):
        try:
            with env.cr.savepoint():
                function()
            commit(env.cr)
            return True
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY as error:
            # a snapshot older than the other write cannot succeed: start afresh
            rollback(env.cr)
            env.invalidate_all()
            _logger.info(
                "Mailchimp sync %s: %s on try %d of %d",
                ids,
                type(error).__name__,
                attempt,
                CONCURRENT_TRIES,
            )
            time.sleep(random.uniform(0, 0.1 * 2**attempt))  # jitter
    _logger.warning(
        "Mailchimp sync %s: gave up writing after %d tries", ids, CONCURRENT_TRIES
    )
    return False
